// SPDX-License-Identifier: GPL-2.0
/*
 * L0: what each program's fast path costs, in isolation, under
 * BPF_PROG_TEST_RUN (repeat N, median of R interleaved runs), next to a
 * no-op program in the same run.
 *
 * BPF_PROG_TEST_RUN repeats a program on one buffer, and NAT rewrites it:
 * the second run would see a translated packet.  So every program runs
 * behind a wrapper (bench.bpf.c wrap_*) that restores the header and
 * tail-calls it; the same wrapper around the no-op gives the wrapper's own
 * cost, which is subtracted:  cost = wrapped(prog) - wrapped(noop) + noop.
 *
 * It runs in a private network namespace it builds itself (like the unit
 * tests): a bridge with a veth and a TAP port, an uplink with a permanent
 * neighbour.  Conntrack is prefilled with random flows to each table size.
 */
#include <errno.h>
#include <getopt.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>

#include "qbench.h"
#include "bench.h"
#include "qnat_maps.h"
#include "bench.skel.h"
#include "qnat.skel.h"

static const char *const setup_cmds[] = {
	"ip link set lo up",
	"ip link add qbr0 address 02:00:00:00:00:01 type bridge",
	"ip tuntap add dev qtap0 mode tap",
	"ip link set qtap0 master qbr0 up",
	"ip link add qvport0 type veth peer name qvport0p",
	"ip link set qvport0 master qbr0 up",
	"ip link set qvport0p up",
	"ip link set qbr0 up",
	"ip addr add 192.168.122.1/24 dev qbr0",
	"ip link add qup0 address 02:00:00:00:01:01 type veth peer name qup0p",
	"ip link set qup0 up",
	"ip link set qup0p up",
	"ip addr add 198.51.100.1/24 dev qup0",
	"ip route add default via 198.51.100.254 dev qup0",
	"ip neigh replace 198.51.100.254 lladdr 02:00:00:00:01:fe dev qup0 nud permanent",
	"sysctl -qw net.ipv4.conf.all.forwarding=1",
	"sysctl -qw net.ipv4.conf.qbr0.forwarding=1",
};

static const uint8_t BR_MAC[6] = { 0x02, 0, 0, 0, 0, 0x01 };
static const uint8_t UP_MAC[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
static const uint8_t GW_MAC[6] = { 0x02, 0, 0, 0, 0x01, 0xfe };
static const uint8_t GUEST_MAC[6] = { 0x52, 0x54, 0, 0, 0, 0x0a };
static const uint8_t GUEST2_MAC[6] = { 0x52, 0x54, 0, 0, 0, 0x0b };

#define FRAME_LEN 60

static uint16_t csum_fold32(uint32_t s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return s;
}

/* A 60-byte UDP frame with correct IPv4 and UDP checksums. */
static void udp_frame(uint8_t *f, const uint8_t *smac, const uint8_t *dmac, const char *src, uint16_t sport,
		      const char *dst, uint16_t dport)
{
	struct ethhdr *eth = (void *)f;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *uh = (void *)(ip + 1);
	uint16_t ulen = FRAME_LEN - sizeof(*eth) - sizeof(*ip), *w;
	uint32_t s = 0;

	memset(f, 0, FRAME_LEN);
	memcpy(eth->h_dest, dmac, 6);
	memcpy(eth->h_source, smac, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(FRAME_LEN - sizeof(*eth));
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	parse_ip(src, &ip->saddr);
	parse_ip(dst, &ip->daddr);
	w = (uint16_t *)ip;
	for (int i = 0; i < 10; i++)
		s += w[i];
	ip->check = ~csum_fold32(s);
	uh->source = htons(sport);
	uh->dest = htons(dport);
	uh->len = htons(ulen);
	memset(uh + 1, 0x42, ulen - sizeof(*uh));
	s = (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) + (ip->daddr >> 16) + htons(IPPROTO_UDP) +
	    uh->len;
	w = (uint16_t *)uh;
	for (int i = 0; i < ulen / 2; i++)
		s += w[i];
	uh->check = ~csum_fold32(s);
	if (!uh->check)
		uh->check = 0xffff;
}

struct env {
	struct qnat *q;
	struct bench *b;
	int br, tap, vport, up;
	uint64_t repeat;
};

/*
 * One BPF_PROG_TEST_RUN of repeat runs; returns ns per run, <0 on error.
 * Timed by this thread's CPU clock: the kernel's own duration is whole
 * nanoseconds, and wall time would count whoever else held the CPU.
 */
static double run_once(int prog_fd, bool xdp, const uint8_t *frame, int ingress, uint64_t repeat, uint32_t *verdict)
{
	uint8_t out[256];
	struct xdp_md xctx = { .data = 0, .data_end = FRAME_LEN, .ingress_ifindex = ingress };
	struct __sk_buff sctx = { .ifindex = ingress, .ingress_ifindex = ingress };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = FRAME_LEN, .data_out = out,
		    .data_size_out = sizeof(out));
	uint64_t t0, t1;

	if (xdp) {
		opts.ctx_in = &xctx;
		opts.ctx_size_in = sizeof(xctx);
	} else {
		opts.ctx_in = &sctx;
		opts.ctx_size_in = sizeof(sctx);
	}
	opts.repeat = repeat;
	t0 = thread_cpu_ns();
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	t1 = thread_cpu_ns();
	*verdict = opts.retval;
	return (double)(t1 - t0) / repeat;
}

struct pcase {
	const char *name;
	bool xdp, wrapped;
	int target_fd; /* the program (tail-called when wrapped) */
	const uint8_t *frame;
	int ingress;
	uint32_t want;
	bool every_table; /* measured at every table size, not only the first */
};

static int set_target(struct env *e, const struct pcase *c)
{
	__u32 zero = 0;
	int fd = bpf_map__fd(c->xdp ? e->b->maps.wrap_xdp_jmp : e->b->maps.wrap_tc_jmp);

	memcpy(e->b->bss->wrap_hdr, c->frame, 48);
	return bpf_map_update_elem(fd, &zero, &c->target_fd, BPF_ANY) ? -errno : 0;
}

static double measure(struct env *e, const struct pcase *c)
{
	uint32_t verdict = ~0u;
	double ns;
	int fd = c->target_fd;

	if (c->wrapped) {
		if (set_target(e, c))
			return -1;
		fd = bpf_program__fd(c->xdp ? e->b->progs.wrap_xdp : e->b->progs.wrap_tc);
	}
	ns = run_once(fd, c->xdp, c->frame, c->ingress, e->repeat, &verdict);
	if (ns >= 0 && verdict != c->want) {
		warnx_("%s: verdict %u, expected %u", c->name, verdict, c->want);
		return -1;
	}
	return ns;
}

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return rng_state;
}

/* Random UDP flows, both halves, until the table holds `flows` (plus ours). */
static int fill_random(struct env *e, uint64_t from, uint64_t to, uint32_t ext)
{
	enum { BATCH = 65536 };
	struct qnat_ct_key *k = calloc(BATCH, sizeof(*k)), *r = calloc(BATCH, sizeof(*r));
	struct qnat_ct_entry *v = calloc(BATCH, sizeof(*v));
	int ct = bpf_map__fd(e->q->maps.qnat_ct), rev = bpf_map__fd(e->q->maps.qnat_ct_rev), err = 0;
	LIBBPF_OPTS(bpf_map_batch_opts, bo);

	for (uint64_t base = from; base < to && k && r && v && !err; base += BATCH) {
		uint32_t n = to - base < BATCH ? to - base : BATCH, done = n;

		for (uint32_t j = 0; j < n; j++) {
			uint64_t x = rng(), y = rng();

			memset(&k[j], 0, sizeof(k[j]));
			k[j].saddr = htonl(0xc0a87a00 | (2 + x % 250)); /* 192.168.122.2-251 */
			k[j].daddr = (uint32_t)(x >> 16) | 1;
			k[j].sport = y;
			k[j].dport = y >> 16;
			k[j].proto = IPPROTO_UDP;
			memset(&v[j], 0, sizeof(v[j]));
			v[j].last_seen = mono_ns();
			v[j].nat_addr = ext;
			v[j].nat_port = y >> 32;
			v[j].state = QNAT_CT_UDP;
			v[j].peer_addr = k[j].daddr;
			v[j].peer_port = k[j].dport;
			v[j].port_ifindex = e->vport;
			memset(&r[j], 0, sizeof(r[j]));
			r[j].saddr = k[j].daddr;
			r[j].daddr = ext;
			r[j].sport = k[j].dport;
			r[j].dport = v[j].nat_port;
			r[j].proto = IPPROTO_UDP;
		}
		if (bpf_map_update_batch(rev, r, k, &done, &bo) || (done = n, bpf_map_update_batch(ct, k, v, &done, &bo)))
			err = -errno;
	}
	if (!k || !r || !v)
		err = -ENOMEM;
	free(k);
	free(r);
	free(v);
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void stats(double *v, int n, double *med, double *lo, double *hi)
{
	qsort(v, n, sizeof(*v), cmp_double);
	*med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	*lo = v[0];
	*hi = v[n - 1];
}

static int env_setup(struct env *e, uint32_t ct_max)
{
	struct qnat_config cfg = {
		.abi_version = QNAT_ABI_VERSION,
		.port_min = 1024,
		.port_max = 65535,
		.timeouts = { 120, 60, 432000, 120, 120, 10, 600, 600, 30 },
	};
	__u32 zero = 0, key;
	struct qnat_port port = {};
	int err;

	if (unshare(CLONE_NEWNET))
		return warnx_("unshare(CLONE_NEWNET): %s", strerror(errno)), -errno;
	for (size_t i = 0; i < sizeof(setup_cmds) / sizeof(setup_cmds[0]); i++)
		if (system(setup_cmds[i]))
			return warnx_("setup failed: %s", setup_cmds[i]), -EIO;
	e->br = ifindex_of("qbr0");
	e->tap = ifindex_of("qtap0");
	e->vport = ifindex_of("qvport0");
	e->up = ifindex_of("qup0");
	if (e->br < 0 || e->tap < 0 || e->vport < 0 || e->up < 0)
		return -ENODEV;

	parse_ip("192.168.122.0", &cfg.subnet);
	parse_ip("255.255.255.0", &cfg.netmask);
	parse_ip("192.168.122.1", &cfg.gateway);
	parse_ip("198.51.100.1", &cfg.ext_addr);
	cfg.uplink_ifindex = e->up;
	cfg.bridge_ifindex = e->br;
	memcpy(cfg.bridge_mac, BR_MAC, 6);
	memcpy(cfg.uplink_mac, UP_MAC, 6);
	cfg.flags = QNAT_CFG_UPLINK_XMIT; /* an uplink that takes XDP frames: xdp_port_in's SNAT */

	e->q = qnat__open();
	if (!e->q)
		return -errno;
	bpf_map__set_max_entries(e->q->maps.qnat_ct, ct_max);
	bpf_map__set_max_entries(e->q->maps.qnat_ct_rev, ct_max);
	if ((err = qnat__load(e->q)) ||
	    bpf_map_update_elem(bpf_map__fd(e->q->maps.qnat_config), &zero, &cfg, BPF_ANY))
		return warnx_("loading qnat.bpf.o"), err ? err : -errno;
	key = e->vport;
	bpf_map_update_elem(bpf_map__fd(e->q->maps.qnat_ports), &key, &port, BPF_ANY);
	key = e->tap;
	port.flags = QNAT_PORT_TAP;
	bpf_map_update_elem(bpf_map__fd(e->q->maps.qnat_ports), &key, &port, BPF_ANY);
	bpf_map_update_elem(bpf_map__fd(e->q->maps.qnat_devmap), &key, &key, BPF_ANY);
	key = e->up;
	bpf_map_update_elem(bpf_map__fd(e->q->maps.qnat_devmap), &key, &key, BPF_ANY);

	e->b = bench__open();
	if (!e->b || (err = bench__load(e->b)))
		return warnx_("loading bench.bpf.o"), e->b ? err : -errno;

	return 0;
}

int cmd_progcost(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "repeat", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'n' },
		{ "flows", required_argument, NULL, 'f' },
		{ "cpu", required_argument, NULL, 'c' },
		{ 0 },
	};
	uint64_t runs = 5, tables[8], ntables = 0, cpu = 1, filled = 0;
	char flows_arg[128] = "1000,1000000";
	uint8_t guest_a[FRAME_LEN], guest_b[FRAME_LEN], reply_a[FRAME_LEN], reply_b[FRAME_LEN], l2[FRAME_LEN],
		learn[FRAME_LEN];
	struct env e = { .repeat = 10000000 };
	uint32_t ext, verdict;
	int c, err;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'r':
			if (parse_num(optarg, &e.repeat) || !e.repeat)
				return -EINVAL;
			break;
		case 'n':
			if (parse_num(optarg, &runs) || !runs || runs > 99)
				return -EINVAL;
			break;
		case 'f':
			snprintf(flows_arg, sizeof(flows_arg), "%s", optarg);
			break;
		case 'c':
			if (parse_num(optarg, &cpu))
				return -EINVAL;
			break;
		default:
			return -EINVAL;
		}
	}
	for (char *tok = strtok(flows_arg, ","); tok && ntables < 8; tok = strtok(NULL, ","))
		if (parse_num(tok, &tables[ntables++]))
			return warnx_("--flows: a list of table sizes"), -EINVAL;
	if (pin_cpu(cpu))
		warnx_("cannot pin to CPU %lu", cpu);
	if ((err = env_setup(&e, tables[ntables - 1] * 2 + 1024)))
		return err;
	parse_ip("198.51.100.1", &ext);

	/* Flow A from the veth port, flow B from the TAP port; their replies. */
	udp_frame(guest_a, GUEST_MAC, BR_MAC, "192.168.122.10", 40000, "203.0.113.5", 53);
	udp_frame(guest_b, GUEST_MAC, BR_MAC, "192.168.122.10", 40001, "203.0.113.5", 53);
	udp_frame(reply_a, GW_MAC, UP_MAC, "203.0.113.5", 53, "198.51.100.1", 40000);
	udp_frame(reply_b, GW_MAC, UP_MAC, "203.0.113.5", 53, "198.51.100.1", 40001);
	udp_frame(l2, GUEST_MAC, GUEST2_MAC, "192.168.122.10", 40000, "192.168.122.11", 53);
	/* Guest 2 behind the TAP port speaks first: the data plane learns its MAC. */
	udp_frame(learn, GUEST2_MAC, BR_MAC, "192.168.122.11", 68, "192.168.122.1", 67);
	run_once(bpf_program__fd(e.q->progs.tc_port_in), false, learn, e.tap, 1, &verdict);
	if (run_once(bpf_program__fd(e.q->progs.tc_port_in), false, guest_a, e.vport, 1, &verdict) < 0 ||
	    verdict != TC_ACT_REDIRECT ||
	    run_once(bpf_program__fd(e.q->progs.tc_port_in), false, guest_b, e.tap, 1, &verdict) < 0 ||
	    verdict != TC_ACT_REDIRECT)
		return warnx_("tc_port_in did not create the measured flows (verdict %u)", verdict), -EIO;

	const struct pcase cases[] = {
		{ "noop_xdp", true, false, bpf_program__fd(e.b->progs.noop_xdp), guest_a, e.vport, XDP_PASS, true },
		{ "noop_tc", false, false, bpf_program__fd(e.b->progs.noop_tc), guest_a, e.vport, TC_ACT_OK, true },
		{ "wrap_noop_xdp", true, true, bpf_program__fd(e.b->progs.noop_xdp), guest_a, e.vport, XDP_PASS, true },
		{ "wrap_noop_tc", false, true, bpf_program__fd(e.b->progs.noop_tc), guest_a, e.vport, TC_ACT_OK, true },
		{ "tc_port_in", false, true, bpf_program__fd(e.q->progs.tc_port_in), guest_a, e.vport, TC_ACT_REDIRECT,
		  true },
		{ "tc_port_in_l2", false, true, bpf_program__fd(e.q->progs.tc_port_in), l2, e.vport, TC_ACT_REDIRECT,
		  true },
		{ "tc_uplink_in", false, true, bpf_program__fd(e.q->progs.tc_uplink_in), reply_a, e.up, TC_ACT_REDIRECT,
		  true },
		{ "xdp_uplink_in", true, true, bpf_program__fd(e.q->progs.xdp_uplink_in), reply_b, e.up, XDP_REDIRECT,
		  true },
		{ "xdp_port_in", true, true, bpf_program__fd(e.q->progs.xdp_port_in), guest_a, e.vport, XDP_REDIRECT,
		  true },
	};
	enum { NCASES = sizeof(cases) / sizeof(cases[0]) };
	static double raw[8][NCASES][100]; /* table, case, run */

	for (uint64_t t = 0; t < ntables; t++) {
		if (tables[t] > filled && (err = fill_random(&e, filled, tables[t], ext)))
			return warnx_("prefilling conntrack: %s", strerror(-err)), err;
		filled = tables[t] > filled ? tables[t] : filled;
		for (uint64_t r = 0; r < runs; r++)
			for (int i = 0; i < NCASES; i++) {
				if (t && !cases[i].every_table)
					continue;
				raw[t][i][r] = measure(&e, &cases[i]);
				if (raw[t][i][r] < 0)
					return -EIO;
			}
		for (int i = 0; i < NCASES; i++) {
			double cost[100], med, lo, hi;

			if (t && !cases[i].every_table)
				continue;
			int noop = cases[i].xdp ? 0 : 1, wnoop = cases[i].xdp ? 2 : 3;

			for (uint64_t r = 0; r < runs; r++)
				cost[r] = cases[i].wrapped ? raw[t][i][r] - raw[t][wnoop][r] + raw[t][noop][r] : raw[t][i][r];
			stats(cost, runs, &med, &lo, &hi);
			double nmed, nlo, nhi, rmed, ncost[100];

			for (uint64_t r = 0; r < runs; r++)
				ncost[r] = raw[t][noop][r];
			stats(ncost, runs, &nmed, &nlo, &nhi);
			for (uint64_t r = 0; r < runs; r++)
				ncost[r] = raw[t][i][r];
			stats(ncost, runs, &rmed, &nlo, &nhi);
			printf("prog %s hook %s flows %lu ns %.2f min %.2f max %.2f raw_ns %.2f noop_ns %.2f ratio_noop %.3f "
			       "repeat %lu runs %lu\n",
			       cases[i].name, cases[i].xdp ? "xdp" : "tc", tables[t] + 2, med, lo, hi, rmed, nmed, med / nmed,
			       e.repeat, runs);
		}
	}
	bench__destroy(e.b);
	qnat__destroy(e.q);
	return 0;
}
