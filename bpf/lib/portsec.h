/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port security (libvirt's clean-traffic idea, on by default in NAT mode): a
 * port may send only from the MAC it was first seen with; from one IPv4
 * address, learned from its first packet and replaced by the controller
 * with the guest's DHCP lease or static host, which are authoritative; and
 * from the IPv6 addresses it bound by first use or DAD, none another
 * port's.  ARP and neighbour advertisements claiming any other address,
 * VLAN-tagged frames, DHCP servers' replies and router advertisements are
 * dropped.  Each refusal is counted, and on its port.
 */
#ifndef QNAT_PORTSEC_H
#define QNAT_PORTSEC_H

#include <linux/if_ether.h>
#include <linux/in6.h>
#include <linux/ipv6.h>
#include <linux/udp.h>
#include "config.h"
#include "fdb.h"
#include "frame.h"

#define DHCP4_SERVER_PORT 67
#define DHCP6_SERVER_PORT 547
#define ICMP6_RA 134
#define ICMP6_NS 135
#define ICMP6_NA 136
#define ICMP6_REDIRECT 137
#define IP6_EXT_MAX 4 /* extension headers walked to find the upper layer */
#define IP6_BIND_REFRESH_NS (60ULL * 1000000000ULL)

struct arp_ipv4 {
	__be16 htype, ptype;
	__u8 hlen, plen;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__be32 spa;
} __attribute__((packed));

/* The IPv4 part: no DHCP server, and the port's one address. */
static __always_inline __u32 port_check_ip4(struct qnat_port *port, const struct qnat_config *cfg, __be32 src)
{
	if (!src) /* DHCP before a lease, ARP probes */
		return 0;
	if (!port->ip) {
		if (in_subnet(cfg, src))
			port->ip = src; /* first use; outside the subnet, the spoof check drops what leaves */
		return 0;
	}
	return src == port->ip ? 0 : QNAT_C_DROP_PORT_IP;
}

/* May this port send from addr?  Binds it on first use, if nobody has it and the port has room. */
static __always_inline __u32 port_bind_ip6(struct qnat_port *port, __u32 ifindex, const struct qnat_ip6_addr *addr)
{
	struct qnat_ip6_binding *b, nb = { .ifindex = ifindex };
	struct qnat_ip6_addr key = *addr;
	__u64 now = bpf_ktime_get_ns();

	b = bpf_map_lookup_elem(&qnat_ip6_bind, &key);
	if (b) {
		if (b->ifindex != ifindex)
			return QNAT_C_DROP_PORT_IP6;
		if (now - b->last_seen > IP6_BIND_REFRESH_NS) /* not a write per packet */
			b->last_seen = now;
		return 0;
	}
	if (port->ip6_bound >= QNAT_PORT_IP6_MAX)
		return QNAT_C_DROP_PORT_IP6;
	nb.last_seen = now;
	if (bpf_map_update_elem(&qnat_ip6_bind, &key, &nb, BPF_NOEXIST)) {
		b = bpf_map_lookup_elem(&qnat_ip6_bind, &key); /* another CPU's packet bound it first */
		return b && b->ifindex == ifindex ? 0 : QNAT_C_DROP_PORT_IP6;
	}
	__sync_fetch_and_add(&port->ip6_bound, 1);
	return 0;
}

/*
 * The IPv6 part: no DHCPv6 server, no RA or redirect, and only the port's
 * own sources and neighbour advertisements.  The extension headers are
 * walked to the upper layer; a chain too long to see through is refused,
 * as RA guard must (RFC 7113).
 */
static __always_inline __u32 port_check_ip6(struct qnat_port *port, __u32 ifindex, struct ipv6hdr *ip6,
					    void *data_end)
{
	struct qnat_ip6_addr *src = (void *)&ip6->saddr;
	void *l4 = ip6 + 1;
	__u8 nh = ip6->nexthdr;
	int upper = 0;

	for (int i = 0; i < IP6_EXT_MAX && !upper; i++) {
		if (nh == IPPROTO_HOPOPTS || nh == IPPROTO_ROUTING || nh == IPPROTO_DSTOPTS) {
			struct ipv6_opt_hdr *h = l4;

			if ((void *)(h + 1) > data_end)
				return QNAT_C_DROP_PORT_IP6;
			nh = h->nexthdr;
			l4 += (h->hdrlen + 1) * 8;
		} else if (nh == IPPROTO_FRAGMENT) {
			struct frag_hdr {
				__u8 nexthdr, reserved;
				__be16 frag_off;
				__be32 id;
			} *h = l4;

			if ((void *)(h + 1) > data_end)
				return QNAT_C_DROP_PORT_IP6;
			if (h->frag_off & bpf_htons(0xfff8))
				upper = 2; /* a later fragment: its upper layer was judged in the first */
			nh = h->nexthdr;
			l4 += sizeof(*h);
		} else {
			upper = 1;
		}
	}
	if (!upper)
		return QNAT_C_DROP_PORT_IP6;
	if (upper == 1 && nh == IPPROTO_ICMPV6) {
		__u8 *icmp = l4;
		struct qnat_ip6_addr *target = l4 + 8;

		if ((void *)(icmp + 1) > data_end)
			return QNAT_C_DROP_PORT_IP6;
		if (icmp[0] == ICMP6_RA || icmp[0] == ICMP6_REDIRECT)
			return QNAT_C_DROP_ROGUE_RA;
		if ((icmp[0] == ICMP6_NS && is_unspec6(src->a)) || icmp[0] == ICMP6_NA) {
			__u32 r;

			if ((void *)(target + 1) > data_end)
				return QNAT_C_DROP_PORT_IP6;
			r = port_bind_ip6(port, ifindex, target);
			/* DAD for another's address goes on, so that its owner defends it. */
			if (r && icmp[0] == ICMP6_NA)
				return r;
		}
	} else if (upper == 1 && nh == IPPROTO_UDP) {
		struct udphdr *udp = l4;

		if ((void *)(udp + 1) > data_end)
			return QNAT_C_DROP_PORT_IP6;
		if (udp->source == bpf_htons(DHCP6_SERVER_PORT))
			return QNAT_C_DROP_ROGUE_DHCP;
	}
	if (is_unspec6(src->a)) /* DAD, MLD before an address */
		return 0;
	if (is_mcast6(src->a))
		return QNAT_C_DROP_PORT_IP6; /* a multicast source is never valid */
	return port_bind_ip6(port, ifindex, src);
}

static __always_inline __u32 port_check(struct qnat_port *port, const struct frame *fr,
					const struct qnat_config *cfg)
{
	void *data_end = fr->data_end;
	struct ethhdr *eth = fr->data;

	if (!(port->mac[0] | port->mac[1] | port->mac[2] | port->mac[3] | port->mac[4] | port->mac[5]))
		__builtin_memcpy(port->mac, eth->h_source, ETH_ALEN); /* first seen: bound */
	else if (!mac_eq(port->mac, eth->h_source))
		return QNAT_C_DROP_PORT_MAC;
	/* Another VLAN's frames carry addresses the binding knows nothing of:
	 * refused, as libvirt's clean-traffic refuses other L2 protocols. */
	if (fr->vlan || eth->h_proto == bpf_htons(ETH_P_8021Q) || eth->h_proto == bpf_htons(ETH_P_8021AD))
		return QNAT_C_DROP_PORT_VLAN;

	if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		struct udphdr *udp;

		if ((void *)(ip + 1) > data_end)
			return 0;
		udp = (void *)ip + ip->ihl * 4;
		if (ip->protocol == IPPROTO_UDP && !(ip->frag_off & bpf_htons(0x1fff)) &&
		    (void *)(udp + 1) <= data_end && udp->source == bpf_htons(DHCP4_SERVER_PORT))
			return QNAT_C_DROP_ROGUE_DHCP;
		return port_check_ip4(port, cfg, ip->saddr);
	}
	if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		struct arp_ipv4 *arp = (void *)(eth + 1);

		if ((void *)(arp + 1) > data_end || arp->ptype != bpf_htons(ETH_P_IP) || arp->plen != 4)
			return 0;
		return port_check_ip4(port, cfg, arp->spa);
	}
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);

		if ((void *)(ip6 + 1) > data_end)
			return 0;
		return port_check_ip6(port, fr->ifindex, ip6, data_end);
	}
	return 0;
}

/* 0: the frame may go on; else the counter to drop it with. */
static __always_inline __u32 port_security(const struct frame *fr, const struct qnat_config *cfg)
{
	struct ethhdr *eth = fr->data;
	__u32 ifindex = fr->ifindex;
	struct qnat_port *port;
	__u32 r;

	if (!(cfg->flags & QNAT_CFG_PORT_SECURITY) || (void *)(eth + 1) > fr->data_end)
		return 0;
	port = bpf_map_lookup_elem(&qnat_ports, &ifindex);
	if (!port || (port->flags & QNAT_PORT_UPLINK))
		return 0;
	r = port_check(port, fr, cfg);
	if (r)
		__sync_fetch_and_add(&port->refused, 1);
	return r;
}

enum port_l2_verdict {
	PORT_L2_ON,	 /* not done with it: the IP layer's */
	PORT_L2_DROP,	 /* *arg: the counter */
	PORT_L2_TO_PORT, /* *arg: the other guest's port (or, bridged, the LAN's) */
};

/*
 * A port's L2 work, for TC and XDP alike: port security, MAC learning, and
 * frames for another port's MAC.  *tap: that port takes XDP redirects.
 */
static __always_inline int port_l2(const struct frame *fr, const struct qnat_config *cfg, __u32 *arg, int *tap)
{
	const struct qnat_port *port;
	struct ethhdr *eth = fr->data;

	*arg = port_security(fr, cfg);
	if (*arg)
		return PORT_L2_DROP;
	if ((void *)(eth + 1) > fr->data_end)
		return PORT_L2_ON;
	fdb_learn(eth->h_source, fr->ifindex);
	port = fdb_port_for(cfg, eth->h_dest, fr->ifindex, arg);
	if (!port)
		return PORT_L2_ON;
	*tap = !!(port->flags & QNAT_PORT_TAP);
	return PORT_L2_TO_PORT;
}

#endif /* QNAT_PORTSEC_H */
