/* SPDX-License-Identifier: GPL-2.0 */
/* Logging in the manner of OpenBSD daemons: stderr in the foreground, syslog once daemonised
 * (a file when there is no syslog). */
#ifndef QNAT_LOG_H
#define QNAT_LOG_H

#include <stdarg.h>

#include <stdbool.h>

void log_init(int to_syslog, int verbose);
void log_init_daemon(const char *file, int verbose); /* syslog, else append to file */
bool syslog_reachable(void);
const char *log_where(void); /* "syslog", the file, or "stderr" */
void log_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));  /* appends strerror(errno) */
void log_warnx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_info(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_debug(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void log_libbpf_setup(void);
const char *log_last_warning(void); /* the last log_warn or log_warnx message */

#endif
