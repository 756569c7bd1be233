// SPDX-License-Identifier: GPL-2.0
/*
 * Frames by MAC: bridged mode's XDP path from the LAN straight into a guest's
 * TAP, and VLAN-tagged frames, which go port to port as they are and are
 * never translated.
 */
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "fixture.h"

static const __u8 LAN_MAC[6] = { 0x02, 0x1a, 0x00, 0x00, 0x00, 0x01 };

/* Inserts an 802.1Q tag (VLAN vid) after the MACs; returns the new length. */
static size_t vlan_tag(__u8 *buf, size_t len, __u16 vid)
{
	__be16 tag[2] = { htons(0x8100), htons(vid) };

	memmove(buf + 16, buf + 12, len - 12);
	memcpy(buf + 12, tag, sizeof(tag));
	return len + 4;
}

static int fdb_add(struct qnat *skel, const __u8 mac[6], __u32 ifindex)
{
	struct qnat_fdb_key k = {};
	struct qnat_fdb v = { .ifindex = ifindex };

	memcpy(k.mac, mac, 6);
	return bpf_map__update_elem(skel->maps.qnat_fdb, &k, sizeof(k), &v, sizeof(v), BPF_ANY);
}

/* xdp_uplink_in on frame arriving on the uplink; asserts the verdict and an unchanged frame. */
static bool xdp_in(struct qnat *skel, const __u8 *frame, size_t len, __u32 want, const char *what)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = tn.uplink };
	struct run r = {};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len, .data_out = r.data,
		    .data_size_out = sizeof(r.data), .ctx_in = &ctx, .ctx_size_in = sizeof(ctx));
	int err = bpf_prog_test_run_opts(bpf_program__fd(skel->progs.xdp_uplink_in), &opts);

	r.ret = opts.retval;
	r.len = opts.data_size_out;
	if (!check_verdict(err, &r, true, want, verdict_name(true, want), __FILE__, __LINE__)) {
		test__fail(__FILE__, __LINE__, "case %s", what);
		return false;
	}
	return ASSERT_EQ(r.len, len, what) && ASSERT_MEMEQ(r.data, frame, len, what);
}

/*
 * Bridged: a LAN frame for a guest on a TAP is redirected into it, tagged or
 * not, and the LAN's MAC is learned on the uplink; everything else is left to
 * TC and the bridge.
 */
TEST(bridged_xdp_to_tap)
{
	struct qnat_config cfg = nat_default_config();
	__u8 tap_mac[6], veth_mac[6], buf[PKT_MAX];
	static const __u8 bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	static const __u8 stp[6] = { 0x01, 0x80, 0xc2, 0x00, 0x00, 0x00 };
	static const __u8 unknown[6] = { 0x52, 0x54, 0x00, 0x99, 0x99, 0x99 };
	struct qnat_fdb_key k = {};
	struct qnat_fdb f = {};
	struct pkt_spec s;
	struct qnat *skel;
	size_t len;

	cfg.flags = QNAT_CFG_BRIDGED;
	cfg.ext_addr = 0; /* bridged: nothing to translate to */
	skel = nat_open_with(&cfg, 1024);
	if (!skel)
		return;
	guest_mac(GUEST1, tap_mac);
	guest_mac(GUEST2, veth_mac);
	if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "tap port") ||
	    !ASSERT_OK(port_add(skel, tn.vport, 0), "veth port") ||
	    !ASSERT_OK(port_add(skel, tn.uplink, QNAT_PORT_UPLINK), "uplink port") ||
	    !ASSERT_OK(fdb_add(skel, tap_mac, tn.tap), "fdb tap") || !ASSERT_OK(fdb_add(skel, veth_mac, tn.vport), "fdb veth"))
		goto out;

	s = outside_pkt(IPPROTO_TCP, SERVER, 80, GUEST1, 40000);
	memcpy(s.smac, LAN_MAC, 6);
	memcpy(s.dmac, tap_mac, 6);
	len = pkt_build(&s, buf);
	xdp_in(skel, buf, len, XDP_REDIRECT, "to the tap guest");
	memcpy(k.mac, LAN_MAC, 6);
	if (ASSERT_OK(bpf_map__lookup_elem(skel->maps.qnat_fdb, &k, sizeof(k), &f, sizeof(f), 0), "LAN MAC learned"))
		ASSERT_EQ(f.ifindex, (__u32)tn.uplink, "LAN MAC's port");
	len = vlan_tag(buf, len, 10);
	xdp_in(skel, buf, len, XDP_REDIRECT, "tagged, to the tap guest");

	const struct {
		const char *name;
		const __u8 *dmac;
	} pass[] = { { "veth guest", veth_mac }, { "broadcast", bcast }, { "stp", stp },
		     { "unknown unicast", unknown }, { "the host", BRIDGE_MAC }, { "the LAN itself", LAN_MAC } };
	for (size_t i = 0; i < sizeof(pass) / sizeof(pass[0]); i++) {
		memcpy(s.dmac, pass[i].dmac, 6);
		len = pkt_build(&s, buf);
		xdp_in(skel, buf, len, XDP_PASS, pass[i].name);
	}
	ASSERT_EQ(map_count(skel->maps.qnat_ct), 0, "no flows");
	ASSERT_COUNTERS(skel, [QNAT_C_L2_XDP] = 2);
out:
	qnat__destroy(skel);
}

/*
 * NAT mode: a tagged frame belongs to a VLAN the host does not route for the
 * guests; it is never translated.  To another guest's MAC it goes port to
 * port, tag and all.
 */
TEST(vlan_tagged_not_translated)
{
	__u8 other_mac[6], buf[PKT_MAX];
	struct pkt_spec s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, SERVER, 80);
	struct qnat *skel = nat_open();
	struct run r;
	size_t len;

	if (!skel)
		return;
	len = vlan_tag(buf, pkt_build(&s, buf), 10);
	if (ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r), &r, TC_ACT_OK))
		ASSERT_MEMEQ(r.data, buf, len, "to the outside: untouched");
	s = outside_pkt(IPPROTO_TCP, SERVER, 80, EXT_ADDR, 40000);
	len = vlan_tag(buf, pkt_build(&s, buf), 10);
	if (ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_OK))
		ASSERT_MEMEQ(r.data, buf, len, "from the outside (tc): untouched");
	if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_PASS))
		ASSERT_MEMEQ(r.data, buf, len, "from the outside (xdp): untouched");
	ASSERT_EQ(map_count(skel->maps.qnat_ct), 0, "no flows");

	guest_mac(GUEST2, other_mac);
	if (ASSERT_OK(port_add(skel, tn.vport, 0), "veth port") && ASSERT_OK(fdb_add(skel, other_mac, tn.vport), "fdb")) {
		s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, GUEST2, 80);
		memcpy(s.dmac, other_mac, 6);
		len = vlan_tag(buf, pkt_build(&s, buf), 10);
		if (ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r), &r, TC_ACT_REDIRECT))
			ASSERT_MEMEQ(r.data, buf, len, "to another guest: as it was");
	}
	ASSERT_COUNTERS(skel, [QNAT_C_PASS] = 1, [QNAT_C_L2_FAST] = 1);
	qnat__destroy(skel);
}

/* --port-security: a guest port may not send tagged frames at all. */
TEST(port_security_drops_vlan)
{
	struct qnat_config cfg = nat_default_config();
	struct pkt_spec s = guest_pkt(IPPROTO_UDP, GUEST1, 40000, GUEST2, 53);
	__u8 buf[PKT_MAX];
	struct qnat *skel;
	struct run r;
	size_t len;

	cfg.flags = QNAT_CFG_PORT_SECURITY;
	skel = nat_open_with(&cfg, 1024);
	if (!skel)
		return;
	if (ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "tap port")) {
		len = pkt_build(&s, buf);
		ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r), &r, TC_ACT_OK);
		len = vlan_tag(buf, len, 10);
		ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r), &r, TC_ACT_SHOT);
		ASSERT_COUNTERS(skel, [QNAT_C_PASS] = 1, [QNAT_C_DROP_PORT_VLAN] = 1);
	}
	qnat__destroy(skel);
}
