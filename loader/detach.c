// SPDX-License-Identifier: GPL-2.0
/* detach: takes back everything attach did, as its state file records it. */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <netlink/socket.h>

#include "attach.h"
#include "log.h"

static void detach_port_cb(int ifindex, void *arg)
{
	dp_forget_port(arg, ifindex, true);
}

void ports_detach_all(struct dataplane *dp, struct nl_sock *sk, int bridge_ifindex)
{
	uint32_t key, next, *prev = NULL;

	if (bridge_ifindex > 0)
		nl_bridge_ports(sk, bridge_ifindex, detach_port_cb, dp);
	/* Ports that left the bridge while nobody watched (other networks' stay). */
	while (dp->ports_fd >= 0 && !bpf_map_get_next_key(dp->ports_fd, prev, &key)) {
		struct qnat_port port;

		if (!dp_port_ours(dp, key, &port)) {
			next = key;
			prev = &next;
			continue;
		}
		dp_forget_port(dp, key, true);
		prev = NULL; /* the entry is gone: start over */
	}
}

int cmd_detach(int argc, char **argv)
{
	struct dataplane dp;
	struct settings s;
	struct owned o;
	struct nl_sock *sk;
	int bridge_ifindex, uplink_ifindex, err, others = 0;

	if (argc != 2 || !valid_ifname(argv[1])) {
		log_warnx("usage: qnat-bpf detach BRIDGE");
		return 1;
	}
	if (geteuid() != 0) {
		log_warnx("detach needs root");
		return 1;
	}
	err = state_load(argv[1], &s, &o);
	if (err) {
		if (err == -EPROTO)
			log_warnx("%s was attached by a build with ABI version %d, this build has %d: detach it with "
				  "that build", argv[1], o.abi, QNAT_ABI_VERSION);
		else
			log_warnx(err == -ENOENT ? "%s is not attached" : "%s: unreadable state, cannot detach safely",
				  argv[1]);
		return 1;
	}
	if ((err = nl_open(&sk))) {
		log_warnx("cannot open a netlink socket: %s", strerror(-err));
		return 1;
	}
	supervisor_stop(s.bridge);
	dnsmasq_stop(s.bridge);

	bridge_ifindex = nl_ifindex(sk, s.bridge);
	uplink_ifindex = s.uplink[0] ? nl_ifindex(sk, s.uplink) : -1;
	err = dp_open_existing(&dp, &s);
	if (!err) {
		/* Other networks on the uplink keep it, and their flows: ours go. */
		others = s.bridged ? 0 : dp_other_nets(&dp, NULL, 0);
		ports_detach_all(&dp, sk, bridge_ifindex);
		if (others) {
			net_forget(&dp);
			dp_clear_net(&dp);
		} else {
			dp_detach_cgroup(&dp);
		}
		dp_close(&dp);
	} else {
		/* The data plane went with its uplink; its socket hooks did not.  Or it
		 * serves other networks only (this one's slot is gone): theirs stay. */
		others = err == -ESRCH;
		if (o.sock_cfg_id && !others)
			dp_detach_cgroup_id(o.sock_cfg_id);
		dp.ports_fd = dp.devmap_fd = -1;
		if (bridge_ifindex > 0)
			nl_bridge_ports(sk, bridge_ifindex, detach_port_cb, &dp);
	}
	if (bridge_ifindex > 0 && !s.bridged)
		dp_detach_bridge(bridge_ifindex, &o);
	if (uplink_ifindex > 0 && s.bridged)
		dp_detach_uplink_xdp(uplink_ifindex, &o);
	if (uplink_ifindex > 0 && !s.bridged && !others) {
		dp_detach_uplink(uplink_ifindex, &o);
		fwd_restore(s.uplink, o.fwd_uplink_old);
	}
	if (!others)
		fwd_restore(NULL, o.fwd6_old);
	uplink_release(sk, bridge_ifindex, uplink_ifindex, &o);
	if (bridge_ifindex > 0) {
		if (o.addr_added)
			nl_addr_del(sk, bridge_ifindex, s.gateway, s.prefix);
		if (o.addr6_added)
			nl_addr6_change(sk, bridge_ifindex, &s.gateway6, false);
		fwd_restore(s.bridge, o.fwd_bridge_old);
		if (o.bridge_created) {
			nl_link_delete(sk, bridge_ifindex);
		} else {
			if (o.bridge_mtu_old > 0)
				nl_link_set_mtu(sk, bridge_ifindex, o.bridge_mtu_old);
			if (o.bridge_txcsum_old > 0)
				link_tx_csum(s.bridge, 1);
			if (o.bridge_upped)
				nl_link_set_up(sk, bridge_ifindex, false);
		}
	}
	state_remove(s.bridge);
	nl_socket_free(sk);
	return 0;
}
