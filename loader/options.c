// SPDX-License-Identifier: GPL-2.0
/*
 * attach's options: one table entry per setting (name, type, field, bounds,
 * default, help, whether SIGHUP applies it).  The table drives the command
 * line, --help, the config file (config.c), the state file (state.c) and the
 * "settings differ" message.  A new setting is one entry here plus the code
 * that uses it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

static const char *const xdp_names[] = { "auto", "native", "generic", "off", NULL };
static const char *const ct_full_names[] = { "refuse", "evict", NULL };
static const char *const mode_names[] = { "nat", "route", "open", "isolated", NULL };
static const char *const filtering_names[] = { "address-port-dependent", "endpoint-independent", NULL };

const char *xdp_mode_name(enum xdp_mode m)
{
	return xdp_names[m];
}

const char *net_mode_name(enum net_mode m)
{
	return mode_names[m];
}

const char *ct_full_name(enum ct_full_policy p)
{
	return ct_full_names[p];
}

/* "START,END" (or "START-END", as descriptions show it): two IPv4 addresses. */
static int parse_dhcp_range(const char *arg, struct settings *s, struct extras *x)
{
	char buf[64], *end = split_at(arg, ",-", buf, sizeof(buf));

	return !end || parse_ipv4(buf, &s->dhcp_start) || parse_ipv4(end, &s->dhcp_end) ? -EINVAL : 0;
}

static int show_dhcp_range(const struct settings *s, int i, char *buf, size_t len)
{
	return s->dhcp ? snprintf(buf, len, "%s-%s", ip_str(s->dhcp_start), ip_str(s->dhcp_end)) : 0;
}

static int parse_masq(const char *arg, struct settings *s, struct extras *x)
{
	return parse_cidr(arg, &s->subnet, &s->prefix);
}

static int show_masq(const struct settings *s, int i, char *buf, size_t len)
{
	return snprintf(buf, len, "%s/%u", ip_str(s->subnet), s->prefix);
}

static int parse_ip6_net(const char *arg, struct settings *s, enum ip6_mode mode)
{
	if (parse_prefix6(arg, &s->prefix6))
		return -EINVAL;
	s->ip6 = mode;
	return 0;
}

static int show_ip6_net(const struct settings *s, enum ip6_mode mode, char *buf, size_t len)
{
	return s->ip6 == mode ? snprintf(buf, len, "%s/64", ip6_str(&s->prefix6)) : 0;
}

static int parse_masq6(const char *arg, struct settings *s, struct extras *x)
{
	return parse_ip6_net(arg, s, IP6_MASQ);
}

static int show_masq6(const struct settings *s, int i, char *buf, size_t len)
{
	return show_ip6_net(s, IP6_MASQ, buf, len);
}

static int parse_route6(const char *arg, struct settings *s, struct extras *x)
{
	return parse_ip6_net(arg, s, IP6_ROUTE);
}

static int show_route6(const struct settings *s, int i, char *buf, size_t len)
{
	return show_ip6_net(s, IP6_ROUTE, buf, len);
}

static int parse_gateway6(const char *arg, struct settings *s, struct extras *x)
{
	return parse_ipv6(arg, &s->gateway6);
}

static int show_gateway6(const struct settings *s, int i, char *buf, size_t len)
{
	return s->ip6 ? snprintf(buf, len, "%s", ip6_str(&s->gateway6)) : 0;
}

static int parse_dhcp6_range(const char *arg, struct settings *s, struct extras *x)
{
	char buf[INET6_ADDRSTRLEN + 1], *end = split_at(arg, ",", buf, sizeof(buf));

	if (!end || parse_ipv6(buf, &s->dhcp6_start) || parse_ipv6(end, &s->dhcp6_end))
		return -EINVAL;
	s->dhcp6 = true;
	return 0;
}

static int show_dhcp6_range(const struct settings *s, int i, char *buf, size_t len)
{
	return s->dhcp6 ? snprintf(buf, len, "%s,%s", ip6_str(&s->dhcp6_start), ip6_str(&s->dhcp6_end)) : 0;
}

static int parse_ports(const char *arg, struct settings *s, struct extras *x)
{
	return parse_port_range(arg, &s->port_min, &s->port_max);
}

static int show_ports(const struct settings *s, int i, char *buf, size_t len)
{
	return snprintf(buf, len, "%u-%u", s->port_min, s->port_max);
}

static int parse_metrics(const char *arg, struct settings *s, struct extras *x)
{
	struct sockaddr_in sa;

	if (metrics_parse(arg, &sa) || strlen(arg) >= sizeof(s->metrics))
		return -EINVAL;
	strcpy(s->metrics, arg);
	return 0;
}

/* A string setting is shown only when it is set. */
static int show_set_string(const char *v, char *buf, size_t len)
{
	return v[0] ? snprintf(buf, len, "%s", v) : 0;
}

static int show_metrics(const struct settings *s, int i, char *buf, size_t len)
{
	return show_set_string(s->metrics, buf, len);
}

/* Repeated --host-allow add up; the map holds QNAT_HOST_ALLOW_MAX rules. */
static int parse_host_allow(const char *arg, struct settings *s, struct extras *x)
{
	char joined[sizeof(s->host_allow)];
	size_t len = strlen(s->host_allow);

	if (host_allow_parse(arg, NULL, NULL, NULL) ||
	    snprintf(joined, sizeof(joined), "%s%s%s", s->host_allow, len ? "," : "", arg) >= (int)sizeof(joined) ||
	    host_allow_parse(joined, NULL, NULL, NULL))
		return -EINVAL;
	strcpy(s->host_allow, joined);
	return 0;
}

static int show_host_allow(const struct settings *s, int i, char *buf, size_t len)
{
	return show_set_string(s->host_allow, buf, len);
}

static int parse_timeout(const char *arg, struct settings *s, struct extras *x)
{
	char buf[64], *secs_text = split_at(arg, "=", buf, sizeof(buf));
	int i = secs_text ? timeout_lookup(buf) : -1;
	uint32_t secs;

	if (i < 0 || parse_u32(secs_text, 1, 30 * 86400, &secs))
		return -EINVAL;
	s->timeouts[i] = secs;
	return 0;
}

static int show_timeout(const struct settings *s, int i, char *buf, size_t len)
{
	return snprintf(buf, len, "%s=%u", timeout_name(i), s->timeouts[i]);
}

static int parse_forward(const char *arg, struct settings *s, struct extras *x)
{
	if (x->nfwd == ATTACH_FORWARDS_MAX || fwd_rule_parse_compact(arg, &x->fwd[x->nfwd]))
		return -EINVAL;
	x->nfwd++;
	return 0;
}

static int parse_host(const char *arg, struct settings *s, struct extras *x)
{
	struct static_host *h = &x->host[x->nhost];

	if (x->nhost == ATTACH_HOSTS_MAX || sscanf(arg, "%17[^,],%15[^,],%63s", h->mac, h->ip, h->name) < 2)
		return -EINVAL;
	x->nhost++;
	return 0;
}

/* A value dnsmasq gets as it is: one line of printable text. */
static bool printable(const char *v)
{
	for (; *v; v++)
		if ((unsigned char)*v < 0x20 || *v == 0x7f)
			return false;
	return true;
}

/* --domain: a DNS name, or a single label. */
static int parse_domain(const char *arg, struct settings *s, struct extras *x)
{
	if (strlen(arg) >= sizeof(s->domain) || !valid_hostname(arg))
		return -EINVAL;
	strcpy(s->domain, arg);
	return 0;
}

static int show_domain(const struct settings *s, int i, char *buf, size_t len)
{
	return show_set_string(s->domain, buf, len);
}

/* dnsmasq's lease times: N, Ns, Nm, Nh, Nd, Nw, or infinite. */
static int parse_lease_time(const char *arg, struct settings *s, struct extras *x)
{
	char *end;
	unsigned long n = strtoul(arg, &end, 10);

	if (strcmp(arg, "infinite") && (end == arg || n == 0 || n > 1000000 || (*end && (end[1] || !strchr("smhdw", *end)))))
		return -EINVAL;
	snprintf(s->lease_time, sizeof(s->lease_time), "%s", arg);
	return 0;
}

static int show_lease_time(const struct settings *s, int i, char *buf, size_t len)
{
	return show_set_string(s->lease_time, buf, len);
}

/* --dns-host IP,NAME */
static int check_dns_host(const char *arg, struct settings *s, struct extras *x)
{
	char ip[64], *name = split_at(arg, ",", ip, sizeof(ip));
	struct in_addr a;

	return name && !parse_ipv4(ip, &a) && valid_hostname(name) ? 0 : -EINVAL;
}

static int parse_foreground(const char *arg, struct settings *s, struct extras *x)
{
	x->foreground = true;
	return 0;
}

static int parse_dry_run(const char *arg, struct settings *s, struct extras *x)
{
	x->dry_run = true;
	return 0;
}

static int parse_libvirt_xml(const char *arg, struct settings *s, struct extras *x)
{
	return 0; /* read before the command line's options (attach_args.c) */
}

static int parse_verbose(const char *arg, struct settings *s, struct extras *x)
{
	x->verbose++;
	return 0;
}

static int parse_nothing(const char *arg, struct settings *s, struct extras *x)
{
	return 0; /* --config and --help: acted on before and after parsing */
}

#define FIELD(f) .off = offsetof(struct settings, f), .size = sizeof(((struct settings *)0)->f)
#define CUSTOM(p, sh) .kind = OPT_CUSTOM, .parse = (p), .show = (sh)
#define LIST(f, check) .kind = OPT_LIST, FIELD(f), .parse = (check), .count = QNAT_LIST_MAX, .flags = OPT_NAT | OPT_REPEAT

/* In this order: --help lists them, descriptions and the state file write them. */
const struct opt attach_opts[] = {
	{ .name = "bridged", .kind = OPT_FLAG, FIELD(bridged),
	  .help = "no NAT: the uplink becomes a port and guests are on its LAN" },
	{ .name = "masq", .short_name = 'm', .arg = "CIDR", CUSTOM(parse_masq, show_masq), .flags = OPT_NAT | OPT_ALWAYS,
	  .help = "the guests' IPv4 network, masqueraded behind the uplink (required without --bridged)",
	  .bad = "not an IPv4 network like 192.168.122.0/24 (prefix 1-30, host bits zero)" },
	{ .name = "mode", .kind = OPT_ENUM, FIELD(mode), .names = mode_names, .flags = OPT_NAT,
	  .help = "libvirt's forward modes: nat masquerades; route forwards untranslated; open adds no policy; "
		  "isolated: nothing leaves, no uplink" },
	{ .name = "gateway", .short_name = 'g', .arg = "IP", .kind = OPT_IPV4, FIELD(gateway),
	  .flags = OPT_NAT | OPT_ALWAYS, .help = "the bridge's address, the guests' router (default: the first host)",
	  .bad = "not an IPv4 address" },
	{ .name = "masq6", .arg = "PREFIX/64", CUSTOM(parse_masq6, show_masq6), .flags = OPT_NAT,
	  .help = "the guests' IPv6 /64 (SLAAC), masqueraded behind the uplink's global IPv6 address (NAT66)",
	  .bad = "not an IPv6 /64 like fd00:122::/64 (SLAAC needs a /64; host bits zero)" },
	{ .name = "route6", .arg = "PREFIX/64", CUSTOM(parse_route6, show_route6), .flags = OPT_NAT,
	  .help = "the guests' IPv6 /64 (SLAAC), routed: guests keep their addresses (the LAN must route it here)",
	  .bad = "not an IPv6 /64 like 2001:db8:122::/64 (SLAAC needs a /64; host bits zero)" },
	{ .name = "gateway6", .arg = "IP6", CUSTOM(parse_gateway6, show_gateway6), .flags = OPT_NAT,
	  .help = "the bridge's IPv6 address, the guests' router (default: ::1 of the prefix)",
	  .bad = "not an IPv6 address" },
	{ .name = "dhcp6-range", .arg = "START,END", CUSTOM(parse_dhcp6_range, show_dhcp6_range), .flags = OPT_NAT,
	  .help = "DHCPv6 leases from this range, besides SLAAC (default: SLAAC alone, libvirt's ra-only)",
	  .bad = "expected START,END (two IPv6 addresses)" },
	{ .name = "uplink", .short_name = 'u', .arg = "IFNAME", .kind = OPT_IFNAME, FIELD(uplink), .flags = OPT_ALWAYS,
	  .help = "the host's outside interface (default: the default route's)",
	  .bad = "not a valid interface name" },
	{ .name = "dhcp-range", .key = "dhcp", .arg = "START,END", CUSTOM(parse_dhcp_range, show_dhcp_range),
	  .flags = OPT_NAT | OPT_ALWAYS, .help = "the addresses dnsmasq leases (default: the whole network)",
	  .bad = "expected START,END (two IPv4 addresses)" },
	{ .neg = "no-dhcp", .kind = OPT_FLAG, FIELD(dhcp), .def = 1, .flags = OPT_NAT_SHOWN,
	  .help = "no dnsmasq: guests bring their own addresses" },
	{ .name = "port-range", .key = "ports", .arg = "LO-HI", CUSTOM(parse_ports, show_ports), .flags = OPT_ALWAYS,
	  .init = "1024-65535", .help = "the outside ports flows get",
	  .bad = "expected LO-HI with 1 <= LO <= HI <= 65535" },
	{ .name = "ct-max", .arg = "N", .kind = OPT_U32, FIELD(ct_max), .min = 16, .max = 1u << 24,
	  .def = QNAT_CT_DEFAULT_MAX, .flags = OPT_ALWAYS, .what = "a number of flows",
	  .help = "the conntrack table's size" },
	{ .name = "ct-full", .kind = OPT_ENUM, FIELD(ct_full), .names = ct_full_names, .flags = OPT_ALWAYS,
	  .help = "when the table is full: refuse new flows, or evict unreplied ones (the same guest's first)" },
	{ .name = "max-flows-per-guest", .arg = "N", .kind = OPT_U32, FIELD(max_flows_per_guest), .min = 1,
	  .max = 1u << 24, .flags = OPT_ALWAYS, .what = "a number of flows",
	  .help = "a cap on each guest's flows (default: none)" },
	{ .name = "filtering", .kind = OPT_ENUM, FIELD(eif), .names = filtering_names, .flags = OPT_ALWAYS,
	  .help = "UDP: who may answer a guest's flow (address-port-dependent is MASQUERADE's)" },
	{ .name = "xdp", .kind = OPT_ENUM, FIELD(xdp), .names = xdp_names, .flags = OPT_ALWAYS,
	  .help = "how the uplink's XDP program is attached" },
	{ .name = "port-xdp", .kind = OPT_ENUM, FIELD(port_xdp), .names = xdp_names, .flags = OPT_ALWAYS,
	  .help = "how the ports' XDP program is attached (auto: native on TAPs, TC alone on veths)" },
	{ .name = "dhcp-checksum-fill", .neg = "no-dhcp-checksum-fill", .kind = OPT_FLAG, FIELD(csum_fill), .def = 1,
	  .flags = OPT_NAT_SHOWN,
	  .help = "complete the checksums of what the host sends guests, for old DHCP clients (on by default)" },
	{ .name = "port-security", .neg = "no-port-security", .kind = OPT_FLAG, FIELD(port_security), .def = 1,
	  .help = "each port: one MAC, the IPv4 address DHCP or --host gave it, its own IPv6 addresses; no DHCP "
		  "servers or router advertisements from guests (default: on, but off with --bridged or --mode open)" },
	{ .name = "mtu", .arg = "N", .kind = OPT_U32, FIELD(mtu), .min = 576, .max = 65535, .what = "an MTU",
	  .help = "the bridge's and ports' MTU, and DHCP's option 26 (default: left alone)" },
	{ .name = "fdb-ageing", .arg = "SECONDS", .kind = OPT_U32, FIELD(fdb_ageing), .min = 1, .max = 1000000,
	  .def = 300, .what = "seconds", .help = "how long a learned MAC lives unseen" },
	{ .name = "host-allow", .arg = "all|PROTO/PORT[-END][,...]", CUSTOM(parse_host_allow, show_host_allow),
	  .flags = OPT_NAT | OPT_REPEAT,
	  .help = "host services guests may reach besides DHCP, DNS and ICMP, e.g. tcp/22,udp/123; all: libvirt's",
	  .bad = "expected all or PROTO/PORT[-END] items (tcp or udp, ports 1-65535), comma-separated, e.g. "
		 "tcp/22,udp/123,tcp/8000-8100 (at most 16)" },
	{ .name = "domain", .arg = "NAME", CUSTOM(parse_domain, show_domain), .flags = OPT_NAT,
	  .help = "the guests' DNS domain: dnsmasq's domain= and expand-hosts, as libvirt's <domain>",
	  .bad = "not a DNS name (letters, digits, inner hyphens, dots; at most 63)" },
	{ .name = "domain-local-only", .kind = OPT_FLAG, FIELD(domain_local), .flags = OPT_NAT,
	  .help = "names in --domain are answered here, never forwarded (libvirt's localOnly)" },
	{ .neg = "no-dns", .kind = OPT_FLAG, FIELD(dns), .def = 1, .flags = OPT_NAT_SHOWN,
	  .help = "dnsmasq serves DHCP only (libvirt's <dns enable='no'>)" },
	{ .name = "dhcp-lease-time", .arg = "N[smhdw]|infinite", CUSTOM(parse_lease_time, show_lease_time),
	  .flags = OPT_NAT, .help = "how long DHCP leases last (default: dnsmasq's, 1h)",
	  .bad = "expected N, Ns, Nm, Nh, Nd, Nw (N from 1) or infinite" },
	{ .name = "dns-host", .arg = "IP,NAME", LIST(dns_hosts, check_dns_host),
	  .help = "a DNS name dnsmasq answers (libvirt's <dns><host>), at most 16",
	  .bad = "expected IP,NAME (an IPv4 address, a DNS name; at most 16)" },
	{ .name = "dns-txt", .arg = "NAME,VALUE", LIST(dns_txts, NULL),
	  .help = "a TXT record (dnsmasq's txt-record), at most 16", .bad = "expected NAME,VALUE (at most 16)" },
	{ .name = "dns-srv", .arg = "_SERVICE._PROTO[.DOMAIN][,TARGET[,PORT[,PRIORITY[,WEIGHT]]]]",
	  LIST(dns_srvs, NULL), .help = "an SRV record (dnsmasq's srv-host), at most 16",
	  .bad = "expected dnsmasq's srv-host value, e.g. _ldap._tcp.example.com,ldap,389 (at most 16)" },
	{ .name = "dns-forwarder", .arg = "[/DOMAIN/]ADDR|/DOMAIN/", LIST(dns_fwds, NULL),
	  .help = "where dnsmasq forwards queries (dnsmasq's server=; an ADDR alone replaces resolv.conf), at most 16",
	  .bad = "expected dnsmasq's server= value, e.g. 8.8.8.8 or /example.com/192.0.2.53 (at most 16)" },
	{ .name = "dhcp-option", .arg = "OPTION,VALUE", LIST(dhcp_opts, NULL),
	  .help = "a DHCP option (dnsmasq's dhcp-option, e.g. option:ntp-server,192.0.2.1), at most 16",
	  .bad = "expected dnsmasq's dhcp-option value, e.g. option:ntp-server,192.0.2.1 (at most 16)" },
	{ .name = "metrics-listen", .key = "metrics", .arg = "ADDR:PORT", CUSTOM(parse_metrics, show_metrics),
	  .help = "serve Prometheus metrics there", .bad = "expected ADDR:PORT, e.g. 127.0.0.1:9400" },
	{ .name = "timeout", .arg = "NAME=SECONDS", CUSTOM(parse_timeout, show_timeout), .count = QNAT_TO_MAX,
	  .flags = OPT_ALWAYS | OPT_REPEAT, .help = "a conntrack timeout (names below; defaults are nf_conntrack's)",
	  .bad = "expected NAME=SECONDS, e.g. udp=30 (see --help)" },
	/* Not settings: what an attach declares besides them, or how it runs. */
	{ .name = "forward", .arg = "PROTO:[HOSTADDR:]HOSTPORT[-END]:GUESTIP[:GUESTPORT]",
	  CUSTOM(parse_forward, NULL), .flags = OPT_NAT | OPT_REPEAT | OPT_RELOAD,
	  .help = "a port forward, e.g. tcp:8080:192.168.122.89:80; IPv6 (--masq6): tcp:[HOST6]:8080:[GUEST6]:80 (at most 64)",
	  .bad = "expected PROTO:[HOSTADDR:]HOSTPORT[-END]:GUESTIP[:GUESTPORT], e.g. tcp:8080:192.168.122.89:80 "
		 "(at most 64)" },
	{ .name = "host", .arg = "MAC,IP[,NAME]", CUSTOM(parse_host, NULL), .flags = OPT_NAT | OPT_REPEAT | OPT_RELOAD,
	  .help = "a static DHCP host (at most 256)", .bad = "expected MAC,IP[,NAME] (at most 256)" },
	{ .name = "config", .arg = "FILE", CUSTOM(parse_nothing, NULL), .flags = OPT_CLI,
	  .help = "read options from FILE, one \"name value\" per line (the command line's come after)" },
	{ .name = "libvirt-xml", .arg = "FILE", CUSTOM(parse_libvirt_xml, NULL), .flags = OPT_CLI,
	  .help = "read the network from libvirt's XML (virsh net-dumpxml; -: stdin); the command line's come after" },
	{ .name = "dry-run", CUSTOM(parse_dry_run, NULL), .flags = OPT_CLI,
	  .help = "change nothing: print the settings and the dnsmasq files attach would write" },
	{ .name = "foreground", .short_name = 'f', CUSTOM(parse_foreground, NULL),
	  .help = "supervise in the foreground, logging to stderr (systemd)" },
	{ .name = "verbose", .short_name = 'v', CUSTOM(parse_verbose, NULL), .flags = OPT_REPEAT,
	  .help = "log more, and libbpf's warnings; twice: its information too" },
	{ .name = "help", .short_name = 'h', CUSTOM(parse_nothing, NULL), .flags = OPT_CLI, .help = "this text" },
	{ .name = "list-options", CUSTOM(parse_nothing, NULL), .flags = OPT_CLI,
	  .help = "the options' names, one a line (for shell completion)" },
};
const int attach_nopts = sizeof(attach_opts) / sizeof(attach_opts[0]);
_Static_assert(sizeof(attach_opts) / sizeof(attach_opts[0]) <= OPTS_MAX, "raise OPTS_MAX");

_Static_assert(QNAT_HOST_ALLOW_MAX == 16 && ATTACH_FORWARDS_MAX == 64 && ATTACH_HOSTS_MAX == 256,
	      "the limits in attach_opts' messages");

const struct opt *opt_find(const char *name, size_t len, bool *neg)
{
	for (int i = 0; i < attach_nopts; i++) {
		const struct opt *o = &attach_opts[i];

		*neg = false;
		if (o->name && strlen(o->name) == len && !strncmp(o->name, name, len))
			return o;
		*neg = true;
		if (o->neg && strlen(o->neg) == len && !strncmp(o->neg, name, len))
			return o;
	}
	return NULL;
}

static uint32_t field_get(const struct opt *o, const struct settings *s)
{
	const char *p = (const char *)s + o->off;

	switch (o->size) {
	case 1:
		return *(const uint8_t *)p;
	case 2:
		return *(const uint16_t *)p;
	default:
		return *(const uint32_t *)p;
	}
}

static void field_set(const struct opt *o, struct settings *s, uint32_t v)
{
	char *p = (char *)s + o->off;

	switch (o->size) {
	case 1:
		*(uint8_t *)p = v;
		break;
	case 2:
		*(uint16_t *)p = v;
		break;
	default:
		*(uint32_t *)p = v;
	}
}

bool opt_takes_value(const struct opt *o)
{
	return o->arg || o->kind == OPT_ENUM;
}

int opt_apply(const struct opt *o, bool neg, const char *arg, struct settings *s, struct extras *x)
{
	uint32_t v;

	switch (o->kind) {
	case OPT_FLAG:
		field_set(o, s, !neg);
		return 0;
	case OPT_U32:
		if (parse_u32(arg, o->min, o->max, &v))
			return -EINVAL;
		field_set(o, s, v);
		return 0;
	case OPT_ENUM:
		for (v = 0; o->names[v]; v++)
			if (!strcmp(arg, o->names[v])) {
				field_set(o, s, v);
				return 0;
			}
		return -EINVAL;
	case OPT_IFNAME:
		if (!valid_ifname(arg))
			return -EINVAL;
		strcpy((char *)s + o->off, arg);
		return 0;
	case OPT_IPV4:
		return parse_ipv4(arg, (struct in_addr *)((char *)s + o->off));
	case OPT_LIST: {
		struct str_list *l = (struct str_list *)((char *)s + o->off);

		if (l->n == QNAT_LIST_MAX || strlen(arg) >= sizeof(l->v[0]) || !*arg || !printable(arg) ||
		    (o->parse && o->parse(arg, s, x)))
			return -EINVAL;
		strcpy(l->v[l->n++], arg);
		return 0;
	}
	case OPT_CUSTOM:
		return o->parse(arg, s, x);
	}
	return -EINVAL;
}

/* The error for a value opt_apply refused, after "WHERE: --NAME VALUE: ". */
void opt_complain(const char *where, const struct opt *o, const char *arg)
{
	char expect[160], shown[256];

	if (o->kind == OPT_U32) {
		snprintf(expect, sizeof(expect), "expected %s from %u to %u", o->what, o->min, o->max);
	} else if (o->kind == OPT_ENUM) {
		size_t k = snprintf(expect, sizeof(expect), "expected");

		for (int i = 0; o->names[i] && k < sizeof(expect); i++)
			k += snprintf(expect + k, sizeof(expect) - k, "%s %s", !i ? "" : o->names[i + 1] ? "," : " or",
				      o->names[i]);
	} else {
		snprintf(expect, sizeof(expect), "%s", o->bad);
	}
	/* One line whatever the value holds. */
	snprintf(shown, sizeof(shown), "%s", arg);
	for (char *c = shown; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	log_warnx("%s%s--%s %s: %s", where ? where : "", where ? ": " : "", o->name, shown, expect);
}

bool opt_is_setting(const struct opt *o)
{
	return o->size || o->show;
}

/*
 * Value i of a setting as the command line gives it, in buf; 0 when there is
 * nothing to give (a flag at its default, an empty string, a setting that
 * means nothing in bridged mode).  A flag's value is the option itself.
 */
int opt_show(const struct opt *o, const struct settings *s, int i, char *buf, size_t len)
{
	uint32_t v;

	buf[0] = '\0';
	if (s->bridged && (o->flags & (OPT_NAT | OPT_NAT_SHOWN)))
		return 0;
	switch (o->kind) {
	case OPT_FLAG:
		v = field_get(o, s);
		return v == o->def ? 0 : snprintf(buf, len, "%s", v ? o->name : o->neg);
	case OPT_U32:
		return snprintf(buf, len, "%u", field_get(o, s));
	case OPT_ENUM:
		return snprintf(buf, len, "%s", o->names[field_get(o, s)]);
	case OPT_IFNAME:
		return snprintf(buf, len, "%s", (const char *)s + o->off);
	case OPT_IPV4:
		return snprintf(buf, len, "%s", ip_str(*(const struct in_addr *)((const char *)s + o->off)));
	case OPT_LIST: {
		const struct str_list *l = (const struct str_list *)((const char *)s + o->off);

		return i < l->n ? snprintf(buf, len, "%s", l->v[i]) : 0;
	}
	case OPT_CUSTOM:
		return o->show ? o->show(s, i, buf, len) : 0;
	}
	return 0;
}

void settings_defaults(struct settings *s)
{
	memset(s, 0, sizeof(*s));
	for (int i = 0; i < attach_nopts; i++)
		if (attach_opts[i].size && attach_opts[i].kind != OPT_LIST)
			field_set(&attach_opts[i], s, attach_opts[i].def);
		else if (attach_opts[i].init)
			opt_apply(&attach_opts[i], false, attach_opts[i].init, s, NULL);
	for (int i = 0; i < QNAT_TO_MAX; i++)
		s->timeouts[i] = timeout_default(i);
}

#define FIELDS_MAX 160 /* the lists: 16 values each */
#define FIELD_LEN 288 /* a --host-allow list is the longest */

/* The settings as "name [value]" fields, in the table's order; some left out at their defaults. */
static int settings_fields(const struct settings *s, char f[FIELDS_MAX][FIELD_LEN])
{
	static struct settings defaults;
	char v[FIELD_LEN - 32], d[FIELD_LEN - 32]; /* room for the key */
	int n = 0;

	settings_defaults(&defaults);
	for (int k = 0; k < attach_nopts; k++) {
		const struct opt *o = &attach_opts[k];

		for (int i = 0; i < (o->count ? o->count : 1) && opt_is_setting(o) && n < FIELDS_MAX; i++) {
			if (!opt_show(o, s, i, v, sizeof(v)))
				continue;
			if (o->kind == OPT_FLAG) {
				snprintf(f[n++], FIELD_LEN, "%s", v);
				continue;
			}
			opt_show(o, &defaults, i, d, sizeof(d));
			if ((o->flags & OPT_ALWAYS) || strcmp(v, d))
				snprintf(f[n++], FIELD_LEN, "%s %s", o->key ? o->key : o->name, v);
		}
	}
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
	static char r[FIELDS_MAX][FIELD_LEN], a[FIELDS_MAX][FIELD_LEN];
	char rs[512], as[512];
	int nr = settings_fields(running, r), na = settings_fields(asked, a);

	fields_missing(r, nr, a, na, rs, sizeof(rs));
	fields_missing(a, na, r, nr, as, sizeof(as));
	snprintf(buf, len, "it runs with %s, this attach asks for %s", rs, as);
}

bool settings_equal(const struct settings *a, const struct settings *b)
{
	static char da[16384], db[16384];

	settings_describe(a, da, sizeof(da));
	settings_describe(b, db, sizeof(db));
	return !strcmp(a->bridge, b->bridge) && !strcmp(da, db);
}

/* The options with flag set, "--a, --b CONJ --c" (CONJ: "and", "or"). */
void opts_list(unsigned int flag, const char *conj, char *buf, size_t len)
{
	size_t k = 0;
	int last = -1;

	for (int i = 0; i < attach_nopts; i++)
		if (attach_opts[i].flags & flag)
			last = i;
	buf[0] = '\0';
	for (int i = 0; i < attach_nopts && k < len; i++)
		if (attach_opts[i].flags & flag)
			k += snprintf(buf + k, len - k, "%s%s%s--%s", !k ? "" : i == last ? " " : ", ",
				      k && i == last ? conj : "", k && i == last ? " " : "", attach_opts[i].name);
}

static void opt_help(FILE *f, const struct opt *o)
{
	char left[96], arg[96] = "";
	size_t k = 0;

	if (o->kind == OPT_ENUM)
		for (int i = 0; o->names[i]; i++)
			k += snprintf(arg + k, sizeof(arg) - k, "%s%s", i ? "|" : "", o->names[i]);
	else if (o->arg)
		snprintf(arg, sizeof(arg), "%s", o->arg);
	if (o->name && o->neg)
		snprintf(left, sizeof(left), "    --[no-]%s", o->name);
	else if (o->short_name)
		snprintf(left, sizeof(left), "-%c, --%s%s%s", o->short_name, o->name, arg[0] ? " " : "", arg);
	else
		snprintf(left, sizeof(left), "    --%s%s%s", o->name ? o->name : o->neg, arg[0] ? " " : "", arg);
	if (strlen(left) > 28)
		fprintf(f, "  %s\n  %-28s %s", left, "", o->help);
	else
		fprintf(f, "  %-28s %s", left, o->help);
	if (o->kind == OPT_U32 && o->def)
		fprintf(f, " (default %u)", o->def);
	else if (o->kind == OPT_ENUM)
		fprintf(f, " (default %s)", o->names[o->def]);
	else if (o->init)
		fprintf(f, " (default %s)", o->init);
	fputs(o->flags & OPT_REPEAT ? "; may repeat\n" : "\n", f);
}

void attach_list_options(FILE *f)
{
	for (int i = 0; i < attach_nopts; i++) {
		if (attach_opts[i].name)
			fprintf(f, "--%s\n", attach_opts[i].name);
		if (attach_opts[i].neg)
			fprintf(f, "--%s\n", attach_opts[i].neg);
	}
}

void attach_help(FILE *f)
{
	char nat[256];

	fputs("Usage: qnat-bpf attach BRIDGE --masq CIDR [OPTION]...\n"
	      "       qnat-bpf attach BRIDGE --bridged [--uplink IFNAME] [OPTION]...\n"
	      "A config file (--config) holds the same options, one \"name value\" per line,\n"
	      "e.g. \"masq 192.168.122.0/24\"; a flag is its name alone.\n",
	      f);
	opts_list(OPT_NAT, "or", nat, sizeof(nat));
	fprintf(f, "--bridged takes no %s.\nOptions:\n", nat);
	for (int i = 0; i < attach_nopts; i++)
		opt_help(f, &attach_opts[i]);
	fputs("Timeouts:", f);
	for (int i = 0; i < QNAT_TO_MAX; i++)
		fprintf(f, " %s", timeout_name(i));
	fputs("\nGuests reach only DHCP and DNS on the host (and ICMP) unless --host-allow lets them.\n", f);
}
