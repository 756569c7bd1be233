// SPDX-License-Identifier: GPL-2.0
/*
 * taprelay - stand-in for a QEMU process holding a TAP.
 *
 * Usage: taprelay [--vnet] HOST_TAP GUEST_NETNS GUEST_IF
 *
 * Creates TAP HOST_TAP in the current network namespace and TAP GUEST_IF
 * in network namespace GUEST_NETNS (a name under /var/run/netns, or a
 * path), prints "ready" once both exist, then copies frames both ways
 * until SIGTERM or SIGINT. Links are left down and unaddressed: the
 * caller configures them with ip(8). Both TAPs vanish when it exits; until
 * then the guest TAP's fd keeps GUEST_NETNS alive even after "ip netns del".
 * Exits 1 if either TAP is deleted under it.
 *
 * --vnet relays as QEMU does for a virtio-net guest: virtio-net headers on
 * both TAPs, checksum and TSO offloads on (the guest's TCP sends 64 KB
 * segments, the host hands it GRO'd ones), and a non-blocking host fd, which
 * is what makes tun run native XDP on the frames it writes.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/if_tun.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#define FRAME_MAX 65536

static volatile sig_atomic_t stop;
static int vnet; /* --vnet */

static void __attribute__((format(printf, 1, 2), noreturn))
die(const char *fmt, ...)
{
	va_list ap;

	fputs("taprelay: ", stderr);
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

static int tap_open(const char *name)
{
	struct ifreq ifr;
	int fd;

	if (strlen(name) >= IFNAMSIZ)
		die("interface name too long: %s", name);
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		die("open /dev/net/tun: %s", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI | (vnet ? IFF_VNET_HDR : 0);
	strncpy(ifr.ifr_name, name, IFNAMSIZ - 1);
	if (ioctl(fd, TUNSETIFF, &ifr) < 0)
		die("create tap %s: %s", name, strerror(errno));
	if (vnet && ioctl(fd, TUNSETOFFLOAD, TUN_F_CSUM | TUN_F_TSO4 | TUN_F_TSO6) < 0)
		die("offloads on tap %s: %s", name, strerror(errno));
	return fd;
}

/* Open a TAP inside another netns; the tun fd binds to the opener's netns. */
static int tap_open_in(const char *netns, const char *name)
{
	char path[256];
	int self, target, fd;

	if (strchr(netns, '/'))
		snprintf(path, sizeof(path), "%s", netns);
	else
		snprintf(path, sizeof(path), "/var/run/netns/%s", netns);
	self = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0)
		die("open /proc/self/ns/net: %s", strerror(errno));
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0)
		die("open %s: %s", path, strerror(errno));
	if (setns(target, CLONE_NEWNET) < 0)
		die("setns %s: %s", path, strerror(errno));
	fd = tap_open(name);
	if (setns(self, CLONE_NEWNET) < 0)
		die("setns back to original netns: %s", strerror(errno));
	close(target);
	close(self);
	return fd;
}

/* Move one frame; errors on write (link down, no buffer) just drop it. */
static void relay(int from, int to, const char *name)
{
	static unsigned char buf[FRAME_MAX];
	ssize_t n;

	n = read(from, buf, sizeof(buf));
	if (n < 0) {
		if (errno == EINTR || errno == EAGAIN)
			return;
		die("read %s: %s", name, strerror(errno));
	}
	if (n > 0 && write(to, buf, n) < 0 && errno != EIO &&
	    errno != EAGAIN && errno != ENOBUFS && errno != EINTR)
		die("write to peer of %s: %s", name, strerror(errno));
}

int main(int argc, char **argv)
{
	struct sigaction sa;
	struct pollfd pfd[2];
	sigset_t block, orig;
	int i;

	vnet = argc > 1 && !strcmp(argv[1], "--vnet");
	argc -= vnet;
	argv += vnet;
	if (argc != 4) {
		fprintf(stderr, "usage: taprelay [--vnet] HOST_TAP GUEST_NETNS GUEST_IF\n");
		return 2;
	}

	/* Signals stay blocked except inside ppoll(): no lost wakeups. */
	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigprocmask(SIG_BLOCK, &block, &orig);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigdelset(&orig, SIGTERM);
	sigdelset(&orig, SIGINT);

	pfd[0].fd = tap_open(argv[1]);
	if (vnet && fcntl(pfd[0].fd, F_SETFL, O_NONBLOCK) < 0)
		die("non-blocking %s: %s", argv[1], strerror(errno));
	pfd[1].fd = tap_open_in(argv[2], argv[3]);
	pfd[0].events = pfd[1].events = POLLIN;

	printf("ready\n");
	fflush(stdout);

	while (!stop) {
		if (ppoll(pfd, 2, NULL, &orig) < 0) {
			if (errno == EINTR)
				continue;
			die("poll: %s", strerror(errno));
		}
		for (i = 0; i < 2; i++) {
			if (pfd[i].revents & (POLLERR | POLLHUP | POLLNVAL))
				die("%s: device gone", argv[i ? 3 : 1]);
			if (pfd[i].revents & POLLIN)
				relay(pfd[i].fd, pfd[!i].fd, argv[i ? 3 : 1]);
		}
	}
	return 0;
}
