// SPDX-License-Identifier: GPL-2.0
/*
 * The L1 harness: the XDP sink, the null forwarder, and `run`, which
 * injects frames with BPF_PROG_TEST_RUN + BPF_F_TEST_XDP_LIVE_FRAMES and
 * counts what the sink receives.  Generator, data plane and sink all run to
 * completion on the generator's CPU (the veth NAPI is scheduled there), so
 * received / CPU time is the inverse of the whole per-packet CPU cost.
 *
 * CPU time is the generator thread's own (softirqs run in its context when
 * it re-enables bottom halves, and this kernel has no IRQ time accounting,
 * so they are charged to it) plus what ksoftirqd on that CPU ran meanwhile.
 * Unlike wall time it leaves out the time other tasks held the CPU: this
 * VM is shared.  Both are printed: cpu_pps and (wall) pps.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/udp.h>

#include "qbench.h"
#include "bench.h"
#include "bench.skel.h"

/* Load the object with only the programs wanted (the others stay unloaded). */
static struct bench *bench_open_only(struct bpf_program *(*pick)(struct bench *))
{
	struct bench *skel = bench__open();
	struct bpf_program *p, *keep;

	if (!skel) {
		warnx_("opening bench.bpf.o: %s", strerror(errno));
		return NULL;
	}
	keep = pick(skel);
	bpf_object__for_each_program(p, skel->obj)
		bpf_program__set_autoload(p, p == keep);
	return skel;
}

static struct bpf_program *pick_sink(struct bench *s)
{
	return s->progs.bench_sink;
}

static struct bpf_program *pick_fwd(struct bench *s)
{
	return s->progs.bench_fwd;
}

static struct bpf_program *pick_gen(struct bench *s)
{
	return s->progs.bench_gen;
}

int cmd_sink(int argc, char **argv)
{
	struct bench *skel;
	int ifindex, err;

	if (argc != 2)
		return warnx_("usage: qbench sink DEV"), -EINVAL;
	if ((ifindex = ifindex_of(argv[1])) < 0)
		return ifindex;
	skel = bench_open_only(pick_sink);
	if (!skel)
		return -ENOENT;
	err = bench__load(skel);
	if (!err)
		err = xdp_attach_native(ifindex, bpf_program__fd(skel->progs.bench_sink));
	bench__destroy(skel); /* the attachment holds the program and its map */
	return err;
}

int cmd_fwd(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dmac", required_argument, NULL, 'd' },
		{ "smac", required_argument, NULL, 's' },
		{ "ttl", no_argument, NULL, 't' },
		{ 0 },
	};
	struct fwd_cfg cfg = {};
	struct bench *skel;
	int in, out, c, err;
	__u32 zero = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'd':
			if (parse_mac(optarg, cfg.dmac))
				return warnx_("bad MAC %s", optarg), -EINVAL;
			cfg.flags |= FWD_F_MACS;
			break;
		case 's':
			if (parse_mac(optarg, cfg.smac))
				return warnx_("bad MAC %s", optarg), -EINVAL;
			cfg.flags |= FWD_F_MACS;
			break;
		case 't':
			cfg.flags |= FWD_F_TTL;
			break;
		default:
			return -EINVAL;
		}
	}
	if (argc - optind != 2)
		return warnx_("usage: qbench fwd IN OUT [--dmac M --smac M] [--ttl]"), -EINVAL;
	if ((in = ifindex_of(argv[optind])) < 0 || (out = ifindex_of(argv[optind + 1])) < 0)
		return -ENODEV;
	skel = bench_open_only(pick_fwd);
	if (!skel)
		return -ENOENT;
	skel->rodata->fwd_cfg = cfg;
	err = bench__load(skel);
	if (!err && bpf_map_update_elem(bpf_map__fd(skel->maps.fwd_tx), &zero, &out, BPF_ANY))
		err = -errno;
	if (!err)
		err = xdp_attach_native(in, bpf_program__fd(skel->progs.bench_fwd));
	bench__destroy(skel);
	return err;
}

int cmd_detach(int argc, char **argv)
{
	int ifindex;

	if (argc != 2)
		return warnx_("usage: qbench detach DEV"), -EINVAL;
	if ((ifindex = ifindex_of(argv[1])) < 0)
		return ifindex;
	return xdp_detach(ifindex);
}

/* Sum of the sink's per-CPU counter. */
int sink_read(int fd, uint64_t *total)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu > 0 ? ncpu : 1];
	__u32 zero = 0;

	if (ncpu <= 0 || bpf_map_lookup_elem(fd, &zero, v))
		return -errno;
	*total = 0;
	for (int i = 0; i < ncpu; i++)
		*total += v[i];
	return 0;
}

/* The counter of the sink attached to dev in the current namespace. */
int sink_open(const char *dev)
{
	uint32_t id = 0;
	int ifindex = ifindex_of(dev), fd;

	if (ifindex < 0)
		return ifindex;
	if (bpf_xdp_query_id(ifindex, 0, &id) || !id) {
		warnx_("no XDP sink on %s", dev);
		return -ENOENT;
	}
	fd = prog_map_fd(id, "sink_cnt");
	if (fd < 0)
		warnx_("the XDP program on %s is not the sink", dev);
	return fd;
}

/* The pid of ksoftirqd/cpu, or 0. */
int ksoftirqd_pid(int cpu)
{
	char want[32], path[300], comm[32];
	DIR *d = opendir("/proc");
	struct dirent *de;
	int pid = 0;

	snprintf(want, sizeof(want), "ksoftirqd/%d\n", cpu);
	while (d && !pid && (de = readdir(d))) {
		int fd, n;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			continue;
		n = read(fd, comm, sizeof(comm) - 1);
		close(fd);
		if (n > 0) {
			comm[n] = '\0';
			if (!strcmp(comm, want))
				pid = atoi(de->d_name);
		}
	}
	if (d)
		closedir(d);
	return pid;
}

/* CPU time of pid, in ns (0 when unknown). */
uint64_t task_cpu_ns(int pid)
{
	char path[64], buf[128];
	uint64_t ns = 0;
	int fd, n;

	if (!pid)
		return 0;
	snprintf(path, sizeof(path), "/proc/%d/schedstat", pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n > 0) {
		buf[n] = '\0';
		ns = strtoull(buf, NULL, 10);
	}
	return ns;
}

uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

struct run_opts {
	const char *gen_ns, *gen_dev, *sink_ns, *sink_dev;
	struct frame_spec f;
	uint64_t sport, dport, span, flows, prefill, packets, seq, cpu;
	double secs;
	bool swap;
};

/* Ethernet + IPv4 + UDP, a 60-byte frame; the UDP checksum is 0 (none). */
void frame_build(const struct frame_spec *f, uint8_t frame[GEN_FRAME_LEN])
{
	struct ethhdr *eth = (void *)frame;
	struct iphdr *ip = (void *)(eth + 1);
	struct udphdr *uh = (void *)(ip + 1);
	uint16_t *w = (uint16_t *)ip;
	uint32_t sum = 0;

	memset(frame, 0, GEN_FRAME_LEN);
	memcpy(eth->h_dest, f->dmac, 6);
	memcpy(eth->h_source, f->smac, 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons(GEN_FRAME_LEN - sizeof(*eth));
	ip->id = htons(0x5142);
	ip->ttl = 64;
	ip->protocol = IPPROTO_UDP;
	ip->saddr = f->saddr;
	ip->daddr = f->daddr;
	for (int i = 0; i < 10; i++)
		sum += w[i];
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	ip->check = ~sum;
	uh->source = htons(f->sport);
	uh->dest = htons(f->dport);
	uh->len = htons(GEN_FRAME_LEN - sizeof(*eth) - sizeof(*ip));
	memset(uh + 1, 0x51, GEN_FRAME_LEN - GEN_HDR_LEN);
}

static int gen_send(int prog_fd, int ifindex, const uint8_t *frame, uint64_t n)
{
	struct xdp_md ctx = { .data = 0, .data_end = GEN_FRAME_LEN, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = GEN_FRAME_LEN, .ctx_in = &ctx,
		    .ctx_size_in = sizeof(ctx), .flags = BPF_F_TEST_XDP_LIVE_FRAMES, .batch_size = 64);

	opts.repeat = n;
	if (bpf_prog_test_run_opts(prog_fd, &opts)) {
		warnx_("BPF_PROG_TEST_RUN (live frames): %s", strerror(errno));
		return -errno;
	}
	return 0;
}

int cmd_run(int argc, char **argv)
{
	enum { O_GEN_NS = O_GEN_OWN, O_GEN_DEV, O_SEQ, O_SWAP };
	static const struct option opts[] = {
		GEN_OPTIONS,
		{ "gen-ns", required_argument, NULL, O_GEN_NS }, { "gen-dev", required_argument, NULL, O_GEN_DEV },
		{ "seq", required_argument, NULL, O_SEQ },	 { "swap", no_argument, NULL, O_SWAP },
		{ 0 },
	};
	struct run_opts o = { .sport = 1024, .dport = 9, .span = 64000, .flows = 1, .cpu = 1, .secs = 1 };
	uint8_t frame[GEN_FRAME_LEN];
	uint64_t before, after, sent = 0, cpu0, cpu1, ksi0, ksi1;
	struct bench *skel = NULL;
	int c, err = 0, sink_fd = -1, gen_ifindex, ksi;
	double t0, t1, cpu_s;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_GEN_NS: o.gen_ns = optarg; break;
		case O_GEN_DEV: o.gen_dev = optarg; break;
		case O_SINK_NS: o.sink_ns = optarg; break;
		case O_SINK_DEV: o.sink_dev = optarg; break;
		case O_SMAC: err |= parse_mac(optarg, o.f.smac); break;
		case O_DMAC: err |= parse_mac(optarg, o.f.dmac); break;
		case O_SADDR: err |= parse_ip(optarg, &o.f.saddr); break;
		case O_DADDR: err |= parse_ip(optarg, &o.f.daddr); break;
		case O_SPORT: err |= parse_num(optarg, &o.sport); break;
		case O_DPORT: err |= parse_num(optarg, &o.dport); break;
		case O_SPAN: err |= parse_num(optarg, &o.span); break;
		case O_FLOWS: err |= parse_num(optarg, &o.flows); break;
		case O_PREFILL: err |= parse_num(optarg, &o.prefill); break;
		case O_PACKETS: err |= parse_num(optarg, &o.packets); break;
		case O_SEQ: err |= parse_num(optarg, &o.seq); break;
		case O_CPU: err |= parse_num(optarg, &o.cpu); break;
		case O_SECS: o.secs = atof(optarg); break;
		case O_SWAP: o.swap = true; break;
		default: return -EINVAL;
		}
		if (err)
			return warnx_("bad value %s", optarg), -EINVAL;
	}
	if (!o.gen_ns || !o.gen_dev || !o.sink_ns || !o.sink_dev || !o.f.saddr || !o.f.daddr || !o.span ||
	    o.span > 65536 || (o.secs <= 0 && !o.packets))
		return warnx_("run: --gen-ns --gen-dev --sink-ns --sink-dev --saddr --daddr are required"), -EINVAL;

	if ((err = pin_cpu(o.cpu)))
		return warnx_("cannot pin to CPU %lu", o.cpu), err;
	if ((err = netns_enter(o.sink_ns)) || (sink_fd = sink_open(o.sink_dev)) < 0)
		return sink_fd < 0 ? sink_fd : err;
	if ((err = netns_enter(o.gen_ns)) || (gen_ifindex = ifindex_of(o.gen_dev)) < 0)
		goto out;

	o.f.sport = o.sport;
	o.f.dport = o.dport;
	frame_build(&o.f, frame);
	skel = bench_open_only(pick_gen);
	if (!skel) {
		err = -ENOENT;
		goto out;
	}
	memcpy((void *)skel->rodata->gen_cfg.hdr, frame, GEN_HDR_LEN);
	skel->rodata->gen_cfg.nflows = o.flows;
	skel->rodata->gen_cfg.span = o.span;
	skel->rodata->gen_cfg.sport_base = o.sport;
	skel->rodata->gen_cfg.dport_base = o.dport;
	skel->rodata->gen_cfg.swap = o.swap;
	if ((err = bench__load(skel))) {
		warnx_("loading the generator: %s", strerror(-err));
		goto out;
	}
	skel->bss->gen_seq = o.seq;
	int prog = bpf_program__fd(skel->progs.bench_gen);

	for (uint64_t left = o.prefill; left && !err;) {
		uint64_t n = left < 262144 ? left : 262144;

		err = gen_send(prog, gen_ifindex, frame, n);
		left -= n;
	}
	if (err)
		goto out;
	if (o.prefill)
		usleep(200000); /* whatever ksoftirqd still holds */

	ksi = ksoftirqd_pid(o.cpu);
	if ((err = sink_read(sink_fd, &before)))
		goto out;
	ksi0 = task_cpu_ns(ksi);
	cpu0 = thread_cpu_ns();
	t0 = now_s();
	t1 = t0;
	do {
		uint64_t n = 16384;

		if (o.packets && o.packets - sent < n)
			n = o.packets - sent;
		if ((err = gen_send(prog, gen_ifindex, frame, n)))
			goto out;
		sent += n;
		t1 = now_s();
	} while (o.packets ? sent < o.packets : t1 - t0 < o.secs);
	cpu1 = thread_cpu_ns();
	usleep(20000);
	ksi1 = task_cpu_ns(ksi);
	if ((err = sink_read(sink_fd, &after)))
		goto out;
	cpu_s = (cpu1 - cpu0 + ksi1 - ksi0) / 1e9;
	printf("cpu_pps %.0f pps %.0f recv %lu sent %lu secs %.6f cpu_s %.6f ksoftirqd_s %.6f seq %lu\n",
	       cpu_s > 0 ? (after - before) / cpu_s : 0, (after - before) / (t1 - t0), after - before, sent, t1 - t0,
	       cpu_s, (ksi1 - ksi0) / 1e9, (unsigned long)skel->bss->gen_seq);
out:
	bench__destroy(skel);
	if (sink_fd >= 0)
		close(sink_fd);
	return err;
}
