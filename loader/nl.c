// SPDX-License-Identifier: GPL-2.0
/* Links, addresses and routes through libnl-route-3. */
#include <errno.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <string.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>
#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/bridge.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "log.h"
#include "qnat.h"

/* libnl's error codes as errno values, so callers speak one language. */
static int nl2errno(int err)
{
	switch (-err) {
	case 0:
		return 0;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_PERM:
		return -EPERM;
	case NLE_BUSY:
		return -EBUSY;
	case NLE_NOMEM:
		return -ENOMEM;
	case NLE_INVAL:
		return -EINVAL;
	case NLE_NOADDR:
		return -EADDRNOTAVAIL;
	default:
		return -EIO;
	}
}

int nl_open(struct nl_sock **skp)
{
	struct nl_sock *sk = nl_socket_alloc();
	int err;

	if (!sk)
		return -ENOMEM;
	err = nl_connect(sk, NETLINK_ROUTE);
	if (err) {
		nl_socket_free(sk);
		return nl2errno(err);
	}
	*skp = sk;
	return 0;
}

static int link_get(struct nl_sock *sk, int ifindex, const char *name, struct rtnl_link **link)
{
	return nl2errno(rtnl_link_get_kernel(sk, ifindex, name, link));
}

int nl_ifindex(struct nl_sock *sk, const char *name)
{
	struct rtnl_link *link;
	int err = link_get(sk, 0, name, &link);

	if (err)
		return err;
	err = rtnl_link_get_ifindex(link);
	rtnl_link_put(link);
	return err;
}

int nl_ifname(struct nl_sock *sk, int ifindex, char *name)
{
	struct rtnl_link *link;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	snprintf(name, IFNAMSIZ, "%s", rtnl_link_get_name(link));
	rtnl_link_put(link);
	return 0;
}

int nl_link_kind(struct nl_sock *sk, int ifindex, char *kind, size_t len)
{
	struct rtnl_link *link;
	const char *type;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	type = rtnl_link_get_type(link);
	snprintf(kind, len, "%s", type ? type : "");
	rtnl_link_put(link);
	return 0;
}

/* *arg = 1 when the link in msg runs a native XDP program. */
static int peer_xdp_parse(struct nl_msg *msg, void *arg)
{
	struct nlattr *tb[IFLA_MAX + 1], *xdp[IFLA_XDP_MAX + 1];
	int *native = arg;

	if (nlmsg_parse(nlmsg_hdr(msg), sizeof(struct ifinfomsg), tb, IFLA_MAX, NULL) || !tb[IFLA_XDP] ||
	    nla_parse_nested(xdp, IFLA_XDP_MAX, tb[IFLA_XDP], NULL))
		return NL_STOP;
	*native = xdp[IFLA_XDP_DRV_PROG_ID] ||
		    (xdp[IFLA_XDP_ATTACHED] && nla_get_u8(xdp[IFLA_XDP_ATTACHED]) == XDP_ATTACHED_DRV);
	return NL_STOP;
}

/*
 * Does a veth's peer run native XDP?  Only then does it take the XDP frames
 * redirected into the veth (or with GRO on, which netlink does not show).
 * The peer is often in another namespace: asked for by its id there
 * (IFLA_TARGET_NETNSID).  1 yes, 0 no, or -errno.
 */
int nl_veth_peer_xdp(struct nl_sock *sk, int ifindex)
{
	struct ifinfomsg ifi = { .ifi_family = AF_UNSPEC };
	int native = 0;
	struct rtnl_link *link;
	struct nl_msg *msg;
	struct nl_cb *cb;
	int32_t nsid = -1;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	ifi.ifi_index = rtnl_link_get_link(link);
	rtnl_link_get_link_netnsid(link, &nsid);
	rtnl_link_put(link);
	if (ifi.ifi_index <= 0)
		return -ENODEV;
	msg = nlmsg_alloc_simple(RTM_GETLINK, 0);
	cb = nl_cb_clone(nl_socket_get_cb(sk));
	err = !msg || !cb ? -ENOMEM : 0;
	if (!err && (nlmsg_append(msg, &ifi, sizeof(ifi), NLMSG_ALIGNTO) ||
		     (nsid >= 0 && nla_put_s32(msg, IFLA_TARGET_NETNSID, nsid))))
		err = -ENOMEM;
	if (!err) {
		nl_cb_set(cb, NL_CB_VALID, NL_CB_CUSTOM, peer_xdp_parse, &native);
		err = nl_send_auto(sk, msg);
		err = err < 0 ? err : nl_recvmsgs(sk, cb);
		err = err < 0 ? err : nl_wait_for_ack(sk);
		err = nl2errno(err < 0 ? err : 0);
	}
	nlmsg_free(msg);
	nl_cb_put(cb);
	return err ? err : native;
}

int nl_link_master(struct nl_sock *sk, int ifindex)
{
	struct rtnl_link *link;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	err = rtnl_link_get_master(link);
	rtnl_link_put(link);
	return err;
}

/*
 * TX checksum offload of a device (ethtool -K DEV tx on|off), through the
 * ethtool ioctl: libnl has no ethtool.  Returns the previous state (0/1).
 */
int link_tx_csum(const char *ifname, int on)
{
	struct ethtool_value ev = { .cmd = ETHTOOL_GTXCSUM };
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), old = 0, err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	ifr.ifr_data = (void *)&ev;
	if (ioctl(fd, SIOCETHTOOL, &ifr)) {
		err = -errno;
		goto out;
	}
	old = !!ev.data;
	if (on >= 0 && on != old) {
		ev.cmd = ETHTOOL_STXCSUM;
		ev.data = on;
		if (ioctl(fd, SIOCETHTOOL, &ifr))
			err = -errno;
	}
out:
	close(fd);
	return err ? err : old;
}

static int link_change(struct nl_sock *sk, int ifindex, int master, const uint8_t *mac, int mtu);

int nl_link_set_mtu(struct nl_sock *sk, int ifindex, int mtu)
{
	return link_change(sk, ifindex, -1, NULL, mtu);
}

int nl_link_mtu(struct nl_sock *sk, int ifindex)
{
	struct rtnl_link *link;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	err = rtnl_link_get_mtu(link);
	rtnl_link_put(link);
	return err;
}

int nl_link_mac(struct nl_sock *sk, int ifindex, uint8_t mac[6])
{
	struct rtnl_link *link;
	struct nl_addr *a;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	a = rtnl_link_get_addr(link);
	if (a && nl_addr_get_len(a) == 6)
		memcpy(mac, nl_addr_get_binary_addr(a), 6);
	else
		err = -EADDRNOTAVAIL;
	rtnl_link_put(link);
	return err;
}

int nl_bridge_create(struct nl_sock *sk, const char *name)
{
	return nl2errno(rtnl_link_bridge_add(sk, name));
}

int nl_link_delete(struct nl_sock *sk, int ifindex)
{
	struct rtnl_link *link = rtnl_link_alloc();
	int err;

	if (!link)
		return -ENOMEM;
	rtnl_link_set_ifindex(link, ifindex);
	err = nl2errno(rtnl_link_delete(sk, link));
	rtnl_link_put(link);
	return err;
}

/* Set the link up or down: 1 when that changed it, 0 when it already was. */
int nl_link_set_up(struct nl_sock *sk, int ifindex, bool up)
{
	struct rtnl_link *link, *change;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	if (!!(rtnl_link_get_flags(link) & IFF_UP) == up) {
		rtnl_link_put(link);
		return 0;
	}
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(link);
		return -ENOMEM;
	}
	if (up)
		rtnl_link_set_flags(change, IFF_UP);
	else
		rtnl_link_unset_flags(change, IFF_UP);
	err = nl2errno(rtnl_link_change(sk, link, change, 0));
	rtnl_link_put(change);
	rtnl_link_put(link);
	return err ? err : 1;
}

static struct rtnl_addr *addr_build(int ifindex, struct in_addr a, unsigned int prefix)
{
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct in_addr brd = { .s_addr = a.s_addr | ~prefix_mask(prefix) };
	struct nl_addr *local, *bcast;

	if (!addr)
		return NULL;
	local = nl_addr_build(AF_INET, &a, sizeof(a));
	bcast = nl_addr_build(AF_INET, &brd, sizeof(brd));
	if (!local || !bcast) {
		nl_addr_put(local);
		nl_addr_put(bcast);
		rtnl_addr_put(addr);
		return NULL;
	}
	nl_addr_set_prefixlen(local, prefix);
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_family(addr, AF_INET);
	rtnl_addr_set_local(addr, local);
	rtnl_addr_set_broadcast(addr, bcast);
	nl_addr_put(local);
	nl_addr_put(bcast);
	return addr;
}

static int addr_change(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned int prefix, bool add)
{
	struct rtnl_addr *addr = addr_build(ifindex, a, prefix);
	int err;

	if (!addr)
		return -ENOMEM;
	err = nl2errno(add ? rtnl_addr_add(sk, addr, 0) : rtnl_addr_delete(sk, addr, 0));
	rtnl_addr_put(addr);
	return err;
}

int nl_addr_add(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned int prefix)
{
	return addr_change(sk, ifindex, a, prefix, true);
}

int nl_addr_del(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned int prefix)
{
	return addr_change(sk, ifindex, a, prefix, false);
}

/* Calls fn for each IPv4 address of ifindex until it returns non-zero. */
static int addr_walk(struct nl_sock *sk, int ifindex, int (*fn)(struct in_addr, unsigned int, void *), void *arg)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int ret = 0, err;

	err = rtnl_addr_alloc_cache(sk, &cache);
	if (err)
		return nl2errno(err);
	for (obj = nl_cache_get_first(cache); obj && !ret; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *addr = (struct rtnl_addr *)obj;
		struct nl_addr *local = rtnl_addr_get_local(addr);
		struct in_addr a;

		if (rtnl_addr_get_ifindex(addr) != ifindex || rtnl_addr_get_family(addr) != AF_INET || !local)
			continue;
		memcpy(&a, nl_addr_get_binary_addr(local), sizeof(a));
		ret = fn(a, nl_addr_get_prefixlen(local), arg);
	}
	nl_cache_free(cache);
	return ret;
}

struct addr_match {
	struct in_addr a;
	unsigned int prefix;
};

static int match_exact(struct in_addr a, unsigned int prefix, void *arg)
{
	struct addr_match *m = arg;

	return a.s_addr == m->a.s_addr && prefix == m->prefix;
}

int nl_addr_has(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned int prefix)
{
	struct addr_match m = { a, prefix };

	return addr_walk(sk, ifindex, match_exact, &m);
}

static int take_first(struct in_addr a, unsigned int prefix, void *arg)
{
	*(struct in_addr *)arg = a;
	return 1;
}

int nl_addr_first(struct nl_sock *sk, int ifindex, struct in_addr *a)
{
	int ret = addr_walk(sk, ifindex, take_first, a);

	return ret < 0 ? ret : ret ? 0 : -EADDRNOTAVAIL;
}

/* gateway6/64 on the bridge, without DAD: dnsmasq advertises from it at once. */
int nl_addr6_change(struct nl_sock *sk, int ifindex, const struct in6_addr *a, bool add)
{
	struct rtnl_addr *addr = rtnl_addr_alloc();
	struct nl_addr *local = nl_addr_build(AF_INET6, a, sizeof(*a));
	int err = -ENOMEM;

	if (addr && local) {
		nl_addr_set_prefixlen(local, 64);
		rtnl_addr_set_ifindex(addr, ifindex);
		rtnl_addr_set_family(addr, AF_INET6);
		rtnl_addr_set_local(addr, local);
		rtnl_addr_set_flags(addr, IFA_F_NODAD);
		err = nl2errno(add ? rtnl_addr_add(sk, addr, 0) : rtnl_addr_delete(sk, addr, 0));
	}
	nl_addr_put(local);
	rtnl_addr_put(addr);
	return err;
}

/*
 * An IPv6 address of ifindex: want, exactly (1 when there), or with want
 * NULL the first global one that is usable (not tentative, failed or
 * deprecated) into *out (1 when found).
 */
int nl_addr6_find(struct nl_sock *sk, int ifindex, const struct in6_addr *want, struct in6_addr *out)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int found = 0, err = rtnl_addr_alloc_cache(sk, &cache);

	if (err)
		return nl2errno(err);
	for (obj = nl_cache_get_first(cache); obj && !found; obj = nl_cache_get_next(obj)) {
		struct rtnl_addr *addr = (struct rtnl_addr *)obj;
		struct nl_addr *local = rtnl_addr_get_local(addr);
		const void *bin = local ? nl_addr_get_binary_addr(local) : NULL;

		if (rtnl_addr_get_ifindex(addr) != ifindex || rtnl_addr_get_family(addr) != AF_INET6 || !bin)
			continue;
		if (want)
			found = !memcmp(bin, want, sizeof(*want));
		else if (rtnl_addr_get_scope(addr) == RT_SCOPE_UNIVERSE &&
			 !(rtnl_addr_get_flags(addr) & (IFA_F_TENTATIVE | IFA_F_DADFAILED | IFA_F_DEPRECATED)))
			found = (memcpy(out, bin, sizeof(*out)), 1);
	}
	nl_cache_free(cache);
	return found;
}

/* Calls fn for each unicast route of family in the main table until it returns non-zero. */
static int route_walk(struct nl_sock *sk, int family, int (*fn)(struct rtnl_route *, void *), void *arg)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int ret = 0, err;

	err = rtnl_route_alloc_cache(sk, family, 0, &cache);
	if (err)
		return nl2errno(err);
	for (obj = nl_cache_get_first(cache); obj && !ret; obj = nl_cache_get_next(obj)) {
		struct rtnl_route *r = (struct rtnl_route *)obj;

		if (rtnl_route_get_table(r) == RT_TABLE_MAIN && rtnl_route_get_type(r) == RTN_UNICAST)
			ret = fn(r, arg);
	}
	nl_cache_free(cache);
	return ret;
}

static int route_dev(struct rtnl_route *r)
{
	struct rtnl_nexthop *nh = rtnl_route_get_nnexthops(r) ? rtnl_route_nexthop_n(r, 0) : NULL;

	return nh ? rtnl_route_nh_get_ifindex(nh) : 0;
}

static int default_dev(struct rtnl_route *r, void *arg)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);

	if (dst && nl_addr_get_prefixlen(dst) == 0 && route_dev(r) > 0) {
		*(int *)arg = route_dev(r);
		return 1;
	}
	return 0;
}

int nl_default_route_dev(struct nl_sock *sk)
{
	int ifindex = 0;
	int ret = route_walk(sk, AF_INET, default_dev, &ifindex);

	return ret < 0 ? ret : ret ? ifindex : -ENOENT;
}

struct overlap {
	int family;
	const void *net; /* in_addr or in6_addr */
	unsigned int prefix;
	int except;
	int found;
};

static int overlaps(struct rtnl_route *r, void *arg)
{
	struct overlap *o = arg;
	struct nl_addr *dst = rtnl_route_get_dst(r);
	unsigned int p;

	if (!dst || nl_addr_get_family(dst) != o->family || (p = nl_addr_get_prefixlen(dst)) == 0)
		return 0;
	if (route_dev(r) == o->except)
		return 0;
	if (prefix_match(nl_addr_get_binary_addr(dst), o->net, p < o->prefix ? p : o->prefix)) {
		o->found = route_dev(r);
		return 1;
	}
	return 0;
}

static int route_overlaps(struct nl_sock *sk, int family, const void *net, unsigned int prefix, int except_ifindex)
{
	struct overlap o = { family, net, prefix, except_ifindex, 0 };
	int ret = route_walk(sk, family, overlaps, &o);

	return ret < 0 ? ret : o.found;
}

/* The ifindex of a device that already routes part of net/prefix, or 0 (libvirt's check). */
int nl_route_overlaps(struct nl_sock *sk, struct in_addr net, unsigned int prefix, int except_ifindex)
{
	return route_overlaps(sk, AF_INET, &net, prefix, except_ifindex);
}

int nl_route6_overlaps(struct nl_sock *sk, const struct in6_addr *net, unsigned int prefix, int except_ifindex)
{
	return route_overlaps(sk, AF_INET6, net, prefix, except_ifindex);
}

static int static_default6(struct rtnl_route *r, void *arg)
{
	struct nl_addr *dst = rtnl_route_get_dst(r);

	return dst && nl_addr_get_prefixlen(dst) == 0 && route_dev(r) == *(int *)arg &&
	       rtnl_route_get_protocol(r) != RTPROT_RA;
}

/* Whether an IPv6 default route via ifindex was set up by other means than a router advertisement. */
int nl_default6_static(struct nl_sock *sk, int ifindex)
{
	return route_walk(sk, AF_INET6, static_default6, &ifindex);
}

int nl_bridge_ports(struct nl_sock *sk, int bridge_ifindex, port_cb cb, void *arg)
{
	struct nl_cache *cache;
	struct nl_object *obj;
	int err;

	err = rtnl_link_alloc_cache(sk, AF_UNSPEC, &cache);
	if (err)
		return nl2errno(err);
	for (obj = nl_cache_get_first(cache); obj; obj = nl_cache_get_next(obj)) {
		struct rtnl_link *link = (struct rtnl_link *)obj;

		if (rtnl_link_get_master(link) == bridge_ifindex)
			cb(rtnl_link_get_ifindex(link), arg);
	}
	nl_cache_free(cache);
	return 0;
}

/* Changes one link: its master (0: none, -1: leave), MAC (NULL: leave), MTU (0: leave). */
static int link_change(struct nl_sock *sk, int ifindex, int master, const uint8_t *mac, int mtu)
{
	struct rtnl_link *link, *change;
	struct nl_addr *a = NULL;
	int err = link_get(sk, ifindex, NULL, &link);

	if (err)
		return err;
	change = rtnl_link_alloc();
	if (!change) {
		rtnl_link_put(link);
		return -ENOMEM;
	}
	if (master >= 0)
		rtnl_link_set_master(change, master);
	if (mac && (a = nl_addr_build(AF_LLC, mac, 6)))
		rtnl_link_set_addr(change, a);
	if (mtu > 0)
		rtnl_link_set_mtu(change, mtu);
	err = nl2errno(rtnl_link_change(sk, link, change, 0));
	nl_addr_put(a);
	rtnl_link_put(change);
	rtnl_link_put(link);
	return err;
}

int nl_link_set_master(struct nl_sock *sk, int ifindex, int master)
{
	return link_change(sk, ifindex, master, NULL, 0);
}

int nl_link_set_mac(struct nl_sock *sk, int ifindex, const uint8_t mac[6])
{
	return link_change(sk, ifindex, -1, mac, 0);
}

struct gw_find {
	int ifindex;
	struct in_addr gw;
	int found;
};

static int default_gw(struct rtnl_route *r, void *arg)
{
	struct gw_find *g = arg;
	struct nl_addr *dst = rtnl_route_get_dst(r);
	struct rtnl_nexthop *nh = rtnl_route_get_nnexthops(r) ? rtnl_route_nexthop_n(r, 0) : NULL;
	struct nl_addr *via = nh ? rtnl_route_nh_get_gateway(nh) : NULL;

	if (!dst || nl_addr_get_prefixlen(dst) != 0 || route_dev(r) != g->ifindex || !via)
		return 0;
	memcpy(&g->gw, nl_addr_get_binary_addr(via), sizeof(g->gw));
	g->found = 1;
	return 1;
}

/* The gateway of the IPv4 default route through ifindex, if there is one. */
int nl_default_gw(struct nl_sock *sk, int ifindex, struct in_addr *gw)
{
	struct gw_find g = { .ifindex = ifindex };
	int ret = route_walk(sk, AF_INET, default_gw, &g);

	if (ret < 0)
		return ret;
	if (!g.found)
		return -ENOENT;
	*gw = g.gw;
	return 0;
}

/* Adds (or replaces) the IPv4 default route via gw on ifindex. */
int nl_default_route_set(struct nl_sock *sk, int ifindex, struct in_addr gw)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *dst = nl_addr_build(AF_INET, &(struct in_addr){ 0 }, 4);
	struct nl_addr *via = nl_addr_build(AF_INET, &gw, 4);
	int err = -ENOMEM;

	if (r && nh && dst && via) {
		nl_addr_set_prefixlen(dst, 0);
		rtnl_route_set_family(r, AF_INET);
		rtnl_route_set_table(r, RT_TABLE_MAIN);
		rtnl_route_set_protocol(r, RTPROT_BOOT); /* as `ip route add` makes it */
		rtnl_route_set_dst(r, dst);
		rtnl_route_nh_set_ifindex(nh, ifindex);
		rtnl_route_nh_set_gateway(nh, via);
		rtnl_route_add_nexthop(r, nh);
		nh = NULL; /* the route owns it now */
		err = nl2errno(rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_REPLACE));
	}
	if (nh)
		rtnl_route_nh_free(nh);
	nl_addr_put(dst);
	nl_addr_put(via);
	if (r)
		rtnl_route_put(r);
	return err;
}

struct addr_list {
	struct in_addr *a;
	unsigned int *prefix;
	int n, cap;
};

static int collect(struct in_addr a, unsigned int prefix, void *arg)
{
	struct addr_list *l = arg;

	if (l->n < l->cap) {
		l->a[l->n] = a;
		l->prefix[l->n++] = prefix;
	}
	return 0;
}

/* Up to cap IPv4 addresses of ifindex; returns how many. */
int nl_addrs(struct nl_sock *sk, int ifindex, struct in_addr *a, unsigned int *prefix, int cap)
{
	struct addr_list l = { a, prefix, 0, cap };
	int err = addr_walk(sk, ifindex, collect, &l);

	return err < 0 ? err : l.n;
}

/* The MAC the neighbour table has for addr on ifindex. */
int nl_neigh_mac(struct nl_sock *sk, int ifindex, struct in_addr addr, uint8_t mac[6])
{
	struct nl_cache *cache;
	struct rtnl_neigh *n;
	struct nl_addr *dst, *ll;
	int err;

	if ((err = nl2errno(rtnl_neigh_alloc_cache(sk, &cache))))
		return err;
	dst = nl_addr_build(AF_INET, &addr, sizeof(addr));
	n = dst ? rtnl_neigh_get(cache, ifindex, dst) : NULL;
	ll = n ? rtnl_neigh_get_lladdr(n) : NULL;
	err = ll && nl_addr_get_len(ll) == 6 ? 0 : -ENOENT;
	if (!err)
		memcpy(mac, nl_addr_get_binary_addr(ll), 6);
	if (n)
		rtnl_neigh_put(n);
	nl_addr_put(dst);
	nl_cache_free(cache);
	return err;
}

/*
 * When the default route no longer leaves through the uplink: what to tell
 * the operator, in msg, and 1.  Flows keep going out of the uplink; new
 * traffic the host routes elsewhere is not masqueraded by us.
 */
int default_route_moved(struct nl_sock *sk, const struct settings *s, int uplink, char *msg, size_t len)
{
	char name[IFNAMSIZ] = "";
	int dev = nl_default_route_dev(sk);

	if (s->bridged || s->mode == MODE_ISOLATED || !uplink || dev == uplink)
		return 0;
	if (dev < 0 || nl_ifname(sk, dev, name))
		snprintf(msg, len, "there is no default route any more (the uplink is %s)", s->uplink);
	else
		snprintf(msg, len, "the default route now leaves via %s, not the uplink %s: guests still go out of %s; "
			 "attach again with --uplink %s to follow it", name, s->uplink, s->uplink, name);
	return 1;
}
