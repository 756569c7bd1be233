// SPDX-License-Identifier: GPL-2.0
/*
 * tapgen: a guest's frames written into a TAP the way QEMU without
 * vhost-net writes them: one write per frame, a virtio-net header in
 * front, on a non-blocking fd (tun then builds the frame in place and runs
 * native XDP on it, tun_build_skb).  One writer thread per TAP, each
 * pinned to its CPU; the data plane runs in the writer's context (tun hands
 * the frame to the stack, or XDP redirects it, inside the write), and so
 * does the receiving veth's NAPI, so the writer's CPU time plus its CPU's
 * ksoftirqd is the whole per-packet cost.
 *
 * What arrives is counted by the XDP sink on --sink-dev (in --sink-ns) or,
 * guest to guest, by reading the destination guest's TAP (--rx-tap) in
 * the same thread after every burst, as its QEMU would; with neither,
 * only what was written is counted (make flood counts arrivals itself).
 *
 * The TAPs are persistent devices of the current namespace (ip tuntap add);
 * tapgen attaches to them and waits until each bridge port forwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <linux/virtio_net.h>
#include <sys/ioctl.h>

#include "qbench.h"
#include "bench.h"

#define TAPGEN_MAX 2 /* writers: one guest per CPU */
#define BURST 32     /* writes between two drains of --rx-tap */
#define VNET_LEN sizeof(struct virtio_net_hdr)
#define PORTS_OFF (VNET_LEN + 34) /* UDP source and destination ports */

struct writer {
	pthread_t thread;
	int fd, rx_fd, cpu, err;
	uint8_t buf[VNET_LEN + GEN_FRAME_LEN];
	uint64_t sent, received, cpu_ns;
	double secs;
};

struct tapgen_opts {
	const char *tap[TAPGEN_MAX], *rx_tap, *sink_ns, *sink_dev;
	uint8_t smac[TAPGEN_MAX][6];
	uint32_t saddr[TAPGEN_MAX];
	uint64_t cpu[TAPGEN_MAX];
	int ntap, nsmac, nsaddr, ncpu;
	struct frame_spec f;
	uint64_t sport, dport, span, flows, packets, prefill;
	double secs;
};

static const struct tapgen_opts *opts_; /* read only while writers run */

/* Attach to persistent TAP dev as QEMU does: vnet header, non-blocking. */
static int tap_attach(const char *dev)
{
	struct ifreq ifr = { .ifr_flags = IFF_TAP | IFF_NO_PI | IFF_VNET_HDR };
	int fd = open("/dev/net/tun", O_RDWR | O_NONBLOCK | O_CLOEXEC), err;

	if (fd < 0)
		return warnx_("/dev/net/tun: %s", strerror(errno)), -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", dev);
	if (ioctl(fd, TUNSETIFF, &ifr)) {
		err = -errno;
		warnx_("attaching to TAP %s: %s", dev, strerror(errno));
		close(fd);
		return err;
	}
	return fd;
}

/* The bridge takes a port only once it forwards (carrier comes with the fd). */
static int port_wait_forwarding(const char *dev)
{
	char path[128], state[8] = "";
	int tries = 300;

	snprintf(path, sizeof(path), "/sys/class/net/%s/brport/state", dev);
	while (tries--) {
		FILE *f = fopen(path, "re");

		if (!f)
			return 0; /* not a bridge port */
		if (!fgets(state, sizeof(state), f))
			state[0] = '\0';
		fclose(f);
		if (atoi(state) == 3) /* BR_STATE_FORWARDING */
			return 0;
		usleep(10000);
	}
	return warnx_("%s: bridge port not forwarding (state %s)", dev, state), -ETIMEDOUT;
}

/* Flow i of the pattern (bench.h): ports into the frame. */
static void frame_flow(uint8_t *buf, uint64_t i)
{
	const struct tapgen_opts *o = opts_;
	uint16_t fast, slow, *ports = (uint16_t *)(buf + PORTS_OFF);

	if (o->flows)
		i %= o->flows;
	fast = i % o->span;
	slow = i / o->span;
	ports[0] = htons(o->sport + fast);
	ports[1] = htons(o->dport + slow);
}

static void rx_drain(struct writer *w)
{
	static __thread uint8_t rx[65536];

	while (read(w->rx_fd, rx, sizeof(rx)) > 0)
		w->received++;
}

/* Write n frames (n 0: until secs), flows counted from seq. */
static int write_frames(struct writer *w, uint64_t seq, uint64_t n, double secs)
{
	double t0 = now_s(), t = t0;

	for (uint64_t k = 0; n ? k < n : t - t0 < secs;) {
		for (int b = 0; b < BURST && (!n || k < n); b++, k++) {
			frame_flow(w->buf, seq + k);
			if (write(w->fd, w->buf, sizeof(w->buf)) < 0 && errno != EAGAIN && errno != ENOBUFS)
				return warnx_("write to TAP: %s", strerror(errno)), -errno;
			w->sent++;
		}
		if (w->rx_fd >= 0)
			rx_drain(w);
		if (!n)
			t = now_s();
	}
	w->secs = now_s() - t0;
	return 0;
}

static void *writer_run(void *arg)
{
	struct writer *w = arg;
	uint64_t c0;

	if ((w->err = pin_cpu(w->cpu)))
		return NULL;
	c0 = thread_cpu_ns();
	w->err = write_frames(w, opts_->prefill, opts_->packets, opts_->secs);
	w->cpu_ns = thread_cpu_ns() - c0;
	return NULL;
}

/* One more of a per-writer option (--tap, --smac, --saddr, --cpu). */
static int per_writer(int *n)
{
	return *n < TAPGEN_MAX ? (++*n, 0) : -E2BIG;
}

static int tapgen_parse(int argc, char **argv, struct tapgen_opts *o)
{
	enum { O_TAP = O_GEN_OWN, O_RX };
	static const struct option opts[] = {
		GEN_OPTIONS,
		{ "tap", required_argument, NULL, O_TAP },
		{ "rx-tap", required_argument, NULL, O_RX },
		{ 0 },
	};
	int c, err = 0;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case O_TAP: if (!(err = per_writer(&o->ntap))) o->tap[o->ntap - 1] = optarg; break;
		case O_SMAC: if (!(err = per_writer(&o->nsmac))) err = parse_mac(optarg, o->smac[o->nsmac - 1]); break;
		case O_SADDR: if (!(err = per_writer(&o->nsaddr))) err = parse_ip(optarg, &o->saddr[o->nsaddr - 1]); break;
		case O_CPU: if (!(err = per_writer(&o->ncpu))) err = parse_num(optarg, &o->cpu[o->ncpu - 1]); break;
		case O_RX: o->rx_tap = optarg; break;
		case O_SINK_NS: o->sink_ns = optarg; break;
		case O_SINK_DEV: o->sink_dev = optarg; break;
		case O_DMAC: err = parse_mac(optarg, o->f.dmac); break;
		case O_DADDR: err = parse_ip(optarg, &o->f.daddr); break;
		case O_SPORT: err = parse_num(optarg, &o->sport); break;
		case O_DPORT: err = parse_num(optarg, &o->dport); break;
		case O_SPAN: err = parse_num(optarg, &o->span); break;
		case O_FLOWS: err = parse_num(optarg, &o->flows); break;
		case O_PACKETS: err = parse_num(optarg, &o->packets); break;
		case O_PREFILL: err = parse_num(optarg, &o->prefill); break;
		case O_SECS: o->secs = atof(optarg); break;
		default: return -EINVAL;
		}
		if (err)
			return warnx_("bad value %s (at most %d writers)", optarg, TAPGEN_MAX), -EINVAL;
	}
	if (!o->ntap || o->nsmac != o->ntap || o->nsaddr != o->ntap || o->ncpu != o->ntap || !o->f.daddr ||
	    !o->span || o->span > 65536 || (o->secs <= 0 && !o->packets) || (o->rx_tap && o->sink_dev) ||
	    (o->rx_tap && o->ntap > 1) || (o->sink_dev && !o->sink_ns))
		return warnx_("tapgen: --tap, --smac, --saddr and --cpu once per writer, --daddr, and either "
			      "--sink-ns NS --sink-dev DEV or --rx-tap DEV (one writer) or neither (writes counted only)"),
		       -EINVAL;
	return 0;
}

/* The writers' own counts and CPU, and the sink's or the readers' count. */
static int tapgen_measure(const struct tapgen_opts *o, struct writer *w, int sink_fd)
{
	uint64_t before = 0, after = 0, ksi0[TAPGEN_MAX], sent = 0, received = 0, cpu_ns = 0, ksi_ns = 0;
	int ksi[TAPGEN_MAX], err = 0;
	double secs = 0;

	for (int i = 0; i < o->ntap; i++) {
		ksi[i] = ksoftirqd_pid(o->cpu[i]);
		ksi0[i] = task_cpu_ns(ksi[i]);
	}
	if (sink_fd >= 0 && (err = sink_read(sink_fd, &before)))
		return err;
	for (int i = 0; i < o->ntap; i++)
		if (pthread_create(&w[i].thread, NULL, writer_run, &w[i]))
			return warnx_("pthread_create failed"), -EAGAIN;
	for (int i = 0; i < o->ntap; i++) {
		pthread_join(w[i].thread, NULL);
		err = err ?: w[i].err;
		sent += w[i].sent;
		received += w[i].received;
		cpu_ns += w[i].cpu_ns;
		secs = w[i].secs > secs ? w[i].secs : secs;
	}
	usleep(20000);
	for (int i = 0; i < o->ntap; i++)
		ksi_ns += task_cpu_ns(ksi[i]) - ksi0[i];
	if (err || (sink_fd >= 0 && (err = sink_read(sink_fd, &after))))
		return err;
	if (sink_fd >= 0)
		received = after - before;
	cpu_ns += ksi_ns;
	printf("cpu_pps %.0f pps %.0f cpu_wpps %.0f recv %lu sent %lu secs %.6f cpu_s %.6f ksoftirqd_s %.6f\n",
	       cpu_ns ? received / (cpu_ns / 1e9) : 0, secs > 0 ? received / secs : 0,
	       cpu_ns ? sent / (cpu_ns / 1e9) : 0, received, sent, secs, cpu_ns / 1e9, ksi_ns / 1e9);
	return 0;
}

int cmd_tapgen(int argc, char **argv)
{
	static struct tapgen_opts o = { .sport = 1024, .dport = 9, .span = 64000, .flows = 1 };
	static struct writer w[TAPGEN_MAX];
	int err, sink_fd = -1, i, self_ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);

	if ((err = tapgen_parse(argc, argv, &o)))
		goto out;
	opts_ = &o;
	if (o.sink_dev) { /* the sink's map outlives the namespace switch */
		if ((err = netns_enter(o.sink_ns)) || (sink_fd = sink_open(o.sink_dev)) < 0) {
			err = err ?: sink_fd;
			goto out;
		}
		if (setns(self_ns, CLONE_NEWNET)) {
			err = -errno;
			goto out;
		}
	}
	for (i = 0; i < o.ntap; i++) {
		o.f.sport = o.sport;
		o.f.dport = o.dport;
		o.f.saddr = o.saddr[i];
		memcpy(o.f.smac, o.smac[i], 6);
		memset(w[i].buf, 0, VNET_LEN); /* no offloads: one whole frame per write */
		frame_build(&o.f, w[i].buf + VNET_LEN);
		w[i].cpu = o.cpu[i];
		w[i].rx_fd = -1;
		if ((w[i].fd = tap_attach(o.tap[i])) < 0) {
			err = w[i].fd;
			goto out;
		}
	}
	if (o.rx_tap && (w[0].rx_fd = tap_attach(o.rx_tap)) < 0) {
		err = w[0].rx_fd;
		goto out;
	}
	for (i = 0; i < o.ntap && !err; i++)
		err = port_wait_forwarding(o.tap[i]);
	if (!err && o.rx_tap)
		err = port_wait_forwarding(o.rx_tap);
	for (i = 0; i < o.ntap && !err && o.prefill; i++) { /* each writer's flows once, from its CPU */
		if (!(err = pin_cpu(o.cpu[i])))
			err = write_frames(&w[i], 0, o.prefill, 0);
		if (w[i].rx_fd >= 0)
			rx_drain(&w[i]);
		usleep(100000);
		w[i].sent = w[i].received = 0;
	}
	if (!err)
		err = tapgen_measure(&o, w, sink_fd);
out:
	for (i = 0; i < TAPGEN_MAX; i++) {
		if (w[i].fd > 0)
			close(w[i].fd);
		if (w[i].rx_fd > 0)
			close(w[i].rx_fd);
	}
	if (sink_fd >= 0)
		close(sink_fd);
	if (self_ns >= 0)
		close(self_ns);
	return err;
}
