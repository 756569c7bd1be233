// SPDX-License-Identifier: GPL-2.0
/* The read-only commands: status, ct show, stats. */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netlink/socket.h>

#include "json.h"
#include "log.h"
#include "qnat.h"

/* Calls fn for each bridge attached in this network namespace; returns how many. */
int bridges_each(void (*fn)(const char *bridge, void *arg), void *arg)
{
	char dir[PATH_MAX];
	struct dirent *de;
	DIR *d;
	int n = 0;

	if (!state_dir("x", dir, sizeof(dir)))
		*strrchr(dir, '/') = '\0';
	d = opendir(dir);
	while (d && (de = readdir(d))) {
		if (de->d_name[0] == '.' || de->d_type != DT_DIR) /* netns-cookie */
			continue;
		if (fn)
			fn(de->d_name, arg);
		n++;
	}
	if (d)
		closedir(d);
	return n;
}

static void keep_name(const char *bridge, void *arg)
{
	snprintf(arg, IF_NAMESIZE, "%s", bridge);
}

/* The bridge when exactly one is attached, so listings need not ask which. */
const char *only_bridge(void)
{
	static char name[IF_NAMESIZE];

	return bridges_each(NULL, NULL) == 1 && bridges_each(keep_name, name) == 1 ? name : NULL;
}

/* "BRIDGE [-j|--json]" in any order; returns the bridge or NULL. */
int parse_listing_args(int argc, char **argv, const char **bridge, bool *json, bool bridge_required)
{
	*bridge = NULL;
	*json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			*json = true;
		} else if (argv[i][0] == '-') {
			print_error("unknown option %s", argv[i]);
			return -EINVAL;
		} else if (!*bridge && valid_ifname(argv[i])) {
			*bridge = argv[i];
		} else {
			print_error("unexpected argument %s", argv[i]);
			return -EINVAL;
		}
	}
	if (bridge_required && !*bridge && !(*bridge = only_bridge())) {
		print_error("which bridge? (e.g. %s virbr0)", argv[0]);
		return -EINVAL;
	}
	return 0;
}

/*
 * The settings and maps of an attached bridge.  An error goes to stderr, and
 * with j also into the document, whose current object is this bridge's.
 */
int bridge_open(const char *bridge, struct settings *s, struct owned *o, struct dataplane *dp, struct json *j)
{
	int err = state_load(bridge, s, o);
	char why[128];

	if (err) {
		snprintf(why, sizeof(why), err == -ENOENT ? "%s is not attached" : "%s: unreadable state", bridge);
	} else {
		if (!(err = dp_open_existing(dp, s)))
			return 0;
		err = err ? err : -ENODEV;
		snprintf(why, sizeof(why), "%s: no data plane found on %s", bridge, dp_home(s));
	}
	if (j)
		json_error(j, "%s", why);
	else
		print_error("%s", why);
	return err;
}

/* Counters; text shows only the non-zero ones unless all (as ip -s). */
static void print_counters(struct json *j, struct dataplane *dp, bool all)
{
	struct qnat_counter_val v[QNAT_C_MAX];

	dp_read_counters(dp, v);
	json_obj_open(j, "counters");
	json_text(j, all ? "  counters:\n" : "  counters (non-zero; all with -s):\n");
	for (int i = 0; i < QNAT_C_MAX; i++) {
		if (!json_is_on(j) && !all && !v[i].packets)
			continue;
		json_obj_open(j, counter_name(i));
		json_fp(j, "    %-14s", counter_name(i)); /* in JSON the name is the key */
		if (i == QNAT_C_CT_NEW) { /* flows created: no packets or bytes of its own */
			json_uint(j, "flows", " %12llu flows", v[i].packets);
			json_fp(j, "%21s", "");
		} else {
			json_uint(j, "packets", " %12llu pkts", v[i].packets);
			json_uint(j, "bytes", " %14llu bytes", v[i].bytes);
		}
		json_fp(j, "  # %s\n", counter_help(i));
		json_obj_close(j);
	}
	json_obj_close(j);
}

/* veth, tun, ...: the link's kind as ip -d link names it. */
static const char *port_kind(struct nl_sock *sk, int ifindex, char *kind, size_t len)
{
	if (!sk || nl_link_kind(sk, ifindex, kind, len) || !kind[0])
		snprintf(kind, len, "device");
	return kind;
}

/* The IPv6 sources port security bound to a port. */
static void print_ip6_bindings(struct json *j, struct dataplane *dp, uint32_t ifindex)
{
	struct qnat_ip6_addr key, next, *prev = NULL;
	struct qnat_ip6_binding b;
	char addr[INET6_ADDRSTRLEN];

	json_arr_open(j, "bound_ip6");
	while (dp->ip6_bind_fd >= 0 && !bpf_map_get_next_key(dp->ip6_bind_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(dp->ip6_bind_fd, &key, &b) && b.ifindex == ifindex)
			json_str(j, NULL, " %s", inet_ntop(AF_INET6, &key, addr, sizeof(addr)));
	}
	json_arr_close(j);
}

static void print_ports(struct json *j, struct dataplane *dp)
{
	uint32_t key, *prev = NULL;
	struct qnat_port port;
	struct nl_sock *sk = NULL;

	nl_open(&sk);
	json_arr_open(j, "ports");
	json_text(j, "  ports:");
	while (dp->ports_fd >= 0 && !bpf_map_get_next_key(dp->ports_fd, prev, &key)) {
		char name[IF_NAMESIZE] = "?", kind[32];

		prev = &key;
		if (!dp_port_ours(dp, key, &port))
			continue;
		if_indextoname(key, name);
		json_obj_open(j, NULL);
		json_str(j, "name", " %s", name);
		json_str(j, "kind", " (%s", port.flags & QNAT_PORT_TAP ? "tap" : port_kind(sk, key, kind, sizeof(kind)));
		json_uint(j, "ifindex", " ifindex %llu)", key);
		if (port.mac[0] | port.mac[1] | port.mac[2] | port.mac[3] | port.mac[4] | port.mac[5]) {
			char mac[MAC_STR_LEN];

			json_str(j, "bound_mac", "[%s", mac_str(port.mac, mac));
			json_str(j, "bound_ip", " %s", port.ip ? ip_str_be(port.ip) : "-");
			json_bool(j, "bound_ip_lease", port.flags & QNAT_PORT_IP_LEASE, " (lease)", "");
			print_ip6_bindings(j, dp, key);
			json_text(j, "]");
		}
		if (port.refused)
			json_uint(j, "refused", " refused %llu", port.refused);
		json_obj_close(j);
	}
	json_text(j, "\n");
	json_arr_close(j);
	if (sk)
		nl_socket_free(sk);
}

/*
 * Which build attached, and the uplink's programs as the kernel has them:
 * ids change on every load, tags with the code.
 */
static void print_build(struct json *j, const struct owned *o, const struct settings *s)
{
	uint32_t ids[3] = { 0 };
	int n = 0;

	json_str(j, "build", "  build %s", o->build[0] ? o->build : "unknown");
	json_arr_open(j, "programs");
	dp_uplink_prog_ids((int)if_nametoindex(s->uplink), ids);
	for (int i = 0; i < 3; i++) {
		struct bpf_prog_info info = {};
		uint32_t len = sizeof(info);
		char tag[2 * BPF_TAG_SIZE + 1];
		int fd = ids[i] ? bpf_prog_get_fd_by_id(ids[i]) : -1;

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			for (int k = 0; k < BPF_TAG_SIZE; k++)
				sprintf(tag + 2 * k, "%02x", info.tag[k]);
			json_obj_open(j, NULL);
			json_str(j, "name", n++ ? ", %s" : ": %s", info.name);
			json_uint(j, "id", " id %llu", info.id);
			json_str(j, "tag", " tag %s", tag);
			json_obj_close(j);
		}
		close(fd);
	}
	json_arr_close(j);
	json_text(j, "\n");
}

/* The last SIGHUP's outcome, as the supervisor recorded it (none: no line). */
static void print_reload(struct json *j, const char *bridge)
{
	char path[PATH_MAX], when[32] = "", result[16] = "", msg[800] = "";
	FILE *f;

	if (state_path(bridge, "reload", path, sizeof(path)) || !(f = fopen(path, "re")))
		return;
	if (fgets(when, sizeof(when), f) && fgets(result, sizeof(result), f) && fgets(msg, sizeof(msg), f)) {
		when[strcspn(when, "\n")] = result[strcspn(result, "\n")] = msg[strcspn(msg, "\n")] = 0;
		json_obj_open(j, "last_reload");
		json_str(j, "time", "  last reload (SIGHUP): %s", when);
		json_str(j, "result", " %s", result);
		json_str(j, "message", ": %s\n", msg);
		json_obj_close(j);
	}
	fclose(f);
}

/* The uplink's IPv6 address flows leave from (--masq6). */
static const char *ext6_str(const struct qnat_config *cfg)
{
	struct in6_addr a;

	memcpy(&a, cfg->ext6, sizeof(a));
	return IN6_IS_ADDR_UNSPECIFIED(&a) ? "(none)" : ip6_str(&a);
}

/* The flows of both tables, and of them the IPv6 ones. */
static void print_flows(struct json *j, struct dataplane *dp)
{
	uint32_t v6 = 0;
	int n = ct_count(dp, &v6);

	json_uint(j, "entries", "  conntrack: %llu flows", n < 0 ? 0 : n);
	json_uint(j, "entries_ipv6", " (%llu IPv6)", v6);
}

static int status_one(struct json *j, const char *bridge, bool all)
{
	struct dataplane dp;
	struct settings s;
	struct owned o;
	pid_t sup, dns;

	json_obj_open(j, NULL);
	json_str(j, "bridge", "%s:", bridge);
	if (bridge_open(bridge, &s, &o, &dp, j)) { /* the error is in this bridge's object */
		json_obj_close(j);
		json_text(j, " (see the error above)\n");
		return -1;
	}
	sup = state_pid(bridge, "supervisor.pid", "qnat-bpf");
	dns = state_pid(bridge, "dnsmasq.pid", "dnsmasq");
	json_str(j, "supervisor", " %s", sup ? "running" : "NOT RUNNING (run attach again to restart it)");
	json_uint(j, "supervisor_pid", sup ? " (pid %llu)" : "", sup);
	json_text(j, "\n");
	print_reload(j, bridge);
	print_build(j, &o, &s);
	json_bool(j, "bridged", s.bridged, "  bridged: guests on the uplink's LAN, no NAT\n", "");
	if (!s.bridged) {
		json_str(j, "subnet", "  masquerade %s", ip_str(s.subnet));
		json_uint(j, "prefix", "/%llu", s.prefix);
		json_str(j, "gateway", " gateway %s\n", ip_str(s.gateway));
		json_str(j, "mode", "  mode %s\n", net_mode_name(s.mode));
	}
	if (s.ip6 != IP6_NONE) {
		json_str(j, "ipv6", "  ipv6 %s", s.ip6 == IP6_MASQ ? "masquerade" : "routed");
		json_str(j, "prefix6", " %s/64", ip6_str(&s.prefix6));
		json_str(j, "gateway6", " gateway %s", ip6_str(&s.gateway6));
		if (s.dhcp6) {
			json_str(j, "dhcp6_range_start", " dhcpv6 %s", ip6_str(&s.dhcp6_start));
			json_str(j, "dhcp6_range_end", "-%s", ip6_str(&s.dhcp6_end));
		}
		json_text(j, "\n");
	}
	struct qnat_config cfg = {};
	uint32_t slot = dp.net;
	char sharing[IFNAMSIZ * QNAT_NETS_MAX];

	if (!bpf_map_lookup_elem(dp.config_fd, &slot, &cfg)) {
		json_str(j, "uplink", "  uplink %s", s.uplink);
		json_str(j, "uplink_address", " address %s", cfg.ext_addr ? ip_str_be(cfg.ext_addr) : "(none)");
		if (s.ip6 == IP6_MASQ)
			json_str(j, "uplink_address6", " %s", ext6_str(&cfg));
	}
	json_str(j, "uplink_xdp", " xdp %s", o.xdp_attached == 0 ? "off" : o.xdp_attached == 2 ? "generic" : "native");
	if (s.xdp == XDP_MODE_AUTO && !o.xdp_attached && s.uplink[0])
		json_text(j, " (auto: TC, this device gets no native XDP)");
	json_text(j, s.bridged ? " tc ingress (a port)\n" : " tc ingress+egress\n");
	if (!s.bridged && dp_other_nets(&dp, sharing, sizeof(sharing)))
		json_str(j, "uplink_shared_with", "  uplink shared with %s (one data plane: one port space, one "
			 "conntrack table)\n", sharing);
	if (!s.bridged && s.uplink[0])
		json_bool(j, "uplink_xdp_xmit", cfg.flags & QNAT_CFG_UPLINK_XMIT,
			  "  TAP guests' established flows leave from XDP (xdp_port_in redirects to the uplink)\n",
			  "  TAP guests' established flows leave through TC (the uplink takes no XDP frames: no native "
			  "XDP of ours, or a veth whose peer runs none)\n");
	json_bool(j, "port_security", s.port_security,
		  "  port security: on (each port's MAC and addresses bound below; no DHCP servers, RAs or redirects "
		  "from guests)\n",
		  "  port security: off\n");
	print_ports(j, &dp);
	json_obj_open(j, "dhcp");
	json_bool(j, "enabled", s.dhcp, "  dhcp: dnsmasq", "  dhcp: off");
	if (s.dhcp) {
		json_str(j, "state", " %s", dns ? "running" : "NOT RUNNING");
		json_uint(j, "pid", dns ? " (pid %llu)" : "", dns);
		json_str(j, "range_start", " range %s", ip_str(s.dhcp_start));
		json_str(j, "range_end", "-%s", ip_str(s.dhcp_end));
		json_uint(j, "leases", ", %llu leases", dnsmasq_lease_count(bridge));
	}
	json_text(j, "\n");
	dhcp_hosts_print(j, &s, "static_hosts", "    static host ");
	json_obj_close(j);
	json_obj_open(j, "conntrack");
	print_flows(j, &dp);
	json_uint(j, "limit", " of %llu", s.ct_max);
	json_str(j, "full_policy", " (when full: %s", ct_full_name(s.ct_full));
	json_uint(j, "max_flows_per_guest", s.max_flows_per_guest ? ", at most %llu per guest" : NULL,
		  s.max_flows_per_guest);
	json_text(j, ")");
	json_str(j, "filtering", ", udp filtering %s", s.eif ? "endpoint-independent" : "address-port-dependent");
	json_uint(j, "port_min", ", ports %llu", s.port_min);
	json_uint(j, "port_max", "-%llu\n", s.port_max);
	json_obj_close(j);
	if (!s.bridged) {
		bool all = false;

		host_allow_parse(s.host_allow, NULL, NULL, &all);
		json_text(j, all ? "  host services: all open to guests (--host-allow all)\n"
				 : "  host services open to guests: DHCP, DNS, ICMP");
		json_str(j, "host_allow", all ? "" : s.host_allow[0] ? ", %s\n" : "%s\n", s.host_allow);
	}
	json_bool(j, "host_forwards", o.sock_hooks, "", "");
	fwd_print(j, &dp, o.sock_hooks ? "  forwards (from the host too):\n"
				      : "  forwards (not from the host: socket hooks unavailable):\n");
	print_counters(j, &dp, all);
	json_obj_close(j);
	dp_close(&dp);
	return 0;
}

struct status_walk {
	struct json *j;
	bool all;
	int err;
};

static void status_each(const char *bridge, void *arg)
{
	struct status_walk *w = arg;

	w->err |= status_one(w->j, bridge, w->all);
}

int cmd_status(int argc, char **argv)
{
	const char *bridge, *rest[argc + 1];
	struct json j;
	bool json;
	struct status_walk w = { &j, false, 0 };
	int n = 0;

	for (int i = 0; i < argc; i++) /* -s|--stats: every counter, zero or not */
		if (i && (!strcmp(argv[i], "-s") || !strcmp(argv[i], "--stats")))
			w.all = true;
		else
			rest[n++] = argv[i];
	rest[n] = NULL;
	if (parse_listing_args(n, (char **)rest, &bridge, &json, false))
		return 1;
	json_begin(&j, json);
	json_arr_open(&j, NULL);
	if (bridge)
		status_each(bridge, &w);
	else if (!bridges_each(status_each, &w))
		json_text(&j, "no bridge is attached in this network namespace\n");
	json_arr_close(&j);
	json_end(&j);
	return w.err ? 1 : 0;
}

/* Per guest: live flows, packets and bytes from and to it since attach. */
static void print_guests(struct json *j, struct dataplane *dp)
{
	struct guest_total *t = NULL;
	int n = guest_totals(dp, &t);

	json_arr_open(j, "guests");
	json_text(j, "  guests:\n");
	for (int i = 0; i < n; i++) {
		json_obj_open(j, NULL);
		json_str(j, "guest", "    %-15s", ip_str_be(t[i].addr));
		json_uint(j, "flows", " %6llu flows", t[i].flows);
		json_uint(j, "packets_out", " %12llu pkts out", t[i].packets[QNAT_DIR_ORIG]);
		json_uint(j, "packets_in", " %12llu in", t[i].packets[QNAT_DIR_REPLY]);
		json_uint(j, "bytes_out", " %14llu bytes out", t[i].bytes[QNAT_DIR_ORIG]);
		json_uint(j, "bytes_in", " %14llu in\n", t[i].bytes[QNAT_DIR_REPLY]);
		json_obj_close(j);
	}
	json_arr_close(j);
	free(t);
}

int cmd_stats(int argc, char **argv)
{
	const char *bridge;
	struct dataplane dp;
	struct settings s;
	struct owned o;
	struct json j;
	bool json;

	if (parse_listing_args(argc, argv, &bridge, &json, true))
		return 1;
	if (bridge_open(bridge, &s, &o, &dp, NULL))
		return 1;
	json_begin(&j, json);
	json_obj_open(&j, NULL);
	json_obj_open(&j, "conntrack");
	print_flows(&j, &dp);
	json_text(&j, "\n");
	json_obj_close(&j);
	print_counters(&j, &dp, true);
	print_guests(&j, &dp);
	json_obj_close(&j);
	json_end(&j);
	dp_close(&dp);
	return 0;
}
