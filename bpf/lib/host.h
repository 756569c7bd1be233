/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What guests may reach on the host itself: libvirt's INPUT rules made
 * strict.  DHCP and DNS on the gateway, ICMP echo to the gateway and ICMP
 * errors, the ports of --host-allow, and replies to connections the host
 * opened; nothing else.
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

#include "config.h"
#include "parse.h"

#ifndef AF_INET
#define AF_INET 2
#endif

/* The host's own connection, keyed as the guest's reply looks. */
static __always_inline void host_flow_key(const struct pkt *p, struct qnat_ct_key *k)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->saddr = p->daddr;
	k->daddr = p->saddr;
	k->sport = p->dport;
	k->dport = p->sport;
	k->proto = p->proto;
}

/* Host to guest: note the connection, or that it is still alive. */
static __always_inline void host_flow_note(const struct pkt *p)
{
	struct qnat_ct_key k;
	__u64 now = bpf_ktime_get_ns(), *seen;

	host_flow_key(p, &k);
	seen = bpf_map_lookup_elem(&qnat_host_flow, &k);
	if (seen)
		*seen = now;
	else
		bpf_map_update_elem(&qnat_host_flow, &k, &now, BPF_ANY);
}

/* Guest to host: a reply within a connection the host opened, not gone quiet. */
static __always_inline int host_flow_reply(const struct qnat_config *cfg, const struct pkt *p)
{
	struct qnat_ct_key k = {
		.saddr = p->saddr, .daddr = p->daddr, .sport = p->sport, .dport = p->dport, .proto = p->proto
	};
	__u64 now = bpf_ktime_get_ns(), *seen = bpf_map_lookup_elem(&qnat_host_flow, &k);
	__u32 secs = p->proto == IPPROTO_TCP ? cfg->timeouts[QNAT_TO_TCP_ESTABLISHED] : cfg->timeouts[QNAT_TO_UDP_STREAM];

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

/* Is the packet for the host itself (not routed through it)? */
static __always_inline int host_is_dest(struct __sk_buff *skb, const struct qnat_config *cfg, const struct pkt *p)
{
	struct bpf_fib_lookup fib = {
		.family = AF_INET, .ifindex = cfg->bridge_ifindex, .ipv4_src = p->saddr, .ipv4_dst = p->daddr
	};
	int rc;

	if (p->daddr == cfg->gateway || is_mcast_or_bcast(p->daddr))
		return 1;
	/* Local and broadcast routes are "not forwarded"; with forwarding
	 * off, nothing is forwarded. */
	rc = bpf_fib_lookup(skb, &fib, sizeof(fib), 0);
	return rc == BPF_FIB_LKUP_RET_NOT_FWDED || rc == BPF_FIB_LKUP_RET_FWD_DISABLED;
}

/* May this guest packet for the host go in?  r: what parse_ipv4 said. */
static __always_inline int host_in_allowed(const struct qnat_config *cfg, const struct pkt *p, int r)
{
	__be32 bcast = cfg->subnet | ~cfg->netmask;

	/* A later fragment follows its first, which was judged by its ports:
	 * without it the datagram never reassembles. */
	if (p->frag == FRAG_LATER)
		return 1;
	if (p->proto == IPPROTO_ICMP)
		return is_icmp_error(p->icmp_type) || p->icmp_type == ICMP_ECHOREPLY ||
		       (p->icmp_type == ICMP_ECHO && p->daddr == cfg->gateway);
	if (p->proto == IPPROTO_IGMP) /* membership reports: the bridge's multicast snooping */
		return 1;
	if (r != PARSE_OK)
		return 0; /* other protocols: only with --host-allow all */
	if (p->proto == IPPROTO_UDP && p->dport == bpf_htons(67) &&
	    (p->daddr == cfg->gateway || p->daddr == bcast || p->daddr == bpf_htonl(0xffffffff)))
		return 1; /* DHCP, also before the guest has an address */
	if (p->dport == bpf_htons(53) && p->daddr == cfg->gateway)
		return 1; /* DNS, UDP and TCP */
	return host_port_allowed(p->proto, p->dport) || host_flow_reply(cfg, p);
}

#endif /* QNAT_HOST_H */
