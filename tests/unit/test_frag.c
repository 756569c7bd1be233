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

/* The reply to f's flow as one datagram (IP id id): its first fragment and a
 * later one.  Returns the flow's outside port, or -1. */
static int reply_fragments(struct qnat *skel, const struct flow *f, __u16 id, struct pkt_spec *first,
			   struct pkt_spec *later)
{
	int nat = snat_egress(skel, f);

	if (!ASSERT_GE(nat, 0, "flow set up"))
		return -1;
	*first = flow_reply(f, nat);
	first->frag_off = MF;
	first->ip_id = id;
	*later = *first;
	later->frag_off = LATER_OFF;
	return nat;
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
	nat = reply_fragments(skel, &f, 777, &first, &later);
	if (nat < 0)
		goto out;
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

static int take_event(void *ctx, void *data, size_t size)
{
	if (size == sizeof(struct qnat_frag_key))
		memcpy(ctx, data, size);
	return 0;
}

/*
 * First fragment last: later fragments that find no entry go on to the
 * kernel untouched, and a copy of each waits in the stash; the first
 * fragment then names the datagram on the ring buffer for the controller.
 * The host's own datagrams (a first fragment no flow claims) leave no copies.
 */
TEST(fragments_inbound_first_last)
{
	struct flow f = FLOW("udp", IPPROTO_UDP, GUEST1, 40002, SERVER, 53);
	struct pkt_spec first, later, later2, host;
	struct qnat_frag_key fk = {}, ev = {};
	struct qnat_stash_key sk = {};
	struct qnat_stash stash;
	struct qnat_frag fv;
	__u8 buf[PKT_MAX], buf2[PKT_MAX];
	struct qnat *skel = nat_open();
	struct ring_buffer *rb = NULL;
	struct run r;
	size_t len, len2;

	if (!skel)
		return;
	if (reply_fragments(skel, &f, 4321, &first, &later) < 0)
		goto out;
	later2 = first;
	later2.frag_off = MF | 0x0005; /* a middle one: offset 40 */

	/* Later fragments first: passed on untouched, and copied. */
	len = pkt_build(&later, buf);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_OK);
	ASSERT_MEMEQ(r.data, buf, len, "early later fragment untouched");
	len2 = pkt_build(&later2, buf2);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf2, len2, tn.uplink, tn.uplink, &r), &r, TC_ACT_OK);
	ASSERT_MEMEQ(r.data, buf2, len2, "second early fragment untouched");
	ASSERT_EQ(map_count(skel->maps.qnat_frag_stash), 2, "both stashed");
	sk.frag.saddr = SERVER;
	sk.frag.daddr = EXT_ADDR;
	sk.frag.id = htons(4321);
	sk.frag.proto = IPPROTO_UDP;
	sk.frag_off = htons(LATER_OFF);
	fk = sk.frag;
	if (ASSERT_OK(bpf_map__lookup_elem(skel->maps.qnat_frag_stash, &sk, sizeof(sk), &stash, sizeof(stash), 0),
		      "the copy, by datagram and offset")) {
		ASSERT_EQ(stash.len, len, "copy length");
		ASSERT_MEMEQ(stash.frame, buf, len, "copy bytes");
	}
	if (ASSERT_OK(bpf_map__lookup_elem(skel->maps.qnat_frags, &fk, sizeof(fk), &fv, sizeof(fv), 0),
		      "datagram marked"))
		ASSERT_EQ(fv.flags, QNAT_FRAG_PENDING, "marked pending");

	/* The first fragment: to the guest, and the datagram named for the controller. */
	rb = ring_buffer__new(bpf_map__fd(skel->maps.qnat_frag_ev), take_event, &ev, NULL);
	if (!ASSERT_OK_PTR(rb, "ring buffer"))
		goto out;
	len = pkt_build(&first, buf);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_REDIRECT);
	ASSERT_EQ(ring_buffer__consume(rb), 1, "one event");
	ASSERT_MEMEQ(&ev, &fk, sizeof(fk), "the event names the datagram");
	if (ASSERT_OK(bpf_map__lookup_elem(skel->maps.qnat_frags, &fk, sizeof(fk), &fv, sizeof(fv), 0),
		      "datagram entry")) {
		ASSERT_EQ(fv.flags, 0, "no longer pending");
		ASSERT_EQ(fv.guest_addr, GUEST1, "its guest");
	}
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1, [QNAT_C_FRAG_STASHED] = 2,
			[QNAT_C_RNAT_BRIDGE] = 1);

	/* The host's own datagram (no flow on this port): its first fragment
	 * marks it, and its later ones are not copied. */
	host = outside_pkt(IPPROTO_UDP, SERVER, 53, EXT_ADDR, 9999);
	host.frag_off = MF;
	host.ip_id = 4322;
	len = pkt_build(&host, buf);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_OK);
	host.frag_off = LATER_OFF;
	len = pkt_build(&host, buf);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_OK);
	ASSERT_MEMEQ(r.data, buf, len, "the host's later fragment untouched");
	ASSERT_EQ(map_count(skel->maps.qnat_frag_stash), 2, "the host's fragment not copied");
	ASSERT_EQ(ring_buffer__consume(rb), 0, "no event for the host's datagram");
out:
	ring_buffer__free(rb);
	qnat__destroy(skel);
}
