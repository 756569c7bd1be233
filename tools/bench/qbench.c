// SPDX-License-Identifier: GPL-2.0
/*
 * qbench: what tools/bench.sh needs that no Debian package does on this
 * kernel: a BPF_PROG_TEST_RUN live-frames generator and its XDP sink, the
 * null XDP forwarder, L0 program costs, a TCP connect/close rate tool, and
 * probes of an attached qnat-bpf instance (its maps, its supervisor's CPU).
 *
 *   qbench COMMAND [ARGS]      (qbench help lists them)
 *
 * Machine-readable output: one line of "key value" pairs per result.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "qbench.h"
#include "qnat.h"

void warnx_(const char *fmt, ...)
{
	va_list ap;

	fputs("qbench: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Move this process into the named namespace (ip netns add NAME). */
int netns_enter(const char *name)
{
	char path[256];
	int fd, err = 0;

	snprintf(path, sizeof(path), "/run/netns/%s", name);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		warnx_("%s: %s", path, strerror(errno));
		return err;
	}
	if (setns(fd, CLONE_NEWNET)) {
		err = -errno;
		warnx_("setns %s: %s", name, strerror(errno));
	}
	close(fd);
	return err;
}

int ifindex_of(const char *dev)
{
	int i = if_nametoindex(dev);

	if (!i) {
		warnx_("no device %s here", dev);
		return -ENODEV;
	}
	return i;
}

int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++)
		mac[i] = b[i];
	return 0;
}

int parse_ip(const char *s, uint32_t *be)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return -EINVAL;
	*be = a.s_addr;
	return 0;
}

int parse_num(const char *s, uint64_t *v)
{
	char *end;

	errno = 0;
	*v = strtoull(s, &end, 0);
	return errno || end == s || *end ? -EINVAL : 0;
}

int pin_cpu(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? -errno : 0;
}

double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

int xdp_attach_native(int ifindex, int prog_fd)
{
	int err = bpf_xdp_attach(ifindex, prog_fd, XDP_FLAGS_DRV_MODE, NULL);

	if (err)
		warnx_("attaching XDP to ifindex %d: %s", ifindex, strerror(-err));
	return err;
}

int xdp_detach(int ifindex)
{
	return bpf_xdp_detach(ifindex, 0, NULL);
}

/* The map called map_name that program prog_id uses: an fd, or negative. */
int prog_map_fd(uint32_t prog_id, const char *map_name)
{
	uint32_t ids[64];
	struct bpf_prog_info info = { .nr_map_ids = 64, .map_ids = (uint64_t)(unsigned long)ids };
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id), found = -ENOENT;

	if (fd < 0)
		return -errno;
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		found = -errno;
		close(fd);
		return found;
	}
	close(fd);
	for (uint32_t i = 0; i < info.nr_map_ids && i < 64 && found < 0; i++) {
		struct bpf_map_info mi = {};
		uint32_t mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &mlen) && !strcmp(mi.name, map_name))
			found = mfd;
		else
			close(mfd);
	}
	return found;
}

/* The qnat-bpf instance on this namespace's uplink: its tc_uplink_in program. */
int qnat_uplink_prog(int uplink_ifindex, uint32_t *prog_id)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = uplink_ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = QNAT_TC_HANDLE, .priority = QNAT_TC_PRIO);
	int err = bpf_tc_query(&hook, &opts);

	if (err) {
		warnx_("no qnat-bpf on ifindex %d: %s", uplink_ifindex, strerror(-err));
		return err;
	}
	*prog_id = opts.prog_id;
	return 0;
}

/* What the kernel charges for a map: the "memlock" of its fdinfo. */
int map_memlock(int map_fd, uint64_t *memlock)
{
	char path[64], line[256];
	FILE *f;
	int err = -ENOENT;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", map_fd);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "memlock: %lu", memlock) == 1) {
			err = 0;
			break;
		}
	fclose(f);
	return err;
}

static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG || (level == LIBBPF_INFO && !getenv("QBENCH_VERBOSE")))
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static int cmd_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
} cmds[] = {
	{ "sink", cmd_sink, "sink DEV                       attach the counting XDP sink (native)" },
	{ "fwd", cmd_fwd, "fwd IN OUT [--dmac M --smac M] [--ttl]   attach the null XDP forwarder IN -> OUT" },
	{ "detach", cmd_detach, "detach DEV                     remove any XDP program from DEV" },
	{ "run", cmd_run, "run --gen-ns NS --gen-dev DEV --sink-ns NS --sink-dev DEV ...   generate, count" },
	{ "tapgen", cmd_tapgen, "tapgen --tap TAP --smac M --saddr A --cpu N [...] --daddr A [--sink-ns NS --sink-dev DEV | --rx-tap TAP]   write a guest's frames into TAP(s), count" },
	{ "qnatmaps", cmd_qnatmaps, "qnatmaps UPLINK                the instance's maps: entries, memlock" },
	{ "ctfill", cmd_ctfill, "ctfill UPLINK FLOWS AGE_S      write FLOWS UDP flows straight into qnat_ct" },
	{ "cpuwatch", cmd_cpuwatch, "cpuwatch PID SECS [MAX]        CPU bursts of a process (schedstat)" },
	{ "expirycost", cmd_expirycost, "expirycost FLOWS               expiry deletions: per flow vs batched" },
	{ "crr-server", cmd_crr_server, "crr-server ADDR PORT NPROC     accept, answer one byte, close" },
	{ "crr-client", cmd_crr_client, "crr-client ADDR PORT NPROC SECS   connections/s" },
	{ "progcost", cmd_progcost, "progcost [--repeat N] [--runs N] [--flows N,N]   L0 program costs" },
	{ "help", cmd_help, "help" },
};

static int cmd_help(int argc, char **argv)
{
	puts("Usage: qbench COMMAND [ARGS]   (the helper of tools/bench.sh, as root)");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  qbench %s\n", cmds[i].synopsis);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(libbpf_quiet);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		return cmd_help(argc, argv), 2;
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1) ? 1 : 0;
	warnx_("unknown command %s (qbench help)", argv[1]);
	return 2;
}
