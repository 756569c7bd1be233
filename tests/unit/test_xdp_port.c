// SPDX-License-Identifier: GPL-2.0
/*
 * xdp_port_in, a TAP port's XDP program: a packet of a flow tc_port_in
 * opened leaves translated exactly as tc_port_in would send it, frames for
 * another guest's TAP go straight there, and everything else is XDP_PASS,
 * untouched, for tc_port_in.
 */
#include <string.h>

#include "fixture.h"

/* NAT on, and the uplink in the devmap, as when it takes XDP redirects. */
static struct qnat *xdp_port_open(bool xmit)
{
	struct qnat_config cfg = nat_default_config();
	struct qnat *skel;
	__u32 key = tn.uplink;

	if (xmit)
		cfg.flags |= QNAT_CFG_UPLINK_XMIT;
	skel = nat_open_with(&cfg, 1024);
	if (skel && bpf_map__update_elem(skel->maps.qnat_devmap, &key, sizeof(key), &key, sizeof(key), BPF_ANY)) {
		test__fail(__FILE__, __LINE__, "uplink into the devmap");
		qnat__destroy(skel);
		return NULL;
	}
	return skel;
}

/* Through tc_port_in, which opens the flow; its frame is what XDP must send. */
static size_t tc_opens(struct qnat *skel, const struct pkt_spec *s, __u8 *out)
{
	__u8 buf[PKT_MAX];
	size_t len = pkt_build(s, buf);
	struct run r;

	if (!ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r), &r, TC_ACT_REDIRECT))
		return 0;
	memcpy(out, r.data, r.len);
	return r.len;
}

static bool xdp_passes(struct qnat *skel, const __u8 *buf, size_t len, int ifindex, const char *what)
{
	struct run r;

	if (!ASSERT_XDP(run_xdp_on(skel->progs.xdp_port_in, buf, len, ifindex, &r), &r, XDP_PASS)) {
		test__fail(__FILE__, __LINE__, "case %s", what);
		return false;
	}
	return ASSERT_EQ(r.len, len, what) && ASSERT_MEMEQ(r.data, buf, len, what);
}

/* The flow's next packets: translated in XDP byte for byte as TC did, checksums right. */
TEST(xdp_port_snat_established)
{
	static const struct {
		const char *name;
		__u8 proto;
		bool udp_no_csum;
	} cases[] = {
		{ "tcp", IPPROTO_TCP, false }, { "udp", IPPROTO_UDP, false },
		{ "udp_no_csum", IPPROTO_UDP, true }, { "icmp", IPPROTO_ICMP, false },
	};
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct qnat *skel = xdp_port_open(true);

	if (!skel)
		return;
	for (size_t i = 0; i < n; i++) {
		struct pkt_spec s = guest_pkt(cases[i].proto, GUEST1, 40000 + i, SERVER, 443);
		__u8 buf[PKT_MAX], want[PKT_MAX];
		struct qnat_ct_key k = ct_key(GUEST1, SERVER, 40000 + i, cases[i].proto == IPPROTO_ICMP ? 0 : 443,
					      cases[i].proto);
		struct qnat_ct_entry e;
		size_t want_len, len;
		struct run r;

		s.udp_no_csum = cases[i].udp_no_csum;
		s.tcp_flags = TCP_ACK;
		if (!(want_len = tc_opens(skel, &s, want)))
			continue;
		len = pkt_build(&s, buf);
		if (ASSERT_XDP(run_xdp_on(skel->progs.xdp_port_in, buf, len, tn.tap, &r), &r, XDP_REDIRECT))
			ASSERT_FRAME(&r, want, want_len, cases[i].name);
		if (ASSERT_EQ(ct_get(skel, &k, &e), 0, cases[i].name))
			ASSERT_EQ(e.packets[QNAT_DIR_ORIG], 2, "both packets on the flow");
	}
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = n, [QNAT_C_SNAT_FAST] = n, [QNAT_C_SNAT_XDP] = n);
	qnat__destroy(skel);
}

/*
 * The flow's next hop is looked up once and cached: a neighbour that changes
 * is seen only when the generation moves (the supervisor moves it on the
 * change's event), and a packet longer than any the lookup let through asks
 * again (here the uplink's MTU fell: the kernel's, so XDP_PASS).
 */
TEST(xdp_port_next_hop_cache)
{
	static const __u8 NEW_GW_MAC[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0xfd };
	struct qnat *skel = xdp_port_open(true);
	struct pkt_spec s = guest_pkt(IPPROTO_UDP, GUEST1, 42000, SERVER, 53);
	struct qnat_config cfg;
	__u8 buf[PKT_MAX], want[PKT_MAX];
	size_t len, want_len;
	struct run r;
	__u32 zero = 0;

	if (!skel || !(want_len = tc_opens(skel, &s, want)))
		goto out;
	len = pkt_build(&s, buf);
	if (!ASSERT_XDP(run_xdp_on(skel->progs.xdp_port_in, buf, len, tn.tap, &r), &r, XDP_REDIRECT) ||
	    !ASSERT_MEMEQ(r.data, GW_MAC, 6, "the gateway's MAC"))
		goto out;
	ASSERT_EQ(system("ip neigh replace 198.51.100.254 lladdr 02:00:00:00:01:fd dev qup0 nud permanent"), 0, "neigh");
	if (ASSERT_XDP(run_xdp_on(skel->progs.xdp_port_in, buf, len, tn.tap, &r), &r, XDP_REDIRECT))
		ASSERT_MEMEQ(r.data, GW_MAC, 6, "the cached MAC, while the generation stays");
	bpf_map__lookup_elem(skel->maps.qnat_config, &zero, sizeof(zero), &cfg, sizeof(cfg), 0);
	cfg.nh_gen++;
	bpf_map__update_elem(skel->maps.qnat_config, &zero, sizeof(zero), &cfg, sizeof(cfg), BPF_ANY);
	if (ASSERT_XDP(run_xdp_on(skel->progs.xdp_port_in, buf, len, tn.tap, &r), &r, XDP_REDIRECT))
		ASSERT_MEMEQ(r.data, NEW_GW_MAC, 6, "the new MAC, once the generation moved");

	s.payload_len = 180;
	len = pkt_build(&s, buf);
	ASSERT_EQ(system("ip link set qup0 mtu 150"), 0, "mtu");
	xdp_passes(skel, buf, len, tn.tap, "longer than the lookup let through, over the new MTU");
	s.payload_len = 0;
	len = pkt_build(&s, buf);
	ASSERT_XDP(run_xdp_on(skel->progs.xdp_port_in, buf, len, tn.tap, &r), &r, XDP_REDIRECT);
out:
	system("ip link set qup0 mtu 1500");
	system("ip neigh replace 198.51.100.254 lladdr 02:00:00:00:01:fe dev qup0 nud permanent");
	if (skel)
		qnat__destroy(skel);
}

/* What XDP cannot finish goes to TC untouched, and opens nothing. */
TEST(xdp_port_passes)
{
	struct qnat *skel = xdp_port_open(true);
	struct pkt_spec est = guest_pkt(IPPROTO_UDP, GUEST1, 41000, SERVER, 53);
	__u8 buf[PKT_MAX], want[PKT_MAX];
	size_t len;

	if (!skel)
		return;
	if (!tc_opens(skel, &est, want)) /* one flow exists; the cases below are not it */
		goto out;
	struct {
		const char *name;
		struct pkt_spec s;
	} cases[] = {
		{ "new_flow", guest_pkt(IPPROTO_UDP, GUEST1, 41001, SERVER, 53) },
		{ "tcp_syn", guest_pkt(IPPROTO_TCP, GUEST1, 41002, SERVER, 80) },
		{ "gateway", guest_pkt(IPPROTO_UDP, GUEST1, 41000, GATEWAY, 53) },
		{ "other_guest", guest_pkt(IPPROTO_UDP, GUEST1, 41000, GUEST2, 53) },
		{ "dhcp", guest_pkt(IPPROTO_UDP, 0, 68, IP4(255, 255, 255, 255), 67) },
		{ "spoof", guest_pkt(IPPROTO_UDP, IP4(10, 0, 0, 5), 41000, SERVER, 53) },
		{ "ttl1", est },
		{ "fragment", est },
		{ "icmp_error", guest_pkt(IPPROTO_ICMP, GUEST1, 41000, SERVER, 0) },
		{ "other_mac", est },
		{ "no_neighbour", guest_pkt(IPPROTO_UDP, GUEST1, 41000, SERVER_NO_NEIGH, 53) },
	};
	cases[6].s.ttl = 1;
	cases[7].s.frag_off = 0x2000;
	cases[8].s.icmp_type = 3;
	cases[9].s.smac[5] ^= 1;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		len = pkt_build(&cases[i].s, buf);
		xdp_passes(skel, buf, len, tn.tap, cases[i].name);
	}
	/* The flow itself: from another port, or as a partial checksum. */
	len = pkt_build(&est, buf);
	xdp_passes(skel, buf, len, tn.vport, "other_port");
	len = pkt_build_arp(est.smac, GUEST1, GATEWAY, buf);
	xdp_passes(skel, buf, len, tn.tap, "arp");
	ASSERT_EQ(map_count(skel->maps.qnat_ct), 1, "no flow opened");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1);
out:
	qnat__destroy(skel);
}

/* A virtio guest's checksum offload: only the pseudo-header's sum is there. */
TEST(xdp_port_partial_csum_passes)
{
	struct qnat *skel = xdp_port_open(true);
	struct pkt_spec s = guest_pkt(IPPROTO_TCP, GUEST1, 42000, SERVER, 443);
	__u8 buf[PKT_MAX], want[PKT_MAX];
	__u32 sum;
	size_t len;

	if (!skel)
		return;
	s.tcp_flags = TCP_ACK;
	if (!tc_opens(skel, &s, want))
		goto out;
	len = pkt_build(&s, buf);
	/* The pseudo-header: addresses, protocol, TCP length; folded, not inverted. */
	sum = (GUEST1 & 0xffff) + (GUEST1 >> 16) + (SERVER & 0xffff) + (SERVER >> 16) + htons(IPPROTO_TCP) +
	      htons(len - 14 - 20);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	memcpy(buf + 14 + 20 + 16, &(__u16){ sum }, 2);
	xdp_passes(skel, buf, len, tn.tap, "partial");
out:
	qnat__destroy(skel);
}

/* An uplink that may not take XDP redirects: the flow stays with TC. */
TEST(xdp_port_no_uplink_xmit_passes)
{
	struct qnat *skel = xdp_port_open(false);
	struct pkt_spec s = guest_pkt(IPPROTO_UDP, GUEST1, 43000, SERVER, 53);
	__u8 buf[PKT_MAX], want[PKT_MAX];

	if (!skel)
		return;
	if (tc_opens(skel, &s, want))
		xdp_passes(skel, buf, pkt_build(&s, buf), tn.tap, "no xmit");
	qnat__destroy(skel);
}

/* Another guest's MAC on a TAP: straight into it; on a veth: TC's. */
TEST(xdp_port_guest_to_guest)
{
	struct qnat *skel = xdp_port_open(true);
	struct pkt_spec s = guest_pkt(IPPROTO_UDP, GUEST1, 44000, GUEST2, 53);
	struct qnat_fdb_key k = {};
	struct qnat_fdb v = { .ifindex = tn.vport };
	__u8 buf[PKT_MAX];
	size_t len;
	struct run r;

	if (!skel)
		return;
	guest_mac(GUEST2, s.dmac);
	memcpy(k.mac, s.dmac, 6);
	len = pkt_build(&s, buf);
	if (!ASSERT_EQ(bpf_map__update_elem(skel->maps.qnat_fdb, &k, sizeof(k), &v, sizeof(v), BPF_ANY), 0, "fdb") ||
	    !ASSERT_EQ(port_add(skel, tn.vport, 0), 0, "veth port"))
		goto out;
	xdp_passes(skel, buf, len, tn.tap, "to a veth port");
	if (!ASSERT_EQ(port_add(skel, tn.vport, QNAT_PORT_TAP), 0, "tap port"))
		goto out;
	if (ASSERT_XDP(run_xdp_on(skel->progs.xdp_port_in, buf, len, tn.tap, &r), &r, XDP_REDIRECT))
		ASSERT_MEMEQ(r.data, buf, len, "frame untouched");
	ASSERT_COUNTERS(skel, [QNAT_C_L2_PORT_XDP] = 1);
out:
	qnat__destroy(skel);
}
