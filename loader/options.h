/* SPDX-License-Identifier: GPL-2.0 */
/* attach's options table (options.c) and what reads it: the command line, config.c and state.c. */
#ifndef QNAT_OPTIONS_H
#define QNAT_OPTIONS_H

#include "qnat.h"

enum opt_kind {
	OPT_FLAG,   /* a bool field: --NAME sets it, --NEG clears it */
	OPT_U32,    /* a number field in [min, max] */
	OPT_ENUM,   /* a field holding the index of one of names[] */
	OPT_IFNAME, /* a char[IFNAMSIZ] field */
	OPT_IPV4,   /* a struct in_addr field */
	OPT_LIST,   /* a struct str_list field: each use adds one value (parse(), if any, checks it) */
	OPT_CUSTOM, /* parse() and show() */
};

#define OPT_NAT (1u << 0)	/* NAT mode only: refused with --bridged */
#define OPT_NAT_SHOWN (1u << 1) /* accepted with --bridged, but means nothing there */
#define OPT_ALWAYS (1u << 2)	/* in descriptions even at its default */
#define OPT_REPEAT (1u << 3)	/* may be given more than once in a config file */
#define OPT_RELOAD (1u << 4)	/* SIGHUP applies a changed config file's value */
#define OPT_CLI (1u << 5)	/* the command line's only: not in a config file, not a setting */

struct opt {
	const char *name; /* --NAME, and NAME in a config file and the state file */
	const char *neg;  /* OPT_FLAG: the option that clears it */
	char short_name;
	const char *arg; /* the value's spelling in --help; NULL: no value (OPT_ENUM: names[]) */
	const char *help;
	enum opt_kind kind;
	size_t off, size; /* the field in struct settings (size 0: none) */
	uint32_t min, max, def;
	const char *init;	  /* OPT_CUSTOM: its default, as the command line would give it */
	const char *const *names; /* OPT_ENUM's values, NULL-terminated */
	const char *what;	  /* OPT_U32: what the number counts, for errors */
	const char *key;	  /* its name in descriptions, when not name */
	const char *bad;	  /* what the error says a wrong value should be */
	int count;		  /* values a setting holds (timeouts); 0: one */
	unsigned int flags;
	int (*parse)(const char *arg, struct settings *s, struct extras *x);
	int (*show)(const struct settings *s, int i, char *buf, size_t len);
};

#define OPTS_MAX 64
extern const struct opt attach_opts[];
extern const int attach_nopts;

const struct opt *opt_find(const char *name, size_t len, bool *neg);
bool opt_takes_value(const struct opt *o);
bool opt_is_setting(const struct opt *o);
int opt_apply(const struct opt *o, bool neg, const char *arg, struct settings *s, struct extras *x);
void opt_complain(const char *where, const struct opt *o, const char *arg);
int opt_show(const struct opt *o, const struct settings *s, int i, char *buf, size_t len);
void opts_list(unsigned int flag, const char *conj, char *buf, size_t len);
void attach_help(FILE *f);
void attach_list_options(FILE *f);

/* config.c: a config file's options, applied in order; given[] marks the ones it set */
int config_apply(const char *path, struct settings *s, struct extras *x, bool given[OPTS_MAX]);

/* libvirt.c: libvirt's network XML as options; bridge gets its <bridge name> */
int libvirt_xml_apply(const char *path, struct settings *s, struct extras *x, bool given[OPTS_MAX], char *bridge);

#endif
