// SPDX-License-Identifier: GPL-2.0
/*
 * IPv4 fragments.  Out: the first fragment is translated like any packet
 * (its L4 checksum covers the whole datagram, so the incremental update is
 * right for it), later ones only need their source address.  In: the first
 * fragment of a reply tells where the later ones go, by IP id.
 */
#include <string.h>

#include "fixture.h"
#include "flow.h"

#define MF 0x2000
#define LATER_OFF 0x00b9 /* offset 1480 bytes, no MF: the last fragment */

/* Copy of a frame with one IPv4 address replaced and only the IP checksum fixed. */
static size_t patch_addr(const __u8 *in, size_t len, int dst, __be32 addr, int ttl_dec, __u8 *out)
{
	__u8 *ip = out + 14;

	memcpy(out, in, len);
	memcpy(ip + (dst ? 16 : 12), &addr, 4);
	ip[8] -= ttl_dec;
	ip[10] = ip[11] = 0;
	__u16 c = csum_ref_finish(csum_ref_add(0, ip, 20));
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	return len;
}

TEST(fragments_outbound)
{
	struct pkt_spec first = routed(guest_pkt(IPPROTO_UDP, GUEST1, 40000, SERVER, 53));
	struct pkt_spec later = first, want;
	__u8 buf[PKT_MAX], exp[PKT_MAX];
	struct qnat *skel = nat_open();
	struct run r;
	size_t len;

	if (!skel)
		return;
	first.frag_off = MF;
	first.ip_id = 4242;
	later.frag_off = LATER_OFF;
	later.ip_id = 4242;

	/* The port ingress leaves fragments to the kernel's path. */
	len = pkt_build(&first, buf);
	ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.vport, tn.vport, &r), &r, TC_ACT_OK);
	ASSERT_MEMEQ(r.data, buf, len, "fragment left untouched by the port");

	/* First fragment: source address and port translated, the flow created. */
	ASSERT_TC(run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r), &r, TC_ACT_OK);
	want = first;
	want.saddr = EXT_ADDR;
	ASSERT_FRAME(&r, exp, pkt_build(&want, exp), "first fragment");
	ASSERT_EQ(map_count(skel->maps.qnat_ct), 1, "flow created by the first fragment");

	/* Later fragment: only the source address, only the IP checksum. */
	len = pkt_build(&later, buf);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r), &r, TC_ACT_OK);
	ASSERT_EQ(r.len, len, "later fragment length");
	ASSERT_MEMEQ(r.data, exp, patch_addr(buf, len, 0, EXT_ADDR, 0, exp), "later fragment");
	ASSERT_COUNTERS(skel, [QNAT_C_PASS_SLOW] = 1, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 2);
	qnat__destroy(skel);
}

TEST(fragments_inbound)
{
	struct flow f = FLOW("udp", IPPROTO_UDP, GUEST1, 40001, SERVER, 53);
	struct pkt_spec first, later, other, want;
	__u8 buf[PKT_MAX], exp[PKT_MAX];
	struct qnat *skel = nat_open();
	struct run r;
	size_t len;
	int nat;

	if (!skel)
		return;
	nat = snat_egress(skel, &f);
	if (!ASSERT_GE(nat, 0, "flow set up"))
		goto out;
	first = flow_reply(&f, nat);
	first.frag_off = MF;
	first.ip_id = 777;
	later = first;
	later.frag_off = LATER_OFF;
	other = later;
	other.ip_id = 778;

	/* XDP leaves fragments to TC. */
	len = pkt_build(&first, buf);
	ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_PASS);
	ASSERT_MEMEQ(r.data, buf, len, "fragment untouched by XDP");

	/* The first fragment is translated like a reply (port unknown: via the bridge). */
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_REDIRECT);
	want = flow_reply_delivered(&f, nat, REPLY_BRIDGE);
	want.frag_off = MF;
	want.ip_id = 777;
	ASSERT_FRAME(&r, exp, pkt_build(&want, exp), "first fragment of the reply");

	/* A later fragment of that datagram follows it to the guest. */
	len = pkt_build(&later, buf);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_REDIRECT);
	ASSERT_MEMEQ(r.data, exp, patch_addr(buf, len, 1, GUEST1, 1, exp), "later fragment of the reply");

	/* One of another datagram (or the host's own) is left to the kernel. */
	len = pkt_build(&other, buf);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_OK);
	ASSERT_MEMEQ(r.data, buf, len, "unknown fragment untouched");
out:
	qnat__destroy(skel);
}
