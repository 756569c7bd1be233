// SPDX-License-Identifier: GPL-2.0
/*
 * Port security's bindings, as the controller keeps them (the data plane's
 * side is bpf/lib/portsec.h): a port's IPv4 address follows its guest's
 * DHCP lease or static host; IPv6 bindings are released when their port
 * leaves or they go unused; each port's count of them is kept true.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>

#include "qnat.h"

static bool mac_unset(const uint8_t mac[6])
{
	return !(mac[0] | mac[1] | mac[2] | mac[3] | mac[4] | mac[5]);
}

/* The lease's address while there is one; first use again when it ends. */
static void ip4_binding_sync(struct dataplane *dp, const struct settings *s, uint32_t ifindex, struct qnat_port *port)
{
	struct in_addr ip;

	if (!dhcp_ip_of(s, port->mac, &ip)) {
		if (ip.s_addr == port->ip && (port->flags & QNAT_PORT_IP_LEASE))
			return;
		port->ip = ip.s_addr;
		port->flags |= QNAT_PORT_IP_LEASE;
	} else if (port->flags & QNAT_PORT_IP_LEASE) {
		port->ip = 0;
		port->flags &= ~QNAT_PORT_IP_LEASE;
	} else {
		return;
	}
	bpf_map_update_elem(dp->ports_fd, &ifindex, port, BPF_EXIST);
}

/*
 * Release the IPv6 bindings of ports gone and those unused for
 * QNAT_IP6_BIND_IDLE_S; then each port's count is what the map holds.
 * One walk of each map: the stale are deleted after it (a deletion
 * mid-walk would start it over).
 */
static void ip6_bindings_sync(struct dataplane *dp, uint64_t now)
{
	static struct qnat_ip6_addr stale[QNAT_IP6_BINDS_MAX];
	static struct {
		uint32_t ifindex, n;
	} ports[QNAT_PORTS_MAX];
	struct qnat_ip6_addr key, next, *prev = NULL;
	struct qnat_ip6_binding b;
	uint32_t port_key, *pprev = NULL;
	struct qnat_port port;
	int np = 0, ns = 0;

	if (dp->ip6_bind_fd < 0)
		return;
	while (np < QNAT_PORTS_MAX && !bpf_map_get_next_key(dp->ports_fd, pprev, &port_key)) {
		pprev = &port_key;
		if (!dp_port_ours(dp, port_key, &port))
			continue; /* another network's, on a shared uplink */
		ports[np].ifindex = port_key;
		ports[np++].n = 0;
	}
	while (ns < QNAT_IP6_BINDS_MAX && !bpf_map_get_next_key(dp->ip6_bind_fd, prev, &next)) {
		int i = 0;

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(dp->ip6_bind_fd, &key, &b))
			continue;
		while (i < np && ports[i].ifindex != b.ifindex)
			i++;
		if (i == np || (now > b.last_seen && now - b.last_seen > QNAT_IP6_BIND_IDLE_S * 1000000000ULL))
			stale[ns++] = key;
		else
			ports[i].n++;
	}
	for (int i = 0; i < ns; i++)
		bpf_map_delete_elem(dp->ip6_bind_fd, &stale[i]);
	for (int i = 0; i < np; i++)
		if (!bpf_map_lookup_elem(dp->ports_fd, &ports[i].ifindex, &port) && port.ip6_bound != ports[i].n) {
			port.ip6_bound = ports[i].n;
			bpf_map_update_elem(dp->ports_fd, &ports[i].ifindex, &port, BPF_EXIST);
		}
}

void port_bindings_sync(struct dataplane *dp, const struct settings *s, uint64_t now)
{
	uint32_t key, *prev = NULL;
	struct qnat_port port;

	while (!bpf_map_get_next_key(dp->ports_fd, prev, &key)) {
		prev = &key;
		if (dp_port_ours(dp, key, &port) && !mac_unset(port.mac))
			ip4_binding_sync(dp, s, key, &port);
	}
	ip6_bindings_sync(dp, now);
}

/* After a port left the ports map: its IPv6 bindings go with it. */
void port_bindings_release(struct dataplane *dp, uint64_t now)
{
	ip6_bindings_sync(dp, now);
}
