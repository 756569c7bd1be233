/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IPv6 for the guests' /64 (--masq6, --route6), TC only: parsing past
 * extension headers, NAT66 flows in qnat_ct6 with IPv4's port choice, the
 * rewrite (IPv6 has no header checksum: an address is covered by the L4
 * pseudo-header alone, ICMPv6's included), and ICMPv6 errors about flows.
 * Headers are loaded and stored through the skb helpers: they need not be
 * in the linear part, and extension headers put them at any offset.
 */
#ifndef QNAT_NAT6_H
#define QNAT_NAT6_H

#include <linux/ipv6.h>
#include "config.h"
#include "ct.h"
#include "nat.h"

#ifndef AF_INET6
#define AF_INET6 10
#endif
#define IPPROTO_HOPOPTS6 0
#define IPPROTO_ROUTING6 43
#define IPPROTO_FRAGMENT6 44
#define IPPROTO_DSTOPTS6 60
#define ICMPV6_ECHO_REQ 128
#define ICMPV6_ECHO_REP 129

#define IP6_OFF sizeof(struct ethhdr)
#define IP6_HOP_OFF (IP6_OFF + offsetof(struct ipv6hdr, hop_limit))
#define IP6_ADDR_OFF(dst) (IP6_OFF + ((dst) ? offsetof(struct ipv6hdr, daddr) : offsetof(struct ipv6hdr, saddr)))
/* Hop-by-hop and destination options, and a fragment header, are walked; more is the kernel's. */
#define IP6_WALK_MAX 3

/* The errors that quote the packet they are about (RFC 4443): unreachable, too big, time exceeded, parameter. */
static __always_inline int is_icmp6_error(__u8 type)
{
	return type >= 1 && type <= 4;
}

enum parse6_result {
	PARSE6_OK,  /* IPv6 with a TCP, UDP or ICMPv6 echo header to translate */
	PARSE6_L3,  /* IPv6 without one: other protocols, ICMPv6 errors and ND, later fragments */
	PARSE6_NOT, /* not IPv6 */
	PARSE6_BAD, /* truncated or malformed */
};

struct pkt6 {
	__be32 saddr[4];
	__be32 daddr[4];
	__u32 l4_off;
	__u32 end; /* where the IPv6 packet ends: a trailer past it is no one's */
	__be16 sport; /* ICMPv6 echo: the identifier, in both */
	__be16 dport;
	__u8 proto;
	__u8 hop;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 frag; /* enum frag_kind */
	__u8 pad[3];
};

/* The fixed header's part of a pkt6: TC's parser and XDP's alike.  -1: not version 6. */
static __always_inline int pkt6_hdr(struct pkt6 *p, const struct ipv6hdr *ip6)
{
	__builtin_memcpy(p->saddr, &ip6->saddr, sizeof(p->saddr));
	__builtin_memcpy(p->daddr, &ip6->daddr, sizeof(p->daddr));
	if (ip6->version != 6)
		return -1;
	p->hop = ip6->hop_limit;
	p->end = IP6_OFF + sizeof(struct ipv6hdr) + bpf_ntohs(ip6->payload_len);
	return 0;
}

/* How long an L4 header of protocol nh must be in the packet; 0: none we translate. */
static __always_inline __u32 pkt6_l4_min(__u8 nh)
{
	return nh == IPPROTO_TCP ? 20 : nh == IPPROTO_UDP || nh == IPPROTO_ICMPV6_ ? 8 : 0;
}

/* The ports (ICMPv6 echo: the identifier) from the first 8 bytes h of the
 * L4 header of p->proto; TCP's flags (its 14th byte) are the caller's. */
static __always_inline int pkt6_ports(struct pkt6 *p, const __u8 *h)
{
	if (p->proto == IPPROTO_ICMPV6_) {
		p->icmp_type = h[0];
		if (h[0] != ICMPV6_ECHO_REQ && h[0] != ICMPV6_ECHO_REP)
			return PARSE6_L3;
		__builtin_memcpy(&p->sport, h + 4, 2);
		p->dport = p->sport;
		return PARSE6_OK;
	}
	__builtin_memcpy(&p->sport, h, 2);
	__builtin_memcpy(&p->dport, h + 2, 2);
	return PARSE6_OK;
}

static __always_inline int parse6(struct __sk_buff *skb, struct pkt6 *p)
{
	__u32 off = IP6_OFF + sizeof(struct ipv6hdr), need;
	struct ipv6hdr ip6;
	__u8 h[14];
	__u8 nh;

	__builtin_memset(p, 0, sizeof(*p));
	if (skb->protocol != bpf_htons(ETH_P_IPV6))
		return PARSE6_NOT;
	if (bpf_skb_load_bytes(skb, IP6_OFF, &ip6, sizeof(ip6)))
		return PARSE6_BAD;
	if (pkt6_hdr(p, &ip6))
		return PARSE6_BAD;
	/* A frame shorter than its payload length (cut on the way, or a guest's
	 * lie the kernel has not checked yet) is no packet to open a flow for. */
	if (p->end > skb->len)
		return PARSE6_BAD;
	nh = ip6.nexthdr;
	for (int i = 0; i < IP6_WALK_MAX; i++) {
		if (nh != IPPROTO_HOPOPTS6 && nh != IPPROTO_DSTOPTS6 && nh != IPPROTO_FRAGMENT6)
			break;
		if (bpf_skb_load_bytes(skb, off, h, 8))
			return PARSE6_BAD;
		if (nh == IPPROTO_FRAGMENT6) {
			__u16 fo = h[2] << 8 | h[3];

			p->frag = fo & ~7 ? FRAG_LATER : fo & 1 ? FRAG_FIRST : FRAG_NONE;
			off += 8;
		} else {
			off += (h[1] + 1) * 8;
		}
		nh = h[0];
		if (p->frag == FRAG_LATER)
			break;
	}
	p->proto = nh;
	p->l4_off = off;
	if (p->frag == FRAG_LATER)
		return PARSE6_L3;
	need = pkt6_l4_min(nh);
	if (!need) /* a routing header, AH, ESP, another protocol */
		return PARSE6_L3;
	if (off + need > p->end)
		return PARSE6_BAD;
	if (nh == IPPROTO_TCP) {
		if (bpf_skb_load_bytes(skb, off, h, 14))
			return PARSE6_BAD;
		p->tcp_flags = h[13];
	} else if (bpf_skb_load_bytes(skb, off, h, 8)) {
		return PARSE6_BAD;
	}
	return pkt6_ports(p, h);
}

/*
 * XDP's parser: the frame as it is, an IPv6 packet filling it exactly, with
 * no extension header (what has one, or is too short for its L4 header,
 * is PARSE6_L3: TC's).
 */
static __always_inline int xdp_parse6(void *data, void *data_end, struct pkt6 *p)
{
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	__u8 *h = (void *)(ip6 + 1);

	__builtin_memset(p, 0, sizeof(*p));
	if ((void *)(ip6 + 1) > data_end)
		return PARSE6_BAD;
	if (eth->h_proto != bpf_htons(ETH_P_IPV6))
		return PARSE6_NOT;
	if (pkt6_hdr(p, ip6) || p->end != data_end - data)
		return PARSE6_BAD; /* padded or cut: the skb path's */
	p->proto = ip6->nexthdr;
	p->l4_off = IP6_OFF + sizeof(struct ipv6hdr);
	if (!pkt6_l4_min(p->proto) || p->l4_off + pkt6_l4_min(p->proto) > p->end || (void *)(h + 8) > data_end)
		return PARSE6_L3;
	if (p->proto == IPPROTO_TCP) {
		if ((void *)(h + 20) > data_end)
			return PARSE6_L3;
		p->tcp_flags = h[13];
	}
	return pkt6_ports(p, h);
}

static __always_inline int eq6(const __be32 a[4], const __be32 b[4])
{
	return !((a[0] ^ b[0]) | (a[1] ^ b[1]) | (a[2] ^ b[2]) | (a[3] ^ b[3]));
}

/* The guest's IPv6 packet: as port_out_kind says of IPv4 (lib/port_out.h). */
static __always_inline int port_out6_kind(const struct qnat_config *cfg, const struct pkt6 *p, int r)
{
	/* ND, MLD, DHCPv6, other guests, the gateway: the bridge's and the host's. */
	if (is_mcast6(p->daddr) || is_linklocal6(p->daddr) || is_linklocal6(p->saddr) || is_unspec6(p->saddr) ||
	    in_prefix6(cfg, p->daddr))
		return OUT_HOST;
	if (!in_prefix6(cfg, p->saddr))
		return OUT_SPOOF;
	/* The uplink's egress program translates or stops what the kernel routes. */
	if (r != PARSE6_OK || p->frag || p->hop <= 1 || (p->proto == IPPROTO_ICMPV6_ && p->icmp_type != ICMPV6_ECHO_REQ))
		return OUT_SLOW;
	return OUT_ROUTE;
}

static __always_inline void port_fib6_init(struct bpf_fib_lookup *fib, const struct qnat_config *cfg,
					   const struct pkt6 *p)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET6;
	fib->l4_protocol = p->proto;
	fib->sport = p->proto == IPPROTO_ICMPV6_ ? 0 : p->sport;
	fib->dport = p->proto == IPPROTO_ICMPV6_ ? 0 : p->dport;
	fib->ifindex = cfg->bridge_ifindex;
	__builtin_memcpy(fib->ipv6_src, p->saddr, sizeof(fib->ipv6_src));
	__builtin_memcpy(fib->ipv6_dst, p->daddr, sizeof(fib->ipv6_dst));
}

/* The tuple as the guest sent it; ICMPv6 echo as IPv4's (lib/ct.h). */
static __always_inline void ct6_key_orig(const struct pkt6 *p, struct qnat_ct6_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, p->saddr, sizeof(k->saddr));
	__builtin_memcpy(k->daddr, p->daddr, sizeof(k->daddr));
	k->sport = p->sport;
	k->dport = p->proto == IPPROTO_ICMPV6_ ? 0 : p->dport;
	k->proto = p->proto;
}

/* The tuple as a reply from outside carries it. */
static __always_inline void ct6_key_reply(const struct pkt6 *p, struct qnat_ct6_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, p->saddr, sizeof(k->saddr));
	__builtin_memcpy(k->daddr, p->daddr, sizeof(k->daddr));
	k->sport = p->proto == IPPROTO_ICMPV6_ ? 0 : p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
}

/* Does a host socket already own this reply tuple? */
static __always_inline int host_owns6(struct __sk_buff *skb, const struct qnat_ct6_key *rev)
{
	struct bpf_sock_tuple t = {};
	struct bpf_sock *sk;

	__builtin_memcpy(t.ipv6.saddr, rev->saddr, sizeof(t.ipv6.saddr));
	__builtin_memcpy(t.ipv6.daddr, rev->daddr, sizeof(t.ipv6.daddr));
	t.ipv6.sport = rev->sport;
	t.ipv6.dport = rev->dport;
	if (rev->proto == IPPROTO_TCP)
		sk = bpf_sk_lookup_tcp(skb, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	else if (rev->proto == IPPROTO_UDP)
		sk = bpf_sk_lookup_udp(skb, &t, sizeof(t.ipv6), BPF_F_CURRENT_NETNS, 0);
	else
		return 0;
	if (!sk)
		return 0;
	bpf_sk_release(sk);
	return 1;
}

/*
 * A guest's new NAT66 flow, as ct_create makes an IPv4 one: the reply tuple
 * claimed first, the guest's port kept when free.  No per-guest cap (its
 * table is keyed by IPv4 address) and no early drop: a full table refuses.
 */
static __always_inline struct qnat_ct_entry *ct6_create(struct __sk_buff *skb, const struct qnat_config *cfg,
							 const struct qnat_ct6_key *orig, __u32 port_ifindex,
							 const __u8 *guest_mac)
{
	struct qnat_ct6_key rev = { .sport = orig->dport, .proto = orig->proto };
	struct qnat_ct_entry e = {};
	__u16 port = bpf_ntohs(orig->sport);
	int err = -EEXIST;

	__builtin_memcpy(rev.saddr, orig->daddr, sizeof(rev.saddr));
	__builtin_memcpy(rev.daddr, cfg->ext6, sizeof(rev.daddr));
	if (orig->proto != IPPROTO_ICMPV6_ && (port < cfg->port_min || port > cfg->port_max))
		port = ct_pick_port(cfg, orig->proto);
	for (int i = 0; i < QNAT_PORT_TRIES; i++) {
		rev.dport = bpf_htons(port);
		if (!host_owns6(skb, &rev)) {
			err = bpf_map_update_elem(&qnat_ct6_rev, &rev, orig, BPF_NOEXIST);
			if (err != -EEXIST)
				break; /* claimed, or the table is full */
		}
		port = ct_next_port(cfg, orig->proto, port, i);
	}
	if (err) {
		count(cfg, err == -EEXIST ? QNAT_C_DROP_NO_PORT : QNAT_C_DROP_CT_FULL, skb->len);
		return 0;
	}
	e.last_seen = bpf_ktime_get_ns();
	e.nat_port = rev.dport;
	e.peer_port = orig->dport;
	e.port_ifindex = port_ifindex;
	if (guest_mac)
		__builtin_memcpy(e.guest_mac, guest_mac, sizeof(e.guest_mac));
	e.state = orig->proto == IPPROTO_TCP ? QNAT_CT_NONE :
		  orig->proto == IPPROTO_UDP ? QNAT_CT_UDP : QNAT_CT_ICMP;
	err = bpf_map_update_elem(&qnat_ct6, orig, &e, BPF_NOEXIST);
	if (err) {
		bpf_map_delete_elem(&qnat_ct6_rev, &rev);
		if (err != -EEXIST) {
			count(cfg, QNAT_C_DROP_CT_FULL, skb->len);
			return 0;
		}
		/* Another CPU created it first: use theirs. */
	} else {
		count(cfg, QNAT_C_CT_NEW, 0);
	}
	return bpf_map_lookup_elem(&qnat_ct6, orig);
}

static __always_inline struct qnat_ct_entry *ct6_lookup_or_create(struct __sk_buff *skb,
								   const struct qnat_config *cfg,
								   const struct qnat_ct6_key *orig, __u32 port_ifindex,
								   const __u8 *guest_mac)
{
	struct qnat_ct_entry *e = bpf_map_lookup_elem(&qnat_ct6, orig);

	return e ? e : ct6_create(skb, cfg, orig, port_ifindex, guest_mac);
}

/* The flow a reply belongs to, and the guest's original tuple. */
static __always_inline struct qnat_ct_entry *ct6_lookup_rev(const struct qnat_ct6_key *rev, struct qnat_ct6_key *orig)
{
	struct qnat_ct6_key *o = bpf_map_lookup_elem(&qnat_ct6_rev, rev);

	if (!o)
		return 0;
	*orig = *o;
	return bpf_map_lookup_elem(&qnat_ct6, orig);
}

/*
 * A connection from outside to a forwarded port of ext6 (--masq6): stored,
 * as IPv4's ct_create_inbound does, as if the guest had opened it towards
 * the remote end and been masqueraded to ext6 and the host port, so the
 * guest's packets take tc_port_in6's path and replies this one's.
 */
static __always_inline struct qnat_ct_entry *ct6_create_inbound(const struct qnat_config *cfg, const struct pkt6 *p,
								 const struct qnat_fwd6 *f, struct qnat_ct6_key *orig)
{
	struct qnat_ct_entry e = {
		.last_seen = bpf_ktime_get_ns(),
		.nat_port = p->dport,
		.peer_port = p->sport,
		.state = p->proto == IPPROTO_TCP ? QNAT_CT_NONE : QNAT_CT_UDP,
		.flags = QNAT_CTF_DNAT,
	};
	struct qnat_ct6_key rev;
	int err;

	ct6_key_reply(p, &rev);
	__builtin_memset(orig, 0, sizeof(*orig));
	__builtin_memcpy(orig->saddr, f->guest_addr, sizeof(orig->saddr));
	__builtin_memcpy(orig->daddr, p->saddr, sizeof(orig->daddr));
	orig->sport = f->guest_port;
	orig->dport = p->sport;
	orig->proto = p->proto;
	err = bpf_map_update_elem(&qnat_ct6_rev, &rev, orig, BPF_NOEXIST);
	if (err) {
		if (err == -EEXIST) /* another CPU set it up first */
			return bpf_map_lookup_elem(&qnat_ct6, orig);
		count(cfg, QNAT_C_DROP_CT_FULL, 0);
		return 0;
	}
	err = bpf_map_update_elem(&qnat_ct6, orig, &e, BPF_NOEXIST);
	if (err) {
		/* Full, or the guest already uses this very tuple outwards. */
		bpf_map_delete_elem(&qnat_ct6_rev, &rev);
		count(cfg, err == -EEXIST ? QNAT_C_DROP_NO_PORT : QNAT_C_DROP_CT_FULL, 0);
		return 0;
	}
	count(cfg, QNAT_C_CT_NEW, 0);
	return bpf_map_lookup_elem(&qnat_ct6, orig);
}

static __always_inline __u32 l4_csum_off6(const struct pkt6 *p)
{
	return p->l4_off + (p->proto == IPPROTO_TCP ? offsetof(struct tcphdr, check) :
			    p->proto == IPPROTO_UDP ? offsetof(struct udphdr, check) :
						      offsetof(struct icmphdr, checksum));
}

static __always_inline __u32 l4_port_off6(const struct pkt6 *p, int dst)
{
	return p->l4_off + (p->proto == IPPROTO_ICMPV6_ ? offsetof(struct icmphdr, un.echo.id) : dst ? 2 : 0);
}

/*
 * One end's address and port.  BPF_F_IPV6: the pseudo-header's change is
 * all the L4 checksum's, none of a CHECKSUM_COMPLETE skb's sum.
 */
static __always_inline int tc_nat6_rewrite(struct __sk_buff *skb, const struct pkt6 *p, int side,
					   const __be32 *old_addr, const __be32 *new_addr, __be16 old_port,
					   __be16 new_port)
{
	__u64 flags = (p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0) | BPF_F_IPV6;
	__u32 csum_off = l4_csum_off6(p);
	__s64 diff;

	if (old_port != new_port &&
	    (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, flags | sizeof(new_port)) ||
	     bpf_skb_store_bytes(skb, l4_port_off6(p, side), &new_port, sizeof(new_port), 0)))
		return -1;
	diff = bpf_csum_diff((__be32 *)old_addr, 16, (__be32 *)new_addr, 16, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, csum_off, 0, diff, flags | BPF_F_PSEUDO_HDR))
		return -1;
	return bpf_skb_store_bytes(skb, IP6_ADDR_OFF(side == NAT_DST), new_addr, 16, 0);
}

/*
 * XDP: the source address and port rewritten in place, the L4 checksum
 * (pseudo-header included, ICMPv6's too) patched by the difference.  UDP's
 * 0 is no checksum IPv4 allows IPv6: xdp_csum_partial6 left such frames to
 * TC, and a computed 0 goes as 0xffff.  Offsets are masked for the verifier
 * (no extension headers: the L4 header is at 54).
 */
static __always_inline int xdp_nat6_snat(void *data, void *data_end, const struct pkt6 *p, const __be32 *new_addr,
					 __be16 new_port)
{
	struct ipv6hdr *ip6 = data + IP6_OFF;
	__sum16 *l4sum = data + (l4_csum_off6(p) & 0x7f);
	__be16 *port = data + (l4_port_off6(p, NAT_SRC) & 0x7f);
	__s64 diff;
	__u32 s;

	if ((void *)(ip6 + 1) > data_end || (void *)(l4sum + 1) > data_end || (void *)(port + 1) > data_end)
		return -1;
	diff = bpf_csum_diff((__be32 *)&ip6->saddr, 16, (__be32 *)new_addr, 16, 0);
	if (diff < 0)
		return -1;
	s = (__u16)~*l4sum;
	s = csum_add32(s, (__u32)diff);
	s = csum_add32(s, (__u16)~*port);
	s = csum_add32(s, new_port);
	*l4sum = ~csum_fold(s);
	if (p->proto == IPPROTO_UDP && !*l4sum)
		*l4sum = 0xffff;
	__builtin_memcpy(&ip6->saddr, new_addr, 16);
	*port = new_port;
	return 0;
}

/*
 * A virtio guest's checksum offload, as xdp_csum_partial says of IPv4: a
 * TCP or UDP checksum holding the pseudo-header's sum alone is the skb
 * path's; so is UDP's 0, invalid in IPv6, that TC leaves to the kernel.
 */
static __always_inline int xdp_csum_partial6(void *data, void *data_end, const struct pkt6 *p)
{
	__sum16 *l4sum = data + (l4_csum_off6(p) & 0x7f);
	__u32 s = bpf_htons(p->proto) + bpf_htons(p->end - p->l4_off);

	if (p->proto == IPPROTO_ICMPV6_)
		return 0;
	if ((void *)(l4sum + 1) > data_end)
		return 1;
	if (p->proto == IPPROTO_UDP && !*l4sum)
		return 1;
	for (int i = 0; i < 4; i++)
		s += (p->saddr[i] & 0xffff) + (p->saddr[i] >> 16) + (p->daddr[i] & 0xffff) + (p->daddr[i] >> 16);
	return csum_fold(s) == *l4sum;
}

static __always_inline int xdp_hop_dec_set_macs(void *data, void *data_end, const __u8 *dst, const __u8 *src)
{
	struct ipv6hdr *ip6 = data + IP6_OFF;

	if ((void *)(ip6 + 1) > data_end)
		return -1;
	ip6->hop_limit--;
	xdp_set_macs(data, dst, src);
	return 0;
}

/* No header checksum to fix: the hop limit alone. */
static __always_inline int tc_hop_dec(struct __sk_buff *skb, const struct pkt6 *p)
{
	__u8 hop = p->hop - 1;

	return bpf_skb_store_bytes(skb, IP6_HOP_OFF, &hop, sizeof(hop), 0);
}

/* A later fragment leaving: it has no ports, and its address no checksum. */
static __always_inline int tc_frag6_snat(struct __sk_buff *skb, const struct qnat_config *cfg)
{
	return bpf_skb_store_bytes(skb, IP6_ADDR_OFF(0), cfg->ext6, sizeof(cfg->ext6), 0);
}

/* The quoted packet of an ICMPv6 error: its header (no extension headers) and first L4 bytes. */
struct quoted6 {
	struct ipv6hdr ip;
	__be16 port[2]; /* TCP/UDP ports; ICMPv6: type/code, checksum */
	__be16 l4w[2];	/* UDP: length, checksum; ICMPv6: id, sequence */
};

#define QUOTE6_OFF(p) ((p)->l4_off + 8)

/* The flow an ICMPv6 error from outside is about (it quotes ext6 -> peer). */
static __always_inline struct qnat_ct_entry *icmp6_err_flow(struct __sk_buff *skb, const struct pkt6 *p,
							     struct quoted6 *q, struct qnat_ct6_key *orig)
{
	struct qnat_ct6_key rev = {};

	if (QUOTE6_OFF(p) + sizeof(*q) > p->end || bpf_skb_load_bytes(skb, QUOTE6_OFF(p), q, sizeof(*q)))
		return 0;
	__builtin_memcpy(rev.saddr, &q->ip.daddr, sizeof(rev.saddr));
	__builtin_memcpy(rev.daddr, &q->ip.saddr, sizeof(rev.daddr));
	rev.proto = q->ip.nexthdr;
	switch (q->ip.nexthdr) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		rev.sport = q->port[1];
		rev.dport = q->port[0];
		break;
	case IPPROTO_ICMPV6_:
		if ((bpf_ntohs(q->port[0]) >> 8) != ICMPV6_ECHO_REQ)
			return 0;
		rev.dport = q->l4w[0];
		break;
	default:
		return 0;
	}
	return ct6_lookup_rev(&rev, orig);
}

static __always_inline void csum_replace16(__sum16 *sum, const __be32 *from, const __be32 *to)
{
	for (int i = 0; i < 4; i++)
		csum_replace4(sum, from[i], to[i]);
}

/*
 * The flow a guest's ICMPv6 error is about: it quotes a packet the guest got
 * (peer -> guest), a forwarded flow's or a reply's.  TCP and UDP only.
 */
static __always_inline struct qnat_ct_entry *icmp6_err_out_flow(struct __sk_buff *skb, const struct pkt6 *p,
								 struct quoted6 *q, struct qnat_ct6_key *orig)
{
	if (QUOTE6_OFF(p) + sizeof(*q) > p->end || bpf_skb_load_bytes(skb, QUOTE6_OFF(p), q, sizeof(*q)) ||
	    (q->ip.nexthdr != IPPROTO_TCP && q->ip.nexthdr != IPPROTO_UDP))
		return 0;
	__builtin_memset(orig, 0, sizeof(*orig));
	__builtin_memcpy(orig->saddr, &q->ip.daddr, sizeof(orig->saddr));
	__builtin_memcpy(orig->daddr, &q->ip.saddr, sizeof(orig->daddr));
	if (!eq6(orig->saddr, p->saddr))
		return 0;
	orig->sport = q->port[1];
	orig->dport = q->port[0];
	orig->proto = q->ip.nexthdr;
	return bpf_map_lookup_elem(&qnat_ct6, orig);
}

/*
 * Translate an ICMPv6 error about a flow.  ERR_IN, to the guest: the quoted
 * source (ext6 and the translated port or identifier) and the outer
 * destination become addr and port, the guest's.  ERR_OUT, from the guest:
 * the quoted destination and the outer source become ext6 and the flow's
 * port.  Every change is paired with its checksum's (the quoted L4 one,
 * where the quote reaches it, and ICMPv6's, whose pseudo-header holds the
 * outer addresses), so the packet's sum, and a CHECKSUM_COMPLETE skb's,
 * stays as it was.
 */
enum { ERR_IN, ERR_OUT };

static __always_inline int tc_icmp6_err_xlate(struct __sk_buff *skb, const struct pkt6 *p, struct quoted6 *q, int dir,
					      const __be32 *addr, __be16 port)
{
	__u32 icsum_off = p->l4_off + offsetof(struct icmphdr, checksum), l4 = QUOTE6_OFF(p) + sizeof(q->ip);
	__be32 old_addr[4], *qaddr = (__be32 *)(dir == ERR_IN ? &q->ip.saddr : &q->ip.daddr);
	const __be32 *outer = dir == ERR_IN ? p->daddr : p->saddr;
	__sum16 icsum, l4sum = 0, old_l4sum;
	__u32 l4sum_off;
	__be16 *qport, old_port;
	int has_l4sum;

	if (bpf_skb_load_bytes(skb, icsum_off, &icsum, sizeof(icsum)))
		return -1;
	switch (q->ip.nexthdr) {
	case IPPROTO_TCP:
		l4sum_off = l4 + offsetof(struct tcphdr, check);
		has_l4sum = l4sum_off + sizeof(l4sum) <= p->end && !bpf_skb_load_bytes(skb, l4sum_off, &l4sum, sizeof(l4sum));
		qport = &q->port[dir == ERR_OUT];
		break;
	case IPPROTO_UDP:
		l4sum_off = l4 + offsetof(struct udphdr, check);
		l4sum = q->l4w[1];
		has_l4sum = 1;
		qport = &q->port[dir == ERR_OUT];
		break;
	default: /* ICMPv6 echo (ERR_IN only): its identifier */
		l4sum_off = l4 + offsetof(struct icmphdr, checksum);
		l4sum = q->port[1];
		has_l4sum = 1;
		qport = &q->l4w[0];
	}
	old_l4sum = l4sum;
	old_port = *qport;
	__builtin_memcpy(old_addr, qaddr, sizeof(old_addr));

	__builtin_memcpy(qaddr, addr, sizeof(old_addr));
	*qport = port;
	csum_replace16(&l4sum, old_addr, addr); /* every IPv6 L4 checksum has the pseudo-header */
	csum_replace2(&l4sum, old_port, port);
	if (q->ip.nexthdr == IPPROTO_UDP && !l4sum)
		l4sum = 0xffff;

	csum_replace16(&icsum, old_addr, addr);
	csum_replace2(&icsum, old_port, port);
	if (has_l4sum)
		csum_replace2(&icsum, old_l4sum, l4sum);
	csum_replace16(&icsum, outer, addr); /* the outer address, in the pseudo-header */

	if (bpf_skb_store_bytes(skb, QUOTE6_OFF(p), q, sizeof(*q), 0) ||
	    (has_l4sum && bpf_skb_store_bytes(skb, l4sum_off, &l4sum, sizeof(l4sum), 0)) ||
	    bpf_skb_store_bytes(skb, icsum_off, &icsum, sizeof(icsum), 0))
		return -1;
	return bpf_skb_store_bytes(skb, IP6_ADDR_OFF(dir == ERR_IN), addr, 16, 0);
}

#endif /* QNAT_NAT6_H */
