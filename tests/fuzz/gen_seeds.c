// SPDX-License-Identifier: GPL-2.0
/*
 * Writes the fuzzer's seed corpus: real packets of the world (world.h) for
 * every program -- requests, replies, new flows, forwards, hairpin, ICMP
 * errors quoting real flows and garbage, fragments -- and the hostile
 * classics: truncated headers, bad IHL and total lengths, IP options, odd
 * fragment offsets, VLAN tags, zero-length payloads, ARP, IPv6; for the host
 * policy, DHCP, DNS, ICMP, SYNs to host ports, replies to the host's
 * connections, the host's own packets, IPv6 TCP and UDP; NAT66: the IPv6
 * flows, new ones, replies, ICMPv6 errors about them, extension headers,
 * fragments, strangers and spoofers.
 *
 *   gen_seeds DIR     one file per input: the selector byte, then the frame
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "world.h"

static const char *dir;
static int nfiles;

static void emit(const char *name, __u8 sel, const __u8 *frame, size_t len)
{
	char path[512];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%02x-%s", dir, sel, name);
	f = fopen(path, "wb");
	if (!f || fputc(sel, f) == EOF || fwrite(frame, 1, len, f) != len || fclose(f)) {
		fprintf(stderr, "gen_seeds: %s: %s\n", path, strerror(errno));
		exit(1);
	}
	nfiles++;
}

static void emit_spec(const char *name, __u8 sel, const struct pkt_spec *s)
{
	__u8 buf[PKT_MAX];

	emit(name, sel, buf, pkt_build(s, buf));
}

static void put16(__u8 *p, __u16 v)
{
	p[0] = v >> 8;
	p[1] = v;
}

/* The header's checksum recomputed after an edit (the L4 ones left as they were). */
static void ip_refresh(__u8 *frame)
{
	__u8 *ip = frame + 14;
	size_t ihl = (ip[0] & 0xf) * 4;

	if (ihl < 20)
		ihl = 20;
	ip[10] = ip[11] = 0;
	put16(ip + 10, csum_ref_finish(csum_ref_add(0, ip, ihl)));
}

/* The classic malformations of one IPv4 frame. */
static void emit_hostile(const char *name, __u8 sel, const struct pkt_spec *s)
{
	static const size_t cuts[] = { 14, 15, 20, 33, 34, 37, 41, 45, 53 };
	__u8 base[PKT_MAX], buf[PKT_MAX + 64];
	size_t len = pkt_build(s, base);
	char n[128];

	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		if (cuts[i] >= len)
			continue;
		snprintf(n, sizeof(n), "%s-cut%zu", name, cuts[i]);
		emit(n, sel, base, cuts[i]);
	}
	static const __u8 ihls[] = { 0, 4, 6, 15 };
	for (size_t i = 0; i < sizeof(ihls); i++) {
		memcpy(buf, base, len);
		buf[14] = 0x40 | ihls[i];
		ip_refresh(buf);
		snprintf(n, sizeof(n), "%s-ihl%u", name, ihls[i]);
		emit(n, sel, buf, len);
	}
	static const __u16 tots[] = { 0, 19, 21, 40, 0xffff };
	for (size_t i = 0; i < sizeof(tots) / sizeof(tots[0]); i++) {
		memcpy(buf, base, len);
		put16(buf + 14 + 2, tots[i]);
		ip_refresh(buf);
		snprintf(n, sizeof(n), "%s-tot%u", name, tots[i]);
		emit(n, sel, buf, len);
	}
	memcpy(buf, base, len);
	buf[14] = 0x65; /* version 6 behind an IPv4 ethertype */
	snprintf(n, sizeof(n), "%s-v6hdr", name);
	emit(n, sel, buf, len);
	memcpy(buf, base, len);
	for (size_t i = 0; i < 48; i++)
		buf[len + i] = 0xa5 ^ i; /* trailing bytes past the total length */
	snprintf(n, sizeof(n), "%s-trailer", name);
	emit(n, sel, buf, len + 48);
	memcpy(buf, base, len);
	buf[14 + 10] ^= 0x55; /* wrong header checksum */
	snprintf(n, sizeof(n), "%s-badsum", name);
	emit(n, sel, buf, len);
}

/* Variations of one packet: TTLs, options, fragments, empty payload. */
static void emit_variants(const char *name, __u8 sel, struct pkt_spec s)
{
	static const struct {
		const char *what;
		__u16 frag_off;
	} frags[] = { { "first", 0x2000 }, { "off1", 0x0001 }, { "off3mf", 0x2003 }, { "off185", 0x00b9 } };
	char n[128];
	struct pkt_spec v;

	emit_spec(name, sel, &s);
	v = s;
	v.ttl = 1;
	snprintf(n, sizeof(n), "%s-ttl1", name);
	emit_spec(n, sel, &v);
	v.ttl = 0;
	snprintf(n, sizeof(n), "%s-ttl0", name);
	emit_spec(n, sel, &v);
	v = s;
	v.ip_opt_len = 4;
	snprintf(n, sizeof(n), "%s-opt4", name);
	emit_spec(n, sel, &v);
	v.ip_opt_len = 40;
	snprintf(n, sizeof(n), "%s-opt40", name);
	emit_spec(n, sel, &v);
	v = s;
	v.payload_len = 0;
	snprintf(n, sizeof(n), "%s-empty", name);
	emit_spec(n, sel, &v);
	for (size_t i = 0; i < sizeof(frags) / sizeof(frags[0]); i++) {
		v = s;
		v.frag_off = frags[i].frag_off;
		v.ip_id = FRAG_ID;
		snprintf(n, sizeof(n), "%s-frag-%s", name, frags[i].what);
		emit_spec(n, sel, &v);
	}
	if (s.proto == IPPROTO_UDP) {
		v = s;
		v.udp_no_csum = true;
		snprintf(n, sizeof(n), "%s-nocsum", name);
		emit_spec(n, sel, &v);
	}
	if (s.proto == IPPROTO_TCP) {
		static const __u8 flags[] = { TCP_ACK, TCP_FIN | TCP_ACK, TCP_RST, TCP_SYN | TCP_ACK, TCP_PSH | TCP_ACK };
		for (size_t i = 0; i < sizeof(flags); i++) {
			v = s;
			v.tcp_flags = flags[i];
			snprintf(n, sizeof(n), "%s-tcp%02x", name, flags[i]);
			emit_spec(n, sel, &v);
		}
	}
}

/* An 802.1Q (or 802.1ad) tag in front of the frame's own ethertype. */
static void emit_vlan(const char *name, __u8 sel, const struct pkt_spec *s, __u16 tpid)
{
	__u8 base[PKT_MAX], buf[PKT_MAX + 4];
	size_t len = pkt_build(s, base);

	memcpy(buf, base, 12);
	put16(buf + 12, tpid);
	put16(buf + 14, 100);
	memcpy(buf + 16, base + 12, len - 12);
	emit(name, sel, buf, len + 4);
}

/*
 * An ICMP error from `from` to `to` quoting qlen bytes of the IPv4 packet in
 * quoted (a frame); trailer bytes follow the datagram.
 */
static void emit_icmp_err(const char *name, __u8 sel, __be32 from, __be32 to, __u8 type, __u8 code,
			  const __u8 *quoted, size_t qlen, size_t trailer)
{
	struct pkt_spec s = outside_pkt(IPPROTO_ICMP, from, 0, to, 0);
	__u8 buf[PKT_MAX + 64];
	size_t len;

	if (qlen > PKT_MAX - 14 - 20 - 8)
		qlen = PKT_MAX - 14 - 20 - 8;
	s.icmp_type = type;
	s.payload_len = qlen;
	s.frag_off = 0;
	len = pkt_build(&s, buf);
	buf[14 + 20 + 1] = code;
	memset(buf + 14 + 20 + 4, 0, 4);
	if (type == 3 && code == 4)
		put16(buf + 14 + 20 + 6, 1400); /* fragmentation needed: the next hop's MTU */
	memcpy(buf + 14 + 20 + 8, quoted + 14, qlen);
	pkt_refresh_csums(buf, len);
	for (size_t i = 0; i < trailer; i++)
		buf[len + i] = 0x3c + i;
	emit(name, sel, buf, len + trailer);
}

/* The request of a flow as it left the uplink: what an error quotes. */
static size_t translated_request(const struct world_flow *f, __u8 *buf)
{
	struct pkt_spec s = routed(guest_pkt(f->proto, f->guest, f->sport, f->server, f->dport));

	s.saddr = EXT_ADDR;
	s.udp_no_csum = f->udp_no_csum;
	return pkt_build(&s, buf);
}

static void seeds_port_in(void)
{
	const __u8 tap = FP_PORT_IN, vport = FP_PORT_IN | SEL_VPORT;
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	struct pkt_spec s;
	char n[128];

	/* The world's own flows, from their ports. */
	for (size_t i = 0; i < world_nflows; i++) {
		const struct world_flow *f = &world_flows[i];

		s = guest_pkt(f->proto, f->guest, f->sport, f->server, f->dport);
		s.udp_no_csum = f->udp_no_csum;
		snprintf(n, sizeof(n), "flow-%s", f->name);
		emit_variants(n, f->via == VIA_VPORT ? vport : tap, s);
	}
	/* New flows: opened, refused by the guest cap, by a full table. */
	for (size_t i = 0; i < sizeof(protos); i++) {
		s = guest_pkt(protos[i], GUEST3, 41234, SERVER, 8080);
		snprintf(n, sizeof(n), "new-%u", protos[i]);
		emit_variants(n, tap, s);
		emit_spec(n, vport, &s);
		emit_spec(n, tap | SEL_FULL, &s);
		emit_spec(n, tap | SEL_EVICT, &s);
		emit_spec(n, vport | SEL_EVICT | SEL_PORTSEC, &s);
		s.daddr = SERVER_NO_NEIGH;
		snprintf(n, sizeof(n), "new-noneigh-%u", protos[i]);
		emit_spec(n, vport, &s);
		s = guest_pkt(protos[i], GUEST1, 41235, SERVER, 8081);
		snprintf(n, sizeof(n), "new-capped-%u", protos[i]);
		emit_spec(n, tap | SEL_CAP, &s);
		emit_spec(n, tap, &s);
		s.sport = 80; /* below the port range: a port is picked */
		snprintf(n, sizeof(n), "new-lowport-%u", protos[i]);
		emit_spec(n, tap, &s);
		s = guest_pkt(protos[i], GUEST3, 41236, OTHER_NET_HOST, 25);
		snprintf(n, sizeof(n), "other-route-%u", protos[i]);
		emit_spec(n, tap, &s);
	}
	/* A guest reaching the forwards by the uplink address: hairpin. */
	s = world_hairpin_pkt();
	emit_variants("hairpin-existing", tap, s);
	s.saddr = GUEST3;
	emit_variants("hairpin-new", tap, s);
	s.dport = 8001;
	emit_spec("hairpin-range", tap, &s);
	s.dport = 22;
	emit_spec("hairpin-noforward", tap, &s);
	s.tcp_flags = TCP_ACK;
	s.dport = 2222;
	emit_spec("hairpin-ack-noflow", tap, &s);
	s = guest_pkt(IPPROTO_UDP, GUEST3, 41237, EXT_ADDR, 5353);
	emit_variants("hairpin-udp-any", tap, s);
	s.dport = 6000;
	emit_spec("hairpin-udp-self", tap, &s);
	/* The server's side of the hairpin flow, and of the forwarded flows. */
	s = guest_pkt(IPPROTO_TCP, GUEST2, 22, GATEWAY, HAIRPIN_CPORT);
	s.tcp_flags = TCP_SYN | TCP_ACK;
	emit_variants("hairpin-server", vport, s);
	s.dport = 53;
	s.proto = IPPROTO_UDP;
	emit_spec("gateway-dns", vport, &s);
	for (size_t i = 0; i < world_ninbound; i++) {
		const struct world_inbound *in = &world_inbound[i];

		s = guest_pkt(in->proto, in->guest, in->gport, in->client, in->cport);
		s.tcp_flags = TCP_SYN | TCP_ACK;
		snprintf(n, sizeof(n), "dnat-answer-%s", in->name);
		emit_variants(n, tap, s);
	}
	/* The bridge's own: other guests, broadcasts, multicast, DHCP. */
	static const __be32 locals[] = { GUEST2, IP4(192, 168, 122, 255), IP4(255, 255, 255, 255),
					 IP4(224, 0, 0, 251), GATEWAY };
	for (size_t i = 0; i < sizeof(locals) / sizeof(locals[0]); i++) {
		s = guest_pkt(IPPROTO_UDP, GUEST1, 5353, locals[i], 5353);
		snprintf(n, sizeof(n), "local-%zu", i);
		emit_spec(n, tap, &s);
	}
	s = guest_pkt(IPPROTO_UDP, 0, 68, IP4(255, 255, 255, 255), 67);
	emit_spec("dhcp-discover", tap, &s);
	/* Spoofed sources; what the fast path leaves to the kernel. */
	static const __be32 spoofs[] = { IP4(10, 0, 0, 5), EXT_ADDR, IP4(192, 168, 123, 10), 0 };
	for (size_t i = 0; i < sizeof(spoofs) / sizeof(spoofs[0]); i++) {
		s = guest_pkt(IPPROTO_TCP, spoofs[i], 40000, SERVER, 80);
		snprintf(n, sizeof(n), "spoof-%zu", i);
		emit_spec(n, tap, &s);
	}
	s = guest_pkt(IPPROTO_ICMP, GUEST1, 0, SERVER, 0);
	s.icmp_type = ICMP_DEST_UNREACH;
	emit_spec("icmp-error-out", tap, &s);
	s.icmp_type = 13; /* timestamp */
	emit_spec("icmp-timestamp", tap, &s);
	s = guest_pkt(47, GUEST1, 0, SERVER, 0); /* GRE */
	emit_spec("gre", tap, &s);
	s.proto = 0;
	emit_spec("proto0", tap, &s);
	/* Between guests: the L2 fast path, by the MAC learnt for each port. */
	s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, GUEST2, 22);
	guest_mac(GUEST2, s.dmac);
	emit_variants("l2-to-guest2", tap, s);
	s.daddr = SERVER; /* routed by the other guest? still its frame */
	emit_spec("l2-to-guest2-offlink", tap, &s);
	s = guest_pkt(IPPROTO_UDP, GUEST2, 40000, GUEST1, 53);
	guest_mac(GUEST1, s.dmac);
	emit_spec("l2-to-guest1", vport, &s);
	emit_spec("l2-to-self", tap, &s);
	/* Port security: the port's first MAC and address bind it. */
	s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, SERVER, 80);
	emit_spec("portsec-ok", tap | SEL_PORTSEC, &s);
	s.saddr = GUEST3;
	emit_spec("portsec-other-ip", tap | SEL_PORTSEC, &s);
	s.smac[5] = 0x99;
	emit_spec("portsec-other-mac", tap | SEL_PORTSEC, &s);
	{
		__u8 buf[PKT_MAX], mac[6];
		size_t len;

		guest_mac(GUEST1, mac);
		len = pkt_build_arp(mac, GUEST3, GATEWAY, buf);
		emit("portsec-arp-spoof", tap | SEL_PORTSEC, buf, len);
	}
	/* Rogue servers and routers: the guards drop them (check_guards). */
	s = guest_pkt(IPPROTO_UDP, GUEST1, 67, 0xffffffff, 68);
	emit_spec("portsec-dhcp4-server", tap | SEL_PORTSEC, &s);
	{
		static const __u8 all_nodes[16] = { 0xff, 0x02, [15] = 1 };
		__u8 buf[PKT_MAX];
		size_t len;

		emit("portsec-ra", tap | SEL_PORTSEC, buf, world_ipv6_pkt(WORLD_GUEST6, all_nodes, 58, 0x8600, 0, true, buf));
		emit("portsec-redirect", vport | SEL_PORTSEC, buf,
		     world_ipv6_pkt(WORLD_GUEST6, all_nodes, 58, 0x8900, 0, true, buf));
		emit("portsec-dhcp6-server", tap | SEL_PORTSEC, buf,
		     world_ipv6_pkt(WORLD_GUEST6, all_nodes, IPPROTO_UDP, 547, 546, true, buf));
		len = world_ipv6_pkt(WORLD_GUEST6, all_nodes, 0, 0, 0, true, buf); /* an RA behind hop-by-hop options */
		memcpy(buf + 14 + 40, (const __u8[9]){ 58, 0, 1, 4, 0, 0, 0, 0, 134 }, 9);
		emit("portsec-ra-hbh", tap | SEL_PORTSEC, buf, len);
	}
	s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, SERVER, 80);
	emit_hostile("hostile-tcp", tap, &s);
	emit_vlan("vlan-tcp", tap, &s, 0x8100);
	s = guest_pkt(IPPROTO_ICMP, GUEST3, 0x4444, SERVER, 0);
	emit_hostile("hostile-icmp", vport, &s);
}

static void seeds_uplink_in(__u8 sel)
{
	const bool xdp = (sel & 3) == FP_XDP;
	struct pkt_spec s;
	__u8 q[PKT_MAX];
	char n[128];

	/* Replies to every flow of the world. */
	for (size_t i = 0; i < world_nflows; i++) {
		const struct world_flow *f = &world_flows[i];

		s = world_reply(f);
		snprintf(n, sizeof(n), "reply-%s", f->name);
		emit_variants(n, sel, s);
		emit_spec(n, sel | SEL_FULL, &s);
		s.daddr = IP4(198, 51, 100, 2); /* another address */
		snprintf(n, sizeof(n), "reply-otheraddr-%s", f->name);
		emit_spec(n, sel, &s);
	}
	s = world_frag_first();
	emit_spec("reply-first-fragment", sel, &s);
	s.frag_off = 8; /* the next one: 64 bytes on */
	emit_spec("reply-later-fragment", sel, &s);
	s.frag_off = 3; /* an odd offset */
	emit_spec("reply-later-fragment-odd", sel, &s);
	s.ip_id = FRAG_ID + 1;
	emit_spec("reply-later-fragment-unknown", sel, &s);
	if (xdp) {
		s = world_reply(&world_flows[0]);
		emit_hostile("hostile-tcp", sel, &s);
		emit_vlan("vlan-tcp", sel, &s, 0x8100);
		return;
	}

	/* Inbound: the forwarded flows, new ones, refused ones. */
	for (size_t i = 0; i < world_ninbound; i++) {
		s = world_inbound_pkt(&world_inbound[i]);
		s.tcp_flags = TCP_ACK;
		snprintf(n, sizeof(n), "dnat-existing-%s", world_inbound[i].name);
		emit_variants(n, sel, s);
		s.saddr = STRANGER;
		s.tcp_flags = TCP_SYN;
		snprintf(n, sizeof(n), "dnat-new-%s", world_inbound[i].name);
		emit_variants(n, sel, s);
		emit_spec(n, sel | SEL_FULL, &s);
		s.saddr = GUEST3; /* a subnet source, from outside */
		snprintf(n, sizeof(n), "dnat-spoofed-%s", world_inbound[i].name);
		emit_spec(n, sel, &s);
	}
	s = outside_pkt(IPPROTO_TCP, STRANGER, 40000, EXT_ADDR, 8002);
	s.tcp_flags = TCP_SYN;
	emit_spec("dnat-range", sel, &s);
	emit_spec("dnat-range-capped", sel | SEL_CAP, &s);
	s.tcp_flags = TCP_ACK;
	emit_spec("dnat-ack-noflow", sel, &s);
	s.dport = 22;
	s.tcp_flags = TCP_SYN;
	emit_spec("syn-noforward", sel, &s);
	s = outside_pkt(IPPROTO_UDP, STRANGER, 40000, EXT_ADDR, 6000);
	emit_spec("dnat-udp-guest3", sel, &s);
	/* Endpoint-independent filtering: anyone to the UDP flow's mapping. */
	s = outside_pkt(IPPROTO_UDP, STRANGER, 9999, EXT_ADDR, 5000);
	emit_variants("eif-stranger", sel | SEL_EIF, s);
	emit_spec("eif-stranger", sel, &s);
	emit_spec("eif-stranger", sel | SEL_EIF | SEL_CAP, &s);
	/* The hairpin flow's reply tuple, from outside: a subnet source. */
	s = outside_pkt(IPPROTO_TCP, HAIRPIN_CLIENT, HAIRPIN_CPORT, EXT_ADDR, HAIRPIN_HPORT);
	s.tcp_flags = TCP_ACK;
	emit_spec("hairpin-tuple-from-outside", sel, &s);
	/* Straight to a guest; echo requests to the host. */
	s = outside_pkt(IPPROTO_TCP, SERVER, 80, GUEST1, 40000);
	emit_spec("to-guest", sel, &s);
	s = outside_pkt(IPPROTO_ICMP, SERVER, 0, EXT_ADDR, 0x1234);
	s.icmp_type = ICMP_ECHO_REQUEST;
	emit_spec("echo-request", sel, &s);

	/* ICMP errors about every flow: quoting 8 bytes, whole headers, all of it. */
	for (size_t i = 0; i < world_nflows; i++) {
		const struct world_flow *f = &world_flows[i];
		size_t qlen = translated_request(f, q) - 14;

		snprintf(n, sizeof(n), "icmp-unreach-%s", f->name);
		emit_icmp_err(n, sel, SERVER, EXT_ADDR, 3, 3, q, 28, 0);
		snprintf(n, sizeof(n), "icmp-fragneeded-%s", f->name);
		emit_icmp_err(n, sel, ROUTER, EXT_ADDR, 3, 4, q, 48, 0);
		snprintf(n, sizeof(n), "icmp-timeexceeded-whole-%s", f->name);
		emit_icmp_err(n, sel, ROUTER, EXT_ADDR, 11, 0, q, qlen, 0);
		snprintf(n, sizeof(n), "icmp-unreach-trailer-%s", f->name);
		emit_icmp_err(n, sel, SERVER, EXT_ADDR, 3, 3, q, 28, 24);
		snprintf(n, sizeof(n), "icmp-paramprob-short-%s", f->name);
		emit_icmp_err(n, sel, SERVER, EXT_ADDR, 12, 0, q, 22, 0);
	}
	translated_request(&world_flows[0], q);
	emit_icmp_err("icmp-unreach-ttl1", sel, SERVER, EXT_ADDR, 3, 3, q, 28, 0);
	emit_icmp_err("icmp-unreach-to-guest", sel, SERVER, GUEST1, 3, 3, q, 28, 0);
	q[14] = 0x46; /* a quoted header with options */
	emit_icmp_err("icmp-quote-ihl6", sel, SERVER, EXT_ADDR, 3, 3, q, 32, 0);
	translated_request(&world_flows[0], q);
	memcpy(q + 14 + 12, &(__be32){ GUEST1 }, 4); /* quoting an untranslated packet */
	emit_icmp_err("icmp-quote-untranslated", sel, SERVER, EXT_ADDR, 3, 3, q, 28, 0);
	for (size_t i = 0; i < sizeof(q); i++)
		q[i] = i * 73 + 5;
	emit_icmp_err("icmp-quote-garbage", sel, SERVER, EXT_ADDR, 3, 1, q, 40, 0);
	q[14] = 0x45;
	emit_icmp_err("icmp-quote-garbage-v4", sel, SERVER, EXT_ADDR, 11, 0, q, 40, 0);
	s = world_reply(&world_flows[0]);
	emit_hostile("hostile-tcp", sel, &s);
	emit_vlan("vlan-tcp", sel, &s, 0x8100);
	emit_vlan("qinq-tcp", sel, &s, 0x88a8);
	s = world_reply(&world_flows[2]);
	emit_hostile("hostile-icmp", sel, &s);
}

static void seeds_uplink_out(void)
{
	const __u8 sel = FP_UPLINK_OUT;
	static const __u8 protos[] = { IPPROTO_TCP, IPPROTO_UDP, IPPROTO_ICMP };
	struct pkt_spec s;
	char n[128];

	for (size_t i = 0; i < world_nflows; i++) {
		const struct world_flow *f = &world_flows[i];

		s = routed(guest_pkt(f->proto, f->guest, f->sport, f->server, f->dport));
		s.udp_no_csum = f->udp_no_csum;
		snprintf(n, sizeof(n), "egress-%s", f->name);
		emit_variants(n, sel, s);
	}
	for (size_t i = 0; i < sizeof(protos); i++) {
		s = routed(guest_pkt(protos[i], GUEST3, 41234, SERVER, 8080));
		snprintf(n, sizeof(n), "egress-new-%u", protos[i]);
		emit_variants(n, sel, s);
		emit_spec(n, sel | SEL_FULL, &s);
		s.saddr = GUEST1;
		emit_spec(n, sel | SEL_CAP, &s);
		s.saddr = GATEWAY;
		snprintf(n, sizeof(n), "egress-gateway-%u", protos[i]);
		emit_spec(n, sel, &s);
		s.saddr = EXT_ADDR;
		snprintf(n, sizeof(n), "egress-host-%u", protos[i]);
		emit_spec(n, sel, &s);
	}
	s = routed(guest_pkt(IPPROTO_ICMP, GUEST1, 0, SERVER, 0));
	s.icmp_type = ICMP_DEST_UNREACH;
	emit_spec("egress-icmp-error", sel, &s);
	/* A guest's ICMP errors about packets of its forwarded flows, as
	 * delivered to it: translated back out (quote and all). */
	for (size_t i = 0; i < world_ninbound; i++) {
		const struct world_inbound *in = &world_inbound[i];
		struct pkt_spec d = outside_pkt(in->proto, in->client, in->cport, in->guest, in->gport);
		__u8 q[PKT_MAX];
		size_t qlen;

		d.tcp_flags = TCP_ACK;
		qlen = pkt_build(&d, q) - 14;
		snprintf(n, sizeof(n), "egress-guest-unreach-%s", in->name);
		emit_icmp_err(n, sel, in->guest, in->client, 3, 3, q, 28, 0);
		snprintf(n, sizeof(n), "egress-guest-fragneeded-whole-%s", in->name);
		emit_icmp_err(n, sel, in->guest, in->client, 3, 4, q, qlen, 0);
		snprintf(n, sizeof(n), "egress-guest-unreach-trailer-%s", in->name);
		emit_icmp_err(n, sel, in->guest, in->client, 3, 3, q, 28, 20);
		snprintf(n, sizeof(n), "egress-guest-unreach-other-%s", in->name);
		emit_icmp_err(n, sel, GUEST3, in->client, 3, 3, q, 28, 0);
	}
	s = routed(guest_pkt(47, GUEST1, 0, SERVER, 0));
	emit_variants("egress-gre", sel, s);
	s = routed(guest_pkt(IPPROTO_UDP, GUEST1, 41000, SERVER, 53));
	emit_hostile("hostile-udp", sel, &s);
	emit_vlan("vlan-udp", sel, &s, 0x8100);
}

static void seeds_not_ipv4(__u8 sel);

/* The host policy: guests' packets for the host (tc_host_in), the host's
 * packets to guests (tc_host_out), with --host-allow all and gone quiet. */
static void seeds_host(void)
{
	const __u8 in = SEL_HOST_IN, out = SEL_HOST_OUT;
	static const __u8 variants[] = { 0, SEL_HOST_OPEN, SEL_HOST_QUIET };
	static const __be32 hosts[] = { GATEWAY, EXT_ADDR, IP4(100, 64, 0, 1) };
	__u8 buf[PKT_MAX];
	struct pkt_spec s;
	char n[128];

	s = guest_pkt(IPPROTO_UDP, 0, 68, IP4(255, 255, 255, 255), 67);
	emit_variants("host-dhcp-discover", in, s);
	s = guest_pkt(IPPROTO_UDP, GUEST1, 68, GATEWAY, 67);
	emit_spec("host-dhcp-renew", in, &s);
	s = guest_pkt(IPPROTO_UDP, GUEST1, 40000, GATEWAY, 53);
	emit_variants("host-dns-udp", in, s);
	s.proto = IPPROTO_TCP;
	emit_spec("host-dns-tcp", in, &s);
	s.daddr = EXT_ADDR;
	emit_spec("host-dns-uplink-addr", in, &s);
	s = guest_pkt(IPPROTO_ICMP, GUEST1, 0x77, GATEWAY, 0);
	emit_variants("host-ping-gateway", in, s);
	s.daddr = EXT_ADDR;
	emit_spec("host-ping-uplink-addr", in, &s);
	s.icmp_type = ICMP_ECHO_REPLY;
	emit_spec("host-echo-reply", in, &s);
	s.icmp_type = ICMP_DEST_UNREACH;
	emit_spec("host-icmp-error", in, &s);
	s.icmp_type = 13; /* timestamp */
	emit_spec("host-icmp-timestamp", in, &s);
	for (size_t i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++) {
		s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, hosts[i], 22);
		snprintf(n, sizeof(n), "host-syn-%zu", i);
		for (size_t v = 0; v < sizeof(variants); v++)
			emit_spec(n, in | variants[v], &s);
		s.dport = 8443; /* --host-allow */
		snprintf(n, sizeof(n), "host-syn-allowed-%zu", i);
		emit_spec(n, in, &s);
	}
	s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, GATEWAY, 22);
	emit_variants("host-syn", in, s);
	emit_hostile("host-syn", in, &s);
	emit_vlan("host-vlan-syn", in, &s, 0x8100);
	s = guest_pkt(IPPROTO_UDP, GUEST2, 40000, GATEWAY, 5001);
	emit_variants("host-udp-allowed", in, s);
	s.dport = 5002;
	emit_spec("host-udp-denied", in, &s);
	s.daddr = IP4(192, 168, 122, 255);
	emit_spec("host-udp-subnet-bcast", in, &s);
	s.daddr = IP4(224, 0, 0, 251);
	s.dport = 5353;
	emit_spec("host-mdns", in, &s);
	s = guest_pkt(47, GUEST1, 0, GATEWAY, 0); /* GRE */
	emit_spec("host-gre", in, &s);
	emit_spec("host-gre", in | SEL_HOST_OPEN, &s);
	s = guest_pkt(IPPROTO_IGMP, GUEST1, 0, IP4(224, 0, 0, 22), 0);
	emit_spec("host-igmp", in, &s);
	/* Routed through the host, and between guests: not the host's. */
	s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, SERVER, 22);
	emit_spec("host-routed", in, &s);
	s.daddr = GUEST2;
	emit_spec("host-other-guest", in, &s);
	/* The host's connections: its packets, the guests' replies, strays. */
	for (size_t i = 0; i < world_nhost_flows; i++) {
		const struct world_host_flow *h = &world_host_flows[i];
		size_t len = world_host_pkt(h, true, buf);

		for (size_t v = 0; v < sizeof(variants); v++) {
			snprintf(n, sizeof(n), "host-reply-%s", h->name);
			emit(n, in | variants[v], buf, len);
		}
		buf[14 + (h->v6 ? 40 : 20) + 3] ^= 1; /* another port of the host */
		snprintf(n, sizeof(n), "host-reply-otherport-%s", h->name);
		emit(n, in, buf, len);
		len = world_host_pkt(h, false, buf);
		snprintf(n, sizeof(n), "host-conn-%s", h->name);
		emit(n, out, buf, len);
		emit(n, out | SEL_HOST_OPEN, buf, len);
		emit(n, out | SEL_HOST_QUIET, buf, len);
	}
	s = guest_pkt(IPPROTO_TCP, GATEWAY, 46000, GUEST3, 443);
	memcpy(s.smac, BRIDGE_MAC, 6);
	guest_mac(GUEST3, s.dmac);
	emit_variants("host-conn-new", out, s);
	s.proto = IPPROTO_UDP;
	emit_spec("host-conn-new-udp", out, &s);
	s.proto = IPPROTO_ICMP;
	emit_spec("host-ping-guest", out, &s);
	s.proto = IPPROTO_TCP;
	s.saddr = SERVER; /* a reply the host routes (or a redirect sends) to a guest */
	emit_spec("host-forwarded", out, &s);
	s.saddr = EXT_ADDR;
	emit_spec("host-conn-uplink-addr", out, &s);
	s.daddr = SERVER;
	emit_spec("host-conn-outside", out, &s);
	/* IPv6: TCP, UDP, ICMPv6, a hop-by-hop header, a fragment. */
	emit("host6-ssh", in, buf, world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, IPPROTO_TCP, 40000, 22, true, buf));
	emit("host6-allowed", in, buf, world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, IPPROTO_TCP, 40000, 8443, true, buf));
	emit("host6-udp", in, buf, world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, IPPROTO_UDP, 40000, 5000, true, buf));
	emit("host6-icmp", in, buf, world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, 58, 0x8700, 0, true, buf));
	emit("host6-frag", in, buf, world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, 44, 0, 0, true, buf));
	{
		__u8 tcp[PKT_MAX];

		/* A hop-by-hop header of 8 bytes, then the TCP SYN. */
		world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, 0, 0, 0, true, buf);
		world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, IPPROTO_TCP, 40000, 22, true, tcp);
		memset(buf + 54, 0, 8);
		buf[54] = IPPROTO_TCP;
		memcpy(buf + 62, tcp + 54, 20);
		buf[14 + 5] = 28;
		emit("host6-hbh-ssh", in, buf, 14 + 40 + 8 + 20);
	}
	emit("host6-conn-new", out, buf,
	     world_ipv6_pkt(WORLD_HOST6, WORLD_GUEST6, IPPROTO_UDP, 46001, 53, false, buf));
	seeds_not_ipv4(in);
	seeds_not_ipv4(out);
}

static void seeds_not_ipv4(__u8 sel)
{
	__u8 buf[PKT_MAX];
	__u8 mac[6];

	guest_mac(GUEST1, mac);
	emit("arp", sel, buf, pkt_build_arp(mac, GUEST1, GATEWAY, buf));
	emit("ipv6", sel, buf, pkt_build_ipv6(BRIDGE_MAC, mac, buf));
	memset(buf, 0, 14);
	buf[12] = 0x08;
	emit("eth-only", sel, buf, 14);
	buf[12] = 0x88;
	buf[13] = 0xcc; /* LLDP */
	memset(buf + 14, 0x02, 32);
	emit("lldp", sel, buf, 46);
}

/* An 8-byte extension header (nh) put in front of an IPv6 frame's upper
 * layer: options of padding, or a fragment header of offset and flags fo. */
static size_t ext6(__u8 *buf, size_t len, __u8 nh, __u16 fo)
{
	__u8 *ip6 = buf + 14;

	memmove(ip6 + 48, ip6 + 40, len - 14 - 40);
	memset(ip6 + 40, 0, 8);
	ip6[40] = ip6[6];
	if (nh == 44) {
		put16(ip6 + 42, fo);
		put16(ip6 + 46, 0x6161); /* the identification */
	} else {
		ip6[42] = 1; /* PadN */
		ip6[43] = 4;
	}
	ip6[6] = nh;
	put16(ip6 + 4, (ip6[4] << 8 | ip6[5]) + 8);
	return len + 8;
}

/* NAT66 (--masq6): the world's IPv6 flows and new ones, from the guests'
 * ports and out of the uplink; replies, ICMPv6 errors about them, strangers
 * and spoofers from outside; extension headers and fragments both ways. */
static void seeds_ipv6(void)
{
	static const __u8 uplink[] = { FP_UPLINK_IN, FP_XDP };
	__u8 buf[PKT_MAX], g[16];
	char n[128];
	size_t len;

	for (size_t i = 0; i < world_nflows6; i++) {
		const struct world_flow6 *f = &world_flows6[i];
		struct world_flow6 nf = *f;
		__u8 out = f->via == VIA_EGRESS ? FP_UPLINK_OUT : f->via == VIA_VPORT ? FP_PORT_IN | SEL_VPORT : FP_PORT_IN;

		nf.sport++; /* a new flow */
		snprintf(n, sizeof(n), "nat6-%s", f->name);
		emit(n, out, buf, world_request6(f, buf));
		snprintf(n, sizeof(n), "nat6-new-%s", f->name);
		emit(n, out, buf, world_request6(&nf, buf));
		snprintf(n, sizeof(n), "nat6-hbh-%s", f->name);
		len = world_request6(f, buf);
		emit(n, out, buf, ext6(buf, len, 0, 0));
		snprintf(n, sizeof(n), "nat6-frag1-%s", f->name);
		len = world_request6(f, buf);
		emit(n, out, buf, ext6(buf, len, 44, 1));
		snprintf(n, sizeof(n), "nat6-frag2-%s", f->name);
		len = world_request6(f, buf);
		emit(n, out, buf, ext6(buf, len, 44, 64 << 3));
		len = world_request6(f, buf);
		buf[14 + 7] = 1;
		snprintf(n, sizeof(n), "nat6-hop1-%s", f->name);
		emit(n, out, buf, len);
		for (size_t u = 0; u < sizeof(uplink); u++) {
			snprintf(n, sizeof(n), "nat6-reply-%s", f->name);
			emit(n, uplink[u], buf, world_reply6(f, buf));
			snprintf(n, sizeof(n), "nat6-reply-hbh-%s", f->name);
			len = world_reply6(f, buf);
			emit(n, uplink[u], buf, ext6(buf, len, 60, 0));
			snprintf(n, sizeof(n), "nat6-reply-frag1-%s", f->name);
			len = world_reply6(f, buf);
			emit(n, uplink[u], buf, ext6(buf, len, 44, 1));
			snprintf(n, sizeof(n), "nat6-reply-new-%s", f->name);
			emit(n, uplink[u], buf, world_reply6(&nf, buf));
			snprintf(n, sizeof(n), "nat6-unreach-%s", f->name);
			emit(n, uplink[u], buf, world_error6(f, 0x0103, buf));
			snprintf(n, sizeof(n), "nat6-toobig-%s", f->name);
			emit(n, uplink[u], buf, world_error6(f, 0x0200, buf));
			snprintf(n, sizeof(n), "nat6-timex-%s", f->name);
			len = world_error6(f, 0x0300, buf);
			buf[14 + 7] = 1;
			emit(n, uplink[u], buf, len);
		}
	}
	/* Nobody outside reaches a guest's address, nor poses as one. */
	world_guest6(GUEST1, g);
	emit("nat6-to-guest", FP_UPLINK_IN, buf, world_ipv6_pkt(WORLD_SERVER6, g, IPPROTO_TCP, 443, 41000, false, buf));
	emit("nat6-from-prefix", FP_UPLINK_IN, buf, world_ipv6_pkt(g, WORLD_EXT6, IPPROTO_UDP, 53, 41001, false, buf));
	emit("nat6-stranger", FP_UPLINK_IN, buf,
	     world_ipv6_pkt(WORLD_SERVER6, WORLD_EXT6, IPPROTO_TCP, 443, 50000, false, buf));
	emit("nat6-echo-request-in", FP_UPLINK_IN, buf,
	     world_ipv6_pkt(WORLD_SERVER6, WORLD_EXT6, IPPROTO_ICMPV6, 0x8000, 0x6666, false, buf));
	/* A guest's own ICMPv6 error, and a packet from outside the prefix, from its port and leaving. */
	len = world_error6(&world_flows6[0], 0x0104, buf); /* then: guest -> server, quoting server -> guest */
	memcpy(buf, BRIDGE_MAC, 6);
	guest_mac(GUEST1, buf + 6);
	memcpy(buf + 14 + 8, g, 16);
	memcpy(buf + 14 + 24, WORLD_SERVER6, 16);
	memcpy(buf + 14 + 40 + 8 + 8, WORLD_SERVER6, 16);
	memcpy(buf + 14 + 40 + 8 + 24, g, 16);
	emit("nat6-guest-error", FP_UPLINK_OUT, buf, len);
	emit("nat6-guest-error", FP_PORT_IN, buf, len);
	emit("nat6-spoof", FP_PORT_IN, buf,
	     world_ipv6_pkt((const __u8[16]){ 0xfd, 0x99, [15] = 1 }, WORLD_SERVER6, IPPROTO_UDP, 1, 2, true, buf));
}

/* Bridged: frames by MAC, from the LAN (XDP) and from a guest's port. */
static void seeds_bridged(void)
{
	static const __u8 lan_mac[6] = { 0x02, 0x1a, 0, 0, 0, 1 }, bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const __u8 xdp = FP_XDP | SEL_BRIDGED, port = FP_PORT_IN | SEL_BRIDGED;
	struct pkt_spec s = outside_pkt(IPPROTO_TCP, SERVER, 80, GUEST1, 40000);

	memcpy(s.smac, lan_mac, 6);
	guest_mac(GUEST1, s.dmac); /* learnt on the TAP */
	emit_spec("bridged-lan-to-tap", xdp, &s);
	emit_vlan("bridged-lan-to-tap-vlan", xdp, &s, 0x8100);
	guest_mac(GUEST2, s.dmac); /* learnt on the veth port */
	emit_spec("bridged-lan-to-vport", xdp, &s);
	memcpy(s.dmac, bcast, 6);
	emit_spec("bridged-lan-broadcast", xdp, &s);
	memcpy(s.dmac, BRIDGE_MAC, 6);
	emit_spec("bridged-lan-to-host", xdp, &s);
	s = guest_pkt(IPPROTO_TCP, GUEST1, 40000, GUEST2, 22);
	guest_mac(GUEST2, s.dmac);
	emit_spec("bridged-to-guest2", port, &s);
	emit_vlan("bridged-to-guest2-vlan", port, &s, 0x8100);
	emit_vlan("bridged-portsec-vlan", port | SEL_PORTSEC, &s, 0x8100);
	memcpy(s.dmac, lan_mac, 6);
	emit_spec("bridged-to-lan-unknown", port, &s);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_seeds DIR\n");
		return 2;
	}
	dir = argv[1];
	if (mkdir(dir, 0755) && errno != EEXIST) {
		fprintf(stderr, "gen_seeds: %s: %s\n", dir, strerror(errno));
		return 1;
	}
	seeds_port_in();
	seeds_uplink_in(FP_UPLINK_IN);
	seeds_uplink_in(FP_XDP);
	seeds_uplink_out();
	seeds_bridged();
	seeds_ipv6();
	for (__u8 p = 0; p < 4; p++)
		seeds_not_ipv4(p);
	seeds_host();
	printf("gen_seeds: %d inputs in %s\n", nfiles, dir);
	return 0;
}
