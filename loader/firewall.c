// SPDX-License-Identifier: GPL-2.0
/*
 * Would the host's firewall drop a packet?  Walks `nft list ruleset`, which
 * shows nftables and iptables-nft rules alike, for the base chains of a
 * hook.  Every base chain on a hook gets its say (an accept in one table
 * does not override a drop in another), so each is judged on its own.  A
 * rule is evaluated for one concrete packet; a match this walker does not
 * know makes the rule "maybe" and it is skipped, so only drops it is sure
 * of are reported.
 */
#include <stdlib.h>
#include <string.h>

#include "qnat.h"

#define FW_CHAINS_MAX 256
#define FW_RULES_MAX 4096

struct fw_chain {
	char family[8], table[64], name[64], hook[16];
	bool policy_drop;
	int first, n; /* its rules in fw.rules */
};

struct fw {
	struct fw_chain chain[FW_CHAINS_MAX];
	int nchain;
	char *rules[FW_RULES_MAX];
	int nrule;
};

enum { NO, YES, MAYBE };

static void fw_free(struct fw *fw)
{
	for (int i = 0; i < fw->nrule; i++)
		free(fw->rules[i]);
}

static struct fw_chain *chain_add(struct fw *fw, const char *fam, const char *table, const char *name)
{
	struct fw_chain *c;

	if (fw->nchain == FW_CHAINS_MAX)
		return NULL;
	c = &fw->chain[fw->nchain++];
	*c = (struct fw_chain){ .first = fw->nrule };
	snprintf(c->family, sizeof(c->family), "%s", fam);
	snprintf(c->table, sizeof(c->table), "%s", table);
	snprintf(c->name, sizeof(c->name), "%s", name);
	return c;
}

/* The chain's index, or -1. */
static int chain_find(const struct fw *fw, const char *family, const char *table, const char *name)
{
	for (int i = 0; i < fw->nchain; i++)
		if (!strcmp(fw->chain[i].family, family) && !strcmp(fw->chain[i].table, table) && !strcmp(fw->chain[i].name, name))
			return i;
	return -1;
}

/*
 * Reads the "add chain" and "add rule" commands iptables-restore-translate
 * writes (iptables-legacy's rules, which nft does not show), as family.
 */
static void fw_read_commands(struct fw *fw, FILE *p, const char *family)
{
	char line[1024], table[64], name[64];
	struct fw_chain *c = NULL;
	int n;

	while (fgets(line, sizeof(line), p)) {
		line[strcspn(line, "\n")] = 0;
		if (sscanf(line, "add chain %*s %63s %63s %n", table, name, &n) == 2 && (c = chain_add(fw, family, table, name))) {
			if (sscanf(line + n, "{ type %*s hook %15s", c->hook) == 1)
				c->policy_drop = strstr(line, "policy drop") != NULL;
		} else if (sscanf(line, "add rule %*s %63s %63s %n", table, name, &n) == 2 && fw->nrule < FW_RULES_MAX) {
			/* iptables-save lists a chain's rules together */
			int i = chain_find(fw, family, table, name);

			c = i < 0 ? NULL : &fw->chain[i];
			if (!c || (c->n && c->first + c->n != fw->nrule))
				continue;
			if (!c->n)
				c->first = fw->nrule;
			fw->rules[fw->nrule++] = strdup(line + n);
			c->n++;
		}
	}
}

/* Reads a ruleset as `nft list ruleset` prints it. */
static void fw_read(struct fw *fw, FILE *p)
{
	char line[1024];
	struct fw_chain *c = NULL;
	char fam[8] = "", table[64] = "";
	int depth = 0;

	while (fgets(line, sizeof(line), p)) {
		char name[64], *s = line + strspn(line, " \t");

		s[strcspn(s, "\n")] = 0;
		if (depth == 0 && sscanf(s, "table %7s %63s {", fam, table) == 2) {
			depth = 1;
		} else if (depth == 1 && sscanf(s, "chain %63s {", name) == 1 && (c = chain_add(fw, fam, table, name))) {
			depth = 2;
		} else if (!strcmp(s, "}")) {
			depth--;
			c = NULL;
		} else if (depth == 1 && strchr(s, '{')) {
			depth = 2; /* a set, map or flowtable */
		} else if (c && sscanf(s, "type %*s hook %15s", c->hook) == 1) {
			c->policy_drop = strstr(s, "policy drop") != NULL;
		} else if (c && *s && fw->nrule < FW_RULES_MAX) {
			fw->rules[fw->nrule++] = strdup(s);
			c->n++;
		}
	}
}

/* The next token; a "{ a, b }" set is one token.  NULL at the end. */
static char *tok(char **s, char *buf, size_t len)
{
	char *p = *s + strspn(*s, " "), *end;

	if (!*p)
		return NULL;
	end = *p == '{' ? strchr(p, '}') : *p == '"' ? strchr(p + 1, '"') : NULL;
	end = end ? end + 1 : p + strcspn(p, " ");
	snprintf(buf, len, "%.*s", (int)(end - p), p);
	*s = end;
	return buf;
}

/* Does value (a word, "quoted", a { set } or a-b range) take v in? */
static bool value_has(const char *value, const char *v)
{
	char item[64];
	const char *p = value;

	while (*p) {
		size_t n;
		char *dash, *star;

		p += strspn(p, "{}, \"");
		n = strcspn(p, "{}, \"");
		if (!n)
			break;
		snprintf(item, sizeof(item), "%.*s", (int)n, p);
		p += n;
		star = strchr(item, '*');
		dash = strchr(item, '-');
		if (!strcmp(item, v) || (star && !strncmp(item, v, star - item)))
			return true;
		if (dash && *v >= '0' && *v <= '9' && atoi(v) >= atoi(item) && atoi(v) <= atoi(dash + 1))
			return true;
	}
	return false;
}

/* Reads "[!=] VALUE" and reports whether it holds for v. */
static bool cmp(char **s, const char *v)
{
	char buf[256];
	bool neg = false;

	if (!tok(s, buf, sizeof(buf)))
		return false;
	if (!strcmp(buf, "!=") || !strcmp(buf, "==")) {
		neg = buf[0] == '!';
		if (!tok(s, buf, sizeof(buf)))
			return false;
	}
	return value_has(buf, v) != neg;
}

/*
 * Evaluates a rule for pkt: the verdict it reaches ("accept", "drop",
 * "jump X" ...) in verdict, YES when it matches, NO or MAYBE.
 */
static int rule_eval(const char *rule, const struct fw_packet *pkt, char *verdict, size_t len)
{
	char *s = (char *)rule, t[256];
	int m = YES;

	verdict[0] = 0;
	while (tok(&s, t, sizeof(t))) {
		if (!strcmp(t, "iifname") || !strcmp(t, "iif"))
			m = cmp(&s, pkt->iif) ? m : NO;
		else if (!strcmp(t, "oifname") || !strcmp(t, "oif"))
			m = cmp(&s, pkt->oif[0] ? pkt->oif : "-") ? m : NO;
		else if (!strcmp(t, "counter") || !strcmp(t, "packets") || !strcmp(t, "bytes") || !strcmp(t, "log") ||
			 !strcmp(t, "prefix") || !strcmp(t, "comment") || t[0] == '"' || strspn(t, "0123456789") == strlen(t))
			continue; /* counters, log prefixes and comments match everything */
		else if (!strcmp(t, "ct") && tok(&s, t, sizeof(t)) && !strcmp(t, "state"))
			m = cmp(&s, "new") ? m : NO; /* the first packet of a flow */
		else if ((!strcmp(t, "meta") && tok(&s, t, sizeof(t)) && !strcmp(t, "l4proto")) ||
			 (!strcmp(t, "ip") && tok(&s, t, sizeof(t)) && !strcmp(t, "protocol")))
			m = !pkt->proto[0] ? (m == NO ? NO : MAYBE) : cmp(&s, pkt->proto) ? m : NO;
		else if (!strcmp(t, "udp") || !strcmp(t, "tcp") || !strcmp(t, "th")) {
			bool same = pkt->proto[0] && (!strcmp(t, "th") || !strcmp(t, pkt->proto));

			if (pkt->proto[0] && !same)
				m = NO;
			if (!tok(&s, t, sizeof(t)))
				break;
			if (strcmp(t, "dport") || !pkt->dport[0])
				m = m == NO ? NO : MAYBE, cmp(&s, "");
			else
				m = cmp(&s, pkt->dport) ? m : NO;
		} else if (!strcmp(t, "accept") || !strcmp(t, "drop") || !strcmp(t, "reject") || !strcmp(t, "return")) {
			snprintf(verdict, len, "%s", t);
			break;
		} else if (!strcmp(t, "jump") || !strcmp(t, "goto")) {
			char target[128];

			snprintf(target, sizeof(target), "%s", t);
			if (tok(&s, t, sizeof(t)))
				snprintf(verdict, len, "%s %s", target, t);
			break;
		} else {
			m = m == NO ? NO : MAYBE; /* a match this walker does not know */
		}
	}
	return verdict[0] ? m : NO;
}

/*
 * The chain's verdict for pkt: 1 accepted, -1 dropped (why in why), 0 it
 * falls through (back to the caller, or the base chain's policy).
 */
static int chain_eval(const struct fw *fw, const struct fw_chain *c, const struct fw_packet *pkt, int depth,
		      char *why, size_t len)
{
	char verdict[160];

	for (int i = 0; i < c->n && depth < 8; i++) {
		const char *rule = fw->rules[c->first + i];
		int v, sub;

		if (rule_eval(rule, pkt, verdict, sizeof(verdict)) != YES)
			continue;
		if (!strcmp(verdict, "accept"))
			return 1;
		if (!strcmp(verdict, "drop") || !strcmp(verdict, "reject")) {
			snprintf(why, len, "rule \"%s\"", rule);
			return -1;
		}
		if (!strcmp(verdict, "return"))
			return 0;
		sub = chain_find(fw, c->family, c->table, strchr(verdict, ' ') + 1);
		v = sub >= 0 ? chain_eval(fw, &fw->chain[sub], pkt, depth + 1, why, len) : 0;
		if (v || !strncmp(verdict, "goto", 4))
			return v;
	}
	return 0;
}

int fw_judge(struct fw *fw, const char *hook, const struct fw_packet *pkt, fw_drop_cb cb, void *arg)
{
	int drops = 0;

	for (int i = 0; i < fw->nchain; i++) {
		const struct fw_chain *c = &fw->chain[i];
		char why[1200] = "policy drop";
		int v;

		if (strcmp(c->hook, hook) || (strcmp(c->family, "ip") && strcmp(c->family, "inet") && strcmp(c->family, "legacy")))
			continue;
		v = chain_eval(fw, c, pkt, 0, why, sizeof(why));
		if (v < 0 || (v == 0 && c->policy_drop)) {
			cb(c->family, c->table, c->name, why, arg);
			drops++;
		}
	}
	return drops;
}

/* A ruleset as `nft list ruleset` prints it, from rules. */
struct fw *fw_parse(FILE *rules)
{
	struct fw *fw = calloc(1, sizeof(*fw));

	if (fw)
		fw_read(fw, rules);
	return fw;
}

/*
 * The host's firewall, read once: nftables and iptables-nft (nft list
 * ruleset), then iptables-legacy's filter table when that tool is there
 * (its chains come as family "legacy").  NULL when nft cannot be read.
 */
struct fw *fw_load(void)
{
	FILE *p = popen("nft list ruleset 2>/dev/null", "re");
	struct fw *fw;

	if (!p)
		return NULL;
	fw = fw_parse(p);
	if (pclose(p) != 0) {
		fw_release(fw);
		return NULL;
	}
	p = popen("command -v iptables-legacy-save >/dev/null && iptables-legacy-save -t filter 2>/dev/null | "
		  "iptables-restore-translate -f /dev/stdin 2>/dev/null", "re");
	if (p) {
		if (fw)
			fw_read_commands(fw, p, "legacy");
		pclose(p);
	}
	return fw;
}

void fw_release(struct fw *fw)
{
	if (fw) {
		fw_free(fw);
		free(fw);
	}
}
