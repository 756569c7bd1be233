// SPDX-License-Identifier: GPL-2.0
/*
 * `qnat-bpf dhcp`: static hosts (dnsmasq's dhcp-hostsfile, rewritten
 * atomically and reloaded with SIGHUP, which keeps the leases) and the
 * leases, in the columns of `virsh net-dhcp-leases`.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>

#include "json.h"
#include "log.h"
#include "qnat.h"

static const char dhcp_usage[] = "Usage: qnat-bpf dhcp host add BRIDGE MAC IP [NAME]\n"
				 "       qnat-bpf dhcp host del BRIDGE MAC\n"
				 "       qnat-bpf dhcp host list BRIDGE [--json]\n"
				 "       qnat-bpf dhcp leases BRIDGE [--json]\n";

static bool valid_mac(const char *s)
{
	unsigned int b[6];
	char end;

	return strlen(s) == 17 &&
	       sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5], &end) == 6;
}

static void lower(char *s)
{
	for (; *s; s++)
		*s = tolower((unsigned char)*s);
}

/* RFC 952/1123 host names, or FQDNs of them: labels of letters, digits and inner hyphens. */
bool valid_hostname(const char *s)
{
	size_t n = strlen(s), label = 0;

	if (!n || n > 63)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (s[i] == '.' || !s[i]) {
			if (!label || s[i - 1] == '-')
				return false;
			label = 0;
		} else if ((!label && s[i] == '-') || (!isalnum((unsigned char)s[i]) && s[i] != '-')) {
			return false;
		} else {
			label++;
		}
	}
	return true;
}

/* h's line in dnsmasq's dhcp-hostsfile, as libvirt writes it: mac,ip[,name]. */
int dhcp_host_line(const struct static_host *h, char *buf, size_t len)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%s", h->mac);
	lower(mac);
	return snprintf(buf, len, "%s,%s%s%s\n", mac, h->ip, h->name[0] ? "," : "", h->name);
}

/* Ask dnsmasq to re-read its hosts files; leases stay as they are. */
int dnsmasq_reload(const char *bridge)
{
	pid_t pid = state_pid(bridge, "dnsmasq.pid", "dnsmasq");

	if (!pid)
		return -ESRCH;
	return kill(pid, SIGHUP) ? -errno : 0;
}

/* Rewrite hostsfile and addnhosts without the entry for mac, plus add when given. */
static int hosts_update(const struct settings *s, const char *mac, const char *add_ip, const char *add_name)
{
	char hosts[PATH_MAX], addn[PATH_MAX], line[256];
	size_t hlen = 0, alen = 0, cap = 1 << 16;
	char *hbuf = calloc(1, cap), *abuf = calloc(1, cap);
	bool found = false;
	int err = 0;
	FILE *f;

	if (!hbuf || !abuf || state_path(s->bridge, "hostsfile", hosts, sizeof(hosts)) ||
	    state_path(s->bridge, "addnhosts", addn, sizeof(addn))) {
		err = -ENOMEM;
		goto out;
	}
	f = fopen(hosts, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char lmac[32] = "", lip[64] = "", lname[64] = "";

		sscanf(line, "%31[^,\n],%63[^,\n],%63[^,\n]", lmac, lip, lname);
		lower(lmac);
		if (!strcmp(lmac, mac)) {
			found = true;
			continue;
		}
		if (add_ip && (!strcmp(lip, add_ip) || (add_name && *add_name && !strcmp(lname, add_name)))) {
			log_warnx("%s is already given to %s", !strcmp(lip, add_ip) ? add_ip : add_name, lmac);
			err = -EEXIST;
			break;
		}
		hlen += snprintf(hbuf + hlen, cap - hlen, "%s", line);
		if (lname[0])
			alen += snprintf(abuf + alen, cap - alen, "%s %s\n", lip, lname);
	}
	if (f)
		fclose(f);
	if (err)
		goto out;
	if (!add_ip && !found) {
		log_warnx("no static host with MAC %s on %s", mac, s->bridge);
		err = -ENOENT;
		goto out;
	}
	if (add_ip) {
		struct static_host h = { 0 };

		snprintf(h.mac, sizeof(h.mac), "%s", mac);
		snprintf(h.ip, sizeof(h.ip), "%s", add_ip);
		snprintf(h.name, sizeof(h.name), "%s", add_name ? add_name : "");
		hlen += dhcp_host_line(&h, hbuf + hlen, cap - hlen);
		if (add_name)
			alen += snprintf(abuf + alen, cap - alen, "%s %s\n", add_ip, add_name);
	}
	if (hlen >= cap || alen >= cap) {
		err = -E2BIG;
		goto out;
	}
	/* dnsmasq re-reads these after dropping root: its group may read them. */
	if ((err = write_file_atomic_gid(hosts, hbuf, 0640, dnsmasq_gid())) ||
	    (err = write_file_atomic_gid(addn, abuf, 0640, dnsmasq_gid())))
		log_warnx("cannot write %s: %s", hosts, strerror(-err));
out:
	free(hbuf);
	free(abuf);
	return err;
}

int dhcp_host_check(const struct settings *s, const struct static_host *h)
{
	struct in_addr ip;
	uint32_t host;

	if (!valid_mac(h->mac)) {
		log_warnx("%s: not a MAC address like 52:54:00:12:34:56", h->mac);
		return -EINVAL;
	}
	host = parse_ipv4(h->ip, &ip) ? 0 : ntohl(ip.s_addr) & ~ntohl(prefix_mask(s->prefix));
	if (!host || (ip.s_addr & prefix_mask(s->prefix)) != s->subnet.s_addr || host == ~ntohl(prefix_mask(s->prefix)) ||
	    ip.s_addr == s->gateway.s_addr) {
		log_warnx("%s: not a guest address of %s/%u", h->ip, ip_str(s->subnet), s->prefix);
		return -EINVAL;
	}
	if (h->name[0] && !valid_hostname(h->name)) {
		log_warnx("%s: not a host name (letters, digits, inner hyphens, dots between labels; at most 63)", h->name);
		return -EINVAL;
	}
	return 0;
}

/* Add or replace the static host of h->mac. */
int dhcp_host_set(const struct settings *s, const struct static_host *h)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%s", h->mac);
	lower(mac);
	return hosts_update(s, mac, h->ip, h->name[0] ? h->name : NULL);
}

int dhcp_host_del(const struct settings *s, const char *mac_in)
{
	char mac[18];

	snprintf(mac, sizeof(mac), "%s", mac_in);
	lower(mac);
	return hosts_update(s, mac, NULL, NULL);
}

/* The address dnsmasq gives this MAC: its static host, else its lease. */
int dhcp_ip_of(const struct settings *s, const uint8_t mac[6], struct in_addr *ip)
{
	char want[MAC_STR_LEN], path[PATH_MAX], line[512], lmac[64], lip[64];
	int found = 0;
	FILE *f;

	mac_str(mac, want);
	if (!state_path(s->bridge, "hostsfile", path, sizeof(path)) && (f = fopen(path, "re"))) {
		while (!found && fgets(line, sizeof(line), f))
			found = sscanf(line, "%63[^,],%63[^,\n]", lmac, lip) == 2 && !strcasecmp(lmac, want) &&
				!parse_ipv4(lip, ip);
		fclose(f);
	}
	if (!found && !lib_path(s->bridge, "leases", path, sizeof(path)) && (f = fopen(path, "re"))) {
		long long expiry;

		/* dnsmasq drops expired leases from the file only when it next writes it */
		while (!found && fgets(line, sizeof(line), f))
			found = sscanf(line, "%lld %63s %63s", &expiry, lmac, lip) == 3 && !strcasecmp(lmac, want) &&
				(expiry == 0 || expiry > (long long)time(NULL)) && !parse_ipv4(lip, ip);
		fclose(f);
	}
	return found ? 0 : -ENOENT;
}

/*
 * The static hosts: in JSON the array key of { mac, ip, hostname (null when
 * none) }; in text a line each, indent then the columns.
 */
int dhcp_hosts_print(struct json *j, const struct settings *s, const char *key, const char *indent)
{
	char path[PATH_MAX], line[256];
	int n = 0;
	FILE *f;

	if (state_path(s->bridge, "hostsfile", path, sizeof(path)))
		return -ENAMETOOLONG;
	json_arr_open(j, key);
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		char mac[32] = "", ip[64] = "", name[64] = "";

		if (sscanf(line, "%31[^,\n],%63[^,\n],%63[^,\n]", mac, ip, name) < 2)
			continue;
		json_obj_open(j, NULL);
		json_text(j, indent);
		json_str(j, "mac", "%-19s", mac);
		json_str(j, "ip", " %-16s", ip);
		json_str_or_null(j, "hostname", 0, name[0] ? name : NULL);
		json_text(j, "\n");
		json_obj_close(j);
		n++;
	}
	if (f)
		fclose(f);
	json_arr_close(j);
	return n;
}

static int hosts_list(const struct settings *s, bool json)
{
	struct json j;
	int err;

	json_begin(&j, json);
	json_text(&j, " MAC address         IP address       Hostname\n"
		      "---------------------------------------------------\n");
	err = dhcp_hosts_print(&j, s, NULL, " ");
	json_end(&j);
	return err < 0 ? err : 0;
}

static int leases_print(const struct settings *s, bool json)
{
	char path[PATH_MAX], line[512];
	struct json j;
	FILE *f;

	if (lib_path(s->bridge, "leases", path, sizeof(path)))
		return -ENAMETOOLONG;
	json_begin(&j, json);
	json_arr_open(&j, NULL);
	json_text(&j, " Expiry Time           MAC address         Protocol   IP address            Hostname     Client ID or DUID\n"
		      "------------------------------------------------------------------------------------------------------------\n");
	f = fopen(path, "re");
	while (f && fgets(line, sizeof(line), f)) {
		long long expiry;
		char mac[64], ip[64], host[256], cid[256], when[32] = "never", cidr[80];
		struct tm tm;
		time_t t;

		if (sscanf(line, "%lld %63s %63s %255s %255s", &expiry, mac, ip, host, cid) != 5)
			continue; /* "duid ..." and anything unexpected */
		t = expiry;
		if (expiry && localtime_r(&t, &tm))
			strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
		json_obj_open(&j, NULL);
		json_str(&j, "expiry_time", " %-21s", when);
		json_only_ull(&j, "expiry", expiry); /* the epoch seconds, for scripts; text shows the date */
		json_str(&j, "mac", " %-19s", mac);
		json_str(&j, "type", " %-10s", "ipv4");
		snprintf(cidr, sizeof(cidr), "%s/%u", ip, s->prefix);
		json_fp(&j, " %-21s", cidr);
		json_only_str(&j, "ipaddr", ip);
		json_only_ull(&j, "prefix", s->prefix);
		json_str_or_null(&j, "hostname", 12, strcmp(host, "*") ? host : NULL);
		json_str_or_null(&j, "clientid", 0, strcmp(cid, "*") ? cid : NULL);
		json_text(&j, "\n");
		json_obj_close(&j);
	}
	if (f)
		fclose(f);
	json_arr_close(&j);
	json_end(&j);
	return 0;
}

int cmd_dhcp(int argc, char **argv)
{
	struct settings s;
	struct owned o;
	bool json = false;
	const char *args[6];
	int n = 0, err;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "-j") || !strcmp(argv[i], "--json"))
			json = true;
		else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help") || !strcmp(argv[i], "help"))
			return fputs(dhcp_usage, stdout), 0;
		else if (argv[i][0] == '-' || n == 6) {
			print_error("dhcp: unexpected argument %s", argv[i]);
			return 1;
		} else
			args[n++] = argv[i];
	}
	if ((n == 2 && !strcmp(args[0], "leases")) || (n == 3 && !strcmp(args[0], "host") && !strcmp(args[1], "list"))) {
		if (state_load(args[n - 1], &s, &o)) {
			print_error("%s is not attached", args[n - 1]);
			return 1;
		}
		return (n == 2 ? leases_print(&s, json) : hosts_list(&s, json)) ? 1 : 0;
	}
	if (n < 4 || strcmp(args[0], "host") || (strcmp(args[1], "add") && strcmp(args[1], "del"))) {
		fputs(dhcp_usage, stderr);
		return 1;
	}
	if (state_load(args[2], &s, &o)) {
		log_warnx("%s is not attached", args[2]);
		return 1;
	}
	struct static_host h = { 0 };

	if (strlen(args[3]) >= sizeof(h.mac) || (!strcmp(args[1], "add") && (n < 5 || n > 6)) ||
	    (!strcmp(args[1], "del") && n != 4)) {
		if (strlen(args[3]) >= sizeof(h.mac))
			log_warnx("%s: not a MAC address like 52:54:00:12:34:56", args[3]);
		else
			fputs(dhcp_usage, stderr);
		return 1;
	}
	strcpy(h.mac, args[3]);
	if (!strcmp(args[1], "add")) {
		snprintf(h.ip, sizeof(h.ip), "%s", args[4]);
		if (n == 6 && strlen(args[5]) >= sizeof(h.name)) {
			log_warnx("%s: not a host name (at most 63 characters)", args[5]);
			return 1;
		}
		if (n == 6)
			strcpy(h.name, args[5]);
		err = dhcp_host_check(&s, &h) ? -EINVAL : dhcp_host_set(&s, &h);
	} else {
		err = valid_mac(h.mac) ? dhcp_host_del(&s, h.mac) : (log_warnx("%s: not a MAC address", h.mac), -EINVAL);
	}
	if (err)
		return 1;
	err = dnsmasq_reload(s.bridge);
	if (err && s.dhcp)
		log_warnx("hosts file updated, but dnsmasq could not be told (%s); it reads it when it restarts",
			  strerror(-err));
	return 0;
}
