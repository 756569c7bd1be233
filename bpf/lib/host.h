/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What guests may reach on the host itself: libvirt's INPUT rules made
 * strict.  DHCP and DNS on the gateway, ICMP echo to the host's addresses and ICMP
 * errors, the ports of --host-allow, and replies to connections the host
 * opened; nothing else.  IPv6: ICMPv6 (neighbour discovery), the ports of
 * --host-allow and replies to the host's connections.
 *
 * Where: TC on the bridge device.  Its ingress sees exactly what the bridge
 * hands up to the host's stack (unicast to the bridge's MAC, and the host's
 * copy of broadcasts and multicast), after tc_port_in has taken its share:
 * hairpin and forwarded flows, and guest-to-guest frames, never get there.
 * Its egress sees what the host sends guests, which is where the host's own
 * connections are noted (qnat_host_flow), so their replies may come back.
 */
#ifndef QNAT_HOST_H
#define QNAT_HOST_H

#include <linux/ipv6.h>
#include "config.h"
#include "parse.h"

#ifndef AF_INET
#define AF_INET 2
#endif
#ifndef AF_INET6
#define AF_INET6 10
#endif
#define IPPROTO_HOPOPTS_ 0

/* A packet's tuple for the host policy, IPv4 mapped into IPv6. */
static __always_inline void host_key4(const struct pkt *p, struct qnat_host_flow_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->saddr[2] = k->daddr[2] = bpf_htonl(0xffff);
	k->saddr[3] = p->saddr;
	k->daddr[3] = p->daddr;
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
}

/* Host to guest: note the connection (keyed as the reply), or that it lives. */
static __always_inline void host_flow_note(const struct qnat_host_flow_key *out)
{
	struct qnat_host_flow_key k = *out;
	__u64 now = bpf_ktime_get_ns(), *seen;

	__builtin_memcpy(k.saddr, out->daddr, sizeof(k.saddr));
	__builtin_memcpy(k.daddr, out->saddr, sizeof(k.daddr));
	k.sport = out->dport;
	k.dport = out->sport;
	seen = bpf_map_lookup_elem(&qnat_host_flow, &k);
	if (seen)
		*seen = now;
	else
		bpf_map_update_elem(&qnat_host_flow, &k, &now, BPF_ANY);
}

/* Guest to host: a reply within a connection the host opened, not gone quiet. */
static __always_inline int host_flow_reply(const struct qnat_config *cfg, const struct qnat_host_flow_key *k)
{
	__u64 now = bpf_ktime_get_ns(), *seen = bpf_map_lookup_elem(&qnat_host_flow, k);
	__u32 secs = k->proto == IPPROTO_TCP ? cfg->timeouts[QNAT_TO_TCP_ESTABLISHED] : cfg->timeouts[QNAT_TO_UDP_STREAM];

	if (!seen || now - *seen > (__u64)secs * 1000000000ULL)
		return 0;
	*seen = now;
	return 1;
}

/* Is proto/port in --host-allow?  Rules are packed from slot 0. */
static __always_inline int host_port_allowed(__u8 proto, __be16 port)
{
	__u16 p = bpf_ntohs(port);

	for (__u32 i = 0; i < QNAT_HOST_ALLOW_MAX; i++) {
		struct qnat_host_allow *a = bpf_map_lookup_elem(&qnat_host_allow, &i);

		if (!a || !a->proto)
			return 0;
		if (a->proto == proto && p >= a->first && p <= a->last)
			return 1;
	}
	return 0;
}

/* Local and broadcast routes are "not forwarded"; with forwarding off,
 * nothing is forwarded. */
static __always_inline int host_fib_local(struct __sk_buff *skb, struct bpf_fib_lookup *fib)
{
	int rc = bpf_fib_lookup(skb, fib, sizeof(*fib), 0);

	return rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

/* Is addr local, for a packet from peer (a guest) on the bridge? */
static __always_inline int host_fib_local4(struct __sk_buff *skb, const struct qnat_config *cfg, __be32 peer,
					   __be32 addr)
{
	struct bpf_fib_lookup fib = {
		.family = AF_INET, .ifindex = cfg->bridge_ifindex, .ipv4_src = peer, .ipv4_dst = addr
	};

	return host_fib_local(skb, &fib);
}

/* Is the packet for the host itself (not routed through it)? */
static __always_inline int host_is_dest(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p)
{
	return p->daddr == cfg->gateway || is_mcast_or_bcast(p->daddr) || host_fib_local4(skb, cfg, p->saddr, p->daddr);
}

/*
 * Is a packet to a guest the host's own (not one it routes, nor a reply
 * tc_uplink_in sent through the bridge)?  Its source is the gateway or
 * another host address: the one tc_host_in finds local in the reply.
 */
static __always_inline int host_is_src(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p)
{
	if (p->saddr == cfg->gateway)
		return 1;
	return !is_mcast_or_bcast(p->saddr) && !in_subnet(cfg, p->saddr) &&
	       host_fib_local4(skb, cfg, p->daddr, p->saddr);
}

/* May this guest IPv4 packet for the host go in?  r: what parse_ipv4 said. */
static __always_inline int host_in_allowed(const struct qnat_config *cfg, const struct pkt *p, int r)
{
	__be32 bcast = cfg->subnet | ~cfg->netmask;
	struct qnat_host_flow_key k;

	/* A later fragment follows its first, which was judged by its ports:
	 * without it the datagram never reassembles. */
	if (p->frag == FRAG_LATER)
		return 1;
	if (p->proto == IPPROTO_ICMP)
		/* Ping any of the host's own addresses, as on libvirt's network;
		 * not its broadcasts (smurf amplification). */
		return is_icmp_error(p->icmp_type) || p->icmp_type == ICMP_ECHOREPLY ||
		       (p->icmp_type == ICMP_ECHO && p->daddr != bcast && !is_mcast_or_bcast(p->daddr));
	if (p->proto == IPPROTO_IGMP) /* membership reports: the bridge's multicast snooping */
		return 1;
	if (r != PARSE_OK)
		return 0; /* other protocols: only with --host-allow all */
	if (p->proto == IPPROTO_UDP && p->dport == bpf_htons(67) &&
	    (p->daddr == cfg->gateway || p->daddr == bcast || p->daddr == bpf_htonl(0xffffffff)))
		return 1; /* DHCP, also before the guest has an address */
	if (p->dport == bpf_htons(53) && p->daddr == cfg->gateway)
		return 1; /* DNS, UDP and TCP */
	host_key4(p, &k);
	return host_port_allowed(p->proto, p->dport) || host_flow_reply(cfg, &k);
}

/*
 * An IPv6 packet's TCP or UDP tuple, past at most one hop-by-hop header.
 * Returns its next header (ICMPv6, TCP, UDP, anything else); -1 if it is
 * not IPv6 (ARP, VLAN-tagged) or too short.
 */
static __always_inline int parse_ipv6(struct __sk_buff *skb, struct qnat_host_flow_key *k)
{
	__u32 off = sizeof(struct ethhdr) + sizeof(struct ipv6hdr);
	struct ipv6hdr ip6;
	__u8 nh, ext[2];
	__be16 ports[2];

	/* Loaded, not read in place: the header need not be in the linear part. */
	if (skb->protocol != bpf_htons(ETH_P_IPV6) || bpf_skb_load_bytes(skb, sizeof(struct ethhdr), &ip6, sizeof(ip6)))
		return -1;
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->saddr, &ip6.saddr, 16);
	__builtin_memcpy(k->daddr, &ip6.daddr, 16);
	nh = ip6.nexthdr;
	if (nh == IPPROTO_HOPOPTS_) { /* MLD reports carry one */
		if (bpf_skb_load_bytes(skb, off, ext, sizeof(ext)))
			return -1;
		nh = ext[0];
		off += (ext[1] + 1) * 8;
	}
	k->proto = nh;
	if (nh != IPPROTO_TCP && nh != IPPROTO_UDP)
		return nh;
	if (bpf_skb_load_bytes(skb, off, ports, sizeof(ports)))
		return -1;
	k->sport = ports[0];
	k->dport = ports[1];
	return nh;
}

/* Is the IPv6 address addr the host's, for a packet from peer on the
 * bridge?  Link-local addresses are, and multicast ones when mcast. */
static __always_inline int host6_local(struct __sk_buff *skb, const struct qnat_config *cfg, const __be32 peer[4],
				       const __be32 addr[4], int mcast)
{
	struct bpf_fib_lookup fib = { .family = AF_INET6, .ifindex = cfg->bridge_ifindex };

	if (is_mcast6(addr))
		return mcast;
	if (is_linklocal6(addr))
		return 1;
	__builtin_memcpy(fib.ipv6_src, peer, 16);
	__builtin_memcpy(fib.ipv6_dst, addr, 16);
	return host_fib_local(skb, &fib);
}

/* Is this IPv6 packet for the host?  Link-local and multicast always are. */
static __always_inline int host6_is_dest(struct __sk_buff *skb, const struct qnat_config *cfg,
					 const struct qnat_host_flow_key *k)
{
	return host6_local(skb, cfg, k->saddr, k->daddr, 1);
}

/* Is this IPv6 packet to a guest the host's own?  Not from a multicast address. */
static __always_inline int host6_is_src(struct __sk_buff *skb, const struct qnat_config *cfg,
					const struct qnat_host_flow_key *k)
{
	return host6_local(skb, cfg, k->daddr, k->saddr, 0);
}

/* May this frame that is not IPv4 go in?  Only host-bound IPv6 is judged. */
static __always_inline int host_in6_allowed(struct __sk_buff *skb, const struct qnat_config *cfg)
{
	struct qnat_host_flow_key k;
	int nh = parse_ipv6(skb, &k);

	if (nh < 0 || nh == IPPROTO_ICMPV6_ || !host6_is_dest(skb, cfg, &k))
		return 1;
	if (nh != IPPROTO_TCP && nh != IPPROTO_UDP)
		return 0; /* other protocols, extension headers, fragments: only with --host-allow all */
	if (nh == IPPROTO_UDP && k.dport == bpf_htons(547))
		return 1; /* DHCPv6 (--dhcp6-range), to its multicast group */
	/* DNS on the IPv6 gateway (the host's address in the prefix) or the
	 * bridge's link-local address, both of which dnsmasq answers on. */
	if (k.dport == bpf_htons(53) && (in_prefix6(cfg, k.daddr) || is_linklocal6(k.daddr)))
		return 1;
	return host_port_allowed(k.proto, k.dport) || host_flow_reply(cfg, &k);
}

#endif /* QNAT_HOST_H */
