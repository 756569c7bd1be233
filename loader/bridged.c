// SPDX-License-Identifier: GPL-2.0
/*
 * Bridged mode's host change: the uplink becomes a port of the bridge, and
 * its IPv4 addresses and default route move to the bridge, so the host keeps
 * its connectivity.  Detach (or a failed attach) moves them back.
 */
#include <errno.h>
#include <string.h>

#include "attach.h"

#define MOVED_MAX 8

/*
 * Bridged mode: put the uplink in the bridge and move its IPv4 addresses and
 * default route to the bridge (what the seeds do by hand with brctl and
 * nmcli), so the host keeps its connectivity.  Recorded in o for detach.
 */
int uplink_enslave(struct nl_sock *sk, int bridge, int uplink, bool bridge_new, struct owned *o)
{
	struct in_addr a[MOVED_MAX], gw;
	unsigned int prefix[MOVED_MAX];
	uint8_t mac[6];
	int n = nl_addrs(sk, uplink, a, prefix, MOVED_MAX), err;
	bool has_gw = !nl_default_gw(sk, uplink, &gw);
	size_t len = 0;

	if (n < 0)
		return n;
	/* The bridge takes the uplink's MAC: the LAN's ARP caches stay right. */
	if (bridge_new && !nl_link_mac(sk, uplink, mac))
		nl_link_set_mac(sk, bridge, mac);
	if ((err = nl_link_set_master(sk, uplink, bridge)))
		return err;
	o->uplink_enslaved = true;
	o->moved_addrs[0] = '\0';
	for (int i = 0; i < n; i++) {
		nl_addr_del(sk, uplink, a[i], prefix[i]);
		if ((err = nl_addr_add(sk, bridge, a[i], prefix[i])) && err != -EEXIST)
			return err;
		len += snprintf(o->moved_addrs + len, sizeof(o->moved_addrs) - len, "%s%s/%u", i ? "," : "",
				ip_str(a[i]), prefix[i]);
	}
	o->moved_gw.s_addr = 0;
	if (has_gw) {
		if ((err = nl_default_route_set(sk, bridge, gw)))
			return err;
		o->moved_gw = gw;
	}
	return 0;
}

/* And back: the uplink leaves the bridge with its addresses and default route. */
void uplink_release(struct nl_sock *sk, int bridge, int uplink, const struct owned *o)
{
	char list[sizeof(o->moved_addrs)], *tok, *save;

	if (!o->uplink_enslaved || uplink <= 0)
		return;
	nl_link_set_master(sk, uplink, 0);
	snprintf(list, sizeof(list), "%s", o->moved_addrs);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		struct in_addr a;
		uint32_t p;

		if (!slash)
			continue;
		*slash = '\0';
		if (parse_ipv4(tok, &a) || parse_u32(slash + 1, 1, 32, &p))
			continue;
		if (bridge > 0)
			nl_addr_del(sk, bridge, a, p);
		nl_addr_add(sk, uplink, a, p);
	}
	if (o->moved_gw.s_addr)
		nl_default_route_set(sk, uplink, o->moved_gw);
}

