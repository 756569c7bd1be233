// SPDX-License-Identifier: GPL-2.0
/*
 * attach and detach.  attach puts everything in place or, on any error,
 * takes back what it changed; detach takes back everything attach did.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <netlink/socket.h>
#include <netinet/in.h>

#include "log.h"
#include "qnat.h"

static const char attach_usage[] =
	"Usage: qnat-bpf attach BRIDGE --masq CIDR [--uplink IFNAME] [--gateway IP]\n"
	"                       [--dhcp-range START,END | --no-dhcp] [--port-range LO-HI]\n"
	"                       [--ct-max N] [--ct-full refuse|evict] [--max-flows-per-guest N]\n"
	"                       [--filtering address-port-dependent|endpoint-independent]\n"
	"                       [--metrics-listen ADDR:PORT] [--host MAC,IP[,NAME]]... [--config FILE]\n"
	"                       [--fdb-ageing SECONDS] [--mtu N] [--port-security] [--no-dhcp-checksum-fill]\n"
	"                       [--timeout NAME=SECONDS]... [--xdp auto|native|generic|off]\n"
	"                       [--forward PROTO:[HOSTADDR:]HOSTPORT[-END]:GUESTIP[:GUESTPORT]]...\n"
	"                       [--host-allow all|PROTO/PORT[-END][,...]]...\n"
	"                       [--foreground] [-v]\n"
	"       qnat-bpf attach BRIDGE --bridged [--uplink IFNAME] [--port-security] [--fdb-ageing S] [--mtu N]\n"
	"                       [--xdp auto|native|generic|off]\n"
	"A config file holds the same options, one \"name value\" per line, e.g. \"masq 192.168.122.0/24\".\n"
	"Guests reach only DHCP and DNS on the host (and ICMP) unless --host-allow lets them,\n"
	"e.g. --host-allow tcp/22,udp/123,tcp/8000-8100; --host-allow all is libvirt's behaviour.\n"
	"Timeouts: tcp_syn_sent tcp_syn_recv tcp_established tcp_fin_wait tcp_time_wait tcp_close\n"
	"          udp udp_stream icmp (defaults are nf_conntrack's)\n";

int valid_ifname(const char *name)
{
	return *name && strlen(name) < IFNAMSIZ && !strchr(name, '/') && !strchr(name, ' ') && strcmp(name, ".") &&
	       strcmp(name, "..");
}

static int parse_dhcp_range(const char *arg, struct settings *s)
{
	char buf[64], *comma;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	comma = strchr(buf, ',');
	if (!comma)
		return -EINVAL;
	*comma = '\0';
	return parse_ipv4(buf, &s->dhcp_start) || parse_ipv4(comma + 1, &s->dhcp_end) ? -EINVAL : 0;
}

static int parse_timeout(const char *arg, struct settings *s)
{
	char buf[64], *eq;
	uint32_t secs;
	int i;

	if (strlen(arg) >= sizeof(buf))
		return -EINVAL;
	strcpy(buf, arg);
	eq = strchr(buf, '=');
	if (!eq)
		return -EINVAL;
	*eq = '\0';
	i = timeout_lookup(buf);
	if (i < 0 || parse_u32(eq + 1, 1, 30 * 86400, &secs))
		return -EINVAL;
	s->timeouts[i] = secs;
	return 0;
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

/* Parse and check the command line; on error say what is wrong. */
static int attach_parse(int argc, char **argv, struct settings *s, struct extras *x)
{
	enum { O_DHCP_RANGE = 256, O_NO_DHCP, O_PORT_RANGE, O_CT_MAX, O_TIMEOUT, O_XDP, O_FORWARD, O_CT_FULL, O_GUEST_MAX,
	       O_FILTERING, O_METRICS, O_HOST, O_FDB_AGEING, O_MTU, O_PORT_SECURITY, O_CSUM_FILL, O_NO_CSUM_FILL,
	       O_BRIDGED, O_HOST_ALLOW };
	static const struct option opts[] = {
		{ "masq", required_argument, NULL, 'm' },
		{ "uplink", required_argument, NULL, 'u' },
		{ "gateway", required_argument, NULL, 'g' },
		{ "dhcp-range", required_argument, NULL, O_DHCP_RANGE },
		{ "no-dhcp", no_argument, NULL, O_NO_DHCP },
		{ "port-range", required_argument, NULL, O_PORT_RANGE },
		{ "ct-max", required_argument, NULL, O_CT_MAX },
		{ "ct-full", required_argument, NULL, O_CT_FULL },
		{ "max-flows-per-guest", required_argument, NULL, O_GUEST_MAX },
		{ "filtering", required_argument, NULL, O_FILTERING },
		{ "metrics-listen", required_argument, NULL, O_METRICS },
		{ "host", required_argument, NULL, O_HOST },
		{ "fdb-ageing", required_argument, NULL, O_FDB_AGEING },
		{ "mtu", required_argument, NULL, O_MTU },
		{ "port-security", no_argument, NULL, O_PORT_SECURITY },
		{ "dhcp-checksum-fill", no_argument, NULL, O_CSUM_FILL },
		{ "no-dhcp-checksum-fill", no_argument, NULL, O_NO_CSUM_FILL },
		{ "bridged", no_argument, NULL, O_BRIDGED },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "xdp", required_argument, NULL, O_XDP },
		{ "forward", required_argument, NULL, O_FORWARD },
		{ "host-allow", required_argument, NULL, O_HOST_ALLOW },
		{ "foreground", no_argument, NULL, 'f' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	bool have_masq = false, have_gw = false, have_range = false;
	const char *gw_arg = NULL;
	int c;

	settings_defaults(s);
	opterr = 0;
	optind = 1;
	while ((c = getopt_long(argc, argv, ":m:u:g:fvh", opts, NULL)) != -1) {
		switch (c) {
		case 'm':
			if (parse_cidr(optarg, &s->subnet, &s->prefix)) {
				log_warnx("--masq %s: not an IPv4 network like 192.168.122.0/24 (prefix 1-30, host bits zero)",
					  optarg);
				return -EINVAL;
			}
			have_masq = true;
			break;
		case 'u':
			if (!valid_ifname(optarg)) {
				log_warnx("--uplink %s: not a valid interface name", optarg);
				return -EINVAL;
			}
			snprintf(s->uplink, sizeof(s->uplink), "%s", optarg);
			break;
		case 'g':
			gw_arg = optarg;
			if (parse_ipv4(optarg, &s->gateway)) {
				log_warnx("--gateway %s: not an IPv4 address", optarg);
				return -EINVAL;
			}
			have_gw = true;
			break;
		case O_DHCP_RANGE:
			if (parse_dhcp_range(optarg, s)) {
				log_warnx("--dhcp-range %s: expected START,END (two IPv4 addresses)", optarg);
				return -EINVAL;
			}
			have_range = true;
			break;
		case O_NO_DHCP:
			s->dhcp = false;
			break;
		case O_PORT_RANGE:
			if (parse_port_range(optarg, &s->port_min, &s->port_max)) {
				log_warnx("--port-range %s: expected LO-HI with 1 <= LO <= HI <= 65535", optarg);
				return -EINVAL;
			}
			break;
		case O_CT_MAX:
			if (parse_u32(optarg, 16, 1u << 24, &s->ct_max)) {
				log_warnx("--ct-max %s: expected a number of flows from 16 to 16777216", optarg);
				return -EINVAL;
			}
			break;
		case O_CT_FULL:
			if (!strcmp(optarg, "refuse") || !strcmp(optarg, "evict")) {
				s->ct_full = optarg[0] == 'e' ? CT_FULL_EVICT : CT_FULL_REFUSE;
				break;
			}
			log_warnx("--ct-full %s: expected refuse or evict", optarg);
			return -EINVAL;
		case O_FILTERING:
			if (!strcmp(optarg, "endpoint-independent") || !strcmp(optarg, "address-port-dependent")) {
				s->eif = optarg[0] == 'e';
				break;
			}
			log_warnx("--filtering %s: expected address-port-dependent (like MASQUERADE) or "
				  "endpoint-independent", optarg);
			return -EINVAL;
		case O_METRICS: {
			struct sockaddr_in sa;

			if (metrics_parse(optarg, &sa)) {
				log_warnx("--metrics-listen %s: expected ADDR:PORT, e.g. 127.0.0.1:9400", optarg);
				return -EINVAL;
			}
			snprintf(s->metrics, sizeof(s->metrics), "%s", optarg);
			break;
		}
		case O_BRIDGED:
			s->bridged = true;
			break;
		case O_CSUM_FILL:
		case O_NO_CSUM_FILL:
			s->csum_fill = c == O_CSUM_FILL;
			break;
		case O_PORT_SECURITY:
			s->port_security = true;
			break;
		case O_MTU:
			if (parse_u32(optarg, 576, 65535, &s->mtu)) {
				log_warnx("--mtu %s: expected 576 to 65535", optarg);
				return -EINVAL;
			}
			break;
		case O_FDB_AGEING:
			if (parse_u32(optarg, 1, 1000000, &s->fdb_ageing)) {
				log_warnx("--fdb-ageing %s: expected seconds, 1 to 1000000", optarg);
				return -EINVAL;
			}
			break;
		case O_GUEST_MAX:
			if (parse_u32(optarg, 1, 1u << 24, &s->max_flows_per_guest)) {
				log_warnx("--max-flows-per-guest %s: expected a number of flows from 1 to 16777216", optarg);
				return -EINVAL;
			}
			break;
		case O_TIMEOUT:
			if (parse_timeout(optarg, s)) {
				log_warnx("--timeout %s: expected NAME=SECONDS, e.g. udp=30 (see --help)", optarg);
				return -EINVAL;
			}
			break;
		case O_XDP:
			for (s->xdp = XDP_MODE_AUTO; s->xdp <= XDP_MODE_OFF; s->xdp++)
				if (!strcmp(optarg, xdp_mode_name(s->xdp)))
					break;
			if (s->xdp > XDP_MODE_OFF) {
				log_warnx("--xdp %s: expected auto, native, generic or off", optarg);
				return -EINVAL;
			}
			break;
		case O_FORWARD:
			if (x->nfwd == ATTACH_FORWARDS_MAX || fwd_rule_parse_compact(optarg, &x->fwd[x->nfwd])) {
				log_warnx("--forward %s: expected PROTO:[HOSTADDR:]HOSTPORT[-END]:GUESTIP[:GUESTPORT], "
					  "e.g. tcp:8080:192.168.122.89:80 (at most %d)", optarg, ATTACH_FORWARDS_MAX);
				return -EINVAL;
			}
			x->nfwd++;
			break;
		case O_HOST_ALLOW: {
			size_t len = strlen(s->host_allow);

			/* Repeated options add up; the map holds QNAT_HOST_ALLOW_MAX rules. */
			if (host_allow_parse(optarg, NULL, NULL, NULL) || len + strlen(optarg) + 2 > sizeof(s->host_allow) ||
			    (snprintf(s->host_allow + len, sizeof(s->host_allow) - len, "%s%s", len ? "," : "", optarg),
			     host_allow_parse(s->host_allow, NULL, NULL, NULL))) {
				log_warnx("--host-allow %s: expected all or PROTO/PORT[-END] items (tcp or udp, ports "
					  "1-65535), comma-separated, e.g. tcp/22,udp/123,tcp/8000-8100 (at most %d)",
					  optarg, QNAT_HOST_ALLOW_MAX);
				return -EINVAL;
			}
			break;
		}
		case O_HOST: {
			struct static_host *h = &x->host[x->nhost];

			if (x->nhost == ATTACH_HOSTS_MAX ||
			    sscanf(optarg, "%17[^,],%15[^,],%63s", h->mac, h->ip, h->name) < 2) {
				log_warnx("--host %s: expected MAC,IP[,NAME] (at most %d)", optarg, ATTACH_HOSTS_MAX);
				return -EINVAL;
			}
			x->nhost++;
			break;
		}
		case 'f':
			x->foreground = true;
			break;
		case 'v':
			x->verbose++;
			break;
		case 'h':
			fputs(attach_usage, stdout);
			return 1;
		case ':':
			log_warnx("option %s needs a value", argv[optind - 1]);
			return -EINVAL;
		default:
			log_warnx("unknown option %s (see qnat-bpf attach --help)", argv[optind - 1]);
			return -EINVAL;
		}
	}
	if (optind != argc - 1) {
		log_warnx(optind == argc ? "attach: which bridge? (qnat-bpf attach BRIDGE --masq CIDR)"
					 : "attach: unexpected argument %s", argv[optind + (optind < argc - 1)]);
		return -EINVAL;
	}
	if (!valid_ifname(argv[optind])) {
		log_warnx("%s: not a valid interface name (at most %d characters)", argv[optind], IFNAMSIZ - 1);
		return -EINVAL;
	}
	snprintf(s->bridge, sizeof(s->bridge), "%s", argv[optind]);
	if (s->bridged) {
		/* Guests on the LAN with their own addresses: nothing to translate. */
		if (have_masq || have_gw || have_range || x->nfwd || x->nhost || s->host_allow[0]) {
			log_warnx("--bridged puts guests on the uplink's LAN: it takes no --masq, --gateway, "
				  "--dhcp-range, --forward, --host or --host-allow");
			return -EINVAL;
		}
		s->dhcp = false;
		s->csum_fill = false; /* no dnsmasq of ours to fill for */
		return 0;
	}
	if (!have_masq) {
		log_warnx("attach: --masq CIDR is required (e.g. --masq 192.168.122.0/24)");
		return -EINVAL;
	}
	if (!have_gw)
		s->gateway = nth_host(s, 1);
	else if (!host_addr(s->gateway, s)) {
		log_warnx("--gateway %s: not a host address of %s/%u", gw_arg, ip_str(s->subnet), s->prefix);
		return -EINVAL;
	}
	if (!have_range) {
		s->dhcp_start = nth_host(s, 2);
		s->dhcp_end = nth_host(s, -2);
	}
	if (s->dhcp && (!host_addr(s->dhcp_start, s) || !host_addr(s->dhcp_end, s) ||
			ntohl(s->dhcp_start.s_addr) > ntohl(s->dhcp_end.s_addr))) {
		log_warnx("the DHCP range %s-%s is not an ordered range of host addresses in %s/%u",
			  ip_str(s->dhcp_start), ip_str(s->dhcp_end), ip_str(s->subnet), s->prefix);
		return -EINVAL;
	}
	for (int i = 0; i < x->nhost; i++)
		if (dhcp_host_check(s, &x->host[i]))
			return -EINVAL;
	return 0;
}

/*
 * A config file holds attach's options, one "name value" per line (or just
 * "name" for a flag), # comments; they come before the command line's own.
 */
static int config_args(const char *path, int *argcp, char ***argvp)
{
	char line[512], **argv = *argvp;
	int argc = *argcp, n = 0;
	FILE *f = fopen(path, "re");

	if (!f) {
		log_warn("--config %s", path);
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		char *k = line + strspn(line, " \t"), *v, *end;

		n++;
		k[strcspn(k, "#\n")] = '\0';
		if (!*k)
			continue;
		v = k + strcspn(k, " \t");
		if (*v)
			*v++ = '\0';
		v += strspn(v, " \t");
		for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t');)
			*--end = '\0';
		argv = realloc(argv, (argc + 3) * sizeof(*argv));
		if (!argv || asprintf(&argv[argc++], "--%s", k) < 0) {
			fclose(f);
			return -ENOMEM;
		}
		if (*v)
			argv[argc++] = strdup(v);
	}
	fclose(f);
	argv[argc] = NULL;
	*argcp = argc;
	*argvp = argv;
	return 0;
}

/* attach's argv with --config FILE replaced by the file's options. */
static int expand_config(int argc, char **argv, int *nargc, char ***nargv, char *config)
{
	char **out = calloc(argc + 1, sizeof(*out));
	const char *path = NULL;
	int n = 1, err;

	if (!out)
		return -ENOMEM;
	out[0] = argv[0];
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			path = argv[++i];
		else if (!strncmp(argv[i], "--config=", 9))
			path = argv[i] + 9;
	}
	if (path) {
		if (strlen(path) >= PATH_MAX || !realpath(path, config)) {
			log_warn("--config %s", path);
			free(out);
			return -ENOENT;
		}
		if ((err = config_args(config, &n, &out))) {
			free(out);
			return err;
		}
	}
	out = realloc(out, (n + argc + 1) * sizeof(*out));
	if (!out)
		return -ENOMEM;
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--config") && i + 1 < argc)
			i++;
		else if (strncmp(argv[i], "--config=", 9))
			out[n++] = argv[i];
	}
	out[n] = NULL;
	*nargc = n;
	*nargv = out;
	return 0;
}

/* expand_config's array and the strings it read from the file (not argv's). */
static void expand_config_free(int argc, char **argv, int nargc, char **nargv)
{
	for (int i = 1; i < nargc; i++) {
		bool ours = true;

		for (int j = 0; j < argc && ours; j++)
			ours = nargv[i] != argv[j];
		if (ours)
			free(nargv[i]);
	}
	free(nargv);
}

/* The settings and extras a config file gives for bridge (the supervisor's reload). */
int config_load(const char *bridge, const char *path, struct settings *s, struct extras *x)
{
	char *args[] = { "attach", "--config", (char *)path, (char *)bridge, NULL };
	char **argv;
	int argc, err;

	memset(x, 0, sizeof(*x));
	err = expand_config(4, args, &argc, &argv, x->config);
	if (err)
		return err;
	err = attach_parse(argc, argv, s, x);
	expand_config_free(4, args, argc, argv);
	return err > 0 ? -EINVAL : err;
}

/* Forwards and static hosts, idempotently: what is there already stays. */
int extras_apply(struct dataplane *dp, const struct settings *s, const struct extras *x)
{
	int err;

	for (int i = 0; i < x->nfwd; i++)
		if ((err = fwd_rule_add(dp, s, &x->fwd[i], false, true)))
			return err;
	for (int i = 0; i < x->nhost; i++)
		if ((err = dhcp_host_set(s, &x->host[i])))
			return err;
	return 0;
}

/*
 * The same attach again while it runs: its --forward and --host are put in
 * place as on a restart (what is there stays; a conflict is an error), so
 * the command line never claims a forward that does not exist.
 */
static int attach_running_extras(const struct settings *s, const struct extras *x)
{
	struct settings cur;
	struct dataplane dp;
	struct owned o;
	int err;

	if (x->nfwd || x->nhost) {
		if (bridge_open(s->bridge, &cur, &o, &dp, false))
			return 1;
		err = extras_apply(&dp, &cur, x);
		dp_close(&dp);
		if (err)
			return 1;
		if (x->nhost && (err = dnsmasq_reload(s->bridge)) && s->dhcp)
			log_warnx("hosts file updated, but dnsmasq could not be told (%s)", strerror(-err));
	}
	printf("%s is already attached\n", s->bridge);
	return 0;
}

/* What this run changed, to be undone if a later step fails. */
struct undo {
	bool bridge, bridge_up, addr, fwd_bridge, fwd_uplink, uplink_progs, enslaved;
	int fwd_bridge_old, fwd_uplink_old;
};

static int fwd_path(const char *ifname, char *buf, size_t len)
{
	return snprintf(buf, len, "/proc/sys/net/ipv4/conf/%s/forwarding", ifname) >= (int)len ? -ENAMETOOLONG : 0;
}

/* Turn forwarding on; returns the previous value, or negative errno. */
static int fwd_enable(const char *ifname)
{
	char path[PATH_MAX];
	int old;

	if (fwd_path(ifname, path, sizeof(path)))
		return -ENAMETOOLONG;
	old = sysctl_read_int(path);
	if (old < 0)
		return old;
	if (old != 1) {
		int err = sysctl_write_int(path, 1);

		if (err)
			return err;
	}
	return old;
}

static void fwd_restore(const char *ifname, int old)
{
	char path[PATH_MAX];

	if (old >= 0 && old != 1 && !fwd_path(ifname, path, sizeof(path)))
		sysctl_write_int(path, old);
}

struct port_attach {
	struct dataplane *dp;
	struct nl_sock *sk;
	int uplink;
	int err;
	uint32_t mtu;
};

static void attach_port_cb(int ifindex, void *arg)
{
	struct port_attach *pa = arg;
	int err;

	if (ifindex == pa->uplink || pa->err)
		return;
	err = dp_attach_port(pa->dp, pa->sk, ifindex);
	if (!err && pa->mtu)
		err = nl_link_set_mtu(pa->sk, ifindex, pa->mtu);
	if (err) {
		char name[IFNAMSIZ] = "?";

		nl_ifname(pa->sk, ifindex, name);
		log_warnx("cannot attach to bridge port %s: %s", name, strerror(-err));
		pa->err = err;
	}
}

static void detach_port_cb(int ifindex, void *arg)
{
	dp_forget_port(arg, ifindex, true);
}

static void ports_detach_all(struct dataplane *dp, struct nl_sock *sk, int bridge_ifindex)
{
	uint32_t key, *prev = NULL;

	if (bridge_ifindex > 0)
		nl_bridge_ports(sk, bridge_ifindex, detach_port_cb, dp);
	/* Ports that left the bridge while nobody watched. */
	while (dp->ports_fd >= 0 && !bpf_map_get_next_key(dp->ports_fd, prev, &key)) {
		dp_forget_port(dp, key, true);
		prev = NULL; /* the entry is gone: start over */
	}
}

static void state_remove(const char *bridge)
{
	static const char *const files[] = { "state", "dnsmasq.conf", "dnsmasq.pid", "supervisor.pid",
					     "leases", "hostsfile", "addnhosts" };
	char path[PATH_MAX];

	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		if (!state_path(bridge, files[i], path, sizeof(path)))
			unlink(path);
	if (!state_dir(bridge, path, sizeof(path))) {
		rmdir(path);
		*strrchr(path, '/') = '\0';
		rmdir(path); /* the namespace's directory, when it was the last bridge */
	}
}

static pid_t supervisor_pid(const char *bridge)
{
	char path[PATH_MAX];
	pid_t pid;

	if (state_path(bridge, "supervisor.pid", path, sizeof(path)))
		return 0;
	pid = pidfile_read(path);
	return pid_alive(pid, "qnat-bpf") ? pid : 0;
}

static void supervisor_stop(const char *bridge)
{
	pid_t pid = supervisor_pid(bridge);

	if (!pid)
		return;
	kill(pid, SIGTERM);
	for (int i = 0; i < 100 && pid_alive(pid, "qnat-bpf"); i++)
		usleep(20000);
	if (pid_alive(pid, "qnat-bpf"))
		kill(pid, SIGKILL);
}

/* Start the supervisor in the background; returns once it is ready. */
static int supervisor_spawn(const struct settings *s, struct extras *x, struct dataplane *dp, int bridge_ifindex,
			    int uplink_ifindex, int verbose)
{
	int fds[2], null;
	char c;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		setsid();
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		log_init(1, verbose);
		_exit(supervise(s, x, dp, bridge_ifindex, uplink_ifindex, fds[1]) ? 1 : 0);
	}
	close(fds[1]);
	if (read(fds[0], &c, 1) != 1) {
		close(fds[0]);
		waitpid(pid, NULL, 0);
		log_warnx("the supervisor failed to start (see syslog)");
		return -ECHILD;
	}
	close(fds[0]);
	return 0;
}

#define MOVED_MAX 8

/*
 * Bridged mode: put the uplink in the bridge and move its IPv4 addresses and
 * default route to the bridge (what the seeds do by hand with brctl and
 * nmcli), so the host keeps its connectivity.  Recorded in o for detach.
 */
static int uplink_enslave(struct nl_sock *sk, int bridge, int uplink, bool bridge_new, struct owned *o)
{
	struct in_addr a[MOVED_MAX], gw;
	unsigned int prefix[MOVED_MAX];
	uint8_t mac[6];
	int n = nl_addrs(sk, uplink, a, prefix, MOVED_MAX), err;
	bool has_gw = !nl_default_gw(sk, uplink, &gw);
	size_t len = 0;

	if (n < 0)
		return n;
	/* The bridge takes the uplink's MAC: the LAN's ARP caches stay right. */
	if (bridge_new && !nl_link_mac(sk, uplink, mac))
		nl_link_set_mac(sk, bridge, mac);
	if ((err = nl_link_set_master(sk, uplink, bridge)))
		return err;
	o->uplink_enslaved = true;
	o->moved_addrs[0] = '\0';
	for (int i = 0; i < n; i++) {
		nl_addr_del(sk, uplink, a[i], prefix[i]);
		if ((err = nl_addr_add(sk, bridge, a[i], prefix[i])) && err != -EEXIST)
			return err;
		len += snprintf(o->moved_addrs + len, sizeof(o->moved_addrs) - len, "%s%s/%u", i ? "," : "",
				ip_str(a[i]), prefix[i]);
	}
	o->moved_gw.s_addr = 0;
	if (has_gw) {
		if ((err = nl_default_route_set(sk, bridge, gw)))
			return err;
		o->moved_gw = gw;
	}
	return 0;
}

/* And back: the uplink leaves the bridge with its addresses and default route. */
static void uplink_release(struct nl_sock *sk, int bridge, int uplink, const struct owned *o)
{
	char list[sizeof(o->moved_addrs)], *tok, *save;

	if (!o->uplink_enslaved || uplink <= 0)
		return;
	nl_link_set_master(sk, uplink, 0);
	snprintf(list, sizeof(list), "%s", o->moved_addrs);
	for (tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
		char *slash = strchr(tok, '/');
		struct in_addr a;
		uint32_t p;

		if (!slash)
			continue;
		*slash = '\0';
		if (parse_ipv4(tok, &a) || parse_u32(slash + 1, 1, 32, &p))
			continue;
		if (bridge > 0)
			nl_addr_del(sk, bridge, a, p);
		nl_addr_add(sk, uplink, a, p);
	}
	if (o->moved_gw.s_addr)
		nl_default_route_set(sk, uplink, o->moved_gw);
}

/* What an operator upgrading wants to see: from which build to which, and that flows stayed. */
static void upgrade_report(const struct settings *s, struct dataplane *dp, const char *old_build)
{
	printf("%s: upgraded from build %s to %s, %d flows kept\n", s->bridge, old_build, build_id(), ct_count(dp));
	fflush(stdout);
}

int cmd_attach(int argc, char **argv)
{
	struct settings s, old;
	static struct extras x;
	char **args;
	int nargs;
	struct owned o = { .fwd_bridge_old = -1, .fwd_uplink_old = -1, .bridge_txcsum_old = -1 };
	struct undo u = { 0 };
	struct dataplane dp = { .skel = NULL };
	struct nl_sock *sk = NULL;
	bool foreground = false, recovering = false, upgraded;
	int verbose = 0, err, bridge_ifindex, uplink_ifindex, other;
	char old_build[sizeof(o.build)] = "";
	pid_t old_sup = 0;
	struct in_addr ext;
	uint8_t mac[6];
	char kind[32] = "";

	if (expand_config(argc, argv, &nargs, &args, x.config))
		return 1;
	err = attach_parse(nargs, args, &s, &x);
	expand_config_free(argc, argv, nargs, args);
	if (err)
		return err > 0 ? 0 : 1;
	foreground = x.foreground;
	verbose = x.verbose;
	log_init(0, verbose);
	log_libbpf_setup();
	if (geteuid() != 0) {
		log_warnx("attach needs root (CAP_NET_ADMIN and CAP_BPF)");
		return 1;
	}
	if ((err = nl_open(&sk))) {
		log_warnx("cannot open a netlink socket: %s", strerror(-err));
		return 1;
	}

	/* The uplink: given, or the device of the default route. */
	if (s.uplink[0]) {
		uplink_ifindex = nl_ifindex(sk, s.uplink);
		if (uplink_ifindex < 0) {
			log_warnx("uplink %s does not exist", s.uplink);
			goto fail_early;
		}
	} else {
		uplink_ifindex = nl_default_route_dev(sk);
		if (uplink_ifindex < 0 || nl_ifname(sk, uplink_ifindex, s.uplink)) {
			log_warnx("no default route to find the uplink by: give it with --uplink IFNAME");
			goto fail_early;
		}
	}
	if (!strcmp(s.uplink, s.bridge)) {
		log_warnx("the uplink cannot be the bridge %s itself", s.bridge);
		goto fail_early;
	}
	ext.s_addr = 0;
	if (!s.bridged && nl_addr_first(sk, uplink_ifindex, &ext)) {
		log_warnx("uplink %s has no IPv4 address to masquerade behind", s.uplink);
		goto fail_early;
	}

	/*
	 * Attached already?  Same settings: fine, and repair (the supervisor
	 * died) or upgrade (another build attached it: its programs are
	 * replaced by ours on the same maps); other settings: refuse.
	 */
	err = state_load(s.bridge, &old, &o);
	if (err == -EPROTO) {
		log_warnx("%s was attached by a build with ABI version %d, this build has %d: detach it with that "
			  "build first", s.bridge, o.abi, QNAT_ABI_VERSION);
		goto fail_early;
	}
	if (!err) {
		char desc[1024];

		if (!settings_equal(&s, &old)) {
			settings_diff(&old, &s, desc, sizeof(desc));
			log_warnx("%s is already attached with other settings: %s; detach it first", s.bridge, desc);
			goto fail_early;
		}
		old_sup = supervisor_pid(s.bridge);
		snprintf(old_build, sizeof(old_build), "%s", o.build[0] ? o.build : "unknown");
		if (old_sup && !strcmp(o.build, build_id())) {
			nl_socket_free(sk);
			return attach_running_extras(&s, &x);
		}
		recovering = true;
	}

	bridge_ifindex = nl_ifindex(sk, s.bridge);
	if (bridge_ifindex > 0) {
		nl_link_kind(sk, bridge_ifindex, kind, sizeof(kind));
		if (strcmp(kind, "bridge")) {
			log_warnx("%s exists and is not a bridge (%s)", s.bridge, kind[0] ? kind : "no kind");
			goto fail_early;
		}
		if (!s.bridged && nl_link_master(sk, uplink_ifindex) == bridge_ifindex) {
			log_warnx("uplink %s is a port of %s: NAT mode needs a separate uplink", s.uplink, s.bridge);
			goto fail_early;
		}
	}
	if (!recovering) {
		struct dataplane running;

		if (!dp_open_existing(&running, uplink_ifindex)) {
			dp_close(&running);
			log_warnx("uplink %s is already used by another qnat-bpf attach", s.uplink);
			goto fail_early;
		}
		other = s.bridged ? 0 : nl_route_overlaps(sk, s.subnet, s.prefix, bridge_ifindex);
		if (other > 0) {
			char name[IFNAMSIZ] = "?";

			nl_ifname(sk, other, name);
			log_warnx("network %s/%u is already routed via %s", ip_str(s.subnet), s.prefix, name);
			goto fail_early;
		}
	}

	/* Before any change: a build whose maps differ is refused here. */
	if ((err = dp_load(&dp, &s, uplink_ifindex)))
		goto fail_early;
	if (recovering && !dp.reused)
		log_warnx("no running data plane found on %s: starting with an empty conntrack table", s.uplink);
	if (old_sup) /* another build's: ours takes over once our programs are in */
		supervisor_stop(s.bridge);

	/* From here on every change is recorded in u, and undone on failure. */
	if (bridge_ifindex == -ENODEV) {
		if ((err = nl_bridge_create(sk, s.bridge)) || (bridge_ifindex = nl_ifindex(sk, s.bridge)) < 0) {
			log_warnx("cannot create bridge %s: %s", s.bridge, strerror(-(err ? err : bridge_ifindex)));
			goto fail;
		}
		u.bridge = o.bridge_created = true;
	} else if (bridge_ifindex < 0) {
		log_warnx("cannot look up %s: %s", s.bridge, strerror(-bridge_ifindex));
		goto fail;
	}
	if ((err = nl_link_set_up(sk, bridge_ifindex, true)) < 0) {
		log_warnx("cannot bring %s up: %s", s.bridge, strerror(-err));
		goto fail;
	}
	u.bridge_up = err > 0;
	if (!recovering)
		o.bridge_upped = u.bridge_up;
	if (s.mtu && (err = nl_link_mtu(sk, bridge_ifindex)) != (int)s.mtu) {
		if (!recovering && !o.bridge_created)
			o.bridge_mtu_old = err;
		if ((err = nl_link_set_mtu(sk, bridge_ifindex, s.mtu))) {
			log_warnx("cannot set %s's MTU to %u: %s", s.bridge, s.mtu, strerror(-err));
			goto fail;
		}
	}
	/*
	 * Old DHCP clients drop replies whose UDP checksum the host left for
	 * the NIC to fill (libvirt's CHECKSUM --checksum-fill rule).  With the
	 * bridge's TX offload off, what the host sends guests leaves complete.
	 */
	if (s.csum_fill && s.dhcp) {
		err = link_tx_csum(s.bridge, 0);
		if (err < 0) {
			log_warnx("cannot turn off TX checksum offload on %s: %s", s.bridge, strerror(-err));
			goto fail;
		}
		if (!recovering && !o.bridge_created)
			o.bridge_txcsum_old = err;
	}
	if (s.bridged) {
		if (nl_link_master(sk, uplink_ifindex) != bridge_ifindex) {
			u.enslaved = true;
			if ((err = uplink_enslave(sk, bridge_ifindex, uplink_ifindex, o.bridge_created, &o))) {
				log_warnx("cannot move %s into %s: %s", s.uplink, s.bridge, strerror(-err));
				goto fail;
			}
		}
		goto bridged;
	}
	if (nl_addr_has(sk, bridge_ifindex, s.gateway, s.prefix) <= 0) {
		if ((err = nl_addr_add(sk, bridge_ifindex, s.gateway, s.prefix))) {
			log_warnx("cannot add %s/%u to %s: %s", ip_str(s.gateway), s.prefix, s.bridge, strerror(-err));
			goto fail;
		}
		u.addr = o.addr_added = true;
	}
	if ((err = fwd_enable(s.bridge)) < 0 || (u.fwd_bridge_old = err, u.fwd_bridge = true, false) ||
	    (err = fwd_enable(s.uplink)) < 0 || (u.fwd_uplink_old = err, u.fwd_uplink = true, false)) {
		log_warnx("cannot enable IPv4 forwarding: %s", strerror(-err));
		goto fail;
	}
	if (!recovering) {
		o.fwd_bridge_old = u.fwd_bridge_old;
		o.fwd_uplink_old = u.fwd_uplink_old;
	}
bridged:
	if (nl_link_mac(sk, bridge_ifindex, mac)) {
		log_warnx("%s has no MAC address", s.bridge);
		goto fail;
	}

	if ((err = dp_write_config(&dp, &s, uplink_ifindex, bridge_ifindex, ext, mac))) {
		log_warnx("cannot write the data plane's configuration: %s", strerror(-err));
		goto fail;
	}
	u.uplink_progs = !dp.reused;
	/* Bridged, the uplink's TC ingress is a port's: it gets only XDP here. */
	err = s.bridged ? dp_attach_uplink_xdp(&dp, sk, uplink_ifindex, s.xdp, &o)
			: dp_attach_uplink(&dp, sk, uplink_ifindex, s.xdp, &o);
	if (err)
		goto fail;
	{
		/* Bridged, the uplink is one more port (the LAN side). */
		struct port_attach pa = { &dp, sk, s.bridged ? -1 : uplink_ifindex, 0, s.mtu };

		nl_bridge_ports(sk, bridge_ifindex, attach_port_cb, &pa);
		if ((err = pa.err))
			goto fail;
		if (s.bridged)
			dp_mark_uplink_port(&dp, uplink_ifindex);
	}
	if (!s.bridged && (err = dp_attach_bridge(&dp, bridge_ifindex, &o))) {
		log_warnx("cannot attach the host policy to %s: %s", s.bridge, strerror(-err));
		goto fail;
	}
	if (!s.bridged) {
		if (o.sock_cfg_id && o.sock_cfg_id != dp_config_id(&dp)) /* a data plane's whose maps we did not adopt */
			dp_detach_cgroup_id(o.sock_cfg_id);
		err = dp_attach_cgroup(&dp);
		o.sock_hooks = !err;
		o.sock_cfg_id = err ? 0 : dp_config_id(&dp);
		if (err)
			log_warnx("forwards will not work from the host itself: cannot attach socket hooks: %s",
				  strerror(-err));
	}
	if (s.dhcp && (err = dnsmasq_write_config(&s))) {
		log_warnx("cannot write the dnsmasq configuration: %s", strerror(-err));
		goto fail;
	}
	if ((err = extras_apply(&dp, &s, &x)))
		goto fail;
	if ((err = state_save(&s, &o))) {
		log_warnx("cannot save state under %s: %s", QNAT_RUN_DIR, strerror(-err));
		goto fail;
	}
	nl_socket_free(sk);
	sk = NULL;
	upgraded = recovering && dp.reused && strcmp(old_build, build_id());

	if (foreground) {
		if (upgraded)
			upgrade_report(&s, &dp, old_build);
		err = supervise(&s, &x, &dp, bridge_ifindex, uplink_ifindex, -1);
		dp_close(&dp);
		return err ? 1 : 0;
	}
	if ((err = supervisor_spawn(&s, &x, &dp, bridge_ifindex, uplink_ifindex, verbose))) {
		if (nl_open(&sk))
			sk = NULL;
		goto fail;
	}
	if (upgraded)
		upgrade_report(&s, &dp, old_build);
	dp_close(&dp);
	return 0;

fail:
	/* Take back exactly what this run changed, newest first. */
	if (sk) {
		if (u.uplink_progs) {
			if (dp.skel)
				dp_detach_cgroup(&dp);
			ports_detach_all(&dp, sk, bridge_ifindex);
			if (s.bridged) {
				dp_detach_uplink_xdp(uplink_ifindex, &o);
			} else {
				dp_detach_bridge(bridge_ifindex, &o);
				dp_detach_uplink(uplink_ifindex, &o);
			}
		}
		if (u.enslaved)
			uplink_release(sk, bridge_ifindex, uplink_ifindex, &o);
		if (u.fwd_uplink)
			fwd_restore(s.uplink, u.fwd_uplink_old);
		if (u.fwd_bridge)
			fwd_restore(s.bridge, u.fwd_bridge_old);
		if (u.addr)
			nl_addr_del(sk, bridge_ifindex, s.gateway, s.prefix);
		if (u.bridge_up)
			nl_link_set_up(sk, bridge_ifindex, false);
		if (u.bridge)
			nl_link_delete(sk, bridge_ifindex);
	}
	if (!recovering)
		state_remove(s.bridge);
	dp_close(&dp);
fail_early:
	if (sk)
		nl_socket_free(sk);
	return 1;
}

int cmd_detach(int argc, char **argv)
{
	struct dataplane dp;
	struct settings s;
	struct owned o;
	struct nl_sock *sk;
	int bridge_ifindex, uplink_ifindex, err;

	if (argc != 2 || !valid_ifname(argv[1])) {
		log_warnx("usage: qnat-bpf detach BRIDGE");
		return 1;
	}
	if (geteuid() != 0) {
		log_warnx("detach needs root");
		return 1;
	}
	err = state_load(argv[1], &s, &o);
	if (err) {
		if (err == -EPROTO)
			log_warnx("%s was attached by a build with ABI version %d, this build has %d: detach it with "
				  "that build", argv[1], o.abi, QNAT_ABI_VERSION);
		else
			log_warnx(err == -ENOENT ? "%s is not attached" : "%s: unreadable state, cannot detach safely",
				  argv[1]);
		return 1;
	}
	if ((err = nl_open(&sk))) {
		log_warnx("cannot open a netlink socket: %s", strerror(-err));
		return 1;
	}
	supervisor_stop(s.bridge);
	dnsmasq_stop(s.bridge);

	bridge_ifindex = nl_ifindex(sk, s.bridge);
	uplink_ifindex = nl_ifindex(sk, s.uplink);
	if (uplink_ifindex > 0 && !dp_open_existing(&dp, uplink_ifindex)) {
		ports_detach_all(&dp, sk, bridge_ifindex);
		dp_detach_cgroup(&dp);
		dp_close(&dp);
	} else {
		/* The data plane went with its uplink; its socket hooks did not. */
		if (o.sock_cfg_id)
			dp_detach_cgroup_id(o.sock_cfg_id);
		dp.ports_fd = dp.devmap_fd = -1;
		if (bridge_ifindex > 0)
			nl_bridge_ports(sk, bridge_ifindex, detach_port_cb, &dp);
	}
	if (bridge_ifindex > 0 && !s.bridged)
		dp_detach_bridge(bridge_ifindex, &o);
	if (uplink_ifindex > 0 && s.bridged)
		dp_detach_uplink_xdp(uplink_ifindex, &o);
	if (uplink_ifindex > 0 && !s.bridged) {
		dp_detach_uplink(uplink_ifindex, &o);
		fwd_restore(s.uplink, o.fwd_uplink_old);
	}
	uplink_release(sk, bridge_ifindex, uplink_ifindex, &o);
	if (bridge_ifindex > 0) {
		if (o.addr_added)
			nl_addr_del(sk, bridge_ifindex, s.gateway, s.prefix);
		fwd_restore(s.bridge, o.fwd_bridge_old);
		if (o.bridge_created) {
			nl_link_delete(sk, bridge_ifindex);
		} else {
			if (o.bridge_mtu_old > 0)
				nl_link_set_mtu(sk, bridge_ifindex, o.bridge_mtu_old);
			if (o.bridge_txcsum_old > 0)
				link_tx_csum(s.bridge, 1);
			if (o.bridge_upped)
				nl_link_set_up(sk, bridge_ifindex, false);
		}
	}
	state_remove(s.bridge);
	nl_socket_free(sk);
	return 0;
}
