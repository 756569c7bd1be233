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

size_t world_ipv6_pkt(const __u8 src[16], const __u8 dst[16], __u8 nh, __u16 sport, __u16 dport, bool from_guest,
		      __u8 *buf)
{
	__u8 *ip6 = buf + 14, *l4 = ip6 + 40, *guest = from_guest ? buf + 6 : buf;
	const size_t l4len = 20; /* TCP: its header; UDP: 8 bytes of header, 12 of payload */
	__u32 sum;

	memset(buf, 0, 14 + 40 + l4len);
	memcpy(from_guest ? buf : buf + 6, BRIDGE_MAC, 6);
	memcpy(guest, (const __u8[6]){ 0x52, 0x54, 0, 0, 0, 10 }, 6);
	buf[12] = 0x86;
	buf[13] = 0xdd;
	ip6[0] = 0x60;
	ip6[5] = l4len;
	ip6[6] = nh;
	ip6[7] = 64;
	memcpy(ip6 + 8, src, 16);
	memcpy(ip6 + 24, dst, 16);
	l4[0] = sport >> 8;
	l4[1] = sport;
	l4[2] = dport >> 8;
	l4[3] = dport;
	if (nh == IPPROTO_TCP) {
		l4[12] = 5 << 4;
		l4[13] = TCP_SYN;
		l4[15] = 0xff; /* window */
	} else if (nh == IPPROTO_UDP) {
		l4[5] = l4len;
		memcpy(l4 + 8, "qnat-host-v6", 12);
	} else {
		return 14 + 40 + l4len;
	}
	/* The checksum over the pseudo-header. */
	sum = csum_ref_add(0, ip6 + 8, 32);
	sum = csum_ref_add(sum, (const __u8[8]){ 0, 0, 0, (__u8)l4len, 0, 0, 0, nh }, 8);
	sum = csum_ref_finish(csum_ref_add(sum, l4, l4len));
	l4[nh == IPPROTO_TCP ? 16 : 6] = sum >> 8;
	l4[nh == IPPROTO_TCP ? 17 : 7] = sum;
	return 14 + 40 + l4len;
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
