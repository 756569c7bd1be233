// SPDX-License-Identifier: GPL-2.0
/*
 * The supervisor: follows ports joining and leaving the bridge (netlink link
 * events), the uplink's address, expires conntrack entries and keeps dnsmasq
 * running.  Signal handlers only set flags; the poll() loop does the work.
 */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <linux/rtnetlink.h>
#include <netlink/msg.h>
#include <netlink/netlink.h>
#include <netlink/socket.h>

#include "log.h"
#include "options.h"

#define TICK_MS 1000
#define EXPIRY_EVERY_NS 2000000000ull  /* conntrack expiry pass */
#define RESYNC_EVERY_NS 10000000000ull /* re-read the bridge's ports, in case an event was lost */
#define DNSMASQ_BACKOFF_NS 1000000000ull

static volatile sig_atomic_t quit, child_exited, reload;

static void on_signal(int sig)
{
	if (sig == SIGCHLD)
		child_exited = 1;
	else if (sig == SIGHUP)
		reload = 1;
	else
		quit = 1;
}

struct sup {
	const struct settings *s;
	struct extras *x;
	struct dataplane *dp;
	struct nl_sock *sk; /* requests */
	int bridge_ifindex;
	int uplink_ifindex;
	pid_t dnsmasq;
	uint64_t dnsmasq_due; /* when to (re)start it; 0: not due */
	bool resync;
	bool expire_now; /* the uplink address changed: drop flows bound to the old one */
	int metrics_fd;
	struct expiry_result ct; /* flows, as the last expiry pass counted them */
	struct nl_sock *ev; /* link, address and route events */
	bool route_moved;   /* warned that the default route left the uplink */
	struct frag_out *fo;
};

/* A port of our bridge's, as the ports map has it (networks on one uplink share the map). */
static bool port_known(struct sup *p, int ifindex)
{
	struct qnat_port port;

	return dp_port_ours(p->dp, ifindex, &port);
}

static void port_join(struct sup *p, int ifindex)
{
	char name[IFNAMSIZ] = "?";
	int err;

	/* Bridged, the uplink is a port too (the LAN side). */
	if ((ifindex == p->uplink_ifindex && !p->s->bridged) || port_known(p, ifindex))
		return;
	nl_ifname(p->sk, ifindex, name);
	err = dp_attach_port(p->dp, p->sk, ifindex, p->s->port_xdp);
	if (!err && p->s->mtu)
		err = nl_link_set_mtu(p->sk, ifindex, p->s->mtu); /* QEMU's TAPs come at 1500 */
	if (!err && ifindex == p->uplink_ifindex)
		dp_mark_uplink_port(p->dp, ifindex);
	if (err)
		log_warnx("cannot attach to port %s: %s", name, strerror(-err));
	else
		log_info("attached to port %s", name);
}

static void port_leave(struct sup *p, int ifindex, bool gone)
{
	if (!port_known(p, ifindex))
		return;
	dp_forget_port(p->dp, ifindex, !gone);
	fdb_flush_port(p->dp, ifindex);
	port_bindings_release(p->dp, monotonic_ns());
	log_info("forgot port %d", ifindex);
}

static void join_cb(int ifindex, void *arg)
{
	port_join(arg, ifindex);
}

/* Make the ports map match the bridge's ports. */
static void ports_resync(struct sup *p)
{
	uint32_t key, next, *prev = NULL;

	nl_bridge_ports(p->sk, p->bridge_ifindex, join_cb, p);
	while (!bpf_map_get_next_key(p->dp->ports_fd, prev, &next)) {
		int master = nl_link_master(p->sk, next);

		key = next;
		prev = &key;
		if (master != p->bridge_ifindex)
			port_leave(p, next, master == -ENODEV);
	}
	p->resync = false;
}

/* Whether the uplink takes XDP frames now (a veth's peer may start or stop XDP), and a new next-hop generation. */
static void uplink_xmit_check(struct sup *p)
{
	if (!p->s->bridged && p->uplink_ifindex)
		dp_uplink_xmit(p->dp, p->sk, p->uplink_ifindex);
}

/* Conntrack and FDB expiry, early fragments' sweep, port bindings, the uplink's XDP. */
static void expiry_pass(struct sup *p, uint64_t now)
{
	struct expiry_result res;

	p->expire_now = false;
	if (ct_expire(p->dp, p->s, now, &res)) {
		log_warn("conntrack expiry pass failed");
	} else {
		p->ct = res;
		if (res.expired || res.evicted || res.orphans)
			log_debug("%u flows (%u IPv6): expired %u, evicted %u; %u orphaned reply tuples swept", res.live,
				  res.live6, res.expired, res.evicted, res.orphans);
	}
	fdb_expire(p->dp, p->s->fdb_ageing, now);
	frag_out_sweep(p->fo, now);
	uplink_xmit_check(p);
	if (p->s->port_security)
		port_bindings_sync(p->dp, p->s, now);
}

static void uplink_addr_refresh(struct sup *p)
{
	struct in_addr ext = { 0 };
	struct in6_addr ext6 = { 0 };
	bool masq6 = p->s->ip6 == IP6_MASQ;

	/* No address: ext 0 stops translation; the egress program then drops. */
	nl_addr_first(p->sk, p->uplink_ifindex, &ext);
	if (masq6)
		nl_addr6_find(p->sk, p->uplink_ifindex, NULL, &ext6);
	if (dp_set_ext_addr(p->dp, ext, &ext6)) {
		log_warn("cannot update the uplink address");
		return;
	}
	p->expire_now = true;
	log_info("uplink address is now %s%s%s", ext.s_addr ? ip_str(ext) : "(none)", masq6 ? ", IPv6 " : "",
		 !masq6 ? "" : IN6_IS_ADDR_UNSPECIFIED(&ext6) ? "(none)" : ip6_str(&ext6));
}

static int on_event(struct nl_msg *msg, void *arg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	struct sup *p = arg;

	switch (h->nlmsg_type) {
	case RTM_NEWLINK:
	case RTM_DELLINK: {
		struct ifinfomsg *ifi = nlmsg_data(h);
		struct nlattr *a = nlmsg_find_attr(h, sizeof(*ifi), IFLA_MASTER);
		int master = a ? (int)nla_get_u32(a) : 0;

		if (ifi->ifi_family != AF_UNSPEC) /* bridge port notifications repeat these */
			break;
		if (ifi->ifi_index == p->uplink_ifindex) /* its MAC or MTU may have changed */
			uplink_xmit_check(p);
		if (h->nlmsg_type == RTM_DELLINK)
			port_leave(p, ifi->ifi_index, true);
		else if (master == p->bridge_ifindex)
			port_join(p, ifi->ifi_index);
		else
			port_leave(p, ifi->ifi_index, false);
		break;
	}
	case RTM_NEWROUTE:
	case RTM_DELROUTE: {
		char msg[256];
		bool moved = default_route_moved(p->sk, p->s, p->uplink_ifindex, msg, sizeof(msg));

		if (moved && !p->route_moved)
			log_warnx("%s", msg);
		else if (!moved && p->route_moved)
			log_info("the default route leaves via the uplink %s again", p->s->uplink);
		p->route_moved = moved;
		uplink_xmit_check(p); /* flows' next hops may have changed */
		break;
	}
	case RTM_NEWNEIGH:
	case RTM_DELNEIGH: {
		struct ndmsg *nd = nlmsg_data(h);

		if (nd->ndm_ifindex == p->uplink_ifindex) /* a next hop's MAC, or its loss */
			uplink_xmit_check(p);
		break;
	}
	case RTM_NEWADDR:
	case RTM_DELADDR: {
		struct ifaddrmsg *ifa = nlmsg_data(h);

		if ((int)ifa->ifa_index == p->uplink_ifindex &&
		    (ifa->ifa_family == AF_INET || (ifa->ifa_family == AF_INET6 && p->s->ip6 == IP6_MASQ)))
			uplink_addr_refresh(p);
		break;
	}
	}
	return NL_OK;
}

static struct nl_sock *events_open(struct sup *p)
{
	struct nl_sock *ev = nl_socket_alloc();

	if (!ev)
		return NULL;
	nl_socket_disable_seq_check(ev);
	nl_socket_modify_cb(ev, NL_CB_VALID, NL_CB_CUSTOM, on_event, p);
	if (nl_connect(ev, NETLINK_ROUTE) || nl_socket_add_memberships(ev, RTNLGRP_LINK, RTNLGRP_IPV4_IFADDR, RTNLGRP_IPV4_ROUTE,
							     RTNLGRP_IPV6_IFADDR, RTNLGRP_IPV6_ROUTE, RTNLGRP_NEIGH, 0) ||
	    nl_socket_set_nonblocking(ev)) {
		nl_socket_free(ev);
		return NULL;
	}
	nl_socket_set_buffer_size(ev, 1 << 20, 0);
	return ev;
}

static void reap_children(struct sup *p)
{
	int status;
	pid_t pid;

	child_exited = 0;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pid != p->dnsmasq)
			continue;
		log_warnx("dnsmasq (pid %d) exited with status %d; restarting it", pid,
			  WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status));
		p->dnsmasq = 0;
		p->dnsmasq_due = monotonic_ns() + DNSMASQ_BACKOFF_NS;
	}
}

static void dnsmasq_run(struct sup *p)
{
	p->dnsmasq_due = 0;
	dnsmasq_stop(p->s->bridge); /* one left behind by a killed supervisor, pid file or not */
	p->dnsmasq = dnsmasq_start(p->s);
	if (p->dnsmasq < 0) {
		log_warnx("cannot start dnsmasq: %s", strerror(-p->dnsmasq));
		p->dnsmasq = 0;
		p->dnsmasq_due = monotonic_ns() + DNSMASQ_BACKOFF_NS;
	}
}

static int pidfile_write(const char *bridge)
{
	char path[PATH_MAX], buf[32];
	int err = state_path(bridge, "supervisor.pid", path, sizeof(path));

	if (err)
		return err;
	snprintf(buf, sizeof(buf), "%d\n", getpid());
	return write_file_atomic(path, buf, 0600);
}

static bool same_rule(const struct fwd_rule *a, const struct fwd_rule *b)
{
	return a->proto == b->proto && a->v6 == b->v6 && a->host_addr.s_addr == b->host_addr.s_addr &&
	       a->first == b->first && a->last == b->last && a->guest.s_addr == b->guest.s_addr &&
	       a->guest_first == b->guest_first && IN6_ARE_ADDR_EQUAL(&a->host6, &b->host6) &&
	       IN6_ARE_ADDR_EQUAL(&a->guest6, &b->guest6);
}

/*
 * SIGHUP: re-read the config file.  Forwards and static hosts are brought in
 * line at once (open flows are untouched); anything else needs a detach and
 * attach, and is only reported.
 */
/*
 * The outcome of a SIGHUP, logged and kept in the state directory's
 * "reload" (time, ok or error, what happened) for `status` to show.
 */
static void reload_record(const char *bridge, bool ok, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void reload_record(const char *bridge, bool ok, const char *fmt, ...)
{
	char msg[800], text[900], stamp[32], path[PATH_MAX];
	time_t now = time(NULL);
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (ok)
		log_info("SIGHUP: %s", msg);
	else
		log_warnx("SIGHUP: %s", msg);
	strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	snprintf(text, sizeof(text), "%s\n%s\n%s\n", stamp, ok ? "ok" : "error", msg);
	if (state_path(bridge, "reload", path, sizeof(path)) || write_file_atomic(path, text, 0600))
		log_warnx("cannot record the reload's result in %s", path);
}

static void config_reload(struct sup *p)
{
	static struct extras nx;
	struct settings ns;
	bool hosts_changed = false;
	char note[600] = "";

	reload = 0;
	if (!p->x->config[0]) {
		reload_record(p->s->bridge, true, "attached without --config, nothing to re-read");
		return;
	}
	if (config_load(p->s->bridge, p->x->config, &ns, &nx)) {
		snprintf(note, sizeof(note), "%s", log_last_warning());
		reload_record(p->s->bridge, false, "%s; not reloaded, the running configuration stays", note);
		return;
	}
	if (!ns.uplink[0])
		strcpy(ns.uplink, p->s->uplink);
	if (!settings_equal(&ns, p->s)) {
		char diff[1024], reloadable[128];

		settings_diff(p->s, &ns, diff, sizeof(diff));
		opts_list(OPT_RELOAD, "and", reloadable, sizeof(reloadable));
		log_warnx("%s: settings other than %s changed (%s); they take effect at the next detach and attach",
			  p->x->config, reloadable, diff);
		snprintf(note, sizeof(note), "; %s", log_last_warning());
	}
	for (int i = 0; i < p->x->nfwd; i++) {
		bool kept = false;

		for (int k = 0; k < nx.nfwd && !kept; k++)
			kept = same_rule(&p->x->fwd[i], &nx.fwd[k]);
		if (!kept)
			fwd_rule_del(p->dp, &p->x->fwd[i]);
	}
	for (int i = 0; i < p->x->nhost; i++) {
		bool kept = false;

		for (int k = 0; k < nx.nhost && !kept; k++)
			kept = !strcasecmp(p->x->host[i].mac, nx.host[k].mac);
		if (!kept && !dhcp_host_del(p->s, p->x->host[i].mac))
			hosts_changed = true;
	}
	if (extras_apply(p->dp, p->s, &nx)) {
		log_warnx("%s: some forwards or hosts could not be applied", p->x->config);
		snprintf(note, sizeof(note), "; %s", log_last_warning());
	}
	hosts_changed |= nx.nhost > 0;
	nx.foreground = p->x->foreground;
	nx.verbose = p->x->verbose;
	*p->x = nx;
	if (hosts_changed && p->dnsmasq > 0)
		kill(p->dnsmasq, SIGHUP);
	reload_record(p->s->bridge, true, "%s reloaded: %d forwards, %d static hosts%s", p->x->config, nx.nfwd,
		      nx.nhost, note);
}

/*
 * Everything the supervisor needs before it is ready: what can fail comes
 * before dnsmasq starts, and a failure takes back what it did (dnsmasq
 * included), so the attach can roll back.
 */
struct sup *supervisor_start(const struct settings *s, struct extras *x, struct dataplane *dp, int bridge_ifindex,
			     int uplink_ifindex, int *errp)
{
	static struct sup p;
	struct sigaction sa = { .sa_handler = on_signal };
	int err;

	p = (struct sup){ .s = s, .x = x, .dp = dp, .bridge_ifindex = bridge_ifindex, .uplink_ifindex = uplink_ifindex,
			  .metrics_fd = -1 };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGCHLD, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
	quit = 0;
	if ((err = nl_open(&p.sk)))
		goto fail;
	p.ev = events_open(&p); /* subscribe before the first resync: no join is missed */
	if (!p.ev) {
		log_warnx("cannot subscribe to netlink link events");
		err = -EIO;
		goto fail;
	}
	if (s->metrics[0]) {
		struct sockaddr_in sa;

		metrics_parse(s->metrics, &sa);
		p.metrics_fd = metrics_listen(&sa);
		if (p.metrics_fd < 0) {
			log_warnx("cannot listen for metrics on %s: %s", s->metrics, strerror(-p.metrics_fd));
			err = p.metrics_fd;
			goto fail;
		}
	}
	if ((err = pidfile_write(s->bridge))) {
		log_warnx("cannot write the supervisor pid file: %s", strerror(-err));
		goto fail;
	}
	ports_resync(&p);
	if (!s->bridged)
		p.fo = frag_out_open(dp, p.sk, bridge_ifindex); /* without it, only early fragments are lost */
	if (s->dhcp)
		dnsmasq_run(&p);
	log_info("supervising %s", s->bridge);
	return &p;
fail:
	supervisor_end(&p);
	*errp = err;
	return NULL;
}

/* The poll() loop, until SIGTERM or SIGINT. */
void supervisor_run(struct sup *p)
{
	const struct settings *s = p->s;
	uint64_t next_expiry = 0, next_resync = 0;
	int err;

	while (!quit) {
		struct pollfd pfd[3] = {
			{ .fd = nl_socket_get_fd(p->ev), .events = POLLIN },
			{ .fd = p->metrics_fd, .events = POLLIN }, /* poll skips a negative fd */
			{ .fd = frag_out_fd(p->fo), .events = POLLIN },
		};
		uint64_t now;

		if (poll(pfd, 3, TICK_MS) > 0) {
			if (pfd[0].revents & POLLIN) {
				err = nl_recvmsgs_default(p->ev);
				if (err < 0 && err != -NLE_AGAIN)
					p->resync = true; /* overrun (ENOBUFS): events were lost */
			}
			if (p->metrics_fd >= 0 && (pfd[1].revents & POLLIN))
				metrics_serve(p->metrics_fd, s, p->dp, &p->ct, p->dnsmasq > 0);
			if (pfd[2].revents & POLLIN)
				frag_out_events(p->fo);
		}
		if (child_exited)
			reap_children(p);
		if (reload)
			config_reload(p);
		now = monotonic_ns();
		if (p->dnsmasq_due && now >= p->dnsmasq_due)
			dnsmasq_run(p);
		if (p->resync || now >= next_resync) {
			ports_resync(p);
			next_resync = now + RESYNC_EVERY_NS;
		}
		if (p->expire_now || now >= next_expiry) {
			expiry_pass(p, now);
			next_expiry = now + EXPIRY_EVERY_NS;
		}
	}
	log_info("supervisor for %s stopping; the data plane stays in place", s->bridge);
}

/* What supervisor_start set up, taken down; the data plane stays. */
void supervisor_end(struct sup *p)
{
	char path[PATH_MAX];

	if (p->dnsmasq > 0)
		dnsmasq_stop_child(p->s->bridge, p->dnsmasq);
	p->dnsmasq = 0;
	if (!state_path(p->s->bridge, "supervisor.pid", path, sizeof(path)) && pidfile_read(path) == getpid())
		unlink(path);
	if (p->metrics_fd >= 0)
		close(p->metrics_fd);
	frag_out_close(p->fo);
	if (p->ev)
		nl_socket_free(p->ev);
	if (p->sk)
		nl_socket_free(p->sk);
	p->fo = NULL;
	p->ev = p->sk = NULL;
	p->metrics_fd = -1;
}

/* The daemonised supervisor: ready_fd hears one byte once it is ready. */
int supervise(const struct settings *s, struct extras *x, struct dataplane *dp, int bridge_ifindex,
	      int uplink_ifindex, int ready_fd)
{
	int err = 0;
	struct sup *p = supervisor_start(s, x, dp, bridge_ifindex, uplink_ifindex, &err);

	if (!p)
		return err;
	if (write(ready_fd, "1", 1) != 1)
		log_warn("cannot tell the parent we are ready");
	close(ready_fd);
	supervisor_run(p);
	supervisor_end(p);
	return 0;
}
