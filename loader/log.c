// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <bpf/libbpf.h>

#include "log.h"

static int use_syslog;
static FILE *log_file; /* once daemonised without a syslog */
static char where[4096] = "stderr";
static int verbosity;
static char last_warning[1024]; /* what a daemonised child tells its parent */

const char *log_last_warning(void)
{
	return last_warning;
}

void log_init(int to_syslog, int verbose)
{
	use_syslog = to_syslog;
	verbosity = verbose;
	if (to_syslog)
		openlog("qnat-bpf", LOG_PID | LOG_NDELAY, LOG_DAEMON);
}

/* Does something accept datagrams or connections on /dev/log? */
bool syslog_reachable(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = "/dev/log" };
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	bool ok = false;

	for (int i = 0; i < 2 && !ok; i++) {
		int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC, 0);

		ok = fd >= 0 && !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
		if (fd >= 0)
			close(fd);
	}
	return ok;
}

const char *log_where(void)
{
	return where;
}

/*
 * Daemonised: syslog when there is one, else append to file (root's,
 * 0600), so that what the supervisor says is always somewhere.
 */
void log_init_daemon(const char *file, int verbose)
{
	if (syslog_reachable() || !file) {
		snprintf(where, sizeof(where), "syslog");
		log_init(1, verbose);
		return;
	}
	struct stat st;
	char old[4100];

	verbosity = verbose;
	snprintf(old, sizeof(old), "%s.1", file);
	if (!stat(file, &st) && st.st_size > (1 << 20))
		rename(file, old); /* one old generation, at most 1 MiB each */
	log_file = fopen(file, "ae");
	if (log_file && fchmod(fileno(log_file), 0600) == 0)
		snprintf(where, sizeof(where), "%s", file);
	else
		snprintf(where, sizeof(where), "nowhere (%s: %s)", file, strerror(errno));
}

static void vlog(int pri, const char *fmt, va_list ap, const char *suffix)
{
	char buf[1024];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	if (pri <= LOG_WARNING)
		snprintf(last_warning, sizeof(last_warning), suffix ? "%s: %s" : "%s", buf, suffix);
	if (use_syslog) {
		if (suffix)
			syslog(pri, "%s: %s", buf, suffix);
		else
			syslog(pri, "%s", buf);
		return;
	}
	if (log_file) {
		char stamp[32];
		time_t now = time(NULL);

		strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
		fprintf(log_file, "%s qnat-bpf[%d]: %s%s%s\n", stamp, (int)getpid(), buf, suffix ? ": " : "",
			suffix ? suffix : "");
		fflush(log_file);
		return;
	}
	if (suffix)
		fprintf(stderr, "qnat-bpf: %s: %s\n", buf, suffix);
	else
		fprintf(stderr, "qnat-bpf: %s\n", buf);
}

void log_warn(const char *fmt, ...)
{
	int saved = errno;
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, strerror(saved));
	va_end(ap);
	errno = saved;
}

void log_warnx(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vlog(LOG_ERR, fmt, ap, NULL);
	va_end(ap);
}

void log_info(const char *fmt, ...)
{
	va_list ap;

	if (!use_syslog && !log_file && verbosity < 1)
		return;
	va_start(ap, fmt);
	vlog(LOG_INFO, fmt, ap, NULL);
	va_end(ap);
}

void log_debug(const char *fmt, ...)
{
	va_list ap;

	if (verbosity < 2)
		return;
	va_start(ap, fmt);
	vlog(LOG_DEBUG, fmt, ap, NULL);
	va_end(ap);
}

/* libbpf speaks one level below us: its warnings show with -v, its information with -vv, its debug with -vvv. */
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	int needs = level == LIBBPF_WARN ? 1 : level == LIBBPF_INFO ? 2 : 3;

	if (verbosity < needs)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void log_libbpf_setup(void)
{
	libbpf_set_print(libbpf_print);
}
