/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one definition of everything shared between the BPF programs and the
 * controller: map names, key/value layouts, counters and limits.
 *
 * Only <linux/types.h> types, explicit padding, sizes asserted.  Bump
 * QNAT_ABI_VERSION whenever a map's layout changes: a controller only adopts
 * the maps of a running data plane whose config carries the same version.
 */
#ifndef QNAT_MAPS_H
#define QNAT_MAPS_H

#include <linux/types.h>

#ifndef QNAT_ABI_VERSION /* a -D only to build a mismatching variant (test_upgrade.sh) */
#define QNAT_ABI_VERSION 6
#endif

/* Map names, as the kernel reports them (at most 15 characters). */
#define QNAT_MAP_CONFIG "qnat_config"
#define QNAT_MAP_CT "qnat_ct"
#define QNAT_MAP_CT_REV "qnat_ct_rev"
#define QNAT_MAP_STATS "qnat_stats"
#define QNAT_MAP_PORTS "qnat_ports"
#define QNAT_MAP_DEVMAP "qnat_devmap"
#define QNAT_MAP_FWD "qnat_fwd"
#define QNAT_MAP_SOCK_REV "qnat_sock_rev"
#define QNAT_MAP_FRAGS "qnat_frags"
#define QNAT_MAP_GUESTS "qnat_guests"
#define QNAT_MAP_MAPPINGS "qnat_mappings"
#define QNAT_MAP_FDB "qnat_fdb"
#define QNAT_MAP_HOST_ALLOW "qnat_host_allow"
#define QNAT_MAP_HOST_FLOW "qnat_host_flow"
#define QNAT_MAP_FRAG_STASH "qnat_frag_stash"
#define QNAT_MAP_FRAG_EVENTS "qnat_frag_ev"
#define QNAT_MAP_IP6_BIND "qnat_ip6_bind"
#define QNAT_MAP_EVICT_RING "qnat_evict_ring"
#define QNAT_MAP_EVICT_POS "qnat_evict_pos"
#define QNAT_MAP_CT_EVENTS "qnat_ct_ev"
#define QNAT_MAP_CT6 "qnat_ct6"
#define QNAT_MAP_CT6_REV "qnat_ct6_rev"
#define QNAT_MAP_FWD6 "qnat_fwd6"

#define QNAT_CT_DEFAULT_MAX 262144
/* Networks that share one uplink's data plane: qnat_config has a slot for
 * each, and qnat_stats a row of counters. */
#define QNAT_NETS_MAX 8
#define QNAT_PORTS_MAX 1024
#define QNAT_FWD_MAX 65536 /* forwarded host ports, all rules together */
#define QNAT_GUESTS_MAX 4096
#ifndef QNAT_FDB_MAX
#define QNAT_FDB_MAX 8192
#endif
#define QNAT_PORT_TRIES 32 /* candidates tried before a flow is refused */
#define QNAT_HOST_ALLOW_MAX 16 /* --host-allow rules */
#define QNAT_HOST_FLOWS_MAX 65536
#define QNAT_PORT_IP6_MAX 8 /* IPv6 sources one port may hold (link-local, SLAAC, privacy, DHCPv6) */
#define QNAT_IP6_BINDS_MAX (QNAT_PORTS_MAX * QNAT_PORT_IP6_MAX)
#define QNAT_IP6_BIND_IDLE_S 3600 /* an IPv6 binding unused this long is released */
/* --ct-full evict: the last flows created, as keys; a new flow finding the
 * table full walks QNAT_EVICT_TRIES of the oldest for one still unreplied. */
#define QNAT_EVICT_RING 1024 /* a power of two */
#define QNAT_EVICT_TRIES 8
#define QNAT_EVICT_SCAN 64 /* then, when the ring has none left, flows of the table looked at */

/* Conntrack timeouts, in seconds; defaults are nf_conntrack's. */
enum qnat_timeout {
	QNAT_TO_TCP_SYN_SENT,
	QNAT_TO_TCP_SYN_RECV,
	QNAT_TO_TCP_ESTABLISHED,
	QNAT_TO_TCP_FIN_WAIT,
	QNAT_TO_TCP_TIME_WAIT,
	QNAT_TO_TCP_CLOSE,
	QNAT_TO_UDP,	    /* seen in one direction only */
	QNAT_TO_UDP_STREAM, /* replied */
	QNAT_TO_ICMP,
	QNAT_TO_MAX
};

/* qnat_config flags */
#define QNAT_CFG_XDP_UPLINK (1U << 0) /* an XDP program serves the uplink */
#define QNAT_CFG_EIF (1U << 1)	      /* UDP: endpoint-independent filtering (RFC 4787) */
#define QNAT_CFG_PORT_SECURITY (1U << 2) /* each port: one MAC, its addresses; no DHCP servers, no RAs */
#define QNAT_CFG_BRIDGED (1U << 3)	 /* no NAT: the uplink is a port of the bridge */
#define QNAT_CFG_HOST_OPEN (1U << 4)	 /* --host-allow all: guests reach every host service */
#define QNAT_CFG_ROUTE (1U << 5)	 /* --mode route/open: forwarded untranslated, the subnet reachable */
#define QNAT_CFG_OPEN (1U << 6)		 /* --mode open: no filtering of ours at all */
#define QNAT_CFG_ISOLATED (1U << 7)	 /* --mode isolated: nothing leaves the subnet */
#define QNAT_CFG_UPLINK_XMIT (1U << 8)	 /* the uplink takes XDP redirects (ndo_xdp_xmit) */
#define QNAT_CFG_CT_EVICT (1U << 9)	 /* --ct-full evict: a new flow evicts an unreplied one */
#define QNAT_CFG_MASQ6 (1U << 10)	 /* --masq6: prefix6 is masqueraded behind ext6 (NAT66) */
#define QNAT_CFG_ROUTE6 (1U << 11)	 /* --route6: prefix6 is routed untranslated, open inbound */

/*
 * qnat_config[net]: one network's settings, written by its controller.
 * Every network masquerading out of one uplink shares that uplink's maps
 * and programs (one port space, one conntrack table); its own programs on
 * the bridge and the ports read its slot, the uplink's find the slot of a
 * packet by its guest address (subnets never overlap).
 */
struct qnat_config {
	__u32 abi_version;
	__u32 flags;
	__be32 subnet;	 /* masquerade subnet, network byte order */
	__be32 netmask;
	__be32 gateway;	 /* the bridge's address in the subnet */
	__be32 ext_addr; /* uplink address flows are masqueraded to */
	__u32 uplink_ifindex;
	__u32 bridge_ifindex;
	__u16 port_min; /* host byte order, inclusive */
	__u16 port_max;
	__u8 bridge_mac[6];
	__u8 net; /* this slot's index */
	__u8 pad;
	__u32 timeouts[QNAT_TO_MAX];
	__u64 netns_cookie; /* the host's namespace: socket hooks act there only */
	__u32 max_flows_per_guest; /* 0: no cap */
	__u32 nh_gen;		   /* next-hop generation: flows' cached next hops are valid while it stays */
	__u8 uplink_mac[6];	   /* the uplink's MAC, the source of what XDP sends there */
	__u8 pad2[2];
	/* IPv6 (QNAT_CFG_MASQ6 or QNAT_CFG_ROUTE6): the guests' /64, its first half */
	__be32 prefix6[2];
	__be32 gateway6[4]; /* the bridge's address in prefix6 */
	__be32 ext6[4];	    /* --masq6: the uplink's global address flows are masqueraded to */
};
_Static_assert(sizeof(struct qnat_config) == 144, "qnat_config layout");

/*
 * A flow's tuple.  For ICMP echo the identifier sits where the translated
 * port would: sport in the original direction, dport in the reply direction,
 * and the other port is 0.
 */
struct qnat_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct qnat_ct_key) == 16, "qnat_ct_key layout");

enum qnat_ct_state {
	QNAT_CT_NONE,
	QNAT_CT_SYN_SENT,
	QNAT_CT_SYN_RECV,
	QNAT_CT_ESTABLISHED,
	QNAT_CT_FIN_WAIT,
	QNAT_CT_TIME_WAIT,
	QNAT_CT_CLOSE,
	QNAT_CT_UDP,
	QNAT_CT_ICMP,
	QNAT_CT_STATE_MAX
};

/* qnat_ct_entry.flags */
#define QNAT_CTF_REPLIED (1U << 0)
#define QNAT_CTF_FIN_ORIG (1U << 1)
#define QNAT_CTF_FIN_REPLY (1U << 2)
#define QNAT_CTF_DNAT (1U << 3)	  /* opened from outside through a port forward */
#define QNAT_CTF_HAIRPIN (1U << 4) /* a guest reached a forward by the uplink address */

enum qnat_dir { QNAT_DIR_ORIG, QNAT_DIR_REPLY, QNAT_DIR_MAX };

/*
 * qnat_ct: original tuple (guest's view) -> the flow.  A guest packet of the
 * flow leaves as nat -> peer; a packet from peer to nat is the reply, and
 * reaches the guest as orig.daddr:dport -> orig.saddr:sport.  peer is
 * orig.daddr:dport except for hairpin flows, where the guest's peer is
 * another guest seen through the gateway address.
 */
struct qnat_ct_entry {
	__u64 last_seen; /* bpf_ktime_get_ns(), i.e. CLOCK_MONOTONIC */
	__be32 nat_addr; /* translated source address */
	__be16 nat_port; /* translated source port or ICMP identifier */
	__u8 state;	 /* enum qnat_ct_state */
	__u8 flags;	 /* QNAT_CTF_* */
	__u32 port_ifindex; /* guest's bridge port, 0 when unknown */
	__u8 guest_mac[6];
	__be16 peer_port;
	__be32 peer_addr;
	__u32 nh_gen; /* the config's nh_gen when nh_mac was looked up */
	__u64 packets[QNAT_DIR_MAX];
	__u64 bytes[QNAT_DIR_MAX];
	__u8 nh_mac[6]; /* xdp_port_in's cache of bpf_fib_lookup(): the next hop's MAC on the uplink */
	__u16 nh_len;	/* the longest packet that lookup let through (0: none) */
};
_Static_assert(sizeof(struct qnat_ct_entry) == 80, "qnat_ct_entry layout");

/* qnat_ct_rev: reply tuple (peer -> nat) -> original tuple. */

/*
 * qnat_ct6, NAT66: original IPv6 tuple (guest's view) -> the flow, as a
 * qnat_ct_entry whose nat_addr and peer_addr are 0: the flow leaves from the
 * config's ext6, and its peer is always orig.daddr:dport.  qnat_ct6_rev:
 * reply tuple (peer -> ext6) -> original tuple.  One port space with IPv4
 * is not needed: the reply tuples differ by family.
 */
struct qnat_ct6_key {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct qnat_ct6_key) == 40, "qnat_ct6_key layout");

/* The reply tuple of flow orig: its qnat_ct_rev key (BPF and the controller alike). */
static inline __attribute__((always_inline)) void qnat_ct_reply_key(const struct qnat_ct_key *orig,
								   const struct qnat_ct_entry *e,
								   struct qnat_ct_key *rev)
{
	rev->saddr = e->peer_addr;
	rev->daddr = e->nat_addr;
	rev->sport = e->peer_port;
	rev->dport = e->nat_port;
	rev->proto = orig->proto;
	rev->pad[0] = rev->pad[1] = rev->pad[2] = 0;
}

/* The reply tuple of NAT66 flow orig, leaving from ext6: its qnat_ct6_rev key. */
static inline __attribute__((always_inline)) void qnat_ct6_reply_key(const struct qnat_ct6_key *orig,
								    const struct qnat_ct_entry *e,
								    const __be32 ext6[4], struct qnat_ct6_key *rev)
{
	for (int i = 0; i < 4; i++) {
		rev->saddr[i] = orig->daddr[i];
		rev->daddr[i] = ext6[i];
	}
	rev->sport = orig->dport; /* 0 for ICMPv6 echo */
	rev->dport = e->nat_port;
	rev->proto = orig->proto;
	rev->pad[0] = rev->pad[1] = rev->pad[2] = 0;
}

/*
 * qnat_evict_ring[i]: the original tuple of a recently created flow (it may
 * be gone or replied since), at i = its creation's number mod the ring.
 * qnat_evict_pos[0]: creations noted so far (the ring's head), and the
 * oldest that may still be a candidate (its tail).
 */
struct qnat_evict_pos {
	__u32 head;
	__u32 tail;
};

/*
 * qnat_fwd: (host address, port, protocol) -> the guest it is forwarded to.
 * A rule over a range of ports has one entry per port; rule_* describe the
 * whole rule, for listing.  addr 0 means every address of the uplink.
 */
struct qnat_fwd_key {
	__be32 addr;
	__be16 port;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct qnat_fwd_key) == 8, "qnat_fwd_key layout");

struct qnat_fwd {
	__be32 guest_addr;
	__be16 guest_port; /* for this entry's host port */
	__be16 rule_first; /* the rule's host ports, and the first guest port */
	__be16 rule_last;
	__be16 rule_guest_first;
	__u64 hits; /* connections opened through this entry */
};
_Static_assert(sizeof(struct qnat_fwd) == 24, "qnat_fwd layout");

/*
 * qnat_fwd6, --masq6: (host IPv6 address, port, protocol) -> the guest, as
 * qnat_fwd.  The address is always the uplink's ext6: a forwarded flow is a
 * NAT66 flow whose nat_port is the host port.
 */
struct qnat_fwd6_key {
	__be32 addr[4];
	__be16 port;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct qnat_fwd6_key) == 20, "qnat_fwd6_key layout");

struct qnat_fwd6 {
	__be32 guest_addr[4];
	__be16 guest_port;
	__be16 rule_first;
	__be16 rule_last;
	__be16 rule_guest_first;
	__u64 hits;
};
_Static_assert(sizeof(struct qnat_fwd6) == 32, "qnat_fwd6 layout");

/*
 * qnat_sock_rev: a host socket's UDP datagrams to a forwarded port went to
 * the guest; replies must look as if they came from where they were sent.
 */
struct qnat_sock_rev_key {
	__u64 cookie; /* the socket */
	__be32 guest_addr;
	__be16 guest_port;
	__u16 pad;
};
_Static_assert(sizeof(struct qnat_sock_rev_key) == 16, "qnat_sock_rev_key layout");

struct qnat_sock_rev {
	__be32 addr;
	__be16 port;
	__u16 pad;
};
_Static_assert(sizeof(struct qnat_sock_rev) == 8, "qnat_sock_rev layout");

/*
 * qnat_frags: an inbound datagram's later fragments carry no ports; its
 * first fragment leaves here where the datagram goes.
 */
struct qnat_frag_key {
	__be32 saddr;
	__be32 daddr;
	__be16 id;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct qnat_frag_key) == 12, "qnat_frag_key layout");

/* qnat_frag.flags; none: the first fragment came and set the destination. */
#define QNAT_FRAG_PENDING (1U << 0) /* later fragments came first, stashed */
#define QNAT_FRAG_HOST (1U << 1)    /* the host's own datagram: later ones pass untouched */

struct qnat_frag {
	__be32 guest_addr;
	__u32 port_ifindex;
	__u8 guest_mac[6];
	__u8 flags; /* QNAT_FRAG_* */
	__u8 pad;
};
_Static_assert(sizeof(struct qnat_frag) == 16, "qnat_frag layout");

/*
 * qnat_frag_stash: later fragments of an inbound datagram that came before
 * its first fragment, copied whole (the original goes on to the host).  When
 * the first fragment shows the datagram is a guest's, it sends the datagram's
 * key on the qnat_frag_ev ring buffer and the controller delivers the copies;
 * copies left 30 s (Linux's ipfrag_time) are dropped.
 */
#define QNAT_STASH_FRAME 1536 /* a 1500-byte MTU's frames, with room for a VLAN tag */
#define QNAT_STASH_MAX 256
#define QNAT_STASH_TTL_SECS 30
#define QNAT_FRAG_EV_BYTES 16384

/* qnat_ct_ev: a flow's first packet, for `ct events` (struct qnat_ct_event). */
#define QNAT_CT_EV_BYTES (256 * 1024)
struct qnat_ct_event {
	struct qnat_ct_key key;
	struct qnat_ct_entry entry; /* as its first packet left it */
};

struct qnat_stash_key {
	struct qnat_frag_key frag;
	__be16 frag_off; /* as in the header: tells the fragments apart */
	__u16 pad;
};
_Static_assert(sizeof(struct qnat_stash_key) == 16, "qnat_stash_key layout");

struct qnat_stash {
	__u64 stamp; /* bpf_ktime_get_ns() */
	__u32 len;   /* bytes of frame used */
	__u32 pad;
	__u8 frame[QNAT_STASH_FRAME];
};
_Static_assert(sizeof(struct qnat_stash) == 16 + QNAT_STASH_FRAME, "qnat_stash layout");

/*
 * qnat_guests: guest address -> its flows.  The programs count new flows
 * in; the controller's expiry pass sets the true count, and adds up the
 * packets and bytes of the guest's flows that are gone (a guest's totals are
 * these plus its live flows' counters).
 */
struct qnat_guest {
	__u32 flows;
	__u32 pad;
	__u64 packets[QNAT_DIR_MAX]; /* of flows that are gone: from, to the guest */
	__u64 bytes[QNAT_DIR_MAX];
};
_Static_assert(sizeof(struct qnat_guest) == 40, "qnat_guest layout");

/*
 * qnat_mappings, with endpoint-independent filtering: the translated UDP
 * address and port -> the original tuple of a flow that uses the mapping.
 * Anyone may then send to that address and port; the guest gets it.
 */
struct qnat_mapping_key {
	__be32 nat_addr;
	__be16 nat_port;
	__u8 proto;
	__u8 pad;
};
_Static_assert(sizeof(struct qnat_mapping_key) == 8, "qnat_mapping_key layout");

/*
 * qnat_fdb: a guest's MAC -> the bridge port it was last seen on, learned by
 * the port programs (as the bridge learns), aged out by the controller.
 */
struct qnat_fdb_key {
	__u8 mac[6];
	__u16 pad;
};
_Static_assert(sizeof(struct qnat_fdb_key) == 8, "qnat_fdb_key layout");

struct qnat_fdb {
	__u64 last_seen; /* bpf_ktime_get_ns() */
	__u32 ifindex;
	__u32 pad;
};
_Static_assert(sizeof(struct qnat_fdb) == 16, "qnat_fdb layout");

/*
 * qnat_host_allow[i]: guests may reach host services on these ports
 * (--host-allow), besides DHCP and DNS.  proto 0: an unused slot.
 */
struct qnat_host_allow {
	__u8 proto;
	__u8 pad;
	__u16 first; /* host byte order, inclusive */
	__u16 last;
	__u16 pad2;
};
_Static_assert(sizeof(struct qnat_host_allow) == 8, "qnat_host_allow layout");

/*
 * qnat_host_flow: connections the host opened to a guest, keyed as the
 * guest's replies look (guest -> host); the value is bpf_ktime_get_ns() of
 * the last packet either way.  IPv4 addresses are IPv4-mapped (::ffff:a.b.c.d).
 */
struct qnat_host_flow_key {
	__be32 saddr[4];
	__be32 daddr[4];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct qnat_host_flow_key) == 40, "qnat_host_flow_key layout");

/* qnat_ports: ifindex -> port.  Every bridge port we attached to. */
#define QNAT_PORT_TAP (1U << 0)	       /* XDP_REDIRECT into it reaches the reader */
#define QNAT_PORT_OWN_CLSACT (1U << 1) /* we created its clsact qdisc */
#define QNAT_PORT_UPLINK (1U << 2)     /* bridged mode: the LAN side, many MACs */
#define QNAT_PORT_XDP_DRV (1U << 3)    /* xdp_port_in attached native */
#define QNAT_PORT_XDP_SKB (1U << 4)    /* xdp_port_in attached generic */
#define QNAT_PORT_IP_LEASE (1U << 5)   /* ip is the guest's DHCP lease or static host, not first use */
struct qnat_port {
	__u32 flags;
	__be32 ip;	   /* port security: the one IPv4 source allowed, 0 until known */
	__u8 mac[6];	   /* port security: the one source MAC allowed, 0 until seen */
	__u16 pad;
	__u32 ip6_bound;   /* its entries in qnat_ip6_bind */
	__u32 net;	   /* the network (qnat_config slot) whose bridge it is a port of */
	__u64 refused;	   /* frames port security dropped from it */
};
_Static_assert(sizeof(struct qnat_port) == 32, "qnat_port layout");

/*
 * qnat_ip6_bind: an IPv6 source address -> the port that may send from it
 * (port security).  Bound on first use or on DAD, at most QNAT_PORT_IP6_MAX
 * per port; released when the port leaves or the address is unused for
 * QNAT_IP6_BIND_IDLE_S.
 */
struct qnat_ip6_addr {
	__be32 a[4];
};
struct qnat_ip6_binding {
	__u32 ifindex;
	__u32 pad;
	__u64 last_seen; /* bpf_ktime_get_ns(), refreshed at most once a minute */
};
_Static_assert(sizeof(struct qnat_ip6_binding) == 16, "qnat_ip6_binding layout");

/*
 * Per-CPU counters: what happened to the packets we looked at.  Drops and
 * passes each have a reason; other counters note a path or an event (a fast
 * path taken, a fragment stashed, a flow the controller evicted), so one
 * packet may bump several.  New ones are appended: the index is the ABI (see
 * QNAT_STATS_SLOTS).
 */
#define QNAT_COUNTERS(X)                                                                  \
	X(SNAT_FAST, "snat_fast", "guest packets translated and sent straight to the uplink") \
	X(SNAT_EGRESS, "snat_egress", "guest packets translated on the uplink's egress")      \
	X(RNAT_TC, "rnat_tc", "replies translated in TC and sent straight to the guest")     \
	X(RNAT_XDP, "rnat_xdp", "replies translated in XDP and sent straight to the guest")  \
	X(RNAT_BRIDGE, "rnat_bridge", "replies translated, sent via the bridge (port not known yet)") \
	X(DNAT_NEW, "dnat_new", "connections opened through a port forward")                \
	X(HAIRPIN, "hairpin", "guest-to-guest packets through a forward by the uplink address") \
	X(L2_FAST, "l2_fast", "frames between guests sent straight to the port, past the bridge") \
	X(PASS, "pass", "packets that are not ours, left to the kernel")                     \
	X(PASS_SLOW, "pass_slow", "our packets handed to the kernel (ttl, mtu, route)")       \
	X(CT_NEW, "ct_new", "flows created")                                                  \
	X(DROP_NO_FLOW, "drop_no_flow", "inbound packets for the subnet matching no flow")   \
	X(DROP_CT_FULL, "drop_ct_full", "new flows refused: conntrack table full")           \
	X(DROP_GUEST_CAP, "drop_guest_cap", "new flows refused: the guest has its maximum")   \
	X(CT_EVICTED, "ct_evicted", "flows evicted by the controller to make room")         \
	X(DROP_NO_PORT, "drop_no_port", "new flows refused: no free source port")            \
	X(DROP_LEAK, "drop_leak", "subnet-sourced packets that could not be translated")     \
	X(DROP_SPOOF, "drop_spoof", "guest packets with a source outside the subnet")        \
	X(DROP_TTL, "drop_ttl", "replies whose ttl ran out")                                 \
	X(DROP_PORT_MAC, "drop_port_mac", "port security: a source MAC not the port's")          \
	X(DROP_PORT_IP, "drop_port_ip", "port security: an IPv4 or ARP source not the port's") \
	X(DROP_HOST, "drop_host", "guest packets to a host service not allowed (--host-allow)") \
	X(FRAG_STASHED, "frag_stashed", "inbound later fragments copied: their first fragment had not come") \
	X(FRAG_DELIVERED, "frag_delivered", "stashed fragments sent on to their guest") \
	X(FRAG_EXPIRED, "frag_expired", "stashed copies dropped: the host's datagram, unsendable, or 30 s old") \
	X(FRAG_TOO_BIG, "frag_too_big", "inbound later fragments too big to copy (they only go to the host)") \
	X(L2_XDP, "l2_xdp", "bridged: LAN frames for a guest on a TAP sent straight to it by XDP") \
	X(DROP_PORT_VLAN, "drop_port_vlan", "port security: a VLAN-tagged frame") \
	X(SNAT_XDP, "snat_xdp", "guest packets of known flows translated in XDP and sent to the uplink") \
	X(L2_PORT_XDP, "l2_port_xdp", "frames between guests on TAPs sent straight to the port by XDP") \
	X(DROP_ROGUE_DHCP, "drop_rogue_dhcp", "port security: a DHCP or DHCPv6 server's reply from a guest") \
	X(DROP_ROGUE_RA, "drop_rogue_ra", "port security: a router advertisement or redirect from a guest") \
	X(DROP_PORT_IP6, "drop_port_ip6", "port security: an IPv6 source (or ND target) not the port's, or headers too long to check") \
	X(CT_EARLY_DROP, "ct_early_drop", "unreplied flows evicted by a new flow that found the table full") \
	X(DROP_OTHER_NET, "drop_other_net", "guest packets to another NAT or isolated network on the same uplink") \
	X(SNAT6_FAST, "snat6_fast", "IPv6 guest packets translated (NAT66) and sent straight to the uplink") \
	X(ROUTE6_FAST, "route6_fast", "IPv6 guest packets of a routed /64 sent straight to the uplink") \
	X(RNAT6_TC, "rnat6_tc", "IPv6 replies translated in TC and sent straight to the guest") \
	X(SNAT6_XDP, "snat6_xdp", "IPv6 guest packets of known NAT66 flows translated in XDP and sent to the uplink")

enum qnat_counter {
#define QNAT_COUNTER_ENUM(id, name, help) QNAT_C_##id,
	QNAT_COUNTERS(QNAT_COUNTER_ENUM)
#undef QNAT_COUNTER_ENUM
	QNAT_C_MAX
};

/* The stats map has room to spare, so that a build with more counters
 * (only ever appended) still adopts the running one's map on upgrade.
 * Network n's counters are at n * QNAT_STATS_SLOTS + counter. */
#define QNAT_STATS_SLOTS 64
_Static_assert(QNAT_C_MAX <= QNAT_STATS_SLOTS, "qnat_stats: QNAT_STATS_SLOTS too small");

struct qnat_counter_val {
	__u64 packets;
	__u64 bytes;
};
_Static_assert(sizeof(struct qnat_counter_val) == 16, "qnat_counter_val layout");

#endif /* QNAT_MAPS_H */
