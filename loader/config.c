// SPDX-License-Identifier: GPL-2.0
/*
 * A config file: attach's options, one "name value" per line (a flag is its
 * name alone), # comments, CRLF line ends accepted.  Each line goes through
 * the options table; an error names FILE:LINE.
 */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include "log.h"
#include "options.h"

/* The line without its comment, line end and surrounding blanks; key and value split. */
static void config_split(char *line, char **key, char **val)
{
	char *k = line + strspn(line, " \t"), *v, *end;

	k[strcspn(k, "#\r\n")] = '\0';
	v = k + strcspn(k, " \t");
	if (*v)
		*v++ = '\0';
	v += strspn(v, " \t");
	for (end = v + strlen(v); end > v && (end[-1] == ' ' || end[-1] == '\t');)
		*--end = '\0';
	*key = k;
	*val = v;
}

/* One line's option; lines[] holds where each option was first given. */
static int config_line(const char *path, int n, char *line, struct settings *s, struct extras *x,
		       int lines[OPTS_MAX])
{
	char where[PATH_MAX + 16], *key, *val;
	const struct opt *o;
	bool neg;
	int i;

	config_split(line, &key, &val);
	if (!*key)
		return 0;
	snprintf(where, sizeof(where), "%s:%d", path, n);
	o = opt_find(key, strlen(key), &neg);
	if (!o || (o->flags & OPT_CLI)) {
		log_warnx("%s: %s %s (see qnat-bpf attach --help)", where, o ? "not for a config file:" : "unknown option",
			  key);
		return -EINVAL;
	}
	if (opt_takes_value(o) != !!*val) {
		log_warnx("%s: %s %s", where, key, *val ? "takes no value" : "needs a value");
		return -EINVAL;
	}
	i = o - attach_opts;
	if (lines[i] && !(o->flags & OPT_REPEAT)) {
		log_warnx("%s: %s given twice (first at %s:%d)", where, key, path, lines[i]);
		return -EINVAL;
	}
	if (!lines[i])
		lines[i] = n;
	if (opt_apply(o, neg, val, s, x)) {
		opt_complain(where, o, val);
		return -EINVAL;
	}
	return 0;
}

int config_apply(const char *path, struct settings *s, struct extras *x, bool given[OPTS_MAX])
{
	int lines[OPTS_MAX] = { 0 }, n = 0, err = 0;
	char line[1024];
	struct stat st;
	FILE *f = fopen(path, "re");

	if (!f) {
		err = -errno;
		log_warn("--config %s", path);
		return err;
	}
	if (!fstat(fileno(f), &st) && S_ISDIR(st.st_mode)) {
		log_warnx("--config %s: a directory, not a config file", path);
		fclose(f);
		return -EINVAL;
	}
	while (!err && fgets(line, sizeof(line), f)) {
		n++;
		if (!strchr(line, '\n') && !feof(f)) {
			log_warnx("%s:%d: line too long (at most %zu characters)", path, n, sizeof(line) - 2);
			err = -EINVAL;
		} else {
			err = config_line(path, n, line, s, x, lines);
		}
	}
	if (!err && ferror(f)) {
		err = -EIO;
		log_warnx("--config %s: read error", path);
	}
	fclose(f);
	for (int i = 0; i < attach_nopts; i++)
		given[i] |= lines[i] > 0;
	return err;
}
