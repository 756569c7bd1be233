/* SPDX-License-Identifier: GPL-2.0 */
/* Bounds-checked parsing of Ethernet + IPv4 + the L4 fields NAT needs. */
#ifndef QNAT_PARSE_H
#define QNAT_PARSE_H

#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_endian.h>

/* <linux/icmp.h> drags in libc headers; this is all of it we need. */
struct icmphdr {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	union {
		struct {
			__be16 id;
			__be16 sequence;
		} echo;
		__be32 gateway;
	} un;
};

#define IPPROTO_ICMPV6_ 58 /* <linux/in6.h> has it, with libc's clashes */

#define ICMP_ECHOREPLY 0
#define ICMP_ECHO 8
#define ICMP_DEST_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define ICMP_PARAMETERPROB 12

/* The errors that quote the packet they are about (RFC 792). */
static __always_inline int is_icmp_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED || type == ICMP_PARAMETERPROB;
}

#define IP_MF 0x2000
#define IP_OFFMASK 0x1fff

enum parse_result {
	PARSE_OK,	/* IPv4 with an L4 header we can translate */
	PARSE_IPV4,	/* IPv4, but no translatable L4 (other protocol, later fragment) */
	PARSE_NOT_IPV4, /* anything else: ARP, IPv6, VLAN, ... */
	PARSE_BAD,	/* truncated or malformed */
};

/* What NAT needs of a packet, plus the offsets to rewrite it by. */
struct pkt {
	__u32 l3_off;
	__u32 l4_off;
	__be32 saddr;
	__be32 daddr;
	__be16 sport; /* ICMP echo: the identifier, in both */
	__be16 dport;
	__u16 tot_len;
	__u8 proto;
	__u8 ttl;
	__u8 tcp_flags;
	__u8 icmp_type;
	__u8 frag; /* enum frag_kind */
	__u8 pad;
	__be16 ip_id;
	__be16 frag_off; /* flags and offset, as in the header */
};

enum frag_kind {
	FRAG_NONE,
	FRAG_FIRST, /* offset 0, more to come: carries the L4 header */
	FRAG_LATER, /* no L4 header: belongs to its datagram by IP id */
};

#define TCPF_FIN 0x01
#define TCPF_SYN 0x02
#define TCPF_RST 0x04
#define TCPF_ACK 0x10

static __always_inline int parse_ipv4(void *data, void *data_end, struct pkt *p)
{
	struct ethhdr *eth = data;
	struct iphdr *ip;
	__u32 ihl;

	__builtin_memset(p, 0, sizeof(*p)); /* every path leaves it fully defined */
	if ((void *)(eth + 1) > data_end)
		return PARSE_BAD;
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return PARSE_NOT_IPV4;

	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end)
		return PARSE_BAD;
	ihl = ip->ihl * 4;
	if (ip->version != 4 || ihl < sizeof(*ip))
		return PARSE_BAD;

	p->l3_off = sizeof(*eth);
	p->l4_off = sizeof(*eth) + ihl;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->ttl = ip->ttl;
	p->tot_len = bpf_ntohs(ip->tot_len);
	p->ip_id = ip->id;
	p->frag_off = ip->frag_off;
	p->frag = (ip->frag_off & bpf_htons(IP_OFFMASK)) ? FRAG_LATER :
		  (ip->frag_off & bpf_htons(IP_MF))	   ? FRAG_FIRST :
							     FRAG_NONE;
	if (p->frag == FRAG_LATER)
		return PARSE_IPV4;

	void *l4 = data + p->l4_off;

	switch (p->proto) {
	case IPPROTO_TCP: {
		struct tcphdr *th = l4;

		if ((void *)(th + 1) > data_end)
			return PARSE_BAD;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
		return PARSE_OK;
	}
	case IPPROTO_UDP: {
		struct udphdr *uh = l4;

		if ((void *)(uh + 1) > data_end)
			return PARSE_BAD;
		p->sport = uh->source;
		p->dport = uh->dest;
		return PARSE_OK;
	}
	case IPPROTO_ICMP: {
		struct icmphdr *ih = l4;

		if ((void *)(ih + 1) > data_end)
			return PARSE_BAD;
		p->icmp_type = ih->type;
		if (ih->type != ICMP_ECHO && ih->type != ICMP_ECHOREPLY)
			return PARSE_IPV4;
		p->sport = ih->un.echo.id;
		p->dport = ih->un.echo.id;
		return PARSE_OK;
	}
	}
	return PARSE_IPV4;
}

/* Where each field we rewrite lives, relative to the start of the frame. */
static __always_inline __u32 l4_csum_off(const struct pkt *p)
{
	switch (p->proto) {
	case IPPROTO_TCP:
		return p->l4_off + offsetof(struct tcphdr, check);
	case IPPROTO_UDP:
		return p->l4_off + offsetof(struct udphdr, check);
	default:
		return p->l4_off + offsetof(struct icmphdr, checksum);
	}
}

/* dir 0: source port, 1: destination port; ICMP echo: the identifier. */
static __always_inline __u32 l4_port_off(const struct pkt *p, int dst)
{
	if (p->proto == IPPROTO_ICMP)
		return p->l4_off + offsetof(struct icmphdr, un.echo.id);
	return p->l4_off + (dst ? 2 : 0);
}

#define IP_CSUM_OFF(p) ((p)->l3_off + offsetof(struct iphdr, check))
#define IP_TTL_OFF(p) ((p)->l3_off + offsetof(struct iphdr, ttl))
#define IP_ADDR_OFF(p, dst) ((p)->l3_off + ((dst) ? offsetof(struct iphdr, daddr) : offsetof(struct iphdr, saddr)))

#endif /* QNAT_PARSE_H */
