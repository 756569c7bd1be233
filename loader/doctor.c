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

/* Runs a command and reports whether its output contains needle. */
/* cmd's output has a line with needle, or with or_needle (NULL: none). */
static bool output_has2(const char *cmd, const char *needle, const char *or_needle)
{
	char line[512];
	bool found = false;
	FILE *p = popen(cmd, "re");

	if (!p)
		return false;
	while (fgets(line, sizeof(line), p))
		found |= strstr(line, needle) || (or_needle && strstr(line, or_needle));
	pclose(p);
	return found;
}

static bool output_has(const char *cmd, const char *needle)
{
	return output_has2(cmd, needle, NULL);
}

static void check_forward_policy(struct report *r, const struct settings *s)
{
	bool ipt = output_has("iptables -S FORWARD 2>/dev/null", "-P FORWARD DROP");
	bool nft = output_has2("nft list chains 2>/dev/null", "hook forward priority filter; policy drop",
			       "hook forward priority 0; policy drop");

	if (ipt || nft)
		say(r, WARN, "forward-policy",
		    "a FORWARD drop policy (%s; Docker and ufw set one) stops what qnat-bpf hands to the kernel "
		    "(TTL expiry, fragments, other protocols): allow the bridge, e.g. iptables -I FORWARD -i %s -j ACCEPT; "
		    "iptables -I FORWARD -o %s -j ACCEPT",
		    ipt ? "iptables" : "nftables", s->bridge, s->bridge); /* iptables-nft shows in both */
	else
		say(r, OK, "forward-policy", "no FORWARD drop policy in the way");
}

struct mtu_walk {
	struct nl_sock *sk;
	int bridge_mtu;
	char bad[256];
};

static void port_mtu(int ifindex, void *arg)
{
	struct mtu_walk *w = arg;
	char name[IFNAMSIZ] = "?";
	int mtu = nl_link_mtu(w->sk, ifindex);
	size_t n = strlen(w->bad);

	if (mtu > 0 && mtu != w->bridge_mtu && n < sizeof(w->bad) - 32) {
		nl_ifname(w->sk, ifindex, name);
		snprintf(w->bad + n, sizeof(w->bad) - n, "%s%s %d", n ? ", " : "", name, mtu);
	}
}

static void check_mtu(struct report *r, struct nl_sock *sk, const struct settings *s, int br, int up)
{
	struct mtu_walk w = { .sk = sk, .bridge_mtu = nl_link_mtu(sk, br) };
	int up_mtu = nl_link_mtu(sk, up);

	nl_bridge_ports(sk, br, port_mtu, &w);
	if (w.bad[0])
		say(r, WARN, "mtu", "ports whose MTU differs from %s's %d: %s; frames above the smaller one are dropped: "
		    "set them equal (ip link set DEV mtu %d)", s->bridge, w.bridge_mtu, w.bad, w.bridge_mtu);
	else if (up_mtu > 0 && up_mtu < w.bridge_mtu)
		say(r, WARN, "mtu", "uplink %s has MTU %d, below %s's %d: guests rely on PMTU discovery; "
		    "lower the bridge MTU or hand out option 26", s->uplink, up_mtu, s->bridge, w.bridge_mtu);
	else
		say(r, OK, "mtu", "%s, its ports and the uplink agree (MTU %d)", s->bridge, w.bridge_mtu);
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
	else if (output_has("iptables -S INPUT 2>/dev/null", "-P INPUT DROP"))
		say(r, WARN, "dnsmasq", "dnsmasq (pid %d) listens, but the INPUT policy is DROP: allow DHCP and DNS "
		    "from guests, e.g. iptables -I INPUT -i %s -p udp -m multiport --dports 53,67 -j ACCEPT",
		    pid, s->bridge);
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
	check_forward_policy(&r, &s);
	if (br > 0 && up > 0) {
		check_mtu(&r, sk, &s, br, up);
		check_routes(&r, sk, &s, br);
		check_xdp(&r, sk, &s, &o, up);
		check_host_policy(&r, &s, br);
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
