// SPDX-License-Identifier: GPL-2.0
/*
 * tc_host_in and tc_host_out, the bridge device's ingress and egress: what
 * guests may reach on the host itself.  DHCP, DNS on the gateway, ICMP
 * echo to the host's addresses and errors, --host-allow ports and replies to the
 * host's own connections go in; other packets for a host address are
 * dropped and counted; what the host routes onwards is not looked at.
 */
#include <string.h>

#include "fixture.h"

#define SUBNET_BCAST IP4(192, 168, 122, 255)

/* Runs tc_host_in on the bridge; the frame must come out as it went in. */
static bool host_in(struct qnat *skel, const struct pkt_spec *s, __u32 want, const char *what)
{
	__u8 buf[PKT_MAX];
	size_t len = pkt_build(s, buf);
	struct run r;
	int err = run_tc(skel->progs.tc_host_in, buf, len, tn.bridge, tn.bridge, &r);

	if (!check_verdict(err, &r, false, want, want == TC_ACT_OK ? "TC_ACT_OK" : "TC_ACT_SHOT", __FILE__, __LINE__)) {
		test__fail(__FILE__, __LINE__, "case %s", what);
		return false;
	}
	return ASSERT_EQ(r.len, len, what) && ASSERT_MEMEQ(r.data, buf, len, what);
}

static const struct {
	const char *name;
	__u8 proto;
	__be32 saddr, daddr;
	__u16 sport, dport;
	__u8 icmp_type;
} allowed[] = {
	{ "dhcp_discover", IPPROTO_UDP, 0, IP4(255, 255, 255, 255), 68, 67, 0 },
	{ "dhcp_renew", IPPROTO_UDP, GUEST1, GATEWAY, 68, 67, 0 },
	{ "dns_udp", IPPROTO_UDP, GUEST1, GATEWAY, 40000, 53, 0 },
	{ "dns_tcp", IPPROTO_TCP, GUEST1, GATEWAY, 40000, 53, 0 },
	{ "ping_gateway", IPPROTO_ICMP, GUEST1, GATEWAY, 77, 0, ICMP_ECHO_REQUEST },
	{ "ping_uplink_addr", IPPROTO_ICMP, GUEST1, EXT_ADDR, 77, 0, ICMP_ECHO_REQUEST },
	{ "echo_reply", IPPROTO_ICMP, GUEST1, EXT_ADDR, 77, 0, ICMP_ECHO_REPLY },
	{ "icmp_error", IPPROTO_ICMP, GUEST1, EXT_ADDR, 0, 0, ICMP_DEST_UNREACH },
	{ "routed_out", IPPROTO_TCP, GUEST1, SERVER, 40000, 2222, 0 },
	{ "other_guest", IPPROTO_TCP, GUEST1, GUEST2, 40000, 2222, 0 },
};

static const struct {
	const char *name;
	__u8 proto;
	__be32 daddr;
	__u16 dport;
	__u8 icmp_type;
} denied[] = {
	{ "tcp_gateway", IPPROTO_TCP, GATEWAY, 2222, 0 },
	{ "udp_gateway", IPPROTO_UDP, GATEWAY, 2222, 0 },
	{ "tcp_uplink_addr", IPPROTO_TCP, EXT_ADDR, 2222, 0 },
	{ "dns_uplink_addr", IPPROTO_UDP, EXT_ADDR, 53, 0 },
	{ "udp_subnet_broadcast", IPPROTO_UDP, SUBNET_BCAST, 2222, 0 },
	{ "mdns", IPPROTO_UDP, IP4(224, 0, 0, 251), 5353, 0 },
	{ "ping_subnet_broadcast", IPPROTO_ICMP, SUBNET_BCAST, 0, ICMP_ECHO_REQUEST },
	{ "gre_gateway", 47, GATEWAY, 0, 0 },
};

static struct pkt_spec case_pkt(__u8 proto, __be32 saddr, __be32 daddr, __u16 sport, __u16 dport, __u8 icmp_type)
{
	struct pkt_spec s = guest_pkt(proto, GUEST1, sport, daddr, dport);

	s.saddr = saddr;
	if (proto == IPPROTO_ICMP)
		s.icmp_type = icmp_type;
	return s;
}

TEST(host_in_default)
{
	size_t na = sizeof(allowed) / sizeof(allowed[0]), nd = sizeof(denied) / sizeof(denied[0]);
	struct qnat *skel = nat_open();

	if (!skel)
		return;
	for (size_t i = 0; i < na; i++) {
		struct pkt_spec s = case_pkt(allowed[i].proto, allowed[i].saddr, allowed[i].daddr, allowed[i].sport,
					     allowed[i].dport, allowed[i].icmp_type);

		host_in(skel, &s, TC_ACT_OK, allowed[i].name);
	}
	for (size_t i = 0; i < nd; i++) {
		struct pkt_spec s = case_pkt(denied[i].proto, GUEST1, denied[i].daddr, 40000, denied[i].dport,
					     denied[i].icmp_type);

		host_in(skel, &s, TC_ACT_SHOT, denied[i].name);
	}
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_HOST] = nd);
	qnat__destroy(skel);
}

/* --host-allow tcp/2222,udp/5000-5001: those ports, on every host address. */
TEST(host_in_allow_ports)
{
	struct qnat_host_allow rules[] = { { .proto = IPPROTO_TCP, .first = 2222, .last = 2222 },
					   { .proto = IPPROTO_UDP, .first = 5000, .last = 5001 } };
	struct qnat *skel = nat_open();
	struct pkt_spec s;

	if (!skel)
		return;
	for (__u32 i = 0; i < 2; i++)
		ASSERT_OK(bpf_map__update_elem(skel->maps.qnat_host_allow, &i, sizeof(i), &rules[i], sizeof(rules[i]),
					       BPF_ANY), "seed qnat_host_allow");
	s = case_pkt(IPPROTO_TCP, GUEST1, GATEWAY, 40000, 2222, 0);
	host_in(skel, &s, TC_ACT_OK, "tcp/2222 gateway");
	s = case_pkt(IPPROTO_TCP, GUEST1, EXT_ADDR, 40000, 2222, 0);
	host_in(skel, &s, TC_ACT_OK, "tcp/2222 uplink address");
	s = case_pkt(IPPROTO_UDP, GUEST1, GATEWAY, 40000, 5001, 0);
	host_in(skel, &s, TC_ACT_OK, "udp/5001");
	s = case_pkt(IPPROTO_UDP, GUEST1, GATEWAY, 40000, 2222, 0);
	host_in(skel, &s, TC_ACT_SHOT, "udp/2222");
	s = case_pkt(IPPROTO_UDP, GUEST1, GATEWAY, 40000, 5002, 0);
	host_in(skel, &s, TC_ACT_SHOT, "udp/5002");
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_HOST] = 2);
	qnat__destroy(skel);
}

/* --host-allow all: libvirt's behaviour, nothing looked at. */
TEST(host_in_open)
{
	struct qnat_config cfg = nat_default_config();
	struct qnat *skel;

	cfg.flags |= QNAT_CFG_HOST_OPEN;
	skel = nat_open_with(&cfg, 1024);
	if (!skel)
		return;
	for (size_t i = 0; i < sizeof(denied) / sizeof(denied[0]); i++) {
		struct pkt_spec s = case_pkt(denied[i].proto, GUEST1, denied[i].daddr, 40000, denied[i].dport,
					     denied[i].icmp_type);

		host_in(skel, &s, TC_ACT_OK, denied[i].name);
	}
	ASSERT_COUNTERS(skel);
	qnat__destroy(skel);
}

/* The host connects to a guest: the guest's replies on that tuple go in,
 * nothing else from it does. */
TEST(host_out_replies)
{
	struct pkt_spec out = case_pkt(IPPROTO_TCP, GATEWAY, GUEST1, 45000, 22, 0), reply, other;
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];
	size_t len;
	struct run r;

	if (!skel)
		return;
	memcpy(out.smac, BRIDGE_MAC, 6);
	guest_mac(GUEST1, out.dmac);
	reply = case_pkt(IPPROTO_TCP, GUEST1, GATEWAY, 22, 45000, 0);
	reply.tcp_flags = TCP_SYN | TCP_ACK;
	other = reply;
	other.dport = 45001;
	host_in(skel, &reply, TC_ACT_SHOT, "reply before the host's packet");
	len = pkt_build(&out, buf);
	if (ASSERT_TC(run_tc(skel->progs.tc_host_out, buf, len, tn.bridge, 0, &r), &r, TC_ACT_OK))
		ASSERT_MEMEQ(r.data, buf, len, "the host's packet untouched");
	ASSERT_EQ(map_count(skel->maps.qnat_host_flow), 1, "host flows noted");
	host_in(skel, &reply, TC_ACT_OK, "reply");
	host_in(skel, &other, TC_ACT_SHOT, "another port of the host");
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_HOST] = 2);
	qnat__destroy(skel);
}

/*
 * Only the host's own packets open a way back: what it routes to a guest
 * and the replies tc_uplink_in sends through the bridge (rnat_bridge) are
 * not its connections, and noting them would crowd its real ones out of
 * the LRU.  Found by the fuzzer (regressions/host_out-forwarded-reply-noted).
 */
TEST(host_out_only_host_sources)
{
	static const struct {
		const char *name;
		__be32 saddr;
		int noted;
	} cases[] = {
		{ "reply from outside", SERVER, 0 },
		{ "routed from another network", OTHER_NET_HOST, 0 },
		{ "routed between guests", GUEST2, 0 },
		{ "subnet broadcast source", IP4(192, 168, 122, 255), 0 },
		{ "multicast source", IP4(224, 0, 0, 251), 0 },
		{ "gateway", GATEWAY, 1 },
		{ "uplink address", EXT_ADDR, 1 },
	};
	struct qnat *skel = nat_open();
	int noted = 0;

	if (!skel)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = case_pkt(IPPROTO_TCP, cases[i].saddr, GUEST1, 443, 40000 + i, 0);
		__u8 buf[PKT_MAX];
		size_t len;
		struct run r;

		memcpy(s.smac, BRIDGE_MAC, 6);
		guest_mac(GUEST1, s.dmac);
		len = pkt_build(&s, buf);
		ASSERT_TC(run_tc(skel->progs.tc_host_out, buf, len, tn.bridge, 0, &r), &r, TC_ACT_OK);
		noted += cases[i].noted;
		ASSERT_EQ(map_count(skel->maps.qnat_host_flow), noted, cases[i].name);
	}
	ASSERT_COUNTERS(skel);
	qnat__destroy(skel);
}

/* An IPv6 frame from GUEST1's MAC to the bridge: TCP SYN or UDP, or ICMPv6 (next header 58). */
static size_t ipv6_frame(const __u8 src[16], const __u8 dst[16], __u8 nh, __u16 sport, __u16 dport, __u8 *buf)
{
	__u8 *ip6 = buf + 14, *l4 = ip6 + 40;

	memset(buf, 0, PKT_MAX);
	memcpy(buf, BRIDGE_MAC, 6);
	guest_mac(GUEST1, buf + 6);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip6[0] = 0x60;
	ip6[5] = 20;
	ip6[6] = nh;
	ip6[7] = 64;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	l4[0] = sport >> 8;
	l4[1] = sport & 0xff;
	l4[2] = dport >> 8;
	l4[3] = dport & 0xff;
	if (nh == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = TCP_SYN;
	}
	return 14 + 40 + 20;
}

static bool host_in6(struct qnat *skel, const __u8 *src, const __u8 *dst, __u8 nh, __u16 sport, __u16 dport,
		     __u32 want, const char *what)
{
	__u8 buf[PKT_MAX];
	size_t len = ipv6_frame(src, dst, nh, sport, dport, buf);
	struct run r;
	int err = run_tc(skel->progs.tc_host_in, buf, len, tn.bridge, tn.bridge, &r);

	if (!check_verdict(err, &r, false, want, want == TC_ACT_OK ? "TC_ACT_OK" : "TC_ACT_SHOT", __FILE__, __LINE__)) {
		test__fail(__FILE__, __LINE__, "case %s", what);
		return false;
	}
	return ASSERT_EQ(r.len, len, what);
}

/* IPv6: ICMPv6 goes in; TCP and UDP to a link-local or multicast address
 * only to a --host-allow port or as a reply to the host's connection. */
TEST(host_in_ipv6)
{
	static const __u8 guest[16] = { 0xfe, 0x80, [15] = 0x10 }, host[16] = { 0xfe, 0x80, [15] = 0x01 },
			  mdns[16] = { 0xff, 0x02, [15] = 0xfb };
	struct qnat_host_allow rule = { .proto = IPPROTO_TCP, .first = 2224, .last = 2224 };
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];
	struct run r;
	__u32 zero = 0;
	size_t len;

	if (!skel)
		return;
	host_in6(skel, guest, host, 58, 0x8700, 0, TC_ACT_OK, "icmpv6 neighbour solicitation");
	host_in6(skel, guest, host, IPPROTO_TCP, 40000, 22, TC_ACT_SHOT, "tcp/22 link-local");
	host_in6(skel, guest, mdns, IPPROTO_UDP, 5353, 5353, TC_ACT_SHOT, "mdns");
	host_in6(skel, guest, host, 44, 0, 0, TC_ACT_SHOT, "fragment header");
	ASSERT_OK(bpf_map__update_elem(skel->maps.qnat_host_allow, &zero, sizeof(zero), &rule, sizeof(rule), BPF_ANY),
		  "seed qnat_host_allow");
	host_in6(skel, guest, host, IPPROTO_TCP, 40000, 2224, TC_ACT_OK, "tcp/2224 allowed");
	/* The host opens a connection to the guest's port 22. */
	host_in6(skel, guest, host, IPPROTO_TCP, 22, 45000, TC_ACT_SHOT, "reply before the host's packet");
	len = ipv6_frame(host, guest, IPPROTO_TCP, 45000, 22, buf);
	ASSERT_TC(run_tc(skel->progs.tc_host_out, buf, len, tn.bridge, 0, &r), &r, TC_ACT_OK);
	host_in6(skel, guest, host, IPPROTO_TCP, 22, 45000, TC_ACT_OK, "reply");
	/* From a multicast address: no one's connection. */
	len = ipv6_frame(mdns, guest, IPPROTO_UDP, 5353, 5353, buf);
	ASSERT_TC(run_tc(skel->progs.tc_host_out, buf, len, tn.bridge, 0, &r), &r, TC_ACT_OK);
	ASSERT_EQ(map_count(skel->maps.qnat_host_flow), 1, "host flows noted");
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_HOST] = 4);
	qnat__destroy(skel);
}
