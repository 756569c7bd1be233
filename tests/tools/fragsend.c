// SPDX-License-Identifier: GPL-2.0
/*
 * fragsend - one UDP datagram (stdin's bytes) sent as IPv4 fragments in a
 * chosen order, through a raw IP_HDRINCL socket: what a peer whose packets
 * are reordered on the way looks like.
 *
 *   fragsend [opts] SRC:PORT DST:PORT    from SRC:PORT to DST:PORT
 *   fragsend [opts] --answer SRC:PORT    waits (10 s at most) for one datagram
 *                                        to SRC:PORT, answers its sender and
 *                                        prints the sender as ADDR:PORT
 *
 *   --order forward|reverse|first-last   fragment order (reverse: the first
 *                                        fragment goes last; first-last: the
 *                                        others in order, then the first)
 *   --mtu N                              largest fragment, IP header included (1500)
 *   --id N                               IP identification (random)
 *   --no-first                           leave the first fragment out: a
 *                                        datagram that never completes
 * Exit 0 when every fragment was sent; 1 with a message otherwise.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/udp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define DGRAM_MAX 65507

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
	int err = errno;
	va_list ap;

	fprintf(stderr, "fragsend: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "%s%s\n", err ? ": " : "", err ? strerror(err) : "");
	exit(1);
}

static void parse_ep(const char *s, struct sockaddr_in *a)
{
	char host[64];
	const char *colon = strrchr(s, ':');
	char *end;
	long port;

	errno = 0;
	if (!colon || colon - s >= (long)sizeof(host))
		die("%s: not ADDR:PORT", s);
	memcpy(host, s, colon - s);
	host[colon - s] = 0;
	port = strtol(colon + 1, &end, 10);
	memset(a, 0, sizeof(*a));
	a->sin_family = AF_INET;
	a->sin_port = htons(port);
	if (*end || port < 1 || port > 65535 || inet_pton(AF_INET, host, &a->sin_addr) != 1)
		die("%s: not ADDR:PORT", s);
}

static uint32_t sum16(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *b = data;

	for (size_t i = 0; i < len; i++)
		sum += i & 1 ? b[i] : b[i] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return ~sum & 0xffff;
}

int main(int argc, char **argv)
{
	static uint8_t dgram[8 + DGRAM_MAX], pkt[65536];
	const char *order = "forward", *answer = NULL;
	struct sockaddr_in src, dst;
	long mtu = 1500, id = -1;
	size_t len, chunk, n;
	int fd, i, no_first = 0;

	errno = 0;
	for (i = 1; i < argc && !strncmp(argv[i], "--", 2); i++) {
		const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;

		if (!strcmp(opt, "--no-first")) {
			no_first = 1;
			continue;
		}
		if (!val)
			die("%s needs a value", opt);
		i++;
		if (!strcmp(opt, "--order"))
			order = val;
		else if (!strcmp(opt, "--mtu"))
			mtu = strtol(val, NULL, 10);
		else if (!strcmp(opt, "--id"))
			id = strtol(val, NULL, 10);
		else if (!strcmp(opt, "--answer"))
			answer = val;
		else
			die("unknown option %s", opt);
	}
	if (strcmp(order, "forward") && strcmp(order, "reverse") && strcmp(order, "first-last"))
		die("--order %s: forward, reverse or first-last", order);
	if (mtu < 68 || mtu > 65535 || id > 65535)
		die("--mtu is 68-65535, --id 0-65535");
	if (answer ? i != argc : i + 2 != argc)
		die("usage: fragsend [--order O] [--mtu N] [--id N] [--no-first] (SRC:PORT DST:PORT | --answer SRC:PORT) "
		    "<payload");
	parse_ep(answer ? answer : argv[i], &src);
	if (!answer)
		parse_ep(argv[i + 1], &dst);

	/* The datagram: UDP header, then stdin. */
	len = fread(dgram + 8, 1, DGRAM_MAX + 1, stdin);
	errno = 0;
	if (len > DGRAM_MAX)
		die("stdin: more than 65507 bytes");
	len += 8;

	if (answer) {
		struct timeval tv = { .tv_sec = 10 };
		socklen_t alen = sizeof(dst);
		char buf[2048];
		int us = socket(AF_INET, SOCK_DGRAM, 0);

		if (us < 0 || setsockopt(us, SOL_SOCKET, SO_REUSEADDR, &(int){ 1 }, sizeof(int)) ||
		    bind(us, (struct sockaddr *)&src, sizeof(src)))
			die("cannot listen on %s", answer);
		setsockopt(us, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		if (recvfrom(us, buf, sizeof(buf), 0, (struct sockaddr *)&dst, &alen) < 0)
			die("nothing came to %s", answer);
		printf("%s:%u\n", inet_ntoa(dst.sin_addr), ntohs(dst.sin_port));
		fflush(stdout);
		close(us);
	}

	/* UDP header and checksum over the whole datagram (pseudo-header first). */
	struct udphdr *uh = (void *)dgram;
	uint8_t ph[12];
	uint32_t sum;

	uh->source = src.sin_port;
	uh->dest = dst.sin_port;
	uh->len = htons(len);
	uh->check = 0;
	memcpy(ph, &src.sin_addr, 4);
	memcpy(ph + 4, &dst.sin_addr, 4);
	ph[8] = 0;
	ph[9] = IPPROTO_UDP;
	ph[10] = len >> 8;
	ph[11] = len & 0xff;
	sum = sum16(sum16(0, ph, sizeof(ph)), dgram, len);
	uh->check = htons(fold(sum) ? fold(sum) : 0xffff);

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW); /* IP_HDRINCL implied */
	if (fd < 0)
		die("raw socket");
	srand(time(NULL) ^ getpid());
	if (id < 0)
		id = 1 + rand() % 65535;
	chunk = (mtu - sizeof(struct iphdr)) & ~7UL;
	n = (len + chunk - 1) / chunk;
	for (size_t k = 0; k < n; k++) {
		size_t f = !strcmp(order, "forward") ? k : !strcmp(order, "reverse") ? n - 1 - k : (k + 1) % n;
		size_t off = f * chunk, flen = len - off < chunk ? len - off : chunk;
		struct iphdr *ip = (void *)pkt;

		if (no_first && f == 0)
			continue;
		memset(ip, 0, sizeof(*ip));
		ip->version = 4;
		ip->ihl = 5;
		ip->tot_len = htons(sizeof(*ip) + flen);
		ip->id = htons(id);
		ip->frag_off = htons((off / 8) | (f + 1 < n ? IP_MF : 0));
		ip->ttl = 64;
		ip->protocol = IPPROTO_UDP;
		ip->saddr = src.sin_addr.s_addr;
		ip->daddr = dst.sin_addr.s_addr;
		ip->check = htons(fold(sum16(0, ip, sizeof(*ip))));
		memcpy(pkt + sizeof(*ip), dgram + off, flen);
		if (sendto(fd, pkt, sizeof(*ip) + flen, 0, (struct sockaddr *)&dst, sizeof(dst)) < 0)
			die("sendto");
	}
	close(fd);
	return 0;
}
