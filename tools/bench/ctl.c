// SPDX-License-Identifier: GPL-2.0
/*
 * Probes of one attached qnat-bpf instance, found through the program on
 * its uplink in the current namespace (never by map name: other instances
 * may run on the same host): its maps and what they cost, conntrack
 * entries written directly, and the CPU bursts of its supervisor.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "qbench.h"
#include "qnat_maps.h"

static int instance_map(const char *uplink, const char *name)
{
	uint32_t prog_id;
	int ifindex = ifindex_of(uplink), err, fd;

	if (ifindex < 0)
		return ifindex;
	if ((err = qnat_uplink_prog(ifindex, &prog_id)))
		return err;
	fd = prog_map_fd(prog_id, name);
	if (fd < 0)
		warnx_("the qnat-bpf instance on %s has no map %s", uplink, name);
	return fd;
}

int cmd_qnatmaps(int argc, char **argv)
{
	static const char *const names[] = { QNAT_MAP_CT, QNAT_MAP_CT_REV, QNAT_MAP_CONFIG, QNAT_MAP_STATS };

	if (argc != 2)
		return warnx_("usage: qbench qnatmaps UPLINK"), -EINVAL;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_map_info mi = {};
		uint32_t len = sizeof(mi);
		uint64_t memlock = 0;
		int fd = instance_map(argv[1], names[i]);

		if (fd < 0)
			return fd;
		if (bpf_obj_get_info_by_fd(fd, &mi, &len) || map_memlock(fd, &memlock)) {
			close(fd);
			return -EIO;
		}
		printf("map %s id %u max_entries %u key %u value %u flags 0x%x memlock %lu\n", mi.name, mi.id,
		       mi.max_entries, mi.key_size, mi.value_size, mi.map_flags, memlock);
		close(fd);
	}
	return 0;
}

/*
 * FLOWS replied UDP flows from guest .10 of the subnet to 203.0.113.5,
 * last seen AGE seconds ago, both halves, in batches.  Flow i: source port
 * 1024 + i % 64000 (kept as the translated port), destination port
 * 10000 + i / 64000.
 */
int cmd_ctfill(int argc, char **argv)
{
	enum { BATCH = 65536 };
	struct qnat_ct_key *keys = NULL, *rkeys = NULL;
	struct qnat_ct_entry *vals = NULL;
	uint64_t flows, age, now = mono_ns();
	int ct = -1, rev = -1, cfgfd = -1, err = 0;
	struct qnat_config cfg;
	uint32_t zero = 0, peer;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	if (argc != 4 || parse_num(argv[2], &flows) || parse_num(argv[3], &age))
		return warnx_("usage: qbench ctfill UPLINK FLOWS AGE_SECONDS"), -EINVAL;
	if (age * 1000000000ull >= now)
		return warnx_("ctfill: the system has not been up for %lu s", age), -EINVAL;
	parse_ip("203.0.113.5", &peer);
	if ((ct = instance_map(argv[1], QNAT_MAP_CT)) < 0 || (rev = instance_map(argv[1], QNAT_MAP_CT_REV)) < 0 ||
	    (cfgfd = instance_map(argv[1], QNAT_MAP_CONFIG)) < 0) {
		err = -ENOENT;
		goto out;
	}
	if (bpf_map_lookup_elem(cfgfd, &zero, &cfg) || !cfg.ext_addr) {
		warnx_("the instance has no configuration yet");
		err = -EIO;
		goto out;
	}
	keys = calloc(BATCH, sizeof(*keys));
	rkeys = calloc(BATCH, sizeof(*rkeys));
	vals = calloc(BATCH, sizeof(*vals));
	if (!keys || !rkeys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (uint64_t base = 0; base < flows && !err; base += BATCH) {
		uint32_t n = flows - base < BATCH ? flows - base : BATCH, done;

		for (uint32_t j = 0; j < n; j++) {
			uint64_t i = base + j;
			struct qnat_ct_key *k = &keys[j], *r = &rkeys[j];
			struct qnat_ct_entry *e = &vals[j];

			memset(k, 0, sizeof(*k));
			k->saddr = htonl(ntohl(cfg.subnet) + 10);
			k->daddr = peer;
			k->sport = htons(1024 + i % 64000);
			k->dport = htons(10000 + i / 64000);
			k->proto = IPPROTO_UDP;
			memset(e, 0, sizeof(*e));
			e->last_seen = now - age * 1000000000ull;
			e->nat_addr = cfg.ext_addr;
			e->nat_port = k->sport;
			e->state = QNAT_CT_UDP;
			e->flags = QNAT_CTF_REPLIED;
			e->peer_addr = k->daddr;
			e->peer_port = k->dport;
			memset(r, 0, sizeof(*r));
			r->saddr = k->daddr;
			r->daddr = cfg.ext_addr;
			r->sport = k->dport;
			r->dport = e->nat_port;
			r->proto = IPPROTO_UDP;
		}
		done = n;
		if (bpf_map_update_batch(rev, rkeys, keys, &done, &bo) ||
		    (done = n, bpf_map_update_batch(ct, keys, vals, &done, &bo))) {
			err = -errno;
			warnx_("writing flows %lu..: %s", base, strerror(errno));
		}
	}
	if (!err)
		printf("filled %lu age %lu\n", flows, age);
out:
	free(keys);
	free(rkeys);
	free(vals);
	if (ct >= 0)
		close(ct);
	if (rev >= 0)
		close(rev);
	if (cfgfd >= 0)
		close(cfgfd);
	return err;
}

static int schedstat_read(int fd, uint64_t *run_ns)
{
	char buf[128];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);

	if (n <= 0)
		return -EIO;
	buf[n] = '\0';
	return sscanf(buf, "%lu", run_ns) == 1 ? 0 : -EIO;
}

/*
 * Sample a process's CPU time every millisecond for SECS seconds; a burst
 * is a run of samples with CPU time growing, 50 ms of idleness ending it.
 * Prints the total and, per burst longer than 1 ms of CPU, its wall span;
 * stops early after MAX_BURSTS such bursts.
 */
int cmd_cpuwatch(int argc, char **argv)
{
	uint64_t pid, secs, maxb = 0, prev, cur, start_cpu, b_cpu0 = 0, b_t0 = 0, b_t1 = 0, t, end;
	char path[64];
	bool in_burst = false;
	int fd, bursts = 0;

	if (argc < 3 || argc > 4 || parse_num(argv[1], &pid) || parse_num(argv[2], &secs) ||
	    (argc == 4 && parse_num(argv[3], &maxb)))
		return warnx_("usage: qbench cpuwatch PID SECS [MAX_BURSTS]"), -EINVAL;
	snprintf(path, sizeof(path), "/proc/%lu/schedstat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || schedstat_read(fd, &prev))
		return warnx_("%s: %s", path, strerror(errno)), -errno;
	start_cpu = prev;
	end = mono_ns() + secs * 1000000000ull;
	while ((t = mono_ns()) < end && (!maxb || bursts < (int)maxb)) {
		struct timespec ms = { 0, 1000000 };

		nanosleep(&ms, NULL);
		t = mono_ns();
		if (schedstat_read(fd, &cur))
			break;
		if (cur > prev) {
			if (!in_burst) {
				in_burst = true;
				b_cpu0 = prev;
				b_t0 = t - 1000000; /* it began within the last interval */
			}
			b_t1 = t;
		} else if (in_burst && t - b_t1 > 50000000ull) {
			in_burst = false;
			if (prev - b_cpu0 > 1000000) {
				printf("burst wall_ms %.3f cpu_ms %.3f\n", (b_t1 - b_t0) / 1e6, (prev - b_cpu0) / 1e6);
				bursts++;
			}
		}
		prev = cur;
	}
	if (in_burst && prev - b_cpu0 > 1000000) {
		printf("burst wall_ms %.3f cpu_ms %.3f unfinished 1\n", (b_t1 - b_t0) / 1e6, (prev - b_cpu0) / 1e6);
		bursts++;
	}
	printf("total cpu_ms %.3f secs %lu bursts %d\n", (prev - start_cpu) / 1e6, secs, bursts);
	close(fd);
	return 0;
}

/*
 * What the expiry pass's deletions cost, and what batching would save, on
 * private maps shaped like qnat_ct and qnat_ct_rev (no data plane needed):
 *   walk      bpf_map_lookup_batch over the table, 4096 a call (an idle pass)
 *   per_flow  the walk, and per flow: look up the reverse half, delete it,
 *             delete the flow (three syscalls, as the controller does)
 *   batched   the walk collecting keys, then bpf_map_delete_batch on both
 * Times are wall and CPU of this thread, in ms.
 */
static int fill_private(int ct, int rev, uint64_t flows)
{
	enum { BATCH = 65536 };
	struct qnat_ct_key *k = calloc(BATCH, sizeof(*k)), *r = calloc(BATCH, sizeof(*r));
	struct qnat_ct_entry *v = calloc(BATCH, sizeof(*v));
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	int err = k && r && v ? 0 : -ENOMEM;

	for (uint64_t base = 0; base < flows && !err; base += BATCH) {
		uint32_t n = flows - base < BATCH ? flows - base : BATCH, done = n;

		for (uint32_t j = 0; j < n; j++) {
			uint64_t i = base + j;

			memset(&k[j], 0, sizeof(k[j]));
			k[j].saddr = htonl(0xc0a87a0a);
			k[j].daddr = htonl(0xcb007105);
			k[j].sport = htons(1024 + i % 64000);
			k[j].dport = htons(10000 + i / 64000);
			k[j].proto = IPPROTO_UDP;
			memset(&v[j], 0, sizeof(v[j]));
			v[j].nat_addr = htonl(0xc6336401);
			v[j].nat_port = k[j].sport;
			v[j].peer_addr = k[j].daddr;
			v[j].peer_port = k[j].dport;
			memset(&r[j], 0, sizeof(r[j]));
			r[j].saddr = k[j].daddr;
			r[j].daddr = v[j].nat_addr;
			r[j].sport = k[j].dport;
			r[j].dport = v[j].nat_port;
			r[j].proto = IPPROTO_UDP;
		}
		if (bpf_map_update_batch(rev, r, k, &done, &bo) || (done = n, bpf_map_update_batch(ct, k, v, &done, &bo)))
			err = -errno;
	}
	free(k);
	free(r);
	free(v);
	return err;
}

static uint64_t thread_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

enum expiry_mode { EXP_WALK, EXP_PER_FLOW, EXP_BATCHED };

static int expire_all(int ct, int rev, uint64_t flows, enum expiry_mode mode, double *wall_ms, double *cpu_ms)
{
	enum { BATCH = 4096 };
	struct qnat_ct_key *keys = calloc(BATCH, sizeof(*keys)), in, out, owner;
	struct qnat_ct_entry *vals = calloc(BATCH, sizeof(*vals));
	struct qnat_ct_key *dk = mode == EXP_BATCHED ? calloc(flows, sizeof(*dk)) : NULL;
	struct qnat_ct_key *dr = mode == EXP_BATCHED ? calloc(flows, sizeof(*dr)) : NULL;
	uint64_t t0 = mono_ns(), c0 = thread_ns(), nd = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);
	void *inp = NULL;
	int err = 0;

	if (!keys || !vals || (mode == EXP_BATCHED && (!dk || !dr))) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		uint32_t n = BATCH;
		int rc = bpf_map_lookup_batch(ct, inp, &out, keys, vals, &n, NULL);

		if (rc && errno != ENOENT) {
			err = -errno;
			break;
		}
		for (uint32_t i = 0; i < n; i++) {
			struct qnat_ct_key r = { .saddr = vals[i].peer_addr, .daddr = vals[i].nat_addr,
						 .sport = vals[i].peer_port, .dport = vals[i].nat_port,
						 .proto = keys[i].proto };

			if (mode == EXP_PER_FLOW) {
				if (!bpf_map_lookup_elem(rev, &r, &owner) && !memcmp(&owner, &keys[i], sizeof(owner)))
					bpf_map_delete_elem(rev, &r);
				bpf_map_delete_elem(ct, &keys[i]);
			} else if (mode == EXP_BATCHED && nd < flows) {
				dk[nd] = keys[i];
				dr[nd++] = r;
			}
		}
		if (rc)
			break;
		in = out;
		inp = &in;
	}
	for (uint64_t i = 0; i < nd && !err; i += BATCH) {
		uint32_t n = nd - i < BATCH ? nd - i : BATCH, done = n;

		if (bpf_map_delete_batch(rev, dr + i, &done, &bo) || (done = n, bpf_map_delete_batch(ct, dk + i, &done, &bo)))
			err = -errno;
	}
	*wall_ms = (mono_ns() - t0) / 1e6;
	*cpu_ms = (thread_ns() - c0) / 1e6;
out:
	free(keys);
	free(vals);
	free(dk);
	free(dr);
	return err;
}

int cmd_expirycost(int argc, char **argv)
{
	static const char *const names[] = { "walk", "per_flow", "batched" };
	uint64_t flows;
	int ct, rev, err = 0;

	if (argc != 2 || parse_num(argv[1], &flows) || !flows)
		return warnx_("usage: qbench expirycost FLOWS"), -EINVAL;
	ct = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_ct", sizeof(struct qnat_ct_key), sizeof(struct qnat_ct_entry),
			    flows * 2, NULL);
	rev = bpf_map_create(BPF_MAP_TYPE_HASH, "bench_ct_rev", sizeof(struct qnat_ct_key), sizeof(struct qnat_ct_key),
			     flows * 2, NULL);
	if (ct < 0 || rev < 0)
		return warnx_("creating maps: %s", strerror(errno)), -errno;
	for (int m = EXP_WALK; m <= EXP_BATCHED && !err; m++) {
		double wall, cpu;

		if ((err = fill_private(ct, rev, flows)) || (err = expire_all(ct, rev, flows, m, &wall, &cpu)))
			break;
		printf("expirycost %s flows %lu wall_ms %.1f cpu_ms %.1f\n", names[m], flows, wall, cpu);
	}
	close(ct);
	close(rev);
	return err;
}
