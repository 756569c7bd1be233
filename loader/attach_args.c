// SPDX-License-Identifier: GPL-2.0
/*
 * attach's command line: --config FILE's options first, then the command
 * line's own, each through the options table; then the checks that look at
 * several settings at once, and the defaults that follow from --masq.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "options.h"

int valid_ifname(const char *name)
{
	return *name && strlen(name) < IFNAMSIZ && !strchr(name, '/') && !strchr(name, ' ') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

static bool in_net(struct in_addr a, const struct settings *s)
{
	return (a.s_addr & prefix_mask(s->prefix)) == s->subnet.s_addr;
}

static bool host_addr(struct in_addr a, const struct settings *s)
{
	uint32_t host = ntohl(a.s_addr) & ~ntohl(prefix_mask(s->prefix));

	return in_net(a, s) && host != 0 && host != ~ntohl(prefix_mask(s->prefix));
}

static struct in_addr nth_host(const struct settings *s, int64_t n)
{
	uint32_t net = ntohl(s->subnet.s_addr), size = 1u << (32 - s->prefix);

	return (struct in_addr){ .s_addr = htonl(n >= 0 ? net + n : net + size + n) };
}

static bool given_opt(const bool given[OPTS_MAX], const char *name)
{
	bool neg;
	const struct opt *o = opt_find(name, strlen(name), &neg);

	return o && given[o - attach_opts];
}

/* Bridged: guests are on the LAN with their own addresses, nothing to translate. */
static int check_bridged(struct settings *s, const bool given[OPTS_MAX])
{
	char names[256];

	for (int i = 0; i < attach_nopts; i++)
		if ((attach_opts[i].flags & OPT_NAT) && given[i]) {
			opts_list(OPT_NAT, "or", names, sizeof(names));
			log_warnx("--bridged puts guests on the uplink's LAN: it takes no %s", names);
			return -EINVAL;
		}
	s->dhcp = false;
	s->csum_fill = false; /* no dnsmasq of ours to fill for */
	s->port_security &= given_opt(given, "port-security"); /* the LAN's guests: opt-in, as before */
	return 0;
}

/* Only nat translates: forwards need it; isolated has no uplink to name. */
static int check_mode(const struct settings *s, const struct extras *x)
{
	if (s->mode != MODE_NAT && x->nfwd) {
		log_warnx("--forward needs --mode nat: other modes translate nothing");
		return -EINVAL;
	}
	if (s->mode == MODE_ISOLATED && s->uplink[0]) {
		log_warnx("--mode isolated takes no --uplink: nothing leaves the network");
		return -EINVAL;
	}
	return 0;
}

static bool ip6_le(const struct in6_addr *a, const struct in6_addr *b)
{
	return memcmp(a, b, sizeof(*a)) <= 0;
}

/* IPv6: one /64, masqueraded or routed; its gateway and DHCPv6 range inside it. */
static int check_ip6(struct settings *s, const bool given[OPTS_MAX])
{
	const char *net = s->ip6 == IP6_MASQ ? "--masq6" : "--route6", *why;
	struct in6_addr subnet_router = s->prefix6;

	if (!s->ip6) {
		if (given_opt(given, "gateway6") || given_opt(given, "dhcp6-range")) {
			log_warnx("--gateway6 and --dhcp6-range need --masq6 or --route6 (the guests' IPv6 /64)");
			return -EINVAL;
		}
		return 0;
	}
	if (given_opt(given, "masq6") && given_opt(given, "route6")) {
		log_warnx("--masq6 and --route6 exclude each other: a network has one IPv6 /64");
		return -EINVAL;
	}
	if ((why = prefix6_unusable(&s->prefix6))) {
		log_warnx("%s %s/64: %s; use a ULA like fd00:122::/64 or a prefix routed to this host", net,
			  ip6_str(&s->prefix6), why);
		return -EINVAL;
	}
	if (s->mode == MODE_ISOLATED || (s->ip6 == IP6_MASQ && s->mode != MODE_NAT)) {
		log_warnx("%s needs --mode nat%s: --mode %s %s", net, s->ip6 == IP6_ROUTE ? ", route or open" : "",
			  net_mode_name(s->mode), s->mode == MODE_ISOLATED ? "lets nothing out" : "translates nothing");
		return -EINVAL;
	}
	if (!given_opt(given, "gateway6")) {
		s->gateway6 = s->prefix6;
		s->gateway6.s6_addr[15] = 1;
	} else if (!in_prefix6(&s->gateway6, &s->prefix6) || !memcmp(&s->gateway6, &subnet_router, 16)) {
		log_warnx("--gateway6 %s: not a host address of %s/64", ip6_str(&s->gateway6), ip6_str(&s->prefix6));
		return -EINVAL;
	}
	if (!s->dhcp6)
		return 0;
	if (!in_prefix6(&s->dhcp6_start, &s->prefix6) || !in_prefix6(&s->dhcp6_end, &s->prefix6) ||
	    !ip6_le(&s->dhcp6_start, &s->dhcp6_end) || !memcmp(&s->dhcp6_start, &subnet_router, 16)) {
		log_warnx("the DHCPv6 range %s-%s is not an ordered range of host addresses in %s/64",
			  ip6_str(&s->dhcp6_start), ip6_str(&s->dhcp6_end), ip6_str(&s->prefix6));
		return -EINVAL;
	}
	if (ip6_le(&s->dhcp6_start, &s->gateway6) && ip6_le(&s->gateway6, &s->dhcp6_end)) {
		log_warnx("the DHCPv6 range %s-%s includes the gateway %s: give a --dhcp6-range without it",
			  ip6_str(&s->dhcp6_start), ip6_str(&s->dhcp6_end), ip6_str(&s->gateway6));
		return -EINVAL;
	}
	return 0;
}

/* NAT: the gateway and DHCP range follow from --masq unless given, and must lie in it. */
static int check_nat(struct settings *s, const struct extras *x, const bool given[OPTS_MAX])
{
	const char *why;

	if (!given_opt(given, "masq")) {
		log_warnx("attach: --masq CIDR is required (e.g. --masq 192.168.122.0/24)");
		return -EINVAL;
	}
	if ((why = subnet_unusable(s->subnet, s->prefix))) {
		log_warnx("--masq %s/%u: %s; use a private network, e.g. 192.168.122.0/24", ip_str(s->subnet), s->prefix,
			  why);
		return -EINVAL;
	}
	if (s->mode == MODE_OPEN) /* libvirt's open: no policy of ours unless asked */
		s->port_security &= given_opt(given, "port-security");
	if (!given_opt(given, "gateway")) {
		s->gateway = nth_host(s, 1);
	} else if (!host_addr(s->gateway, s)) {
		log_warnx("--gateway %s: not a host address of %s/%u", ip_str(s->gateway), ip_str(s->subnet), s->prefix);
		return -EINVAL;
	}
	if (!given_opt(given, "dhcp-range")) { /* every host address but the gateway's, when it is at an end */
		s->dhcp_start = nth_host(s, 2);
		s->dhcp_end = nth_host(s, -2);
		if (s->gateway.s_addr == s->dhcp_end.s_addr)
			s->dhcp_end = nth_host(s, -3);
		else if (s->gateway.s_addr == s->dhcp_start.s_addr)
			s->dhcp_start = nth_host(s, 3);
	}
	if (s->dhcp && (!host_addr(s->dhcp_start, s) || !host_addr(s->dhcp_end, s) ||
			ntohl(s->dhcp_start.s_addr) > ntohl(s->dhcp_end.s_addr))) {
		log_warnx("the DHCP range %s-%s is not an ordered range of host addresses in %s/%u",
			  ip_str(s->dhcp_start), ip_str(s->dhcp_end), ip_str(s->subnet), s->prefix);
		return -EINVAL;
	}
	if (s->dhcp && ntohl(s->gateway.s_addr) >= ntohl(s->dhcp_start.s_addr) &&
	    ntohl(s->gateway.s_addr) <= ntohl(s->dhcp_end.s_addr)) {
		log_warnx("the DHCP range %s-%s includes the gateway %s: give a --dhcp-range without it",
			  ip_str(s->dhcp_start), ip_str(s->dhcp_end), ip_str(s->gateway));
		return -EINVAL;
	}
	for (int i = 0; i < x->nhost; i++)
		if (dhcp_host_check(s, &x->host[i]))
			return -EINVAL;
	return check_mode(s, x) ? -EINVAL : check_ip6(s, given);
}

static int check_bridge_name(const char *name, struct settings *s)
{
	if (!name) {
		log_warnx("attach: which bridge? (qnat-bpf attach BRIDGE --masq CIDR)");
		return -EINVAL;
	}
	if (!valid_ifname(name)) {
		log_warnx("%s: not a valid interface name (at most %d characters)", name, IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(s->bridge, sizeof(s->bridge), "%s", name);
	return 0;
}

/* One option of the command line at argv[*i], with its value if it takes one. */
static int cli_option(int argc, char **argv, int *i, struct settings *s, struct extras *x, bool given[OPTS_MAX])
{
	const char *a = argv[*i], *val = NULL, *eq = NULL, *name;
	char shown[64];
	const struct opt *o = NULL;
	bool neg = false;

	if (a[1] == '-') {
		name = a + 2;
		eq = strchr(name, '=');
		o = opt_find(name, eq ? (size_t)(eq - name) : strlen(name), &neg);
	} else if (!a[2]) {
		for (int k = 0; k < attach_nopts && !o; k++)
			if (attach_opts[k].short_name == a[1])
				o = &attach_opts[k];
	}
	if (!o) {
		log_warnx("unknown option %s (see qnat-bpf attach --help)", a);
		return -EINVAL;
	}
	snprintf(shown, sizeof(shown), "%.*s", eq ? (int)(eq - a) : (int)strlen(a), a);
	if (opt_takes_value(o)) {
		val = eq ? eq + 1 : *i + 1 < argc ? argv[++*i] : NULL;
		if (!val) {
			log_warnx("option %s needs a value", shown);
			return -EINVAL;
		}
	} else if (eq) {
		log_warnx("option %s takes no value", shown);
		return -EINVAL;
	}
	given[o - attach_opts] = true;
	if (opt_apply(o, neg, val, s, x)) {
		opt_complain(NULL, o, val);
		return -EINVAL;
	}
	return 0;
}

/* The value of option name (--NAME V or --NAME=V) before any "--", or NULL. */
static const char *early_option(int argc, char **argv, const char *name)
{
	const char *v = NULL;
	size_t n = strlen(name);

	for (int i = 1; i < argc && strcmp(argv[i], "--"); i++) {
		if (!strncmp(argv[i], "--", 2) && !strcmp(argv[i] + 2, name) && i + 1 < argc)
			v = argv[++i];
		else if (!strncmp(argv[i], "--", 2) && !strncmp(argv[i] + 2, name, n) && argv[i][n + 2] == '=')
			v = argv[i] + n + 3;
	}
	return v;
}

/* --config FILE's path, made absolute in x->config, or "" without one. */
static int config_path(int argc, char **argv, struct extras *x)
{
	const char *path = early_option(argc, argv, "config");

	x->config[0] = '\0';
	if (path && (strlen(path) >= PATH_MAX || !realpath(path, x->config))) {
		log_warn("--config %s", path);
		return -ENOENT;
	}
	return 0;
}

/*
 * Parse and check attach's command line; on error say what is wrong.
 * Returns 1 when it printed --help.
 */
int attach_args(int argc, char **argv, struct settings *s, struct extras *x)
{
	bool given[OPTS_MAX] = { false }, options = true;
	const char *bridge = NULL, *xml = early_option(argc, argv, "libvirt-xml");
	static char xml_bridge[IFNAMSIZ];
	int err;

	settings_defaults(s);
	memset(x, 0, sizeof(*x));
	/* The XML first, then the config file, then the command line: each later one wins. */
	if (xml) {
		snprintf(x->libvirt_xml, sizeof(x->libvirt_xml), "%s", xml);
		if ((err = libvirt_xml_apply(xml, s, x, given, xml_bridge)))
			return err;
		bridge = xml_bridge[0] ? xml_bridge : NULL;
	}
	if ((err = config_path(argc, argv, x)) || (x->config[0] && (err = config_apply(x->config, s, x, given))))
		return err;
	for (int i = 1; i < argc; i++) {
		if (options && !strcmp(argv[i], "--")) {
			options = false;
		} else if (options && argv[i][0] == '-' && argv[i][1]) {
			if ((err = cli_option(argc, argv, &i, s, x, given)))
				return err;
		} else if (bridge && bridge != xml_bridge) {
			log_warnx("attach: unexpected argument %s", argv[i]);
			return -EINVAL;
		} else {
			bridge = argv[i];
		}
	}
	if (given_opt(given, "help") || given_opt(given, "list-options")) {
		(given_opt(given, "help") ? attach_help : attach_list_options)(stdout);
		return 1;
	}
	if ((err = check_bridge_name(bridge, s)))
		return err;
	return s->bridged ? check_bridged(s, given) : check_nat(s, x, given);
}

/* The settings and extras a config file gives for bridge (the supervisor's reload). */
int config_load(const char *bridge, const char *path, struct settings *s, struct extras *x)
{
	bool given[OPTS_MAX] = { false };
	int err;

	settings_defaults(s);
	memset(x, 0, sizeof(*x));
	snprintf(x->config, sizeof(x->config), "%s", path);
	if ((err = config_apply(path, s, x, given)) || (err = check_bridge_name(bridge, s)))
		return err;
	return s->bridged ? check_bridged(s, given) : check_nat(s, x, given);
}
