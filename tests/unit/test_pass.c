// SPDX-License-Identifier: GPL-2.0
/*
 * What the uplink programs must leave alone, and what they must stop:
 * nothing addressed to a guest comes in, nothing from the subnet leaves
 * untranslated.
 */
#include <string.h>

#include "flow.h"

/* Runs a program and asserts the verdict and that the frame is unchanged. */
static bool untouched(struct bpf_program *prog, bool xdp, int ifindex, int ingress, const __u8 *frame, size_t len,
		      __u32 want, const char *what)
{
	struct run r;
	int err = xdp ? run_xdp(prog, frame, len, &r) : run_tc(prog, frame, len, ifindex, ingress, &r);

	if (!check_verdict(err, &r, xdp, want, xdp ? "XDP_PASS" : "TC_ACT_OK", __FILE__, __LINE__)) {
		test__fail(__FILE__, __LINE__, "%s: %s", what, bpf_program__name(prog));
		return false;
	}
	return ASSERT_EQ(r.len, len, what) && ASSERT_MEMEQ(r.data, frame, len, what);
}

static bool no_flows(struct qnat *skel)
{
	return ASSERT_EQ(map_count(skel->maps.qnat_ct), 0, "flows in qnat_ct") &&
	       ASSERT_EQ(map_count(skel->maps.qnat_ct_rev), 0, "flows in qnat_ct_rev");
}

/* ARP and IPv6 are not ours, anywhere. */
TEST(not_ipv4_passes)
{
	__u8 buf[PKT_MAX], mac[6];
	size_t len;

	guest_mac(GUEST1, mac);
	for (int ipv6 = 0; ipv6 <= 1; ipv6++) {
		struct qnat *skel;

		if (!test__start_subtest(ipv6 ? "ipv6" : "arp"))
			continue;
		skel = nat_open();
		if (!skel)
			continue;
		len = ipv6 ? pkt_build_ipv6(BRIDGE_MAC, mac, buf) : pkt_build_arp(mac, GUEST1, GATEWAY, buf);
		untouched(skel->progs.tc_port_in, false, tn.tap, tn.tap, buf, len, TC_ACT_OK, "tc_port_in");
		untouched(skel->progs.tc_uplink_out, false, tn.uplink, 0, buf, len, TC_ACT_OK, "tc_uplink_out");
		untouched(skel->progs.tc_uplink_in, false, tn.uplink, tn.uplink, buf, len, TC_ACT_OK, "tc_uplink_in");
		untouched(skel->progs.xdp_uplink_in, true, 0, 0, buf, len, XDP_PASS, "xdp_uplink_in");
		no_flows(skel);
		/* Only the port's program counts what it passes. */
		ASSERT_COUNTERS(skel, [QNAT_C_PASS] = 1);
		qnat__destroy(skel);
	}
}

/* The host's own traffic leaves the uplink as it is. */
TEST(host_egress_passes)
{
	static const struct {
		const char *name;
		__u8 proto;
		__be32 saddr;
	} cases[] = {
		{ "tcp", IPPROTO_TCP, EXT_ADDR },
		{ "udp", IPPROTO_UDP, EXT_ADDR },
		{ "icmp", IPPROTO_ICMP, EXT_ADDR },
		{ "gre", 47, EXT_ADDR },
		{ "other_source", IPPROTO_UDP, IP4(100, 64, 0, 1) },
	};
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];

	if (!skel)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = routed(guest_pkt(cases[i].proto, cases[i].saddr, 40000, SERVER, 80));

		memcpy(s.smac, UPLINK_MAC, 6);
		untouched(skel->progs.tc_uplink_out, false, tn.uplink, 0, buf, pkt_build(&s, buf), TC_ACT_OK,
			  cases[i].name);
	}
	no_flows(skel);
	ASSERT_COUNTERS(skel, );
	qnat__destroy(skel);
}

/* Inbound to the host's address with no flow: the host's own traffic. */
TEST(inbound_no_flow_passes)
{
	static const struct {
		const char *name;
		__u8 proto;
		__u16 dport;
	} cases[] = {
		{ "tcp", IPPROTO_TCP, 22 },
		{ "udp", IPPROTO_UDP, 5353 },
		{ "icmp_echo_reply", IPPROTO_ICMP, 0x4321 },
		{ "gre", 47, 0 },
	};
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];

	if (!skel)
		return;
	/* A flow exists, on another tuple. */
	if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port"))
		goto out;
	struct flow f = FLOW("udp", IPPROTO_UDP, GUEST1, 40001, SERVER, 53);

	ASSERT_EQ(snat_fast(skel, &f, tn.tap), 40001, "a guest's flow");
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = outside_pkt(cases[i].proto, SERVER, 1234, EXT_ADDR, cases[i].dport);
		size_t len = pkt_build(&s, buf);

		untouched(skel->progs.xdp_uplink_in, true, 0, 0, buf, len, XDP_PASS, cases[i].name);
		untouched(skel->progs.tc_uplink_in, false, tn.uplink, tn.uplink, buf, len, TC_ACT_OK, cases[i].name);
	}
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1);
out:
	qnat__destroy(skel);
}

/* An echo request to the host is the host's to answer, even with the
 * identifier of a guest's echo flow. */
TEST(inbound_echo_request_passes)
{
	struct flow f = FLOW("icmp", IPPROTO_ICMP, GUEST1, 0x1234, SERVER, 0);
	struct qnat_ct_key k = flow_orig(&f);
	struct qnat *skel = nat_open();
	struct qnat_ct_entry e;
	__u8 buf[PKT_MAX];

	if (!skel)
		return;
	if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port") ||
	    !ASSERT_EQ(snat_fast(skel, &f, tn.tap), 0x1234, "a guest's echo flow"))
		goto out;

	struct pkt_spec s = flow_reply(&f, 0x1234);

	s.icmp_type = ICMP_ECHO_REQUEST;
	size_t len = pkt_build(&s, buf);

	untouched(skel->progs.xdp_uplink_in, true, 0, 0, buf, len, XDP_PASS, "echo request");
	untouched(skel->progs.tc_uplink_in, false, tn.uplink, tn.uplink, buf, len, TC_ACT_OK, "echo request");
	if (ASSERT_OK(ct_get(skel, &k, &e), "flow"))
		ASSERT_EQ(e.packets[QNAT_DIR_REPLY], 0, "not counted as a reply");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1);
out:
	qnat__destroy(skel);
}

/* Nobody outside may address a guest: TC drops it, flow or not. */
TEST(inbound_to_guest_dropped)
{
	struct flow f = FLOW("tcp", IPPROTO_TCP, GUEST1, 40000, SERVER, 80);
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];
	struct run r;

	if (!skel)
		return;
	for (int with_flow = 0; with_flow <= 1; with_flow++) {
		struct pkt_spec s = outside_pkt(IPPROTO_TCP, SERVER, 80, GUEST1, 40000);
		size_t len = pkt_build(&s, buf);

		if (with_flow && !ASSERT_EQ(snat_egress(skel, &f), 40000, "a guest's flow"))
			break;
		/* XDP leaves the decision to TC, which also sees fragments. */
		untouched(skel->progs.xdp_uplink_in, true, 0, 0, buf, len, XDP_PASS, "to a guest");
		ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_SHOT);
	}
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_NO_FLOW] = 2, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1);
	qnat__destroy(skel);
}

/* Whatever from the subnet cannot be translated must not leave. */
TEST(egress_leak_dropped)
{
	static const struct {
		const char *name;
		__u8 proto;
		__u16 frag_off;
		__u8 icmp_type;
	} cases[] = {
		{ "gre", 47, 0, 0 },
		{ "gre_later_fragment", 47, 0x00b9, 0 },
		{ "icmp_echo_reply", IPPROTO_ICMP, 0, ICMP_ECHO_REPLY }, /* nobody outside can ping a guest */
	};
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];
	struct run r;

	if (!skel)
		return;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec s = routed(guest_pkt(cases[i].proto, GUEST1, 40000, SERVER, 80));
		size_t len;

		s.frag_off = cases[i].frag_off;
		if (cases[i].proto == IPPROTO_ICMP)
			s.icmp_type = cases[i].icmp_type;
		len = pkt_build(&s, buf);
		if (!ASSERT_TC(run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r), &r, TC_ACT_SHOT))
			test__fail(__FILE__, __LINE__, "case %s", cases[i].name);
	}
	no_flows(skel);
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_LEAK] = sizeof(cases) / sizeof(cases[0]));
	qnat__destroy(skel);
}

/* Without an address to masquerade to, guest traffic is stopped, not leaked. */
TEST(egress_unconfigured_ext_addr_dropped)
{
	struct qnat_config cfg = nat_default_config();
	struct flow f = FLOW("udp", IPPROTO_UDP, GUEST1, 40001, SERVER, 53);
	struct pkt_spec s = flow_request_routed(&f);
	__u8 buf[PKT_MAX];
	struct qnat *skel;
	struct run r;

	cfg.ext_addr = 0;
	skel = nat_open_with(&cfg, 1024);
	if (!skel)
		return;
	ASSERT_TC(run_tc(skel->progs.tc_uplink_out, buf, pkt_build(&s, buf), tn.uplink, 0, &r), &r, TC_ACT_SHOT);
	no_flows(skel);
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_LEAK] = 1);
	qnat__destroy(skel);
}
