/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The state every fuzzing input starts from, shared by the harness (which
 * builds it, through the programs themselves) and the seed generator (which
 * writes packets that belong to it): flows in every direction and on every
 * path, port forwards, a hairpin flow, an inbound fragment, the bridge ports,
 * NAT66 flows (--masq6) from the ports and out of the uplink.
 *
 * An input is one selector byte, then the frame:
 *
 *   bits 0-1  the program: enum fuzz_prog
 *   bit  2    tc_port_in runs on the veth port (else the TAP, after
 *             xdp_port_in, as on a real TAP)
 *   bit  3    QNAT_CFG_EIF (endpoint-independent filtering) is set
 *   bit  4    max_flows_per_guest is the seeded flows of GUEST1 (it is full)
 *   bit  5    the instance whose conntrack table is full
 *   bit  6    QNAT_CFG_PORT_SECURITY is set
 *   bit  7    bridged mode (attach --bridged's config): only tc_port_in and
 *             xdp_uplink_in are attached there.  With the program bits of
 *             tc_uplink_in or tc_uplink_out (0x81, 0x82), which bridged mode
 *             never runs, bit 7 picks instead the host policy's programs on
 *             the bridge device, in NAT mode:
 *     0x81    tc_host_in (SEL_HOST_IN), the bridge device's ingress
 *     0x82    tc_host_out (SEL_HOST_OUT), its egress
 *     bit  2  then QNAT_CFG_HOST_OPEN is set (--host-allow all)
 *     bit  4  then the seeded host connections have gone quiet (timeouts 0)
 *
 * Those selectors ran nothing before the host programs were fuzzed: every
 * older input (tests/fuzz/regressions) still runs the program it ran then.
 */
#ifndef QNAT_FUZZ_WORLD_H
#define QNAT_FUZZ_WORLD_H

#include <stdbool.h>
#include "fixture.h"

/* FP_XDP_PORT has no selector of its own: on the TAP, tun runs xdp_port_in
 * first, and tc_port_in (FP_PORT_IN) sees only the frames it passes. */
enum fuzz_prog { FP_PORT_IN, FP_UPLINK_IN, FP_UPLINK_OUT, FP_XDP, FP_HOST_IN, FP_HOST_OUT, FP_XDP_PORT, FP_MAX };

#define SEL_VPORT 0x04
#define SEL_EIF 0x08
#define SEL_CAP 0x10
#define SEL_FULL 0x20
#define SEL_PORTSEC 0x40
#define SEL_BRIDGED 0x80 /* bridged mode: only tc_port_in and xdp_uplink_in run */
/* The host policy's programs, where bridged mode's uplink programs would be. */
#define SEL_HOST_IN (SEL_BRIDGED | FP_UPLINK_IN)
#define SEL_HOST_OUT (SEL_BRIDGED | FP_UPLINK_OUT)
#define SEL_HOST_OPEN SEL_VPORT /* with them: QNAT_CFG_HOST_OPEN */
#define SEL_HOST_QUIET SEL_CAP	/* with them: the host's connections have gone quiet */

static inline bool sel_host(__u8 sel)
{
	return (sel & SEL_BRIDGED) && ((sel & 3) == FP_UPLINK_IN || (sel & 3) == FP_UPLINK_OUT);
}

/* A full table means nothing in bridged mode, so there both bits pick NAT
 * mode with --ct-full evict on the full table instead. */
#define SEL_EVICT (SEL_FULL | SEL_BRIDGED)
static inline bool sel_evict(__u8 sel)
{
	return !sel_host(sel) && (sel & SEL_EVICT) == SEL_EVICT;
}

static inline bool sel_bridged(__u8 sel)
{
	return !sel_host(sel) && !sel_evict(sel) && (sel & SEL_BRIDGED);
}

/* The program an input's selector picks. */
static inline enum fuzz_prog sel_prog(__u8 sel)
{
	if (sel_host(sel))
		return (sel & 3) == FP_UPLINK_IN ? FP_HOST_IN : FP_HOST_OUT;
	return (enum fuzz_prog)(sel & 3);
}

#define GUEST3 IP4(192, 168, 122, 12)	  /* has no flows */
/* A second network on the same uplink (qnat_config slot 1): its guests
 * have flows and a forward, but no ports of this object's programs. */
#define NET1_SUBNET IP4(192, 168, 100, 0)
#define NET1_GATEWAY IP4(192, 168, 100, 1)
#define NET1_GUEST IP4(192, 168, 100, 10)
#define CLIENT IP4(203, 0, 113, 9)	  /* opened the seeded port-forward flow */
#define STRANGER IP4(203, 0, 113, 77)	  /* never talked to anyone */
#define ROUTER IP4(198, 51, 100, 254)	  /* the uplink's next hop: sends ICMP errors */

/* Flows a guest opened; each keeps its source port (or ICMP identifier). */
enum world_via { VIA_TAP, VIA_VPORT, VIA_EGRESS };
struct world_flow {
	const char *name;
	__u8 proto;
	__be32 guest;
	__u16 sport;
	__be32 server;
	__u16 dport; /* ignored for ICMP */
	enum world_via via;
	bool udp_no_csum;
};

/* Flows opened from outside through a forward: client:cport -> host:hport. */
struct world_inbound {
	const char *name;
	__u8 proto;
	__be32 client;
	__u16 cport;
	__u16 hport; /* to EXT_ADDR */
	__be32 guest;
	__u16 gport;
};

/* Port forwards, written as the controller writes them: one entry a port. */
struct world_fwd {
	__be32 addr; /* 0: every uplink address */
	__u16 first, last;
	__u8 proto;
	__be32 guest;
	__u16 guest_first;
};

/* A guest reaching a forward by the uplink address (via the TAP). */
#define HAIRPIN_CLIENT GUEST1
#define HAIRPIN_CPORT 41000
#define HAIRPIN_HPORT 2222 /* the TCP forward to GUEST2:22 */

/* The first fragment of a reply of world_flows[FRAG_FLOW], id FRAG_ID. */
#define FRAG_FLOW 1
#define FRAG_ID 0x5151

/* --host-allow tcp/8443,udp/5000-5001 */
extern const struct qnat_host_allow world_host_allow[];
extern const size_t world_nhost_allow;

/* Connections the host opened to a guest (tc_host_out noted them), from
 * host:hport to guest:gport; IPv6 ones between link-local addresses. */
struct world_host_flow {
	const char *name;
	__u8 proto;
	bool v6;
	__be32 host, guest; /* IPv4 */
	__u16 hport, gport;
};
extern const __u8 WORLD_HOST6[16], WORLD_GUEST6[16]; /* fe80::1, fe80::10 */
extern const struct world_host_flow world_host_flows[];
extern const size_t world_nhost_flows;

extern const struct world_flow world_flows[];
extern const size_t world_nflows;
extern const struct world_inbound world_inbound[];
extern const size_t world_ninbound;
extern const struct world_fwd world_fwds[];
extern const size_t world_nfwds;

/* The packets that build the world (also good seeds). */
struct pkt_spec world_request(const struct world_flow *f); /* as the guest sends it */
struct pkt_spec world_reply(const struct world_flow *f);	   /* the server's answer on the uplink */
struct pkt_spec world_inbound_pkt(const struct world_inbound *in);
struct pkt_spec world_hairpin_pkt(void);
struct pkt_spec world_frag_first(void);
/* A host connection's packets: the host's (from the bridge), the guest's reply. */
size_t world_host_pkt(const struct world_host_flow *h, bool reply, __u8 *buf);
/* An IPv6 frame between src and dst: TCP (a SYN) or UDP with 12 bytes of
 * payload, ICMPv6 of type and code sport (identifier dport, 12 bytes of
 * payload), or any other next header (20 bytes of zeros); the guest's (MAC
 * to the bridge) when from_guest, else the host's. */
size_t world_ipv6_pkt(const __u8 src[16], const __u8 dst[16], __u8 nh, __u16 sport, __u16 dport, bool from_guest,
		      __u8 *buf);

/*
 * IPv6 (--masq6): the guests' /64 WORLD_PREFIX6 masqueraded behind the
 * uplink's WORLD_EXT6, its default route via WORLD_ROUTER6.  The guests are
 * dual-stack: GUEST1's IPv6 address is WORLD_PREFIX6::a, its MAC the same.
 */
extern const __u8 WORLD_PREFIX6[16], WORLD_GW6[16], WORLD_EXT6[16], WORLD_ROUTER6[16], WORLD_SERVER6[16];
/* Adds the IPv6 side to the world's namespace (after testnet_setup): 0 or -1. */
int world_net6(void);
/* --masq6 in a config, as the controller writes it. */
void world_masq6(struct qnat_config *c);
bool world_in_prefix6(const __u8 a[16]);

/* NAT66 flows a guest opened to WORLD_SERVER6, keeping its port (ICMPv6: identifier). */
struct world_flow6 {
	const char *name;
	__u8 proto;
	__be32 guest4; /* the dual-stack guest: its MAC and its address's last byte */
	__u16 sport;
	__u16 dport; /* ignored for ICMPv6 */
	enum world_via via;
};
extern const struct world_flow6 world_flows6[];
extern const size_t world_nflows6;
void world_guest6(__be32 guest4, __u8 a[16]);
/* As the guest sends it (or, VIA_EGRESS, as the kernel routes it out). */
size_t world_request6(const struct world_flow6 *f, __u8 *buf);
/* The server's answer on the uplink. */
size_t world_reply6(const struct world_flow6 *f, __u8 *buf);
/* WORLD_ROUTER6's ICMPv6 error (type, code) quoting the request as it left. */
size_t world_error6(const struct world_flow6 *f, __u16 type_code, __u8 *buf);

/*
 * Seeds skel (already loaded, config written with EIF and a per-guest cap
 * that never bites) with the world, by running the packets above through
 * the programs.  0, or -1 after printing what went wrong.
 */
int world_seed(struct qnat *skel);

#endif /* QNAT_FUZZ_WORLD_H */
