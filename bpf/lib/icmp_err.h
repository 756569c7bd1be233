/* SPDX-License-Identifier: GPL-2.0 */
/*
 * ICMP errors about masqueraded flows: "fragmentation needed", "port
 * unreachable", "time exceeded" arrive addressed to the uplink and quote the
 * packet as it left (source = uplink address and translated port).  They
 * are handed to the guest with the outer destination and the quoted source
 * translated back, and every checksum they carry kept right, so PMTU
 * discovery and traceroute work from guests.
 */
#ifndef QNAT_ICMP_ERR_H
#define QNAT_ICMP_ERR_H

#include "csum.h"
#include "ct.h"
#include "parse.h"
#include "nat.h"

/* The quoted packet: its IPv4 header (no options) and first L4 bytes. */
struct quoted {
	struct iphdr ip;
	__be16 port[2];	 /* TCP/UDP ports; ICMP: type/code, checksum */
	__be16 l4w[2];	 /* UDP: length, checksum; ICMP: id, sequence */
};

#define QUOTE_OFF(p) ((p)->l4_off + sizeof(struct icmphdr))

/*
 * Find the flow an ICMP error is about.  orig gets the guest's tuple; the
 * quoted packet is left in q.  0 when it is ours to translate.
 */
static __always_inline struct qnat_ct_entry *icmp_err_flow(struct __sk_buff *skb, const struct qnat_config *cfg,
							    const struct pkt *p, struct quoted *q,
							    struct qnat_ct_key *orig)
{
	struct qnat_ct_key rev = {};
	struct qnat_ct_key *o;

	/* The quote must lie inside the IP packet: bytes past tot_len are a
	 * trailer no checksum covers. */
	if (QUOTE_OFF(p) + sizeof(*q) > p->l3_off + p->tot_len || bpf_skb_load_bytes(skb, QUOTE_OFF(p), q, sizeof(*q)))
		return 0;
	if (q->ip.version != 4 || q->ip.ihl != 5 || q->ip.saddr != cfg->ext_addr)
		return 0;
	rev.saddr = q->ip.daddr;
	rev.daddr = q->ip.saddr;
	rev.proto = q->ip.protocol;
	switch (q->ip.protocol) {
	case IPPROTO_TCP:
	case IPPROTO_UDP:
		rev.sport = q->port[1];
		rev.dport = q->port[0];
		break;
	case IPPROTO_ICMP:
		if ((bpf_ntohs(q->port[0]) >> 8) != ICMP_ECHO)
			return 0;
		rev.dport = q->l4w[0];
		break;
	default:
		return 0;
	}
	o = bpf_map_lookup_elem(&qnat_ct_rev, &rev);
	if (!o)
		return 0;
	*orig = *o;
	return bpf_map_lookup_elem(&qnat_ct, orig);
}

/*
 * Translate an ICMP error: one end of the quoted packet (address and port,
 * or echo identifier) and one end of the outer header.  Each quoted change
 * is paired with its ICMP checksum change, so the packet's sum (and a
 * CHECKSUM_COMPLETE skb->csum) stays consistent.
 *   in:  error from outside about a packet we sent: quoted source and outer
 *        destination become the guest's;
 *   out: error from a guest about a packet we delivered to it: quoted
 *        destination and outer source become the translated address.
 */
static __always_inline int tc_icmp_err_xlate(struct __sk_buff *skb, const struct pkt *p, struct quoted *q,
					     int quoted_side, __be32 new_addr, __be16 new_port, int outer_side)
{
	__u32 off = QUOTE_OFF(p), l4 = off + sizeof(struct iphdr);
	__sum16 icsum, old_ipsum = q->ip.check, l4sum = 0, old_l4sum = 0;
	__be32 *qaddr = quoted_side == NAT_DST ? &q->ip.daddr : &q->ip.saddr;
	__be32 old_addr = *qaddr, old_outer = outer_side == NAT_DST ? p->daddr : p->saddr;
	__be16 *qport, old_port;
	__u32 l4sum_off = 0;
	int has_l4sum = 0;

	if (bpf_skb_load_bytes(skb, p->l4_off + offsetof(struct icmphdr, checksum), &icsum, sizeof(icsum)))
		return -1;

	/* The quoted L4 checksum, where the quote reaches it. */
	switch (q->ip.protocol) {
	case IPPROTO_TCP:
		l4sum_off = l4 + offsetof(struct tcphdr, check);
		has_l4sum = l4sum_off + sizeof(l4sum) <= p->l3_off + p->tot_len &&
			    !bpf_skb_load_bytes(skb, l4sum_off, &l4sum, sizeof(l4sum));
		qport = &q->port[quoted_side == NAT_DST];
		break;
	case IPPROTO_UDP:
		l4sum_off = l4 + offsetof(struct udphdr, check);
		l4sum = q->l4w[1];
		has_l4sum = l4sum != 0;
		qport = &q->port[quoted_side == NAT_DST];
		break;
	default: /* ICMP echo: the identifier, whichever end */
		l4sum_off = l4 + offsetof(struct icmphdr, checksum);
		l4sum = q->port[1];
		has_l4sum = 1;
		qport = &q->l4w[0];
	}
	old_l4sum = l4sum;
	old_port = *qport;

	*qaddr = new_addr;
	csum_replace4(&q->ip.check, old_addr, new_addr);
	*qport = new_port;
	if (has_l4sum) {
		if (q->ip.protocol != IPPROTO_ICMP)
			csum_replace4(&l4sum, old_addr, new_addr);
		csum_replace2(&l4sum, old_port, new_port);
		if (q->ip.protocol == IPPROTO_UDP && !l4sum)
			l4sum = 0xffff;
	}

	csum_replace4(&icsum, old_addr, new_addr);
	csum_replace2(&icsum, old_ipsum, q->ip.check);
	csum_replace2(&icsum, old_port, new_port);
	if (has_l4sum)
		csum_replace2(&icsum, old_l4sum, l4sum);

	if (bpf_skb_store_bytes(skb, off, q, sizeof(*q), 0) ||
	    (has_l4sum && bpf_skb_store_bytes(skb, l4sum_off, &l4sum, sizeof(l4sum), 0)) ||
	    bpf_skb_store_bytes(skb, p->l4_off + offsetof(struct icmphdr, checksum), &icsum, sizeof(icsum), 0))
		return -1;
	/* The outer address: only the IP checksum covers it. */
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(p), old_outer, new_addr, sizeof(new_addr)))
		return -1;
	return bpf_skb_store_bytes(skb, IP_ADDR_OFF(p, outer_side == NAT_DST), &new_addr, sizeof(new_addr), 0);
}

/*
 * An ICMP error a guest sends about a packet of one of its flows that came
 * from outside (a forwarded connection's late segment, a datagram to a
 * closed port, one too big for the guest's MTU): the flow it is about, by
 * the quoted packet (remote -> guest).
 */
static __always_inline struct qnat_ct_entry *icmp_err_out_flow(struct __sk_buff *skb, const struct pkt *p,
								struct quoted *q)
{
	struct qnat_ct_key orig = {};

	if (QUOTE_OFF(p) + sizeof(*q) > p->l3_off + p->tot_len || bpf_skb_load_bytes(skb, QUOTE_OFF(p), q, sizeof(*q)))
		return 0;
	if (q->ip.version != 4 || q->ip.ihl != 5 || q->ip.daddr != p->saddr ||
	    (q->ip.protocol != IPPROTO_TCP && q->ip.protocol != IPPROTO_UDP))
		return 0;
	orig.saddr = q->ip.daddr;
	orig.daddr = q->ip.saddr;
	orig.sport = q->port[1];
	orig.dport = q->port[0];
	orig.proto = q->ip.protocol;
	return bpf_map_lookup_elem(&qnat_ct, &orig);
}

#endif /* QNAT_ICMP_ERR_H */
