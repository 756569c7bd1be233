// SPDX-License-Identifier: GPL-2.0
/*
 * Networks sharing one uplink's data plane (slots 0 and 1 of qnat_config):
 * the uplink's programs find a packet's network by its guest address and
 * count in that network's row; both networks' flows draw on one port space;
 * nothing from outside reaches the second network's guests unasked, and a
 * guest does not reach the other NAT network.
 */
#include <netinet/in.h>
#include <string.h>

#include "flow.h"

/* Network 1 is routed out of qoth0, as another network's subnet is out of its bridge. */
#define NET1_SUBNET IP4(100, 64, 0, 0)
#define NET1_GATEWAY IP4(100, 64, 0, 1)
#define NET1_GUEST IP4(100, 64, 0, 10)

/* Network 0 as every test has it, and network 1 (100.64.0.0/24) in slot 1. */
static struct qnat *two_nets_open(void)
{
	struct qnat_config c = nat_default_config();
	struct qnat *skel = nat_open();
	__u32 one = 1;

	if (!skel)
		return NULL;
	c.subnet = NET1_SUBNET;
	c.gateway = NET1_GATEWAY;
	c.net = 1;
	if (!ASSERT_OK(bpf_map__update_elem(skel->maps.qnat_config, &one, sizeof(one), &c, sizeof(c), BPF_ANY),
		       "seed slot 1")) {
		qnat__destroy(skel);
		return NULL;
	}
	return skel;
}

/* The second network's guest goes out and gets its reply; its counters are its own. */
TEST(second_net_egress_and_reply)
{
	const struct flow f = FLOW("udp", IPPROTO_UDP, NET1_GUEST, 40001, SERVER, 53);
	struct qnat *skel = two_nets_open();
	int nat;

	if (!skel)
		return;
	nat = snat_egress(skel, &f);
	if (ASSERT_EQ(nat, f.sport, "source port kept when free"))
		ASSERT_TRUE(reply_ok(skel, &f, nat, REPLY_BRIDGE), "reply via the bridge");
	ASSERT_NET_COUNTERS(skel, 1, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1, [QNAT_C_RNAT_BRIDGE] = 1);
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 0);
	qnat__destroy(skel);
}

/* One source port, one server, a guest on each network: two reply tuples, each reply to its guest. */
TEST(same_port_two_nets)
{
	const struct flow a = FLOW("net0", IPPROTO_TCP, GUEST1, 40000, SERVER, 80);
	const struct flow b = FLOW("net1", IPPROTO_TCP, NET1_GUEST, 40000, SERVER, 80);
	struct qnat *skel = two_nets_open();
	int na, nb;

	if (!skel)
		return;
	na = snat_egress(skel, &a);
	nb = snat_egress(skel, &b);
	ASSERT_EQ(na, 40000, "the first keeps its port");
	if (ASSERT_TRUE(nb > 0 && nb != na, "the second gets another port")) {
		ASSERT_TRUE(reply_ok(skel, &a, na, REPLY_BRIDGE), "net 0's reply");
		ASSERT_TRUE(reply_ok(skel, &b, nb, REPLY_BRIDGE), "net 1's reply");
	}
	qnat__destroy(skel);
}

/* From outside: to the second network's guest directly, or posing as it. */
TEST(second_net_closed_from_outside)
{
	struct qnat *skel = two_nets_open();
	struct pkt_spec to = outside_pkt(IPPROTO_UDP, SERVER, 53, NET1_GUEST, 40001);
	struct pkt_spec from = outside_pkt(IPPROTO_UDP, NET1_GUEST, 40001, EXT_ADDR, 40001);
	__u8 buf[PKT_MAX];
	struct run r;

	if (!skel)
		return;
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, pkt_build(&to, buf), tn.uplink, tn.uplink, &r), &r,
		  TC_ACT_SHOT);
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, pkt_build(&from, buf), tn.uplink, tn.uplink, &r), &r,
		  TC_ACT_SHOT);
	ASSERT_NET_COUNTERS(skel, 1, [QNAT_C_DROP_NO_FLOW] = 1, [QNAT_C_DROP_SPOOF] = 1);
	qnat__destroy(skel);
}

/* A guest's packet for the other NAT network's subnet: dropped, as libvirt rejects it. */
TEST(port_to_other_net)
{
	struct qnat *skel = two_nets_open();
	struct pkt_spec p = guest_pkt(IPPROTO_TCP, GUEST1, 40000, NET1_GUEST, 80);
	__u8 buf[PKT_MAX];
	struct run r;

	if (!skel)
		return;
	ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, pkt_build(&p, buf), tn.vport, tn.vport, &r), &r, TC_ACT_SHOT);
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_OTHER_NET] = 1);
	qnat__destroy(skel);
}

/*
 * A hairpin flow's reply tuple is a guest's source (client -> uplink
 * address:forward).  From outside such a packet is a spoof: XDP must not
 * redirect it to the server guest, TC drops it.
 */
TEST(hairpin_reply_tuple_from_outside)
{
	struct qnat *skel = nat_open();
	struct qnat_ct_key orig = ct_key(GUEST2, GATEWAY, 22, 41000, IPPROTO_TCP);
	struct qnat_ct_key rev = ct_key(GUEST1, EXT_ADDR, 41000, 2222, IPPROTO_TCP);
	struct qnat_ct_entry e = {
		.nat_addr = EXT_ADDR,
		.nat_port = htons(2222),
		.state = QNAT_CT_ESTABLISHED,
		.flags = QNAT_CTF_DNAT | QNAT_CTF_HAIRPIN | QNAT_CTF_REPLIED,
		.port_ifindex = tn.tap,
		.peer_addr = GUEST1,
		.peer_port = htons(41000),
	};
	struct pkt_spec spoof = outside_pkt(IPPROTO_TCP, GUEST1, 41000, EXT_ADDR, 2222);
	__u8 buf[PKT_MAX];
	struct run r;
	size_t len;

	if (!skel)
		return;
	guest_mac(GUEST2, e.guest_mac);
	if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port") ||
	    !ASSERT_OK(bpf_map__update_elem(skel->maps.qnat_ct, &orig, sizeof(orig), &e, sizeof(e), BPF_NOEXIST),
		       "hairpin flow") ||
	    !ASSERT_OK(bpf_map__update_elem(skel->maps.qnat_ct_rev, &rev, sizeof(rev), &orig, sizeof(orig),
					    BPF_NOEXIST),
		       "its reply tuple"))
		goto out;
	spoof.tcp_flags = 0x10; /* ACK */
	len = pkt_build(&spoof, buf);
	if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_PASS))
		ASSERT_MEMEQ(r.data, buf, len, "xdp leaves it untouched");
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_SHOT);
	ASSERT_COUNTERS(skel, [QNAT_C_DROP_SPOOF] = 1);
out:
	qnat__destroy(skel);
}
