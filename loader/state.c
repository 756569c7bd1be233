// SPDX-License-Identifier: GPL-2.0
/*
 * The settings an attach was made with and what it changed on the host, kept
 * as "key value" lines in /run/qnat-bpf/nsINODE/BRIDGE/state.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "qnat.h"

static const char *const xdp_names[] = { "auto", "native", "generic", "off" };

const char *xdp_mode_name(enum xdp_mode m)
{
	return xdp_names[m];
}

#define FIELDS_MAX 32
#define FIELD_LEN 288 /* a --host-allow list is the longest */

/* The settings as "name [value]" fields, in a fixed order; defaults left out where noted. */
static int settings_fields(const struct settings *s, char f[FIELDS_MAX][FIELD_LEN])
{
	int n = 0;

#define F(...) snprintf(f[n++], FIELD_LEN, __VA_ARGS__)
	if (s->bridged) {
		F("bridged");
	} else {
		F("masq %s/%u", ip_str(s->subnet), s->prefix);
		F("gateway %s", ip_str(s->gateway));
	}
	F("uplink %s", s->uplink);
	if (s->dhcp)
		F("dhcp %s-%s", ip_str(s->dhcp_start), ip_str(s->dhcp_end));
	else
		F("no-dhcp");
	F("ports %u-%u", s->port_min, s->port_max);
	F("ct-max %u", s->ct_max);
	F("ct-full %s", ct_full_name(s->ct_full));
	F("max-flows-per-guest %u", s->max_flows_per_guest);
	F("filtering %s", s->eif ? "endpoint-independent" : "address-port-dependent");
	F("xdp %s", xdp_mode_name(s->xdp));
	if (!s->csum_fill && !s->bridged)
		F("no-dhcp-checksum-fill");
	if (s->port_security)
		F("port-security");
	if (s->mtu)
		F("mtu %u", s->mtu);
	if (s->fdb_ageing != 300)
		F("fdb-ageing %u", s->fdb_ageing);
	if (s->host_allow[0])
		F("host-allow %s", s->host_allow);
	if (s->metrics[0])
		F("metrics %s", s->metrics);
	for (int i = 0; i < QNAT_TO_MAX; i++)
		F("timeout %s=%u", timeout_name(i), s->timeouts[i]);
#undef F
	return n;
}

/* The canonical one-line form of the settings. */
void settings_describe(const struct settings *s, char *buf, size_t len)
{
	char f[FIELDS_MAX][FIELD_LEN];
	int n = settings_fields(s, f);
	size_t k = 0;

	buf[0] = '\0';
	for (int i = 0; i < n && k < len; i++)
		k += snprintf(buf + k, len - k, "%s%s", i ? " " : "", f[i]);
}

/* The fields of a that b lacks, joined, or "the defaults". */
static void fields_missing(char a[FIELDS_MAX][FIELD_LEN], int na, char b[FIELDS_MAX][FIELD_LEN], int nb, char *buf,
			   size_t len)
{
	size_t k = 0;

	buf[0] = '\0';
	for (int i = 0; i < na && k < len; i++) {
		bool found = false;

		for (int j = 0; j < nb && !found; j++)
			found = !strcmp(a[i], b[j]);
		if (!found)
			k += snprintf(buf + k, len - k, "%s%s", k ? ", " : "", a[i]);
	}
	if (!k)
		snprintf(buf, len, "the defaults");
}

/* What differs between a running attach and one asked for, as the operator typed it. */
void settings_diff(const struct settings *running, const struct settings *asked, char *buf, size_t len)
{
	char r[FIELDS_MAX][FIELD_LEN], a[FIELDS_MAX][FIELD_LEN], rs[512], as[512];
	int nr = settings_fields(running, r), na = settings_fields(asked, a);

	fields_missing(r, nr, a, na, rs, sizeof(rs));
	fields_missing(a, na, r, nr, as, sizeof(as));
	snprintf(buf, len, "it runs with %s, this attach asks for %s", rs, as);
}

bool settings_equal(const struct settings *a, const struct settings *b)
{
	char da[1024], db[1024];

	settings_describe(a, da, sizeof(da));
	settings_describe(b, db, sizeof(db));
	return !strcmp(a->bridge, b->bridge) && !strcmp(da, db);
}

int state_save(const struct settings *s, const struct owned *o)
{
	char path[PATH_MAX], desc[1024], buf[2048];
	int err;

	if ((err = state_dir_make(s->bridge)))
		return err;
	settings_describe(s, desc, sizeof(desc));
	snprintf(buf, sizeof(buf),
		 "abi %d\nbridge %s\nuplink %s\nsubnet %s\nprefix %u\ngateway %s\ndhcp %d\n"
		 "dhcp_start %s\ndhcp_end %s\nport_min %u\nport_max %u\nct_max %u\nct_full %d\n"
		 "max_flows_per_guest %u\neif %d\nxdp %d\nmetrics %s\nfdb_ageing %u\nmtu %u\nbridge_mtu_old %d\nport_security %d\n"
		 "csum_fill %d\nbridge_txcsum_old %d\nbridged %d\nuplink_enslaved %d\nmoved_addrs %s\n"
		 "moved_gw %s\n"
		 "timeouts %u %u %u %u %u %u %u %u %u\n"
		 "bridge_created %d\nbridge_upped %d\naddr_added %d\nfwd_bridge_old %d\nfwd_uplink_old %d\n"
		 "uplink_clsact_created %d\nxdp_attached %d\nsock_hooks %d\nsock_cfg_id %u\n"
		 "host_allow %s\nbridge_clsact_created %d\nbuild %s\n",
		 QNAT_ABI_VERSION, s->bridge, s->uplink, ip_str(s->subnet), s->prefix, ip_str(s->gateway), s->dhcp,
		 ip_str(s->dhcp_start), ip_str(s->dhcp_end), s->port_min, s->port_max, s->ct_max, s->ct_full,
		 s->max_flows_per_guest, s->eif, s->xdp, s->metrics[0] ? s->metrics : "-", s->fdb_ageing, s->mtu,
		 o->bridge_mtu_old, s->port_security, s->csum_fill, o->bridge_txcsum_old, s->bridged,
		 o->uplink_enslaved, o->moved_addrs[0] ? o->moved_addrs : "-", ip_str(o->moved_gw),
		 s->timeouts[0], s->timeouts[1], s->timeouts[2], s->timeouts[3], s->timeouts[4], s->timeouts[5],
		 s->timeouts[6], s->timeouts[7], s->timeouts[8], o->bridge_created, o->bridge_upped, o->addr_added,
		 o->fwd_bridge_old, o->fwd_uplink_old, o->uplink_clsact_created, o->xdp_attached,
		 o->sock_hooks, o->sock_cfg_id, s->host_allow[0] ? s->host_allow : "-", o->bridge_clsact_created,
		 build_id());
	_Static_assert(QNAT_TO_MAX == 9, "state file lists nine timeouts");
	err = state_path(s->bridge, "state", path, sizeof(path));
	return err ? err : write_file_atomic(path, buf, 0600);
}

int state_load(const char *bridge, struct settings *s, struct owned *o)
{
	char path[PATH_MAX], line[512], key[64], val[400];
	unsigned int u[QNAT_TO_MAX];
	int err, abi = -1;
	FILE *f;

	err = state_path(bridge, "state", path, sizeof(path));
	if (err)
		return err;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	settings_defaults(s);
	memset(o, 0, sizeof(*o));
	o->bridge_txcsum_old = -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%63s %399[^\n]", key, val) != 2)
			continue;
#define STR(k, dst)                                      \
	else if (!strcmp(key, k) && strlen(val) < sizeof(dst)) strcpy(dst, val)
/* A string that may be empty, which the file spells "-". */
#define OPT_STR(k, dst)                                                     \
	else if (!strcmp(key, k) && strcmp(val, "-") && strlen(val) < sizeof(dst)) strcpy(dst, val)
#define IP(k, dst) else if (!strcmp(key, k)) parse_ipv4(val, &dst)
#define NUM(k, dst) else if (!strcmp(key, k)) dst = strtol(val, NULL, 10)
		if (!strcmp(key, "abi"))
			abi = o->abi = strtol(val, NULL, 10);
		STR("bridge", s->bridge);
		STR("uplink", s->uplink);
		IP("subnet", s->subnet);
		NUM("prefix", s->prefix);
		IP("gateway", s->gateway);
		NUM("dhcp", s->dhcp);
		IP("dhcp_start", s->dhcp_start);
		IP("dhcp_end", s->dhcp_end);
		NUM("port_min", s->port_min);
		NUM("port_max", s->port_max);
		NUM("ct_max", s->ct_max);
		NUM("ct_full", s->ct_full);
		NUM("max_flows_per_guest", s->max_flows_per_guest);
		NUM("eif", s->eif);
		NUM("fdb_ageing", s->fdb_ageing);
		NUM("mtu", s->mtu);
		NUM("port_security", s->port_security);
		NUM("csum_fill", s->csum_fill);
		NUM("bridged", s->bridged);
		NUM("uplink_enslaved", o->uplink_enslaved);
		IP("moved_gw", o->moved_gw);
		OPT_STR("moved_addrs", o->moved_addrs);
		NUM("bridge_txcsum_old", o->bridge_txcsum_old);
		NUM("bridge_mtu_old", o->bridge_mtu_old);
		OPT_STR("metrics", s->metrics);
		NUM("xdp", s->xdp);
		NUM("bridge_created", o->bridge_created);
		NUM("bridge_upped", o->bridge_upped);
		NUM("addr_added", o->addr_added);
		NUM("fwd_bridge_old", o->fwd_bridge_old);
		NUM("fwd_uplink_old", o->fwd_uplink_old);
		NUM("uplink_clsact_created", o->uplink_clsact_created);
		NUM("xdp_attached", o->xdp_attached);
		NUM("sock_hooks", o->sock_hooks);
		NUM("sock_cfg_id", o->sock_cfg_id);
		NUM("bridge_clsact_created", o->bridge_clsact_created);
		OPT_STR("host_allow", s->host_allow);
		STR("build", o->build);
		else if (!strcmp(key, "timeouts") &&
			 sscanf(val, "%u %u %u %u %u %u %u %u %u", &u[0], &u[1], &u[2], &u[3], &u[4], &u[5], &u[6],
				&u[7], &u[8]) == QNAT_TO_MAX) memcpy(s->timeouts, u, sizeof(u));
#undef STR
#undef OPT_STR
#undef IP
#undef NUM
	}
	fclose(f);
	if (abi != QNAT_ABI_VERSION)
		return -EPROTO;
	return 0;
}
