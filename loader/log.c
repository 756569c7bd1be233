// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <bpf/libbpf.h>

#include "log.h"

static int use_syslog;
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

	if (!use_syslog && verbosity < 1)
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
