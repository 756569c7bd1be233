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
	"       qnat-bpf forward add BRIDGE tcp|udp [HOST6]:HOSTPORT[-HOSTPORT_END] [GUEST6][:GUESTPORT] [--force]\n"
	"       qnat-bpf forward del BRIDGE tcp|udp [HOSTADDR:]HOSTPORT[-HOSTPORT_END]\n"
	"       qnat-bpf forward del BRIDGE tcp|udp [HOST6]:HOSTPORT[-HOSTPORT_END]\n"
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

/* "ADDR" or "[ADDR6]" before a ':'; *v6 says which.  Returns what follows the address, or NULL. */
static const char *parse_addr_part(char *buf, struct fwd_rule *r, bool guest, bool *v6)
{
	char *close, *colon;
	int err;

	if (buf[0] == '[') {
		close = strchr(buf, ']');
		if (!close || (close[1] && close[1] != ':'))
			return NULL;
		*close = '\0';
		*v6 = true;
		err = parse_ipv6(buf + 1, guest ? &r->guest6 : &r->host6);
		return err ? NULL : close + 1;
	}
	*v6 = false;
	colon = strchr(buf, ':');
	if (colon)
		*colon = '\0';
	if (parse_ipv4(buf, guest ? &r->guest : &r->host_addr))
		return NULL;
	return colon ? (*colon = ':', colon) : buf + strlen(buf);
}

/* "[HOSTADDR:]PORT[-END]", HOSTADDR as "[HOST6]" for IPv6 */
static int parse_host_side(const char *arg, struct fwd_rule *r)
{
	char buf[64], *port = buf, *dash;
	const char *rest;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	r->host_addr.s_addr = 0;
	r->v6 = false;
	if (strchr(buf, ':')) {
		rest = parse_addr_part(buf, r, false, &r->v6);
		if (!rest || *rest != ':' || (!r->v6 && !r->host_addr.s_addr))
			return -EINVAL;
		port = (char *)rest + 1;
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

/* "GUESTIP[:GUESTPORT]" or "[GUEST6][:GUESTPORT]"; *v6 says which. */
static int parse_guest_side(const char *arg, struct fwd_rule *r, bool *v6)
{
	char buf[64];
	const char *rest;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	rest = parse_addr_part(buf, r, true, v6);
	if (!rest)
		return -EINVAL;
	r->guest_first = r->first;
	if (*rest && parse_port(rest + 1, &r->guest_first))
		return -EINVAL;
	return 0;
}

/* --forward's IPv6 form: PROTO:[HOST6]:HOSTPORT[-END]:[GUEST6][:GUESTPORT], split where brackets say. */
static int parse_compact6(char *buf, struct fwd_rule *r)
{
	char *host = strchr(buf, ':'), *guest;
	bool v6;

	if (!host || host[1] != '[' || !(guest = strstr(host, "]:")) || !(guest = strchr(guest + 2, ':')))
		return -EINVAL;
	*host++ = '\0';
	*guest++ = '\0';
	if (parse_proto(buf, &r->proto) || parse_host_side(host, r) || parse_guest_side(guest, r, &v6))
		return -EINVAL;
	return r->v6 && v6 ? 0 : -EINVAL;
}

/* attach's --forward PROTO:[HOSTADDR:]HOSTPORT[-END]:GUESTIP[:GUESTPORT], or parse_compact6's */
int fwd_rule_parse_compact(const char *s, struct fwd_rule *r)
{
	char buf[128], *tok[5];
	int n = 0;
	char host[64], guest[64];
	bool v6;

	if (strlen(s) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, s);
	if (strchr(buf, '['))
		return parse_compact6(buf, r);
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
	return parse_host_side(host, r) || parse_guest_side(guest, r, &v6) || r->v6 || v6 ? -EINVAL : 0;
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

/*
 * An entry of qnat_fwd or qnat_fwd6, as the code below sees both.  An IPv4
 * address is addr[0] (0: every address of the uplink), the rest 0.
 */
struct fwd_ent {
	bool v6;
	uint8_t proto;
	uint16_t port, guest_port, first, last, guest_first; /* host byte order */
	uint32_t host[4], guest[4];
	uint64_t hits;
};

static const char *addr_str(bool v6, const uint32_t a[4])
{
	return v6 ? ip6_str((const struct in6_addr *)a) : ip_str_be(a[0]);
}

/* The rule's addresses, as an entry holds them. */
static void rule_addrs(const struct fwd_rule *r, uint32_t host[4], uint32_t guest[4])
{
	memset(host, 0, 16);
	memset(guest, 0, 16);
	if (r->v6) {
		memcpy(host, &r->host6, 16);
		memcpy(guest, &r->guest6, 16);
	} else {
		host[0] = r->host_addr.s_addr;
		guest[0] = r->guest.s_addr;
	}
}

static bool ent_ours(const struct dataplane *dp, const struct fwd_ent *e)
{
	return e->v6 ? dp_owns6(dp, e->guest) : dp_owns(dp, e->guest[0]);
}

/* Write (BPF_NOEXIST) or delete e in its family's map. */
static int ent_write(struct dataplane *dp, const struct fwd_ent *e, bool del)
{
	struct qnat_fwd_key k = { .addr = e->host[0], .port = htons(e->port), .proto = e->proto };
	struct qnat_fwd v = { .guest_addr = e->guest[0] };
	struct qnat_fwd6_key k6 = { .port = htons(e->port), .proto = e->proto };
	struct qnat_fwd6 v6 = { .guest_port = htons(e->guest_port) };
	int fd = e->v6 ? dp->fwd6_fd : dp->fwd_fd;
	void *key = e->v6 ? (void *)&k6 : (void *)&k;

	memcpy(k6.addr, e->host, sizeof(k6.addr));
	memcpy(v6.guest_addr, e->guest, sizeof(v6.guest_addr));
	v.guest_port = v6.guest_port;
	v.rule_first = v6.rule_first = htons(e->first);
	v.rule_last = v6.rule_last = htons(e->last);
	v.rule_guest_first = v6.rule_guest_first = htons(e->guest_first);
	if (fd < 0)
		return -EOPNOTSUPP;
	if (del)
		return bpf_map_delete_elem(fd, key) ? -errno : 0;
	return bpf_map_update_elem(fd, key, e->v6 ? (void *)&v6 : (void *)&v, BPF_NOEXIST) ? -errno : 0;
}

/* Every entry of both maps, every network's (they share the uplink's ports); free(*out). */
static size_t fwd_collect(struct dataplane *dp, struct fwd_ent **out)
{
	struct fwd_ent *rows = NULL;
	size_t n = 0, cap = 0;

	for (int v6 = 0; v6 < 2; v6++) {
		int fd = v6 ? dp->fwd6_fd : dp->fwd_fd;
		union {
			struct qnat_fwd_key k4;
			struct qnat_fwd6_key k6;
		} k, prev;
		union {
			struct qnat_fwd v4;
			struct qnat_fwd6 v6;
		} v;
		bool first = true;

		while (fd >= 0 && !bpf_map_get_next_key(fd, first ? NULL : &prev, &k)) {
			struct fwd_ent *e;

			first = false;
			prev = k;
			if (bpf_map_lookup_elem(fd, &k, &v))
				continue;
			if (n == cap) {
				struct fwd_ent *more = realloc(rows, (cap = cap ? cap * 2 : 64) * sizeof(*rows));

				if (!more)
					break;
				rows = more;
			}
			e = &rows[n++];
			memset(e, 0, sizeof(*e));
			e->v6 = v6;
			if (v6) {
				memcpy(e->host, k.k6.addr, 16);
				memcpy(e->guest, v.v6.guest_addr, 16);
				e->port = ntohs(k.k6.port), e->proto = k.k6.proto;
				e->guest_port = ntohs(v.v6.guest_port), e->first = ntohs(v.v6.rule_first);
				e->last = ntohs(v.v6.rule_last), e->guest_first = ntohs(v.v6.rule_guest_first);
				e->hits = v.v6.hits;
			} else {
				e->host[0] = k.k4.addr, e->guest[0] = v.v4.guest_addr;
				e->port = ntohs(k.k4.port), e->proto = k.k4.proto;
				e->guest_port = ntohs(v.v4.guest_port), e->first = ntohs(v.v4.rule_first);
				e->last = ntohs(v.v4.rule_last), e->guest_first = ntohs(v.v4.rule_guest_first);
				e->hits = v.v4.hits;
			}
		}
	}
	*out = rows;
	return n;
}

/* Remove the whole rule entry e belongs to. */
static void fwd_ent_del_rule(struct dataplane *dp, const struct fwd_ent *e)
{
	struct fwd_ent k = *e;

	for (uint32_t p = e->first; p <= e->last; p++) {
		k.port = p;
		ent_write(dp, &k, true);
	}
}

/* Is a host socket listening on (or, for UDP, bound to) this port, of the rule's family? */
static bool host_port_busy(const struct fwd_rule *r, const uint32_t host[4], uint16_t port)
{
	static const char *const paths[2][2] = { { "/proc/net/tcp", "/proc/net/udp" },
						 { "/proc/net/tcp6", "/proc/net/udp6" } };
	char line[256], addr[33], want[33] = "", zero[33];
	bool busy = false, every = !(host[0] | host[1] | host[2] | host[3]);
	FILE *f = fopen(paths[r->v6][r->proto == IPPROTO_UDP], "re");

	if (!f)
		return false;
	/* The kernel prints each 32-bit word of the address as a native-endian hex number. */
	for (int i = 0; i < (r->v6 ? 4 : 1); i++)
		snprintf(want + 8 * i, sizeof(want) - 8 * i, "%08X", host[i]);
	memset(zero, '0', strlen(want));
	zero[strlen(want)] = '\0';
	while (!busy && fgets(line, sizeof(line), f)) {
		unsigned int lport, state;

		if (sscanf(line, " %*d: %32[0-9A-F]:%4X %*s %2X", addr, &lport, &state) != 3)
			continue;
		if (lport != port || (r->proto == IPPROTO_TCP && state != 0x0A)) /* TCP_LISTEN */
			continue;
		busy = !strcmp(addr, zero) || every || !strcmp(addr, want);
	}
	fclose(f);
	return busy;
}

/* Is guest a guest address of the network, of its family; which host addresses may forward to it? */
static int fwd_addrs_check(struct dataplane *dp, const struct settings *s, const struct fwd_rule *r)
{
	uint32_t host = ntohl(r->guest.s_addr) & ~ntohl(prefix_mask(s->prefix));
	static const uint8_t zero[8];
	struct qnat_config cfg = { 0 };
	uint32_t slot = dp->net;

	if (r->v6) {
		if (s->ip6 != IP6_MASQ) {
			log_warnx("an IPv6 forward needs --masq6: %s does not translate IPv6", s->bridge);
			return -EINVAL;
		}
		/* Nor the subnet-router anycast address (RFC 4291), nor the bridge's. */
		if (!in_prefix6(&r->guest6, &s->prefix6) || !memcmp(r->guest6.s6_addr + 8, zero, 8) ||
		    IN6_ARE_ADDR_EQUAL(&r->guest6, &s->gateway6)) {
			log_warnx("guest %s is not a guest address of %s/64", ip6_str(&r->guest6), ip6_str(&s->prefix6));
			return -EINVAL;
		}
		/* The forwarded flow leaves as a NAT66 flow does: from ext6. */
		bpf_map_lookup_elem(dp->config_fd, &slot, &cfg);
		if (memcmp(&r->host6, cfg.ext6, sizeof(cfg.ext6))) {
			log_warnx("%s is not the uplink's IPv6 address (%s), which --masq6 translates to",
				  ip6_str(&r->host6), ip6_str((struct in6_addr *)cfg.ext6));
			return -EADDRNOTAVAIL;
		}
		return 0;
	}
	if ((r->guest.s_addr & prefix_mask(s->prefix)) != s->subnet.s_addr || host == 0 ||
	    host == ~ntohl(prefix_mask(s->prefix)) || r->guest.s_addr == s->gateway.s_addr) {
		log_warnx("guest %s is not a guest address of %s/%u", ip_str(r->guest), ip_str(s->subnet), s->prefix);
		return -EINVAL;
	}
	if (r->host_addr.s_addr && !is_loopback(r->host_addr) && !addr_on_uplink(s->uplink, r->host_addr)) {
		log_warnx("%s is not an address of the uplink %s (nor 127.0.0.0/8, for the host alone)",
			  ip_str(r->host_addr), s->uplink);
		return -EADDRNOTAVAIL;
	}
	return 0;
}

/* Check a rule against the subnet, the uplink, the host's sockets and the other forwards. */
static int fwd_rule_check(struct dataplane *dp, const struct settings *s, const struct fwd_rule *r, bool force,
			  bool idempotent, bool *present)
{
	uint32_t host[4], guest[4];
	struct fwd_ent *rows;
	unsigned int same = 0;
	size_t n;
	int err;

	*present = false;
	if ((err = fwd_addrs_check(dp, s, r)))
		return err;
	if (r->last - r->first >= FWD_RANGE_MAX || (uint32_t)r->guest_first + (r->last - r->first) > 65535) {
		log_warnx("port range %u-%u: at most %d ports, and the guest's ports must fit below 65536", r->first,
			  r->last, FWD_RANGE_MAX);
		return -EINVAL;
	}
	rule_addrs(r, host, guest);
	n = fwd_collect(dp, &rows);
	/* Overlap with another rule: same port and protocol, and either address covers the other. */
	for (size_t i = 0; i < n && !err; i++) {
		const struct fwd_ent *e = &rows[i];
		bool every = !r->v6 && (!e->host[0] || !host[0]);

		if (e->v6 != r->v6 || e->proto != r->proto || e->port < r->first || e->port > r->last ||
		    (!every && memcmp(e->host, host, 16)))
			continue;
		if (idempotent && !memcmp(e->host, host, 16) && !memcmp(e->guest, guest, 16) && e->first == r->first &&
		    e->last == r->last && e->guest_first == r->guest_first) {
			same++;
			continue;
		}
		log_warnx(e->v6 ? "%s port %u is already forwarded to [%s]:%u%s" : "%s port %u is already forwarded to %s:%u%s",
			  proto_str(r->proto), e->port,
			  addr_str(e->v6, e->guest), e->guest_port,
			  ent_ours(dp, e) ? "" : ", by another network on the uplink (they share its ports)");
		err = -EEXIST;
	}
	free(rows);
	if (err || same) {
		*present = !err;
		return err;
	}
	for (uint32_t p = r->first; p <= r->last; p++) {
		if (!force && host_port_busy(r, host, p)) {
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
	struct fwd_ent e = { .v6 = r->v6, .proto = r->proto, .first = r->first, .last = r->last,
			     .guest_first = r->guest_first };
	bool present;
	int err = fwd_rule_check(dp, s, r, force, idempotent, &present);

	if (err || present)
		return err ? err : 1;
	rule_addrs(r, e.host, e.guest);
	for (uint32_t p = r->first; p <= r->last; p++) {
		e.port = p;
		e.guest_port = r->guest_first + (p - r->first);
		if ((err = ent_write(dp, &e, false))) {
			log_warnx("cannot add forward of %s port %u: %s", proto_str(r->proto), p, strerror(-err));
			e.last = p - 1;
			if (p > r->first)
				fwd_ent_del_rule(dp, &e);
			return err;
		}
	}
	return 0;
}

/* A network leaves a shared uplink: the forwards to its guests go. */
void fwd_forget_net(struct dataplane *dp)
{
	struct fwd_ent *rows;
	size_t n = fwd_collect(dp, &rows);

	for (size_t i = 0; i < n; i++)
		if (ent_ours(dp, &rows[i]))
			ent_write(dp, &rows[i], true);
	free(rows);
}

/* Remove the rule that holds r's host address and first port; returns -ENOENT when none does. */
int fwd_rule_del(struct dataplane *dp, const struct fwd_rule *r)
{
	uint32_t host[4], guest[4];
	struct fwd_ent *rows;
	size_t n = fwd_collect(dp, &rows);
	int err = -ENOENT;

	rule_addrs(r, host, guest);
	for (size_t i = 0; i < n && err; i++)
		if (rows[i].v6 == r->v6 && rows[i].proto == r->proto && rows[i].port == r->first &&
		    !memcmp(rows[i].host, host, 16)) {
			fwd_ent_del_rule(dp, &rows[i]);
			err = 0;
		}
	free(rows);
	return err;
}

/*
 * `forward del`: the rule that holds [addr:]port.  Without an address, the
 * one IPv4 rule on that port whatever its address.  A rule of several ports
 * goes only by its whole range, never by one of its ports.
 */
static int fwd_rule_del_asked(struct dataplane *dp, const struct settings *s, const struct fwd_rule *r)
{
	const struct fwd_ent *found = NULL;
	uint32_t host[4], guest[4];
	bool any, every = false;
	struct fwd_ent *rows;
	size_t n = fwd_collect(dp, &rows);
	int hits = 0, err = 0;
	char where[INET6_ADDRSTRLEN + 8];

	rule_addrs(r, host, guest);
	any = !r->v6 && !host[0];
	for (size_t i = 0; i < n && !every; i++) {
		const struct fwd_ent *e = &rows[i];

		if (e->v6 != r->v6 || e->proto != r->proto || e->port != r->first || !ent_ours(dp, e) ||
		    (!any && memcmp(e->host, host, 16)))
			continue;
		every = any && !e->host[0]; /* the every-address rule is the one meant */
		hits = every ? 1 : hits + 1; /* one key per address and port */
		found = e;
	}
	if (found && found->host[0])
		snprintf(where, sizeof(where), found->v6 ? "[%s]:" : "%s:", addr_str(found->v6, found->host));
	else
		snprintf(where, sizeof(where), "port ");
	if (!hits) {
		if (!any)
			snprintf(where, sizeof(where), r->v6 ? "[%s]:" : "%s:", addr_str(r->v6, host));
		log_warnx("no forward of %s %s%u", proto_str(r->proto), where, r->first);
		err = -ENOENT;
	} else if (hits > 1) {
		log_warnx("%s port %u is forwarded on several addresses: name one (forward list %s)", proto_str(r->proto),
			  r->first, s->bridge);
		err = -EINVAL;
	} else if (r->first != found->first || r->last != found->last) {
		log_warnx("%s %s%u is part of the forward of %u-%u: delete the whole range "
			  "(forward del %s %s %s%u-%u), nothing was changed", proto_str(r->proto), where, r->first,
			  found->first, found->last, s->bridge, proto_str(r->proto), found->host[0] ? where : "",
			  found->first, found->last);
		err = -EINVAL;
	} else {
		fwd_ent_del_rule(dp, found);
	}
	free(rows);
	return err;
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

static int row_cmp(const void *a, const void *b)
{
	const struct fwd_ent *x = a, *y = b;
	int c;

	if (x->v6 != y->v6)
		return x->v6 - y->v6;
	if (x->proto != y->proto)
		return x->proto - y->proto;
	if (x->port != y->port)
		return x->port - y->port;
	for (int i = 0; i < 4; i++)
		if ((c = (ntohl(x->host[i]) > ntohl(y->host[i])) - (ntohl(x->host[i]) < ntohl(y->host[i]))))
			return c;
	return 0;
}

/* One line per rule, with the hits of all its ports; the text heading only above rules. */
void fwd_print(struct json *j, struct dataplane *dp, const char *heading)
{
	struct fwd_ent *rows;
	size_t n = fwd_collect(dp, &rows), m = 0;

	for (size_t i = 0; i < n; i++) /* ours only */
		if (ent_ours(dp, &rows[i]))
			rows[m++] = rows[i];
	if (m) /* no rows: rows may be NULL, which qsort must not get */
		qsort(rows, m, sizeof(*rows), row_cmp);
	json_arr_open(j, "forwards");
	if (m && heading)
		json_text(j, heading);
	for (size_t i = 0; i < m;) {
		const struct fwd_ent *r = &rows[i];
		unsigned long long hits = 0;
		uint16_t first = r->first, last = r->last, g = r->guest_first;
		size_t e = i;

		while (e < m && rows[e].v6 == r->v6 && rows[e].proto == r->proto && !memcmp(rows[e].host, r->host, 16) &&
		       rows[e].first == r->first)
			hits += rows[e++].hits;
		json_obj_open(j, NULL);
		json_str(j, "proto", "  %s", proto_str(r->proto));
		json_str(j, "host_addr", r->v6 ? " [%s]" : " %s", r->v6 || r->host[0] ? addr_str(r->v6, r->host) : "*");
		json_uint(j, "host_port", ":%llu", first);
		json_uint(j, "host_port_end", last != first ? "-%llu" : NULL, last != first ? last : 0);
		json_str(j, "guest_addr", r->v6 ? " -> [%s]" : " -> %s", addr_str(r->v6, r->guest));
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
	bool json = false, force = false, guest6 = false;
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
		log_warnx("forward: %s: expected [HOSTADDR:]HOSTPORT[-HOSTPORT_END] ([HOST6]:HOSTPORT for IPv6), "
			  "ports 1-65535", pos[2]);
		return 1;
	}
	if (npos == 4 && parse_guest_side(pos[3], &r, &guest6)) {
		log_warnx("forward: %s: expected GUESTIP[:GUESTPORT] or [GUEST6][:GUESTPORT]", pos[3]);
		return 1;
	}
	/* An IPv6 rule names its host address: without one, the IPv4 rule is meant. */
	if (npos == 4 && guest6 != r.v6) {
		log_warnx("forward: %s %s: one rule is IPv4 or IPv6, not both (IPv6: [HOST6]:PORT [GUEST6]:PORT)", pos[2],
			  pos[3]);
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
		if (err >= 0 && !r.v6 && !guest_known(&s, r.guest))
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
