// SPDX-License-Identifier: GPL-2.0
/*
 * The BPF object: loading it (adopting the maps of a data plane that is
 * already running, so flows survive a controller restart), and attaching its
 * programs to the uplink and the bridge ports.
 *
 * Programs are attached through netlink (cls_bpf, XDP), not BPF links: they
 * stay in place when the controller dies.  They are also how a later
 * controller finds the maps again; pins would not do, since every
 * `ip netns exec` has its own /sys.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

#include "log.h"
#include "qnat.h"
#include "qnat.skel.h"

#define TC_OPTS(name, fd) \
	LIBBPF_OPTS(bpf_tc_opts, name, .handle = QNAT_TC_HANDLE, .priority = QNAT_TC_PRIO, .prog_fd = (fd))

static void tc_hook_init(struct bpf_tc_hook *h, int ifindex, enum bpf_tc_attach_point where)
{
	memset(h, 0, sizeof(*h));
	h->sz = sizeof(*h);
	h->ifindex = ifindex;
	h->attach_point = where;
}

static int tc_prog_id(int ifindex, enum bpf_tc_attach_point where, uint32_t *id)
{
	struct bpf_tc_hook hook;
	TC_OPTS(opts, 0);
	int err;

	tc_hook_init(&hook, ifindex, where);
	err = bpf_tc_query(&hook, &opts);
	*id = err ? 0 : opts.prog_id;
	return err;
}

static bool prog_named(uint32_t id, const char *name)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ok;

	if (fd < 0)
		return false;
	ok = !bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, name);
	close(fd);
	return ok;
}

/* Our programs on the uplink (or any device): TC ingress, TC egress, XDP (0 where absent). */
int dp_uplink_prog_ids(int ifindex, uint32_t ids[3])
{
	tc_prog_id(ifindex, BPF_TC_INGRESS, &ids[0]);
	tc_prog_id(ifindex, BPF_TC_EGRESS, &ids[1]);
	if (bpf_xdp_query_id(ifindex, 0, &ids[2]))
		ids[2] = 0;
	return ids[0] || ids[1] || ids[2] ? 0 : -ENOENT;
}

/* Every map the controller uses, by its name in the object and its fd's place. */
static const struct {
	const char *name;
	size_t off;
} dp_maps[] = {
	{ QNAT_MAP_CONFIG, offsetof(struct dataplane, config_fd) },
	{ QNAT_MAP_CT, offsetof(struct dataplane, ct_fd) },
	{ QNAT_MAP_CT_REV, offsetof(struct dataplane, ct_rev_fd) },
	{ QNAT_MAP_STATS, offsetof(struct dataplane, stats_fd) },
	{ QNAT_MAP_PORTS, offsetof(struct dataplane, ports_fd) },
	{ QNAT_MAP_DEVMAP, offsetof(struct dataplane, devmap_fd) },
	{ QNAT_MAP_FWD, offsetof(struct dataplane, fwd_fd) },
	{ QNAT_MAP_GUESTS, offsetof(struct dataplane, guests_fd) },
	{ QNAT_MAP_FDB, offsetof(struct dataplane, fdb_fd) },
	{ QNAT_MAP_HOST_ALLOW, offsetof(struct dataplane, host_allow_fd) },
	{ QNAT_MAP_HOST_FLOW, offsetof(struct dataplane, host_flow_fd) },
	{ QNAT_MAP_FRAGS, offsetof(struct dataplane, frags_fd) },
	{ QNAT_MAP_FRAG_STASH, offsetof(struct dataplane, stash_fd) },
	{ QNAT_MAP_FRAG_EVENTS, offsetof(struct dataplane, frag_ev_fd) },
	{ QNAT_MAP_IP6_BIND, offsetof(struct dataplane, ip6_bind_fd) },
	{ QNAT_MAP_CT_EVENTS, offsetof(struct dataplane, ct_ev_fd) },
	{ QNAT_MAP_CT6, offsetof(struct dataplane, ct6_fd) },
	{ QNAT_MAP_CT6_REV, offsetof(struct dataplane, ct6_rev_fd) },
	{ QNAT_MAP_FWD6, offsetof(struct dataplane, fwd6_fd) },
};
#define DP_MAPS (sizeof(dp_maps) / sizeof(dp_maps[0]))

static int *dp_map_fd(struct dataplane *dp, size_t i)
{
	return (int *)((char *)dp + dp_maps[i].off);
}

static int *dp_fd_by_name(struct dataplane *dp, const char *name)
{
	for (size_t i = 0; i < DP_MAPS; i++)
		if (!strcmp(name, dp_maps[i].name))
			return dp_map_fd(dp, i);
	return NULL;
}

static void dp_init(struct dataplane *dp)
{
	memset(dp, 0, sizeof(*dp));
	for (size_t i = 0; i < DP_MAPS; i++)
		*dp_map_fd(dp, i) = -1;
}

/* The maps a running data plane's programs hold, by name (no pins: see above). */
#define OLD_MAPS_MAX 32
struct old_maps {
	int n;
	struct {
		int fd;
		struct bpf_map_info info;
	} m[OLD_MAPS_MAX];
};

static void old_maps_add_cgroup(struct old_maps *om);

static int old_map_find(const struct old_maps *om, const char *name)
{
	for (int i = 0; i < om->n; i++)
		if (!strcmp(om->m[i].info.name, name))
			return i;
	return -1;
}

static void old_maps_close(struct old_maps *om)
{
	for (int i = 0; i < om->n; i++)
		if (om->m[i].fd >= 0)
			close(om->m[i].fd);
	om->n = 0;
}

/* The maps a network's own programs alone use; networks sharing an uplink share all the others. */
static bool own_map(const char *name)
{
	return !strcmp(name, QNAT_MAP_FDB) || !strcmp(name, QNAT_MAP_HOST_ALLOW) || !strcmp(name, QNAT_MAP_HOST_FLOW) ||
	       !strcmp(name, QNAT_MAP_IP6_BIND);
}

static bool our_prog_name(const char *name)
{
	return !strncmp(name, "tc_uplink", 9) || !strcmp(name, "xdp_uplink_in") || !strcmp(name, "tc_port_in") ||
	       !strcmp(name, "xdp_port_in") ||
	       !strcmp(name, "tc_host_in") || !strncmp(name, "sock_", 5);
}

/* Add the maps program prog_id uses, when it is one of ours (shared: none of a network's own). */
static void old_maps_add(struct old_maps *om, uint32_t prog_id, bool shared)
{
	uint32_t map_ids[OLD_MAPS_MAX];
	struct bpf_prog_info info = { .nr_map_ids = OLD_MAPS_MAX, .map_ids = (uint64_t)(unsigned long)map_ids };
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(prog_id);

	if (fd < 0)
		return;
	if (bpf_obj_get_info_by_fd(fd, &info, &len) || !our_prog_name(info.name)) {
		close(fd);
		return;
	}
	close(fd);
	for (uint32_t i = 0; i < info.nr_map_ids && i < OLD_MAPS_MAX && om->n < OLD_MAPS_MAX; i++) {
		struct bpf_map_info mi = {};
		uint32_t mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(map_ids[i]);

		if (mfd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(mfd, &mi, &mlen) || old_map_find(om, mi.name) >= 0 || (shared && own_map(mi.name))) {
			close(mfd);
			continue;
		}
		om->m[om->n].fd = mfd;
		om->m[om->n++].info = mi;
	}
}

/*
 * The slot of the network on bridge_ifindex (none: of subnet, a network
 * whose bridge is gone); else, with free, the first free one; else -1.
 */
static int config_slot_of(int config_fd, int bridge_ifindex, uint32_t subnet, bool free)
{
	struct qnat_config cfg;
	int first_free = -1;

	for (uint32_t i = 0; i < QNAT_NETS_MAX; i++) {
		if (bpf_map_lookup_elem(config_fd, &i, &cfg) || !cfg.abi_version) {
			if (first_free < 0)
				first_free = i;
			continue;
		}
		if (bridge_ifindex > 0 ? (int)cfg.bridge_ifindex == bridge_ifindex : subnet && cfg.subnet == subnet)
			return i;
	}
	return free ? first_free : -1;
}

/* An isolated data plane lives on the bridge alone: no uplink, no conntrack to find. */
static bool old_isolated(const struct old_maps *om)
{
	int i = old_map_find(om, QNAT_MAP_CONFIG);
	struct qnat_config cfg = {};
	uint32_t zero = 0;

	return i >= 0 && !bpf_map_lookup_elem(om->m[i].fd, &zero, &cfg) && (cfg.flags & QNAT_CFG_ISOLATED);
}

/* The device whose programs lead to the data plane: the uplink, or an isolated network's bridge. */
const char *dp_home(const struct settings *s)
{
	return s->mode == MODE_ISOLATED ? s->bridge : s->uplink;
}

/*
 * The maps of the data plane on the home device: the shared ones from its
 * programs there; a network's own from its programs on one of its ports
 * and on its bridge (none yet: a network joining the uplink gets new ones).
 */
static int old_maps_collect(struct old_maps *om, int home_ifindex, int bridge_ifindex)
{
	uint32_t ids[3], port, *prev = NULL, id;
	struct qnat_port pv;
	int ports, config, net;

	om->n = 0;
	if (dp_uplink_prog_ids(home_ifindex, ids))
		return -ENOENT;
	for (int i = 0; i < 3; i++)
		if (ids[i])
			old_maps_add(om, ids[i], true);
	ports = old_map_find(om, QNAT_MAP_PORTS);
	config = old_map_find(om, QNAT_MAP_CONFIG);
	net = config < 0 ? -1 : config_slot_of(om->m[config].fd, bridge_ifindex, 0, false);
	while (net >= 0 && ports >= 0 && !bpf_map_get_next_key(om->m[ports].fd, prev, &port)) {
		if (!bpf_map_lookup_elem(om->m[ports].fd, &port, &pv) && (int)pv.net == net &&
		    !tc_prog_id(port, BPF_TC_INGRESS, &id) && id && prog_named(id, "tc_port_in")) {
			old_maps_add(om, id, false);
			break;
		}
		prev = &port;
	}
	if (net >= 0 && !tc_prog_id(bridge_ifindex, BPF_TC_INGRESS, &id) && id && prog_named(id, "tc_host_in"))
		old_maps_add(om, id, false);
	if (config < 0 ||
	    (!old_isolated(om) && (old_map_find(om, QNAT_MAP_CT) < 0 || old_map_find(om, QNAT_MAP_CT_REV) < 0))) {
		old_maps_close(om);
		return -ENOENT;
	}
	return 0;
}

/* The ABI version a running data plane's config carries (in any network's slot; 0: none written). */
static uint32_t old_abi_fd(int config_fd)
{
	struct qnat_config cfg;

	for (uint32_t i = 0; i < QNAT_NETS_MAX; i++)
		if (!bpf_map_lookup_elem(config_fd, &i, &cfg) && cfg.abi_version)
			return cfg.abi_version;
	return 0;
}

static uint32_t old_abi(const struct old_maps *om)
{
	return old_abi_fd(om->m[old_map_find(om, QNAT_MAP_CONFIG)].fd);
}

/* The network of slot net: the subnet tools and the expiry keep to. */
static void dp_set_net(struct dataplane *dp, int net)
{
	struct qnat_config cfg;
	uint32_t key = net;

	dp->net = net;
	if (!bpf_map_lookup_elem(dp->config_fd, &key, &cfg) && cfg.abi_version) {
		dp->subnet = cfg.subnet;
		dp->netmask = cfg.netmask;
		dp->ip6 = cfg.flags & (QNAT_CFG_MASQ6 | QNAT_CFG_ROUTE6);
		memcpy(dp->prefix6, cfg.prefix6, sizeof(dp->prefix6));
	}
}

bool dp_owns(const struct dataplane *dp, uint32_t addr)
{
	return (addr & dp->netmask) == dp->subnet;
}

bool dp_owns6(const struct dataplane *dp, const uint32_t addr[4])
{
	return dp->ip6 && prefix_match(addr, dp->prefix6, 64);
}

/* The ports map's entry for ifindex, when it is a port of our network (the map is the uplink's, shared). */
bool dp_port_ours(const struct dataplane *dp, uint32_t ifindex, struct qnat_port *port)
{
	return !bpf_map_lookup_elem(dp->ports_fd, &ifindex, port) && (int)port->net == dp->net;
}

/*
 * The maps of the data plane running on home_ifindex, if there is one, as
 * the network on bridge_ifindex (gone: of subnet) sees them; -ESRCH when
 * it serves other networks only.  Neither given: the data plane, no
 * network in particular.
 */
int dp_open_home(struct dataplane *dp, int home_ifindex, int bridge_ifindex, uint32_t subnet)
{
	struct old_maps om;
	int net;

	dp_init(dp);
	if (old_maps_collect(&om, home_ifindex, bridge_ifindex))
		return -ENOENT;
	if (old_abi(&om) != QNAT_ABI_VERSION) {
		old_maps_close(&om);
		return -EPROTO;
	}
	for (int i = 0; i < om.n; i++) {
		int *slot = dp_fd_by_name(dp, om.m[i].info.name);

		if (slot && *slot < 0) {
			*slot = om.m[i].fd;
			om.m[i].fd = -1;
		}
	}
	old_maps_close(&om);
	net = config_slot_of(dp->config_fd, bridge_ifindex, subnet, false);
	if (net < 0 && (bridge_ifindex > 0 || subnet) && old_abi_fd(dp->config_fd)) {
		dp_close(dp); /* it serves networks, none of them this one */
		return -ESRCH;
	}
	dp_set_net(dp, net < 0 ? 0 : net);
	return 0;
}

int dp_open_existing(struct dataplane *dp, const struct settings *s)
{
	int home = (int)if_nametoindex(dp_home(s));

	return home ? dp_open_home(dp, home, (int)if_nametoindex(s->bridge), s->bridged ? 0 : s->subnet.s_addr) :
		      -ENOENT;
}

/*
 * The other networks on this data plane's uplink whose bridges still
 * exist: how many, and (names) their bridges, comma-joined.
 */
int dp_other_nets(struct dataplane *dp, char *names, size_t len)
{
	struct qnat_config cfg;
	char name[IF_NAMESIZE];
	int n = 0;

	if (names && len)
		names[0] = 0;
	for (uint32_t i = 0; i < QNAT_NETS_MAX; i++) {
		if ((int)i == dp->net || bpf_map_lookup_elem(dp->config_fd, &i, &cfg) || !cfg.abi_version ||
		    !if_indextoname(cfg.bridge_ifindex, name))
			continue;
		if (names && len)
			snprintf(names + strlen(names), len - strlen(names), "%s%s", n ? "," : "", name);
		n++;
	}
	return n;
}

/* Whether another network may join: no network on it is bridged (the uplink is its port) or isolated. */
bool dp_shareable(struct dataplane *dp)
{
	struct qnat_config cfg;

	for (uint32_t i = 0; i < QNAT_NETS_MAX; i++)
		if (!bpf_map_lookup_elem(dp->config_fd, &i, &cfg) && cfg.abi_version &&
		    (cfg.flags & (QNAT_CFG_BRIDGED | QNAT_CFG_ISOLATED)))
			return false;
	return true;
}

/* A network leaves a shared uplink: its slot and its counters go. */
void dp_clear_net(struct dataplane *dp)
{
	int ncpu = libbpf_num_possible_cpus();
	struct qnat_counter_val *zero = calloc(ncpu > 0 ? ncpu : 1, sizeof(*zero));
	struct qnat_config none = {};
	uint32_t key = dp->net;

	bpf_map_update_elem(dp->config_fd, &key, &none, BPF_ANY);
	for (uint32_t c = 0; zero && c < QNAT_STATS_SLOTS; c++) {
		key = dp->net * QNAT_STATS_SLOTS + c;
		bpf_map_update_elem(dp->stats_fd, &key, zero, BPF_ANY);
	}
	free(zero);
}

void dp_close(struct dataplane *dp)
{
	if (dp->skel) {
		qnat__destroy(dp->skel); /* owns the fds */
	} else {
		for (size_t i = 0; i < DP_MAPS; i++)
			if (*dp_map_fd(dp, i) >= 0)
				close(*dp_map_fd(dp, i));
	}
	dp_init(dp);
}

/*
 * A map is adopted only if this build declares it exactly as the running
 * one did; libbpf's reuse_fd does not check, and the verifier would accept
 * programs that read another layout.  Names the first difference.
 */
static int map_mismatch(const struct bpf_map *map, const struct bpf_map_info *old, char *buf, size_t len)
{
	enum bpf_map_type t = bpf_map__type(map);
	/* The kernel makes devmaps read-only for programs itself. */
	uint32_t flags = bpf_map__map_flags(map) |
			 (t == BPF_MAP_TYPE_DEVMAP || t == BPF_MAP_TYPE_DEVMAP_HASH ? BPF_F_RDONLY_PROG : 0);
	const struct {
		const char *what;
		uint32_t was, now;
	} f[] = {
		{ "type", old->type, t },
		{ "key size", old->key_size, bpf_map__key_size(map) },
		{ "value size", old->value_size, bpf_map__value_size(map) },
		{ "max entries", old->max_entries, bpf_map__max_entries(map) },
		{ "flags", old->map_flags, flags },
	};

	for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
		if (f[i].was != f[i].now) {
			snprintf(buf, len, "map %s: %s %u, this build's %u", old->name, f[i].what, f[i].was, f[i].now);
			return -EPROTO;
		}
	return 0;
}

/*
 * A network joining the uplink's data plane takes a free slot, and must
 * size its conntrack table as the one it shares.
 */
static int join_check(const struct settings *s, const struct old_maps *om, int net)
{
	int ct = old_map_find(om, QNAT_MAP_CT);

	if (net < 0) {
		log_warnx("uplink %s already serves %d networks, the most one uplink can", s->uplink, QNAT_NETS_MAX);
		return -ENOSPC;
	}
	if (ct >= 0 && om->m[ct].info.max_entries != s->ct_max) {
		log_warnx("the networks on uplink %s share a conntrack table of %u flows: attach with --ct-max %u",
			  s->uplink, om->m[ct].info.max_entries, om->m[ct].info.max_entries);
		return -EINVAL;
	}
	return 0;
}

/*
 * A later controller finds the maps through the programs that use them
 * (old_maps_collect).  Maps no program refers to yet would be left behind
 * on a restart or an upgrade, so every program holds the NAT66 maps
 * (BPF_PROG_BIND_MAP; a no-op for those it uses already).
 */
static int dp_bind_maps(struct qnat *skel)
{
	const struct bpf_map *maps[] = { skel->maps.qnat_ct6, skel->maps.qnat_ct6_rev, skel->maps.qnat_fwd6 };
	struct bpf_program *prog;
	int err = 0;

	bpf_object__for_each_program(prog, skel->obj)
		for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]) && !err; i++)
			if (bpf_prog_bind_map(bpf_program__fd(prog), bpf_map__fd(maps[i]), NULL))
				err = -errno;
	return err;
}

/*
 * Load the programs.  When a data plane runs on the uplink (a restart, an
 * upgrade, or another network on the same uplink), its maps are adopted,
 * every one this build also declares, after checking that the ABI and each
 * map's shape are the same; nothing is attached here, so a refusal changes
 * nothing.  The network's slot is the one its bridge has, else a free one.
 */
int dp_load(struct dataplane *dp, const struct settings *s, int home_ifindex, int bridge_ifindex)
{
	struct old_maps om = { 0 };
	struct bpf_map *map;
	struct qnat *skel;
	char why[128];
	int err, net = 0;

	skel = qnat__open();
	if (!skel)
		return -errno;
	bpf_map__set_max_entries(skel->maps.qnat_ct, s->ct_max);
	bpf_map__set_max_entries(skel->maps.qnat_ct_rev, s->ct_max);
	bpf_map__set_max_entries(skel->maps.qnat_ct6, s->ct_max);
	bpf_map__set_max_entries(skel->maps.qnat_ct6_rev, s->ct_max);

	dp_init(dp);
	dp->reused = !old_maps_collect(&om, home_ifindex, bridge_ifindex);
	if (dp->reused && old_abi(&om) != QNAT_ABI_VERSION) {
		log_warnx("the data plane on %s has ABI version %u, this build %u: detach it with the build that "
			  "attached it first", dp_home(s), old_abi(&om), QNAT_ABI_VERSION);
		err = -EPROTO;
		goto fail;
	}
	if (dp->reused) {
		int cfg_fd = om.m[old_map_find(&om, QNAT_MAP_CONFIG)].fd;

		net = config_slot_of(cfg_fd, bridge_ifindex, 0, false);
		dp->joined = net < 0;
		if (net < 0 && (err = join_check(s, &om, net = config_slot_of(cfg_fd, -1, 0, true))))
			goto fail;
		old_maps_add_cgroup(&om); /* the socket hooks' maps (host-local forwards) */
	}
	skel->rodata->qnat_net = net;
	bpf_object__for_each_map(map, skel->obj) {
		int i = bpf_map__is_internal(map) ? -1 : old_map_find(&om, bpf_map__name(map));

		if (i < 0)
			continue; /* new in this build, or nothing runs: created empty */
		if ((err = map_mismatch(map, &om.m[i].info, why, sizeof(why)))) {
			log_warnx("the data plane on %s has another ABI (%s): detach it with the build that "
				  "attached it first", s->uplink, why);
			goto fail;
		}
		if ((err = bpf_map__reuse_fd(map, om.m[i].fd))) {
			log_warnx("cannot adopt map %s: %s", bpf_map__name(map), strerror(-err));
			goto fail;
		}
	}
	old_maps_close(&om);
	err = qnat__load(skel);
	if (err) {
		log_warnx("loading the BPF programs failed: %s", strerror(-err));
		qnat__destroy(skel);
		dp_init(dp);
		return err;
	}
	dp->skel = skel;
	for (size_t i = 0; i < DP_MAPS; i++)
		*dp_map_fd(dp, i) = bpf_object__find_map_fd_by_name(skel->obj, dp_maps[i].name);
	dp->net = net;
	dp->subnet = s->bridged ? 0 : s->subnet.s_addr;
	dp->netmask = s->bridged ? 0 : prefix_mask(s->prefix);
	dp->ip6 = s->ip6 != IP6_NONE;
	memcpy(dp->prefix6, &s->prefix6, sizeof(dp->prefix6));
	if ((err = dp_bind_maps(skel)))
		log_warnx("cannot bind the NAT66 maps to the programs: %s", strerror(-err));
	return 0;

fail:
	old_maps_close(&om);
	qnat__destroy(skel);
	dp_init(dp);
	return err;
}

#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/* The cookie of our network namespace, as bpf_get_netns_cookie() reports it. */
static uint64_t netns_cookie(void)
{
	uint64_t cookie = 0;
	socklen_t len = sizeof(cookie);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd >= 0) {
		if (getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len))
			cookie = 0;
		close(fd);
	}
	return cookie;
}

int dp_write_config(struct dataplane *dp, const struct settings *s, int uplink_ifindex, int bridge_ifindex,
		    struct in_addr ext, const struct in6_addr *ext6, const uint8_t bridge_mac[6])
{
	struct qnat_config cfg = {
		.abi_version = QNAT_ABI_VERSION,
		.subnet = s->subnet.s_addr,
		.netmask = prefix_mask(s->prefix),
		.gateway = s->gateway.s_addr,
		.ext_addr = ext.s_addr,
		.uplink_ifindex = uplink_ifindex,
		.bridge_ifindex = bridge_ifindex,
		.port_min = s->port_min,
		.port_max = s->port_max,
	};
	struct qnat_host_allow rules[QNAT_HOST_ALLOW_MAX] = {};
	struct qnat_config old;
	uint32_t slot = dp->net;
	bool all = false;
	int n = 0;

	cfg.net = dp->net;
	/* Adopted flows keep next hops cached under the old generation: it goes on from there. */
	if (!bpf_map_lookup_elem(dp->config_fd, &slot, &old) && old.abi_version == QNAT_ABI_VERSION)
		cfg.nh_gen = old.nh_gen;

	if (s->host_allow[0] && host_allow_parse(s->host_allow, rules, &n, &all))
		return -EINVAL;
	/* Every slot, so rules of an earlier attach do not linger. */
	for (uint32_t i = 0; i < QNAT_HOST_ALLOW_MAX; i++)
		if (bpf_map_update_elem(dp->host_allow_fd, &i, &rules[i], BPF_ANY))
			return -errno;
	memcpy(cfg.bridge_mac, bridge_mac, 6);
	memcpy(cfg.timeouts, s->timeouts, sizeof(cfg.timeouts));
	if (s->ip6) {
		memcpy(cfg.prefix6, &s->prefix6, sizeof(cfg.prefix6));
		memcpy(cfg.gateway6, &s->gateway6, sizeof(cfg.gateway6));
		if (s->ip6 == IP6_MASQ)
			memcpy(cfg.ext6, ext6, sizeof(cfg.ext6));
	}
	cfg.netns_cookie = netns_cookie();
	cfg.max_flows_per_guest = s->max_flows_per_guest;
	cfg.flags = (s->eif ? QNAT_CFG_EIF : 0) | (s->port_security ? QNAT_CFG_PORT_SECURITY : 0) |
		    (s->bridged ? QNAT_CFG_BRIDGED : 0) | (all || s->mode == MODE_OPEN ? QNAT_CFG_HOST_OPEN : 0) |
		    (s->mode == MODE_ROUTE || s->mode == MODE_OPEN ? QNAT_CFG_ROUTE : 0) |
		    (s->mode == MODE_OPEN ? QNAT_CFG_OPEN : 0) | (s->mode == MODE_ISOLATED ? QNAT_CFG_ISOLATED : 0) |
		    (s->ct_full == CT_FULL_EVICT ? QNAT_CFG_CT_EVICT : 0) | (s->ip6 == IP6_MASQ ? QNAT_CFG_MASQ6 : 0) |
		    (s->ip6 == IP6_ROUTE ? QNAT_CFG_ROUTE6 : 0);
	return bpf_map_update_elem(dp->config_fd, &slot, &cfg, BPF_ANY) ? -errno : 0;
}

/* The uplink's addresses changed: what flows are translated to (0, ::: none, they stop). */
int dp_set_ext_addr(struct dataplane *dp, struct in_addr ext, const struct in6_addr *ext6)
{
	struct qnat_config cfg;
	uint32_t slot = dp->net;

	if (bpf_map_lookup_elem(dp->config_fd, &slot, &cfg))
		return -errno;
	cfg.ext_addr = ext.s_addr;
	memcpy(cfg.ext6, ext6, sizeof(cfg.ext6));
	return bpf_map_update_elem(dp->config_fd, &slot, &cfg, BPF_ANY) ? -errno : 0;
}

/* Create the clsact qdisc; 1 when we created it, 0 when it was there. */
static int clsact_ensure(int ifindex)
{
	struct bpf_tc_hook hook;
	int err;

	tc_hook_init(&hook, ifindex, BPF_TC_INGRESS);
	err = bpf_tc_hook_create(&hook);
	if (err == -EEXIST)
		return 0;
	return err ? err : 1;
}

static void clsact_destroy(int ifindex)
{
	struct bpf_tc_hook hook;

	tc_hook_init(&hook, ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS);
	bpf_tc_hook_destroy(&hook);
}

static int tc_attach(int ifindex, enum bpf_tc_attach_point where, const struct bpf_program *prog)
{
	struct bpf_tc_hook hook;
	TC_OPTS(opts, bpf_program__fd(prog));

	tc_hook_init(&hook, ifindex, where);
	opts.flags = BPF_TC_F_REPLACE;
	return bpf_tc_attach(&hook, &opts);
}

static void tc_detach(int ifindex, enum bpf_tc_attach_point where)
{
	struct bpf_tc_hook hook;
	TC_OPTS(opts, 0);

	tc_hook_init(&hook, ifindex, where);
	bpf_tc_detach(&hook, &opts);
}

static int xdp_flags_of(enum xdp_mode m)
{
	return m == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : m == XDP_MODE_GENERIC ? XDP_FLAGS_SKB_MODE : 0;
}

/* -EBUSY when someone else's XDP program holds the uplink. */
static int xdp_foreign(int ifindex)
{
	uint32_t xdp_id = 0;

	if (!bpf_xdp_query_id(ifindex, 0, &xdp_id) && xdp_id && !prog_named(xdp_id, "xdp_uplink_in")) {
		log_warnx("uplink already has another XDP program (id %u); remove it first", xdp_id);
		return -EBUSY;
	}
	return 0;
}

int dp_attach_uplink(struct dataplane *dp, struct nl_sock *sk, int ifindex, enum xdp_mode mode, struct owned *o)
{
	int err, created;

	if ((err = xdp_foreign(ifindex)))
		return err;
	created = clsact_ensure(ifindex);
	if (created < 0) {
		log_warnx("cannot create the clsact qdisc on the uplink: %s", strerror(-created));
		return created;
	}
	o->uplink_clsact_created |= created;
	if ((err = tc_attach(ifindex, BPF_TC_INGRESS, dp->skel->progs.tc_uplink_in)) ||
	    (err = tc_attach(ifindex, BPF_TC_EGRESS, dp->skel->progs.tc_uplink_out))) {
		log_warnx("cannot attach the uplink's TC programs: %s", strerror(-err));
		return err;
	}
	return dp_attach_uplink_xdp(dp, sk, ifindex, mode, o);
}

int dp_attach_uplink_xdp(struct dataplane *dp, struct nl_sock *sk, int ifindex, enum xdp_mode mode, struct owned *o)
{
	uint32_t xdp_id = 0;
	char kind[32] = "";
	bool automatic = mode == XDP_MODE_AUTO;
	int err;

	if ((err = xdp_foreign(ifindex)))
		return err;
	bpf_xdp_query_id(ifindex, 0, &xdp_id);
	/*
	 * veth: native XDP strips GSO from the peer (TCP bulk falls by ~75%)
	 * and its frames may carry partial checksums, so "auto" leaves veth
	 * uplinks to TC.  Any other driver gets native XDP where it has it.
	 */
	nl_link_kind(sk, ifindex, kind, sizeof(kind));
	if (mode == XDP_MODE_AUTO)
		mode = strcmp(kind, "veth") ? XDP_MODE_NATIVE : XDP_MODE_OFF;
	if (xdp_id && o->xdp_attached == xdp_flags_of(mode) && mode != XDP_MODE_OFF) {
		/* The running data plane's program: swapped in one step, no gap. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, xo, .old_prog_fd = bpf_prog_get_fd_by_id(xdp_id));

		err = bpf_xdp_attach(ifindex, bpf_program__fd(dp->skel->progs.xdp_uplink_in),
				     xdp_flags_of(mode) | XDP_FLAGS_REPLACE, &xo);
		close(xo.old_prog_fd);
		if (err)
			log_warnx("cannot replace the uplink's XDP program: %s", strerror(-err));
		return err;
	}
	if (o->xdp_attached && xdp_id) /* the mode changes: start clean */
		bpf_xdp_detach(ifindex, o->xdp_attached, NULL);
	o->xdp_attached = 0;
	if (mode == XDP_MODE_OFF)
		return 0;
	err = bpf_xdp_attach(ifindex, bpf_program__fd(dp->skel->progs.xdp_uplink_in), xdp_flags_of(mode), NULL);
	/* A bridge, a bond, Wi-Fi: no native XDP.  "auto" means TC there. */
	if (err && automatic) {
		log_info("the uplink's driver (%s) has no native XDP (%s): TC only", kind[0] ? kind : "a device",
			 strerror(-err));
		return 0;
	}
	if (err) {
		log_warnx("cannot attach XDP (%s mode) to the uplink: %s", xdp_mode_name(mode), strerror(-err));
		return err;
	}
	o->xdp_attached = xdp_flags_of(mode);
	return 0;
}

/* The mode our XDP program runs in on the uplink now (o->xdp_attached follows it). */
enum xdp_mode dp_uplink_xdp_now(int ifindex, struct owned *o)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);

	o->xdp_attached = 0;
	if (bpf_xdp_query(ifindex, 0, &q))
		return XDP_MODE_OFF;
	if (q.drv_prog_id && prog_named(q.drv_prog_id, "xdp_uplink_in"))
		o->xdp_attached = XDP_FLAGS_DRV_MODE;
	else if (q.skb_prog_id && prog_named(q.skb_prog_id, "xdp_uplink_in"))
		o->xdp_attached = XDP_FLAGS_SKB_MODE;
	return o->xdp_attached == XDP_FLAGS_DRV_MODE ? XDP_MODE_NATIVE :
	       o->xdp_attached == XDP_FLAGS_SKB_MODE ? XDP_MODE_GENERIC : XDP_MODE_OFF;
}

void dp_detach_uplink_xdp(int ifindex, const struct owned *o)
{
	uint32_t xdp_id = 0;

	if (!bpf_xdp_query_id(ifindex, 0, &xdp_id) && xdp_id && prog_named(xdp_id, "xdp_uplink_in"))
		bpf_xdp_detach(ifindex, o->xdp_attached, NULL);
}

void dp_detach_uplink(int ifindex, const struct owned *o)
{
	dp_detach_uplink_xdp(ifindex, o);
	tc_detach(ifindex, BPF_TC_INGRESS);
	tc_detach(ifindex, BPF_TC_EGRESS);
	if (o->uplink_clsact_created)
		clsact_destroy(ifindex);
}

/*
 * What xdp_port_in needs to send established flows to the uplink itself.
 * It does so only where the uplink takes XDP frames for sure.  Most drivers
 * transmit them only while they run an XDP program of their own: our native
 * xdp_uplink_in.  A veth hands them to its peer, which takes them only while
 * it runs native XDP, something that may change behind our back.  Also the
 * uplink's MAC, and a new next-hop generation: every flow asks the FIB once
 * more.  At attach, on route, neighbour and uplink events, and every expiry
 * pass; a change of path is logged.
 */
void dp_uplink_xmit(struct dataplane *dp, struct nl_sock *sk, int ifindex)
{
	LIBBPF_OPTS(bpf_xdp_query_opts, q);
	struct qnat_config cfg;
	uint32_t slot = dp->net, key = ifindex;
	char kind[32] = "";
	bool xmit;

	if (bpf_map_lookup_elem(dp->config_fd, &slot, &cfg))
		return;
	nl_link_kind(sk, ifindex, kind, sizeof(kind));
	if (!strcmp(kind, "veth"))
		xmit = nl_veth_peer_xdp(sk, ifindex) == 1;
	else
		xmit = !bpf_xdp_query(ifindex, XDP_FLAGS_DRV_MODE, &q) && q.drv_prog_id &&
		       prog_named(q.drv_prog_id, "xdp_uplink_in");
	if (xmit && bpf_map_update_elem(dp->devmap_fd, &key, &key, BPF_ANY))
		xmit = false;
	if (nl_link_mac(sk, ifindex, cfg.uplink_mac))
		xmit = false;
	if (xmit != !!(cfg.flags & QNAT_CFG_UPLINK_XMIT))
		log_info("established flows from TAP guests now leave %s", xmit ? "from XDP" : "through TC");
	cfg.flags = xmit ? cfg.flags | QNAT_CFG_UPLINK_XMIT : cfg.flags & ~QNAT_CFG_UPLINK_XMIT;
	cfg.nh_gen++;
	bpf_map_update_elem(dp->config_fd, &slot, &cfg, BPF_ANY);
}

/* xdp_port_in on a port, XDP_FLAGS_* of the mode it got (0: TC alone). */
static uint32_t port_xdp_attach(struct dataplane *dp, int ifindex, enum xdp_mode mode, bool tap)
{
	int flags, err;

	if (mode == XDP_MODE_AUTO)
		mode = tap ? XDP_MODE_NATIVE : XDP_MODE_OFF; /* veth: XDP costs its peer GSO (README) */
	flags = xdp_flags_of(mode);
	if (!flags)
		return 0;
	err = bpf_xdp_attach(ifindex, bpf_program__fd(dp->skel->progs.xdp_port_in), flags, NULL);
	if (err) { /* TC serves it all the same */
		log_warnx("cannot attach XDP (%s mode) to port %d: %s", xdp_mode_name(mode), ifindex, strerror(-err));
		return 0;
	}
	return flags == XDP_FLAGS_DRV_MODE ? QNAT_PORT_XDP_DRV : QNAT_PORT_XDP_SKB;
}

static void port_xdp_detach(int ifindex, uint32_t port_flags)
{
	uint32_t id = 0;

	if (!(port_flags & (QNAT_PORT_XDP_DRV | QNAT_PORT_XDP_SKB)) || bpf_xdp_query_id(ifindex, 0, &id) || !id ||
	    !prog_named(id, "xdp_port_in"))
		return;
	bpf_xdp_detach(ifindex, port_flags & QNAT_PORT_XDP_DRV ? XDP_FLAGS_DRV_MODE : XDP_FLAGS_SKB_MODE, NULL);
}

int dp_attach_port(struct dataplane *dp, struct nl_sock *sk, int ifindex, enum xdp_mode xdp)
{
	struct qnat_port port = {};
	uint32_t key = ifindex;
	char kind[32] = "";
	int err, created;

	if (!bpf_map_lookup_elem(dp->ports_fd, &key, &port))
		port_xdp_detach(ifindex, port.flags); /* attached again below, maybe in another mode */
	if (!bpf_map_lookup_elem(dp->ports_fd, &key, &port))
		created = (port.flags & QNAT_PORT_OWN_CLSACT) ? 1 : clsact_ensure(ifindex);
	else
		created = clsact_ensure(ifindex);
	if (created < 0)
		return created;
	err = tc_attach(ifindex, BPF_TC_INGRESS, dp->skel->progs.tc_port_in);
	if (err) {
		if (created)
			clsact_destroy(ifindex);
		return err;
	}
	nl_link_kind(sk, ifindex, kind, sizeof(kind));
	port.flags = (created ? QNAT_PORT_OWN_CLSACT : 0) | (!strcmp(kind, "tun") ? QNAT_PORT_TAP : 0);
	port.net = dp->net;
	if (port.flags & QNAT_PORT_TAP)
		bpf_map_update_elem(dp->devmap_fd, &key, &key, BPF_ANY);
	if (bpf_map_update_elem(dp->ports_fd, &key, &port, BPF_ANY)) {
		err = -errno;
		tc_detach(ifindex, BPF_TC_INGRESS);
		if (created)
			clsact_destroy(ifindex);
		return err;
	}
	/* After the ports map, where it finds its port; its mode is noted there. */
	port.flags |= port_xdp_attach(dp, ifindex, xdp, port.flags & QNAT_PORT_TAP);
	bpf_map_update_elem(dp->ports_fd, &key, &port, BPF_ANY);
	return 0;
}

/* The host policy: ingress and egress of the bridge device itself. */
int dp_attach_bridge(struct dataplane *dp, int ifindex, struct owned *o)
{
	int err, created = clsact_ensure(ifindex);

	if (created < 0)
		return created;
	o->bridge_clsact_created |= created;
	if ((err = tc_attach(ifindex, BPF_TC_INGRESS, dp->skel->progs.tc_host_in)) ||
	    (err = tc_attach(ifindex, BPF_TC_EGRESS, dp->skel->progs.tc_host_out)))
		return err;
	return 0;
}

void dp_detach_bridge(int ifindex, const struct owned *o)
{
	tc_detach(ifindex, BPF_TC_INGRESS);
	tc_detach(ifindex, BPF_TC_EGRESS);
	if (o->bridge_clsact_created)
		clsact_destroy(ifindex);
}

/* Bridged: the uplink is a port carrying the whole LAN's MACs. */
void dp_mark_uplink_port(struct dataplane *dp, int ifindex)
{
	struct qnat_port port;
	uint32_t key = ifindex;

	if (!bpf_map_lookup_elem(dp->ports_fd, &key, &port)) {
		port.flags |= QNAT_PORT_UPLINK;
		bpf_map_update_elem(dp->ports_fd, &key, &port, BPF_EXIST);
	}
}

void dp_forget_port(struct dataplane *dp, int ifindex, bool detach)
{
	struct qnat_port port = {};
	uint32_t key = ifindex;

	if (bpf_map_lookup_elem(dp->ports_fd, &key, &port))
		port.flags = 0;
	bpf_map_delete_elem(dp->ports_fd, &key);
	bpf_map_delete_elem(dp->devmap_fd, &key);
	if (!detach)
		return;
	port_xdp_detach(ifindex, port.flags);
	tc_detach(ifindex, BPF_TC_INGRESS);
	if (port.flags & QNAT_PORT_OWN_CLSACT)
		clsact_destroy(ifindex);
}

/*
 * Socket hooks for host-local port forwards.  They hang on the root cgroup,
 * so that every process of the host is covered, and act only in our
 * namespace (the programs compare netns cookies).  Ours are told apart
 * from other instances' by the config map they use.
 */
static const struct {
	enum bpf_attach_type type;
	const char *name;
} sock_hooks[] = {
	{ BPF_CGROUP_INET4_CONNECT, "sock_connect4" },
	{ BPF_CGROUP_UDP4_SENDMSG, "sock_sendmsg4" },
	{ BPF_CGROUP_UDP4_RECVMSG, "sock_recvmsg4" },
};

#define N_SOCK_HOOKS (sizeof(sock_hooks) / sizeof(sock_hooks[0]))

/* The root of the cgroup2 hierarchy, mounting it privately if nobody has. */
static int cgroup_root_fd(void)
{
	char line[1024], mnt[PATH_MAX], dir[] = QNAT_RUN_DIR "/cgroup.XXXXXX";
	FILE *f = fopen("/proc/self/mountinfo", "re");
	int fd = -1;

	while (f && fd < 0 && fgets(line, sizeof(line), f)) {
		char root[PATH_MAX], *sep = strstr(line, " - ");

		if (sep && !strncmp(sep, " - cgroup2 ", 11) && sscanf(line, "%*s %*s %*s %4095s %4095s", root, mnt) == 2 &&
		    !strcmp(root, "/"))
			fd = open(mnt, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (f)
		fclose(f);
	if (fd >= 0)
		return fd;
	/* `ip netns exec` remounts /sys without cgroup2: mount it here, briefly. */
	if (mkdir_p(QNAT_RUN_DIR, 0700) || !mkdtemp(dir))
		return -errno;
	if (mount("cgroup2", dir, "cgroup2", 0, NULL)) {
		fd = -errno;
		rmdir(dir);
		return fd;
	}
	fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		fd = -errno;
	umount2(dir, MNT_DETACH);
	rmdir(dir);
	return fd;
}

static uint32_t map_id_of(int fd)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);

	return bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.id;
}

/* Whether program id is hook i of the data plane whose config map is cfg_id. */
static bool sock_prog_ours(uint32_t id, size_t i, uint32_t cfg_id)
{
	uint32_t map_ids[16];
	struct bpf_prog_info info = { .nr_map_ids = 16, .map_ids = (uint64_t)(unsigned long)map_ids };
	uint32_t len = sizeof(info);
	int fd = bpf_prog_get_fd_by_id(id);
	bool ours = false;

	if (fd < 0)
		return false;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && !strcmp(info.name, sock_hooks[i].name))
		for (uint32_t m = 0; m < info.nr_map_ids && m < 16; m++)
			ours |= map_ids[m] == cfg_id;
	close(fd);
	return ours;
}

/* Our program on hook i of the cgroup, for the data plane whose config map is cfg_id; 0 if none. */
static uint32_t sock_prog_find(int cgfd, size_t i, uint32_t cfg_id)
{
	uint32_t ids[64], cnt = 64, flags = 0;

	if (bpf_prog_query(cgfd, sock_hooks[i].type, 0, &flags, ids, &cnt))
		return 0;
	for (uint32_t k = 0; k < cnt; k++)
		if (sock_prog_ours(ids[k], i, cfg_id))
			return ids[k];
	return 0;
}

/* The maps of the running data plane's socket hooks (the config map finds them). */
static void old_maps_add_cgroup(struct old_maps *om)
{
	int c = old_map_find(om, QNAT_MAP_CONFIG), cgfd;
	uint32_t cfg_id = c < 0 ? 0 : om->m[c].info.id;

	if (!cfg_id || (cgfd = cgroup_root_fd()) < 0)
		return;
	for (size_t i = 0; i < N_SOCK_HOOKS; i++) {
		uint32_t id = sock_prog_find(cgfd, i, cfg_id);

		if (id)
			old_maps_add(om, id, true);
	}
	close(cgfd);
}

static void cgroup_detach_ours(int cgfd, uint32_t cfg_id)
{
	for (size_t i = 0; i < N_SOCK_HOOKS; i++) {
		uint32_t id;
		int fd, err;

		/* Every one of ours (an interrupted upgrade may have left two). */
		while ((id = sock_prog_find(cgfd, i, cfg_id)) && (fd = bpf_prog_get_fd_by_id(id)) >= 0) {
			err = bpf_prog_detach2(fd, cgfd, sock_hooks[i].type);
			close(fd);
			if (err)
				break;
		}
	}
}

int dp_attach_cgroup(struct dataplane *dp)
{
	const struct bpf_program *progs[N_SOCK_HOOKS] = { dp->skel->progs.sock_connect4, dp->skel->progs.sock_sendmsg4,
							  dp->skel->progs.sock_recvmsg4 };
	uint32_t cfg_id = map_id_of(dp->config_fd);
	int cgfd = cgroup_root_fd(), err = 0;

	if (cgfd < 0)
		return cgfd;
	for (size_t i = 0; i < N_SOCK_HOOKS && !err; i++) {
		/* A previous attach's program on these maps: replaced in one step. */
		uint32_t old = sock_prog_find(cgfd, i, cfg_id);
		LIBBPF_OPTS(bpf_prog_attach_opts, ao, .flags = BPF_F_ALLOW_MULTI, .replace_prog_fd = -1);

		if (old && (ao.replace_prog_fd = bpf_prog_get_fd_by_id(old)) >= 0)
			ao.flags |= BPF_F_REPLACE;
		if (bpf_prog_attach_opts(bpf_program__fd(progs[i]), cgfd, sock_hooks[i].type, &ao))
			err = -errno;
		if (ao.replace_prog_fd >= 0)
			close(ao.replace_prog_fd);
	}
	if (err)
		cgroup_detach_ours(cgfd, cfg_id);
	close(cgfd);
	return err;
}

/* By the config map's id alone: the map lives as long as hooks use it. */
void dp_detach_cgroup_id(uint32_t cfg_id)
{
	int cgfd = cgroup_root_fd();

	if (cgfd < 0)
		return;
	cgroup_detach_ours(cgfd, cfg_id);
	close(cgfd);
}

void dp_detach_cgroup(struct dataplane *dp)
{
	dp_detach_cgroup_id(map_id_of(dp->config_fd));
}

uint32_t dp_config_id(struct dataplane *dp)
{
	return map_id_of(dp->config_fd);
}

static const struct {
	const char *name, *help;
} counters[QNAT_C_MAX] = {
#define QNAT_COUNTER_NAME(id, name, help) [QNAT_C_##id] = { name, help },
	QNAT_COUNTERS(QNAT_COUNTER_NAME)
#undef QNAT_COUNTER_NAME
};

const char *counter_name(int i)
{
	return counters[i].name;
}

const char *counter_help(int i)
{
	return counters[i].help;
}

/* The per-CPU counters, summed. */
void dp_read_counters(struct dataplane *dp, struct qnat_counter_val out[QNAT_C_MAX])
{
	int ncpu = libbpf_num_possible_cpus();
	struct qnat_counter_val *per = calloc(ncpu > 0 ? ncpu : 1, sizeof(*per));

	memset(out, 0, sizeof(*out) * QNAT_C_MAX);
	for (uint32_t k = 0; per && k < QNAT_C_MAX; k++) {
		uint32_t key = dp->net * QNAT_STATS_SLOTS + k;

		if (bpf_map_lookup_elem(dp->stats_fd, &key, per))
			continue;
		for (int c = 0; c < ncpu; c++) {
			out[k].packets += per[c].packets;
			out[k].bytes += per[c].bytes;
		}
	}
	free(per);
}

/* Add to a per-CPU counter from userspace: on CPU 0's slot. */
void dp_count(struct dataplane *dp, uint32_t counter, uint64_t packets)
{
	int ncpu = libbpf_num_possible_cpus();
	struct qnat_counter_val *v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;
	uint32_t key = dp->net * QNAT_STATS_SLOTS + counter;

	if (v && !bpf_map_lookup_elem(dp->stats_fd, &key, v)) {
		v[0].packets += packets;
		bpf_map_update_elem(dp->stats_fd, &key, v, BPF_ANY);
	}
	free(v);
}
