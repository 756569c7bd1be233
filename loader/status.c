// SPDX-License-Identifier: GPL-2.0
/* The read-only commands: status, ct show, stats. */
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

#include "json.h"
#include "log.h"
#include "qnat.h"

/* "BRIDGE [-j|--json]" in any order; returns the bridge or NULL. */
int parse_listing_args(int argc, char **argv, const char **bridge, bool *json, bool bridge_required)
{
	*bridge = NULL;
	*json = false;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json")) {
			*json = true;
		} else if (argv[i][0] == '-') {
			print_error(*json, "unknown option %s", argv[i]);
			return -EINVAL;
		} else if (!*bridge && valid_ifname(argv[i])) {
			*bridge = argv[i];
		} else {
			print_error(*json, "unexpected argument %s", argv[i]);
			return -EINVAL;
		}
	}
	if (bridge_required && !*bridge) {
		print_error(*json, "which bridge? (e.g. %s virbr0)", argv[0]);
		return -EINVAL;
	}
	return 0;
}

/* The settings and maps of an attached bridge. */
int bridge_open(const char *bridge, struct settings *s, struct owned *o, struct dataplane *dp, bool json)
{
	int err = state_load(bridge, s, o), ifindex;

	if (err) {
		print_error(json, err == -ENOENT ? "%s is not attached" : "%s: unreadable state", bridge);
		return err;
	}
	ifindex = (int)if_nametoindex(dp_home(s));
	if (!ifindex || (err = dp_open_existing(dp, ifindex))) {
		print_error(json, "%s: no data plane found on %s", bridge, dp_home(s));
		return err ? err : -ENODEV;
	}
	return 0;
}

static void print_counters(struct json *j, struct dataplane *dp)
{
	struct qnat_counter_val v[QNAT_C_MAX];

	dp_read_counters(dp, v);
	json_obj_open(j, "counters");
	for (int i = 0; i < QNAT_C_MAX; i++) {
		json_obj_open(j, counter_name(i));
		if (!j->on) /* in JSON the name is the key: a bare string is invalid */
			fprintf(j->f, "  %-14s", counter_name(i));
		json_uint(j, "packets", " %12llu pkts", v[i].packets);
		json_uint(j, "bytes", " %14llu bytes", v[i].bytes);
		json_text(j, "  # ");
		json_text(j, counter_help(i));
		json_text(j, "\n");
		json_obj_close(j);
	}
	json_obj_close(j);
}

static void print_ports(struct json *j, struct dataplane *dp)
{
	uint32_t key, *prev = NULL;
	struct qnat_port port;

	json_arr_open(j, "ports");
	json_text(j, "  ports:");
	while (dp->ports_fd >= 0 && !bpf_map_get_next_key(dp->ports_fd, prev, &key)) {
		char name[IF_NAMESIZE] = "?";

		prev = &key;
		if (bpf_map_lookup_elem(dp->ports_fd, &key, &port))
			continue;
		if_indextoname(key, name);
		json_obj_open(j, NULL);
		json_str(j, "name", " %s", name);
		json_str(j, "kind", " (%s", port.flags & QNAT_PORT_TAP ? "tap" : "other");
		json_uint(j, "ifindex", " ifindex %llu)", key);
		if (port.mac[0] | port.mac[1] | port.mac[2] | port.mac[3] | port.mac[4] | port.mac[5]) {
			char mac[18];

			snprintf(mac, sizeof(mac), "%02x:%02x:%02x:%02x:%02x:%02x", port.mac[0], port.mac[1],
				 port.mac[2], port.mac[3], port.mac[4], port.mac[5]);
			json_str(j, "bound_mac", "[%s", mac);
			json_str(j, "bound_ip", " %s]", port.ip ? ip_str_be(port.ip) : "-");
		}
		json_obj_close(j);
	}
	json_text(j, "\n");
	json_arr_close(j);
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

static int status_one(struct json *j, const char *bridge)
{
	struct dataplane dp;
	struct settings s;
	struct owned o;
	pid_t sup, dns;
	int flows;

	if (bridge_open(bridge, &s, &o, &dp, j->on))
		return -1;
	sup = state_pid(bridge, "supervisor.pid", "qnat-bpf");
	dns = state_pid(bridge, "dnsmasq.pid", "dnsmasq");
	flows = ct_count(&dp);

	json_obj_open(j, NULL);
	json_str(j, "bridge", "%s:", s.bridge);
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
	{
		struct qnat_config cfg;
		uint32_t zero = 0;

		if (!bpf_map_lookup_elem(dp.config_fd, &zero, &cfg)) {
			json_str(j, "uplink", "  uplink %s", s.uplink);
			json_str(j, "uplink_address", " address %s", cfg.ext_addr ? ip_str_be(cfg.ext_addr) : "(none)");
		}
	}
	json_str(j, "uplink_xdp", " xdp %s", o.xdp_attached == 0 ? "off" : o.xdp_attached == 2 ? "generic" : "native");
	if (s.xdp == XDP_MODE_AUTO && !o.xdp_attached && s.uplink[0])
		json_text(j, " (auto: TC, this device gets no native XDP)");
	json_text(j, s.bridged ? " tc ingress (a port)\n" : " tc ingress+egress\n");
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
	json_obj_close(j);
	json_obj_open(j, "conntrack");
	json_uint(j, "entries", "  conntrack: %llu flows", flows < 0 ? 0 : flows);
	json_uint(j, "limit", " of %llu", s.ct_max);
	json_str(j, "full_policy", " (when full: %s", ct_full_name(s.ct_full));
	json_uint(j, "max_flows_per_guest", s.max_flows_per_guest ? ", at most %llu per guest)" : "%.0llu)",
		  s.max_flows_per_guest);
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
	json_bool(j, "host_forwards", o.sock_hooks, "  forwards (from the host too):\n",
		  "  forwards (not from the host: socket hooks unavailable):\n");
	fwd_print(j, &dp);
	print_counters(j, &dp);
	json_obj_close(j);
	dp_close(&dp);
	return 0;
}

int cmd_status(int argc, char **argv)
{
	const char *bridge;
	struct json j;
	bool json;
	int err = 0;

	if (parse_listing_args(argc, argv, &bridge, &json, false))
		return 1;
	json_begin(&j, json);
	json_arr_open(&j, NULL);
	if (bridge) {
		err = status_one(&j, bridge);
	} else {
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
			err |= status_one(&j, de->d_name);
			n++;
		}
		if (d)
			closedir(d);
		if (!n)
			json_text(&j, "no bridge is attached in this network namespace\n");
	}
	json_arr_close(&j);
	json_end(&j);
	return err ? 1 : 0;
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
	if (bridge_open(bridge, &s, &o, &dp, json))
		return 1;
	json_begin(&j, json);
	json_obj_open(&j, NULL);
	print_counters(&j, &dp);
	print_guests(&j, &dp);
	json_obj_close(&j);
	json_end(&j);
	dp_close(&dp);
	return 0;
}
