// SPDX-License-Identifier: GPL-2.0
/*
 * The controller's parsers, without the kernel: CIDR, port and DHCP ranges,
 * forward rules, attach's command line and config file (CRLF, unknown keys
 * and duplicates named by file:line), the state file's round trip, --masq
 * ranges that are never a LAN, and doctor's walk of an nft ruleset.
 */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "test_progs.h"
#include "options.h"

/* What a call wrote on stderr (the controller's messages), in a static buffer. */
static int saved_stderr = -1;
static FILE *captured;

static void capture_start(void)
{
	fflush(stderr);
	captured = tmpfile();
	saved_stderr = dup(STDERR_FILENO);
	dup2(fileno(captured), STDERR_FILENO);
}

static const char *capture_end(void)
{
	static char buf[2048];
	size_t n;

	fflush(stderr);
	dup2(saved_stderr, STDERR_FILENO);
	close(saved_stderr);
	rewind(captured);
	n = fread(buf, 1, sizeof(buf) - 1, captured);
	buf[n] = '\0';
	fclose(captured);
	return buf;
}

/* attach's command line (a NULL-terminated list after "attach"), its exit code and messages. */
static int attach_run(struct settings *s, struct extras *x, const char **err, const char *const *args)
{
	char *argv[32] = { "attach" };
	int argc = 1, rc;

	while (args[argc - 1] && argc < 31) {
		argv[argc] = (char *)args[argc - 1];
		argc++;
	}
	capture_start();
	rc = attach_args(argc, argv, s, x);
	*err = capture_end();
	return rc;
}
#define ATTACH(s, x, err, ...) attach_run(s, x, err, (const char *const[]){ __VA_ARGS__, NULL })

static char dir[] = "/tmp/qnat-test-XXXXXX";

static const char *write_config(const char *name, const char *text)
{
	static char path[128];
	static bool made; /* mkdtemp's name may itself end in X */
	FILE *f;

	if (!made && !(made = mkdtemp(dir)))
		return NULL;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	if (!f)
		return NULL;
	fputs(text, f);
	fclose(f);
	return path;
}

TEST(parse_cidr)
{
	struct in_addr net;
	unsigned int prefix;
	static const char *const bad[] = { "10.0.0.0/33", "10.0.0.0/0", "10.0.0.1/24", "foo", "10.0.0.0/",
					   "10.0.0.0/24x", "10.0.0.0", "10.0.0.0/31", "" };

	if (ASSERT_OK(parse_cidr("192.168.122.0/24", &net, &prefix), "192.168.122.0/24")) {
		ASSERT_STREQ(ip_str(net), "192.168.122.0", "network");
		ASSERT_EQ(prefix, 24, "prefix");
	}
	ASSERT_OK(parse_cidr("10.0.0.0/8", &net, &prefix), "10.0.0.0/8");
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(parse_cidr(bad[i], &net, &prefix), -EINVAL, bad[i]);
}

TEST(parse_ranges)
{
	struct settings s;
	struct extras x;
	const char *err;
	uint16_t lo, hi;

	if (ASSERT_OK(parse_port_range("1024-65535", &lo, &hi), "1024-65535")) {
		ASSERT_EQ(lo, 1024, "lo");
		ASSERT_EQ(hi, 65535, "hi");
	}
	ASSERT_OK(parse_port_range("7-7", &lo, &hi), "one port");
	ASSERT_EQ(parse_port_range("0-10", &lo, &hi), -EINVAL, "port 0");
	ASSERT_EQ(parse_port_range("200-100", &lo, &hi), -EINVAL, "reversed");
	ASSERT_EQ(parse_port_range("1-65536", &lo, &hi), -EINVAL, "past 65535");
	ASSERT_EQ(parse_port_range("abc", &lo, &hi), -EINVAL, "not numbers");
	ASSERT_EQ(parse_port_range("80", &lo, &hi), -EINVAL, "no dash");

	if (ASSERT_OK(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24", "--dhcp-range", "10.1.0.10,10.1.0.20"),
		      "--dhcp-range")) {
		ASSERT_STREQ(ip_str(s.dhcp_start), "10.1.0.10", "start");
		ASSERT_STREQ(ip_str(s.dhcp_end), "10.1.0.20", "end");
		ASSERT_STREQ(ip_str(s.gateway), "10.1.0.1", "gateway: the first host");
	}
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24", "--dhcp-range", "10.1.0.30,10.1.0.20"), -EINVAL,
		  "reversed DHCP range");
	ASSERT_TRUE(strstr(err, "DHCP range 10.1.0.30-10.1.0.20 is not an ordered range"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24", "--dhcp-range", "10.1.0.3"), -EINVAL,
		  "one address");
	ASSERT_STREQ(err, "qnat-bpf: --dhcp-range 10.1.0.3: expected START,END (two IPv4 addresses)\n", "message");
	if (ASSERT_OK(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24"), "default range")) {
		ASSERT_EQ(s.port_min, 1024, "default port range");
		ASSERT_EQ(s.port_max, 65535, "default port range");
		ASSERT_STREQ(ip_str(s.dhcp_start), "10.1.0.2", "default start");
		ASSERT_STREQ(ip_str(s.dhcp_end), "10.1.0.254", "default end");
	}
}

TEST(masq_unusable)
{
	static const char *const bad[][2] = {
		{ "0.0.0.0/1", "too wide" },	       { "127.0.0.0/24", "127.0.0.0/8 (loopback)" },
		{ "127.0.0.0/8", "loopback" },	       { "224.0.0.0/24", "224.0.0.0/4 (multicast)" },
		{ "169.254.0.0/16", "link-local" },    { "255.255.255.0/30", "240.0.0.0/4 (reserved" },
		{ "0.0.0.0/24", "this network" },      { "96.0.0.0/3", "too wide" },
	};
	static const char *const good[] = { "192.168.122.0/24", "10.0.0.0/8", "172.16.0.0/12", "100.64.0.0/10",
					    "169.253.0.0/16", "223.255.255.0/24" };
	struct settings s;
	struct extras x;
	const char *err, *why;
	struct in_addr net;
	unsigned int prefix;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (!ASSERT_OK(parse_cidr(bad[i][0], &net, &prefix), bad[i][0]))
			continue;
		why = subnet_unusable(net, prefix);
		ASSERT_TRUE(why && strstr(why, bad[i][1]), bad[i][0]);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (ASSERT_OK(parse_cidr(good[i], &net, &prefix), good[i]))
			ASSERT_TRUE(!subnet_unusable(net, prefix), good[i]);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "127.0.0.0/24"), -EINVAL, "loopback --masq");
	ASSERT_STREQ(err, "qnat-bpf: --masq 127.0.0.0/24: overlaps 127.0.0.0/8 (loopback); use a private network, "
			  "e.g. 192.168.122.0/24\n", "message");
	/* The DHCP range may not hand out the gateway; the default one leaves it out when it is at an end. */
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24", "--dhcp-range", "10.1.0.1,10.1.0.20"), -EINVAL,
		  "range with the gateway");
	ASSERT_STREQ(err, "qnat-bpf: the DHCP range 10.1.0.1-10.1.0.20 includes the gateway 10.1.0.1: give a "
			  "--dhcp-range without it\n", "message");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24", "--gateway", "10.1.0.100"), -EINVAL,
		  "gateway inside the default range");
	if (ASSERT_OK(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24", "--gateway", "10.1.0.254"), "gateway .254")) {
		ASSERT_STREQ(ip_str(s.dhcp_start), "10.1.0.2", "start");
		ASSERT_STREQ(ip_str(s.dhcp_end), "10.1.0.253", "end: below the gateway");
	}
	ASSERT_OK(ATTACH(&s, &x, &err, "br0", "--masq", "10.1.0.0/24", "--gateway", "10.1.0.100", "--no-dhcp"),
		  "no DHCP: any gateway");
}

TEST(parse_forward_rule)
{
	struct fwd_rule r;
	static const char *const bad[] = { "sctp:80:10.0.0.2", "tcp:0:10.0.0.2", "tcp:8080", "tcp:90-80:10.0.0.2",
					   "tcp:8080:10.0.0.2:0", "tcp:8080:nothost", "tcp:1.2.3.4:8080",
					   /* IPv6: brackets on both sides, never mixed with IPv4 */
					   "tcp:[2001:db8::1]:8080:10.0.0.2", "tcp:8080:[fd00::5]:80", "tcp:[2001:db8::1:8080:[fd00::5]",
					   "tcp:[2001:db8::1]:8080", "tcp:2001:db8::1:8080:[fd00::5]:80", "tcp:[nothost]:80:[fd00::5]" };

	if (ASSERT_OK(fwd_rule_parse_compact("tcp:8080:192.168.122.89:80", &r), "tcp:8080:192.168.122.89:80")) {
		ASSERT_EQ(r.proto, IPPROTO_TCP, "proto");
		ASSERT_EQ(r.host_addr.s_addr, 0, "every uplink address");
		ASSERT_EQ(r.first, 8080, "first");
		ASSERT_EQ(r.last, 8080, "last");
		ASSERT_STREQ(ip_str(r.guest), "192.168.122.89", "guest");
		ASSERT_EQ(r.guest_first, 80, "guest port");
	}
	if (ASSERT_OK(fwd_rule_parse_compact("udp:198.51.100.1:5000-5010:10.0.0.2", &r), "address and range")) {
		ASSERT_EQ(r.proto, IPPROTO_UDP, "proto");
		ASSERT_STREQ(ip_str(r.host_addr), "198.51.100.1", "host address");
		ASSERT_EQ(r.first, 5000, "first");
		ASSERT_EQ(r.last, 5010, "last");
		ASSERT_EQ(r.guest_first, 5000, "guest port: the host's");
	}
	if (ASSERT_OK(fwd_rule_parse_compact("udp:[2001:db8::1]:5000-5001:[fd00::5]:53", &r), "IPv6")) {
		ASSERT_EQ(r.v6, true, "IPv6");
		ASSERT_STREQ(ip6_str(&r.host6), "2001:db8::1", "host address");
		ASSERT_EQ(r.first, 5000, "first");
		ASSERT_EQ(r.last, 5001, "last");
		ASSERT_STREQ(ip6_str(&r.guest6), "fd00::5", "guest");
		ASSERT_EQ(r.guest_first, 53, "guest port");
	}
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ASSERT_EQ(fwd_rule_parse_compact(bad[i], &r), -EINVAL, bad[i]);
}

/* Port security: on by default, but not bridged or open unless asked for. */
TEST(port_security_default)
{
	static const struct {
		const char *args[4];
		bool on;
	} cases[] = {
		{ { "--masq", "10.0.0.0/24" }, true },
		{ { "--masq", "10.0.0.0/24", "--no-port-security" }, false },
		{ { "--masq", "10.0.0.0/24", "--mode", "route" }, true },
		{ { "--masq", "10.0.0.0/24", "--mode", "open" }, false },
		{ { "--bridged" }, false },
		{ { "--bridged", "--port-security" }, true },
	};
	struct settings s;
	struct extras x;
	const char *err;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *const *a = cases[i].args;

		if (ASSERT_OK(ATTACH(&s, &x, &err, "br0", a[0], a[1] ? a[1] : "-v", a[2] ? a[2] : "-v",
				     a[3] ? a[3] : "-v"),
			      a[0]))
			ASSERT_EQ(s.port_security, cases[i].on, a[2] ? a[2] : a[0]);
	}
}

TEST(attach_command_line)
{
	struct settings s;
	struct extras x;
	const char *err;

	if (ASSERT_OK(ATTACH(&s, &x, &err, "--masq=10.2.0.0/16", "br1", "-u", "eth9", "--ct-full", "evict", "--xdp",
			     "off", "--timeout", "udp=60", "--no-dhcp", "--port-security", "-f", "-v", "-v",
			     "--forward", "tcp:80:10.2.0.5"),
		      "a full command line")) {
		ASSERT_STREQ(s.bridge, "br1", "bridge");
		ASSERT_STREQ(s.uplink, "eth9", "uplink");
		ASSERT_EQ(s.prefix, 16, "prefix");
		ASSERT_EQ(s.ct_full, CT_FULL_EVICT, "ct-full");
		ASSERT_EQ(s.xdp, XDP_MODE_OFF, "xdp");
		ASSERT_EQ(s.timeouts[QNAT_TO_UDP], 60, "udp timeout");
		ASSERT_FALSE(s.dhcp, "no-dhcp");
		ASSERT_TRUE(s.port_security, "port-security");
		ASSERT_TRUE(x.foreground, "foreground");
		ASSERT_EQ(x.verbose, 2, "verbose twice");
		ASSERT_EQ(x.nfwd, 1, "one forward");
	}
	ASSERT_STREQ(err, "", "no messages");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0"), -EINVAL, "no --masq");
	ASSERT_STREQ(err, "qnat-bpf: attach: --masq CIDR is required (e.g. --masq 192.168.122.0/24)\n", "message");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--bogus"), -EINVAL, "unknown");
	ASSERT_STREQ(err, "qnat-bpf: unknown option --bogus (see qnat-bpf attach --help)\n", "message");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--mas", "10.0.0.0/24"), -EINVAL, "no prefix guessing");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq"), -EINVAL, "no value");
	ASSERT_STREQ(err, "qnat-bpf: option --masq needs a value\n", "message");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--ct-max", "15"), -EINVAL, "below min");
	ASSERT_STREQ(err, "qnat-bpf: --ct-max 15: expected a number of flows from 16 to 16777216\n", "message");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--port-security=1"), -EINVAL, "flag value");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--bridged", "--host-allow", "tcp/22"), -EINVAL, "bridged NAT option");
	ASSERT_TRUE(strstr(err, "takes no --masq, --mode, --gateway, --masq6, --route6, --gateway6, "
				     "--dhcp6-range, --dhcp-range, --host-allow, --domain, "
				     "--domain-local-only, --dhcp-lease-time, --dns-host, --dns-txt, --dns-srv, "
				     "--dns-forwarder, --dhcp-option, --forward or --host"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--masq6", "fd00:122::/64", "--dhcp6-range",
			 "fd00:122::10,fd00:122::ff"), 0, "IPv6 masqueraded");
	ASSERT_EQ(s.ip6, IP6_MASQ, "masq6 mode");
	ASSERT_STREQ(ip6_str(&s.gateway6), "fd00:122::1", "gateway6 defaults to ::1 of the prefix");
	ASSERT_TRUE(s.dhcp6, "dhcp6 range");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--masq6", "fd00:122::/48"), -EINVAL, "/48");
	ASSERT_TRUE(strstr(err, "/64"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--route6", "fe80::/64"), -EINVAL, "link-local");
	ASSERT_TRUE(strstr(err, "link-local"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--masq6", "fd00:1::/64", "--route6",
			 "fd00:2::/64"), -EINVAL, "both");
	ASSERT_TRUE(strstr(err, "exclude each other"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--mode", "route", "--masq6", "fd00:1::/64"),
		  -EINVAL, "masq6 in a routed network");
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--route6", "2001:db8:1::/64", "--gateway6",
			 "2001:db8:2::1"), -EINVAL, "gateway6 outside");
	ASSERT_TRUE(strstr(err, "not a host address of 2001:db8:1::/64"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--route6", "2001:db8:1::/64", "--dhcp6-range",
			 "2001:db8:1::1,2001:db8:1::9"), -EINVAL, "dhcp6 range over the gateway");
	ASSERT_TRUE(strstr(err, "includes the gateway"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--masq", "10.0.0.0/24", "--gateway6", "fd00::1"), -EINVAL, "no prefix");
	ASSERT_TRUE(strstr(err, "need --masq6 or --route6"), err);
	ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "br1", "--masq", "10.0.0.0/24"), -EINVAL, "two bridges");
	ASSERT_STREQ(err, "qnat-bpf: attach: unexpected argument br1\n", "message");
}

TEST(config_file)
{
	struct settings s;
	struct extras x;
	static const char *const written[] = { "crlf.conf", "after.conf", "unknown.conf", "dup.conf",
					       "bad.conf", "noval.conf", "cli.conf" };
	const char *err, *path;
	char expect[512];

	if (test__start_subtest("crlf")) {
		path = write_config("crlf.conf", "# virbr0\r\nmasq 10.3.0.0/24\r\nport-range 2000-3000 \r\n"
						 "port-security\r\nhost-allow tcp/22\r\n\r\n");
		if (ASSERT_OK(ATTACH(&s, &x, &err, "br0", "--config", path), "CRLF file")) {
			ASSERT_STREQ(ip_str(s.subnet), "10.3.0.0", "masq");
			ASSERT_EQ(s.port_min, 2000, "port-range");
			ASSERT_TRUE(s.port_security, "flag");
			ASSERT_STREQ(s.host_allow, "tcp/22", "no \\r in values");
			ASSERT_STREQ(x.config, path, "the file is remembered for SIGHUP");
		}
		ASSERT_STREQ(err, "", "no messages");
	}
	if (test__start_subtest("command_line_after")) {
		path = write_config("after.conf", "masq 10.3.0.0/24\nct-max 1024\n");
		if (ASSERT_OK(ATTACH(&s, &x, &err, "--ct-max", "2048", "br0", "--config", path), "both"))
			ASSERT_EQ(s.ct_max, 2048, "the command line wins");
	}
	if (test__start_subtest("unknown_key")) {
		path = write_config("unknown.conf", "masq 10.3.0.0/24\r\nbogus 1\r\n");
		ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--config", path), -EINVAL, "unknown key");
		snprintf(expect, sizeof(expect), "qnat-bpf: %s:2: unknown option bogus (see qnat-bpf attach --help)\n",
			 path);
		ASSERT_STREQ(err, expect, "names file:line, no \\r");
	}
	if (test__start_subtest("duplicate")) {
		path = write_config("dup.conf", "masq 10.3.0.0/24\n# comment\nforward tcp:80:10.3.0.5\n"
						"forward tcp:81:10.3.0.5\nmasq 10.4.0.0/24\n");
		ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--config", path), -EINVAL, "masq twice");
		snprintf(expect, sizeof(expect), "qnat-bpf: %s:5: masq given twice (first at %s:1)\n", path, path);
		ASSERT_STREQ(err, expect, "names both lines");
	}
	if (test__start_subtest("bad_value")) {
		path = write_config("bad.conf", "masq 10.3.0.0/24\nct-max lots\n");
		ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--config", path), -EINVAL, "bad value");
		snprintf(expect, sizeof(expect),
			 "qnat-bpf: %s:2: --ct-max lots: expected a number of flows from 16 to 16777216\n", path);
		ASSERT_STREQ(err, expect, "names file:line");
		path = write_config("noval.conf", "masq\n");
		ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--config", path), -EINVAL, "no value");
		ASSERT_TRUE(strstr(err, ":1: masq needs a value"), err);
		path = write_config("cli.conf", "masq 10.3.0.0/24\nconfig /etc/x\n");
		ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--config", path), -EINVAL, "config in a config");
		ASSERT_TRUE(strstr(err, ":2: not for a config file: config"), err);
	}
	if (test__start_subtest("directory")) {
		ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--config", dir), -EINVAL, "a directory");
		snprintf(expect, sizeof(expect), "qnat-bpf: --config %s: a directory, not a config file\n", dir);
		ASSERT_STREQ(err, expect, "says so, not that --masq is missing");
		ASSERT_EQ(ATTACH(&s, &x, &err, "br0", "--config", "/nonexistent/x.conf"), -ENOENT, "missing");
		ASSERT_TRUE(strstr(err, "/nonexistent/x.conf: No such file"), err);
	}
	for (size_t i = 0; i < sizeof(written) / sizeof(written[0]); i++) {
		snprintf(expect, sizeof(expect), "%s/%s", dir, written[i]);
		unlink(expect);
	}
	rmdir(dir);
}

TEST(state_round_trip)
{
	struct settings s, back;
	struct owned o = { .fwd_bridge_old = 0, .fwd_uplink_old = 1, .bridge_txcsum_old = -1, .bridge_created = true,
			   .xdp_attached = 2, .sock_cfg_id = 77, .moved_addrs = "10.9.0.5/24,10.9.1.5/24" },
		     oback;
	struct extras x;
	char text[4096], again[4096], desc[2048], desc_back[2048];
	const char *err;
	FILE *f;

	if (!ASSERT_OK(ATTACH(&s, &x, &err, "br7", "--masq", "10.5.0.0/24", "--uplink", "up0", "--gateway",
			      "10.5.0.254", "--ct-max", "4096", "--no-dhcp-checksum-fill", "--mtu", "1400",
			      "--fdb-ageing", "60", "--host-allow", "tcp/22", "--host-allow", "udp/123",
			      "--metrics-listen", "127.0.0.1:9400", "--timeout", "icmp=5", "--filtering",
			      "endpoint-independent"),
		       "settings"))
		return;
	parse_ipv4("10.9.0.1", &o.moved_gw);
	if (!ASSERT_OK(state_text(&s, &o, text, sizeof(text)), "state_text"))
		return;
	f = fmemopen(text, strlen(text), "r");
	if (!ASSERT_OK_PTR(f, "fmemopen"))
		return;
	ASSERT_OK(state_parse(f, &back, &oback), "state_parse");
	fclose(f);
	settings_describe(&s, desc, sizeof(desc));
	settings_describe(&back, desc_back, sizeof(desc_back));
	ASSERT_STREQ(desc_back, desc, "settings");
	ASSERT_TRUE(settings_equal(&s, &back), "settings_equal");
	ASSERT_STREQ(back.host_allow, "tcp/22,udp/123", "host-allow lists");
	ASSERT_EQ(oback.abi, QNAT_ABI_VERSION, "abi");
	ASSERT_STREQ(oback.build, build_id(), "build");
	ASSERT_STREQ(oback.moved_addrs, o.moved_addrs, "moved_addrs");
	ASSERT_EQ(oback.moved_gw.s_addr, o.moved_gw.s_addr, "moved_gw");
	ASSERT_EQ(oback.fwd_uplink_old, 1, "fwd_uplink_old");
	ASSERT_EQ(oback.bridge_txcsum_old, -1, "bridge_txcsum_old");
	ASSERT_EQ(oback.sock_cfg_id, 77, "sock_cfg_id");
	ASSERT_TRUE(oback.bridge_created, "bridge_created");
	ASSERT_OK(state_text(&back, &oback, again, sizeof(again)), "state_text again");
	ASSERT_STREQ(again, text, "the same text again");
	f = fmemopen((char *)"bridge br7\n", 11, "r");
	if (ASSERT_OK_PTR(f, "fmemopen"))
		ASSERT_EQ(state_parse(f, &back, &oback), -EPROTO, "no abi line: another build's");
	fclose(f);
}

TEST(settings_differ)
{
	struct settings a, b;
	struct extras x;
	const char *err;
	char diff[1024];

	ATTACH(&a, &x, &err, "br0", "--masq", "192.168.122.0/24", "--uplink", "up0");
	ATTACH(&b, &x, &err, "br0", "--masq", "192.168.122.0/24", "--uplink", "up0", "--mtu", "1400");
	settings_diff(&a, &b, diff, sizeof(diff));
	ASSERT_STREQ(diff, "it runs with the defaults, this attach asks for mtu 1400", "a default left out");
	ATTACH(&b, &x, &err, "br0", "--masq", "192.168.122.0/24", "--uplink", "up0", "--dhcp-range",
	       "192.168.122.10,192.168.122.20");
	settings_diff(&a, &b, diff, sizeof(diff));
	ASSERT_STREQ(diff,
		     "it runs with dhcp 192.168.122.2-192.168.122.254, this attach asks for dhcp "
		     "192.168.122.10-192.168.122.20",
		     "dhcp range");
	ATTACH(&b, &x, &err, "br0", "--bridged", "--uplink", "up0");
	settings_diff(&a, &b, diff, sizeof(diff));
	ASSERT_TRUE(!strncmp(diff, "it runs with masq 192.168.122.0/24, gateway 192.168.122.1, dhcp", 62), diff);
	ASSERT_TRUE(strstr(diff, "asks for bridged"), diff);
	ASSERT_FALSE(settings_equal(&a, &b), "bridged differs");
}

/* doctor's firewall walker (firewall.c) on `nft list ruleset` texts: which chains drop which packet. */
static char fw_seen[512];

static void fw_note(const char *family, const char *table, const char *chain, const char *why, void *arg)
{
	size_t n = strlen(fw_seen);

	snprintf(fw_seen + n, sizeof(fw_seen) - n, "%s %s %s: %s|", family, table, chain, why);
}

static int fw_eval(const char *rules, const char *hook, const struct fw_packet *pkt)
{
	FILE *f = fmemopen((void *)rules, strlen(rules), "r");
	struct fw *fw = f ? fw_parse(f) : NULL;
	int n;

	fw_seen[0] = 0;
	n = fw ? fw_judge(fw, hook, pkt, fw_note, NULL) : -1;
	if (f)
		fclose(f);
	fw_release(fw);
	return n;
}

TEST(firewall_walker)
{
	static const char rules[] =
		"table inet t1 {\n"
		"\tset allowed {\n\t\ttype ipv4_addr\n\t\telements = { 10.0.0.1 }\n\t}\n\n"
		"\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n"
		"\t\tct state established,related accept\n"
		"\t\ttcp dport 22 accept\n"
		"\t\tiifname \"lan0\" accept\n"
		"\t\tiifname \"virbr0\" udp dport { 67, 68 } accept\n\t}\n}\n"
		"table ip filter {\n"
		"\tchain FORWARD {\n\t\ttype filter hook forward priority filter; policy accept;\n"
		"\t\tjump DOCKER-USER\n"
		"\t\toifname \"virbr0\" counter packets 0 bytes 0 accept\n\t}\n\n"
		"\tchain DOCKER-USER {\n"
		"\t\tiifname != \"eth9\" counter packets 1 bytes 2 drop\n"
		"\t\treturn\n\t}\n}\n"
		"table bridge b {\n\tchain fw {\n\t\ttype filter hook forward priority 0; policy drop;\n\t}\n}\n";
	const struct fw_packet dhcp = { "virbr0", "", "udp", "67" }, dns = { "virbr0", "", "udp", "53" };
	const struct fw_packet out = { "virbr0", "up0", "", "" }, back = { "up0", "virbr0", "", "" };

	ASSERT_EQ(fw_eval(rules, "input", &dhcp), 0, "DHCP: accepted by the udp dport rule");
	ASSERT_EQ(fw_eval(rules, "input", &dns), 1, "DNS: only established and port 22, then policy drop");
	ASSERT_STREQ(fw_seen, "inet t1 input: policy drop|", "the chain and why");
	ASSERT_EQ(fw_eval(rules, "forward", &out), 1, "out: the jumped-to chain drops (the bridge family is not IPv4's)");
	ASSERT_STREQ(fw_seen, "ip filter FORWARD: rule \"iifname != \"eth9\" counter packets 1 bytes 2 drop\"|", "why");
	ASSERT_EQ(fw_eval(rules, "forward", &back), 1, "back: dropped in DOCKER-USER before the accept");
	ASSERT_EQ(fw_eval("table ip f {\n\tchain c {\n\t\ttype filter hook input priority 0; policy drop;\n"
			  "\t\tiifname \"virbr0\" accept\n\t}\n}\n", "input", &dns), 0, "accepted from the bridge");
	ASSERT_EQ(fw_eval("table ip f {\n\tchain c {\n\t\ttype filter hook input priority 0; policy accept;\n"
			  "\t\tip saddr 10.0.0.0/8 drop\n\t\tudp dport 53 reject with icmp port-unreachable\n\t}\n}\n",
			  "input", &dns), 1, "an unknown match is skipped, a known one counts");
}
