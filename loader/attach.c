// SPDX-License-Identifier: GPL-2.0
/*
 * attach: a list of steps, each recording what it changed so that a failure
 * at any step, daemonised or in the foreground, takes back every earlier one
 * (newest first): resolve (nothing changes), load (the BPF object; another
 * build's supervisor stops here), host setup, data plane, dnsmasq, state,
 * supervisor.
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <netlink/socket.h>

#include "attach.h"
#include "log.h"

#define ATTACH_DONE 1 /* a step's "nothing more to do" */

/* Forwards and static hosts, idempotently: what is there already stays. */
int extras_apply(struct dataplane *dp, const struct settings *s, const struct extras *x)
{
	int err;

	for (int i = 0; i < x->nfwd; i++)
		if ((err = fwd_rule_add(dp, s, &x->fwd[i], false, true)) < 0)
			return err;
	for (int i = 0; i < x->nhost; i++)
		if ((err = dhcp_host_set(s, &x->host[i])))
			return err;
	return 0;
}

/*
 * The same attach again while it runs: its --forward and --host are put in
 * place as on a restart (what is there stays; a conflict is an error), so
 * the command line never claims a forward that does not exist.
 */
static int attach_running_extras(const struct settings *s, const struct extras *x)
{
	struct settings cur;
	struct dataplane dp;
	struct owned o;
	int err;

	if (x->nfwd || x->nhost) {
		if (bridge_open(s->bridge, &cur, &o, &dp, NULL))
			return 1;
		err = extras_apply(&dp, &cur, x);
		dp_close(&dp);
		if (err)
			return 1;
		if (x->nhost && (err = dnsmasq_reload(s->bridge)) && s->dhcp)
			log_warnx("hosts file updated, but dnsmasq could not be told (%s)", strerror(-err));
	}
	printf("%s is already attached\n", s->bridge);
	return 0;
}

/* The uplink (given, or the device of the default route) and its address. */
static int resolve_uplink(struct attach *a)
{
	struct settings *s = &a->s;

	a->ext.s_addr = 0;
	if (s->mode == MODE_ISOLATED) /* nothing leaves: no uplink, no default route needed */
		return 0;
	if (s->uplink[0]) {
		a->uplink = nl_ifindex(a->sk, s->uplink);
		if (a->uplink < 0) {
			log_warnx("uplink %s does not exist", s->uplink);
			return -ENODEV;
		}
	} else {
		a->uplink = nl_default_route_dev(a->sk);
		if (a->uplink < 0 || nl_ifname(a->sk, a->uplink, s->uplink)) {
			log_warnx("no default route to find the uplink by: give it with --uplink IFNAME");
			return -ENODEV;
		}
	}
	if (!strcmp(s->uplink, s->bridge)) {
		log_warnx("the uplink cannot be the bridge %s itself", s->bridge);
		return -EINVAL;
	}
	if (!s->bridged && nl_addr_first(a->sk, a->uplink, &a->ext)) {
		log_warnx("uplink %s has no IPv4 address to masquerade behind", s->uplink);
		return -EADDRNOTAVAIL;
	}
	if (s->ip6 == IP6_MASQ && nl_addr6_find(a->sk, a->uplink, NULL, &a->ext6) <= 0) {
		log_warnx("uplink %s has no global IPv6 address to masquerade --masq6 behind", s->uplink);
		return -EADDRNOTAVAIL;
	}
	return 0;
}

/*
 * Attached already?  Same settings: fine, and repair (the supervisor died)
 * or upgrade (another build attached it: its programs are replaced by ours
 * on the same maps); other settings: refuse.
 */
static int resolve_state(struct attach *a)
{
	struct settings old;
	char desc[1024];
	int err = state_load(a->s.bridge, &old, &a->o);

	if (err == -EPROTO) {
		log_warnx("%s was attached by a build with ABI version %d, this build has %d: detach it with that "
			  "build first", a->s.bridge, a->o.abi, QNAT_ABI_VERSION);
		return err;
	}
	if (err) {
		memset(&a->o, 0, sizeof(a->o));
		a->o.fwd_bridge_old = a->o.fwd_uplink_old = a->o.bridge_txcsum_old = a->o.fwd6_old = -1;
		return 0;
	}
	if (!settings_equal(&a->s, &old)) {
		settings_diff(&old, &a->s, desc, sizeof(desc));
		log_warnx("%s is already attached with other settings: %s; detach it first", a->s.bridge, desc);
		return -EEXIST;
	}
	a->old_sup = supervisor_pid(a->s.bridge);
	snprintf(a->old_build, sizeof(a->old_build), "%s", a->o.build[0] ? a->o.build : "unknown");
	if (a->old_sup && !strcmp(a->o.build, build_id()))
		return attach_running_extras(&a->s, a->x) ? -EINVAL : ATTACH_DONE;
	a->recovering = true;
	return 0;
}

/*
 * An address of another subnet on the bridge: a second subnet would make
 * it route (and dnsmasq serve) two networks, one of them not masqueraded.
 * Refused rather than added to, before anything changes.
 */
static bool bridge_other_subnet(struct attach *a)
{
	struct in_addr have[16];
	unsigned int plen[16];
	int n = nl_addrs(a->sk, a->bridge, have, plen, 16);

	for (int i = 0; i < n; i++) {
		if (plen[i] == a->s.prefix && (have[i].s_addr & prefix_mask(plen[i])) == a->s.subnet.s_addr)
			continue;
		log_warnx("%s already has %s/%u, outside --masq %s/%u: remove it (ip addr del %s/%u dev %s) or attach "
			  "with its subnet", a->s.bridge, ip_str(have[i]), plen[i], ip_str(a->s.subnet), a->s.prefix,
			  ip_str(have[i]), plen[i], a->s.bridge);
		return true;
	}
	return false;
}

/* Where the data plane's programs are found: the uplink, or an isolated network's bridge. */
static int home_ifindex(const struct attach *a)
{
	return a->s.mode == MODE_ISOLATED ? nl_ifindex(a->sk, a->s.bridge) : a->uplink;
}

/* The bridge, if it exists, is a bridge; a new attach takes no uplink or network in use. */
static int resolve_bridge(struct attach *a)
{
	struct dataplane running;
	char kind[32] = "", name[IFNAMSIZ] = "?";
	int other;

	a->bridge = nl_ifindex(a->sk, a->s.bridge);
	if (a->bridge > 0) {
		nl_link_kind(a->sk, a->bridge, kind, sizeof(kind));
		if (strcmp(kind, "bridge")) {
			log_warnx("%s exists and is not a bridge (%s)", a->s.bridge, kind[0] ? kind : "no kind");
			return -EINVAL;
		}
		if (!a->s.bridged && a->uplink > 0 && nl_link_master(a->sk, a->uplink) == a->bridge) {
			log_warnx("uplink %s is a port of %s: NAT mode needs a separate uplink", a->s.uplink, a->s.bridge);
			return -EINVAL;
		}
		if (!a->s.bridged && bridge_other_subnet(a))
			return -EEXIST;
	}
	if (a->recovering)
		return 0;
	/* Networks masquerading or routed out of one uplink share its data plane;
	 * a bridged or isolated one has its home device to itself. */
	if (home_ifindex(a) > 0 && !dp_open_home(&running, home_ifindex(a), 0, 0)) {
		running.net = -1;
		dp_other_nets(&running, a->sharing, sizeof(a->sharing));
		other = a->s.bridged || a->s.mode == MODE_ISOLATED || !dp_shareable(&running);
		dp_close(&running);
		if (other) {
			log_warnx("%s %s is already used by another qnat-bpf attach (%s)", a->uplink ? "uplink" : "bridge",
				  dp_home(&a->s), a->sharing[0] ? a->sharing : "its bridge is gone");
			return -EBUSY;
		}
	}
	other = a->s.bridged ? 0 : nl_route_overlaps(a->sk, a->s.subnet, a->s.prefix, a->bridge);
	if (other > 0) {
		nl_ifname(a->sk, other, name);
		log_warnx("network %s/%u is already routed via %s", ip_str(a->s.subnet), a->s.prefix, name);
		return -EEXIST;
	}
	return 0;
}

static int resolve(struct attach *a)
{
	int err;

	if ((err = resolve_uplink(a)) || (err = resolve_state(a)))
		return err;
	return resolve_bridge(a);
}

/* The BPF object, before any change: a build whose maps differ is refused here. */
static int load(struct attach *a)
{
	int err = dp_load(&a->dp, &a->s, home_ifindex(a), a->bridge);

	if (err)
		return err;
	if (a->recovering && !a->dp.reused)
		log_warnx("no running data plane found on %s: starting with an empty conntrack table", dp_home(&a->s));
	if (a->old_sup) { /* another build's: ours takes over once our programs are in */
		supervisor_note(a);
		supervisor_stop(a->s.bridge);
		a->u.old_sup_stopped = true;
	}
	return 0;
}

/* Last of all: a new attach leaves no state behind; an upgrade, never no supervisor. */
static void unload(struct attach *a)
{
	if (!a->recovering)
		state_remove(a->s.bridge);
	if (a->u.old_sup_stopped)
		supervisor_revive(a);
}

struct port_attach {
	struct attach *a;
	int uplink;
	int err;
};

/* A port gets its program and --mtu; the MTU it had is kept for a rollback. */
static void attach_port_cb(int ifindex, void *arg)
{
	struct port_attach *pa = arg;
	struct attach *a = pa->a;
	int err, mtu;

	if (ifindex == pa->uplink || pa->err)
		return;
	err = dp_attach_port(&a->dp, a->sk, ifindex, a->s.port_xdp);
	if (!err && a->s.mtu && (mtu = nl_link_mtu(a->sk, ifindex)) != (int)a->s.mtu) {
		err = nl_link_set_mtu(a->sk, ifindex, a->s.mtu);
		if (!err && mtu > 0 && a->u.nport_mtus < ATTACH_PORTS_MAX)
			a->u.port_mtu[a->u.nport_mtus++] = (struct port_mtu){ ifindex, mtu };
	}
	if (err) {
		char name[IFNAMSIZ] = "?";

		nl_ifname(a->sk, ifindex, name);
		log_warnx("cannot attach to bridge port %s: %s", name, strerror(-err));
		pa->err = err;
	}
}

/*
 * A network joining an uplink that serves others: their uplink programs,
 * socket hooks and forwarding serve it too, and whichever network leaves
 * last takes them back as the first found them, so it inherits that record.
 */
static void join_inherit(struct attach *a)
{
	char first[IFNAMSIZ];
	struct settings os;
	struct owned oo;

	dp_other_nets(&a->dp, a->sharing, sizeof(a->sharing));
	split_at(a->sharing, ",", first, sizeof(first));
	if (state_load(first, &os, &oo))
		return;
	a->o.uplink_clsact_created = oo.uplink_clsact_created;
	a->o.xdp_attached = oo.xdp_attached;
	a->o.sock_hooks = oo.sock_hooks;
	a->o.sock_cfg_id = oo.sock_cfg_id;
	a->o.fwd_uplink_old = oo.fwd_uplink_old;
	if (oo.fwd6_old >= 0)
		a->o.fwd6_old = oo.fwd6_old;
}

/* The uplink's programs: ours (a new uplink, or the only network on it); or the running ones. */
static int uplink_attach(struct attach *a)
{
	if (!a->uplink) /* isolated */
		return 0;
	if (a->s.bridged) /* the uplink's TC ingress is a port's: it gets only XDP here */
		return dp_attach_uplink_xdp(&a->dp, a->sk, a->uplink, a->s.xdp, &a->o);
	if (a->dp.joined) {
		join_inherit(a);
		return 0;
	}
	/* A restart among other networks: ours replace the running ones, in the mode they run in. */
	if (a->dp.reused && dp_other_nets(&a->dp, a->sharing, sizeof(a->sharing)))
		return dp_attach_uplink(&a->dp, a->sk, a->uplink, dp_uplink_xdp_now(a->uplink, &a->o), &a->o);
	return dp_attach_uplink(&a->dp, a->sk, a->uplink, a->s.xdp, &a->o);
}

/* The programs on the uplink, the ports and the bridge; the socket hooks. */
static int dataplane_attach(struct attach *a)
{
	/* Bridged, the uplink is one more port (the LAN side). */
	struct port_attach pa = { a, a->s.bridged ? -1 : a->uplink, 0 };
	uint8_t mac[6];
	int err;

	if (nl_link_mac(a->sk, a->bridge, mac)) {
		log_warnx("%s has no MAC address", a->s.bridge);
		return -EADDRNOTAVAIL;
	}
	if ((err = dp_write_config(&a->dp, &a->s, a->uplink, a->bridge, a->ext, &a->ext6, mac))) {
		log_warnx("cannot write the data plane's configuration: %s", strerror(-err));
		return err;
	}
	a->u.uplink_progs = !a->dp.reused;
	a->u.net_progs = !a->dp.reused || a->dp.joined;
	if ((err = uplink_attach(a)))
		return err;
	if (!a->s.bridged && a->uplink)
		dp_uplink_xmit(&a->dp, a->sk, a->uplink);
	nl_bridge_ports(a->sk, a->bridge, attach_port_cb, &pa);
	if (pa.err)
		return pa.err;
	if (a->s.bridged) {
		dp_mark_uplink_port(&a->dp, a->uplink);
		return 0;
	}
	if ((err = dp_attach_bridge(&a->dp, a->bridge, &a->o))) {
		log_warnx("cannot attach the host policy to %s: %s", a->s.bridge, strerror(-err));
		return err;
	}
	if (a->dp.joined)
		return 0;
	if (a->o.sock_cfg_id && a->o.sock_cfg_id != dp_config_id(&a->dp)) /* a data plane's whose maps we did not adopt */
		dp_detach_cgroup_id(a->o.sock_cfg_id);
	err = dp_attach_cgroup(&a->dp);
	a->o.sock_hooks = !err;
	a->o.sock_cfg_id = err ? 0 : dp_config_id(&a->dp);
	if (err)
		log_warnx("forwards will not work from the host itself: cannot attach socket hooks: %s", strerror(-err));
	return 0;
}

static void dataplane_detach(struct attach *a)
{
	for (int i = 0; i < a->u.nport_mtus; i++)
		nl_link_set_mtu(a->sk, a->u.port_mtu[i].ifindex, a->u.port_mtu[i].mtu);
	if (!a->u.net_progs) /* a running data plane's: it stays as it was */
		return;
	if (a->u.uplink_progs)
		dp_detach_cgroup(&a->dp);
	ports_detach_all(&a->dp, a->sk, a->bridge);
	if (a->s.bridged) {
		dp_detach_uplink_xdp(a->uplink, &a->o);
	} else {
		dp_detach_bridge(a->bridge, &a->o);
		if (a->uplink && a->u.uplink_progs)
			dp_detach_uplink(a->uplink, &a->o);
	}
	if (!a->u.uplink_progs) /* joined: the others' uplink stays, without us */
		dp_clear_net(&a->dp);
}

/* dnsmasq's files; one this bridge's earlier run left without a pid file is replaced. */
static int dnsmasq_setup(struct attach *a)
{
	int err;

	if (!a->s.dhcp)
		return 0;
	a->u.dnsmasq = true;
	dnsmasq_stop(a->s.bridge);
	if ((err = dnsmasq_write_config(&a->s)))
		log_warnx("cannot write the dnsmasq configuration: %s", strerror(-err));
	return err;
}

/* Whatever dnsmasq serves the bridge now: the supervisor's child, or one it left. */
static void dnsmasq_undo(struct attach *a)
{
	if (a->u.dnsmasq)
		dnsmasq_stop(a->s.bridge);
}

static int state_setup(struct attach *a)
{
	int err;

	if ((err = extras_apply(&a->dp, &a->s, a->x)))
		return err;
	if ((err = state_save(&a->s, &a->o)))
		log_warnx("cannot save state under %s: %s", QNAT_RUN_DIR, strerror(-err));
	return err;
}

/* Daemonised, it returns once the supervisor is ready; in the foreground, once it is set up. */
static int supervisor_setup(struct attach *a)
{
	int err = 0;

#ifdef QNAT_FAULT_SUPERVISOR /* a test build (test_upgrade.sh): a late failure, after the old supervisor stopped */
	log_warnx("the supervisor failed to start: QNAT_FAULT_SUPERVISOR");
	return -ECHILD;
#endif
	if (!a->x->foreground)
		return supervisor_spawn(a, a->x->verbose);
	a->sup = supervisor_start(&a->s, a->x, &a->dp, a->bridge, a->uplink, &err);
	return err;
}

/* What an operator upgrading wants to see: from which build to which, and that flows stayed. */
static void upgrade_report(const struct settings *s, struct dataplane *dp, const char *old_build)
{
	printf("%s: upgraded from build %s to %s, %d flows kept\n", s->bridge, old_build, build_id(), ct_count(dp, NULL));
	fflush(stdout);
}

/* One line on success: what was attached, and how. */
static void attach_summary(const struct attach *a)
{
	const struct settings *s = &a->s;
	int x = a->o.xdp_attached;

	if (s->bridged)
		printf("%s attached: bridged, ", s->bridge);
	else
		printf("%s attached: %s/%u, gateway %s, mode %s, ", s->bridge, ip_str(s->subnet), s->prefix,
		       ip_str(s->gateway), net_mode_name(s->mode));
	if (s->ip6)
		printf("IPv6 %s/64 %s%s, gateway %s, ", ip6_str(&s->prefix6), s->ip6 == IP6_MASQ ? "masqueraded to " : "routed",
		       s->ip6 == IP6_MASQ ? ip6_str(&a->ext6) : "", ip6_str(&s->gateway6));
	if (s->mode == MODE_ISOLATED && !s->bridged)
		puts("no uplink");
	else
		printf("uplink %s (%s%s%s)\n", s->uplink,
		       x == XDP_FLAGS_SKB_MODE ? "XDP generic" : x ? "XDP native" : "TC, XDP off",
		       a->sharing[0] ? ", shared with " : "", a->sharing);
	fflush(stdout);
}

static const struct step {
	int (*run)(struct attach *a);
	void (*undo)(struct attach *a);
} steps[] = {
	{ resolve, NULL },
	{ load, unload },
	{ host_setup, host_undo },
	{ dataplane_attach, dataplane_detach },
	{ dnsmasq_setup, dnsmasq_undo },
	{ state_setup, NULL },
	{ supervisor_setup, NULL }, /* a supervisor that fails to start takes itself down */
};

/* Steps 0..last, newest first: last failed, perhaps half-way. */
static void attach_rollback(struct attach *a, int last)
{
	for (int i = last; i >= 0; i--)
		if (steps[i].undo)
			steps[i].undo(a);
}

static int attach_run(struct attach *a)
{
	bool upgraded;
	int i, err = 0;

	for (i = 0; i < (int)(sizeof(steps) / sizeof(steps[0])) && !err; i++)
		err = steps[i].run(a);
	if (err == ATTACH_DONE)
		return 0;
	if (err) {
		attach_rollback(a, i - 1);
		return 1;
	}
	upgraded = a->recovering && a->dp.reused && strcmp(a->old_build, build_id());
	if (upgraded)
		upgrade_report(&a->s, &a->dp, a->old_build);
	else
		attach_summary(a);
	if (a->sup) {
		nl_socket_free(a->sk);
		a->sk = NULL;
		supervisor_run(a->sup);
		supervisor_end(a->sup);
	}
	return 0;
}

/*
 * --dry-run: the settings as resolved (a config file for them), then the
 * dnsmasq files as dnsmasq_write_config and extras_apply would write them.
 */
static int dry_run(struct attach *a)
{
	static char buf[16384];
	char dir[PATH_MAX];
	int err;

	if ((err = resolve_uplink(a)))
		return err;
	settings_write(&a->s, buf, sizeof(buf));
	printf("# qnat-bpf attach %s, resolved (a --config file for it)\n%s", a->s.bridge, buf);
	for (int i = 0; i < a->x->nfwd; i++)
		printf("# and a forward to %s\n", a->x->fwd[i].v6 ? ip6_str(&a->x->fwd[i].guest6) : ip_str(a->x->fwd[i].guest));
	puts("# dnsmasq configuration");
	if (a->s.dhcp) {
		if ((err = state_dir(a->s.bridge, dir, sizeof(dir))) || (err = dnsmasq_conf_text(&a->s, dir, buf, sizeof(buf))))
			return err;
		fputs(buf, stdout);
	}
	puts("# dnsmasq hosts file");
	for (int i = 0; a->s.dhcp && i < a->x->nhost; i++) {
		dhcp_host_line(&a->x->host[i], buf, sizeof(buf));
		fputs(buf, stdout);
	}
	return fflush(stdout) ? -EIO : 0;
}

int cmd_attach(int argc, char **argv)
{
	static struct extras x;
	static struct attach a;
	int err;

	err = attach_args(argc, argv, &a.s, &x);
	if (err)
		return err > 0 ? 0 : 1;
	a.x = &x;
	log_init(0, x.verbose);
	log_libbpf_setup();
	if (x.dry_run) {
		if ((err = nl_open(&a.sk))) {
			log_warnx("cannot open a netlink socket: %s", strerror(-err));
			return 1;
		}
		err = dry_run(&a);
		nl_socket_free(a.sk);
		return err ? 1 : 0;
	}
	if (geteuid() != 0) {
		log_warnx("attach needs root (CAP_NET_ADMIN and CAP_BPF)");
		return 1;
	}
	if ((err = nl_open(&a.sk))) {
		log_warnx("cannot open a netlink socket: %s", strerror(-err));
		return 1;
	}
	err = attach_run(&a);
	dp_close(&a.dp);
	if (a.sk)
		nl_socket_free(a.sk);
	return err;
}
