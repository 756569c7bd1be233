// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "fixture.h"

const __u8 BRIDGE_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const __u8 UPLINK_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };
const __u8 GW_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0xfe };

struct testnet tn;

/* Runs in the private namespace the runner unshared: `ip` inherits it. */
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
	"ip route add 203.0.113.128/25 via 198.51.100.253 dev qup0",
	"ip link add qoth0 type veth peer name qoth0p",
	"ip link set qoth0 up",
	"ip link set qoth0p up",
	"ip addr add 100.64.0.1/10 dev qoth0",
};

/* /proc/sys/net resolves to the namespace of whoever opens it: ours. */
static int write_sysctl(const char *path, const char *val)
{
	int fd = open(path, O_WRONLY);
	ssize_t n;

	if (fd < 0) {
		perror(path);
		return -1;
	}
	n = write(fd, val, strlen(val));
	close(fd);
	if (n != (ssize_t)strlen(val)) {
		perror(path);
		return -1;
	}
	return 0;
}

int testnet_setup(void)
{
	for (size_t i = 0; i < sizeof(setup_cmds) / sizeof(setup_cmds[0]); i++) {
		if (system(setup_cmds[i])) {
			fprintf(stderr, "test_progs: setup failed: %s\n", setup_cmds[i]);
			return -1;
		}
	}
	/* bpf_fib_lookup() refuses to forward from a device without it. */
	if (write_sysctl("/proc/sys/net/ipv4/conf/all/forwarding", "1") ||
	    write_sysctl("/proc/sys/net/ipv4/conf/qbr0/forwarding", "1"))
		return -1;

	tn.bridge = if_nametoindex("qbr0");
	tn.tap = if_nametoindex("qtap0");
	tn.vport = if_nametoindex("qvport0");
	tn.uplink = if_nametoindex("qup0");
	tn.other = if_nametoindex("qoth0");
	if (!tn.bridge || !tn.tap || !tn.vport || !tn.uplink || !tn.other) {
		fprintf(stderr, "test_progs: a test device is missing\n");
		return -1;
	}
	return 0;
}

void guest_mac(__be32 guest, __u8 mac[6])
{
	const __u8 *a = (const __u8 *)&guest;

	mac[0] = 0x52;
	mac[1] = 0x54;
	mac[2] = mac[3] = mac[4] = 0;
	mac[5] = a[3];
}

struct pkt_spec guest_pkt(__u8 proto, __be32 guest, __u16 sport, __be32 daddr, __u16 dport)
{
	struct pkt_spec s = {
		.saddr = guest,
		.daddr = daddr,
		.proto = proto,
		.ttl = 64,
		.ip_id = 0x4242,
		.frag_off = 0x4000, /* DF */
		.sport = sport,
		.dport = proto == IPPROTO_ICMP ? 7 : dport,
		.tcp_flags = TCP_SYN,
		.icmp_type = ICMP_ECHO_REQUEST,
		.payload_len = 13, /* odd: the checksum's last byte is padded */
	};

	guest_mac(guest, s.smac);
	memcpy(s.dmac, BRIDGE_MAC, 6);
	return s;
}

struct pkt_spec routed(struct pkt_spec s)
{
	memcpy(s.smac, UPLINK_MAC, 6);
	memcpy(s.dmac, GW_MAC, 6);
	s.ttl--;
	return s;
}

struct pkt_spec outside_pkt(__u8 proto, __be32 saddr, __u16 sport, __be32 daddr, __u16 dport)
{
	struct pkt_spec s = {
		.saddr = saddr,
		.daddr = daddr,
		.proto = proto,
		.ttl = 60,
		.ip_id = 0x1717,
		.sport = proto == IPPROTO_ICMP ? dport : sport,
		.dport = proto == IPPROTO_ICMP ? 7 : dport,
		.tcp_flags = TCP_SYN | TCP_ACK,
		.icmp_type = ICMP_ECHO_REPLY,
		.payload_len = 21,
	};

	memcpy(s.smac, GW_MAC, 6);
	memcpy(s.dmac, UPLINK_MAC, 6);
	return s;
}

struct qnat_config nat_default_config(void)
{
	struct qnat_config c = {
		.abi_version = QNAT_ABI_VERSION,
		.subnet = SUBNET,
		.netmask = NETMASK,
		.gateway = GATEWAY,
		.ext_addr = EXT_ADDR,
		.uplink_ifindex = tn.uplink,
		.bridge_ifindex = tn.bridge,
		.port_min = PORT_MIN,
		.port_max = PORT_MAX,
		.timeouts = { 120, 60, 432000, 120, 120, 10, 30, 180, 30 },
	};

	memcpy(c.bridge_mac, BRIDGE_MAC, 6);
	memcpy(c.uplink_mac, UPLINK_MAC, 6);
	return c;
}

struct qnat *nat_open_with(const struct qnat_config *cfg, __u32 ct_max)
{
	struct qnat *skel = qnat__open();
	__u32 zero = 0;

	if (!ASSERT_OK_PTR(skel, "qnat__open"))
		return NULL;
	if (!ASSERT_OK(bpf_map__set_max_entries(skel->maps.qnat_ct, ct_max), "shrink qnat_ct") ||
	    !ASSERT_OK(bpf_map__set_max_entries(skel->maps.qnat_ct_rev, ct_max), "shrink qnat_ct_rev") ||
	    !ASSERT_OK(qnat__load(skel), "qnat__load") ||
	    !ASSERT_OK(bpf_map__update_elem(skel->maps.qnat_config, &zero, sizeof(zero), cfg, sizeof(*cfg), BPF_ANY),
		       "seed qnat_config")) {
		qnat__destroy(skel);
		return NULL;
	}
	return skel;
}

struct qnat *nat_open(void)
{
	struct qnat_config cfg = nat_default_config();

	return nat_open_with(&cfg, 1024);
}

int port_add(struct qnat *skel, int ifindex, __u32 flags)
{
	struct qnat_port port = { .flags = flags };
	__u32 key = ifindex, val = ifindex;
	int err;

	err = bpf_map__update_elem(skel->maps.qnat_ports, &key, sizeof(key), &port, sizeof(port), BPF_ANY);
	if (!err && (flags & QNAT_PORT_TAP))
		err = bpf_map__update_elem(skel->maps.qnat_devmap, &key, sizeof(key), &val, sizeof(val), BPF_ANY);
	return err;
}

int run_tc(struct bpf_program *prog, const void *frame, size_t len, int ifindex, int ingress, struct run *r)
{
	struct __sk_buff ctx = { .ifindex = ifindex, .ingress_ifindex = ingress };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .data_out = r->data,
		    .data_size_out = sizeof(r->data), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	int err;

	memset(r, 0, sizeof(*r));
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	r->ret = opts.retval;
	r->len = opts.data_size_out;
	return err;
}

int run_xdp(struct bpf_program *prog, const void *frame, size_t len, struct run *r)
{
	return run_xdp_on(prog, frame, len, 0, r); /* 0: the test run's default device */
}

/* XDP on a given device, as a frame arriving by it. */
int run_xdp_on(struct bpf_program *prog, const void *frame, size_t len, int ifindex, struct run *r)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .data_out = r->data,
		    .data_size_out = sizeof(r->data), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	int err;

	memset(r, 0, sizeof(*r));
	err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
	r->ret = opts.retval;
	r->len = opts.data_size_out;
	return err;
}

struct qnat_ct_key ct_key(__be32 saddr, __be32 daddr, __u16 sport, __u16 dport, __u8 proto)
{
	struct qnat_ct_key k = {
		.saddr = saddr,
		.daddr = daddr,
		.sport = htons(sport),
		.dport = htons(dport),
		.proto = proto,
	};

	return k;
}

int ct_get(struct qnat *skel, const struct qnat_ct_key *k, struct qnat_ct_entry *e)
{
	return bpf_map__lookup_elem(skel->maps.qnat_ct, k, sizeof(*k), e, sizeof(*e), 0);
}

int ct_rev_get(struct qnat *skel, const struct qnat_ct_key *rev, struct qnat_ct_key *orig)
{
	return bpf_map__lookup_elem(skel->maps.qnat_ct_rev, rev, sizeof(*rev), orig, sizeof(*orig), 0);
}

int map_count(const struct bpf_map *map)
{
	__u8 key[64], next[64];
	__u32 ksz = bpf_map__key_size(map);
	int fd = bpf_map__fd(map), n = 0;
	void *prev = NULL;

	if (ksz > sizeof(key))
		return -1;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, ksz);
		prev = key;
		n++;
	}
	return n;
}

const char *verdict_name(bool xdp, __u32 ret)
{
	static const char *const tc[] = { [TC_ACT_OK] = "TC_ACT_OK", [TC_ACT_RECLASSIFY] = "TC_ACT_RECLASSIFY",
					  [TC_ACT_SHOT] = "TC_ACT_SHOT", [TC_ACT_PIPE] = "TC_ACT_PIPE",
					  [TC_ACT_STOLEN] = "TC_ACT_STOLEN", [TC_ACT_QUEUED] = "TC_ACT_QUEUED",
					  [TC_ACT_REPEAT] = "TC_ACT_REPEAT", [TC_ACT_REDIRECT] = "TC_ACT_REDIRECT" };
	static const char *const xd[] = { [XDP_ABORTED] = "XDP_ABORTED", [XDP_DROP] = "XDP_DROP",
					  [XDP_PASS] = "XDP_PASS", [XDP_TX] = "XDP_TX",
					  [XDP_REDIRECT] = "XDP_REDIRECT" };

	if (xdp)
		return ret < sizeof(xd) / sizeof(xd[0]) ? xd[ret] : "?";
	return ret < sizeof(tc) / sizeof(tc[0]) ? tc[ret] : "?";
}

bool check_verdict(int err, const struct run *r, bool xdp, __u32 want, const char *what, const char *file, int line)
{
	if (err) {
		test__fail(file, line, "BPF_PROG_TEST_RUN failed: %d (%s)", err, strerror(-err));
		return false;
	}
	if (r->ret != want) {
		test__fail(file, line, "verdict %s (%u), want %s (%u)", verdict_name(xdp, r->ret), r->ret, what, want);
		return false;
	}
	return true;
}

static const char *const counter_names[QNAT_C_MAX] = {
#define COUNTER_NAME(id, name, help) [QNAT_C_##id] = name,
	QNAT_COUNTERS(COUNTER_NAME)
#undef COUNTER_NAME
};

bool check_counters(struct qnat *skel, __u32 net, const __u64 want[QNAT_C_MAX], const char *file, int line)
{
	int ncpus = libbpf_num_possible_cpus();
	struct qnat_counter_val *vals;
	bool ok = true;

	if (ncpus <= 0 || !(vals = calloc(ncpus, sizeof(*vals)))) {
		test__fail(file, line, "cannot size the per-CPU counters");
		return false;
	}
	for (__u32 c = 0; c < QNAT_C_MAX; c++) {
		__u32 key = net * QNAT_STATS_SLOTS + c;
		__u64 packets = 0;

		if (bpf_map__lookup_elem(skel->maps.qnat_stats, &key, sizeof(key), vals, ncpus * sizeof(*vals), 0)) {
			test__fail(file, line, "lookup of counter %s failed", counter_names[c]);
			ok = false;
			break;
		}
		for (int cpu = 0; cpu < ncpus; cpu++)
			packets += vals[cpu].packets;
		if (packets != want[c]) {
			test__fail(file, line, "counter %s = %llu, want %llu", counter_names[c],
				   (unsigned long long)packets, (unsigned long long)want[c]);
			ok = false;
		}
	}
	free(vals);
	return ok;
}
