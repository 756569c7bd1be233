// SPDX-License-Identifier: GPL-2.0
/*
 * `qnat-bpf doctor BRIDGE`: what breaks guest networking in practice,
 * checked, each with what to do about it.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <linux/if_link.h>
#include <sys/socket.h>
#include <netlink/socket.h>

#include "json.h"
#include "log.h"
#include "qnat.h"

enum verdict { OK, WARN, FAIL };

struct report {
	struct json *j;
	int worst;
};

static void say(struct report *r, enum verdict v, const char *check, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void say(struct report *r, enum verdict v, const char *check, const char *fmt, ...)
{
	static const char *const names[] = { "ok", "warn", "FAIL" };
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_obj_open(r->j, NULL);
	json_str(r->j, "result", "%-5s", v == FAIL ? "fail" : names[v]);
	json_str(r->j, "check", "%-16s", check);
	json_str(r->j, "message", "%s\n", msg);
	json_obj_close(r->j);
	if ((int)v > r->worst)
		r->worst = v;
}

/* One firewall check: what it is about, and the chains that drop which of its two packets. */
struct fw_report {
	struct report *r;
	const struct settings *s;
	const char *check, *what[4]; /* what[mask]: (none), the first packet, the second, both */
	bool forward;
	int bit; /* the packet being checked: 1 or 2 */
	int n;
	struct fw_hit {
		char family[8], table[64], chain[64], why[400];
		int mask;
	} hit[16];
};

/* A chain that drops the packet being checked: noted, reported by fw_hook. */
static void fw_drop(const char *family, const char *table, const char *chain, const char *why, void *arg)
{
	struct fw_report *f = arg;
	struct fw_hit *h = NULL;

	for (int i = 0; i < f->n && !h; i++)
		if (!strcmp(f->hit[i].family, family) && !strcmp(f->hit[i].table, table) && !strcmp(f->hit[i].chain, chain))
			h = &f->hit[i];
	if (!h && f->n < (int)(sizeof(f->hit) / sizeof(f->hit[0]))) {
		h = &f->hit[f->n++];
		snprintf(h->family, sizeof(h->family), "%s", family);
		snprintf(h->table, sizeof(h->table), "%s", table);
		snprintf(h->chain, sizeof(h->chain), "%s", chain);
		snprintf(h->why, sizeof(h->why), "%s", why);
	}
	if (h)
		h->mask |= f->bit;
}

/* A chain that drops: FAIL, naming what it drops, with a fix that works in that same chain. */
static void fw_say(struct fw_report *f, const struct fw_hit *h)
{
	const char *br = f->s->bridge;
	char fix[400], where[200];

	/* iptables' own chains (iptables-nft's, or iptables-legacy's, which nft does not show) */
	if (!strcmp(h->family, "legacy") ||
	    (!strcmp(h->family, "ip") && !strcmp(h->table, "filter") && (!strcmp(h->chain, "INPUT") || !strcmp(h->chain, "FORWARD")))) {
		const char *ipt = !strcmp(h->family, "legacy") ? "iptables-legacy" : "iptables";

		snprintf(fix, sizeof(fix), f->forward ? "%s -I %s -i %s -j ACCEPT; %s -I %s -o %s -j ACCEPT"
			 : "%s -I %s -i %s -j ACCEPT", ipt, h->chain, br, ipt, h->chain, br);
	} else if (f->forward) {
		snprintf(fix, sizeof(fix), "nft insert rule %s %s %s iifname %s accept; nft insert rule %s %s %s oifname %s accept",
			 h->family, h->table, h->chain, br, h->family, h->table, h->chain, br);
	} else {
		snprintf(fix, sizeof(fix), "nft insert rule %s %s %s iifname %s accept", h->family, h->table, h->chain, br);
	}
	if (!strcmp(h->family, "legacy"))
		snprintf(where, sizeof(where), "iptables-legacy table %s chain %s", h->table, h->chain);
	else
		snprintf(where, sizeof(where), "table %s %s chain %s", h->family, h->table, h->chain);
	say(f->r, FAIL, f->check, "%s drops %s (%s): allow %s in that chain: %s", where, f->what[h->mask], h->why, br, fix);
}

/* Two packets through a hook's chains: what a drop of either says, or ok. */
static void fw_hook(struct fw_report *f, struct fw *fw, const char *hook, const struct fw_packet *a,
		    const struct fw_packet *b, const char *ok)
{
	if (!fw) {
		say(f->r, WARN, f->check, "cannot read the firewall (nft list ruleset): not checked");
		return;
	}
	f->bit = 1;
	fw_judge(fw, hook, a, fw_drop, f);
	f->bit = 2;
	fw_judge(fw, hook, b, fw_drop, f);
	if (!f->n)
		say(f->r, OK, f->check, "%s", ok);
	for (int i = 0; i < f->n; i++)
		fw_say(f, &f->hit[i]);
}

/*
 * Every base chain on the input hook must let DHCP and DNS from guests
 * through, and on the forward hook what qnat-bpf hands to the kernel (TTL
 * expiry, fragments, other protocols): a drop in any one table wins.
 */
static void check_firewall(struct report *r, const struct settings *s)
{
	struct fw_report in = { .r = r, .s = s, .check = "input-policy", .what = { "", "DHCP from guests (udp 67)",
				"DNS from guests (udp 53)", "DHCP and DNS from guests" } };
	struct fw_report fwd = { .r = r, .s = s, .check = "forward-policy", .forward = true, .what = { "",
				 "forwarded guest traffic (out of the bridge)", "forwarded traffic back to guests",
				 "forwarded guest traffic" } };
	const struct fw_packet dhcp = { s->bridge, "", "udp", "67" }, dns = { s->bridge, "", "udp", "53" };
	const struct fw_packet out = { s->bridge, s->uplink, "", "" }, back = { s->uplink, s->bridge, "", "" };

	struct fw *fw = s->dhcp || !s->bridged ? fw_load() : NULL;

	if (s->dhcp)
		fw_hook(&in, fw, "input", &dhcp, &dns, "the firewall lets DHCP and DNS from guests in");
	if (!s->bridged)
		fw_hook(&fwd, fw, "forward", &out, &back, "no FORWARD drop in the way of the bridge");
	fw_release(fw);
}

struct mtu_walk {
	struct nl_sock *sk;
	int target; /* --mtu, else the largest port's */
	bool list;  /* second pass: list the ports that differ */
	char bad[256];
};

static void port_mtu(int ifindex, void *arg)
{
	struct mtu_walk *w = arg;
	char name[IFNAMSIZ] = "?";
	int mtu = nl_link_mtu(w->sk, ifindex);
	size_t n = strlen(w->bad);

	if (!w->list) {
		if (mtu > w->target)
			w->target = mtu;
	} else if (mtu > 0 && mtu != w->target && n < sizeof(w->bad) - 32) {
		nl_ifname(w->sk, ifindex, name);
		snprintf(w->bad + n, sizeof(w->bad) - n, "%s%s %d", n ? ", " : "", name, mtu);
	}
}

/*
 * The bridge takes its smallest port's MTU, so the port to blame is the
 * one below the others (or below --mtu), not the ones the bridge left
 * above it.
 */
static void check_mtu(struct report *r, struct nl_sock *sk, const struct settings *s, int br, int up)
{
	struct mtu_walk w = { .sk = sk, .target = (int)s->mtu };
	int br_mtu = nl_link_mtu(sk, br), up_mtu = nl_link_mtu(sk, up);

	if (!w.target)
		nl_bridge_ports(sk, br, port_mtu, &w);
	if (w.target <= 0)
		w.target = br_mtu;
	w.list = true;
	nl_bridge_ports(sk, br, port_mtu, &w);
	if (w.bad[0])
		say(r, FAIL, "mtu", "ports whose MTU differs from the others' %d: %s; frames above the smaller one are "
		    "dropped: set them equal (ip link set DEV mtu %d)", w.target, w.bad, w.target);
	else if (br_mtu != w.target)
		say(r, FAIL, "mtu", "%s has MTU %d, its ports %d: frames above the smaller one are dropped: "
		    "ip link set %s mtu %d", s->bridge, br_mtu, w.target, s->bridge, w.target);
	else if (up_mtu > 0 && up_mtu < br_mtu)
		say(r, WARN, "mtu", "uplink %s has MTU %d, below %s's %d: guests rely on PMTU discovery; "
		    "lower the bridge MTU or hand out option 26", s->uplink, up_mtu, s->bridge, br_mtu);
	else
		say(r, OK, "mtu", "%s, its ports and the uplink agree (MTU %d)", s->bridge, br_mtu);
}

static void check_routes(struct report *r, struct nl_sock *sk, const struct settings *s, int br)
{
	int other = nl_route_overlaps(sk, s->subnet, s->prefix, br);
	char name[IFNAMSIZ] = "?";

	if (other > 0) {
		nl_ifname(sk, other, name);
		say(r, FAIL, "subnet", "%s/%u is also routed via %s: traffic for guests may go there", ip_str(s->subnet),
		    s->prefix, name);
	} else {
		say(r, OK, "subnet", "%s/%u is routed only via %s", ip_str(s->subnet), s->prefix, s->bridge);
	}
}

/*
 * IPv6 (--masq6, --route6): forwarding on, the guests' /64 routed via the
 * bridge only, and the uplink's router advertisements: with forwarding on
 * the kernel ignores them unless accept_ra is 2, so an uplink that has its
 * default route from them loses it when it lapses.
 */
static void check_ipv6(struct report *r, struct nl_sock *sk, const struct settings *s, int br, int up)
{
	int fwd = sysctl_read_int("/proc/sys/net/ipv6/conf/all/forwarding"), ra, other;
	char path[PATH_MAX], name[IFNAMSIZ] = "?";

	if (fwd != 1)
		say(r, FAIL, "ipv6-forwarding", "net.ipv6.conf.all.forwarding is %d: guests' IPv6 is not forwarded; "
		    "sysctl -w net.ipv6.conf.all.forwarding=1 (attach sets it)", fwd);
	else
		say(r, OK, "ipv6-forwarding", "net.ipv6.conf.all.forwarding is 1");
	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/accept_ra", s->uplink);
	ra = sysctl_read_int(path);
	if (up <= 0)
		;
	else if (ra < 0)
		say(r, WARN, "ipv6-accept-ra", "cannot read %s: %s", path, strerror(-ra));
	else if (fwd == 1 && ra == 1 && nl_default6_static(sk, up) <= 0)
		say(r, WARN, "ipv6-accept-ra", "%s ignores router advertisements now that forwarding is on (accept_ra 1), "
		    "and has no static IPv6 default route: the one they gave lapses; sysctl -w "
		    "net.ipv6.conf.%s.accept_ra=2", s->uplink, s->uplink);
	else
		say(r, OK, "ipv6-accept-ra", "%s: accept_ra %d (%s)", s->uplink, ra,
		    ra == 2 ? "router advertisements are taken with forwarding on" :
		    ra == 0 ? "no router advertisements" :
		    fwd == 1 ? "a static IPv6 default route" : "forwarding is off");
	other = nl_route6_overlaps(sk, &s->prefix6, 64, br);
	if (other > 0) {
		nl_ifname(sk, other, name);
		say(r, FAIL, "prefix6", "%s/64 is also routed via %s: IPv6 traffic for guests may go there",
		    ip6_str(&s->prefix6), name);
	} else {
		say(r, OK, "prefix6", "%s/64 is routed only via %s", ip6_str(&s->prefix6), s->bridge);
	}
}

static void check_xdp(struct report *r, struct nl_sock *sk, const struct settings *s, const struct owned *o, int up)
{
	char kind[32] = "";

	nl_link_kind(sk, up, kind, sizeof(kind));
	if (o->xdp_attached == XDP_FLAGS_SKB_MODE)
		say(r, WARN, "xdp", "XDP runs in generic mode on %s: it costs more than it saves; use --xdp native "
		    "(if the driver has it) or --xdp off", s->uplink);
	else if (o->xdp_attached)
		say(r, OK, "xdp", "native XDP on %s", s->uplink);
	else
		say(r, OK, "xdp", "%s is served by TC (%s)", s->uplink,
		    !strcmp(kind, "veth") ? "veth uplink: native XDP would cost TCP its GSO" : "XDP off");
}

static void check_kernel(struct report *r)
{
	struct utsname u;
	int major = 0, minor = 0, jit = sysctl_read_int("/proc/sys/net/core/bpf_jit_enable");

	uname(&u);
	sscanf(u.release, "%d.%d", &major, &minor);
	if (major < 6 || (major == 6 && minor < 1))
		say(r, FAIL, "kernel", "kernel %s: qnat-bpf needs 6.1 or newer", u.release);
	else if (jit == 0)
		say(r, WARN, "kernel", "the BPF JIT is off (net.core.bpf_jit_enable=0): every packet is interpreted");
	else if (access("/sys/kernel/btf/vmlinux", R_OK))
		say(r, WARN, "kernel", "kernel %s has no BTF (/sys/kernel/btf/vmlinux)", u.release);
	else
		say(r, OK, "kernel", "kernel %s with the BPF JIT and BTF", u.release);
}

/*
 * Is a UDP socket bound to addr:port (or the wildcard)?  A query from the
 * host itself would arrive on lo, which dnsmasq rightly ignores, so the
 * sockets are what can be checked from here.
 */
static bool udp_bound(struct in_addr addr, uint16_t port)
{
	char line[256];
	bool found = false;
	FILE *f = fopen("/proc/net/udp", "re");

	while (f && !found && fgets(line, sizeof(line), f)) {
		unsigned int laddr, lport;

		if (sscanf(line, " %*d: %8X:%4X", &laddr, &lport) == 2)
			found = lport == port && (laddr == addr.s_addr || laddr == 0);
	}
	if (f)
		fclose(f);
	return found;
}

static void check_dnsmasq(struct report *r, const struct settings *s)
{
	pid_t pid;

	if (!s->dhcp) {
		say(r, OK, "dnsmasq", "DHCP and DNS are off (--no-dhcp)");
		return;
	}
	pid = state_pid(s->bridge, "dnsmasq.pid", "dnsmasq");
	if (!pid)
		say(r, FAIL, "dnsmasq", "dnsmasq is not running: guests get no DHCP lease; run the attach again");
	else if (!udp_bound(s->gateway, 53) || !udp_bound((struct in_addr){ 0 }, 67))
		say(r, FAIL, "dnsmasq", "dnsmasq (pid %d) does not listen on %s:53 and :67: another DNS or DHCP "
		    "server may hold them (ss -lunp)", pid, ip_str(s->gateway));
	else
		say(r, OK, "dnsmasq", "dnsmasq (pid %d) listens on %s:53 (DNS) and :67 (DHCP)", pid, ip_str(s->gateway));
}

/* The host policy's programs on the bridge device (NAT mode). */
static void check_host_policy(struct report *r, const struct settings *s, int br)
{
	uint32_t ids[3];
	bool all = false;

	if (s->bridged)
		return;
	host_allow_parse(s->host_allow, NULL, NULL, &all);
	if (dp_uplink_prog_ids(br, ids) || !ids[0] || !ids[1])
		say(r, FAIL, "host-policy", "the host policy is missing from %s's TC ingress/egress: guests reach "
		    "every host service; detach and attach again", s->bridge);
	else if (all)
		say(r, OK, "host-policy", "guests reach every host service (--host-allow all)");
	else
		say(r, OK, "host-policy", "guests reach DHCP, DNS and ICMP on the host%s%s", s->host_allow[0] ? ", " : "",
		    s->host_allow);
}

int cmd_doctor(int argc, char **argv)
{
	const char *bridge;
	struct dataplane dp;
	struct nl_sock *sk;
	struct settings s;
	struct owned o;
	struct report r = { 0 };
	struct json j;
	bool json;
	int br, up;

	if (parse_listing_args(argc, argv, &bridge, &json, true))
		return 1;
	if (bridge_open(bridge, &s, &o, &dp, NULL))
		return 1;
	if (nl_open(&sk)) {
		dp_close(&dp);
		print_error("cannot open a netlink socket");
		return 1;
	}
	br = nl_ifindex(sk, s.bridge);
	up = nl_ifindex(sk, s.uplink);
	json_begin(&j, json);
	json_arr_open(&j, NULL);
	r.j = &j;
	if (!state_pid(s.bridge, "supervisor.pid", "qnat-bpf"))
		say(&r, FAIL, "supervisor", "not running: new ports are not attached, flows do not expire; "
		    "run the same attach again (flows are kept)");
	else
		say(&r, OK, "supervisor", "running");
	check_kernel(&r);
	check_firewall(&r, &s);
	if (br > 0 && (up > 0 || s.mode == MODE_ISOLATED)) {
		char msg[256];

		if (up > 0) {
			check_mtu(&r, sk, &s, br, up);
			check_xdp(&r, sk, &s, &o, up);
		}
		check_routes(&r, sk, &s, br);
		if (s.ip6 != IP6_NONE)
			check_ipv6(&r, sk, &s, br, up);
		check_host_policy(&r, &s, br);
		if (default_route_moved(sk, &s, up, msg, sizeof(msg)))
			say(&r, WARN, "default-route", "%s", msg);
		else if (up > 0 && !s.bridged)
			say(&r, OK, "default-route", "leaves via the uplink %s", s.uplink);
	} else {
		say(&r, FAIL, "links", "%s or %s is gone", s.bridge, s.uplink);
	}
	check_dnsmasq(&r, &s);
	json_arr_close(&j);
	json_end(&j);
	nl_socket_free(sk);
	dp_close(&dp);
	return r.worst == FAIL ? 1 : 0;
}
