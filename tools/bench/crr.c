// SPDX-License-Identifier: GPL-2.0
/*
 * TCP connection rate (netperf's TCP_CRR, which Debian does not package):
 * connect, one byte each way, close with RST so that no TIME_WAIT holds the
 * client's ports.  Every connection is a new flow for the NAT in between.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/tcp.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "qbench.h"

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	stop = 1;
}

static int sockaddr_of(const char *addr, const char *port, struct sockaddr_in *sa)
{
	uint64_t p;

	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	if (parse_ip(addr, &sa->sin_addr.s_addr) || parse_num(port, &p) || !p || p > 65535)
		return -EINVAL;
	sa->sin_port = htons(p);
	return 0;
}

static void serve(int lfd)
{
	while (!stop) {
		char c;
		int fd = accept(lfd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED || errno == EMFILE || errno == ENFILE)
				continue;
			break;
		}
		if (read(fd, &c, 1) == 1 && write(fd, &c, 1) == 1)
			while (read(fd, &c, 1) > 0)
				;
		close(fd);
	}
}

int cmd_crr_server(int argc, char **argv)
{
	struct sigaction sa = { .sa_handler = on_term };
	struct sockaddr_in addr;
	uint64_t nproc;
	pid_t kids[64];
	int lfd, one = 1, n = 0;

	if (argc != 4 || sockaddr_of(argv[1], argv[2], &addr) || parse_num(argv[3], &nproc) || !nproc || nproc > 64)
		return warnx_("usage: qbench crr-server ADDR PORT NPROC"), -EINVAL;
	lfd = socket(AF_INET, SOCK_STREAM, 0);
	if (lfd < 0 || setsockopt(lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(lfd, (struct sockaddr *)&addr, sizeof(addr)) || listen(lfd, 4096))
		return warnx_("listening on %s:%s: %s", argv[1], argv[2], strerror(errno)), -errno;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	for (uint64_t i = 1; i < nproc; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			prctl(PR_SET_PDEATHSIG, SIGTERM);
			serve(lfd);
			_exit(0);
		}
		if (pid > 0)
			kids[n++] = pid;
	}
	printf("ready\n");
	serve(lfd);
	for (int i = 0; i < n; i++)
		kill(kids[i], SIGTERM);
	while (wait(NULL) > 0)
		;
	return 0;
}

/* One client process: connections until the deadline; returns how many. */
static void client(const struct sockaddr_in *addr, double end, int out)
{
	struct timeval tv = { 2, 0 };
	struct linger lg = { 1, 0 };
	uint64_t res[2] = { 0, 0 }; /* connections, failures */

	while (now_s() < end) {
		int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
		char c = 'q';

		if (fd < 0)
			break;
		setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
		setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		if (!connect(fd, (const struct sockaddr *)addr, sizeof(*addr)) && write(fd, &c, 1) == 1 &&
		    read(fd, &c, 1) == 1)
			res[0]++;
		else
			res[1]++;
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(fd);
	}
	if (write(out, res, sizeof(res)) != sizeof(res))
		_exit(1);
}

int cmd_crr_client(int argc, char **argv)
{
	struct sockaddr_in addr;
	uint64_t nproc, secs, total[2] = { 0, 0 };
	int pipefd[2];
	double t0, end;

	if (argc != 5 || sockaddr_of(argv[1], argv[2], &addr) || parse_num(argv[3], &nproc) || !nproc ||
	    nproc > 64 || parse_num(argv[4], &secs) || !secs)
		return warnx_("usage: qbench crr-client ADDR PORT NPROC SECS"), -EINVAL;
	if (pipe(pipefd))
		return -errno;
	t0 = now_s();
	end = t0 + secs;
	for (uint64_t i = 0; i < nproc; i++) {
		pid_t pid = fork();

		if (pid == 0) {
			close(pipefd[0]);
			client(&addr, end, pipefd[1]);
			_exit(0);
		}
	}
	close(pipefd[1]);
	for (;;) {
		uint64_t r[2];
		ssize_t n = read(pipefd[0], r, sizeof(r));

		if (n != sizeof(r))
			break;
		total[0] += r[0];
		total[1] += r[1];
	}
	while (wait(NULL) > 0)
		;
	close(pipefd[0]);
	printf("cps %.0f conns %lu failed %lu secs %.3f\n", total[0] / (now_s() - t0), total[0], total[1],
	       now_s() - t0);
	return 0;
}
