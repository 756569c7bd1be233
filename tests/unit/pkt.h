/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frames for the tests: Ethernet + IPv4 + TCP/UDP/ICMP echo (or another
 * protocol's bytes), ARP and IPv6, every checksum computed from scratch by a
 * reference RFC 1071 implementation that shares nothing with the BPF code.
 */
#ifndef QNAT_TEST_PKT_H
#define QNAT_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <netinet/in.h>
#include <linux/types.h>

#define PKT_MAX 256

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_PSH 0x08
#define TCP_ACK 0x10

#define ICMP_ECHO_REPLY 0
#define ICMP_DEST_UNREACH 3
#define ICMP_ECHO_REQUEST 8

/* An IPv4 frame.  Addresses in network order, everything else host order. */
struct pkt_spec {
	__u8 dmac[6];
	__u8 smac[6];
	__be32 saddr;
	__be32 daddr;
	__u8 proto;
	__u8 ttl;
	__u16 ip_id;
	__u16 frag_off; /* flags and offset, as in the header: 0x2000 is MF */
	__u16 sport;	/* TCP, UDP; ICMP echo: the identifier */
	__u16 dport;	/* TCP, UDP; ICMP echo: the sequence number */
	__u8 tcp_flags;
	__u8 icmp_type;
	bool udp_no_csum; /* send UDP with checksum 0 */
	__u8 ip_opt_len;  /* IPv4 options (NOPs then an end), a multiple of 4, at most 40 */
	__u16 payload_len;
};

/* Builds the frame into buf (PKT_MAX bytes); returns its length. */
size_t pkt_build(const struct pkt_spec *s, __u8 *buf);
/* An ARP request "who has tpa, tell spa" from smac. */
size_t pkt_build_arp(const __u8 smac[6], __be32 spa, __be32 tpa, __u8 *buf);
/* An IPv6 UDP frame (the programs only need to recognise it as not IPv4). */
size_t pkt_build_ipv6(const __u8 dmac[6], const __u8 smac[6], __u8 *buf);

/* Offset of the L4 payload in a frame pkt_build() made. */
size_t pkt_payload_off(const struct pkt_spec *s);
/* Recomputes every checksum of an IPv4 frame after an edit (UDP keeps 0). */
void pkt_refresh_csums(__u8 *frame, size_t len);

/* RFC 1071 over big-endian 16-bit words, an odd last byte padded with 0. */
__u32 csum_ref_add(__u32 sum, const void *data, size_t len);
/* Folds and complements: the checksum field's value, host order. */
__u16 csum_ref_finish(__u32 sum);

/* A frame's checksums as found and as recomputed from scratch. */
struct pkt_csums {
	__u16 ip, ip_want;
	__u16 l4, l4_want; /* zero both when there is no L4 checksum to check */
	const char *l4_name;
};
/* Fills c for an Ethernet + IPv4 frame; -1 if it is not one. */
int pkt_csums(const void *frame, size_t len, struct pkt_csums *c);

__be32 ip4(const char *dotted);
const char *ip4_str(__be32 addr); /* a static buffer, rotating among 4 */

#endif /* QNAT_TEST_PKT_H */
