// SPDX-License-Identifier: GPL-2.0
/*
 * attach and detach.  attach puts everything in place or, on any error,
 * takes back what it changed; detach takes back everything attach did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <netlink/socket.h>
#include <netinet/in.h>

#include "log.h"
#include "qnat.h"

/* Forwards and static hosts, idempotently: what is there already stays. */
int extras_apply(struct dataplane *dp, const struct settings *s, const struct extras *x)
{
	int err;

	for (int i = 0; i < x->nfwd; i++)
		if ((err = fwd_rule_add(dp, s, &x->fwd[i], false, true)))
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
		if (bridge_open(s->bridge, &cur, &o, &dp, false))
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

/* What this run changed, to be undone if a later step fails. */
struct undo {
	bool bridge, bridge_up, addr, fwd_bridge, fwd_uplink, uplink_progs, enslaved;
	int fwd_bridge_old, fwd_uplink_old;
};

static int fwd_path(const char *ifname, char *buf, size_t len)
{
	return snprintf(buf, len, "/proc/sys/net/ipv4/conf/%s/forwarding", ifname) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Turn forwarding on; returns the previous value, or negative errno. */
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

static void fwd_restore(const char *ifname, int old)
{
	char path[PATH_MAX];

	if (old >= 0 && old != 1 && !fwd_path(ifname, path, sizeof(path)))
		sysctl_write_int(path, old);
}

struct port_attach {
	struct dataplane *dp;
	struct nl_sock *sk;
	int uplink;
	int err;
	uint32_t mtu;
};

static void attach_port_cb(int ifindex, void *arg)
{
	struct port_attach *pa = arg;
	int err;

	if (ifindex == pa->uplink || pa->err)
		return;
	err = dp_attach_port(pa->dp, pa->sk, ifindex);
	if (!err && pa->mtu)
		err = nl_link_set_mtu(pa->sk, ifindex, pa->mtu);
	if (err) {
		char name[IFNAMSIZ] = "?";

		nl_ifname(pa->sk, ifindex, name);
		log_warnx("cannot attach to bridge port %s: %s", name, strerror(-err));
		pa->err = err;
	}
}

static void detach_port_cb(int ifindex, void *arg)
{
	dp_forget_port(arg, ifindex, true);
}

static void ports_detach_all(struct dataplane *dp, struct nl_sock *sk, int bridge_ifindex)
{
	uint32_t key, *prev = NULL;

	if (bridge_ifindex > 0)
		nl_bridge_ports(sk, bridge_ifindex, detach_port_cb, dp);
	/* Ports that left the bridge while nobody watched. */
	while (dp->ports_fd >= 0 && !bpf_map_get_next_key(dp->ports_fd, prev, &key)) {
		dp_forget_port(dp, key, true);
		prev = NULL; /* the entry is gone: start over */
	}
}

static void state_remove(const char *bridge)
{
	static const char *const files[] = { "state", "dnsmasq.conf", "dnsmasq.pid", "supervisor.pid",
					     "leases", "hostsfile", "addnhosts" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!state_path(bridge, files[i], path, sizeof(path)))
			unlink(path);
	if (!state_dir(bridge, path, sizeof(path))) {
		rmdir(path);
		*strrchr(path, '/') = '\0';
		rmdir(path); /* the namespace's directory, when it was the last bridge */
	}
}

static pid_t supervisor_pid(const char *bridge)
{
	char path[PATH_MAX];
	pid_t pid;

	if (state_path(bridge, "supervisor.pid", path, sizeof(path)))
		return 0;
	pid = pidfile_read(path);
	return pid_alive(pid, "qnat-bpf") ? pid : 0;
}

static void supervisor_stop(const char *bridge)
{
	pid_t pid = supervisor_pid(bridge);

	if (!pid)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100 && pid_alive(pid, "qnat-bpf"); i++)
		usleep(20000);
	if (pid_alive(pid, "qnat-bpf"))
		kill(pid, SIGKILL);
}

/* Start the supervisor in the background; returns once it is ready. */
static int supervisor_spawn(const struct settings *s, struct extras *x, struct dataplane *dp, int bridge_ifindex,
			    int uplink_ifindex, int verbose)
{
	int fds[2], null;
	char c;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		setsid();
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		log_init(1, verbose);
		_exit(supervise(s, x, dp, bridge_ifindex, uplink_ifindex, fds[1]) ? 1 : 0);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		waitpid(pid, NULL, 0);
		log_warnx("the supervisor failed to start (see syslog)");
		return -ECHILD;
	}
	close(fds[0]);
	return 0;
}

#define MOVED_MAX 8

/*
 * Bridged mode: put the uplink in the bridge and move its IPv4 addresses and
 * default route to the bridge (what the seeds do by hand with brctl and
 * nmcli), so the host keeps its connectivity.  Recorded in o for detach.
 */
static int uplink_enslave(struct nl_sock *sk, int bridge, int uplink, bool bridge_new, struct owned *o)
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
static void uplink_release(struct nl_sock *sk, int bridge, int uplink, const struct owned *o)
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

/* What an operator upgrading wants to see: from which build to which, and that flows stayed. */
static void upgrade_report(const struct settings *s, struct dataplane *dp, const char *old_build)
{
	printf("%s: upgraded from build %s to %s, %d flows kept\n", s->bridge, old_build, build_id(), ct_count(dp));
	fflush(stdout);
}

int cmd_attach(int argc, char **argv)
{
	struct settings s, old;
	static struct extras x;
	struct owned o = { .fwd_bridge_old = -1, .fwd_uplink_old = -1, .bridge_txcsum_old = -1 };
	struct undo u = { 0 };
	struct dataplane dp = { .skel = NULL };
	struct nl_sock *sk = NULL;
	bool foreground = false, recovering = false, upgraded;
	int verbose = 0, err, bridge_ifindex, uplink_ifindex, other;
	char old_build[sizeof(o.build)] = "";
	pid_t old_sup = 0;
	struct in_addr ext;
	uint8_t mac[6];
	char kind[32] = "";

	err = attach_args(argc, argv, &s, &x);
	if (err)
		return err > 0 ? 0 : 1;
	foreground = x.foreground;
	verbose = x.verbose;
	log_init(0, verbose);
	log_libbpf_setup();
	if (geteuid() != 0) {
		log_warnx("attach needs root (CAP_NET_ADMIN and CAP_BPF)");
		return 1;
	}
	if ((err = nl_open(&sk))) {
		log_warnx("cannot open a netlink socket: %s", strerror(-err));
		return 1;
	}

	/* The uplink: given, or the device of the default route. */
	if (s.uplink[0]) {
		uplink_ifindex = nl_ifindex(sk, s.uplink);
		if (uplink_ifindex < 0) {
			log_warnx("uplink %s does not exist", s.uplink);
			goto fail_early;
		}
	} else {
		uplink_ifindex = nl_default_route_dev(sk);
		if (uplink_ifindex < 0 || nl_ifname(sk, uplink_ifindex, s.uplink)) {
			log_warnx("no default route to find the uplink by: give it with --uplink IFNAME");
			goto fail_early;
		}
	}
	if (!strcmp(s.uplink, s.bridge)) {
		log_warnx("the uplink cannot be the bridge %s itself", s.bridge);
		goto fail_early;
	}
	ext.s_addr = 0;
	if (!s.bridged && nl_addr_first(sk, uplink_ifindex, &ext)) {
		log_warnx("uplink %s has no IPv4 address to masquerade behind", s.uplink);
		goto fail_early;
	}

	/*
	 * Attached already?  Same settings: fine, and repair (the supervisor
	 * died) or upgrade (another build attached it: its programs are
	 * replaced by ours on the same maps); other settings: refuse.
	 */
	err = state_load(s.bridge, &old, &o);
	if (err == -EPROTO) {
		log_warnx("%s was attached by a build with ABI version %d, this build has %d: detach it with that "
			  "build first", s.bridge, o.abi, QNAT_ABI_VERSION);
		goto fail_early;
	}
	if (!err) {
		char desc[1024];

		if (!settings_equal(&s, &old)) {
			settings_diff(&old, &s, desc, sizeof(desc));
			log_warnx("%s is already attached with other settings: %s; detach it first", s.bridge, desc);
			goto fail_early;
		}
		old_sup = supervisor_pid(s.bridge);
		snprintf(old_build, sizeof(old_build), "%s", o.build[0] ? o.build : "unknown");
		if (old_sup && !strcmp(o.build, build_id())) {
			nl_socket_free(sk);
			return attach_running_extras(&s, &x);
		}
		recovering = true;
	}

	bridge_ifindex = nl_ifindex(sk, s.bridge);
	if (bridge_ifindex > 0) {
		nl_link_kind(sk, bridge_ifindex, kind, sizeof(kind));
		if (strcmp(kind, "bridge")) {
			log_warnx("%s exists and is not a bridge (%s)", s.bridge, kind[0] ? kind : "no kind");
			goto fail_early;
		}
		if (!s.bridged && nl_link_master(sk, uplink_ifindex) == bridge_ifindex) {
			log_warnx("uplink %s is a port of %s: NAT mode needs a separate uplink", s.uplink, s.bridge);
			goto fail_early;
		}
	}
	if (!recovering) {
		struct dataplane running;

		if (!dp_open_existing(&running, uplink_ifindex)) {
			dp_close(&running);
			log_warnx("uplink %s is already used by another qnat-bpf attach", s.uplink);
			goto fail_early;
		}
		other = s.bridged ? 0 : nl_route_overlaps(sk, s.subnet, s.prefix, bridge_ifindex);
		if (other > 0) {
			char name[IFNAMSIZ] = "?";

			nl_ifname(sk, other, name);
			log_warnx("network %s/%u is already routed via %s", ip_str(s.subnet), s.prefix, name);
			goto fail_early;
		}
	}

	/* Before any change: a build whose maps differ is refused here. */
	if ((err = dp_load(&dp, &s, uplink_ifindex)))
		goto fail_early;
	if (recovering && !dp.reused)
		log_warnx("no running data plane found on %s: starting with an empty conntrack table", s.uplink);
	if (old_sup) /* another build's: ours takes over once our programs are in */
		supervisor_stop(s.bridge);

	/* From here on every change is recorded in u, and undone on failure. */
	if (bridge_ifindex == -ENODEV) {
		if ((err = nl_bridge_create(sk, s.bridge)) || (bridge_ifindex = nl_ifindex(sk, s.bridge)) < 0) {
			log_warnx("cannot create bridge %s: %s", s.bridge, strerror(-(err ? err : bridge_ifindex)));
			goto fail;
		}
		u.bridge = o.bridge_created = true;
	} else if (bridge_ifindex < 0) {
		log_warnx("cannot look up %s: %s", s.bridge, strerror(-bridge_ifindex));
		goto fail;
	}
	if ((err = nl_link_set_up(sk, bridge_ifindex, true)) < 0) {
		log_warnx("cannot bring %s up: %s", s.bridge, strerror(-err));
		goto fail;
	}
	u.bridge_up = err > 0;
	if (!recovering)
		o.bridge_upped = u.bridge_up;
	if (s.mtu && (err = nl_link_mtu(sk, bridge_ifindex)) != (int)s.mtu) {
		if (!recovering && !o.bridge_created)
			o.bridge_mtu_old = err;
		if ((err = nl_link_set_mtu(sk, bridge_ifindex, s.mtu))) {
			log_warnx("cannot set %s's MTU to %u: %s", s.bridge, s.mtu, strerror(-err));
			goto fail;
		}
	}
	/*
	 * Old DHCP clients drop replies whose UDP checksum the host left for
	 * the NIC to fill (libvirt's CHECKSUM --checksum-fill rule).  With the
	 * bridge's TX offload off, what the host sends guests leaves complete.
	 */
	if (s.csum_fill && s.dhcp) {
		err = link_tx_csum(s.bridge, 0);
		if (err < 0) {
			log_warnx("cannot turn off TX checksum offload on %s: %s", s.bridge, strerror(-err));
			goto fail;
		}
		if (!recovering && !o.bridge_created)
			o.bridge_txcsum_old = err;
	}
	if (s.bridged) {
		if (nl_link_master(sk, uplink_ifindex) != bridge_ifindex) {
			u.enslaved = true;
			if ((err = uplink_enslave(sk, bridge_ifindex, uplink_ifindex, o.bridge_created, &o))) {
				log_warnx("cannot move %s into %s: %s", s.uplink, s.bridge, strerror(-err));
				goto fail;
			}
		}
		goto bridged;
	}
	if (nl_addr_has(sk, bridge_ifindex, s.gateway, s.prefix) <= 0) {
		if ((err = nl_addr_add(sk, bridge_ifindex, s.gateway, s.prefix))) {
			log_warnx("cannot add %s/%u to %s: %s", ip_str(s.gateway), s.prefix, s.bridge, strerror(-err));
			goto fail;
		}
		u.addr = o.addr_added = true;
	}
	if ((err = fwd_enable(s.bridge)) < 0 || (u.fwd_bridge_old = err, u.fwd_bridge = true, false) ||
	    (err = fwd_enable(s.uplink)) < 0 || (u.fwd_uplink_old = err, u.fwd_uplink = true, false)) {
		log_warnx("cannot enable IPv4 forwarding: %s", strerror(-err));
		goto fail;
	}
	if (!recovering) {
		o.fwd_bridge_old = u.fwd_bridge_old;
		o.fwd_uplink_old = u.fwd_uplink_old;
	}
bridged:
	if (nl_link_mac(sk, bridge_ifindex, mac)) {
		log_warnx("%s has no MAC address", s.bridge);
		goto fail;
	}

	if ((err = dp_write_config(&dp, &s, uplink_ifindex, bridge_ifindex, ext, mac))) {
		log_warnx("cannot write the data plane's configuration: %s", strerror(-err));
		goto fail;
	}
	u.uplink_progs = !dp.reused;
	/* Bridged, the uplink's TC ingress is a port's: it gets only XDP here. */
	err = s.bridged ? dp_attach_uplink_xdp(&dp, sk, uplink_ifindex, s.xdp, &o)
			: dp_attach_uplink(&dp, sk, uplink_ifindex, s.xdp, &o);
	if (err)
		goto fail;
	{
		/* Bridged, the uplink is one more port (the LAN side). */
		struct port_attach pa = { &dp, sk, s.bridged ? -1 : uplink_ifindex, 0, s.mtu };

		nl_bridge_ports(sk, bridge_ifindex, attach_port_cb, &pa);
		if ((err = pa.err))
			goto fail;
		if (s.bridged)
			dp_mark_uplink_port(&dp, uplink_ifindex);
	}
	if (!s.bridged && (err = dp_attach_bridge(&dp, bridge_ifindex, &o))) {
		log_warnx("cannot attach the host policy to %s: %s", s.bridge, strerror(-err));
		goto fail;
	}
	if (!s.bridged) {
		if (o.sock_cfg_id && o.sock_cfg_id != dp_config_id(&dp)) /* a data plane's whose maps we did not adopt */
			dp_detach_cgroup_id(o.sock_cfg_id);
		err = dp_attach_cgroup(&dp);
		o.sock_hooks = !err;
		o.sock_cfg_id = err ? 0 : dp_config_id(&dp);
		if (err)
			log_warnx("forwards will not work from the host itself: cannot attach socket hooks: %s",
				  strerror(-err));
	}
	if (s.dhcp && (err = dnsmasq_write_config(&s))) {
		log_warnx("cannot write the dnsmasq configuration: %s", strerror(-err));
		goto fail;
	}
	if ((err = extras_apply(&dp, &s, &x)))
		goto fail;
	if ((err = state_save(&s, &o))) {
		log_warnx("cannot save state under %s: %s", QNAT_RUN_DIR, strerror(-err));
		goto fail;
	}
	nl_socket_free(sk);
	sk = NULL;
	upgraded = recovering && dp.reused && strcmp(old_build, build_id());

	if (foreground) {
		if (upgraded)
			upgrade_report(&s, &dp, old_build);
		err = supervise(&s, &x, &dp, bridge_ifindex, uplink_ifindex, -1);
		dp_close(&dp);
		return err ? 1 : 0;
	}
	if ((err = supervisor_spawn(&s, &x, &dp, bridge_ifindex, uplink_ifindex, verbose))) {
		if (nl_open(&sk))
			sk = NULL;
		goto fail;
	}
	if (upgraded)
		upgrade_report(&s, &dp, old_build);
	dp_close(&dp);
	return 0;

fail:
	/* Take back exactly what this run changed, newest first. */
	if (sk) {
		if (u.uplink_progs) {
			if (dp.skel)
				dp_detach_cgroup(&dp);
			ports_detach_all(&dp, sk, bridge_ifindex);
			if (s.bridged) {
				dp_detach_uplink_xdp(uplink_ifindex, &o);
			} else {
				dp_detach_bridge(bridge_ifindex, &o);
				dp_detach_uplink(uplink_ifindex, &o);
			}
		}
		if (u.enslaved)
			uplink_release(sk, bridge_ifindex, uplink_ifindex, &o);
		if (u.fwd_uplink)
			fwd_restore(s.uplink, u.fwd_uplink_old);
		if (u.fwd_bridge)
			fwd_restore(s.bridge, u.fwd_bridge_old);
		if (u.addr)
			nl_addr_del(sk, bridge_ifindex, s.gateway, s.prefix);
		if (u.bridge_up)
			nl_link_set_up(sk, bridge_ifindex, false);
		if (u.bridge)
			nl_link_delete(sk, bridge_ifindex);
	}
	if (!recovering)
		state_remove(s.bridge);
	dp_close(&dp);
fail_early:
	if (sk)
		nl_socket_free(sk);
	return 1;
}

int cmd_detach(int argc, char **argv)
{
	struct dataplane dp;
	struct settings s;
	struct owned o;
	struct nl_sock *sk;
	int bridge_ifindex, uplink_ifindex, err;

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
	uplink_ifindex = nl_ifindex(sk, s.uplink);
	if (uplink_ifindex > 0 && !dp_open_existing(&dp, uplink_ifindex)) {
		ports_detach_all(&dp, sk, bridge_ifindex);
		dp_detach_cgroup(&dp);
		dp_close(&dp);
	} else {
		/* The data plane went with its uplink; its socket hooks did not. */
		if (o.sock_cfg_id)
			dp_detach_cgroup_id(o.sock_cfg_id);
		dp.ports_fd = dp.devmap_fd = -1;
		if (bridge_ifindex > 0)
			nl_bridge_ports(sk, bridge_ifindex, detach_port_cb, &dp);
	}
	if (bridge_ifindex > 0 && !s.bridged)
		dp_detach_bridge(bridge_ifindex, &o);
	if (uplink_ifindex > 0 && s.bridged)
		dp_detach_uplink_xdp(uplink_ifindex, &o);
	if (uplink_ifindex > 0 && !s.bridged) {
		dp_detach_uplink(uplink_ifindex, &o);
		fwd_restore(s.uplink, o.fwd_uplink_old);
	}
	uplink_release(sk, bridge_ifindex, uplink_ifindex, &o);
	if (bridge_ifindex > 0) {
		if (o.addr_added)
			nl_addr_del(sk, bridge_ifindex, s.gateway, s.prefix);
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
