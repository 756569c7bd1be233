// SPDX-License-Identifier: GPL-2.0
/*
 * flowgen - traffic for the fault, hostile-guest and soak tests: long
 * conversations that count what they lose, fast flow churn, echo servers
 * that count what they get, and hand-made packets (odd TCP flags, spoofed
 * sources).
 *
 *   flowgen tcp-talk HOST PORT [opts]   a line every --interval ms on one TCP
 *                                       connection, echo expected; a broken or
 *                                       stalled connection is counted and redialled
 *   flowgen udp-talk HOST PORT [opts]   the same over UDP, one socket
 *   flowgen tcp-echo PORT [opts]        answers each line with "echo:LINE"
 *   flowgen udp-echo PORT [opts]        answers each datagram with "echo:DATA"
 *   flowgen udp-churn HOST PORT [opts]  one datagram per new socket (a new flow
 *                                       each), reply awaited --timeout ms
 *   flowgen tcp-churn HOST PORT [opts]  connect, one line, its echo, close (RST)
 *   flowgen tcp-hold HOST PORT N [opts] opens N connections one by one (prints
 *                                       "ok" or "fail" for each) and holds them
 *   flowgen raw SRC SPORT DST DPORT tcp FLAGS|udp [--count N]
 *                                       hand-made IPv4 packets (IP_HDRINCL):
 *                                       FLAGS is a string of S A F R P U
 *
 * Options: --stats FILE (key=value lines, rewritten atomically while it runs
 * and on exit), --interval MS (100), --timeout MS, --sport N, --bind ADDR,
 * --secs S (churn: how long; 0 = until SIGTERM), --rate N (churn: flows/s cap),
 * --stall MS (talk: no echo for this long = broken, 5000).
 * Ends on SIGTERM/SIGINT, writing its stats one last time.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <netinet/udp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t stop;

static struct {
	const char *stats;
	int interval_ms;
	int timeout_ms;
	int stall_ms;
	int sport;
	const char *bind;
	int secs;
	int rate;
	int count;
} opt = { NULL, 100, 200, 5000, 0, NULL, 0, 0, 1 };

static void __attribute__((format(printf, 1, 2), noreturn)) die(const char *fmt, ...)
{
	va_list ap;

	fputs("flowgen: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* Stats: a fixed set of named counters, written as key=value lines. */
#define NSTATS 16
static const char *stat_name[NSTATS];
static unsigned long long stat_val[NSTATS];

static unsigned long long *stat(const char *name)
{
	for (int i = 0; i < NSTATS; i++) {
		if (stat_name[i] && !strcmp(stat_name[i], name))
			return &stat_val[i];
		if (!stat_name[i]) {
			stat_name[i] = name;
			return &stat_val[i];
		}
	}
	die("too many stats");
}

static void stats_write(void)
{
	char tmp[4096];
	FILE *f;

	if (!opt.stats)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", opt.stats);
	f = fopen(tmp, "w");
	if (!f)
		return;
	for (int i = 0; i < NSTATS && stat_name[i]; i++)
		fprintf(f, "%s=%llu\n", stat_name[i], stat_val[i]);
	if (fclose(f) == 0)
		rename(tmp, opt.stats);
}

static void stats_maybe(void)
{
	static uint64_t last;
	uint64_t t = now_ms();

	if (t - last >= 100) {
		last = t;
		stats_write();
	}
}

static struct sockaddr_in addr_of(const char *host, const char *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };

	if (inet_pton(AF_INET, host, &a.sin_addr) != 1)
		die("bad address %s", host);
	return a;
}

static void bind_local(int fd)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(opt.sport) };
	int one = 1;

	if (!opt.sport && !opt.bind)
		return;
	if (opt.bind && inet_pton(AF_INET, opt.bind, &a.sin_addr) != 1)
		die("bad address %s", opt.bind);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind %s:%d: %s", opt.bind ? opt.bind : "0.0.0.0", opt.sport, strerror(errno));
}

static int local_port(int fd)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);

	return getsockname(fd, (struct sockaddr *)&a, &len) ? 0 : ntohs(a.sin_port);
}

/* Non-blocking connect with a timeout; the socket stays non-blocking. */
static int tcp_dial(const struct sockaddr_in *to, int timeout_ms)
{
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	struct pollfd p = { .fd = fd, .events = POLLOUT };
	int err = 0;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -1;
	bind_local(fd);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) && errno != EINPROGRESS)
		goto fail;
	if (poll(&p, 1, timeout_ms) != 1 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) || err)
		goto fail;
	return fd;
fail:
	close(fd);
	return -1;
}

/* Close with a RST: no TIME_WAIT left behind. */
static void close_rst(int fd)
{
	struct linger l = { 1, 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	close(fd);
}

/*
 * tcp-talk: the conversation.  Every echo must come back, in order; what was
 * outstanding when the connection broke or stalled is lost.
 */
#define RING 65536
static void tcp_talk(const struct sockaddr_in *to)
{
	static uint64_t sent_at[RING];
	unsigned long long *sent = stat("sent"), *echoed = stat("echoed"), *lost = stat("lost"),
			   *broken = stat("broken"), *connects = stat("connects"), *bad = stat("bad"),
			   *max_rtt = stat("max_rtt_ms"), *late = stat("late"), *up = stat("connected"),
			   *port = stat("port");
	unsigned long long next_seq = 0, next_echo = 0;
	char buf[4096];
	size_t have = 0;
	uint64_t next_send = now_ms(), last_dial = 0;
	int fd = -1;

	while (!stop) {
		uint64_t t = now_ms();

		if (fd < 0) {
			if (t - last_dial < 100) {
				usleep(20000);
				continue;
			}
			last_dial = t;
			fd = tcp_dial(to, 1000);
			if (fd < 0)
				continue;
			++*connects;
			*up = 1;
			*port = local_port(fd);
			next_echo = next_seq;
			have = 0;
			next_send = now_ms();
			stats_write();
		}
		if (t >= next_send) {
			char line[32];
			int n = snprintf(line, sizeof(line), "%llu\n", next_seq);

			/* Lines are short: the socket buffer takes them whole or not at all. */
			if (send(fd, line, n, MSG_NOSIGNAL) == n) {
				sent_at[next_seq % RING] = t;
				next_seq++;
				++*sent;
			}
			next_send += opt.interval_ms;
			if (next_send < t)
				next_send = t + opt.interval_ms;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int wait = (int)(next_send > now_ms() ? next_send - now_ms() : 0);

		if (poll(&p, 1, wait) == 1) {
			ssize_t n = recv(fd, buf + have, sizeof(buf) - 1 - have, 0);

			if (n <= 0 && !(n < 0 && (errno == EAGAIN || errno == EINTR))) {
				goto broke;
			}
			if (n > 0) {
				char *line, *nl;

				have += n;
				buf[have] = '\0';
				line = buf;
				while ((nl = strchr(line, '\n'))) {
					unsigned long long seq;

					*nl = '\0';
					if (sscanf(line, "echo:%llu", &seq) == 1 && seq == next_echo && seq < next_seq) {
						uint64_t rtt = now_ms() - sent_at[seq % RING];

						++*echoed;
						next_echo++;
						if (rtt > *max_rtt)
							*max_rtt = rtt;
						if (rtt > 1000)
							++*late;
					} else {
						++*bad;
					}
					line = nl + 1;
				}
				have -= line - buf;
				memmove(buf, line, have);
			}
		}
		/* Stalled: the oldest echo is overdue. */
		if (next_echo < next_seq && now_ms() - sent_at[next_echo % RING] > (uint64_t)opt.stall_ms)
			goto broke;
		stats_maybe();
		continue;
broke:
		++*broken;
		*lost += next_seq - next_echo;
		next_echo = next_seq;
		*up = 0;
		close_rst(fd);
		fd = -1;
		stats_write();
	}
	/* What is still outstanding at the end is not lost: it is in flight. */
	stats_write();
}

/* udp-talk: one socket, a numbered datagram every interval. */
#define SEQ_MAX (1 << 22)
static void udp_talk(const struct sockaddr_in *to)
{
	static uint64_t sent_at[SEQ_MAX];
	static unsigned char got[SEQ_MAX];
	unsigned long long *sent = stat("sent"), *received = stat("received"), *lost = stat("lost"),
			   *dup = stat("dup"), *max_rtt = stat("max_rtt_ms"), *errors = stat("send_errors");
	unsigned long long seq = 0, judged = 0;
	uint64_t next_send = now_ms();
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	bind_local(fd);
	if (connect(fd, (const struct sockaddr *)to, sizeof(*to)))
		die("connect: %s", strerror(errno));
	stat("port")[0] = local_port(fd);
	while (!stop && seq < SEQ_MAX) {
		uint64_t t = now_ms();
		char buf[256];

		if (t >= next_send) {
			int n = snprintf(buf, sizeof(buf), "%llu\n", seq);

			sent_at[seq] = t;
			seq++;
			++*sent;
			if (send(fd, buf, n, 0) != n)
				++*errors; /* no route, unreachable: lost all the same */
			next_send += opt.interval_ms;
			if (next_send < t)
				next_send = t + opt.interval_ms;
		}
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int wait = (int)(next_send > now_ms() ? next_send - now_ms() : 0);

		if (poll(&p, 1, wait) == 1) {
			ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
			unsigned long long s;

			if (n > 0) {
				buf[n] = '\0';
				if (sscanf(buf, "echo:%llu", &s) == 1 && s < seq) {
					if (got[s]) {
						++*dup;
					} else {
						uint64_t rtt = now_ms() - sent_at[s];

						got[s] = 1;
						++*received;
						if (rtt > *max_rtt)
							*max_rtt = rtt;
					}
				}
			}
		}
		/* A datagram unanswered after a second is lost. */
		while (judged < seq && now_ms() - sent_at[judged] > 1000) {
			if (!got[judged])
				++*lost;
			judged++;
		}
		stats_maybe();
	}
	stats_write();
}

static int listen_on(const char *port, int type)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(atoi(port)) };
	int one = 1, fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);

	if (fd < 0)
		die("socket: %s", strerror(errno));
	if (opt.bind && inet_pton(AF_INET, opt.bind, &a.sin_addr) != 1)
		die("bad address %s", opt.bind);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)))
		die("bind %s: %s", port, strerror(errno));
	if ((type & SOCK_STREAM) && !(type & SOCK_DGRAM) && listen(fd, 4096))
		die("listen: %s", strerror(errno));
	return fd;
}

static void udp_echo(const char *port)
{
	unsigned long long *received = stat("received"), *replied = stat("replied");
	int fd = listen_on(port, SOCK_DGRAM), big = 4 << 20;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[2048], out[2100];
		struct sockaddr_in from;
		socklen_t len = sizeof(from);

		stats_maybe();
		if (poll(&p, 1, 100) != 1)
			continue;
		ssize_t n = recvfrom(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT, (struct sockaddr *)&from, &len);

		if (n < 0)
			continue;
		++*received;
		buf[n] = '\0';
		if (n && buf[n - 1] == '\n')
			buf[--n] = '\0';
		int m = snprintf(out, sizeof(out), "echo:%s\n", buf);

		if (sendto(fd, out, m, 0, (struct sockaddr *)&from, len) == m)
			++*replied;
	}
	stats_write();
}

/* tcp-echo: many connections, line by line, with poll(). */
#define CONNS 4096
static void tcp_echo(const char *port)
{
	static struct pollfd p[CONNS + 1];
	static char bufs[CONNS + 1][512];
	static size_t have[CONNS + 1];
	unsigned long long *accepted = stat("accepted"), *lines = stat("lines"), *open_now = stat("open");
	int n = 1;

	p[0].fd = listen_on(port, SOCK_STREAM | SOCK_NONBLOCK);
	p[0].events = POLLIN;
	printf("ready\n");
	fflush(stdout);
	while (!stop) {
		stats_maybe();
		if (poll(p, n, 100) <= 0)
			continue;
		if (p[0].revents & POLLIN) {
			int c;

			while (n <= CONNS && (c = accept4(p[0].fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
				p[n].fd = c;
				p[n].events = POLLIN;
				p[n].revents = 0;
				have[n] = 0;
				n++;
				++*accepted;
			}
		}
		for (int i = 1; i < n; i++) {
			char *line, *nl;
			ssize_t r;

			if (!p[i].revents)
				continue;
			r = recv(p[i].fd, bufs[i] + have[i], sizeof(bufs[i]) - 1 - have[i], 0);
			if (r <= 0) {
				if (r < 0 && (errno == EAGAIN || errno == EINTR))
					continue;
				close(p[i].fd);
				p[i] = p[n - 1];
				memcpy(bufs[i], bufs[n - 1], have[n - 1]);
				have[i] = have[n - 1];
				n--;
				i--;
				continue;
			}
			have[i] += r;
			bufs[i][have[i]] = '\0';
			line = bufs[i];
			while ((nl = strchr(line, '\n'))) {
				char out[600];
				int m;

				*nl = '\0';
				m = snprintf(out, sizeof(out), "echo:%s\n", line);
				++*lines;
				if (send(p[i].fd, out, m, MSG_NOSIGNAL) != m)
					break;
				line = nl + 1;
			}
			have[i] -= line - bufs[i];
			memmove(bufs[i], line, have[i]);
			if (have[i] >= sizeof(bufs[i]) - 1)
				have[i] = 0; /* no newline in 511 bytes: drop it */
		}
		*open_now = n - 1;
	}
	stats_write();
}

/* Keeps a churn loop under --rate flows per second. */
static void pace(unsigned long long done, uint64_t start_us)
{
	if (opt.rate <= 0)
		return;
	uint64_t due = start_us + done * 1000000ull / opt.rate, t = now_us();

	if (due > t)
		usleep(due - t);
}

static void udp_churn(const struct sockaddr_in *to)
{
	unsigned long long *flows = stat("flows"), *sent = stat("sent"), *replied = stat("replied"),
			   *timeouts = stat("timeouts"), *errors = stat("errors");
	uint64_t start = now_ms(), start_us = now_us();

	while (!stop && (!opt.secs || now_ms() - start < (uint64_t)opt.secs * 1000)) {
		int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[64];

		if (fd < 0)
			die("socket: %s", strerror(errno));
		++*flows;
		if (connect(fd, (const struct sockaddr *)to, sizeof(*to)) || send(fd, "c\n", 2, 0) != 2) {
			++*errors;
		} else {
			++*sent;
			if (poll(&p, 1, opt.timeout_ms) == 1 && recv(fd, buf, sizeof(buf), MSG_DONTWAIT) > 0) {
				++*replied;
			} else if (stop) {
				/* interrupted: its echo, if it comes, is late (NoPorts) */
			} else if (++*timeouts <= 20) {
				fprintf(stderr, "flowgen udp-churn: flow %llu (port %d) unanswered in %d ms at %.1f s\n", *flows,
					local_port(fd), opt.timeout_ms, (now_ms() - start) / 1000.0);
			}
		}
		close(fd);
		stats_maybe();
		pace(*flows, start_us);
	}
	stats_write();
}

static void tcp_churn(const struct sockaddr_in *to)
{
	unsigned long long *flows = stat("flows"), *ok = stat("ok"), *failed = stat("failed");
	uint64_t start = now_ms(), start_us = now_us();

	while (!stop && (!opt.secs || now_ms() - start < (uint64_t)opt.secs * 1000)) {
		int fd = tcp_dial(to, opt.timeout_ms > 1000 ? opt.timeout_ms : 1000);
		bool good = false;

		++*flows;
		if (fd >= 0) {
			struct pollfd p = { .fd = fd, .events = POLLIN };
			char buf[64];
			size_t have = 0;
			uint64_t t0 = now_ms();

			if (send(fd, "c\n", 2, MSG_NOSIGNAL) == 2) {
				while (have < 7 && now_ms() - t0 < 1000 && poll(&p, 1, 1000) == 1) {
					ssize_t r = recv(fd, buf + have, sizeof(buf) - have, 0);

					if (r <= 0)
						break;
					have += r;
				}
				good = have >= 7 && !memcmp(buf, "echo:c\n", 7);
			}
			close_rst(fd);
		}
		if (!good && stop) { /* cut short by the signal: not a failure */
			--*flows;
			break;
		}
		if (good) {
			++*ok;
		} else {
			++*failed;
			fprintf(stderr, "flowgen tcp-churn: flow %llu failed at %.1f s: %s\n", *flows,
				(now_ms() - start) / 1000.0, fd < 0 ? "no connection" : "no echo");
		}
		stats_maybe();
		pace(*flows, start_us);
	}
	stats_write();
}

static void tcp_hold(const struct sockaddr_in *to, int n)
{
	unsigned long long *ok = stat("ok"), *failed = stat("failed");

	for (int i = 0; i < n && !stop; i++) {
		int fd = tcp_dial(to, opt.timeout_ms);
		struct pollfd p = { .fd = fd, .events = POLLIN };
		char buf[64];
		ssize_t r = 0;

		if (fd >= 0 && send(fd, "hold\n", 5, MSG_NOSIGNAL) == 5 && poll(&p, 1, 2000) == 1)
			r = recv(fd, buf, sizeof(buf), 0);
		if (r >= 10 && !memcmp(buf, "echo:hold\n", 10)) {
			++*ok;
			printf("ok %d\n", local_port(fd));
		} else {
			++*failed;
			printf("fail\n");
			if (fd >= 0)
				close(fd);
		}
		fflush(stdout);
		stats_write();
	}
	while (!stop)
		pause();
	stats_write();
}

static uint16_t csum_fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static uint32_t csum_add(uint32_t s, const void *data, size_t len)
{
	const uint8_t *b = data;

	for (size_t i = 0; i + 1 < len; i += 2)
		s += (uint32_t)b[i] << 8 | b[i + 1];
	if (len & 1)
		s += (uint32_t)b[len - 1] << 8;
	return s;
}

/* raw: one hand-made packet (or --count of them), whatever its source. */
static void raw_send(char **argv)
{
	struct sockaddr_in src = addr_of(argv[0], argv[1]), dst = addr_of(argv[2], argv[3]);
	uint8_t pkt[128] = { 0 };
	struct iphdr *ip = (struct iphdr *)pkt;
	bool tcp = !strcmp(argv[4], "tcp");
	size_t l4len = tcp ? sizeof(struct tcphdr) : sizeof(struct udphdr) + 4;
	uint8_t *l4 = pkt + sizeof(*ip);
	uint32_t s;
	int one = 1, fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);

	if (fd < 0)
		die("raw socket: %s", strerror(errno));
	setsockopt(fd, IPPROTO_IP, IP_HDRINCL, &one, sizeof(one));
	ip->version = 4;
	ip->ihl = 5;
	ip->ttl = 64;
	ip->protocol = tcp ? IPPROTO_TCP : IPPROTO_UDP;
	ip->saddr = src.sin_addr.s_addr;
	ip->daddr = dst.sin_addr.s_addr;
	ip->tot_len = htons(sizeof(*ip) + l4len);
	ip->id = htons(getpid() & 0xffff);
	if (tcp) {
		struct tcphdr *th = (struct tcphdr *)l4;
		const char *f = argv[5] ? argv[5] : "A";

		th->source = src.sin_port;
		th->dest = dst.sin_port;
		th->seq = htonl(0x12345678);
		th->ack_seq = htonl(0x9abcdef0);
		th->doff = 5;
		th->window = htons(1024);
		th->syn = !!strchr(f, 'S');
		th->ack = !!strchr(f, 'A');
		th->fin = !!strchr(f, 'F');
		th->rst = !!strchr(f, 'R');
		th->psh = !!strchr(f, 'P');
		th->urg = !!strchr(f, 'U');
	} else {
		struct udphdr *uh = (struct udphdr *)l4;

		uh->source = src.sin_port;
		uh->dest = dst.sin_port;
		uh->len = htons(l4len);
		memcpy(uh + 1, "raw\n", 4);
	}
	/* Pseudo-header, then the segment. */
	s = csum_add(0, &ip->saddr, 8);
	s += ip->protocol + (uint32_t)l4len;
	s = csum_add(s, l4, l4len);
	if (tcp)
		((struct tcphdr *)l4)->check = htons(csum_fold(s));
	else
		((struct udphdr *)l4)->check = htons(csum_fold(s) ? csum_fold(s) : 0xffff);
	ip->check = htons(csum_fold(csum_add(0, ip, sizeof(*ip))));
	for (int i = 0; i < opt.count; i++)
		if (sendto(fd, pkt, sizeof(*ip) + l4len, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			die("sendto: %s", strerror(errno));
	close(fd);
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_signal };
	char *pos[9];
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;

		if (a[0] != '-' || a[1] != '-') {
			if (npos < 8)
				pos[npos++] = argv[i];
			continue;
		}
		if (!v)
			die("%s needs a value", a);
		i++;
		if (!strcmp(a, "--stats"))
			opt.stats = v;
		else if (!strcmp(a, "--interval"))
			opt.interval_ms = atoi(v);
		else if (!strcmp(a, "--timeout"))
			opt.timeout_ms = atoi(v);
		else if (!strcmp(a, "--stall"))
			opt.stall_ms = atoi(v);
		else if (!strcmp(a, "--sport"))
			opt.sport = atoi(v);
		else if (!strcmp(a, "--bind"))
			opt.bind = v;
		else if (!strcmp(a, "--secs"))
			opt.secs = atoi(v);
		else if (!strcmp(a, "--rate"))
			opt.rate = atoi(v);
		else if (!strcmp(a, "--count"))
			opt.count = atoi(v);
		else
			die("unknown option %s", a);
	}
	pos[npos] = NULL;
	if (npos < 2)
		die("usage: see the comment at the top of tests/tools/flowgen.c");
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);

	const char *mode = pos[0];

	if (!strcmp(mode, "udp-echo")) {
		udp_echo(pos[1]);
	} else if (!strcmp(mode, "tcp-echo")) {
		tcp_echo(pos[1]);
	} else if (!strcmp(mode, "raw")) {
		if (npos < 6)
			die("raw SRC SPORT DST DPORT tcp FLAGS|udp");
		raw_send(pos + 1);
	} else {
		struct sockaddr_in to;

		if (npos < 3)
			die("%s needs HOST PORT", mode);
		to = addr_of(pos[1], pos[2]);
		if (!strcmp(mode, "tcp-talk"))
			tcp_talk(&to);
		else if (!strcmp(mode, "udp-talk"))
			udp_talk(&to);
		else if (!strcmp(mode, "udp-churn"))
			udp_churn(&to);
		else if (!strcmp(mode, "tcp-churn"))
			tcp_churn(&to);
		else if (!strcmp(mode, "tcp-hold") && npos >= 4)
			tcp_hold(&to, atoi(pos[3]));
		else
			die("unknown mode %s", mode);
	}
	return 0;
}
