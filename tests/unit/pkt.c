// SPDX-License-Identifier: GPL-2.0
/*
 * Frame builders and the reference checksum.  Headers are written byte by
 * byte in network order so nothing here depends on a struct layout or on the
 * host's byte order.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "pkt.h"

#define ETH_LEN 14
#define IP_LEN 20
#define TCP_LEN 20
#define UDP_LEN 8
#define ICMP_LEN 8

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(__u8 *p, __u32 v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static __u16 get16(const __u8 *p)
{
	return p[0] << 8 | p[1];
}

__u32 csum_ref_add(__u32 sum, const void *data, size_t len)
{
	const __u8 *b = data;
	__u64 s = sum;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += get16(b + i);
	if (len & 1)
		s += b[len - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return s;
}

__u16 csum_ref_finish(__u32 sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

/* The IPv4 pseudo-header's sum: addresses, protocol, L4 length. */
static __u32 pseudo_sum(const __u8 *ip, __u8 proto, __u16 l4_len)
{
	__u8 ph[12];

	memcpy(ph, ip + 12, 8);
	ph[8] = 0;
	ph[9] = proto;
	put16(ph + 10, l4_len);
	return csum_ref_add(0, ph, sizeof(ph));
}

static __u16 l4_csum(const __u8 *ip, __u8 proto, const __u8 *l4, __u16 l4_len, size_t csum_off)
{
	__u8 tmp[PKT_MAX];
	__u32 sum = 0;
	__u16 c;

	memcpy(tmp, l4, l4_len);
	tmp[csum_off] = tmp[csum_off + 1] = 0;
	if (proto != IPPROTO_ICMP)
		sum = pseudo_sum(ip, proto, l4_len);
	c = csum_ref_finish(csum_ref_add(sum, tmp, l4_len));
	/* RFC 768: a computed 0 is transmitted as all ones. */
	if (proto == IPPROTO_UDP && c == 0)
		c = 0xffff;
	return c;
}

static int is_fragment(const __u8 *ip)
{
	return (get16(ip + 6) & 0x3fff) != 0; /* MF or an offset */
}

/* The L4 header's length; a non-first fragment carries none. */
static size_t l4_hdr_len(const struct pkt_spec *s)
{
	if (s->frag_off & 0x1fff)
		return 0;
	switch (s->proto) {
	case IPPROTO_TCP:
		return TCP_LEN;
	case IPPROTO_UDP:
		return UDP_LEN;
	case IPPROTO_ICMP:
		return ICMP_LEN;
	}
	return 0;
}

size_t pkt_payload_off(const struct pkt_spec *s)
{
	return ETH_LEN + IP_LEN + s->ip_opt_len + l4_hdr_len(s);
}

size_t pkt_build(const struct pkt_spec *s, __u8 *buf)
{
	size_t ihl = IP_LEN + s->ip_opt_len, hlen = l4_hdr_len(s);
	__u8 *ip = buf + ETH_LEN, *l4 = ip + ihl, *payload = l4 + hlen;

	memset(buf, 0, PKT_MAX);
	memcpy(buf, s->dmac, 6);
	memcpy(buf + 6, s->smac, 6);
	put16(buf + 12, 0x0800);
	for (size_t i = 0; i < s->payload_len; i++)
		payload[i] = i * 37 + 11;

	__u16 l4_len = hlen + s->payload_len;

	ip[0] = 0x40 | ihl / 4;
	put16(ip + 2, ihl + l4_len);
	put16(ip + 4, s->ip_id);
	put16(ip + 6, s->frag_off);
	ip[8] = s->ttl;
	ip[9] = s->proto;
	memcpy(ip + 12, &s->saddr, 4);
	memcpy(ip + 16, &s->daddr, 4);
	if (s->ip_opt_len) /* NOPs, then End of Options List */
		memset(ip + IP_LEN, 1, s->ip_opt_len - 1);
	put16(ip + 10, csum_ref_finish(csum_ref_add(0, ip, ihl)));

	if (hlen) {
		switch (s->proto) {
		case IPPROTO_TCP:
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
			put32(l4 + 4, 0x1000beef);
			put32(l4 + 8, s->tcp_flags & TCP_ACK ? 0x2000cafe : 0);
			l4[12] = (TCP_LEN / 4) << 4;
			l4[13] = s->tcp_flags;
			put16(l4 + 14, 64240);
			put16(l4 + 16, l4_csum(ip, IPPROTO_TCP, l4, l4_len, 16));
			break;
		case IPPROTO_UDP:
			put16(l4, s->sport);
			put16(l4 + 2, s->dport);
			put16(l4 + 4, l4_len);
			if (!s->udp_no_csum)
				put16(l4 + 6, l4_csum(ip, IPPROTO_UDP, l4, l4_len, 6));
			break;
		case IPPROTO_ICMP:
			l4[0] = s->icmp_type;
			put16(l4 + 4, s->sport);
			put16(l4 + 6, s->dport);
			put16(l4 + 2, l4_csum(ip, IPPROTO_ICMP, l4, l4_len, 2));
			break;
		}
	}
	return ETH_LEN + ihl + l4_len;
}

void pkt_refresh_csums(__u8 *frame, size_t len)
{
	__u8 *ip = frame + ETH_LEN;
	struct pkt_csums c;
	size_t ihl = (ip[0] & 0xf) * 4;

	if (pkt_csums(frame, len, &c))
		return;
	put16(ip + 10, c.ip_want);
	switch (ip[9]) {
	case IPPROTO_TCP:
		put16(ip + ihl + 16, c.l4_want);
		break;
	case IPPROTO_UDP:
		if (c.l4_want)
			put16(ip + ihl + 6, c.l4_want);
		break;
	case IPPROTO_ICMP:
		put16(ip + ihl + 2, c.l4_want);
		break;
	}
}

size_t pkt_build_arp(const __u8 smac[6], __be32 spa, __be32 tpa, __u8 *buf)
{
	__u8 *arp = buf + ETH_LEN;

	memset(buf, 0, PKT_MAX);
	memset(buf, 0xff, 6);
	memcpy(buf + 6, smac, 6);
	put16(buf + 12, 0x0806);
	put16(arp, 1);	    /* Ethernet */
	put16(arp + 2, 0x0800); /* IPv4 */
	arp[4] = 6;
	arp[5] = 4;
	put16(arp + 6, 1); /* request */
	memcpy(arp + 8, smac, 6);
	memcpy(arp + 14, &spa, 4);
	memcpy(arp + 24, &tpa, 4);
	return 60; /* padded to the Ethernet minimum */
}

size_t pkt_build_ipv6(const __u8 dmac[6], const __u8 smac[6], __u8 *buf)
{
	static const __u8 src[16] = { 0xfe, 0x80, [15] = 0x10 }, dst[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 5 };
	__u8 *ip6 = buf + ETH_LEN, *udp = ip6 + 40;

	memset(buf, 0, PKT_MAX);
	memcpy(buf, dmac, 6);
	memcpy(buf + 6, smac, 6);
	put16(buf + 12, 0x86dd);
	ip6[0] = 0x60;
	put16(ip6 + 4, UDP_LEN + 4);
	ip6[6] = IPPROTO_UDP;
	ip6[7] = 64;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	put16(udp, 40000);
	put16(udp + 2, 53);
	put16(udp + 4, UDP_LEN + 4);
	memcpy(udp + 8, "qnat", 4);

	__u32 sum = csum_ref_add(0, ip6 + 8, 32);
	__u8 tail[8] = { 0, 0, 0, UDP_LEN + 4, 0, 0, 0, IPPROTO_UDP };

	sum = csum_ref_add(sum, tail, sizeof(tail));
	put16(udp + 6, csum_ref_finish(csum_ref_add(sum, udp, UDP_LEN + 4)));
	return ETH_LEN + 40 + UDP_LEN + 4;
}

int pkt_csums(const void *frame, size_t len, struct pkt_csums *c)
{
	const __u8 *b = frame, *ip = b + ETH_LEN;
	__u8 hdr[60];
	size_t ihl, tot;

	memset(c, 0, sizeof(*c));
	c->l4_name = "no l4 checksum";
	if (len < ETH_LEN + IP_LEN || get16(b + 12) != 0x0800)
		return -1;
	ihl = (ip[0] & 0xf) * 4;
	tot = get16(ip + 2);
	if (ihl < IP_LEN || ETH_LEN + tot > len || tot < ihl || tot - ihl > PKT_MAX)
		return -1;

	memcpy(hdr, ip, ihl);
	hdr[10] = hdr[11] = 0;
	c->ip = get16(ip + 10);
	c->ip_want = csum_ref_finish(csum_ref_add(0, hdr, ihl));
	if (is_fragment(ip))
		return 0;

	const __u8 *l4 = ip + ihl;
	__u16 l4_len = tot - ihl;

	switch (ip[9]) {
	case IPPROTO_TCP:
		if (l4_len < TCP_LEN)
			return -1;
		c->l4_name = "tcp checksum";
		c->l4 = get16(l4 + 16);
		c->l4_want = l4_csum(ip, IPPROTO_TCP, l4, l4_len, 16);
		break;
	case IPPROTO_UDP:
		if (l4_len < UDP_LEN)
			return -1;
		c->l4 = get16(l4 + 6);
		if (!c->l4) { /* "no checksum": nothing to verify */
			c->l4_name = "udp checksum (none)";
			break;
		}
		c->l4_name = "udp checksum";
		c->l4_want = l4_csum(ip, IPPROTO_UDP, l4, l4_len, 6);
		break;
	case IPPROTO_ICMP:
		if (l4_len < ICMP_LEN)
			return -1;
		c->l4_name = "icmp checksum";
		c->l4 = get16(l4 + 2);
		c->l4_want = l4_csum(ip, IPPROTO_ICMP, l4, l4_len, 2);
		break;
	}
	return 0;
}

__be32 ip4(const char *dotted)
{
	struct in_addr a;

	if (inet_pton(AF_INET, dotted, &a) != 1) {
		fprintf(stderr, "bad address in a test: %s\n", dotted);
		return 0;
	}
	return a.s_addr;
}

const char *ip4_str(__be32 addr)
{
	static char bufs[4][INET_ADDRSTRLEN];
	static int next;
	char *b = bufs[next++ & 3];

	inet_ntop(AF_INET, &addr, b, INET_ADDRSTRLEN);
	return b;
}
