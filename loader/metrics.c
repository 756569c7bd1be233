// SPDX-License-Identifier: GPL-2.0
/*
 * Prometheus metrics, served by the supervisor on --metrics-listen.  Names
 * follow node_exporter's conntrack metrics (node_nf_conntrack_entries,
 * _entries_limit, _stat_drop, _stat_early_drop, _stat_insert_failed).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <net/if.h>
#include <sys/socket.h>

#include "log.h"
#include "qnat.h"

/* "127.0.0.1:9400" */
int metrics_parse(const char *s, struct sockaddr_in *sa)
{
	char buf[32], *port_text = split_at(s, ":", buf, sizeof(buf));
	uint32_t port;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (!port_text || parse_ipv4(buf, &sa->sin_addr) || parse_u32(port_text, 1, 65535, &port))
		return -EINVAL;
	sa->sin_port = htons(port);
	return 0;
}

int metrics_listen(const struct sockaddr_in *sa)
{
	int one = 1, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (const struct sockaddr *)sa, sizeof(*sa)) || listen(fd, 16)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static void metric(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The exposition text; the caller frees it. */
static char *metrics_text(const struct settings *s, struct dataplane *dp, const struct expiry_result *ct,
			  bool dnsmasq_up)
{
	struct qnat_counter_val v[QNAT_C_MAX];
	const char *b = s->bridge;
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);

	if (!f)
		return NULL;
	dp_read_counters(dp, v);
	metric(f, "qnat_conntrack_entries", "gauge", "Flows in the conntrack tables, IPv4 and IPv6.");
	fprintf(f, "qnat_conntrack_entries{bridge=\"%s\"} %u\n", b, ct->live);
	metric(f, "qnat_conntrack_ipv6_entries", "gauge", "Of those, the IPv6 (NAT66) flows.");
	fprintf(f, "qnat_conntrack_ipv6_entries{bridge=\"%s\"} %u\n", b, ct->live6);
	metric(f, "qnat_conntrack_entries_limit", "gauge", "Capacity of each conntrack table (IPv4, IPv6).");
	fprintf(f, "qnat_conntrack_entries_limit{bridge=\"%s\"} %u\n", b, s->ct_max);
	metric(f, "qnat_conntrack_stat_drop", "counter", "New flows refused: table full or guest at its cap.");
	fprintf(f, "qnat_conntrack_stat_drop{bridge=\"%s\"} %llu\n", b,
		(unsigned long long)(v[QNAT_C_DROP_CT_FULL].packets + v[QNAT_C_DROP_GUEST_CAP].packets));
	metric(f, "qnat_conntrack_stat_early_drop", "counter", "Flows evicted to make room (--ct-full evict).");
	fprintf(f, "qnat_conntrack_stat_early_drop{bridge=\"%s\"} %llu\n", b,
		(unsigned long long)(v[QNAT_C_CT_EVICTED].packets + v[QNAT_C_CT_EARLY_DROP].packets));
	metric(f, "qnat_conntrack_stat_insert_failed", "counter", "New flows refused: no free source port.");
	fprintf(f, "qnat_conntrack_stat_insert_failed{bridge=\"%s\"} %llu\n", b,
		(unsigned long long)v[QNAT_C_DROP_NO_PORT].packets);
	metric(f, "qnat_packets_total", "counter", "Packets by what qnat-bpf did with them.");
	for (int i = 0; i < QNAT_C_MAX; i++)
		fprintf(f, "qnat_packets_total{bridge=\"%s\",reason=\"%s\"} %llu\n", b, counter_name(i),
			(unsigned long long)v[i].packets);
	metric(f, "qnat_bytes_total", "counter", "Bytes by what qnat-bpf did with them.");
	for (int i = 0; i < QNAT_C_MAX; i++)
		fprintf(f, "qnat_bytes_total{bridge=\"%s\",reason=\"%s\"} %llu\n", b, counter_name(i),
			(unsigned long long)v[i].bytes);
	if (dp->guests_fd >= 0 && s->max_flows_per_guest) {
		uint32_t key, next, *prev = NULL;
		struct qnat_guest g;

		metric(f, "qnat_guest_flows", "gauge", "Flows per guest (with --max-flows-per-guest).");
		while (!bpf_map_get_next_key(dp->guests_fd, prev, &next)) {
			key = next;
			prev = &key;
			if (dp_owns(dp, key) && !bpf_map_lookup_elem(dp->guests_fd, &key, &g))
				fprintf(f, "qnat_guest_flows{bridge=\"%s\",guest=\"%s\"} %u\n", b, ip_str_be(key), g.flows);
		}
	}
	{
		struct guest_total *t = NULL;
		int n = guest_totals(dp, &t);
		static const char *const dir[QNAT_DIR_MAX] = { "out", "in" };

		metric(f, "qnat_guest_packets_total", "counter", "Packets from (out) and to (in) each guest.");
		for (int i = 0; i < n; i++)
			for (int d = 0; d < QNAT_DIR_MAX; d++)
				fprintf(f, "qnat_guest_packets_total{bridge=\"%s\",guest=\"%s\",direction=\"%s\"} %llu\n", b,
					ip_str_be(t[i].addr), dir[d], (unsigned long long)t[i].packets[d]);
		metric(f, "qnat_guest_bytes_total", "counter", "Bytes from (out) and to (in) each guest.");
		for (int i = 0; i < n; i++)
			for (int d = 0; d < QNAT_DIR_MAX; d++)
				fprintf(f, "qnat_guest_bytes_total{bridge=\"%s\",guest=\"%s\",direction=\"%s\"} %llu\n", b,
					ip_str_be(t[i].addr), dir[d], (unsigned long long)t[i].bytes[d]);
		free(t);
	}
	if (s->port_security) {
		uint32_t key, *prev = NULL;
		struct qnat_port port;
		char name[IF_NAMESIZE];

		metric(f, "qnat_port_refused_total", "counter", "Frames port security dropped, by the port they came from.");
		while (!bpf_map_get_next_key(dp->ports_fd, prev, &key)) {
			prev = &key;
			if (dp_port_ours(dp, key, &port) && if_indextoname(key, name))
				fprintf(f, "qnat_port_refused_total{bridge=\"%s\",port=\"%s\"} %llu\n", b, name,
					(unsigned long long)port.refused);
		}
	}
	metric(f, "qnat_dnsmasq_up", "gauge", "Whether dnsmasq runs (1) or not (0).");
	fprintf(f, "qnat_dnsmasq_up{bridge=\"%s\"} %d\n", b, dnsmasq_up);
	fclose(f);
	return text;
}

/* Answer one scrape: any GET gets the metrics; the connection is closed after. */
void metrics_serve(int lfd, const struct settings *s, struct dataplane *dp, const struct expiry_result *ct,
		   bool dnsmasq_up)
{
	char req[2048], head[160];
	struct pollfd p;
	char *body;
	int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);

	if (fd < 0)
		return;
	p = (struct pollfd){ .fd = fd, .events = POLLIN };
	/* A scraper sends its request at once; do not let a silent client stall us. */
	if (poll(&p, 1, 1000) <= 0 || read(fd, req, sizeof(req) - 1) <= 0) {
		close(fd);
		return;
	}
	body = metrics_text(s, dp, ct, dnsmasq_up);
	if (body) {
		int n = snprintf(head, sizeof(head),
				 "HTTP/1.0 200 OK\r\nContent-Type: text/plain; version=0.0.4\r\nContent-Length: %zu\r\n\r\n",
				 strlen(body));

		if (write(fd, head, n) != n || write(fd, body, strlen(body)) < 0)
			log_warn("metrics: write");
		free(body);
	}
	close(fd);
}
