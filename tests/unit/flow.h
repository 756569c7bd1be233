/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A guest's flow, driven through the programs: the request translated on the
 * way out (uplink egress or the port's fast path), the reply translated back
 * (to the kernel, in TC, or in XDP), each step checked byte for byte.
 */
#ifndef QNAT_TEST_FLOW_H
#define QNAT_TEST_FLOW_H

#include "fixture.h"

struct flow {
	const char *name;
	__u8 proto;
	__be32 guest;
	__u16 sport; /* the guest's source port; ICMP: the echo identifier */
	__be32 server;
	__u16 dport; /* ignored for ICMP */
	bool udp_no_csum;
};

#define FLOW(name_, proto_, guest_, sport_, server_, dport_)                                            \
	{ .name = name_, .proto = proto_, .guest = guest_, .sport = sport_, .server = server_, .dport = dport_ }

enum reply_path {
	REPLY_BRIDGE, /* tc_uplink_in translates, TTL-1, redirects to the bridge's neighbour: port unknown */
	REPLY_TC,    /* tc_uplink_in translates and redirects to the port */
	REPLY_XDP,   /* xdp_uplink_in translates and redirects to the port */
};

struct qnat_ct_key flow_orig(const struct flow *f);
struct qnat_ct_key flow_rev(const struct flow *f, __u16 nat_port);

/* The guest's packet as the uplink's egress sees it, and translated. */
struct pkt_spec flow_request_routed(const struct flow *f);
/* The server's reply arriving for nat_port, and as the guest gets it. */
struct pkt_spec flow_reply(const struct flow *f, __u16 nat_port);
struct pkt_spec flow_reply_delivered(const struct flow *f, __u16 nat_port, enum reply_path path);

/*
 * Each runs one packet and asserts verdict, bytes and checksums.  The snat_*
 * return the translated port (host order), read back from the flow, or -1.
 */
int snat_egress(struct qnat *skel, const struct flow *f);
int snat_fast(struct qnat *skel, const struct flow *f, int port_ifindex);
bool reply_ok(struct qnat *skel, const struct flow *f, __u16 nat_port, enum reply_path path);

/* The flow is in qnat_ct and qnat_ct_rev, consistently: masqueraded to
 * EXT_ADDR, the port in range, the guest's port and MAC, the state.
 * Returns the translated port or -1. */
int flow_check(struct qnat *skel, const struct flow *f, __u32 port_ifindex, __u8 state);
__u8 flow_first_state(const struct flow *f); /* after the guest's first packet */

#endif /* QNAT_TEST_FLOW_H */
