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

	if (bpf_skb_load_bytes(skb, QUOTE_OFF(p), q, sizeof(*q)))
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
 * Rewrite the quoted packet back to what the guest sent and the outer
 * destination to the guest.  Each quoted change is paired with its ICMP
 * checksum change, so the packet's sum (and a CHECKSUM_COMPLETE skb->csum)
 * stays consistent.
 */
static __always_inline int tc_icmp_err_rewrite(struct __sk_buff *skb, const struct pkt *p, struct quoted *q,
					       const struct qnat_ct_key *orig)
{
	__u32 off = QUOTE_OFF(p), l4 = off + sizeof(struct iphdr);
	__sum16 icsum, old_ipsum = q->ip.check, l4sum = 0, old_l4sum = 0;
	__be32 old_saddr = q->ip.saddr;
	__be16 old_port, new_port = orig->sport;
	__u32 l4sum_off = 0;
	int has_l4sum = 0;

	if (bpf_skb_load_bytes(skb, p->l4_off + offsetof(struct icmphdr, checksum), &icsum, sizeof(icsum)))
		return -1;

	/* The quoted L4 checksum, where the quote reaches it. */
	switch (q->ip.protocol) {
	case IPPROTO_TCP:
		l4sum_off = l4 + offsetof(struct tcphdr, check);
		has_l4sum = !bpf_skb_load_bytes(skb, l4sum_off, &l4sum, sizeof(l4sum));
		break;
	case IPPROTO_UDP:
		l4sum_off = l4 + offsetof(struct udphdr, check);
		l4sum = q->l4w[1];
		has_l4sum = l4sum != 0;
		break;
	default:
		l4sum_off = l4 + offsetof(struct icmphdr, checksum);
		l4sum = q->port[1];
		has_l4sum = 1;
	}
	old_l4sum = l4sum;

	/* Quoted source address, and the quoted IP header's checksum. */
	q->ip.saddr = orig->saddr;
	csum_replace4(&q->ip.check, old_saddr, orig->saddr);
	/* Quoted source port or echo identifier. */
	if (q->ip.protocol == IPPROTO_ICMP) {
		old_port = q->l4w[0];
		q->l4w[0] = new_port;
	} else {
		old_port = q->port[0];
		q->port[0] = new_port;
	}
	if (has_l4sum) {
		if (q->ip.protocol != IPPROTO_ICMP)
			csum_replace4(&l4sum, old_saddr, orig->saddr);
		csum_replace2(&l4sum, old_port, new_port);
		if (q->ip.protocol == IPPROTO_UDP && !l4sum)
			l4sum = 0xffff;
	}

	csum_replace4(&icsum, old_saddr, orig->saddr);
	csum_replace2(&icsum, old_ipsum, q->ip.check);
	csum_replace2(&icsum, old_port, new_port);
	if (has_l4sum)
		csum_replace2(&icsum, old_l4sum, l4sum);

	if (bpf_skb_store_bytes(skb, off, q, sizeof(*q), 0) ||
	    (has_l4sum && bpf_skb_store_bytes(skb, l4sum_off, &l4sum, sizeof(l4sum), 0)) ||
	    bpf_skb_store_bytes(skb, p->l4_off + offsetof(struct icmphdr, checksum), &icsum, sizeof(icsum), 0))
		return -1;
	/* The outer destination: only the IP checksum covers it. */
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(p), p->daddr, orig->saddr, sizeof(orig->saddr)))
		return -1;
	return bpf_skb_store_bytes(skb, IP_ADDR_OFF(p, 1), &orig->saddr, sizeof(orig->saddr), 0);
}

#endif /* QNAT_ICMP_ERR_H */
