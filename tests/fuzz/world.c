// SPDX-License-Identifier: GPL-2.0
/* The fuzzing world (see world.h): its tables, its packets, its seeding. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>
#include <bpf/bpf.h>

#include "world.h"

const struct world_flow world_flows[] = {
	{ "tcp_tap", IPPROTO_TCP, GUEST1, 40000, SERVER, 80, VIA_TAP, false },
	{ "udp_vport", IPPROTO_UDP, GUEST2, 40001, SERVER, 53, VIA_VPORT, false },
	{ "icmp_egress", IPPROTO_ICMP, GUEST1, 0x1234, SERVER, 0, VIA_EGRESS, false },
	{ "udp_eif", IPPROTO_UDP, GUEST1, 5000, SERVER_NO_NEIGH, 7000, VIA_EGRESS, false },
	{ "tcp_noneigh", IPPROTO_TCP, GUEST2, 40002, SERVER_NO_NEIGH, 443, VIA_VPORT, false },
	{ "icmp_tap", IPPROTO_ICMP, GUEST1, 0x0777, SERVER, 0, VIA_TAP, false },
	{ "udp_tap_nocsum", IPPROTO_UDP, GUEST1, 40003, SERVER, 123, VIA_TAP, true },
	{ "tcp_egress", IPPROTO_TCP, GUEST2, 40004, OTHER_NET_HOST, 25, VIA_EGRESS, false },
	{ "udp_net1", IPPROTO_UDP, NET1_GUEST, 40005, SERVER, 53, VIA_EGRESS, false },
	{ "tcp_net1", IPPROTO_TCP, NET1_GUEST, 40006, SERVER, 80, VIA_EGRESS, false },
};
const size_t world_nflows = sizeof(world_flows) / sizeof(world_flows[0]);

const struct world_inbound world_inbound[] = {
	{ "dnat_tcp", IPPROTO_TCP, CLIENT, 33333, 2222, GUEST2, 22 },
	{ "dnat_udp", IPPROTO_UDP, SERVER, 4444, 5353, GUEST1, 53 },
	{ "dnat_net1", IPPROTO_UDP, SERVER, 4445, 7100, NET1_GUEST, 7100 },
};
const size_t world_ninbound = sizeof(world_inbound) / sizeof(world_inbound[0]);

const struct world_fwd world_fwds[] = {
	{ EXT_ADDR, 2222, 2222, IPPROTO_TCP, GUEST2, 22 },
	{ 0, 5353, 5353, IPPROTO_UDP, GUEST1, 53 },
	{ EXT_ADDR, 8000, 8003, IPPROTO_TCP, GUEST1, 9000 },
	{ EXT_ADDR, 6000, 6000, IPPROTO_UDP, GUEST3, 6000 },
	{ EXT_ADDR, 7100, 7100, IPPROTO_UDP, NET1_GUEST, 7100 },
};
const size_t world_nfwds = sizeof(world_fwds) / sizeof(world_fwds[0]);

const struct qnat_host_allow world_host_allow[] = {
	{ .proto = IPPROTO_TCP, .first = 8443, .last = 8443 },
	{ .proto = IPPROTO_UDP, .first = 5000, .last = 5001 },
};
const size_t world_nhost_allow = sizeof(world_host_allow) / sizeof(world_host_allow[0]);

const __u8 WORLD_HOST6[16] = { 0xfe, 0x80, [15] = 0x01 }, WORLD_GUEST6[16] = { 0xfe, 0x80, [15] = 0x10 };

const struct world_host_flow world_host_flows[] = {
	{ "host_ssh", IPPROTO_TCP, false, GATEWAY, GUEST1, 45000, 22 },
	{ "host_snmp", IPPROTO_UDP, false, GATEWAY, GUEST2, 45001, 161 },
	{ "host_uplink_addr", IPPROTO_TCP, false, EXT_ADDR, GUEST2, 45002, 80 }, /* a socket bound to it */
	{ "host6_ssh", IPPROTO_TCP, true, 0, 0, 45003, 22 },
};
const size_t world_nhost_flows = sizeof(world_host_flows) / sizeof(world_host_flows[0]);

/* The frame around an upper-layer message l4 (its checksum, if it has one, filled in). */
static size_t ip6_frame(const __u8 src[16], const __u8 dst[16], __u8 nh, const __u8 *l4, size_t l4len, bool from_guest,
			__u8 *buf)
{
	__u8 *ip6 = buf + 14, *guest = from_guest ? buf + 6 : buf;
	size_t sum_off = nh == IPPROTO_TCP ? 16 : nh == IPPROTO_UDP ? 6 : nh == IPPROTO_ICMPV6 ? 2 : 0;
	__u32 sum;

	memset(buf, 0, 14 + 40);
	memcpy(from_guest ? buf : buf + 6, BRIDGE_MAC, 6);
	memcpy(guest, (const __u8[6]){ 0x52, 0x54, 0, 0, 0, 10 }, 6);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip6[0] = 0x60;
	ip6[4] = l4len >> 8;
	ip6[5] = l4len;
	ip6[6] = nh;
	ip6[7] = 64;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	memcpy(ip6 + 40, l4, l4len);
	if (!sum_off)
		return 14 + 40 + l4len;
	/* The checksum over the pseudo-header. */
	ip6[40 + sum_off] = ip6[40 + sum_off + 1] = 0;
	sum = csum_ref_add(0, ip6 + 8, 32);
	sum = csum_ref_add(sum, (const __u8[8]){ 0, 0, l4len >> 8, (__u8)l4len, 0, 0, 0, nh }, 8);
	sum = csum_ref_finish(csum_ref_add(sum, ip6 + 40, l4len));
	ip6[40 + sum_off] = sum >> 8;
	ip6[40 + sum_off + 1] = sum;
	return 14 + 40 + l4len;
}

size_t world_ipv6_pkt(const __u8 src[16], const __u8 dst[16], __u8 nh, __u16 sport, __u16 dport, bool from_guest,
		      __u8 *buf)
{
	__u8 l4[20] = { 0 }; /* TCP: its header; UDP, ICMPv6: 8 bytes of header, 12 of payload */

	l4[0] = sport >> 8;
	l4[1] = sport;
	if (nh == IPPROTO_ICMPV6) {
		l4[4] = dport >> 8;
		l4[5] = dport;
	} else {
		l4[2] = dport >> 8;
		l4[3] = dport;
	}
	if (nh == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = TCP_SYN;
		l4[15] = 0xff; /* window */
	} else if (nh == IPPROTO_UDP) {
		l4[5] = sizeof(l4);
		memcpy(l4 + 8, "qnat-host-v6", 12);
	} else if (nh == IPPROTO_ICMPV6) {
		memcpy(l4 + 8, "qnat-ping-v6", 12);
	}
	return ip6_frame(src, dst, nh, l4, sizeof(l4), from_guest, buf);
}

const __u8 WORLD_PREFIX6[16] = { 0xfd, 0x00, 0x01, 0x22 },		 /* fd00:122::/64 */
	WORLD_GW6[16] = { 0xfd, 0x00, 0x01, 0x22, [15] = 1 },		 /* on qbr0 */
	WORLD_EXT6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, [15] = 1 },	 /* 2001:db8:100::1 on qup0 */
	WORLD_ROUTER6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x01, 0x00, [15] = 0xfe }, /* its next hop, GW_MAC */
	WORLD_SERVER6[16] = { 0x20, 0x01, 0x0d, 0xb8, 0x00, 0x05, [15] = 5 };	 /* 2001:db8:5::5 */

const struct world_flow6 world_flows6[] = {
	{ "tcp6_tap", IPPROTO_TCP, GUEST1, 41000, 443, VIA_TAP },
	{ "udp6_vport", IPPROTO_UDP, GUEST2, 41001, 53, VIA_VPORT },
	{ "icmp6_tap", IPPROTO_ICMPV6, GUEST1, 0x6666, 0, VIA_TAP },
	{ "udp6_egress", IPPROTO_UDP, GUEST1, 41002, 123, VIA_EGRESS },
	{ "tcp6_egress", IPPROTO_TCP, GUEST2, 41003, 80, VIA_EGRESS },
};
const size_t world_nflows6 = sizeof(world_flows6) / sizeof(world_flows6[0]);

int world_net6(void)
{
	static const char *const cmds[] = {
		"ip -6 addr add fd00:122::1/64 dev qbr0 nodad",
		"ip -6 addr add fe80::1/64 dev qbr0 nodad", /* WORLD_HOST6: still the host's with forwarding on */
		"ip -6 addr add 2001:db8:100::1/64 dev qup0 nodad",
		"ip -6 neigh replace 2001:db8:100::fe lladdr 02:00:00:00:01:fe dev qup0 nud permanent",
		"ip -6 route add default via 2001:db8:100::fe dev qup0",
		/* bpf_fib_lookup() forwards from the bridge only with it on there. */
		"echo 1 >/proc/sys/net/ipv6/conf/qbr0/forwarding",
	};

	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (system(cmds[i])) {
			fprintf(stderr, "fuzz world: setup failed: %s\n", cmds[i]);
			return -1;
		}
	return 0;
}

void world_masq6(struct qnat_config *c)
{
	c->flags |= QNAT_CFG_MASQ6;
	memcpy(c->prefix6, WORLD_PREFIX6, sizeof(c->prefix6));
	memcpy(c->gateway6, WORLD_GW6, sizeof(c->gateway6));
	memcpy(c->ext6, WORLD_EXT6, sizeof(c->ext6));
}

bool world_in_prefix6(const __u8 a[16])
{
	return !memcmp(a, WORLD_PREFIX6, 8);
}

void world_guest6(__be32 guest4, __u8 a[16])
{
	memcpy(a, WORLD_PREFIX6, 16);
	a[15] = ((const __u8 *)&guest4)[3];
}

static void set_macs(__u8 *buf, const __u8 dst[6], const __u8 src[6])
{
	memcpy(buf, dst, 6);
	memcpy(buf + 6, src, 6);
}

/* ICMPv6 echo: type 128 (reply 129), code 0, the identifier. */
static size_t flow6_pkt(const struct world_flow6 *f, const __u8 src[16], const __u8 dst[16], bool reply, __u8 *buf)
{
	if (f->proto == IPPROTO_ICMPV6)
		return world_ipv6_pkt(src, dst, f->proto, reply ? 0x8100 : 0x8000, f->sport, true, buf);
	return reply ? world_ipv6_pkt(src, dst, f->proto, f->dport, f->sport, true, buf) :
		       world_ipv6_pkt(src, dst, f->proto, f->sport, f->dport, true, buf);
}

size_t world_request6(const struct world_flow6 *f, __u8 *buf)
{
	__u8 g[16], mac[6];
	size_t len;

	world_guest6(f->guest4, g);
	len = flow6_pkt(f, g, WORLD_SERVER6, false, buf);
	guest_mac(f->guest4, mac);
	if (f->via == VIA_EGRESS)
		set_macs(buf, GW_MAC, UPLINK_MAC);
	else
		set_macs(buf, BRIDGE_MAC, mac);
	return len;
}

size_t world_reply6(const struct world_flow6 *f, __u8 *buf)
{
	size_t len = flow6_pkt(f, WORLD_SERVER6, WORLD_EXT6, true, buf);

	set_macs(buf, UPLINK_MAC, GW_MAC);
	return len;
}

size_t world_error6(const struct world_flow6 *f, __u16 type_code, __u8 *buf)
{
	__u8 quote[PKT_MAX], msg[8 + 40 + 20] = { type_code >> 8, (__u8)type_code };
	size_t len;

	flow6_pkt(f, WORLD_EXT6, WORLD_SERVER6, false, quote); /* as it left: the guest's port kept */
	memcpy(msg + 8, quote + 14, 40 + 20);
	len = ip6_frame(WORLD_ROUTER6, WORLD_EXT6, IPPROTO_ICMPV6, msg, sizeof(msg), false, buf);
	set_macs(buf, UPLINK_MAC, GW_MAC);
	return len;
}

size_t world_host_pkt(const struct world_host_flow *h, bool reply, __u8 *buf)
{
	struct pkt_spec s;

	if (h->v6)
		return reply ? world_ipv6_pkt(WORLD_GUEST6, WORLD_HOST6, h->proto, h->gport, h->hport, true, buf) :
			       world_ipv6_pkt(WORLD_HOST6, WORLD_GUEST6, h->proto, h->hport, h->gport, false, buf);
	if (reply) {
		s = guest_pkt(h->proto, h->guest, h->gport, h->host, h->hport);
		s.tcp_flags = TCP_SYN | TCP_ACK;
	} else {
		s = guest_pkt(h->proto, h->host, h->hport, h->guest, h->gport);
		memcpy(s.smac, BRIDGE_MAC, 6);
		guest_mac(h->guest, s.dmac);
	}
	return pkt_build(&s, buf);
}

struct pkt_spec world_request(const struct world_flow *f)
{
	struct pkt_spec s = guest_pkt(f->proto, f->guest, f->sport, f->server, f->dport);

	s.udp_no_csum = f->udp_no_csum;
	return f->via == VIA_EGRESS ? routed(s) : s;
}

struct pkt_spec world_reply(const struct world_flow *f)
{
	struct pkt_spec s = outside_pkt(f->proto, f->server, f->dport, EXT_ADDR, f->sport);

	s.udp_no_csum = f->udp_no_csum;
	return s;
}

struct pkt_spec world_inbound_pkt(const struct world_inbound *in)
{
	struct pkt_spec s = outside_pkt(in->proto, in->client, in->cport, EXT_ADDR, in->hport);

	s.tcp_flags = TCP_SYN;
	return s;
}

struct pkt_spec world_hairpin_pkt(void)
{
	return guest_pkt(IPPROTO_TCP, HAIRPIN_CLIENT, HAIRPIN_CPORT, EXT_ADDR, HAIRPIN_HPORT);
}

struct pkt_spec world_frag_first(void)
{
	struct pkt_spec s = world_reply(&world_flows[FRAG_FLOW]);

	s.frag_off = 0x2000; /* MF */
	s.ip_id = FRAG_ID;
	s.payload_len = 64;
	return s;
}

static int seed_one(struct bpf_program *prog, bool xdp, const struct pkt_spec *s, int ifindex, int ingress,
		    __u32 want, const char *what)
{
	__u8 buf[PKT_MAX];
	size_t len = pkt_build(s, buf);
	struct run r;
	int err = xdp ? run_xdp(prog, buf, len, &r) : run_tc(prog, buf, len, ifindex, ingress, &r);

	if (err || r.ret != want) {
		fprintf(stderr, "fuzz world: seeding %s: err %d, verdict %s, want %s\n", what, err,
			verdict_name(xdp, r.ret), verdict_name(xdp, want));
		return -1;
	}
	return 0;
}

static int fwds_add(struct qnat *skel)
{
	for (size_t i = 0; i < world_nfwds; i++) {
		const struct world_fwd *w = &world_fwds[i];

		for (__u32 p = w->first; p <= w->last; p++) {
			struct qnat_fwd_key k = { .addr = w->addr, .port = htons(p), .proto = w->proto };
			struct qnat_fwd v = {
				.guest_addr = w->guest,
				.guest_port = htons(w->guest_first + (p - w->first)),
				.rule_first = htons(w->first),
				.rule_last = htons(w->last),
				.rule_guest_first = htons(w->guest_first),
			};

			if (bpf_map__update_elem(skel->maps.qnat_fwd, &k, sizeof(k), &v, sizeof(v), BPF_NOEXIST)) {
				fprintf(stderr, "fuzz world: cannot add forward %u\n", p);
				return -1;
			}
		}
	}
	return 0;
}

/* The flow is there, keeping the guest's port. */
static int flow_there(struct qnat *skel, const struct world_flow *f)
{
	struct qnat_ct_key k = ct_key(f->guest, f->server, f->sport, f->proto == IPPROTO_ICMP ? 0 : f->dport, f->proto);
	struct qnat_ct_entry e;

	if (ct_get(skel, &k, &e) || ntohs(e.nat_port) != f->sport || e.nat_addr != EXT_ADDR) {
		fprintf(stderr, "fuzz world: flow %s missing or not on its own port\n", f->name);
		return -1;
	}
	return 0;
}

/* The NAT66 flow is there, keeping the guest's port. */
static int flow6_there(struct qnat *skel, const struct world_flow6 *f)
{
	struct qnat_ct6_key k = { .proto = f->proto };
	struct qnat_ct_entry e;

	world_guest6(f->guest4, (__u8 *)k.saddr);
	memcpy(k.daddr, WORLD_SERVER6, 16);
	k.sport = htons(f->sport);
	k.dport = f->proto == IPPROTO_ICMPV6 ? 0 : htons(f->dport);
	if (bpf_map__lookup_elem(skel->maps.qnat_ct6, &k, sizeof(k), &e, sizeof(e), 0) || ntohs(e.nat_port) != f->sport) {
		fprintf(stderr, "fuzz world: flow %s missing or not on its own port\n", f->name);
		return -1;
	}
	return 0;
}

/* The guests' NAT66 flows, as tc_port_in and tc_uplink_out open them. */
static int seed_flows6(struct qnat *skel)
{
	for (size_t i = 0; i < world_nflows6; i++) {
		const struct world_flow6 *f = &world_flows6[i];
		int port = f->via == VIA_TAP ? tn.tap : tn.vport;
		bool egress = f->via == VIA_EGRESS;
		__u8 buf[PKT_MAX];
		size_t len = world_request6(f, buf);
		struct run r;
		int err = egress ? run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r) :
				   run_tc(skel->progs.tc_port_in, buf, len, port, port, &r);

		if (err || r.ret != (egress ? TC_ACT_OK : TC_ACT_REDIRECT)) {
			fprintf(stderr, "fuzz world: seeding %s: err %d, verdict %s\n", f->name, err,
				verdict_name(false, r.ret));
			return -1;
		}
		if (flow6_there(skel, f))
			return -1;
	}
	if (map_count(skel->maps.qnat_ct6) != (int)world_nflows6 ||
	    map_count(skel->maps.qnat_ct6_rev) != (int)world_nflows6) {
		fprintf(stderr, "fuzz world: %d NAT66 flows, %d reverse entries after seeding\n",
			map_count(skel->maps.qnat_ct6), map_count(skel->maps.qnat_ct6_rev));
		return -1;
	}
	return 0;
}

/* The second network on the uplink, in slot 1: what its controller would write. */
static int net1_config(struct qnat *skel)
{
	struct qnat_config c = nat_default_config();
	__u32 one = 1;

	c.subnet = NET1_SUBNET;
	c.gateway = NET1_GATEWAY;
	c.net = 1;
	c.flags |= QNAT_CFG_UPLINK_XMIT; /* no EIF: the selector's EIF is the programs' own network's */
	return bpf_map__update_elem(skel->maps.qnat_config, &one, sizeof(one), &c, sizeof(c), BPF_ANY);
}

int world_seed(struct qnat *skel)
{
	struct pkt_spec s;

	__u32 uplink = tn.uplink;

	if (net1_config(skel)) {
		fprintf(stderr, "fuzz world: cannot write the second network's config\n");
		return -1;
	}

	/* The uplink takes XDP redirects (QNAT_CFG_UPLINK_XMIT): xdp_port_in's SNAT path. */
	if (port_add(skel, tn.tap, QNAT_PORT_TAP) || port_add(skel, tn.vport, 0) || fwds_add(skel) ||
	    bpf_map__update_elem(skel->maps.qnat_devmap, &uplink, sizeof(uplink), &uplink, sizeof(uplink), BPF_ANY)) {
		fprintf(stderr, "fuzz world: cannot register the ports\n");
		return -1;
	}
	for (size_t i = 0; i < world_nflows; i++) {
		const struct world_flow *f = &world_flows[i];
		int port = f->via == VIA_TAP ? tn.tap : tn.vport;

		s = world_request(f);
		if (f->via == VIA_EGRESS ?
			    seed_one(skel->progs.tc_uplink_out, false, &s, tn.uplink, 0, TC_ACT_OK, f->name) :
			    seed_one(skel->progs.tc_port_in, false, &s, port, port, TC_ACT_REDIRECT, f->name))
			return -1;
		if (flow_there(skel, f))
			return -1;
	}
	for (size_t i = 0; i < world_ninbound; i++) {
		s = world_inbound_pkt(&world_inbound[i]);
		if (seed_one(skel->progs.tc_uplink_in, false, &s, tn.uplink, tn.uplink, TC_ACT_REDIRECT,
			     world_inbound[i].name))
			return -1;
	}
	if (seed_flows6(skel))
		return -1;
	s = world_hairpin_pkt();
	if (seed_one(skel->progs.tc_port_in, false, &s, tn.tap, tn.tap, TC_ACT_REDIRECT, "hairpin"))
		return -1;
	s = world_frag_first();
	if (seed_one(skel->progs.tc_uplink_in, false, &s, tn.uplink, tn.uplink, TC_ACT_REDIRECT, "first fragment"))
		return -1;
	/* The host policy: --host-allow, and the host's connections, noted
	 * by the bridge's egress as the host sends. */
	for (__u32 i = 0; i < world_nhost_allow; i++)
		if (bpf_map__update_elem(skel->maps.qnat_host_allow, &i, sizeof(i), &world_host_allow[i],
					 sizeof(world_host_allow[i]), BPF_ANY)) {
			fprintf(stderr, "fuzz world: cannot write qnat_host_allow\n");
			return -1;
		}
	for (size_t i = 0; i < world_nhost_flows; i++) {
		__u8 buf[PKT_MAX];
		size_t len = world_host_pkt(&world_host_flows[i], false, buf);
		struct run r;

		if (run_tc(skel->progs.tc_host_out, buf, len, tn.bridge, 0, &r) || r.ret != TC_ACT_OK) {
			fprintf(stderr, "fuzz world: seeding %s: verdict %s\n", world_host_flows[i].name,
				verdict_name(false, r.ret));
			return -1;
		}
	}
	if (map_count(skel->maps.qnat_host_flow) != (int)world_nhost_flows) {
		fprintf(stderr, "fuzz world: %d host connections after seeding\n", map_count(skel->maps.qnat_host_flow));
		return -1;
	}
	/* Every flow has its reverse, and the fragment its entry. */
	if (map_count(skel->maps.qnat_ct) != (int)(world_nflows + world_ninbound + 1) ||
	    map_count(skel->maps.qnat_ct_rev) != (int)(world_nflows + world_ninbound + 1) ||
	    map_count(skel->maps.qnat_frags) != 1) {
		fprintf(stderr, "fuzz world: %d flows, %d reverse entries, %d fragments after seeding\n",
			map_count(skel->maps.qnat_ct), map_count(skel->maps.qnat_ct_rev),
			map_count(skel->maps.qnat_frags));
		return -1;
	}
	return 0;
}
