/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Port security (libvirt's clean-traffic idea): a port may send only from
 * the MAC it was first seen with and, once known, from one IPv4 address;
 * ARP claiming any other address, and VLAN-tagged frames, are dropped.
 * The address is learned from the port's first IPv4 packet and replaced by
 * the controller with the guest's DHCP lease or static host, which are
 * authoritative.
 */
#ifndef QNAT_PORTSEC_H
#define QNAT_PORTSEC_H

#include <linux/if_ether.h>
#include "config.h"
#include "fdb.h"
#include "frame.h"

struct arp_ipv4 {
	__be16 htype, ptype;
	__u8 hlen, plen;
	__be16 op;
	__u8 sha[ETH_ALEN];
	__be32 spa;
} __attribute__((packed));

/* 0: the frame may go on; else the counter to drop it with. */
static __always_inline __u32 port_security(const struct frame *fr, const struct qnat_config *cfg)
{
	void *data = fr->data, *data_end = fr->data_end;
	struct ethhdr *eth = data;
	__u32 ifindex = fr->ifindex;
	struct qnat_port *port;
	__be32 src = 0;

	if (!(cfg->flags & QNAT_CFG_PORT_SECURITY) || (void *)(eth + 1) > data_end)
		return 0;
	port = bpf_map_lookup_elem(&qnat_ports, &ifindex);
	if (!port || (port->flags & QNAT_PORT_UPLINK))
		return 0;
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

		if ((void *)(ip + 1) > data_end)
			return 0;
		src = ip->saddr;
	} else if (eth->h_proto == bpf_htons(ETH_P_ARP)) {
		struct arp_ipv4 *arp = (void *)(eth + 1);

		if ((void *)(arp + 1) > data_end || arp->ptype != bpf_htons(ETH_P_IP) || arp->plen != 4)
			return 0;
		src = arp->spa;
	} else {
		return 0;
	}
	if (!src) /* DHCP before a lease, ARP probes */
		return 0;
	if (!port->ip) {
		if (!in_subnet(cfg, src))
			return 0; /* not ours to bind; the spoof check drops what leaves */
		port->ip = src;
		return 0;
	}
	return src == port->ip ? 0 : QNAT_C_DROP_PORT_IP;
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
