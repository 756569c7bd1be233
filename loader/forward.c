// SPDX-License-Identifier: GPL-2.0
/*
 * Port forwards: `qnat-bpf forward add|del|list`, and attach's --forward.
 * Each rule becomes one qnat_fwd entry per host port, written with
 * BPF_NOEXIST and rolled back on failure: a rule is in whole or not at all.
 */
#include <errno.h>
#include <ifaddrs.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <netlink/socket.h>

#include "json.h"
#include "log.h"
#include "qnat.h"

#define FWD_RANGE_MAX 4096 /* ports in one rule */

static const char forward_usage[] =
	"Usage: qnat-bpf forward add BRIDGE tcp|udp [HOSTADDR:]HOSTPORT[-HOSTPORT_END] GUESTIP[:GUESTPORT] [--force]\n"
	"       qnat-bpf forward del BRIDGE tcp|udp [HOSTADDR:]HOSTPORT[-HOSTPORT_END]\n"
	"       qnat-bpf forward { list | show } BRIDGE [--json]\n";

static int parse_proto(const char *s, uint8_t *proto)
{
	if (!strcmp(s, "tcp"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "udp"))
		*proto = IPPROTO_UDP;
	else
		return -EINVAL;
	return 0;
}

static int parse_port(const char *s, uint16_t *port)
{
	uint32_t v;

	if (parse_u32(s, 1, 65535, &v))
		return -EINVAL;
	*port = v;
	return 0;
}

/* "[HOSTADDR:]PORT[-END]" */
static int parse_host_side(const char *arg, struct fwd_rule *r)
{
	char buf[64], *port = buf, *colon, *dash;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	r->host_addr.s_addr = 0;
	colon = strrchr(buf, ':');
	if (colon) {
		*colon = '\0';
		if (parse_ipv4(buf, &r->host_addr) || !r->host_addr.s_addr)
			return -EINVAL;
		port = colon + 1;
	}
	dash = strchr(port, '-');
	if (dash)
		*dash = '\0';
	if (parse_port(port, &r->first))
		return -EINVAL;
	r->last = r->first;
	if (dash && (parse_port(dash + 1, &r->last) || r->last < r->first))
		return -EINVAL;
	return 0;
}

/* "GUESTIP[:GUESTPORT]" */
static int parse_guest_side(const char *arg, struct fwd_rule *r)
{
	char buf[64], *colon;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (parse_ipv4(buf, &r->guest))
		return -EINVAL;
	r->guest_first = r->first;
	if (colon && parse_port(colon + 1, &r->guest_first))
		return -EINVAL;
	return 0;
}

/* attach's --forward PROTO:[HOSTADDR:]HOSTPORT[-END]:GUESTIP[:GUESTPORT] */
int fwd_rule_parse_compact(const char *s, struct fwd_rule *r)
{
	char buf[128], *tok[5];
	int n = 0;
	char host[64], guest[64];

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	for (char *p = strtok(buf, ":"); p && n < 5; p = strtok(NULL, ":"))
		tok[n++] = p;
	if (n < 3 || parse_proto(tok[0], &r->proto))
		return -EINVAL;
	/* A dotted second field is the host address. */
	if (strchr(tok[1], '.')) {
		if (n < 4)
			return -EINVAL;
		snprintf(host, sizeof(host), "%s:%s", tok[1], tok[2]);
		snprintf(guest, sizeof(guest), n == 5 ? "%s:%s" : "%s", tok[3], n == 5 ? tok[4] : "");
	} else {
		if (n > 4)
			return -EINVAL;
		snprintf(host, sizeof(host), "%s", tok[1]);
		snprintf(guest, sizeof(guest), n == 4 ? "%s:%s" : "%s", tok[2], n == 4 ? tok[3] : "");
	}
	return parse_host_side(host, r) || parse_guest_side(guest, r) ? -EINVAL : 0;
}

static const char *proto_str(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : "udp";
}

/* 127.0.0.0/8: a forward for the host's own sockets alone, as QEMU's hostfwd=tcp:127.0.0.1:PORT-:PORT */
static bool is_loopback(struct in_addr a)
{
	return (ntohl(a.s_addr) >> 24) == 127;
}

static bool addr_on_uplink(const char *uplink, struct in_addr a)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i && !found; i = i->ifa_next)
		found = i->ifa_addr && i->ifa_addr->sa_family == AF_INET && !strcmp(i->ifa_name, uplink) &&
			((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == a.s_addr;
	freeifaddrs(ifa);
	return found;
}

/* Is a host socket listening on (or, for UDP, bound to) this port? */
static bool host_port_busy(uint8_t proto, struct in_addr addr, uint16_t port)
{
	const char *path = proto == IPPROTO_TCP ? "/proc/net/tcp" : "/proc/net/udp";
	char line[256];
	bool busy = false;
	FILE *f = fopen(path, "re");

	if (!f)
		return false;
	while (!busy && fgets(line, sizeof(line), f)) {
		unsigned int laddr, lport, state;

		if (sscanf(line, " %*d: %8X:%4X %*8X:%*4X %2X", &laddr, &lport, &state) != 3)
			continue;
		if (lport != port || (proto == IPPROTO_TCP && state != 0x0A)) /* TCP_LISTEN */
			continue;
		busy = laddr == 0 || !addr.s_addr || laddr == addr.s_addr;
	}
	fclose(f);
	return busy;
}

/* Check a rule against the subnet, the uplink, the host's sockets and the other forwards. */
static int fwd_rule_check(struct dataplane *dp, const struct settings *s, const struct fwd_rule *r, bool force,
			  bool idempotent, bool *present)
{
	uint32_t host = ntohl(r->guest.s_addr) & ~ntohl(prefix_mask(s->prefix));
	struct qnat_fwd_key k, next, *prev = NULL;
	struct qnat_fwd v;
	unsigned int same = 0;

	*present = false;
	if ((r->guest.s_addr & prefix_mask(s->prefix)) != s->subnet.s_addr || host == 0 ||
	    host == ~ntohl(prefix_mask(s->prefix)) || r->guest.s_addr == s->gateway.s_addr) {
		log_warnx("guest %s is not a guest address of %s/%u", ip_str(r->guest), ip_str(s->subnet), s->prefix);
		return -EINVAL;
	}
	if (r->last - r->first >= FWD_RANGE_MAX || (uint32_t)r->guest_first + (r->last - r->first) > 65535) {
		log_warnx("port range %u-%u: at most %d ports, and the guest's ports must fit below 65536", r->first,
			  r->last, FWD_RANGE_MAX);
		return -EINVAL;
	}
	if (r->host_addr.s_addr && !is_loopback(r->host_addr) && !addr_on_uplink(s->uplink, r->host_addr)) {
		log_warnx("%s is not an address of the uplink %s (nor 127.0.0.0/8, for the host alone)",
			  ip_str(r->host_addr), s->uplink);
		return -EADDRNOTAVAIL;
	}
	/* Overlap with another rule: same port and protocol, and either address covers the other. */
	while (!bpf_map_get_next_key(dp->fwd_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.proto != r->proto || ntohs(k.port) < r->first || ntohs(k.port) > r->last ||
		    (k.addr && r->host_addr.s_addr && k.addr != r->host_addr.s_addr) ||
		    bpf_map_lookup_elem(dp->fwd_fd, &k, &v))
			continue;
		if (idempotent && k.addr == r->host_addr.s_addr && v.guest_addr == r->guest.s_addr &&
		    ntohs(v.rule_first) == r->first && ntohs(v.rule_last) == r->last &&
		    ntohs(v.rule_guest_first) == r->guest_first) {
			same++;
			continue;
		}
		log_warnx("%s port %u is already forwarded to %s:%u%s", proto_str(r->proto), ntohs(k.port),
			  ip_str_be(v.guest_addr), ntohs(v.guest_port),
			  dp_owns(dp, v.guest_addr) ? "" : ", by another network on the uplink (they share its ports)");
		return -EEXIST;
	}
	if (same) {
		*present = true;
		return 0;
	}
	for (uint32_t p = r->first; p <= r->last; p++) {
		if (!force && host_port_busy(r->proto, r->host_addr, p)) {
			log_warnx("host %s port %u is in use by a socket on the host (use --force to forward it anyway)",
				  proto_str(r->proto), p);
			return -EADDRINUSE;
		}
	}
	return 0;
}

/* 0 added, 1 already there (idempotent), else negative errno. */
int fwd_rule_add(struct dataplane *dp, const struct settings *s, const struct fwd_rule *r, bool force, bool idempotent)
{
	bool present;
	int err = fwd_rule_check(dp, s, r, force, idempotent, &present);

	if (err || present)
		return err ? err : 1;
	for (uint32_t p = r->first; p <= r->last; p++) {
		struct qnat_fwd_key k = { .addr = r->host_addr.s_addr, .port = htons(p), .proto = r->proto };
		struct qnat_fwd v = {
			.guest_addr = r->guest.s_addr,
			.guest_port = htons(r->guest_first + (p - r->first)),
			.rule_first = htons(r->first),
			.rule_last = htons(r->last),
			.rule_guest_first = htons(r->guest_first),
		};

		if (bpf_map_update_elem(dp->fwd_fd, &k, &v, BPF_NOEXIST)) {
			err = -errno;
			log_warn("cannot add forward of %s port %u", proto_str(r->proto), p);
			while (p-- > r->first) {
				k.port = htons(p);
				bpf_map_delete_elem(dp->fwd_fd, &k);
			}
			return err;
		}
	}
	return 0;
}

/* A network leaves a shared uplink: the forwards to its guests go. */
void fwd_forget_net(struct dataplane *dp)
{
	struct qnat_fwd_key k, next, *prev = NULL;
	struct qnat_fwd v;

	while (!bpf_map_get_next_key(dp->fwd_fd, prev, &next)) {
		k = next;
		if (!bpf_map_lookup_elem(dp->fwd_fd, &k, &v) && dp_owns(dp, v.guest_addr)) {
			bpf_map_delete_elem(dp->fwd_fd, &k);
			prev = NULL;
		} else {
			prev = &k;
		}
	}
}

/* Remove the rule that holds addr:port; returns -ENOENT when none does. */
int fwd_rule_del(struct dataplane *dp, uint8_t proto, struct in_addr addr, uint16_t port)
{
	struct qnat_fwd_key k = { .addr = addr.s_addr, .port = htons(port), .proto = proto };
	struct qnat_fwd v;

	if (bpf_map_lookup_elem(dp->fwd_fd, &k, &v))
		return -ENOENT;
	for (uint32_t p = ntohs(v.rule_first); p <= ntohs(v.rule_last); p++) {
		k.port = htons(p);
		bpf_map_delete_elem(dp->fwd_fd, &k);
	}
	return 0;
}

/*
 * `forward del`: the rule that holds [addr:]port.  Without an address, the
 * one rule on that port whatever its address.  A rule of several ports
 * goes only by its whole range, never by one of its ports.
 */
static int fwd_rule_del_asked(struct dataplane *dp, const struct settings *s, const struct fwd_rule *r)
{
	struct qnat_fwd_key k, next, *prev = NULL, found = { 0 };
	struct qnat_fwd v, fv;
	int n = 0;
	uint16_t first, last;
	bool every = false;

	while (!bpf_map_get_next_key(dp->fwd_fd, prev, &next)) {
		k = next;
		prev = &k;
		if (k.proto != r->proto || ntohs(k.port) != r->first || bpf_map_lookup_elem(dp->fwd_fd, &k, &v) ||
		    !dp_owns(dp, v.guest_addr) || (r->host_addr.s_addr && k.addr != r->host_addr.s_addr) || every)
			continue;
		every = !r->host_addr.s_addr && !k.addr; /* the every-address rule is the one meant */
		n = every ? 1 : n + 1; /* one key per address and port */
		found = k, fv = v;
	}
	if (!n) {
		log_warnx("no forward of %s %s%s%u", proto_str(r->proto), r->host_addr.s_addr ? ip_str(r->host_addr) : "",
			  r->host_addr.s_addr ? ":" : "port ", r->first);
		return -ENOENT;
	}
	if (n > 1) {
		log_warnx("%s port %u is forwarded on several addresses: name one (forward list %s)", proto_str(r->proto),
			  r->first, s->bridge);
		return -EINVAL;
	}
	first = ntohs(fv.rule_first), last = ntohs(fv.rule_last);
	if (r->first != first || r->last != last) {
		log_warnx("%s %s%s%u is part of the forward of %u-%u: delete the whole range "
			  "(forward del %s %s %s%s%u-%u), nothing was changed", proto_str(r->proto),
			  found.addr ? ip_str_be(found.addr) : "port ", found.addr ? ":" : "", r->first, first, last, s->bridge,
			  proto_str(r->proto), found.addr ? ip_str_be(found.addr) : "", found.addr ? ":" : "", first, last);
		return -EINVAL;
	}
	return fwd_rule_del(dp, r->proto, (struct in_addr){ found.addr }, first);
}

/* Does a guest have addr now: a DHCP lease, a static host, or a neighbour entry on the bridge? */
static bool guest_known(const struct settings *s, struct in_addr addr)
{
	char path[PATH_MAX], line[512], needle[24];
	const char *files[] = { "leases", "hostsfile" };
	struct nl_sock *sk;
	uint8_t mac[6];
	bool found = false;

	for (int i = 0; i < 2 && !found; i++) {
		FILE *f;

		if (i ? state_path(s->bridge, files[i], path, sizeof(path)) : lib_path(s->bridge, files[i], path, sizeof(path)))
			continue;
		snprintf(needle, sizeof(needle), i ? ",%s" : " %s ", ip_str(addr));
		if (!(f = fopen(path, "re")))
			continue;
		while (!found && fgets(line, sizeof(line), f)) {
			char *hit = strstr(line, needle);

			found = hit && (!i || hit[strlen(needle)] == ',' || hit[strlen(needle)] == '\n');
		}
		fclose(f);
	}
	if (!found && !nl_open(&sk)) {
		found = !nl_neigh_mac(sk, nl_ifindex(sk, s->bridge), addr, mac);
		nl_socket_free(sk);
	}
	return found;
}

struct fwd_row {
	struct qnat_fwd_key k;
	struct qnat_fwd v;
};

static int row_cmp(const void *a, const void *b)
{
	const struct fwd_row *x = a, *y = b;

	if (x->k.proto != y->k.proto)
		return x->k.proto - y->k.proto;
	if (ntohs(x->k.port) != ntohs(y->k.port))
		return ntohs(x->k.port) - ntohs(y->k.port);
	return ntohl(x->k.addr) < ntohl(y->k.addr) ? -1 : ntohl(x->k.addr) > ntohl(y->k.addr);
}

/* One line per rule, with the hits of all its ports; the text heading only above rules. */
void fwd_print(struct json *j, struct dataplane *dp, const char *heading)
{
	struct qnat_fwd_key k, *prev = NULL;
	struct fwd_row *rows = NULL;
	size_t n = 0, cap = 0;

	while (dp->fwd_fd >= 0 && !bpf_map_get_next_key(dp->fwd_fd, prev, &k)) {
		if (n == cap) {
			struct fwd_row *more = realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof(*rows));

			if (!more)
				break;
			rows = more;
		}
		rows[n].k = k;
		prev = &rows[n].k;
		if (!bpf_map_lookup_elem(dp->fwd_fd, &k, &rows[n].v) && dp_owns(dp, rows[n].v.guest_addr))
			n++;
	}
	if (n) /* no rows: rows is NULL, which qsort must not get */
		qsort(rows, n, sizeof(*rows), row_cmp);
	json_arr_open(j, "forwards");
	if (n && heading)
		json_text(j, heading);
	for (size_t i = 0; i < n;) {
		const struct fwd_row *r = &rows[i];
		unsigned long long hits = 0;
		uint16_t first = ntohs(r->v.rule_first), last = ntohs(r->v.rule_last), g = ntohs(r->v.rule_guest_first);
		size_t e = i;

		while (e < n && rows[e].k.proto == r->k.proto && rows[e].k.addr == r->k.addr &&
		       rows[e].v.rule_first == r->v.rule_first)
			hits += rows[e++].v.hits;
		json_obj_open(j, NULL);
		json_str(j, "proto", "  %s", proto_str(r->k.proto));
		json_str(j, "host_addr", " %s", r->k.addr ? ip_str_be(r->k.addr) : "*");
		json_uint(j, "host_port", ":%llu", first);
		json_uint(j, "host_port_end", last != first ? "-%llu" : NULL, last != first ? last : 0);
		json_str(j, "guest_addr", " -> %s", ip_str_be(r->v.guest_addr));
		json_uint(j, "guest_port", ":%llu", g);
		json_uint(j, "guest_port_end", last != first ? "-%llu" : NULL, last != first ? g + (last - first) : 0);
		json_uint(j, "hits", "  hits %llu\n", hits);
		json_obj_close(j);
		i = e;
	}
	json_arr_close(j);
	free(rows);
}

int cmd_forward(int argc, char **argv)
{
	const char *verb = argc > 1 ? argv[1] : "help";
	struct dataplane dp;
	struct settings s;
	struct owned o;
	struct fwd_rule r = { 0 };
	bool json = false, force = false;
	const char *pos[4];
	int npos = 0, err;

	if (!strcmp(verb, "help") || !strcmp(verb, "--help") || !strcmp(verb, "-h")) {
		fputs(forward_usage, stdout);
		return argc > 1 ? 0 : 1;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "--force"))
			force = true;
		else if (argv[i][0] == '-' && !(argv[i][1] >= '0' && argv[i][1] <= '9')) {
			print_error("forward: unknown option %s", argv[i]);
			return 1;
		} else if (npos < 4)
			pos[npos++] = argv[i];
		else {
			print_error("forward: unexpected argument %s", argv[i]);
			return 1;
		}
	}
	if (!strcmp(verb, "list") || !strcmp(verb, "show")) {
		struct json j;

		if (npos != 1) {
			print_error("usage: qnat-bpf forward list BRIDGE [--json]");
			return 1;
		}
		if (bridge_open(pos[0], &s, &o, &dp, NULL))
			return 1;
		json_begin(&j, json);
		json_obj_open(&j, NULL);
		fwd_print(&j, &dp, NULL);
		json_obj_close(&j);
		json_end(&j);
		dp_close(&dp);
		return 0;
	}
	if (strcmp(verb, "add") && strcmp(verb, "del")) {
		log_warnx("forward: unknown command %s (add, del, list)", verb);
		return 1;
	}
	if (npos != (strcmp(verb, "add") ? 3 : 4)) {
		fputs(forward_usage, stderr);
		return 1;
	}
	if (parse_proto(pos[1], &r.proto)) {
		log_warnx("forward: %s: the protocol is tcp or udp", pos[1]);
		return 1;
	}
	if (parse_host_side(pos[2], &r)) {
		log_warnx("forward: %s: expected [HOSTADDR:]HOSTPORT[-HOSTPORT_END], ports 1-65535", pos[2]);
		return 1;
	}
	if (npos == 4 && parse_guest_side(pos[3], &r)) {
		log_warnx("forward: %s: expected GUESTIP[:GUESTPORT]", pos[3]);
		return 1;
	}
	if (geteuid() != 0) {
		log_warnx("forward %s needs root", verb);
		return 1;
	}
	if (bridge_open(pos[0], &s, &o, &dp, NULL))
		return 1;
	if (!strcmp(verb, "add")) {
		err = fwd_rule_add(&dp, &s, &r, force, true);
		if (err == 1)
			printf("%s %s already forwarded to %s, as asked: nothing to do\n", proto_str(r.proto), pos[2], pos[3]);
		if (err >= 0 && !guest_known(&s, r.guest))
			log_warnx("warning: no guest has %s now (no DHCP lease, static host or neighbour): the forward is "
				  "added and works once a guest takes that address", ip_str(r.guest));
		if (err >= 0 && is_loopback(r.host_addr) && !o.sock_hooks)
			log_warnx("warning: the socket hooks are not attached, so %s reaches nothing", pos[2]);
		err = err > 0 ? 0 : err;
	} else {
		err = fwd_rule_del_asked(&dp, &s, &r);
	}
	dp_close(&dp);
	return err ? 1 : 0;
}
