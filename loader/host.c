// SPDX-License-Identifier: GPL-2.0
/*
 * attach's host setup: the bridge (created, up, its MTU and TX checksum
 * offload), then in NAT mode the gateway address and IPv4 forwarding, in
 * bridged mode the uplink as a port.  Each change is recorded twice: in the
 * owned state for detach, and in the run's undo for a failure later on.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>

#include "attach.h"
#include "log.h"

/* IPv4 forwards per device; IPv6 only as a whole ("all"), as libvirt turns it on. */
static int fwd_path(const char *ifname, char *buf, size_t len)
{
	return snprintf(buf, len, ifname ? "/proc/sys/net/ipv4/conf/%s/forwarding" : "/proc/sys/net/ipv6/conf/all/forwarding",
			ifname) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Turn forwarding on (ifname NULL: IPv6's); returns the previous value, or negative errno. */
static int fwd_enable(const char *ifname)
{
	char path[PATH_MAX];
	int old;

	if (fwd_path(ifname, path, sizeof(path)))
		return -ENAMETOOLONG;
	old = sysctl_read_int(path);
	if (old < 0)
		return old;
	if (old != 1) {
		int err = sysctl_write_int(path, 1);

		if (err)
			return err;
	}
	return old;
}

void fwd_restore(const char *ifname, int old)
{
	char path[PATH_MAX];

	if (old >= 0 && old != 1 && !fwd_path(ifname, path, sizeof(path)))
		sysctl_write_int(path, old);
}

/* The bridge exists (created if need be) and is up. */
static int bridge_up(struct attach *a)
{
	int err;

	if (a->bridge == -ENODEV) {
		if ((err = nl_bridge_create(a->sk, a->s.bridge)) || (a->bridge = nl_ifindex(a->sk, a->s.bridge)) < 0) {
			log_warnx("cannot create bridge %s: %s", a->s.bridge, strerror(-(err ? err : a->bridge)));
			return err ? err : a->bridge;
		}
		a->u.bridge = a->o.bridge_created = true;
	} else if (a->bridge < 0) {
		log_warnx("cannot look up %s: %s", a->s.bridge, strerror(-a->bridge));
		return a->bridge;
	}
	if ((err = nl_link_set_up(a->sk, a->bridge, true)) < 0) {
		log_warnx("cannot bring %s up: %s", a->s.bridge, strerror(-err));
		return err;
	}
	a->u.bridge_up = err > 0;
	if (!a->recovering)
		a->o.bridge_upped = a->u.bridge_up;
	return 0;
}

/* --mtu, and TX checksum offload off for old DHCP clients. */
static int bridge_tune(struct attach *a)
{
	bool ours = !a->recovering && !a->o.bridge_created; /* detach puts back what it found */
	int err;

	if (a->s.mtu && (err = nl_link_mtu(a->sk, a->bridge)) != (int)a->s.mtu) {
		if (ours)
			a->o.bridge_mtu_old = err;
		a->u.mtu_old = err;
		if ((err = nl_link_set_mtu(a->sk, a->bridge, a->s.mtu))) {
			log_warnx("cannot set %s's MTU to %u: %s", a->s.bridge, a->s.mtu, strerror(-err));
			return err;
		}
		a->u.mtu = a->u.mtu_old > 0;
	}
	/*
	 * Old DHCP clients drop replies whose UDP checksum the host left for
	 * the NIC to fill (libvirt's CHECKSUM --checksum-fill rule).  With the
	 * bridge's TX offload off, what the host sends guests leaves complete.
	 */
	if (a->s.csum_fill && a->s.dhcp) {
		err = link_tx_csum(a->s.bridge, 0);
		if (err < 0) {
			log_warnx("cannot turn off TX checksum offload on %s: %s", a->s.bridge, strerror(-err));
			return err;
		}
		if (ours)
			a->o.bridge_txcsum_old = err;
		a->u.txcsum = err > 0;
	}
	return 0;
}

/* NAT: the gateway's address on the bridge, forwarding on the bridge and the uplink. */
static int nat_host(struct attach *a)
{
	int err;

	if (nl_addr_has(a->sk, a->bridge, a->s.gateway, a->s.prefix) <= 0) {
		if ((err = nl_addr_add(a->sk, a->bridge, a->s.gateway, a->s.prefix))) {
			log_warnx("cannot add %s/%u to %s: %s", ip_str(a->s.gateway), a->s.prefix, a->s.bridge,
				  strerror(-err));
			return err;
		}
		a->u.addr = a->o.addr_added = true;
	}
	if (a->s.mode == MODE_ISOLATED) /* nothing is forwarded */
		return 0;
	if ((err = fwd_enable(a->s.bridge)) >= 0) {
		a->u.fwd_bridge_old = err;
		a->u.fwd_bridge = true;
		if ((err = fwd_enable(a->s.uplink)) >= 0) {
			a->u.fwd_uplink_old = err;
			a->u.fwd_uplink = true;
		}
	}
	if (err < 0) {
		log_warnx("cannot enable IPv4 forwarding: %s", strerror(-err));
		return err;
	}
	if (!a->recovering) {
		a->o.fwd_bridge_old = a->u.fwd_bridge_old;
		a->o.fwd_uplink_old = a->u.fwd_uplink_old;
	}
	return 0;
}

/* IPv6: gateway6/64 on the bridge, IPv6 forwarding on. */
static int ip6_host(struct attach *a)
{
	int err;

	if (!a->s.ip6)
		return 0;
	if (nl_addr6_find(a->sk, a->bridge, &a->s.gateway6, NULL) <= 0) {
		if ((err = nl_addr6_change(a->sk, a->bridge, &a->s.gateway6, true))) {
			log_warnx("cannot add %s/64 to %s: %s%s", ip6_str(&a->s.gateway6), a->s.bridge, strerror(-err),
				  err == -EACCES || err == -EPERM ? " (is IPv6 disabled on it?)" : "");
			return err;
		}
		a->u.addr6 = a->o.addr6_added = true;
	}
	if ((err = fwd_enable(NULL)) < 0) {
		log_warnx("cannot enable IPv6 forwarding: %s", strerror(-err));
		return err;
	}
	a->u.fwd6_old = err;
	a->u.fwd6 = true;
	if (!a->recovering)
		a->o.fwd6_old = err;
	return 0;
}

int host_setup(struct attach *a)
{
	int err;

	if ((err = bridge_up(a)) || (err = bridge_tune(a)))
		return err;
	if (!a->s.bridged)
		return (err = nat_host(a)) ? err : ip6_host(a);
	if (nl_link_master(a->sk, a->uplink) == a->bridge)
		return 0;
	a->u.enslaved = true;
	if ((err = uplink_enslave(a->sk, a->bridge, a->uplink, a->o.bridge_created, &a->o)))
		log_warnx("cannot move %s into %s: %s", a->s.uplink, a->s.bridge, strerror(-err));
	return err;
}

/* Newest first, what host_setup changed in this run. */
void host_undo(struct attach *a)
{
	if (a->u.enslaved)
		uplink_release(a->sk, a->bridge, a->uplink, &a->o);
	if (a->u.fwd6)
		fwd_restore(NULL, a->u.fwd6_old);
	if (a->u.addr6)
		nl_addr6_change(a->sk, a->bridge, &a->s.gateway6, false);
	if (a->u.fwd_uplink)
		fwd_restore(a->s.uplink, a->u.fwd_uplink_old);
	if (a->u.fwd_bridge)
		fwd_restore(a->s.bridge, a->u.fwd_bridge_old);
	if (a->u.addr)
		nl_addr_del(a->sk, a->bridge, a->s.gateway, a->s.prefix);
	if (a->u.txcsum)
		link_tx_csum(a->s.bridge, 1);
	if (a->u.mtu)
		nl_link_set_mtu(a->sk, a->bridge, a->u.mtu_old);
	if (a->u.bridge_up)
		nl_link_set_up(a->sk, a->bridge, false);
	if (a->u.bridge)
		nl_link_delete(a->sk, a->bridge);
}
