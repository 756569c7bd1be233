// SPDX-License-Identifier: GPL-2.0
/*
 * The settings an attach was made with and what it changed on the host, kept
 * as lines in /run/qnat-bpf/nsINODE/BRIDGE/state: the settings as a config
 * file gives them (through the options table), then what attach owns.
 */
#include <errno.h>
#include <limits.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "options.h"

enum field_kind { F_BOOL, F_INT, F_U32, F_STR, F_IP };

#define OWNED(f, k) { #f, offsetof(struct owned, f), sizeof(((struct owned *)0)->f), k }
static const struct owned_field {
	const char *key;
	size_t off, size;
	enum field_kind kind;
} owned_fields[] = {
	OWNED(bridge_created, F_BOOL),	      OWNED(bridge_upped, F_BOOL),	   OWNED(addr_added, F_BOOL),
	OWNED(fwd_bridge_old, F_INT),	      OWNED(fwd_uplink_old, F_INT),	   OWNED(uplink_clsact_created, F_BOOL),
	OWNED(xdp_attached, F_INT),	      OWNED(sock_hooks, F_BOOL),	   OWNED(sock_cfg_id, F_U32),
	OWNED(bridge_mtu_old, F_INT),	      OWNED(bridge_txcsum_old, F_INT),	   OWNED(uplink_enslaved, F_BOOL),
	OWNED(moved_addrs, F_STR),	      OWNED(moved_gw, F_IP),		   OWNED(bridge_clsact_created, F_BOOL),
	OWNED(addr6_added, F_BOOL),	      OWNED(fwd6_old, F_INT),
};
_Static_assert(sizeof(bool) == 1 && sizeof(int) == 4, "owned_fields' sizes");

static size_t owned_write(const struct owned *o, char *buf, size_t len)
{
	size_t k = 0;

	for (size_t i = 0; i < sizeof(owned_fields) / sizeof(owned_fields[0]) && k < len; i++) {
		const struct owned_field *f = &owned_fields[i];
		const void *p = (const char *)o + f->off;

		k += f->kind == F_BOOL ? snprintf(buf + k, len - k, "%s %d\n", f->key, *(const bool *)p)
		     : f->kind == F_INT ? snprintf(buf + k, len - k, "%s %d\n", f->key, *(const int *)p)
		     : f->kind == F_U32 ? snprintf(buf + k, len - k, "%s %u\n", f->key, *(const uint32_t *)p)
		     : f->kind == F_IP	? snprintf(buf + k, len - k, "%s %s\n", f->key, ip_str(*(const struct in_addr *)p))
					/* a string that may be empty, which the file spells "-" */
					: snprintf(buf + k, len - k, "%s %s\n", f->key, *(const char *)p ? (const char *)p : "-");
	}
	return k;
}

/* 1 when key is one of owned_fields (and val was read into o). */
static int owned_read(const char *key, const char *val, struct owned *o)
{
	for (size_t i = 0; i < sizeof(owned_fields) / sizeof(owned_fields[0]); i++) {
		const struct owned_field *f = &owned_fields[i];
		void *p = (char *)o + f->off;

		if (strcmp(key, f->key))
			continue;
		if (f->kind == F_BOOL)
			*(bool *)p = strtol(val, NULL, 10);
		else if (f->kind == F_INT)
			*(int *)p = strtol(val, NULL, 10);
		else if (f->kind == F_U32)
			*(uint32_t *)p = strtoul(val, NULL, 10);
		else if (f->kind == F_IP)
			parse_ipv4(val, p);
		else if (strcmp(val, "-") && strlen(val) < f->size)
			strcpy(p, val);
		return 1;
	}
	return 0;
}

/* The settings as config-file lines: every value, flags only when not at their default. */
size_t settings_write(const struct settings *s, char *buf, size_t len)
{
	char v[512];
	size_t k = 0;

	for (int n = 0; n < attach_nopts; n++) {
		const struct opt *o = &attach_opts[n];

		for (int i = 0; i < (o->count ? o->count : 1) && opt_is_setting(o) && k < len; i++)
			if (opt_show(o, s, i, v, sizeof(v)))
				k += snprintf(buf + k, len - k, o->kind == OPT_FLAG ? "%s\n" : "%2$s %1$s\n", v,
					      o->name);
	}
	return k;
}

int state_text(const struct settings *s, const struct owned *o, char *buf, size_t len)
{
	size_t k = snprintf(buf, len, "abi %d\nbridge %s\n", QNAT_ABI_VERSION, s->bridge);

	k += settings_write(s, buf + k, len - k);
	if (k < len)
		k += owned_write(o, buf + k, len - k);
	if (k < len)
		k += snprintf(buf + k, len - k, "build %s\n", build_id());
	return k < len ? 0 : -ENOSPC;
}

int state_save(const struct settings *s, const struct owned *o)
{
	static char buf[16384];
	char path[PATH_MAX];
	int err;

	if ((err = state_dir_make(s->bridge)) || (err = state_text(s, o, buf, sizeof(buf))))
		return err;
	err = state_path(s->bridge, "state", path, sizeof(path));
	return err ? err : write_file_atomic(path, buf, 0600);
}

/* One line of the state file, split at its first blank. */
static void state_line(char *line, struct settings *s, struct owned *o)
{
	char *val = line + strcspn(line, " \n");
	const struct opt *opt;
	bool neg;

	if (*val == ' ')
		*val++ = '\0';
	else
		*val = '\0';
	val[strcspn(val, "\n")] = '\0';
	if (!strcmp(line, "abi"))
		o->abi = strtol(val, NULL, 10);
	else if (!strcmp(line, "bridge") && strlen(val) < sizeof(s->bridge))
		strcpy(s->bridge, val);
	else if (!strcmp(line, "build") && strlen(val) < sizeof(o->build))
		strcpy(o->build, val);
	else if (!owned_read(line, val, o) && (opt = opt_find(line, strlen(line), &neg)) && opt_is_setting(opt))
		opt_apply(opt, neg, val, s, NULL);
}

int state_parse(FILE *f, struct settings *s, struct owned *o)
{
	char line[1024];

	settings_defaults(s);
	memset(o, 0, sizeof(*o));
	o->abi = -1;
	o->bridge_txcsum_old = o->fwd6_old = -1;
	while (fgets(line, sizeof(line), f))
		state_line(line, s, o);
	return o->abi == QNAT_ABI_VERSION ? 0 : -EPROTO;
}

int state_load(const char *bridge, struct settings *s, struct owned *o)
{
	char path[PATH_MAX];
	int err;
	FILE *f;

	err = state_path(bridge, "state", path, sizeof(path));
	if (err)
		return err;
	f = fopen(path, "re");
	if (!f)
		return -errno;
	err = state_parse(f, s, o);
	fclose(f);
	return err;
}
