// SPDX-License-Identifier: GPL-2.0
/*
 * tc_port_in, a bridge port's ingress: the bridge's own traffic passes,
 * spoofed sources are dropped, what it cannot translate goes to the kernel,
 * and a guest's flow to the outside is sent straight out of the uplink.
 */
#include <string.h>

#include "flow.h"

/* Runs tc_port_in on the tap and asserts the verdict and an unchanged frame. */
static bool port_in_untouched(struct qnat *skel, const struct pkt_spec *s, __u32 want, const char *what)
{
	__u8 buf[PKT_MAX];
	size_t len = pkt_build(s, buf);
	struct run r;
	int err = run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r);

	if (!check_verdict(err, &r, false, want, want == TC_ACT_OK ? "TC_ACT_OK" : "TC_ACT_SHOT", __FILE__, __LINE__)) {
		test__fail(__FILE__, __LINE__, "case %s", what);
		return false;
	}
	return ASSERT_EQ(r.len, len, what) && ASSERT_MEMEQ(r.data, buf, len, what);
}

static bool no_flows(struct qnat *skel)
{
	return ASSERT_EQ(map_count(skel->maps.qnat_ct), 0, "flows in qnat_ct") &&
	       ASSERT_EQ(map_count(skel->maps.qnat_ct_rev), 0, "flows in qnat_ct_rev");
}

/* Guests, the gateway, broadcasts and multicast are the bridge's business. */
TEST(port_in_local_passes)
{
	static const struct {
		const char *name;
		__u8 proto;
		__be32 daddr;
	} cases[] = {
		{ "other_guest", IPPROTO_TCP, GUEST2 },
		{ "gateway", IPPROTO_UDP, GATEWAY },
		{ "subnet_broadcast", IPPROTO_UDP, IP4(192, 168, 122, 255) },
		{ "broadcast", IPPROTO_UDP, IP4(255, 255, 255, 255) },
		{ "mdns", IPPROTO_UDP, IP4(224, 0, 0, 251) },
		{ "icmp_to_guest", IPPROTO_ICMP, GUEST2 },
	};
	struct qnat *skel = nat_open();
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (!skel)
		return;
	for (size_t i = 0; i < n; i++) {
		struct pkt_spec s = guest_pkt(cases[i].proto, GUEST1, 40000, cases[i].daddr, 53);

		port_in_untouched(skel, &s, TC_ACT_OK, cases[i].name);
	}
	/* DHCP: no address yet. */
	struct pkt_spec dhcp = guest_pkt(IPPROTO_UDP, 0, 68, IP4(255, 255, 255, 255), 67);

	port_in_untouched(skel, &dhcp, TC_ACT_OK, "dhcp_discover");
	no_flows(skel);
	ASSERT_COUNTERS(skel, [QNAT_C_PASS] = n + 1);
	qnat__destroy(skel);
}

/* A source outside the subnet, going outside: spoofed. */
TEST(port_in_spoof_dropped)
{
	static const __be32 sources[] = { IP4(10, 0, 0, 5), EXT_ADDR, IP4(192, 168, 123, 10) };
	struct qnat *skel = nat_open();
	size_t n = sizeof(sources) / sizeof(sources[0]);

	if (!skel)
		return;
	for (size_t i = 0; i < n; i++) {
		struct pkt_spec s = guest_pkt(IPPROTO_TCP, sources[i], 40000, SERVER, 80);

		port_in_untouched(skel, &s, TC_ACT_SHOT, ip4_str(sources[i]));
	}
	no_flows(skel);
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_SPOOF] = n);
	qnat__destroy(skel);
}

/* What the fast path does not translate goes to the kernel untouched. */
TEST(port_in_slow_path)
{
	static const struct {
		const char *name;
		__u8 proto;
		__u8 ttl;
		__u16 frag_off;
		__u8 icmp_type;
	} cases[] = {
		{ "ttl_1", IPPROTO_TCP, 1, 0, 0 },
		{ "gre", 47, 64, 0, 0 },
		{ "first_fragment", IPPROTO_UDP, 64, 0x2000, 0 },
		{ "later_fragment", IPPROTO_UDP, 64, 0x00b9, 0 },
		{ "icmp_dest_unreach", IPPROTO_ICMP, 64, 0, ICMP_DEST_UNREACH },
	};
	struct qnat *skel = nat_open();
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (!skel)
		return;
	for (size_t i = 0; i < n; i++) {
		struct pkt_spec s = guest_pkt(cases[i].proto, GUEST1, 40000, SERVER, 80);

		s.ttl = cases[i].ttl;
		s.frag_off = cases[i].frag_off;
		if (cases[i].proto == IPPROTO_ICMP)
			s.icmp_type = cases[i].icmp_type;
		port_in_untouched(skel, &s, TC_ACT_OK, cases[i].name);
	}
	no_flows(skel);
	ASSERT_COUNTERS(skel, [QNAT_C_PASS_SLOW] = n);
	qnat__destroy(skel);
}

/* Routed to somewhere that is not the uplink, or to the host itself: the
 * kernel's, untranslated. */
TEST(port_in_not_via_uplink)
{
	static const struct {
		const char *name;
		__be32 daddr;
	} cases[] = {
		{ "other_route", OTHER_NET_HOST },
		{ "host_address", EXT_ADDR },
	};
	struct qnat *skel = nat_open();
	size_t n = sizeof(cases) / sizeof(cases[0]);

	if (!skel)
		return;
	for (size_t i = 0; i < n; i++) {
		struct pkt_spec s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, cases[i].daddr, 80);

		port_in_untouched(skel, &s, TC_ACT_OK, cases[i].name);
	}
	no_flows(skel);
	ASSERT_COUNTERS(skel, [QNAT_C_PASS] = n);
	qnat__destroy(skel);
}

/* A next hop with no neighbour entry: translated, and handed to
 * bpf_redirect_neigh() to resolve, MACs left as they were. */
TEST(port_in_no_neighbour)
{
	struct flow f = FLOW("tcp", IPPROTO_TCP, GUEST1, 40000, SERVER_NO_NEIGH, 443);
	struct pkt_spec in = guest_pkt(f.proto, f.guest, f.sport, f.server, f.dport), out = in;
	__u8 buf[PKT_MAX], want[PKT_MAX];
	struct qnat *skel = nat_open();
	size_t len, want_len;
	struct run r;

	if (!skel)
		return;
	len = pkt_build(&in, buf);
	out.saddr = EXT_ADDR;
	out.ttl--;
	want_len = pkt_build(&out, want);
	if (ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r), &r, TC_ACT_REDIRECT))
		ASSERT_FRAME(&r, want, want_len, "translated, MACs untouched");
	ASSERT_EQ(flow_check(skel, &f, tn.tap, QNAT_CT_SYN_SENT), f.sport, "flow");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1);
	qnat__destroy(skel);
}
