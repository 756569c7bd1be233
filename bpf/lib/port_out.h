/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What a guest's IPv4 packet is, for tc_port_in and xdp_port_in alike: the
 * host's, a spoof, one for the slow path, or one to route and masquerade.
 */
#ifndef QNAT_PORT_OUT_H
#define QNAT_PORT_OUT_H

#include "config.h"
#include "parse.h"

#ifndef AF_INET
#define AF_INET 2
#endif

enum port_out {
	OUT_HOST,    /* the bridge's: gateway, DHCP, mDNS, other guests by IP */
	OUT_GATEWAY, /* for the gateway itself: maybe a hairpin's server side */
	OUT_SPOOF,   /* a source outside the subnet */
	OUT_SLOW,    /* fragments, other protocols, expiring TTLs: the kernel's */
	OUT_ROUTE,   /* route it; masquerade it if it leaves by the uplink */
};

static __always_inline int port_out_kind(const struct qnat_config *cfg, const struct pkt *p, int r)
{
	if (in_subnet(cfg, p->daddr) || is_mcast_or_bcast(p->daddr))
		return p->daddr == cfg->gateway && r == PARSE_OK && p->proto != IPPROTO_ICMP ? OUT_GATEWAY : OUT_HOST;
	if (!in_subnet(cfg, p->saddr))
		return OUT_SPOOF;
	/* The uplink's egress program translates or stops what the kernel routes. */
	if (r != PARSE_OK || p->frag || (p->proto == IPPROTO_ICMP && p->icmp_type != ICMP_ECHO) || p->ttl <= 1)
		return OUT_SLOW;
	return OUT_ROUTE;
}

/* To another NAT network's subnet on this uplink: libvirt rejects that (its
 * FORWARD rules let in only replies); routed ones are reachable. */
static __always_inline int port_other_net(const struct qnat_config *cfg, __be32 daddr)
{
	const struct qnat_config *other;

	if (cfg->flags & QNAT_CFG_OPEN)
		return 0; /* no policy of ours */
	other = config_of(daddr);
	return other && other != cfg && !(other->flags & QNAT_CFG_ROUTE);
}

/* The route lookup for p, as it came in by the bridge. */
static __always_inline void port_fib_init(struct bpf_fib_lookup *fib, const struct qnat_config *cfg,
					  const struct pkt *p)
{
	__builtin_memset(fib, 0, sizeof(*fib));
	fib->family = AF_INET;
	fib->l4_protocol = p->proto;
	fib->sport = p->proto == IPPROTO_ICMP ? 0 : p->sport;
	fib->dport = p->proto == IPPROTO_ICMP ? 0 : p->dport;
	fib->ifindex = cfg->bridge_ifindex;
	fib->ipv4_src = p->saddr;
	fib->ipv4_dst = p->daddr;
}

#endif /* QNAT_PORT_OUT_H */
