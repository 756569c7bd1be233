// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <string.h>

#include "flow.h"

struct qnat_ct_key flow_orig(const struct flow *f)
{
	return ct_key(f->guest, f->server, f->sport, f->proto == IPPROTO_ICMP ? 0 : f->dport, f->proto);
}

struct qnat_ct_key flow_rev(const struct flow *f, __u16 nat_port)
{
	return ct_key(f->server, EXT_ADDR, f->proto == IPPROTO_ICMP ? 0 : f->dport, nat_port, f->proto);
}

static struct pkt_spec flow_request(const struct flow *f)
{
	struct pkt_spec s = guest_pkt(f->proto, f->guest, f->sport, f->server, f->dport);

	s.udp_no_csum = f->udp_no_csum;
	return s;
}

struct pkt_spec flow_request_routed(const struct flow *f)
{
	return routed(flow_request(f));
}

struct pkt_spec flow_reply(const struct flow *f, __u16 nat_port)
{
	struct pkt_spec s = outside_pkt(f->proto, f->server, f->dport, EXT_ADDR, nat_port);

	s.udp_no_csum = f->udp_no_csum;
	return s;
}

struct pkt_spec flow_reply_delivered(const struct flow *f, __u16 nat_port, enum reply_path path)
{
	struct pkt_spec s = flow_reply(f, nat_port);

	s.daddr = f->guest;
	if (f->proto == IPPROTO_ICMP)
		s.sport = f->sport; /* the identifier */
	else
		s.dport = f->sport;
	s.ttl--; /* forwarded by us: one hop */
	if (path != REPLY_BRIDGE) { /* to the port: bridge -> guest; else the neighbour code sets MACs */
		guest_mac(f->guest, s.dmac);
		memcpy(s.smac, BRIDGE_MAC, 6);
	}
	return s;
}

/* The translated request: masqueraded source, everything else as sent. */
static bool request_translated(struct qnat *skel, const struct flow *f, const struct run *r, struct pkt_spec out,
			       int *nat_port)
{
	struct qnat_ct_key orig = flow_orig(f);
	struct qnat_ct_entry e;
	__u8 want[PKT_MAX];
	size_t len;

	if (!ASSERT_OK(ct_get(skel, &orig, &e), "the flow is in qnat_ct"))
		return false;
	out.saddr = EXT_ADDR;
	out.sport = ntohs(e.nat_port);
	len = pkt_build(&out, want);
	*nat_port = out.sport;
	return ASSERT_FRAME(r, want, len, "translated request");
}

int snat_egress(struct qnat *skel, const struct flow *f)
{
	struct pkt_spec in = flow_request_routed(f);
	__u8 buf[PKT_MAX];
	size_t len = pkt_build(&in, buf);
	struct run r;
	int err, nat;

	err = run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r);
	if (!ASSERT_TC(err, &r, TC_ACT_OK) || !request_translated(skel, f, &r, in, &nat))
		return -1;
	return nat;
}

int snat_fast(struct qnat *skel, const struct flow *f, int port_ifindex)
{
	struct pkt_spec in = flow_request(f);
	__u8 buf[PKT_MAX];
	size_t len = pkt_build(&in, buf);
	struct run r;
	int err, nat;

	err = run_tc(skel->progs.tc_port_in, buf, len, port_ifindex, port_ifindex, &r);
	/* Out of the uplink, one hop on, to the gateway's MAC. */
	if (!ASSERT_TC(err, &r, TC_ACT_REDIRECT) || !request_translated(skel, f, &r, routed(in), &nat))
		return -1;
	return nat;
}

bool reply_ok(struct qnat *skel, const struct flow *f, __u16 nat_port, enum reply_path path)
{
	struct pkt_spec in = flow_reply(f, nat_port);
	struct pkt_spec out = flow_reply_delivered(f, nat_port, path);
	__u8 buf[PKT_MAX], want[PKT_MAX];
	size_t len = pkt_build(&in, buf), want_len = pkt_build(&out, want);
	struct run r;
	int err;

	switch (path) {
	case REPLY_BRIDGE:
		err = run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r);
		if (!ASSERT_TC(err, &r, TC_ACT_REDIRECT))
			return false;
		break;
	case REPLY_TC:
		err = run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r);
		if (!ASSERT_TC(err, &r, TC_ACT_REDIRECT))
			return false;
		break;
	case REPLY_XDP:
		err = run_xdp(skel->progs.xdp_uplink_in, buf, len, &r);
		if (!ASSERT_XDP(err, &r, XDP_REDIRECT))
			return false;
		break;
	}
	return ASSERT_FRAME(&r, want, want_len, "translated reply");
}

__u8 flow_first_state(const struct flow *f)
{
	switch (f->proto) {
	case IPPROTO_TCP:
		return QNAT_CT_SYN_SENT; /* guest_pkt() sends a SYN */
	case IPPROTO_UDP:
		return QNAT_CT_UDP;
	default:
		return QNAT_CT_ICMP;
	}
}

int flow_check(struct qnat *skel, const struct flow *f, __u32 port_ifindex, __u8 state)
{
	struct qnat_ct_key orig = flow_orig(f), rev, back;
	struct qnat_ct_entry e;
	__u8 mac[6] = {};
	bool ok = true;
	__u16 nat;

	if (!ASSERT_OK(ct_get(skel, &orig, &e), "the flow is in qnat_ct"))
		return -1;
	nat = ntohs(e.nat_port);
	ok = ASSERT_EQ(e.nat_addr, EXT_ADDR, "nat_addr") && ok;
	if (f->proto != IPPROTO_ICMP)
		ok = ASSERT_GE(nat, PORT_MIN, "nat_port in range") && ASSERT_LE(nat, PORT_MAX, "nat_port in range") && ok;
	ok = ASSERT_EQ(e.port_ifindex, port_ifindex, "port_ifindex") && ok;
	if (port_ifindex)
		guest_mac(f->guest, mac);
	ok = ASSERT_MEMEQ(e.guest_mac, mac, 6, "guest_mac") && ok;
	ok = ASSERT_EQ(e.state, state, "state") && ok;
	ok = ASSERT_NEQ(e.last_seen, 0, "last_seen") && ok;

	rev = flow_rev(f, nat);
	if (!ASSERT_OK(ct_rev_get(skel, &rev, &back), "the reply tuple is in qnat_ct_rev"))
		return -1;
	ok = ASSERT_MEMEQ(&back, &orig, sizeof(orig), "qnat_ct_rev leads back to the original tuple") && ok;
	return ok ? nat : -1;
}
