/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Connection tracking: tuples, flow creation with collision-free source
 * ports, and the TCP/UDP/ICMP state the controller expires flows by.
 */
#ifndef QNAT_CT_H
#define QNAT_CT_H

#include <linux/errno.h>
#include "config.h"
#include "parse.h"
#include "stats.h"
#include "fwd.h"

/* The tuple as the guest sent it. */
static __always_inline void ct_key_orig(const struct pkt *p, struct qnat_ct_key *k)
{
	k->saddr = p->saddr;
	k->daddr = p->daddr;
	k->sport = p->sport;
	k->dport = p->proto == IPPROTO_ICMP ? 0 : p->dport;
	k->proto = p->proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/* The tuple as a reply from outside carries it. */
static __always_inline void ct_key_reply(const struct pkt *p, struct qnat_ct_key *k)
{
	k->saddr = p->saddr;
	k->daddr = p->daddr;
	k->sport = p->proto == IPPROTO_ICMP ? 0 : p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->pad[0] = k->pad[1] = k->pad[2] = 0;
}

/*
 * One more flow for this guest, unless it has its maximum already: one
 * guest must not be able to fill the table for all the others.
 */
static __always_inline int guest_admit(const struct qnat_config *cfg, __be32 guest)
{
	struct qnat_guest *g, zero = {};

	if (!cfg->max_flows_per_guest)
		return 1;
	g = bpf_map_lookup_elem(&qnat_guests, &guest);
	if (!g) {
		bpf_map_update_elem(&qnat_guests, &guest, &zero, BPF_NOEXIST);
		g = bpf_map_lookup_elem(&qnat_guests, &guest);
		if (!g)
			return 1; /* guest table full: the global limit still holds */
	}
	if (g->flows >= cfg->max_flows_per_guest) {
		count(cfg, QNAT_C_DROP_GUEST_CAP, 0);
		return 0;
	}
	__sync_fetch_and_add(&g->flows, 1);
	return 1;
}

static __always_inline void guest_release(const struct qnat_config *cfg, __be32 guest)
{
	struct qnat_guest *g;

	if (cfg->max_flows_per_guest && (g = bpf_map_lookup_elem(&qnat_guests, &guest)))
		__sync_fetch_and_add(&g->flows, -1); /* clang 14 has no BPF atomic sub */
}

/* An evicted flow leaves its packets and bytes in its guest's totals, as the supervisor's expiry does. */
static __always_inline void guest_retire(__be32 guest, const struct qnat_ct_entry *e)
{
	struct qnat_guest *g, zero = {};

	if (!(g = bpf_map_lookup_elem(&qnat_guests, &guest))) {
		bpf_map_update_elem(&qnat_guests, &guest, &zero, BPF_NOEXIST);
		if (!(g = bpf_map_lookup_elem(&qnat_guests, &guest)))
			return;
	}
	for (int d = 0; d < QNAT_DIR_MAX; d++) {
		__sync_fetch_and_add(&g->packets[d], e->packets[d]);
		__sync_fetch_and_add(&g->bytes[d], e->bytes[d]);
	}
}

/* A new flow, noted as a candidate for eviction while it is unreplied. */
static __always_inline void ct_evict_note(const struct qnat_config *cfg, const struct qnat_ct_key *orig)
{
	struct qnat_evict_pos *pos;
	struct qnat_ct_key *k;
	__u32 zero = 0, slot;

	if (!(cfg->flags & QNAT_CFG_CT_EVICT) || !(pos = bpf_map_lookup_elem(&qnat_evict_pos, &zero)))
		return;
	/* clang 14 cannot use the old value: two CPUs may rarely share a slot,
	 * which only loses a candidate. */
	__sync_fetch_and_add(&pos->head, 1);
	slot = (pos->head - 1) & (QNAT_EVICT_RING - 1);
	k = bpf_map_lookup_elem(&qnat_evict_ring, &slot);
	if (k)
		*k = *orig;
}

/* May a full table give this flow up?  Only while nothing answered it. */
static __always_inline int ct_evictable(const struct qnat_ct_entry *e)
{
	return !(e->flags & QNAT_CTF_REPLIED) && e->state != QNAT_CT_ESTABLISHED;
}

/*
 * Evict one flow, both halves, if it is still there and nothing answered
 * it: 1 when it went (0: another CPU evicted or answered it first).  The
 * key is a copy on the caller's stack: one in the ring may be rewritten by
 * another CPU between lookup and delete.  Not inlined: three copies would
 * not fit ct_early_drop's stack.
 */
static __noinline int ct_evict(const struct qnat_config *cfg, const struct qnat_ct_key *victim)
{
	struct qnat_ct_key rev, *owner;
	struct qnat_ct_entry *e;

	if (!(e = bpf_map_lookup_elem(&qnat_ct, victim)) || !ct_evictable(e))
		return 0;
	qnat_ct_reply_key(victim, e, &rev);
	if (bpf_map_delete_elem(&qnat_ct, victim))
		return 0;
	/* Its counters are read after the delete (a copy would not fit the
	 * stack): another CPU's insert may reuse the memory at once, and then
	 * the new flow's first packet is counted instead. */
	guest_retire(victim->saddr, e);
	/* The reverse half only if it is still this flow's. */
	owner = bpf_map_lookup_elem(&qnat_ct_rev, &rev);
	if (owner && owner->saddr == victim->saddr && owner->daddr == victim->daddr &&
	    owner->sport == victim->sport && owner->dport == victim->dport && owner->proto == victim->proto)
		bpf_map_delete_elem(&qnat_ct_rev, &rev);
	guest_release(cfg, victim->saddr);
	count(cfg, QNAT_C_CT_EARLY_DROP, 0);
	return 1;
}

struct bpf_map;

/* The table's first evictable flow, of at most QNAT_EVICT_SCAN looked at;
 * key also holds ct_early_drop's copies of the ring's keys. */
struct evict_scan {
	struct qnat_ct_key key;
	__u32 seen;
	int found;
};

static long evict_scan_one(struct bpf_map *map, const struct qnat_ct_key *k, struct qnat_ct_entry *e,
			   struct evict_scan *s)
{
	if (ct_evictable(e)) {
		s->key = *k;
		s->found = 1;
		return 1;
	}
	return ++s->seen >= QNAT_EVICT_SCAN;
}

/*
 * The table is full: make room as nf_conntrack's early_drop does.  Of the
 * oldest few candidates in the ring, evict one still unreplied: the guest's
 * own if there is one (a flooding guest evicts its own flows, not its
 * neighbours'), else the newest other, away from the ring's tail where a
 * flooding guest on another CPU is evicting; failing that, any unreplied
 * flow among the first few in the table.  1 when there is room now.
 * Not inlined: each caller's copy would be verified as part of its code.
 */
static __noinline int ct_early_drop(const struct qnat_config *cfg, __be32 guest)
{
	__u32 zero = 0, tail, n, slot, skip = 0, other = 0;
	struct qnat_evict_pos *pos;
	struct qnat_ct_entry *e;
	struct evict_scan scan = {};
	struct qnat_ct_key *k;
	int have_other = 0;

	if (!(pos = bpf_map_lookup_elem(&qnat_evict_pos, &zero)))
		return 0;
	tail = pos->tail;
	n = pos->head - tail;
	if (n > QNAT_EVICT_RING) { /* the oldest were written over */
		tail = pos->head - QNAT_EVICT_RING;
		n = QNAT_EVICT_RING;
	}
	for (__u32 i = 0; i < QNAT_EVICT_TRIES && i < n; i++) {
		slot = (tail + i) & (QNAT_EVICT_RING - 1);
		if (!(k = bpf_map_lookup_elem(&qnat_evict_ring, &slot)))
			continue;
		e = bpf_map_lookup_elem(&qnat_ct, k);
		if (!e || !ct_evictable(e)) {
			if (skip == i) /* gone or answered: never a candidate again */
				skip++;
			continue;
		}
		if (k->saddr != guest) {
			other = slot;
			have_other = 1;
			continue;
		}
		scan.key = *k;
		if (ct_evict(cfg, &scan.key)) {
			pos->tail = tail + skip + (skip == i);
			return 1;
		}
	}
	pos->tail = tail + skip;
	if (have_other && (k = bpf_map_lookup_elem(&qnat_evict_ring, &other))) {
		scan.key = *k;
		if (ct_evict(cfg, &scan.key))
			return 1;
	}
	/* The ring's candidates are gone (another CPU took them, or the
	 * supervisor): the first unreplied flow of a few in the table itself. */
	bpf_for_each_map_elem(&qnat_ct, evict_scan_one, &scan, 0);
	return scan.found && ct_evict(cfg, &scan.key);
}

/*
 * An insert failed with err.  When the table is full and --ct-full evict,
 * unreplied flows make room: 1, try the insert once more.  Two go, as a
 * flooding guest's next flow on another CPU may take the first one's room
 * before the retry (nf_conntrack reserves its slot first; a BPF map
 * cannot).  Called once per insert, never inside a loop of tries.
 */
static __always_inline int ct_made_room(const struct qnat_config *cfg, int err, __be32 guest)
{
	if ((err != -E2BIG && err != -ENOMEM) || !(cfg->flags & QNAT_CFG_CT_EVICT) || !ct_early_drop(cfg, guest))
		return 0;
	ct_early_drop(cfg, guest);
	return 1;
}

/* Does a host socket already own this reply tuple? */
static __always_inline int host_owns(struct __sk_buff *skb, const struct qnat_ct_key *rev)
{
	struct bpf_sock_tuple t = {
		.ipv4 = { .saddr = rev->saddr, .daddr = rev->daddr, .sport = rev->sport, .dport = rev->dport },
	};
	struct bpf_sock *sk;

	if (rev->proto == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	else if (rev->proto == IPPROTO_UDP)
		sk = bpf_sk_lookup_udp(skb, &t, sizeof(t.ipv4), BPF_F_CURRENT_NETNS, 0);
	else
		return 0;
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/* Where a flow's outside port (ICMP: its id, any) may be chosen. */
static __always_inline void ct_port_range(const struct qnat_config *cfg, __u8 proto, __u32 *lo, __u32 *hi)
{
	int icmp = proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6_;

	*lo = icmp ? 0 : cfg->port_min;
	*hi = icmp ? 0xffff : cfg->port_max;
}

static __always_inline __u16 ct_pick_port(const struct qnat_config *cfg, __u8 proto)
{
	__u32 lo, hi;

	ct_port_range(cfg, proto, &lo, &hi);
	return lo + bpf_get_prandom_u32() % (hi - lo + 1);
}

/*
 * The candidate after a taken port: a random start once, then the ports
 * that follow it, so a small range is searched whole, not sampled.
 */
static __always_inline __u16 ct_next_port(const struct qnat_config *cfg, __u8 proto, __u16 port, int try)
{
	__u32 lo, hi;

	if (!try)
		return ct_pick_port(cfg, proto);
	ct_port_range(cfg, proto, &lo, &hi);
	return port >= hi || port < lo ? lo : port + 1;
}

/*
 * Create the flow for a guest packet.  The reply tuple is claimed first with
 * BPF_NOEXIST, so two CPUs can never hand out the same one; the guest's own
 * port is kept when it is free and in range, as MASQUERADE does.
 */
static __always_inline struct qnat_ct_entry *ct_create(struct __sk_buff *skb, const struct qnat_config *cfg,
						       const struct qnat_ct_key *orig, __u32 port_ifindex,
						       const __u8 *guest_mac)
{
	struct qnat_ct_key rev = {
		.saddr = orig->daddr,
		.daddr = cfg->ext_addr,
		.sport = orig->dport,
		.proto = orig->proto,
	};
	struct qnat_ct_entry e = {};
	__u16 port = bpf_ntohs(orig->sport);
	int err = -EEXIST;

	if (!guest_admit(cfg, orig->saddr))
		return 0;
	if (orig->proto != IPPROTO_ICMP && (port < cfg->port_min || port > cfg->port_max))
		port = ct_pick_port(cfg, orig->proto);

	for (int i = 0; i < QNAT_PORT_TRIES; i++) {
		rev.dport = bpf_htons(port);
		/* Never a port a host socket holds or a forward leads in by. */
		if (!host_owns(skb, &rev) && !fwd_lookup(cfg, rev.daddr, rev.dport, rev.proto)) {
			err = bpf_map_update_elem(&qnat_ct_rev, &rev, orig, BPF_NOEXIST);
			if (err != -EEXIST)
				break; /* claimed, or the table is full */
		}
		port = ct_next_port(cfg, orig->proto, port, i);
	}
	if (ct_made_room(cfg, err, orig->saddr))
		err = bpf_map_update_elem(&qnat_ct_rev, &rev, orig, BPF_NOEXIST);
	if (err) {
		guest_release(cfg, orig->saddr);
		count(cfg, err == -EEXIST ? QNAT_C_DROP_NO_PORT : QNAT_C_DROP_CT_FULL, skb->len);
		return 0;
	}

	e.last_seen = bpf_ktime_get_ns();
	e.nat_addr = cfg->ext_addr;
	e.nat_port = rev.dport;
	e.peer_addr = orig->daddr;
	e.peer_port = orig->dport;
	e.port_ifindex = port_ifindex;
	if (guest_mac)
		__builtin_memcpy(e.guest_mac, guest_mac, sizeof(e.guest_mac));
	e.state = orig->proto == IPPROTO_TCP ? QNAT_CT_NONE :
		  orig->proto == IPPROTO_UDP ? QNAT_CT_UDP : QNAT_CT_ICMP;

	err = bpf_map_update_elem(&qnat_ct, orig, &e, BPF_NOEXIST);
	if (ct_made_room(cfg, err, orig->saddr))
		err = bpf_map_update_elem(&qnat_ct, orig, &e, BPF_NOEXIST);
	if (err) {
		bpf_map_delete_elem(&qnat_ct_rev, &rev);
		guest_release(cfg, orig->saddr);
		if (err != -EEXIST) { /* full: refuse the new flow, keep the old ones */
			count(cfg, QNAT_C_DROP_CT_FULL, skb->len);
			return 0;
		}
		/* Another CPU created it first: use theirs. */
	} else {
		count(cfg, QNAT_C_CT_NEW, 0);
		ct_evict_note(cfg, orig);
		if ((cfg->flags & QNAT_CFG_EIF) && orig->proto == IPPROTO_UDP) {
			struct qnat_mapping_key mk = { .nat_addr = e.nat_addr, .nat_port = e.nat_port, .proto = orig->proto };

			bpf_map_update_elem(&qnat_mappings, &mk, orig, BPF_ANY);
		}
	}
	return bpf_map_lookup_elem(&qnat_ct, orig);
}

/* A flow seen from the guest's side: the existing one, or a new one. */
static __always_inline struct qnat_ct_entry *ct_lookup_or_create(struct __sk_buff *skb, const struct qnat_config *cfg,
								 const struct qnat_ct_key *orig, __u32 port_ifindex,
								 const __u8 *guest_mac)
{
	struct qnat_ct_entry *e = bpf_map_lookup_elem(&qnat_ct, orig);

	if (e)
		return e;
	return ct_create(skb, cfg, orig, port_ifindex, guest_mac);
}

/* The flow a reply belongs to, and the guest's original tuple. */
static __always_inline struct qnat_ct_entry *ct_lookup_reply(const struct pkt *p, struct qnat_ct_key *orig)
{
	struct qnat_ct_key rev;
	struct qnat_ct_key *o;

	ct_key_reply(p, &rev);
	o = bpf_map_lookup_elem(&qnat_ct_rev, &rev);
	if (!o)
		return 0;
	*orig = *o;
	return bpf_map_lookup_elem(&qnat_ct, orig);
}

/*
 * Advance the TCP state machine for a packet.  dir is the guest's view
 * (ORIG: from the guest); the state machine follows the side that opened
 * the flow, which for a port forward is the outside.
 */
static __always_inline void ct_touch_state(struct qnat_ct_entry *e, int dir, __u8 proto, __u8 fl)
{
	if (e->flags & QNAT_CTF_DNAT)
		dir = !dir;
	if (dir == QNAT_DIR_REPLY)
		e->flags |= QNAT_CTF_REPLIED;
	if (proto != IPPROTO_TCP)
		return;

	if (fl & TCPF_RST) {
		e->state = QNAT_CT_CLOSE;
	} else if (fl & TCPF_SYN) {
		if (dir == QNAT_DIR_ORIG) {
			/* A new SYN reopens a closed or closing flow. */
			if (e->state == QNAT_CT_NONE || e->state >= QNAT_CT_FIN_WAIT) {
				e->state = QNAT_CT_SYN_SENT;
				e->flags &= ~(QNAT_CTF_FIN_ORIG | QNAT_CTF_FIN_REPLY);
			}
		} else if ((fl & TCPF_ACK) && e->state == QNAT_CT_SYN_SENT) {
			e->state = QNAT_CT_SYN_RECV;
		}
	} else if (fl & TCPF_FIN) {
		e->flags |= dir == QNAT_DIR_ORIG ? QNAT_CTF_FIN_ORIG : QNAT_CTF_FIN_REPLY;
		e->state = (e->flags & QNAT_CTF_FIN_ORIG) && (e->flags & QNAT_CTF_FIN_REPLY) ? QNAT_CT_TIME_WAIT :
											      QNAT_CT_FIN_WAIT;
	} else if (e->state == QNAT_CT_NONE || (e->state == QNAT_CT_SYN_RECV && dir == QNAT_DIR_ORIG)) {
		/* The handshake's last ACK, or a flow picked up mid-stream. */
		e->state = QNAT_CT_ESTABLISHED;
	}
}

/*
 * A flow's first packet: `ct events` is told, with the state that packet
 * gave it.  Not inlined: seven callers.  A full ring (nobody reading)
 * loses the event; ct events then finds the flow in the table.
 */
static __noinline void ct_event_new(const struct qnat_ct_key *k, const struct qnat_ct_entry *e)
{
	struct qnat_ct_event *ev = bpf_ringbuf_reserve(&qnat_ct_ev, sizeof(*ev), 0);

	if (!ev)
		return;
	ev->key = *k;
	__builtin_memcpy(&ev->entry, e, sizeof(ev->entry));
	bpf_ringbuf_submit(ev, 0);
}

/* Account a packet to its flow, of either family; 1 for the flow's first. */
static __always_inline int ct_account(struct qnat_ct_entry *e, int dir, __u8 proto, __u8 tcp_flags, __u32 bytes)
{
	e->last_seen = bpf_ktime_get_ns();
	e->packets[dir & 1]++;
	e->bytes[dir & 1] += bytes;
	ct_touch_state(e, dir, proto, tcp_flags);
	return e->packets[0] + e->packets[1] == 1;
}

/* Account a packet to its IPv4 flow (key k). */
static __always_inline void ct_touch(struct qnat_ct_entry *e, const struct qnat_ct_key *k, int dir,
				     const struct pkt *p, __u32 bytes)
{
	if (ct_account(e, dir, p->proto, p->tcp_flags, bytes))
		ct_event_new(k, e);
}

/* A flow opened from the other side (a forward, a hairpin): the packet's
 * destination is the translated end, its source the peer. */
static __always_inline struct qnat_ct_entry inbound_entry(const struct pkt *p, __u8 flags)
{
	struct qnat_ct_entry e = {
		.last_seen = bpf_ktime_get_ns(),
		.nat_addr = p->daddr,
		.nat_port = p->dport,
		.peer_addr = p->saddr,
		.peer_port = p->sport,
		.state = p->proto == IPPROTO_TCP ? QNAT_CT_NONE : QNAT_CT_UDP,
		.flags = flags,
	};

	return e;
}

/*
 * A connection from outside to a forwarded port: the flow is stored as if
 * the guest had opened it towards the remote end and been masqueraded to
 * the forwarded host address and port, so replies and later packets take
 * exactly the paths masqueraded flows take.
 */
static __always_inline struct qnat_ct_entry *ct_create_inbound(const struct qnat_config *cfg, const struct pkt *p,
							       __be32 guest_addr, __be16 guest_port,
							       struct qnat_ct_key *orig)
{
	struct qnat_ct_entry e = inbound_entry(p, QNAT_CTF_DNAT);
	struct qnat_ct_key rev;
	int err;

	ct_key_reply(p, &rev);

	orig->saddr = guest_addr;
	orig->daddr = p->saddr;
	orig->sport = guest_port;
	orig->dport = p->sport;
	orig->proto = p->proto;
	orig->pad[0] = orig->pad[1] = orig->pad[2] = 0;

	if (!guest_admit(cfg, guest_addr))
		return 0;
	err = bpf_map_update_elem(&qnat_ct_rev, &rev, orig, BPF_NOEXIST);
	if (ct_made_room(cfg, err, guest_addr))
		err = bpf_map_update_elem(&qnat_ct_rev, &rev, orig, BPF_NOEXIST);
	if (err) {
		guest_release(cfg, guest_addr);
		if (err == -EEXIST) /* another CPU set it up first */
			return bpf_map_lookup_elem(&qnat_ct, orig);
		count(cfg, QNAT_C_DROP_CT_FULL, 0);
		return 0;
	}
	err = bpf_map_update_elem(&qnat_ct, orig, &e, BPF_NOEXIST);
	if (ct_made_room(cfg, err, guest_addr))
		err = bpf_map_update_elem(&qnat_ct, orig, &e, BPF_NOEXIST);
	if (err) {
		/* Full, or the guest already uses this very tuple outwards. */
		guest_release(cfg, guest_addr);
		bpf_map_delete_elem(&qnat_ct_rev, &rev);
		count(cfg, err == -EEXIST ? QNAT_C_DROP_NO_PORT : QNAT_C_DROP_CT_FULL, 0);
		return 0;
	}
	count(cfg, QNAT_C_CT_NEW, 0);
	ct_evict_note(cfg, orig);
	return bpf_map_lookup_elem(&qnat_ct, orig);
}

/*
 * With endpoint-independent filtering, a datagram from anyone to a UDP
 * mapping in use reaches the guest that holds it.
 */
static __always_inline struct qnat_ct_entry *ct_create_eif(const struct pkt *p, struct qnat_ct_key *orig)
{
	struct qnat_mapping_key mk = { .nat_addr = p->daddr, .nat_port = p->dport, .proto = p->proto };
	const struct qnat_config *net;
	struct qnat_ct_key *m;

	if (p->proto != IPPROTO_UDP)
		return 0;
	m = bpf_map_lookup_elem(&qnat_mappings, &mk);
	if (!m)
		return 0;
	/* The mapping lives as long as a flow of it does, in a network that filters so. */
	if (!bpf_map_lookup_elem(&qnat_ct, m) || !(net = config_of(m->saddr)) || !(net->flags & QNAT_CFG_EIF)) {
		bpf_map_delete_elem(&qnat_mappings, &mk);
		return 0;
	}
	return ct_create_inbound(net, p, m->saddr, m->sport, orig);
}

/*
 * A guest connecting to a forward by the uplink address (hairpin): the
 * server guest must answer through us, so the client is replaced by the
 * gateway address and a port of the range.  Stored from the server's view:
 * orig = server -> gateway:port, peer = the client.
 */
static __always_inline struct qnat_ct_entry *ct_create_hairpin(const struct qnat_config *cfg, const struct pkt *p,
							       struct qnat_fwd *f, struct qnat_ct_key *orig)
{
	struct qnat_ct_entry e = inbound_entry(p, QNAT_CTF_DNAT | QNAT_CTF_HAIRPIN);
	struct qnat_ct_key rev;
	__u16 port = bpf_ntohs(p->sport);
	int err = -EEXIST;

	ct_key_reply(p, &rev);
	orig->saddr = f->guest_addr;
	orig->daddr = cfg->gateway;
	orig->sport = f->guest_port;
	orig->proto = p->proto;
	orig->pad[0] = orig->pad[1] = orig->pad[2] = 0;
	if (!guest_admit(cfg, f->guest_addr))
		return 0;
	for (int i = 0; i < QNAT_PORT_TRIES && err == -EEXIST; i++) {
		orig->dport = bpf_htons(port);
		err = bpf_map_update_elem(&qnat_ct, orig, &e, BPF_NOEXIST);
		port = ct_next_port(cfg, p->proto, port, i);
	}
	if (ct_made_room(cfg, err, f->guest_addr))
		err = bpf_map_update_elem(&qnat_ct, orig, &e, BPF_NOEXIST);
	if (err) {
		guest_release(cfg, f->guest_addr);
		count(cfg, err == -EEXIST ? QNAT_C_DROP_NO_PORT : QNAT_C_DROP_CT_FULL, 0);
		return 0;
	}
	err = bpf_map_update_elem(&qnat_ct_rev, &rev, orig, BPF_NOEXIST);
	if (ct_made_room(cfg, err, f->guest_addr))
		err = bpf_map_update_elem(&qnat_ct_rev, &rev, orig, BPF_NOEXIST);
	if (err) {
		guest_release(cfg, f->guest_addr);
		bpf_map_delete_elem(&qnat_ct, orig);
		if (err != -EEXIST) {
			count(cfg, QNAT_C_DROP_CT_FULL, 0);
			return 0;
		}
		return ct_lookup_reply(p, orig); /* another CPU was first */
	}
	__sync_fetch_and_add(&f->hits, 1);
	count(cfg, QNAT_C_CT_NEW, 0);
	ct_evict_note(cfg, orig);
	return bpf_map_lookup_elem(&qnat_ct, orig);
}

#endif /* QNAT_CT_H */
