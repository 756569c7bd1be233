// SPDX-License-Identifier: GPL-2.0
/*
 * The daemonised supervisor: found by its pid file, stopped, forked (the
 * parent returns once the child says it is ready), and, when an upgrade
 * fails after the old build's supervisor stopped, started again from that
 * build's own command line.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "attach.h"
#include "log.h"

pid_t supervisor_pid(const char *bridge)
{
	return state_pid(bridge, "supervisor.pid", "qnat-bpf");
}

void supervisor_stop(const char *bridge)
{
	proc_stop(supervisor_pid(bridge), "qnat-bpf", 100);
}

#define READY '1' /* what supervise() writes once it is ready */

/* Where the daemonised supervisor logs: syslog, else this file. */
static const char *log_place(const char *bridge, char *buf, size_t len)
{
	if (syslog_reachable() || lib_path(bridge, "qnat-bpf.log", buf, len))
		return "syslog";
	return buf;
}

/* Start the supervisor in the background; returns once it is ready. */
int supervisor_spawn(struct attach *a, int verbose)
{
	char why[1024], logf[PATH_MAX];
	const char *place = log_place(a->s.bridge, logf, sizeof(logf));
	int fds[2], null, err;
	ssize_t n;
	pid_t pid;

	if (pipe2(fds, O_CLOEXEC))
		return -errno;
	pid = fork();
	if (pid < 0) {
		close(fds[0]);
		close(fds[1]);
		return -errno;
	}
	if (pid == 0) {
		close(fds[0]);
		if (a->old_exe_fd > 0)
			close(a->old_exe_fd); /* the old build's binary is the attach's to revive, not ours to hold */
		setsid();
		null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			dup2(null, STDERR_FILENO);
		}
		lib_dir_make(a->s.bridge);
		log_init_daemon(strcmp(place, "syslog") ? place : NULL, verbose);
		err = supervise(&a->s, a->x, &a->dp, a->bridge, a->uplink, fds[1]);
		/* Why not, for the attach to say (the log has it too). */
		if (err && write(fds[1], log_last_warning(), strlen(log_last_warning())) < 0)
			err = -EIO;
		_exit(err ? 1 : 0);
	}
	close(fds[1]);
	n = read(fds[0], why, sizeof(why) - 1);
	close(fds[0]);
	if (n == 1 && why[0] == READY)
		return 0;
	waitpid(pid, NULL, 0);
	why[n > 0 ? n : 0] = '\0';
	log_warnx("the supervisor failed to start: %s (its log: %s)", n > 0 ? why : "it exited", place);
	return -ECHILD;
}

/* Before another build's supervisor is stopped: how to start it again (its binary and command line). */
int supervisor_note(struct attach *a)
{
	char path[64];
	ssize_t n;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/exe", a->old_sup);
	a->old_exe_fd = open(path, O_RDONLY | O_CLOEXEC);
	n = readlink(path, a->old_exe, sizeof(a->old_exe) - 1);
	if (n <= 0 || a->old_exe_fd <= 0)
		return -errno;
	a->old_exe[n] = '\0';
	snprintf(path, sizeof(path), "/proc/%d/cmdline", a->old_sup);
	f = fopen(path, "re");
	if (!f)
		return -errno;
	a->old_args_len = fread(a->old_args, 1, sizeof(a->old_args) - 1, f);
	fclose(f);
	a->old_args[a->old_args_len] = '\0';
	return a->old_args_len ? 0 : -ENOENT;
}

/*
 * An upgrade failed after the old build's supervisor stopped: that build's
 * attach, run again as it was first run (daemonised), repairs the bridge
 * with its own programs and starts its supervisor.  Never leave none.  It
 * runs from the binary held open since, so an install that replaced or
 * removed the file in the meantime does not matter.
 */
void supervisor_revive(struct attach *a)
{
	char *argv[64];
	int argc = 0, status;
	pid_t pid;

	for (size_t k = 0; k < a->old_args_len && argc < 63; k += strlen(a->old_args + k) + 1)
		if (strcmp(a->old_args + k, "--foreground") && strcmp(a->old_args + k, "-f"))
			argv[argc++] = a->old_args + k;
	argv[argc] = NULL;
	if (!argc || a->old_exe_fd <= 0) {
		log_warnx("no supervisor runs for %s now (the old build %s is gone): run the attach again", a->s.bridge,
			  a->old_exe);
		return;
	}
	pid = fork();
	if (pid == 0) {
		int null = open("/dev/null", O_RDWR);

		if (null >= 0)
			dup2(null, STDOUT_FILENO);
		fexecve(a->old_exe_fd, argv, environ);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status))
		log_warnx("the old build's supervisor for %s did not start again: run the attach again", a->s.bridge);
	else
		log_warnx("%s: the upgrade was rolled back; build %s supervises it again", a->s.bridge, a->old_build);
}
