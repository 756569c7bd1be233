/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Rewriting a packet's address and port, one side at a time, and the hop's
 * TTL.  TC uses the kernel's checksum helpers (they keep CHECKSUM_PARTIAL and
 * GSO skbs right); XDP frames carry full checksums and are patched in place.
 */
#ifndef QNAT_NAT_H
#define QNAT_NAT_H

#include <linux/pkt_cls.h>
#include "csum.h"
#include "parse.h"

enum nat_side { NAT_SRC, NAT_DST };

static __always_inline int tc_nat_rewrite(struct __sk_buff *skb, const struct pkt *p, int side, __be32 old_addr,
					  __be32 new_addr, __be16 old_port, __be16 new_port)
{
	__u32 csum_off = l4_csum_off(p);
	__u64 mangled0 = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0;

	if (old_port != new_port) {
		if (bpf_l4_csum_replace(skb, csum_off, old_port, new_port, mangled0 | sizeof(new_port)) ||
		    bpf_skb_store_bytes(skb, l4_port_off(p, side), &new_port, sizeof(new_port), 0))
			return -1;
	}
	if (old_addr != new_addr) {
		/* ICMP has no pseudo-header: only the IP checksum covers the address. */
		if (p->proto != IPPROTO_ICMP &&
		    bpf_l4_csum_replace(skb, csum_off, old_addr, new_addr,
					mangled0 | BPF_F_PSEUDO_HDR | sizeof(new_addr)))
			return -1;
		if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(p), old_addr, new_addr, sizeof(new_addr)) ||
		    bpf_skb_store_bytes(skb, IP_ADDR_OFF(p, side), &new_addr, sizeof(new_addr), 0))
			return -1;
	}
	return 0;
}

/* The TTL shares a 16-bit checksum word with the protocol byte. */
static __always_inline int tc_ttl_dec(struct __sk_buff *skb, const struct pkt *p)
{
	__u8 ttl = p->ttl - 1;

	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(p), bpf_htons(p->ttl << 8), bpf_htons(ttl << 8), 2))
		return -1;
	return bpf_skb_store_bytes(skb, IP_TTL_OFF(p), &ttl, sizeof(ttl), 0);
}

static __always_inline int tc_set_macs(struct __sk_buff *skb, const __u8 *dst, const __u8 *src)
{
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), dst, ETH_ALEN, 0))
		return -1;
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), src, ETH_ALEN, 0);
}

/*
 * XDP: patch the frame in place.  Offsets are masked so the verifier sees
 * them bounded (Ethernet + the longest IPv4 header is 74 bytes).
 */
static __always_inline int xdp_nat_rewrite(void *data, void *data_end, const struct pkt *p, int side,
					   __be32 new_addr, __be16 new_port)
{
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__sum16 *l4sum = data + (l4_csum_off(p) & 0x7f);
	__be16 *port = data + (l4_port_off(p, side) & 0x7f);
	__be32 *addr;
	__be32 old_addr;
	__be16 old_port;

	if ((void *)(ip + 1) > data_end || (void *)(l4sum + 1) > data_end || (void *)(port + 1) > data_end)
		return -1;
	addr = side == NAT_DST ? &ip->daddr : &ip->saddr;
	old_addr = *addr;
	old_port = *port;

	switch (p->proto) {
	case IPPROTO_TCP:
		csum_replace4(l4sum, old_addr, new_addr);
		csum_replace2(l4sum, old_port, new_port);
		break;
	case IPPROTO_UDP:
		udp_csum_replace4(l4sum, old_addr, new_addr);
		udp_csum_replace2(l4sum, old_port, new_port);
		break;
	default:
		csum_replace2(l4sum, old_port, new_port);
	}
	csum_replace4(&ip->check, old_addr, new_addr);
	*addr = new_addr;
	*port = new_port;
	return 0;
}

/*
 * A virtio guest's checksum offload: the L4 checksum holds only the
 * pseudo-header's sum, for the host to finish.  XDP cannot tell the kernel
 * so, and the full-checksum updates above would be wrong for it: such a frame
 * (or, once in 65536, a full checksum that looks like one) goes to TC.
 */
static __always_inline int xdp_csum_partial(void *data, void *data_end, const struct pkt *p)
{
	struct iphdr *ip = data + sizeof(struct ethhdr);
	__sum16 *l4sum = data + (l4_csum_off(p) & 0x7f);
	__u32 s;

	if (p->proto == IPPROTO_ICMP)
		return 0;
	if ((void *)(ip + 1) > data_end || (void *)(l4sum + 1) > data_end)
		return 1;
	s = (ip->saddr & 0xffff) + (ip->saddr >> 16) + (ip->daddr & 0xffff) + (ip->daddr >> 16) +
	    bpf_htons(p->proto) + bpf_htons(p->tot_len - (p->l4_off - p->l3_off));
	return csum_fold(s) == *l4sum;
}

/* The frame's Ethernet header, its bounds checked by the caller. */
static __always_inline void xdp_set_macs(struct ethhdr *eth, const __u8 *dst, const __u8 *src)
{
	__builtin_memcpy(eth->h_dest, dst, ETH_ALEN);
	__builtin_memcpy(eth->h_source, src, ETH_ALEN);
}

static __always_inline int xdp_ttl_dec_set_macs(void *data, void *data_end, const __u8 *dst, const __u8 *src)
{
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end)
		return -1;
	csum_replace2(&ip->check, bpf_htons(ip->ttl << 8), bpf_htons((ip->ttl - 1) << 8));
	ip->ttl--;
	xdp_set_macs(eth, dst, src);
	return 0;
}

#endif /* QNAT_NAT_H */
