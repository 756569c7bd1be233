// SPDX-License-Identifier: GPL-2.0
/*
 * qnat-bpf data plane: thin entry points over lib/.
 *
 *   tc_port_in     TC ingress of every bridge port (guest TAPs, veths):
 *                  guest -> outside is translated and sent straight out.
 *   xdp_uplink_in  XDP on the uplink: replies for guests on TAP ports,
 *                  translated and redirected before an skb exists;
 *                  bridged, LAN frames for guests on TAP ports.
 *   tc_uplink_in   TC ingress of the uplink: every other reply.
 *   tc_uplink_out  TC egress of the uplink: the catch-all; no packet with a
 *                  source in the subnet leaves untranslated.
 *   tc_host_in     TC ingress of the bridge device: what guests may reach
 *                  on the host itself (lib/host.h).
 *   tc_host_out    TC egress of the bridge device: the host's own
 *                  connections to guests, whose replies tc_host_in lets in.
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "qnat_maps.bpf.h"
#include "lib/config.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/stats.h"
#include "lib/ct.h"
#include "lib/nat.h"
#include "lib/icmp_err.h"
#include "lib/fdb.h"
#include "lib/portsec.h"
#include "lib/host.h"
#include "lib/frag.h"
#include "lib/port_out.h"
#include "lib/nat6.h"

/* Enough linear bytes for Ethernet, the longest IPv4 header and TCP. */
#define HEADERS_MAX (14 + 60 + 20)

static __always_inline int tc_parse(struct __sk_buff *skb, struct pkt *p)
{
	int r = parse_ipv4((void *)(long)skb->data, (void *)(long)skb->data_end, p);

	if (r == PARSE_BAD && skb->data_end - skb->data < skb->len) {
		bpf_skb_pull_data(skb, skb->len < HEADERS_MAX ? skb->len : HEADERS_MAX);
		r = parse_ipv4((void *)(long)skb->data, (void *)(long)skb->data_end, p);
	}
	return r;
}

static __always_inline int tc_verdict(struct __sk_buff *skb, const struct qnat_config *cfg, __u32 counter, int verdict)
{
	count(cfg, counter, skb->len);
	return verdict;
}

/* The destination address as the packet now carries it. */
static __always_inline __be32 dst_of(struct __sk_buff *skb, const struct pkt *p)
{
	__be32 daddr = 0;

	bpf_skb_load_bytes(skb, IP_ADDR_OFF(p, 1), &daddr, sizeof(daddr));
	return daddr;
}

/* Out through the bridge to dst's MAC: for guests whose port we do not know. */
static __always_inline int tc_via_bridge(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p,
					 __be32 dst, __u32 counter)
{
	struct bpf_redir_neigh nh = { .nh_family = AF_INET, .ipv4_nh = dst };

	if (tc_ttl_dec(skb, p))
		return tc_verdict(skb, cfg, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	count(cfg, counter, skb->len);
	return bpf_redirect_neigh(cfg->bridge_ifindex, &nh, sizeof(nh), 0);
}

/* Hairpin, server side: a guest answers a client that came by the uplink address. */
static __always_inline int tc_hairpin_server(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p)
{
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;

	ct_key_orig(p, &orig);
	e = bpf_map_lookup_elem(&qnat_ct, &orig);
	if (!e || !(e->flags & QNAT_CTF_HAIRPIN) || p->ttl <= 1)
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK); /* DNS, DHCP, ... to the gateway */
	ct_touch(e, &orig, QNAT_DIR_ORIG, p, skb->len);
	if (tc_nat_rewrite(skb, p, NAT_SRC, p->saddr, e->nat_addr, p->sport, e->nat_port) ||
	    tc_nat_rewrite(skb, p, NAT_DST, p->daddr, e->peer_addr, p->dport, e->peer_port))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	return tc_via_bridge(skb, cfg, p, e->peer_addr, QNAT_C_HAIRPIN);
}

/* Hairpin, client side: a guest connects to a forward by the uplink address. */
static __always_inline int tc_hairpin_client(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p)
{
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	struct qnat_fwd *f;

	if (p->ttl <= 1)
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
	e = ct_lookup_reply(p, &orig);
	if (!e) {
		if (p->proto == IPPROTO_TCP && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) != TCPF_SYN)
			return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
		f = fwd_lookup(cfg, p->daddr, p->dport, p->proto);
		if (!f)
			return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK); /* a service of the host */
		/* Another network's guest: libvirt rejects traffic between NAT networks. */
		if (!in_subnet(cfg, f->guest_addr))
			return tc_verdict(skb, cfg, QNAT_C_DROP_OTHER_NET, TC_ACT_SHOT);
		e = ct_create_hairpin(cfg, p, f, &orig);
		if (!e)
			return TC_ACT_SHOT; /* counted */
		count(cfg, QNAT_C_DNAT_NEW, skb->len);
	}
	if (!(e->flags & QNAT_CTF_HAIRPIN))
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
	ct_touch(e, &orig, QNAT_DIR_REPLY, p, skb->len);
	if (tc_nat_rewrite(skb, p, NAT_DST, p->daddr, orig.saddr, p->dport, orig.sport) ||
	    tc_nat_rewrite(skb, p, NAT_SRC, p->saddr, orig.daddr, p->sport, orig.dport))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	return tc_via_bridge(skb, cfg, p, orig.saddr, QNAT_C_HAIRPIN);
}

/* The port's L2 work (lib/portsec.h).  -1: not done with it yet.  Not
 * inlined: its frame stays off the L3 paths' stack. */
static __noinline int tc_port_l2(struct __sk_buff *skb, const struct qnat_config *cfg)
{
	struct frame fr = { (void *)(long)skb->data, (void *)(long)skb->data_end, skb->ingress_ifindex,
			    skb->vlan_present };
	__u32 arg;
	int tap;

	switch (port_l2(&fr, cfg, &arg, &tap)) {
	case PORT_L2_DROP:
		return tc_verdict(skb, cfg, arg, TC_ACT_SHOT);
	case PORT_L2_TO_PORT:
		count(cfg, QNAT_C_L2_FAST, skb->len);
		return bpf_redirect(arg, 0);
	}
	return -1;
}

/*
 * A guest's IPv6 packet (--masq6, --route6): as tc_port_in does IPv4, the
 * hairpin and forwards apart.  Not inlined: its own stack frame.
 */
static __noinline int tc_port_in6(struct __sk_buff *skb, const struct qnat_config *cfg)
{
	struct bpf_fib_lookup fib;
	struct qnat_ct6_key orig;
	struct qnat_ct_entry *e;
	__u8 guest_mac[ETH_ALEN];
	__u32 counter = QNAT_C_ROUTE6_FAST;
	struct pkt6 p;
	int r = parse6(skb, &p), rc;

	if (!(cfg->flags & (QNAT_CFG_MASQ6 | QNAT_CFG_ROUTE6)) || r == PARSE6_BAD)
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
	switch (port_out6_kind(cfg, &p, r)) {
	case OUT_HOST:
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
	case OUT_SPOOF:
		if (cfg->flags & QNAT_CFG_OPEN)
			return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
		return tc_verdict(skb, cfg, QNAT_C_DROP_SPOOF, TC_ACT_SHOT);
	case OUT_SLOW:
		return tc_verdict(skb, cfg, QNAT_C_PASS_SLOW, TC_ACT_OK);
	}
	port_fib6_init(&fib, cfg, &p);
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	/* A host address, unreachable, too big (the kernel sends Packet Too Big), elsewhere: the kernel's. */
	if ((rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH) || fib.ifindex != cfg->uplink_ifindex)
		return tc_verdict(skb, cfg, QNAT_C_PASS_SLOW, TC_ACT_OK);
	if (cfg->flags & QNAT_CFG_MASQ6) {
		if (is_unspec6(cfg->ext6) || bpf_skb_load_bytes(skb, offsetof(struct ethhdr, h_source), guest_mac, ETH_ALEN))
			return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
		ct6_key_orig(&p, &orig);
		e = ct6_lookup_or_create(skb, cfg, &orig, skb->ingress_ifindex, guest_mac);
		if (!e)
			return TC_ACT_SHOT; /* counted by ct6_create */
		ct_account(e, QNAT_DIR_ORIG, p.proto, p.tcp_flags, skb->len);
		e->port_ifindex = skb->ingress_ifindex;
		__builtin_memcpy(e->guest_mac, guest_mac, ETH_ALEN);
		if (tc_nat6_rewrite(skb, &p, NAT_SRC, p.saddr, cfg->ext6, p.sport, e->nat_port))
			return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
		counter = QNAT_C_SNAT6_FAST;
	}
	if (tc_hop_dec(skb, &p))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh nh = { .nh_family = AF_INET6 };

		__builtin_memcpy(nh.ipv6_nh, fib.ipv6_dst, sizeof(nh.ipv6_nh));
		count(cfg, counter, skb->len);
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	if (tc_set_macs(skb, fib.dmac, fib.smac))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	count(cfg, counter, skb->len);
	return bpf_redirect(fib.ifindex, 0);
}

/* A guest's IPv4 packet.  Not inlined: IPv6's stack frame is not added to it. */
static __noinline int tc_port_in4(struct __sk_buff *skb, const struct qnat_config *cfg)
{
	struct bpf_fib_lookup fib;
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	__u8 guest_mac[ETH_ALEN];
	struct pkt p;
	int r, rc;

	r = tc_parse(skb, &p);
	/* Isolated: the subnet and the host's DHCP and DNS on it, nothing beyond. */
	if ((cfg->flags & QNAT_CFG_ISOLATED) && r != PARSE_NOT_IPV4 && r != PARSE_BAD && !in_subnet(cfg, p.daddr) &&
	    !is_mcast_or_bcast(p.daddr))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	if (r == PARSE_NOT_IPV4 || r == PARSE_BAD || !cfg->ext_addr)
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
	switch (port_out_kind(cfg, &p, r)) {
	case OUT_GATEWAY:
		return tc_hairpin_server(skb, cfg, &p);
	case OUT_HOST:
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
	case OUT_SPOOF: /* open: no policy of ours */
		if (cfg->flags & QNAT_CFG_OPEN)
			return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
		return tc_verdict(skb, cfg, QNAT_C_DROP_SPOOF, TC_ACT_SHOT);
	case OUT_SLOW:
		return tc_verdict(skb, cfg, QNAT_C_PASS_SLOW, TC_ACT_OK);
	}
	port_fib_init(&fib, cfg, &p);
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	if (rc == BPF_FIB_LKUP_RET_NOT_FWDED && p.proto != IPPROTO_ICMP)
		return tc_hairpin_client(skb, cfg, &p); /* a host address: maybe a forward */
	if (rc != BPF_FIB_LKUP_RET_SUCCESS && rc != BPF_FIB_LKUP_RET_NO_NEIGH)
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK); /* local, unreachable, too big: the kernel answers */
	if (fib.ifindex != cfg->uplink_ifindex) /* routed elsewhere: not ours to masquerade, maybe not to let by */
		return port_other_net(cfg, p.daddr) ? tc_verdict(skb, cfg, QNAT_C_DROP_OTHER_NET, TC_ACT_SHOT) :
						      tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);

	void *data = (void *)(long)skb->data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > (void *)(long)skb->data_end)
		return TC_ACT_OK;
	__builtin_memcpy(guest_mac, eth->h_source, ETH_ALEN);
	/* Routed: the same path, untranslated and without conntrack (libvirt keeps none either). */
	if (cfg->flags & QNAT_CFG_ROUTE) {
		if (tc_ttl_dec(skb, &p))
			return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
		goto out;
	}

	ct_key_orig(&p, &orig);
	e = ct_lookup_or_create(skb, cfg, &orig, skb->ingress_ifindex, guest_mac);
	if (!e)
		return TC_ACT_SHOT; /* counted by ct_create */
	ct_touch(e, &orig, QNAT_DIR_ORIG, &p, skb->len);
	/* Replies follow the guest: the flow may have begun on the stack path
	 * (no port known) or the guest may have moved to another port. */
	e->port_ifindex = skb->ingress_ifindex;
	__builtin_memcpy(e->guest_mac, guest_mac, ETH_ALEN);

	if (tc_nat_rewrite(skb, &p, NAT_SRC, p.saddr, e->nat_addr, p.sport, e->nat_port) || tc_ttl_dec(skb, &p))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
out:
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH) {
		struct bpf_redir_neigh nh = { .nh_family = AF_INET, .ipv4_nh = fib.ipv4_dst };

		count(cfg, QNAT_C_SNAT_FAST, skb->len);
		return bpf_redirect_neigh(fib.ifindex, &nh, sizeof(nh), 0);
	}
	if (tc_set_macs(skb, fib.dmac, fib.smac))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	count(cfg, QNAT_C_SNAT_FAST, skb->len);
	return bpf_redirect(fib.ifindex, 0);
}

SEC("tc")
int tc_port_in(struct __sk_buff *skb)
{
	const struct qnat_config *cfg = config_raw();
	int r;

	if (!cfg)
		return TC_ACT_OK;
	r = tc_port_l2(skb, cfg);
	if (r >= 0)
		return r;
	/* Bridged, no uplink address to translate to, or a VLAN's frame (its
	 * tag, stripped into the skb, is not ours to route): the bridge's. */
	if ((cfg->flags & QNAT_CFG_BRIDGED) || skb->vlan_present)
		return tc_verdict(skb, cfg, QNAT_C_PASS, TC_ACT_OK);
	return skb->protocol == bpf_htons(ETH_P_IPV6) ? tc_port_in6(skb, cfg) : tc_port_in4(skb, cfg);
}

/* Is the flow's cached next hop (xdp_port_in's) to be asked again for a packet of len bytes? */
static __always_inline int xdp_nh_stale(const struct qnat_config *cfg, const struct qnat_ct_entry *e, __u32 len)
{
	return e->nh_gen != cfg->nh_gen || len > e->nh_len;
}

/* The flow's next hop, as the FIB gives it for fib (filled in for the
 * packet): cached in e when it is the uplink's, else -1, the packet TC's. */
static __always_inline int xdp_nh_lookup(struct xdp_md *ctx, const struct qnat_config *cfg, struct qnat_ct_entry *e,
					 struct bpf_fib_lookup *fib, __u32 len)
{
	fib->tot_len = len; /* over the uplink's MTU: FRAG_NEEDED (Packet Too Big), the kernel answers */
	if (bpf_fib_lookup(ctx, fib, sizeof(*fib), 0) != BPF_FIB_LKUP_RET_SUCCESS ||
	    fib->ifindex != cfg->uplink_ifindex || !mac_eq(fib->smac, cfg->uplink_mac))
		return -1; /* a host address, no neighbour yet, elsewhere: TC's */
	e->nh_len = len; /* longer than before, or the first since a change */
	e->nh_gen = cfg->nh_gen;
	__builtin_memcpy(e->nh_mac, fib->dmac, ETH_ALEN);
	return 0;
}

/* The uplink may have left the devmap (unregistered): a redirect after the
 * rewrite would abort, a pass would reach TC translated. */
static __always_inline int xdp_uplink_takes(const struct qnat_config *cfg)
{
	return bpf_map_lookup_elem(&qnat_devmap, &cfg->uplink_ifindex) != 0;
}

/*
 * A guest's IPv6 packet of a NAT66 flow tc_port_in6 opened (--masq6), as
 * xdp_port_in does IPv4: translated to ext6 and sent to the uplink, or
 * XDP_PASS, untouched, to tc_port_in6.  Not inlined: its own stack frame.
 */
static __noinline int xdp_port_in6(struct xdp_md *ctx, const struct qnat_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib;
	struct qnat_ct6_key orig;
	struct qnat_ct_entry *e;
	struct ethhdr *eth = data;
	struct pkt6 p;
	int r;

	if (!(cfg->flags & QNAT_CFG_MASQ6) || is_unspec6(cfg->ext6))
		return XDP_PASS;
	r = xdp_parse6(data, data_end, &p);
	if (r != PARSE6_OK || port_out6_kind(cfg, &p, r) != OUT_ROUTE || p.tcp_flags & (TCPF_SYN | TCPF_RST) ||
	    xdp_csum_partial6(data, data_end, &p))
		return XDP_PASS;
	ct6_key_orig(&p, &orig);
	e = bpf_map_lookup_elem(&qnat_ct6, &orig);
	if (!e || e->port_ifindex != ctx->ingress_ifindex || (void *)(eth + 1) > data_end ||
	    !mac_eq(e->guest_mac, eth->h_source))
		return XDP_PASS;
	if (xdp_nh_stale(cfg, e, p.end - IP6_OFF)) {
		port_fib6_init(&fib, cfg, &p);
		if (xdp_nh_lookup(ctx, cfg, e, &fib, p.end - IP6_OFF))
			return XDP_PASS;
	}
	if (!xdp_uplink_takes(cfg))
		return XDP_PASS;

	ct_account(e, QNAT_DIR_ORIG, p.proto, p.tcp_flags, data_end - data);
	if (xdp_nat6_snat(data, data_end, &p, cfg->ext6, e->nat_port) ||
	    xdp_hop_dec_set_macs(data, data_end, e->nh_mac, cfg->uplink_mac))
		return XDP_ABORTED; /* bounds were checked by the parser: a bug */
	count(cfg, QNAT_C_SNAT6_XDP, data_end - data);
	return bpf_redirect_map(&qnat_devmap, cfg->uplink_ifindex, 0);
}

/* A guest's IPv4 packet of a flow tc_port_in4 opened.  Not inlined: its own stack frame. */
static __noinline int xdp_port_in4(struct xdp_md *ctx, const struct qnat_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct bpf_fib_lookup fib;
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	struct ethhdr *eth = data;
	struct pkt p;
	int r;

	if ((cfg->flags & QNAT_CFG_ROUTE) || !cfg->ext_addr)
		return XDP_PASS;
	r = parse_ipv4(data, data_end, &p);
	if (r != PARSE_OK || port_out_kind(cfg, &p, r) != OUT_ROUTE || p.tcp_flags & (TCPF_SYN | TCPF_RST) ||
	    data + p.l3_off + p.tot_len != data_end || xdp_csum_partial(data, data_end, &p))
		return XDP_PASS; /* TC counts it; padded or partial checksums are the skb path's */
	/* Only a flow that exists, from the port and MAC it knows: TC opens
	 * flows and follows guests that move. */
	ct_key_orig(&p, &orig);
	e = bpf_map_lookup_elem(&qnat_ct, &orig);
	if (!e || e->port_ifindex != ctx->ingress_ifindex || (void *)(eth + 1) > data_end ||
	    !mac_eq(e->guest_mac, eth->h_source))
		return XDP_PASS;
	/* The flow's next hop, as the FIB gave it: asked again when anything
	 * changed since (the supervisor moves cfg->nh_gen on route, neighbour
	 * and uplink events, and every 2 s) or for a longer packet than it let
	 * through (the route's MTU).  The lookup is most of this path's cost. */
	if (xdp_nh_stale(cfg, e, p.tot_len)) {
		port_fib_init(&fib, cfg, &p);
		if (xdp_nh_lookup(ctx, cfg, e, &fib, p.tot_len))
			return XDP_PASS;
	}
	if (!xdp_uplink_takes(cfg))
		return XDP_PASS;

	ct_touch(e, &orig, QNAT_DIR_ORIG, &p, data_end - data);
	if (xdp_nat_rewrite(data, data_end, &p, NAT_SRC, e->nat_addr, e->nat_port) ||
	    xdp_ttl_dec_set_macs(data, data_end, e->nh_mac, cfg->uplink_mac))
		return XDP_ABORTED; /* bounds were checked by the parser: a bug */
	count(cfg, QNAT_C_SNAT_XDP, data_end - data);
	return bpf_redirect_map(&qnat_devmap, cfg->uplink_ifindex, 0);
}

/*
 * The same work in XDP, on TAP ports, before any skb exists: frames for
 * another guest on a TAP, and packets of flows tc_port_in has opened.
 * Whatever needs more (a new flow, the host, the kernel's help, a veth on
 * the other side) is XDP_PASS to tc_port_in.
 */
SEC("xdp")
int xdp_port_in(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct qnat_config *cfg = config_raw();
	struct frame fr = { data, data_end, ctx->ingress_ifindex, 0 };
	struct ethhdr *eth = data;
	__u32 arg;
	int tap;

	if (!cfg)
		return XDP_PASS;
	switch (port_l2(&fr, cfg, &arg, &tap)) {
	case PORT_L2_DROP:
		count(cfg, arg, data_end - data);
		return XDP_DROP;
	case PORT_L2_TO_PORT:
		if (!tap)
			return XDP_PASS; /* a veth drops frames its peer does not take: TC's */
		count(cfg, QNAT_C_L2_PORT_XDP, data_end - data);
		return bpf_redirect_map(&qnat_devmap, arg, XDP_PASS);
	}
	/* Bridged and libvirt's other modes are TC's alone. */
	if ((cfg->flags & (QNAT_CFG_BRIDGED | QNAT_CFG_ISOLATED)) || !(cfg->flags & QNAT_CFG_UPLINK_XMIT) ||
	    (void *)(eth + 1) > data_end)
		return XDP_PASS;
	return eth->h_proto == bpf_htons(ETH_P_IPV6) ? xdp_port_in6(ctx, cfg) : xdp_port_in4(ctx, cfg);
}

/*
 * Hand a reply, already translated back, to the guest: straight to its port
 * when we know it, else out through the bridge, which knows it.
 */
static __always_inline int tc_to_guest(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p,
				       __u32 port_ifindex, const __u8 *guest_mac)
{
	/* Port not learned yet: a flow opened from outside, a guest that moved. */
	if (!port_ifindex || !bpf_map_lookup_elem(&qnat_ports, &port_ifindex))
		return tc_via_bridge(skb, cfg, p, dst_of(skb, p), QNAT_C_RNAT_BRIDGE);
	if (tc_ttl_dec(skb, p) || tc_set_macs(skb, guest_mac, cfg->bridge_mac))
		return tc_verdict(skb, cfg, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	count(cfg, QNAT_C_RNAT_TC, skb->len);
	return bpf_redirect(port_ifindex, 0);
}

static __always_inline int tc_icmp_err_in(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p)
{
	const struct qnat_config *net;
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	struct quoted q;

	e = icmp_err_flow(skb, cfg, p, &q, &orig);
	if (!e || !(net = config_of(orig.saddr)))
		return TC_ACT_OK; /* about the host's own traffic */
	if (p->ttl <= 1)
		return tc_verdict(skb, net, QNAT_C_DROP_TTL, TC_ACT_SHOT);
	if (tc_icmp_err_xlate(skb, p, &q, NAT_SRC, orig.saddr, orig.sport, NAT_DST))
		return tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	return tc_to_guest(skb, net, p, e->port_ifindex, e->guest_mac);
}

/*
 * A later fragment of an inbound datagram: it goes where its first fragment
 * went.  One that comes first goes on to the host (whose own datagram it may
 * be), and a copy waits for the first fragment (lib/frag.h).
 */
static __always_inline int tc_frag_in(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p)
{
	struct qnat_frag_key fk = frag_key(p);
	struct qnat_frag *f = bpf_map_lookup_elem(&qnat_frags, &fk);
	const struct qnat_config *net;

	if ((!f || (f->flags & QNAT_FRAG_PENDING)) && p->daddr == cfg->ext_addr)
		f = frag_stash(skb, cfg, p, &fk);
	if (!f || f->flags || p->ttl <= 1 || !(net = config_of(f->guest_addr)))
		return TC_ACT_OK;
	if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(p), p->daddr, f->guest_addr, sizeof(f->guest_addr)) ||
	    bpf_skb_store_bytes(skb, IP_ADDR_OFF(p, 1), &f->guest_addr, sizeof(f->guest_addr), 0))
		return tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	return tc_to_guest(skb, net, p, f->port_ifindex, f->guest_mac);
}

/* Not ours: the host's.  Its first fragments say so for the later ones. */
static __always_inline int tc_host_own(const struct qnat_config *cfg, const struct pkt *p)
{
	frag_host(cfg, p);
	return TC_ACT_OK;
}

/* A reply or an error for a guest's NAT66 flow: to the guest, as tc_to_guest does IPv4. */
static __always_inline int tc_to_guest6(struct __sk_buff *skb, const struct qnat_config *net, const struct pkt6 *p,
					const __be32 *guest, const struct qnat_ct_entry *e)
{
	__u32 port_ifindex = e->port_ifindex;

	if (tc_hop_dec(skb, p))
		return tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	if (!port_ifindex || !bpf_map_lookup_elem(&qnat_ports, &port_ifindex)) {
		struct bpf_redir_neigh nh = { .nh_family = AF_INET6 };

		__builtin_memcpy(nh.ipv6_nh, guest, sizeof(nh.ipv6_nh));
		count(net, QNAT_C_RNAT_BRIDGE, skb->len);
		return bpf_redirect_neigh(net->bridge_ifindex, &nh, sizeof(nh), 0);
	}
	if (tc_set_macs(skb, e->guest_mac, net->bridge_mac))
		return tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	count(net, QNAT_C_RNAT6_TC, skb->len);
	return bpf_redirect(port_ifindex, 0);
}

/* The guest's network for a NAT66 flow it has (masquerading still). */
static __always_inline const struct qnat_config *config_masq6(const struct qnat_ct6_key *orig)
{
	const struct qnat_config *net = config_of6(orig->saddr);

	return net && (net->flags & QNAT_CFG_MASQ6) ? net : 0;
}

/*
 * A reply tuple no flow has: a new connection to a port of ext6 forwarded
 * to a --masq6 guest, TCP by its SYN, UDP by any datagram.  NULL: not
 * forwarded (the host's), or *verdict says what became of it.  Not inlined:
 * its frame stays off tc_uplink_in6's.
 */
static __noinline struct qnat_ct_entry *tc_fwd6_new(struct __sk_buff *skb, const struct pkt6 *p,
						    struct qnat_ct6_key *orig, int *verdict)
{
	struct qnat_fwd6_key k = { .port = p->dport, .proto = p->proto };
	const struct qnat_config *net;
	struct qnat_ct_entry *e;
	struct qnat_fwd6 *f;

	*verdict = TC_ACT_OK;
	if (p->proto == IPPROTO_ICMPV6_ || (p->proto == IPPROTO_TCP && (p->tcp_flags & (TCPF_SYN | TCPF_ACK)) != TCPF_SYN))
		return 0;
	__builtin_memcpy(k.addr, p->daddr, sizeof(k.addr));
	f = bpf_map_lookup_elem(&qnat_fwd6, &k);
	/* Its network must masquerade to that very address still: the flow leaves from ext6. */
	if (!f || !(net = config_of6(f->guest_addr)) || !(net->flags & QNAT_CFG_MASQ6) ||
	    !eq6(net->ext6, p->daddr))
		return 0;
	*verdict = TC_ACT_SHOT; /* counted */
	if (p->hop <= 1) {
		count(net, QNAT_C_DROP_TTL, skb->len);
		return 0;
	}
	e = ct6_create_inbound(net, p, f, orig);
	if (!e)
		return 0;
	__sync_fetch_and_add(&f->hits, 1);
	count(net, QNAT_C_DNAT_NEW, skb->len);
	return e;
}

/*
 * IPv6 from outside: replies and ICMPv6 errors of NAT66 flows, and new
 * connections to forwarded ports; nothing else reaches a --masq6 guest.
 * A --route6 prefix is routed, open, by the kernel.  Later fragments go to
 * the host (see README, limits).
 */
static __noinline int tc_uplink_in6(struct __sk_buff *skb)
{
	const struct qnat_config *net;
	struct qnat_ct6_key key, orig;
	struct qnat_ct_entry *e;
	struct quoted6 q;
	struct pkt6 p;
	int r = parse6(skb, &p);

	if (r == PARSE6_NOT || r == PARSE6_BAD)
		return TC_ACT_OK;
	if ((net = config_of6(p.daddr)))
		return net->flags & QNAT_CFG_ROUTE6 ? TC_ACT_OK : tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	/* The prefix lives behind us, never out there. */
	if ((net = config_of6(p.saddr)))
		return net->flags & QNAT_CFG_OPEN ? TC_ACT_OK : tc_verdict(skb, net, QNAT_C_DROP_SPOOF, TC_ACT_SHOT);
	if (r == PARSE6_L3 && p.proto == IPPROTO_ICMPV6_ && is_icmp6_error(p.icmp_type)) {
		e = icmp6_err_flow(skb, &p, &q, &orig);
		if (!e || !(net = config_masq6(&orig)))
			return TC_ACT_OK; /* about the host's own traffic */
		if (p.hop <= 1)
			return tc_verdict(skb, net, QNAT_C_DROP_TTL, TC_ACT_SHOT);
		if (tc_icmp6_err_xlate(skb, &p, &q, ERR_IN, orig.saddr, orig.sport))
			return tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
		return tc_to_guest6(skb, net, &p, orig.saddr, e);
	}
	if (r != PARSE6_OK || p.icmp_type == ICMPV6_ECHO_REQ)
		return TC_ACT_OK;
	ct6_key_reply(&p, &key);
	e = ct6_lookup_rev(&key, &orig);
	if (!e) {
		int verdict;

		if (!(e = tc_fwd6_new(skb, &p, &orig, &verdict)))
			return verdict;
	}
	if (!(net = config_masq6(&orig)))
		return TC_ACT_OK;
	if (p.hop <= 1)
		return tc_verdict(skb, net, QNAT_C_DROP_TTL, TC_ACT_SHOT);
	ct_account(e, QNAT_DIR_REPLY, p.proto, p.tcp_flags, skb->len);
	if (tc_nat6_rewrite(skb, &p, NAT_DST, p.daddr, orig.saddr, p.dport, orig.sport))
		return tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	return tc_to_guest6(skb, net, &p, orig.saddr, e);
}

/*
 * Every network masquerading out of this uplink is served here: cfg is the
 * uplink's (its address), net the network of the packet's guest.
 */
static __noinline int tc_uplink_in4(struct __sk_buff *skb)
{
	const struct qnat_config *cfg = config_get(), *net, *dnet, *snet;
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	struct pkt p;
	int r;

	if (!cfg)
		return TC_ACT_OK;
	r = tc_parse(skb, &p);
	if (r == PARSE_NOT_IPV4 || r == PARSE_BAD)
		return TC_ACT_OK;
	/* Nobody outside may address a guest directly; routed (and open): the kernel routes to it. */
	config_of_either(p.daddr, p.saddr, &dnet, &snet);
	if (dnet)
		return dnet->flags & QNAT_CFG_ROUTE ? TC_ACT_OK : tc_verdict(skb, dnet, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	/* Nor pose as one: the subnet lives behind us, never out there (open: no filtering of ours). */
	if (snet)
		return snet->flags & QNAT_CFG_OPEN ? TC_ACT_OK : tc_verdict(skb, snet, QNAT_C_DROP_SPOOF, TC_ACT_SHOT);
	if (r == PARSE_IPV4 && p.proto == IPPROTO_ICMP && is_icmp_error(p.icmp_type) && p.daddr == cfg->ext_addr)
		return tc_icmp_err_in(skb, cfg, &p);
	if (r == PARSE_IPV4 && p.frag == FRAG_LATER)
		return tc_frag_in(skb, cfg, &p);
	if (r != PARSE_OK || (p.proto == IPPROTO_ICMP && p.icmp_type != ICMP_ECHOREPLY))
		return tc_host_own(cfg, &p);
	e = ct_lookup_reply(&p, &orig);
	if (!e) {
		struct qnat_fwd *f;

		/* A new connection to a forwarded port: TCP by its SYN, UDP by any
		 * datagram; not one that could not be delivered anyway. */
		if (p.proto == IPPROTO_ICMP || (p.proto == IPPROTO_TCP && (p.tcp_flags & (TCPF_SYN | TCPF_ACK)) != TCPF_SYN))
			return tc_host_own(cfg, &p);
		f = fwd_lookup(cfg, p.daddr, p.dport, p.proto);
		/* One that could not be delivered opens nothing; the host's own
		 * (TTL 1 is fine for it) is none of our business. */
		net = f ? config_of(f->guest_addr) : 0;
		if (p.ttl <= 1)
			return f ? tc_verdict(skb, net ? net : cfg, QNAT_C_DROP_TTL, TC_ACT_SHOT) : tc_host_own(cfg, &p);
		if (net) {
			e = ct_create_inbound(net, &p, f->guest_addr, f->guest_port, &orig);
			if (!e)
				return TC_ACT_SHOT; /* counted */
			__sync_fetch_and_add(&f->hits, 1);
			count(net, QNAT_C_DNAT_NEW, skb->len);
		} else {
			e = ct_create_eif(&p, &orig);
			if (!e)
				return tc_host_own(cfg, &p);
		}
	}
	/* A flow of a network no longer here.  (A hairpin's reply tuple has a
	 * guest's source: the spoof check above took it.) */
	if (!(net = config_of(orig.saddr)))
		return tc_host_own(cfg, &p);
	if (p.ttl <= 1)
		return tc_verdict(skb, net, QNAT_C_DROP_TTL, TC_ACT_SHOT);

	ct_touch(e, &orig, QNAT_DIR_REPLY, &p, skb->len);
	if (tc_nat_rewrite(skb, &p, NAT_DST, p.daddr, orig.saddr, p.dport, orig.sport))
		return tc_verdict(skb, net, QNAT_C_DROP_NO_FLOW, TC_ACT_SHOT);
	if (p.frag == FRAG_FIRST)
		frag_first(&p, orig.saddr, e);
	return tc_to_guest(skb, net, &p, e->port_ifindex, e->guest_mac);
}

/* IPv6 leaving the uplink: a --masq6 guest's source is translated or stopped. */
static __noinline int tc_uplink_out6(struct __sk_buff *skb)
{
	const struct qnat_config *net;
	struct qnat_ct6_key orig;
	struct qnat_ct_entry *e;
	struct pkt6 p;
	int r = parse6(skb, &p);

	/* A header too short to hold a source is no one's. */
	if (r == PARSE6_NOT || !(net = config_of6(p.saddr)) || !(net->flags & QNAT_CFG_MASQ6))
		return TC_ACT_OK;
	if (is_unspec6(net->ext6))
		return tc_verdict(skb, net, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	if (r == PARSE6_L3 && p.frag == FRAG_LATER) {
		if (tc_frag6_snat(skb, net))
			return tc_verdict(skb, net, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
		return tc_verdict(skb, net, QNAT_C_SNAT_EGRESS, TC_ACT_OK);
	}
	/* A guest's ICMPv6 error about a forwarded flow (port unreachable) or a reply; no other leaves. */
	if (r == PARSE6_L3 && p.proto == IPPROTO_ICMPV6_ && is_icmp6_error(p.icmp_type)) {
		struct quoted6 q;

		e = icmp6_err_out_flow(skb, &p, &q, &orig);
		if (!e || tc_icmp6_err_xlate(skb, &p, &q, ERR_OUT, net->ext6, e->nat_port))
			return tc_verdict(skb, net, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
		return tc_verdict(skb, net, QNAT_C_SNAT_EGRESS, TC_ACT_OK);
	}
	if (r != PARSE6_OK || (p.proto == IPPROTO_ICMPV6_ && p.icmp_type != ICMPV6_ECHO_REQ))
		return tc_verdict(skb, net, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	ct6_key_orig(&p, &orig);
	e = ct6_lookup_or_create(skb, net, &orig, 0, 0);
	if (!e)
		return TC_ACT_SHOT;
	ct_account(e, QNAT_DIR_ORIG, p.proto, p.tcp_flags, skb->len);
	if (tc_nat6_rewrite(skb, &p, NAT_SRC, p.saddr, net->ext6, p.sport, e->nat_port))
		return tc_verdict(skb, net, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	return tc_verdict(skb, net, QNAT_C_SNAT_EGRESS, TC_ACT_OK);
}

static __noinline int tc_uplink_out4(struct __sk_buff *skb)
{
	const struct qnat_config *cfg;
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	struct pkt p;
	int r;

	cfg = config_uplink();
	if (!cfg)
		return TC_ACT_OK;
	r = tc_parse(skb, &p);
	if (r == PARSE_NOT_IPV4 || (r == PARSE_BAD && (cfg->flags & QNAT_CFG_ROUTE)))
		return TC_ACT_OK;
	if (r == PARSE_BAD) /* whose it is cannot be told: it may be a guest's */
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	/* The network of its source, if a guest's; routed: leaves untranslated. */
	cfg = config_of(p.saddr);
	if (!cfg || (cfg->flags & QNAT_CFG_ROUTE))
		return TC_ACT_OK;
	/* From here on the source is a guest's: translate it or stop it. */
	if (cfg->ext_addr && r == PARSE_IPV4 && p.proto == IPPROTO_ICMP && is_icmp_error(p.icmp_type)) {
		struct quoted q;

		e = icmp_err_out_flow(skb, &p, &q);
		if (!e || tc_icmp_err_xlate(skb, &p, &q, NAT_DST, e->nat_addr, e->nat_port, NAT_SRC))
			return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
		return tc_verdict(skb, cfg, QNAT_C_SNAT_EGRESS, TC_ACT_OK);
	}
	if (cfg->ext_addr && r == PARSE_IPV4 && p.frag == FRAG_LATER &&
	    (p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP || p.proto == IPPROTO_ICMP)) {
		/* No ports here: the first fragment carried them (and the
		 * checksum that covers the whole datagram). */
		if (bpf_l3_csum_replace(skb, IP_CSUM_OFF(&p), p.saddr, cfg->ext_addr, sizeof(cfg->ext_addr)) ||
		    bpf_skb_store_bytes(skb, IP_ADDR_OFF(&p, 0), &cfg->ext_addr, sizeof(cfg->ext_addr), 0))
			return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
		return tc_verdict(skb, cfg, QNAT_C_SNAT_EGRESS, TC_ACT_OK);
	}
	if (!cfg->ext_addr || r != PARSE_OK || (p.proto == IPPROTO_ICMP && p.icmp_type != ICMP_ECHO))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);

	ct_key_orig(&p, &orig);
	e = ct_lookup_or_create(skb, cfg, &orig, 0, 0);
	if (!e)
		return TC_ACT_SHOT;
	ct_touch(e, &orig, QNAT_DIR_ORIG, &p, skb->len);
	if (tc_nat_rewrite(skb, &p, NAT_SRC, p.saddr, e->nat_addr, p.sport, e->nat_port))
		return tc_verdict(skb, cfg, QNAT_C_DROP_LEAK, TC_ACT_SHOT);
	return tc_verdict(skb, cfg, QNAT_C_SNAT_EGRESS, TC_ACT_OK);
}

/* Every network on this uplink, either family: each its own subprogram, so their stacks are not added up. */
SEC("tc")
int tc_uplink_in(struct __sk_buff *skb)
{
	if (skb->vlan_present) /* another VLAN's, tag stripped into the skb */
		return TC_ACT_OK;
	return skb->protocol == bpf_htons(ETH_P_IPV6) ? tc_uplink_in6(skb) : tc_uplink_in4(skb);
}

SEC("tc")
int tc_uplink_out(struct __sk_buff *skb)
{
	return skb->protocol == bpf_htons(ETH_P_IPV6) ? tc_uplink_out6(skb) : tc_uplink_out4(skb);
}

/*
 * Bridged: a LAN frame for a guest's MAC on a TAP port goes straight into
 * the TAP.  Broadcast, multicast, unknown unicast, STP and the host's own
 * frames stay with the bridge; frames for veth ports with TC, which hands
 * them over as skbs (a veth drops redirected frames its peer does not take).
 */
static __always_inline int xdp_bridged_in(struct xdp_md *ctx, const struct qnat_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct qnat_port *port;
	struct ethhdr *eth = data;
	__u32 ifindex;

	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;
	port = fdb_port_for(cfg, eth->h_dest, ctx->ingress_ifindex, &ifindex);
	if (!port || !(port->flags & QNAT_PORT_TAP))
		return XDP_PASS;
	/* TC learns from what it sees; these frames it never will. */
	fdb_learn(eth->h_source, ctx->ingress_ifindex);
	count(cfg, QNAT_C_L2_XDP, data_end - data);
	return bpf_redirect_map(&qnat_devmap, ifindex, XDP_PASS);
}

SEC("xdp")
int xdp_uplink_in(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct qnat_config *cfg = config_uplink(), *net;
	const struct qnat_port *port;
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	__u32 port_ifindex;
	struct pkt p;
	int r;

	if (!cfg)
		return XDP_PASS;
	if (cfg->flags & QNAT_CFG_BRIDGED)
		return xdp_bridged_in(ctx, cfg);
	if (!cfg->ext_addr)
		return XDP_PASS;
	r = parse_ipv4(data, data_end, &p);
	if (r != PARSE_OK || p.frag || p.daddr != cfg->ext_addr)
		return XDP_PASS; /* TC ingress decides: it also sees GSO and fragments */
	if (p.proto == IPPROTO_ICMP && p.icmp_type != ICMP_ECHOREPLY)
		return XDP_PASS;
	/* A hairpin's reply tuple is a guest's source, never one from outside: TC drops it. */
	e = ct_lookup_reply(&p, &orig);
	if (!e || (e->flags & QNAT_CTF_HAIRPIN) || !(net = config_of(orig.saddr)))
		return XDP_PASS;
	/* Only TAPs take redirected frames whatever their peer does; replies
	 * for veth ports are left to TC, which hands them over as skbs. */
	port_ifindex = e->port_ifindex;
	port = bpf_map_lookup_elem(&qnat_ports, &port_ifindex);
	if (!port || !(port->flags & QNAT_PORT_TAP) || p.ttl <= 1)
		return XDP_PASS;

	ct_touch(e, &orig, QNAT_DIR_REPLY, &p, data_end - data);
	if (xdp_nat_rewrite(data, data_end, &p, NAT_DST, orig.saddr, orig.sport) ||
	    xdp_ttl_dec_set_macs(data, data_end, e->guest_mac, net->bridge_mac))
		return XDP_ABORTED; /* bounds were checked by the parser: a bug */
	count(net, QNAT_C_RNAT_XDP, data_end - data);
	return bpf_redirect_map(&qnat_devmap, port_ifindex, 0);
}

SEC("tc")
int tc_host_in(struct __sk_buff *skb)
{
	const struct qnat_config *cfg = config_raw();
	struct pkt p;
	int r;

	if (!cfg || (cfg->flags & (QNAT_CFG_BRIDGED | QNAT_CFG_HOST_OPEN)))
		return TC_ACT_OK;
	r = tc_parse(skb, &p);
	if (r == PARSE_NOT_IPV4 ? host_in6_allowed(skb, cfg) :
	    /* Malformed IPv4 the kernel drops itself. */
	    r == PARSE_BAD || !host_is_dest(skb, cfg, &p) || host_in_allowed(cfg, &p, r))
		return TC_ACT_OK;
	return tc_verdict(skb, cfg, QNAT_C_DROP_HOST, TC_ACT_SHOT);
}

SEC("tc")
int tc_host_out(struct __sk_buff *skb)
{
	const struct qnat_config *cfg = config_raw();
	struct qnat_host_flow_key k;
	struct pkt p;
	int r;

	if (!cfg || (cfg->flags & (QNAT_CFG_BRIDGED | QNAT_CFG_HOST_OPEN)))
		return TC_ACT_OK;
	/* Only the host's own packets: what it routes to guests, and the
	 * replies tc_uplink_in sends through the bridge, open nothing (and
	 * would crowd the host's connections out of the LRU). */
	r = tc_parse(skb, &p);
	if (r == PARSE_OK && p.proto != IPPROTO_ICMP && in_subnet(cfg, p.daddr) && host_is_src(skb, cfg, &p)) {
		host_key4(&p, &k);
		host_flow_note(&k);
	} else if (r == PARSE_NOT_IPV4) {
		r = parse_ipv6(skb, &k);
		if ((r == IPPROTO_TCP || r == IPPROTO_UDP) && host6_is_src(skb, cfg, &k))
			host_flow_note(&k);
	}
	return TC_ACT_OK;
}

/*
 * Port forwards for the host's own sockets (ssh -p 2222 localhost): the
 * socket is pointed at the guest when it connects or sends, so no packet
 * needs translating.  These hooks hang on the root cgroup and act only in
 * the host namespace qnat-bpf was attached in.
 */
static __always_inline struct qnat_fwd *sock_fwd(struct bpf_sock_addr *ctx, const struct qnat_config **cfgp)
{
	const struct qnat_config *cfg = config_get();
	__be32 dst = ctx->user_ip4;
	__be16 port = (__be16)ctx->user_port;
	struct qnat_fwd *f;

	if (!cfg || bpf_get_netns_cookie(ctx) != cfg->netns_cookie)
		return 0;
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return 0;
	*cfgp = cfg;
	/* Loopback: a forward of that very address (the host's alone, as
	 * QEMU's hostfwd), else those of every uplink address. */
	if ((dst & bpf_htonl(0xff000000)) == bpf_htonl(0x7f000000)) {
		struct qnat_fwd_key k = { .addr = dst, .port = port, .proto = ctx->protocol };

		f = bpf_map_lookup_elem(&qnat_fwd, &k);
		if (f)
			return f;
		dst = cfg->ext_addr;
	}
	return fwd_lookup(cfg, dst, port, ctx->protocol);
}

static __always_inline void sock_redirect(struct bpf_sock_addr *ctx)
{
	const struct qnat_config *cfg;
	struct qnat_fwd *f = sock_fwd(ctx, &cfg);

	if (!f)
		return;
	if (ctx->protocol == IPPROTO_UDP) {
		struct qnat_sock_rev_key k = {
			.cookie = bpf_get_socket_cookie(ctx),
			.guest_addr = f->guest_addr,
			.guest_port = f->guest_port,
		};
		struct qnat_sock_rev v = { .addr = ctx->user_ip4, .port = (__be16)ctx->user_port };

		bpf_map_update_elem(&qnat_sock_rev, &k, &v, BPF_ANY);
	} else {
		__sync_fetch_and_add(&f->hits, 1);
	}
	ctx->user_ip4 = f->guest_addr;
	ctx->user_port = f->guest_port;
}

SEC("cgroup/connect4")
int sock_connect4(struct bpf_sock_addr *ctx)
{
	sock_redirect(ctx);
	return 1;
}

SEC("cgroup/sendmsg4")
int sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	sock_redirect(ctx);
	return 1;
}

SEC("cgroup/recvmsg4")
int sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	const struct qnat_config *cfg = config_get();
	struct qnat_sock_rev_key k = {
		.cookie = bpf_get_socket_cookie(ctx),
		.guest_addr = ctx->user_ip4,
		.guest_port = (__be16)ctx->user_port,
	};
	struct qnat_sock_rev *v;

	if (!cfg || bpf_get_netns_cookie(ctx) != cfg->netns_cookie)
		return 1;
	v = bpf_map_lookup_elem(&qnat_sock_rev, &k);
	if (v) {
		ctx->user_ip4 = v->addr;
		ctx->user_port = v->port;
	}
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
