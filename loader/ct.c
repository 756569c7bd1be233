// SPDX-License-Identifier: GPL-2.0
/* Conntrack in userspace: timeouts, expiry of both halves of a flow, and `ct show`. */
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>

#include "json.h"
#include "log.h"
#include "qnat.h"

static const char *const state_names[QNAT_CT_STATE_MAX] = {
	[QNAT_CT_NONE] = "NONE",	   [QNAT_CT_SYN_SENT] = "SYN_SENT", [QNAT_CT_SYN_RECV] = "SYN_RECV",
	[QNAT_CT_ESTABLISHED] = "ESTABLISHED", [QNAT_CT_FIN_WAIT] = "FIN_WAIT", [QNAT_CT_TIME_WAIT] = "TIME_WAIT",
	[QNAT_CT_CLOSE] = "CLOSE",	   [QNAT_CT_UDP] = "UDP",	    [QNAT_CT_ICMP] = "ICMP",
};

const char *ct_state_name(uint8_t state)
{
	return state < QNAT_CT_STATE_MAX ? state_names[state] : "?";
}

uint32_t ct_timeout_of(const struct qnat_ct_entry *e, uint8_t proto, const uint32_t to[QNAT_TO_MAX])
{
	switch (e->state) {
	case QNAT_CT_NONE:
	case QNAT_CT_SYN_SENT:
		return to[QNAT_TO_TCP_SYN_SENT];
	case QNAT_CT_SYN_RECV:
		return to[QNAT_TO_TCP_SYN_RECV];
	case QNAT_CT_ESTABLISHED:
		/* Picked up mid-stream and never answered (a guest's bare ACK into
		 * the void): 300 s, nf_conntrack's tcp_timeout_unacknowledged, so
		 * one packet cannot hold a table slot for days. */
		if (!(e->flags & QNAT_CTF_REPLIED) && to[QNAT_TO_TCP_ESTABLISHED] > 300)
			return 300;
		return to[QNAT_TO_TCP_ESTABLISHED];
	case QNAT_CT_FIN_WAIT:
		return to[QNAT_TO_TCP_FIN_WAIT];
	case QNAT_CT_TIME_WAIT:
		return to[QNAT_TO_TCP_TIME_WAIT];
	case QNAT_CT_CLOSE:
		return to[QNAT_TO_TCP_CLOSE];
	case QNAT_CT_UDP:
		return to[(e->flags & QNAT_CTF_REPLIED) ? QNAT_TO_UDP_STREAM : QNAT_TO_UDP];
	default:
		return to[QNAT_TO_ICMP];
	}
}

/* A conntrack key of either table. */
union ct_key {
	struct qnat_ct_key v4;
	struct qnat_ct6_key v6;
};

/*
 * The two tables, qnat_ct (IPv4) and qnat_ct6 (NAT66), as the code below
 * walks them: what differs between them is here and in the few helpers
 * after it.
 */
enum { CT_V4, CT_V6, CT_TABLES };
struct ct_table {
	bool v6;
	int fd, rev_fd;
	uint32_t key_size;
	uint32_t ext[4]; /* the uplink address the table's flows leave from now: ext_addr, or ext6 */
};

static void ct_tables(struct dataplane *dp, struct ct_table t[CT_TABLES])
{
	struct qnat_config cfg = { 0 };
	uint32_t slot = dp->net;

	bpf_map_lookup_elem(dp->config_fd, &slot, &cfg);
	t[CT_V4] = (struct ct_table){ false, dp->ct_fd, dp->ct_rev_fd, sizeof(struct qnat_ct_key), { cfg.ext_addr } };
	t[CT_V6] = (struct ct_table){ true, dp->ct6_fd, dp->ct6_rev_fd, sizeof(struct qnat_ct6_key), { 0 } };
	memcpy(t[CT_V6].ext, cfg.ext6, sizeof(cfg.ext6));
}

static uint8_t key_proto(const struct ct_table *t, const union ct_key *k)
{
	return t->v6 ? k->v6.proto : k->v4.proto;
}

static bool key_ours(const struct dataplane *dp, const struct ct_table *t, const union ct_key *k)
{
	return t->v6 ? dp_owns6(dp, k->v6.saddr) : dp_owns(dp, k->v4.saddr);
}

/* The flow's reply tuple: its key in the table's reverse map. */
static void key_reply(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, union ct_key *rev)
{
	memset(rev, 0, sizeof(*rev));
	if (t->v6)
		qnat_ct6_reply_key(&k->v6, e, t->ext, &rev->v6);
	else
		qnat_ct_reply_key(&k->v4, e, &rev->v4);
}

/* Walk a map in batches: one syscall per few thousand entries. */
typedef int (*map_visit)(const void *key, const void *val, void *arg);

static int map_walk(int fd, uint32_t key_size, uint32_t val_size, map_visit fn, void *arg)
{
	enum { BATCH = 4096 };
	char *keys = calloc(BATCH, key_size), *vals = calloc(BATCH, val_size);
	union ct_key in, out; /* the batch position: a key of the map */
	void *inp = NULL;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		uint32_t n = BATCH;
		int rc = bpf_map_lookup_batch(fd, inp, &out, keys, vals, &n, NULL);

		if (rc && errno != ENOENT) {
			err = -errno;
			break;
		}
		/* A visitor's error (ENOMEM) stops the walk: half a table is not the table. */
		for (uint32_t i = 0; i < n && !err; i++)
			err = fn(keys + i * key_size, vals + i * val_size, arg);
		if (err)
			break;
		if (rc) /* ENOENT: that was the last batch */
			break;
		in = out;
		inp = &in;
	}
out:
	free(keys);
	free(vals);
	return err;
}

typedef int (*ct_visit)(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, void *arg);

struct ct_walker {
	struct dataplane *dp;
	const struct ct_table *t;
	ct_visit fn;
	void *arg;
};

static int walk_one(const void *key, const void *val, void *arg)
{
	struct ct_walker *w = arg;
	union ct_key k;

	memcpy(&k, key, w->t->key_size);
	return key_ours(w->dp, w->t, &k) ? w->fn(w->t, &k, val, w->arg) : 0;
}

/* One table's flows; only our network's are visited: a shared uplink's table holds others' too. */
static int ct_walk(struct dataplane *dp, const struct ct_table *t, ct_visit fn, void *arg)
{
	struct ct_walker w = { dp, t, fn, arg };

	return t->fd < 0 ? 0 : map_walk(t->fd, t->key_size, sizeof(struct qnat_ct_entry), walk_one, &w);
}

/* Both tables' flows: IPv4, then IPv6. */
static int ct_walk_all(struct dataplane *dp, ct_visit fn, void *arg)
{
	struct ct_table t[CT_TABLES];
	int err = 0;

	ct_tables(dp, t);
	for (int i = 0; i < CT_TABLES && !err; i++)
		err = ct_walk(dp, &t[i], fn, arg);
	return err;
}

/* Flows per guest, counted during the pass (open addressing, power of two). */
#define GUEST_SLOTS (QNAT_GUESTS_MAX * 2)
struct guest_count {
	uint32_t addr; /* 0: free */
	uint32_t flows;
};

static void guest_count_add(struct guest_count *t, uint32_t addr)
{
	for (uint32_t i = (addr * 2654435761u) & (GUEST_SLOTS - 1), n = 0; n < GUEST_SLOTS;
	     i = (i + 1) & (GUEST_SLOTS - 1), n++) {
		if (t[i].addr == addr || !t[i].addr) {
			t[i].addr = addr;
			t[i].flows++;
			return;
		}
	}
}

/* A live flow, as eviction ranks it. */
struct victim {
	union ct_key k;
	uint64_t last_seen;
	bool replied;
};

struct expiry {
	struct dataplane *dp;
	const uint32_t *timeouts;
	uint64_t now;
	struct expiry_result *res;
	struct guest_count *guests;
	struct victim *victims; /* when eviction may be needed */
	uint32_t nvictims, cap, live;
};

/*
 * A flow that goes leaves its packets and bytes in its guest's totals.
 * qnat_guests is keyed by IPv4 address: IPv6 guests have no entry there
 * (no per-guest totals, no --max-flows-per-guest count), so their flows
 * leave nothing.
 */
static void ct_retire(struct dataplane *dp, const struct ct_table *t, const union ct_key *k,
		      const struct qnat_ct_entry *e)
{
	struct qnat_guest g = { 0 };
	uint32_t guest = k->v4.saddr;

	if (dp->guests_fd < 0 || t->v6)
		return;
	bpf_map_lookup_elem(dp->guests_fd, &guest, &g);
	for (int d = 0; d < QNAT_DIR_MAX; d++) {
		g.packets[d] += e->packets[d];
		g.bytes[d] += e->bytes[d];
	}
	bpf_map_update_elem(dp->guests_fd, &guest, &g, BPF_ANY);
}

/* Is the reverse map's entry rev this flow's? */
static bool rev_is(const struct ct_table *t, const union ct_key *rev, const union ct_key *k)
{
	union ct_key owner;

	return !bpf_map_lookup_elem(t->rev_fd, rev, &owner) && !memcmp(&owner, k, t->key_size);
}

static void ct_delete(struct dataplane *dp, const struct ct_table *t, const union ct_key *k,
		      const struct qnat_ct_entry *e)
{
	union ct_key rev;

	ct_retire(dp, t, k, e);
	key_reply(t, k, e, &rev);
	/* Delete the reverse half only if it is still this flow's. */
	if (rev_is(t, &rev, k))
		bpf_map_delete_elem(t->rev_fd, &rev);
	bpf_map_delete_elem(t->fd, k);
}

/*
 * The uplink's address changed: a masqueraded flow bound to the old one
 * would leave with a source the host no longer owns.  MASQUERADE forgets
 * such flows too; the guest's next packet starts a new one.  An IPv4 flow
 * keeps its address; an IPv6 one leaves from ext6, whatever it is now, and
 * its reply tuple under today's ext6 is not its own when ext6 changed (the
 * data plane claims the reply tuple before it writes the flow).
 */
static bool ct_stale(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e)
{
	union ct_key rev;

	if ((e->flags & (QNAT_CTF_DNAT | QNAT_CTF_HAIRPIN)) || !(t->ext[0] | t->ext[1] | t->ext[2] | t->ext[3]))
		return false;
	if (!t->v6)
		return e->nat_addr != t->ext[0];
	key_reply(t, k, e, &rev);
	return !rev_is(t, &rev, k);
}

static int expire_one(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct expiry *x = arg;
	uint64_t limit = (uint64_t)ct_timeout_of(e, key_proto(t, k), x->timeouts) * 1000000000ull;
	bool stale = ct_stale(t, k, e);
	bool expired = e->last_seen <= x->now && x->now - e->last_seen > limit;
	struct qnat_ct_entry cur;

	/* The batch is a snapshot: a packet (a reused port) may have revived
	 * the flow since it was read.  Deleting it now would drop its reply. */
	if (expired && !stale && !bpf_map_lookup_elem(t->fd, k, &cur) && cur.last_seen != e->last_seen)
		expired = false;
	if (stale || expired) {
		ct_delete(x->dp, t, k, e);
		x->res->expired++;
		return 0;
	}
	x->live++;
	if (x->guests && !t->v6)
		guest_count_add(x->guests, k->v4.saddr);
	if (x->victims && x->nvictims < x->cap)
		x->victims[x->nvictims++] = (struct victim){ *k, e->last_seen, !!(e->flags & QNAT_CTF_REPLIED) };
	return 0;
}

/* Unreplied flows first (like nf_conntrack's early drop), then the oldest. */
static int victim_cmp(const void *a, const void *b)
{
	const struct victim *x = a, *y = b;

	if (x->replied != y->replied)
		return x->replied - y->replied;
	return x->last_seen < y->last_seen ? -1 : x->last_seen > y->last_seen;
}

/* Make the guests map hold the true count of each guest's flows. */
static void guests_sync(struct dataplane *dp, const struct guest_count *t)
{
	uint32_t key, next, *prev = NULL;

	while (!bpf_map_get_next_key(dp->guests_fd, prev, &next)) {
		struct qnat_guest g;

		key = next;
		prev = &key;
		if (!dp_owns(dp, key) || bpf_map_lookup_elem(dp->guests_fd, &key, &g))
			continue;
		g.flows = 0;
		for (uint32_t i = (key * 2654435761u) & (GUEST_SLOTS - 1), n = 0; n < GUEST_SLOTS && t[i].addr;
		     i = (i + 1) & (GUEST_SLOTS - 1), n++)
			if (t[i].addr == key) {
				g.flows = t[i].flows;
				break;
			}
		bpf_map_update_elem(dp->guests_fd, &key, &g, BPF_EXIST);
	}
}

/* With --ct-full evict, a table over 95% full is brought down to 90%. */
static void ct_evict(struct dataplane *dp, const struct settings *s, const struct ct_table *t, struct expiry *x)
{
	uint32_t target, evicted = 0;

	if (!x->victims || (uint64_t)x->live * 100 <= (uint64_t)s->ct_max * 95)
		return;
	target = x->live - (uint32_t)((uint64_t)s->ct_max * 90 / 100);
	qsort(x->victims, x->nvictims, sizeof(*x->victims), victim_cmp);
	for (uint32_t i = 0; i < target && i < x->nvictims; i++) {
		struct qnat_ct_entry e;

		if (!bpf_map_lookup_elem(t->fd, &x->victims[i].k, &e)) {
			ct_delete(dp, t, &x->victims[i].k, &e);
			evicted++;
		}
	}
	x->live -= evicted;
	x->res->evicted += evicted;
	dp_count(dp, QNAT_C_CT_EVICTED, evicted);
}

/* Reverse entries whose flow is gone, noted in the walk and checked again after it. */
struct orphans {
	struct dataplane *dp;
	const struct ct_table *t;
	union ct_key *rev;
	uint32_t n, cap;
};

static int orphan_one(const void *key, const void *val, void *arg)
{
	struct orphans *o = arg;
	struct qnat_ct_entry e;
	union ct_key orig;

	memcpy(&orig, val, o->t->key_size);
	if (!key_ours(o->dp, o->t, &orig) || !bpf_map_lookup_elem(o->t->fd, &orig, &e))
		return 0;
	if (o->n == o->cap) {
		union ct_key *more = realloc(o->rev, (o->cap = o->cap ? o->cap * 2 : 64) * sizeof(*more));

		if (!more)
			return -ENOMEM;
		o->rev = more;
	}
	memset(&o->rev[o->n], 0, sizeof(o->rev[0]));
	memcpy(&o->rev[o->n++], key, o->t->key_size);
	return 0;
}

/*
 * Reverse entries of flows that are gone: an IPv6 flow's reply tuple holds
 * the ext6 of its day, which its deletion (keyed by today's) cannot find.
 * A flow being created has its reply tuple a moment before its entry, so an
 * entry is deleted only if its flow is still missing after the whole walk.
 */
static int ct_rev_sweep(struct dataplane *dp, const struct ct_table *t, struct expiry_result *res)
{
	struct orphans o = { dp, t, NULL, 0, 0 };
	int err = map_walk(t->rev_fd, t->key_size, t->key_size, orphan_one, &o);

	for (uint32_t i = 0; !err && i < o.n; i++) {
		union ct_key orig;
		struct qnat_ct_entry e;

		if (!bpf_map_lookup_elem(t->rev_fd, &o.rev[i], &orig) && bpf_map_lookup_elem(t->fd, &orig, &e) &&
		    !bpf_map_delete_elem(t->rev_fd, &o.rev[i]))
			res->orphans++;
	}
	free(o.rev);
	return err;
}

/* One table's pass: expiry, the guests' counts (IPv4), eviction. */
static int ct_expire_table(struct dataplane *dp, const struct settings *s, const struct ct_table *t, uint64_t now_ns,
			   struct expiry_result *res)
{
	struct expiry x = { dp, s->timeouts, now_ns, res, NULL, NULL, 0, 0, 0 };
	int err;

	if (t->fd < 0)
		return 0;
	if (!t->v6 && s->max_flows_per_guest && dp->guests_fd >= 0)
		x.guests = calloc(GUEST_SLOTS, sizeof(*x.guests));
	if (s->ct_full == CT_FULL_EVICT) {
		x.cap = s->ct_max;
		x.victims = calloc(x.cap, sizeof(*x.victims));
	}
	err = ct_walk(dp, t, expire_one, &x);
	if (!err && x.guests)
		guests_sync(dp, x.guests);
	if (!err)
		ct_evict(dp, s, t, &x);
	if (!err && t->v6)
		err = ct_rev_sweep(dp, t, res);
	res->live += x.live;
	if (t->v6)
		res->live6 += x.live;
	free(x.guests);
	free(x.victims);
	return err;
}

/*
 * One pass over both tables: expire both halves of every flow past its
 * timeout, recount each guest's flows and, with --ct-full evict, make room
 * in a table over 95% full (down to 90%).
 */
int ct_expire(struct dataplane *dp, const struct settings *s, uint64_t now_ns, struct expiry_result *res)
{
	struct ct_table t[CT_TABLES];
	int err = 0;

	memset(res, 0, sizeof(*res));
	ct_tables(dp, t);
	for (int i = 0; i < CT_TABLES && !err; i++)
		err = ct_expire_table(dp, s, &t[i], now_ns, res);
	return err;
}

/* Each guest's totals: its flows that are gone (from the guests map) plus its live ones. */
struct guest_walk {
	struct guest_total *t;
	int n, cap;
};

static struct guest_total *guest_slot(struct guest_walk *w, uint32_t addr)
{
	for (int i = 0; i < w->n; i++)
		if (w->t[i].addr == addr)
			return &w->t[i];
	if (w->n == w->cap) {
		struct guest_total *more = realloc(w->t, (w->cap = w->cap ? w->cap * 2 : 64) * sizeof(*more));

		if (!more)
			return NULL;
		w->t = more;
	}
	memset(&w->t[w->n], 0, sizeof(w->t[0]));
	w->t[w->n].addr = addr;
	return &w->t[w->n++];
}

static int total_one(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct guest_total *g = guest_slot(arg, k->v4.saddr);

	if (g) {
		g->flows++;
		for (int d = 0; d < QNAT_DIR_MAX; d++) {
			g->packets[d] += e->packets[d];
			g->bytes[d] += e->bytes[d];
		}
	}
	return 0;
}

/* Per IPv4 guest, as qnat_guests keeps them (see ct_retire). */
int guest_totals(struct dataplane *dp, struct guest_total **out)
{
	struct guest_walk w = { 0 };
	struct ct_table t[CT_TABLES];
	uint32_t key, *prev = NULL;
	struct qnat_guest g;

	while (dp->guests_fd >= 0 && !bpf_map_get_next_key(dp->guests_fd, prev, &key)) {
		struct guest_total *gt;

		prev = &key;
		if (!dp_owns(dp, key) || bpf_map_lookup_elem(dp->guests_fd, &key, &g) || !(gt = guest_slot(&w, key)))
			continue;
		for (int d = 0; d < QNAT_DIR_MAX; d++) {
			gt->packets[d] += g.packets[d];
			gt->bytes[d] += g.bytes[d];
		}
	}
	ct_tables(dp, t);
	ct_walk(dp, &t[CT_V4], total_one, &w);
	*out = w.t;
	return w.n;
}

static int forget_one(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	ct_delete(arg, t, k, e);
	return 0;
}

/* A network leaves an uplink others share: its flows, guests and forwards go, theirs stay. */
void net_forget(struct dataplane *dp)
{
	uint32_t key, next, *prev = NULL;

	ct_walk_all(dp, forget_one, dp);
	while (dp->guests_fd >= 0 && !bpf_map_get_next_key(dp->guests_fd, prev, &next)) {
		key = next;
		if (dp_owns(dp, key)) {
			bpf_map_delete_elem(dp->guests_fd, &key);
			prev = NULL;
		} else {
			prev = &key;
		}
	}
	fwd_forget_net(dp);
}

static int count_one(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	uint32_t *n = arg;

	n[t->v6]++;
	return 0;
}

int ct_count(struct dataplane *dp, uint32_t *ipv6)
{
	uint32_t n[2] = { 0, 0 };
	int err = ct_walk_all(dp, count_one, n);

	if (ipv6)
		*ipv6 = n[1];
	return err ? err : (int)(n[0] + n[1]);
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : p == IPPROTO_ICMP ? "icmp" :
	       p == IPPROTO_ICMPV6 ? "icmpv6" : "?";
}

/* A tuple as the tools show and select it, of either family: IPv4 addresses IPv4-mapped. */
struct tuple {
	struct in6_addr src, dst;
	uint16_t sport, dport; /* network order */
};

static void addr_mapped(uint32_t a, struct in6_addr *out)
{
	memset(out, 0, sizeof(*out));
	out->s6_addr[10] = out->s6_addr[11] = 0xff;
	memcpy(&out->s6_addr[12], &a, 4);
}

static void key_tuple(const struct ct_table *t, const union ct_key *k, struct tuple *out)
{
	if (t->v6) {
		memcpy(&out->src, k->v6.saddr, 16);
		memcpy(&out->dst, k->v6.daddr, 16);
		out->sport = k->v6.sport;
		out->dport = k->v6.dport;
	} else {
		addr_mapped(k->v4.saddr, &out->src);
		addr_mapped(k->v4.daddr, &out->dst);
		out->sport = k->v4.sport;
		out->dport = k->v4.dport;
	}
}

static const char *addr_str(const struct in6_addr *a)
{
	uint32_t v4;

	if (!IN6_IS_ADDR_V4MAPPED(a))
		return ip6_str(a);
	memcpy(&v4, &a->s6_addr[12], 4);
	return ip_str_be(v4);
}

static void print_tuple(struct json *j, const char *name, const struct tuple *t, uint8_t proto)
{
	json_obj_open(j, name);
	json_str(j, "src", "src=%s", addr_str(&t->src));
	json_str(j, "dst", " dst=%s", addr_str(&t->dst));
	if (proto == IPPROTO_ICMP || proto == IPPROTO_ICMPV6) {
		json_uint(j, "id", " id=%llu", ntohs(t->sport | t->dport));
	} else {
		json_uint(j, "sport", " sport=%llu", ntohs(t->sport));
		json_uint(j, "dport", " dport=%llu", ntohs(t->dport));
	}
	json_obj_close(j);
}

/*
 * The key is the guest's side; a forwarded flow arrived from outside, so its
 * original tuple (as conntrack(8) shows it) is the reply key's reverse.
 */
static void flow_tuples(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e,
			struct tuple *orig, struct tuple *reply)
{
	union ct_key rev;
	bool dnat = e->flags & QNAT_CTF_DNAT;

	key_reply(t, k, e, &rev);
	key_tuple(t, dnat ? &rev : k, orig);
	key_tuple(t, dnat ? k : &rev, reply);
}

/* One flow, one line: conntrack(8)'s order, both tuples, then our extras. */
static void print_flow(struct json *j, const char *event, const struct ct_table *t, const union ct_key *k,
		       const struct qnat_ct_entry *e, const uint32_t *timeouts, uint64_t now)
{
	uint64_t age = now > e->last_seen ? (now - e->last_seen) / 1000000000ull : 0;
	uint8_t proto = key_proto(t, k);
	uint64_t to = ct_timeout_of(e, proto, timeouts);
	int o = e->flags & QNAT_CTF_DNAT ? QNAT_DIR_REPLY : QNAT_DIR_ORIG; /* the arriving direction */
	struct tuple orig, reply;
	char port[IF_NAMESIZE] = "-";

	flow_tuples(t, k, e, &orig, &reply);
	if (e->port_ifindex && !if_indextoname(e->port_ifindex, port))
		snprintf(port, sizeof(port), "%u", e->port_ifindex);
	json_obj_open(j, NULL);
	if (event)
		json_str(j, "event", "%-10s", event);
	json_only_str(j, "family", t->v6 ? "ipv6" : "ipv4");
	json_str(j, "proto", "%-4s", proto_name(proto));
	json_str(j, "state", " %-11s", ct_state_name(e->state));
	json_uint(j, "expires", " %6llu ", to > age ? to - age : 0);
	print_tuple(j, "orig", &orig, proto);
	json_text(j, " ");
	print_tuple(j, "reply", &reply, proto);
	json_str(j, "port", " port=%s", port);
	json_uint(j, "packets_orig", " packets=%llu", e->packets[o]);
	json_uint(j, "packets_reply", "/%llu", e->packets[!o]);
	json_uint(j, "bytes_orig", " bytes=%llu", e->bytes[o]);
	json_uint(j, "bytes_reply", "/%llu", e->bytes[!o]);
	json_bool(j, "replied", e->flags & QNAT_CTF_REPLIED, " [REPLIED]", "");
	json_bool(j, "inbound", e->flags & QNAT_CTF_DNAT, " [FORWARD]", "");
	json_obj_close(j);
	json_text(j, "\n");
}

/* An address or a network of either family, as the tuple holds it; bits 0: any. */
struct addr_sel {
	struct in6_addr a;
	unsigned int bits;
};

/* "IP" or "IP/LEN", IPv4 or IPv6. */
static int addr_sel_parse(const char *s, struct addr_sel *sel)
{
	char buf[INET6_ADDRSTRLEN + 4], *len = split_at(s, "/", buf, sizeof(buf));
	struct in_addr a4;
	uint32_t bits;

	if (!parse_ipv4(len ? buf : s, &a4)) {
		addr_mapped(a4.s_addr, &sel->a);
		if (len && parse_u32(len, 0, 32, &bits))
			return -EINVAL;
		sel->bits = 96 + (len ? bits : 32);
	} else if (!parse_ipv6(len ? buf : s, &sel->a)) {
		if (len && parse_u32(len, 0, 128, &bits))
			return -EINVAL;
		sel->bits = len ? bits : 128;
	} else {
		return -EINVAL;
	}
	return 0;
}

static bool addr_sel_match(const struct addr_sel *sel, const struct in6_addr *a)
{
	return !sel->bits || prefix_match(a, &sel->a, sel->bits);
}

/* conntrack(8)-style selection: -f/--family, -p/--proto, -s/--src, -d/--dst, --guest. */
struct ct_filter {
	const struct dataplane *dp; /* its network's flows, of a table other networks on the uplink share */
	int family;		    /* AF_INET, AF_INET6; 0: any */
	uint8_t proto;		    /* 0: any */
	struct addr_sel src, dst, guest;
};

/* src/dst match the original tuple as shown; the guest is the key's source. */
static bool ct_match(const struct ct_filter *f, const struct ct_table *t, const union ct_key *k,
		     const struct qnat_ct_entry *e)
{
	struct tuple orig, reply, guest;

	flow_tuples(t, k, e, &orig, &reply);
	key_tuple(t, k, &guest);
	return key_ours(f->dp, t, k) && (!f->family || f->family == (t->v6 ? AF_INET6 : AF_INET)) &&
	       (!f->proto || f->proto == key_proto(t, k)) && addr_sel_match(&f->src, &orig.src) &&
	       addr_sel_match(&f->dst, &orig.dst) && addr_sel_match(&f->guest, &guest.src);
}

struct ct_op {
	struct dataplane *dp;
	const struct ct_filter *f;
	struct json *j;
	const uint32_t *timeouts;
	uint64_t now;
	uint32_t n;
	bool del;
};

static int op_one(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct ct_op *op = arg;

	if (!ct_match(op->f, t, k, e))
		return 0;
	op->n++;
	if (op->del)
		ct_delete(op->dp, t, k, e);
	else if (op->j)
		print_flow(op->j, NULL, t, k, e, op->timeouts, op->now);
	return 0;
}

/* A copy of the table, sorted by key, for `ct events` to compare. */
struct snapshot {
	struct qnat_ct_key *k;
	struct qnat_ct_entry *e;
	uint32_t n, cap;
};

static int snap_add(struct snapshot *s, const struct qnat_ct_key *k, const struct qnat_ct_entry *e)
{

	if (s->n == s->cap) {
		uint32_t cap = s->cap ? s->cap * 2 : 1024;
		struct qnat_ct_key *nk = realloc(s->k, cap * sizeof(*nk));
		struct qnat_ct_entry *ne = nk ? realloc(s->e, cap * sizeof(*ne)) : NULL;

		if (nk)
			s->k = nk;
		if (!ne)
			return -ENOMEM;
		s->e = ne;
		s->cap = cap;
	}
	s->k[s->n] = *k;
	s->e[s->n++] = *e;
	return 0;
}

static int snap_one(const struct ct_table *t, const union ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	return snap_add(arg, &k->v4, e);
}

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct qnat_ct_key));
}

static void snap_sort(struct snapshot *s)
{
	/* Sort keys and entries together through an index. */
	struct pair {
		struct qnat_ct_key k;
		struct qnat_ct_entry e;
	} *p = malloc((s->n ? s->n : 1) * sizeof(*p));

	if (!p)
		return;
	for (uint32_t i = 0; i < s->n; i++)
		p[i] = (struct pair){ s->k[i], s->e[i] };
	qsort(p, s->n, sizeof(*p), key_cmp); /* k is the first member */
	for (uint32_t i = 0; i < s->n; i++) {
		s->k[i] = p[i].k;
		s->e[i] = p[i].e;
	}
	free(p);
}

static volatile sig_atomic_t events_stop;

static void on_stop(int sig)
{
	events_stop = 1;
}


/* What the data plane says of each new flow, printed as it comes. */
struct events {
	struct json *j;
	const struct ct_table *t; /* IPv4's: qnat_ct_ev announces IPv4 flows only */
	const struct ct_filter *f;
	const uint32_t *timeouts;
	struct snapshot *known; /* the last table, and the flows announced since */
	uint32_t sorted;	/* known's first entries, in order */
	bool quiet;		/* draining what came before we started */
};

static int on_new(void *arg, void *data, size_t len)
{
	const struct qnat_ct_event *ev = data;
	struct events *x = arg;
	union ct_key k = { .v4 = ev->key };

	if (x->quiet || len < sizeof(*ev) ||
	    (x->sorted && bsearch(&ev->key, x->known->k, x->sorted, sizeof(ev->key), key_cmp)))
		return 0;
	if (ct_match(x->f, x->t, &k, &ev->entry)) {
		print_flow(x->j, "[NEW]", x->t, &k, &ev->entry, x->timeouts, monotonic_ns());
		json_end(x->j);
	}
	snap_add(x->known, &ev->key, &ev->entry); /* so that its end is seen */
	return 0;
}

/*
 * Flows appearing and going.  The data plane announces each flow on its
 * first packet, with the state that packet gave it (qnat_ct_ev); the table
 * is compared every 200 ms for the flows that went, and for new ones whose
 * announcement was lost (a full ring, another ct events reading it, or a
 * data plane without the ring).
 */
static int ct_events(const char *bridge, struct dataplane *dp, const struct ct_filter *f, struct json *j,
		     const uint32_t *timeouts)
{
	struct ct_table tab[CT_TABLES];
	struct snapshot old = { 0 }, cur = { 0 };
	struct events x = { j, &tab[CT_V4], f, timeouts, &old, 0, true };
	struct sigaction sa = { .sa_handler = on_stop };
	struct ring_buffer *rb = dp->ct_ev_fd >= 0 ? ring_buffer__new(dp->ct_ev_fd, on_new, &x, NULL) : NULL;
	char state[PATH_MAX];
	int err;

	ct_tables(dp, tab);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (rb)
		ring_buffer__consume(rb); /* what came before now is in the table */
	x.quiet = false;
	if ((err = ct_walk(dp, x.t, snap_one, &old)))
		goto out;
	snap_sort(&old);
	x.sorted = old.n;
	while (!events_stop) {
		uint32_t a = 0, b = 0;
		uint64_t now;

		if (!rb || ring_buffer__poll(rb, 200) < 0)
			usleep(200000);
		/* Our map fds keep the maps alive after a detach: watch the state file. */
		if (!state_path(bridge, "state", state, sizeof(state)) && access(state, F_OK)) {
			print_error("%s was detached; no more events", bridge);
			err = 1;
			break;
		}
		now = monotonic_ns();
		if (old.n > x.sorted) /* flows were announced */
			snap_sort(&old);
		cur.n = 0;
		if (ct_walk(dp, x.t, snap_one, &cur))
			break;
		snap_sort(&cur);
		while (a < old.n || b < cur.n) {
			int c = a == old.n ? 1 : b == cur.n ? -1 : key_cmp(&old.k[a], &cur.k[b]);

			const bool gone = c < 0;
			struct snapshot *from = gone ? &old : &cur;
			union ct_key k = { .v4 = from->k[gone ? a : b] };
			const struct qnat_ct_entry *e = &from->e[gone ? a : b];

			if (c && ct_match(f, x.t, &k, e)) {
				/* A stream: with --json, one object per line. */
				print_flow(j, gone ? "[DESTROY]" : "[NEW]", x.t, &k, e, timeouts, now);
				json_end(j);
			}
			/* (an announced flow seen twice in old: both ends step on) */
			while (c <= 0 && a + 1 < old.n && !key_cmp(&old.k[a], &old.k[a + 1]))
				a++;
			a += c <= 0;
			b += c >= 0;
		}
		struct snapshot t = old;

		old = cur;
		cur = t;
		x.sorted = old.n;
	}
out:
	ring_buffer__free(rb);
	free(old.k);
	free(old.e);
	free(cur.k);
	free(cur.e);
	return err;
}

static const char ct_usage[] =
	"Usage: qnat-bpf ct { show | list | count | del | flush | events } BRIDGE\n"
	"                   [-f|--family ipv4|ipv6] [-p|--proto tcp|udp|icmp|icmpv6]\n"
	"                   [-s|--src ADDR[/LEN]] [-d|--dst ADDR[/LEN]] [--guest ADDR[/LEN]] [--json]\n"
	"  IPv4 and IPv6 (NAT66) flows alike; ADDR is either.  src/dst are the original\n"
	"  tuple's (as the guest sent it, or as a forwarded connection arrived); --guest\n"
	"  matches the guest's address.  flush takes no filter.  events shows IPv4 flows only.\n";

/* A filter option a with its value val: 1 (both used), 0 (not a filter), -1 (a bad value, said). */
static int ct_filter_arg(const char *a, const char *val, struct ct_filter *f)
{
	static const struct {
		const char *name;
		uint8_t proto;
	} protos[] = { { "tcp", IPPROTO_TCP }, { "udp", IPPROTO_UDP }, { "icmp", IPPROTO_ICMP }, { "icmpv6", IPPROTO_ICMPV6 } };
	struct addr_sel *sel = NULL;

	if (!strcmp(a, "-p") || !strcmp(a, "--proto")) {
		for (size_t i = 0; val && i < sizeof(protos) / sizeof(protos[0]); i++)
			if (!strcmp(val, protos[i].name))
				return f->proto = protos[i].proto, 1;
		print_error("ct: %s takes tcp, udp, icmp or icmpv6", a);
		return -1;
	}
	if (!strcmp(a, "-f") || !strcmp(a, "--family")) {
		if (val && (!strcmp(val, "ipv4") || !strcmp(val, "ipv6")))
			return f->family = val[3] == '4' ? AF_INET : AF_INET6, 1;
		print_error("ct: %s takes ipv4 or ipv6", a);
		return -1;
	}
	if (!strcmp(a, "-s") || !strcmp(a, "--src"))
		sel = &f->src;
	else if (!strcmp(a, "-d") || !strcmp(a, "--dst"))
		sel = &f->dst;
	else if (!strcmp(a, "--guest"))
		sel = &f->guest;
	else
		return 0;
	if (!val || addr_sel_parse(val, sel)) {
		print_error("ct: %s takes an IPv4 or IPv6 address, or a network ADDR/LEN", a);
		return -1;
	}
	return 1;
}

int cmd_ct(int argc, char **argv)
{
	static const char *const verbs[] = { "show", "list", "count", "del", "flush", "events" };
	const char *verb = "show", *bridge = NULL;
	struct ct_filter f = { 0 };
	struct qnat_config cfg;
	struct dataplane dp;
	struct settings s;
	struct owned o;
	struct json j;
	bool json = false, filtered = false;
	uint32_t slot;
	int i = 1, err = 0;

	if (argc > 1 && (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")))
		return fputs(ct_usage, stdout), 0;
	for (size_t v = 0; argc > 1 && v < sizeof(verbs) / sizeof(verbs[0]); v++)
		if (!strcmp(argv[1], verbs[v])) {
			verb = verbs[v];
			i = 2;
		}
	for (; i < argc; i++) {
		const char *a = argv[i];
		int used = ct_filter_arg(a, i + 1 < argc ? argv[i + 1] : NULL, &f);

		if (used < 0)
			return 1;
		if (used) {
			filtered = true;
			i++;
		} else if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			json = true;
		} else if (a[0] == '-' || bridge || !valid_ifname(a)) {
			/* "ct typo BRIDGE": the first word was a mistyped verb, not a bridge. */
			if (bridge == argv[1] && a[0] != '-')
				print_error("ct: unknown command %s (see qnat-bpf ct help)", argv[1]);
			else
				print_error("ct: unexpected argument %s (see qnat-bpf ct help)", a);
			return 1;
		} else {
			bridge = a;
		}
	}
	if (!bridge && !(bridge = only_bridge())) {
		print_error("ct %s: which bridge?", verb);
		return 1;
	}
	if (!strcmp(verb, "flush") && filtered) {
		print_error("ct flush takes no filter: use ct del with filters");
		return 1;
	}
	if ((!strcmp(verb, "del") || !strcmp(verb, "flush")) && geteuid() != 0) {
		print_error("ct %s needs root", verb);
		return 1;
	}
	if (bridge_open(bridge, &s, &o, &dp, NULL))
		return 1;
	slot = dp.net;
	f.dp = &dp;
	if (bpf_map_lookup_elem(dp.config_fd, &slot, &cfg))
		memcpy(cfg.timeouts, s.timeouts, sizeof(cfg.timeouts));
	json_begin(&j, json);
	if (!strcmp(verb, "events")) {
		err = ct_events(bridge, &dp, &f, &j, cfg.timeouts);
	} else {
		struct ct_op op = { &dp, &f, NULL, cfg.timeouts, monotonic_ns(), 0, false };

		op.del = !strcmp(verb, "del") || !strcmp(verb, "flush");
		if (!strcmp(verb, "show") || !strcmp(verb, "list")) {
			op.j = &j;
			json_arr_open(&j, NULL);
		}
		err = ct_walk_all(&dp, op_one, &op);
		if (op.j) {
			json_arr_close(&j);
		} else {
			json_obj_open(&j, NULL);
			json_uint(&j, op.del ? "deleted" : "count", op.del ? "%llu flows deleted\n" : "%llu\n", op.n);
			json_obj_close(&j);
		}
	}
	json_end(&j);
	dp_close(&dp);
	return err ? 1 : 0;
}
