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

typedef int (*ct_visit)(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg);

/* Walk the table in batches: one syscall per few thousand flows.  Only our
 * network's flows are visited: a shared uplink's table holds others' too. */
static int ct_walk(struct dataplane *dp, ct_visit fn, void *arg)
{
	enum { BATCH = 4096 };
	struct qnat_ct_key *keys = calloc(BATCH, sizeof(*keys));
	struct qnat_ct_entry *vals = calloc(BATCH, sizeof(*vals));
	struct qnat_ct_key in, out;
	void *inp = NULL;
	int err = 0;

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (;;) {
		uint32_t n = BATCH;
		int rc = bpf_map_lookup_batch(dp->ct_fd, inp, &out, keys, vals, &n, NULL);

		if (rc && errno != ENOENT) {
			err = -errno;
			break;
		}
		/* A visitor's error (ENOMEM) stops the walk: half a table is not the table. */
		for (uint32_t i = 0; i < n && !err; i++)
			if (dp_owns(dp, keys[i].saddr))
				err = fn(&keys[i], &vals[i], arg);
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
	struct qnat_ct_key k;
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
	uint32_t nvictims, cap;
	uint32_t ext_addr; /* the uplink address masqueraded flows must use now */
};

/* A flow that goes leaves its packets and bytes in its guest's totals. */
static void ct_retire(struct dataplane *dp, const struct qnat_ct_key *k, const struct qnat_ct_entry *e)
{
	struct qnat_guest g = { 0 };
	uint32_t guest = k->saddr;

	if (dp->guests_fd < 0)
		return;
	bpf_map_lookup_elem(dp->guests_fd, &guest, &g);
	for (int d = 0; d < QNAT_DIR_MAX; d++) {
		g.packets[d] += e->packets[d];
		g.bytes[d] += e->bytes[d];
	}
	bpf_map_update_elem(dp->guests_fd, &guest, &g, BPF_ANY);
}

static void ct_delete(struct dataplane *dp, const struct qnat_ct_key *k, const struct qnat_ct_entry *e)
{
	struct qnat_ct_key rev, owner;

	ct_retire(dp, k, e);
	qnat_ct_reply_key(k, e, &rev);
	/* Delete the reverse half only if it is still this flow's. */
	if (!bpf_map_lookup_elem(dp->ct_rev_fd, &rev, &owner) && !memcmp(&owner, k, sizeof(owner)))
		bpf_map_delete_elem(dp->ct_rev_fd, &rev);
	bpf_map_delete_elem(dp->ct_fd, k);
}

static int expire_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct expiry *x = arg;
	uint64_t limit = (uint64_t)ct_timeout_of(e, k->proto, x->timeouts) * 1000000000ull;

	/* The uplink's address changed: a masqueraded flow bound to the old
	 * one would leave with a source the host no longer owns.  MASQUERADE
	 * forgets such flows too; the guest's next packet starts a new one. */
	bool stale = x->ext_addr && !(e->flags & (QNAT_CTF_DNAT | QNAT_CTF_HAIRPIN)) && e->nat_addr != x->ext_addr;
	bool expired = e->last_seen <= x->now && x->now - e->last_seen > limit;
	struct qnat_ct_entry cur;

	/* The batch is a snapshot: a packet (a reused port) may have revived
	 * the flow since it was read.  Deleting it now would drop its reply. */
	if (expired && !stale && !bpf_map_lookup_elem(x->dp->ct_fd, k, &cur) && cur.last_seen != e->last_seen)
		expired = false;
	if (stale || expired) {
		ct_delete(x->dp, k, e);
		x->res->expired++;
		return 0;
	}
	x->res->live++;
	if (x->guests)
		guest_count_add(x->guests, k->saddr);
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

/*
 * One pass over the table: expire both halves of every flow past its
 * timeout, recount each guest's flows and, with --ct-full evict, make room
 * when the table is over 95% full (down to 90%).
 */
int ct_expire(struct dataplane *dp, const struct settings *s, uint64_t now_ns, struct expiry_result *res)
{
	struct expiry x = { dp, s->timeouts, now_ns, res, NULL, NULL, 0, 0, 0 };
	struct qnat_config cfg;
	uint32_t slot = dp->net;
	int err;

	memset(res, 0, sizeof(*res));
	if (!bpf_map_lookup_elem(dp->config_fd, &slot, &cfg))
		x.ext_addr = cfg.ext_addr;
	if (s->max_flows_per_guest && dp->guests_fd >= 0)
		x.guests = calloc(GUEST_SLOTS, sizeof(*x.guests));
	if (s->ct_full == CT_FULL_EVICT) {
		x.cap = s->ct_max;
		x.victims = calloc(x.cap, sizeof(*x.victims));
	}
	err = ct_walk(dp, expire_one, &x);
	if (!err && x.guests)
		guests_sync(dp, x.guests);
	if (!err && x.victims && (uint64_t)res->live * 100 > (uint64_t)s->ct_max * 95) {
		uint32_t target = res->live - (uint32_t)((uint64_t)s->ct_max * 90 / 100);

		qsort(x.victims, x.nvictims, sizeof(*x.victims), victim_cmp);
		for (uint32_t i = 0; i < target && i < x.nvictims; i++) {
			struct qnat_ct_entry e;

			if (!bpf_map_lookup_elem(dp->ct_fd, &x.victims[i].k, &e)) {
				ct_delete(dp, &x.victims[i].k, &e);
				res->evicted++;
			}
		}
		res->live -= res->evicted;
		dp_count(dp, QNAT_C_CT_EVICTED, res->evicted);
	}
	free(x.guests);
	free(x.victims);
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

static int total_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct guest_total *g = guest_slot(arg, k->saddr);

	if (g) {
		g->flows++;
		for (int d = 0; d < QNAT_DIR_MAX; d++) {
			g->packets[d] += e->packets[d];
			g->bytes[d] += e->bytes[d];
		}
	}
	return 0;
}

int guest_totals(struct dataplane *dp, struct guest_total **out)
{
	struct guest_walk w = { 0 };
	uint32_t key, *prev = NULL;
	struct qnat_guest g;

	while (dp->guests_fd >= 0 && !bpf_map_get_next_key(dp->guests_fd, prev, &key)) {
		struct guest_total *t;

		prev = &key;
		if (!dp_owns(dp, key) || bpf_map_lookup_elem(dp->guests_fd, &key, &g) || !(t = guest_slot(&w, key)))
			continue;
		for (int d = 0; d < QNAT_DIR_MAX; d++) {
			t->packets[d] += g.packets[d];
			t->bytes[d] += g.bytes[d];
		}
	}
	ct_walk(dp, total_one, &w);
	*out = w.t;
	return w.n;
}

static int forget_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	ct_delete(arg, k, e);
	return 0;
}

/* A network leaves an uplink others share: its flows, guests and forwards go, theirs stay. */
void net_forget(struct dataplane *dp)
{
	uint32_t key, next, *prev = NULL;

	ct_walk(dp, forget_one, dp);
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

static int count_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	++*(int *)arg;
	return 0;
}

int ct_count(struct dataplane *dp)
{
	int n = 0;
	int err = ct_walk(dp, count_one, &n);

	return err ? err : n;
}

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_TCP ? "tcp" : p == IPPROTO_UDP ? "udp" : p == IPPROTO_ICMP ? "icmp" : "?";
}

static void print_tuple(struct json *j, const char *name, uint32_t src, uint32_t dst, uint16_t sport,
			uint16_t dport, uint8_t proto)
{
	json_obj_open(j, name);
	json_str(j, "src", "src=%s", ip_str_be(src));
	json_str(j, "dst", " dst=%s", ip_str_be(dst));
	if (proto == IPPROTO_ICMP) {
		json_uint(j, "id", " id=%llu", ntohs(sport | dport));
	} else {
		json_uint(j, "sport", " sport=%llu", ntohs(sport));
		json_uint(j, "dport", " dport=%llu", ntohs(dport));
	}
	json_obj_close(j);
}

/*
 * The key is the guest's side; a forwarded flow arrived from outside, so its
 * original tuple (as conntrack(8) shows it) is the reply key's reverse.
 */
static void flow_tuples(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, struct qnat_ct_key *orig,
			struct qnat_ct_key *reply)
{
	struct qnat_ct_key rev;

	qnat_ct_reply_key(k, e, &rev);
	if (e->flags & QNAT_CTF_DNAT) {
		*orig = rev;
		*reply = *k;
	} else {
		*orig = *k;
		*reply = rev;
	}
}

/* One flow, one line: conntrack(8)'s order, both tuples, then our extras. */
static void print_flow(struct json *j, const char *event, const struct qnat_ct_key *k, const struct qnat_ct_entry *e,
		       const uint32_t *timeouts, uint64_t now)
{
	uint64_t age = now > e->last_seen ? (now - e->last_seen) / 1000000000ull : 0;
	uint64_t to = ct_timeout_of(e, k->proto, timeouts);
	int o = e->flags & QNAT_CTF_DNAT ? QNAT_DIR_REPLY : QNAT_DIR_ORIG; /* the arriving direction */
	struct qnat_ct_key orig, reply;
	char port[IF_NAMESIZE] = "-";

	flow_tuples(k, e, &orig, &reply);
	if (e->port_ifindex && !if_indextoname(e->port_ifindex, port))
		snprintf(port, sizeof(port), "%u", e->port_ifindex);
	json_obj_open(j, NULL);
	if (event)
		json_str(j, "event", "%-10s", event);
	json_str(j, "proto", "%-4s", proto_name(k->proto));
	json_str(j, "state", " %-11s", ct_state_name(e->state));
	json_uint(j, "expires", " %6llu ", to > age ? to - age : 0);
	print_tuple(j, "orig", orig.saddr, orig.daddr, orig.sport, orig.dport, k->proto);
	json_text(j, " ");
	print_tuple(j, "reply", reply.saddr, reply.daddr, reply.sport, reply.dport, k->proto);
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

/* conntrack(8)-style selection: -p/--proto, -s/--src, -d/--dst, --guest. */
struct ct_filter {
	uint8_t proto;			 /* 0: any */
	struct in_addr src, dst, guest; /* 0: any */
	uint32_t subnet, netmask;	 /* our network's, of a table other networks on the uplink share */
};

/* src/dst match the original tuple as shown; the guest is the key's source. */
static bool ct_match(const struct ct_filter *f, const struct qnat_ct_key *k, const struct qnat_ct_entry *e)
{
	struct qnat_ct_key orig, reply;

	flow_tuples(k, e, &orig, &reply);
	return (k->saddr & f->netmask) == f->subnet && (!f->proto || f->proto == k->proto) &&
	       (!f->src.s_addr || f->src.s_addr == orig.saddr) && (!f->dst.s_addr || f->dst.s_addr == orig.daddr) &&
	       (!f->guest.s_addr || f->guest.s_addr == k->saddr);
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

static int op_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct ct_op *op = arg;

	if (!ct_match(op->f, k, e))
		return 0;
	op->n++;
	if (op->del)
		ct_delete(op->dp, k, e);
	else if (op->j)
		print_flow(op->j, NULL, k, e, op->timeouts, op->now);
	return 0;
}

/* A copy of the table, sorted by key, for `ct events` to compare. */
struct snapshot {
	struct qnat_ct_key *k;
	struct qnat_ct_entry *e;
	uint32_t n, cap;
};

static int snap_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct snapshot *s = arg;

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

	if (x->quiet || len < sizeof(*ev) ||
	    (x->sorted && bsearch(&ev->key, x->known->k, x->sorted, sizeof(ev->key), key_cmp)))
		return 0;
	if (ct_match(x->f, &ev->key, &ev->entry)) {
		print_flow(x->j, "[NEW]", &ev->key, &ev->entry, x->timeouts, monotonic_ns());
		json_end(x->j);
	}
	snap_one(&ev->key, &ev->entry, x->known); /* so that its end is seen */
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
	struct snapshot old = { 0 }, cur = { 0 };
	struct events x = { j, f, timeouts, &old, 0, true };
	struct sigaction sa = { .sa_handler = on_stop };
	struct ring_buffer *rb = dp->ct_ev_fd >= 0 ? ring_buffer__new(dp->ct_ev_fd, on_new, &x, NULL) : NULL;
	char state[PATH_MAX];
	int err;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	setvbuf(stdout, NULL, _IOLBF, 0);
	if (rb)
		ring_buffer__consume(rb); /* what came before now is in the table */
	x.quiet = false;
	if ((err = ct_walk(dp, snap_one, &old)))
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
		if (ct_walk(dp, snap_one, &cur))
			break;
		snap_sort(&cur);
		while (a < old.n || b < cur.n) {
			int c = a == old.n ? 1 : b == cur.n ? -1 : key_cmp(&old.k[a], &cur.k[b]);

			const bool gone = c < 0;
			uint32_t i = gone ? a : b;
			struct snapshot *from = gone ? &old : &cur;

			if (c && ct_match(f, &from->k[i], &from->e[i])) {
				/* A stream: with --json, one object per line. */
				print_flow(j, gone ? "[DESTROY]" : "[NEW]", &from->k[i], &from->e[i], timeouts, now);
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
	"                   [-p|--proto tcp|udp|icmp] [-s|--src IP] [-d|--dst IP] [--guest IP] [--json]\n"
	"  src/dst are the original tuple's (as the guest sent it, or as a forwarded\n"
	"  connection arrived); --guest matches the guest's address.  flush takes no filter.\n";

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
		const char *a = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
		struct in_addr *addr = NULL;

		if (!strcmp(a, "-j") || !strcmp(a, "--json")) {
			json = true;
			continue;
		}
		if (!strcmp(a, "-p") || !strcmp(a, "--proto")) {
			if (!val || (strcmp(val, "tcp") && strcmp(val, "udp") && strcmp(val, "icmp"))) {
				print_error("ct: --proto takes tcp, udp or icmp");
				return 1;
			}
			f.proto = val[0] == 't' ? IPPROTO_TCP : val[0] == 'u' ? IPPROTO_UDP : IPPROTO_ICMP;
			filtered = true;
			i++;
			continue;
		}
		if (!strcmp(a, "-s") || !strcmp(a, "--src"))
			addr = &f.src;
		else if (!strcmp(a, "-d") || !strcmp(a, "--dst"))
			addr = &f.dst;
		else if (!strcmp(a, "--guest"))
			addr = &f.guest;
		if (addr) {
			if (!val || parse_ipv4(val, addr)) {
				print_error("ct: %s takes an IPv4 address", a);
				return 1;
			}
			filtered = true;
			i++;
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
	f.subnet = dp.subnet;
	f.netmask = dp.netmask;
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
		err = ct_walk(&dp, op_one, &op);
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
