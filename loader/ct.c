// SPDX-License-Identifier: GPL-2.0
/* Conntrack in userspace: timeouts, expiry of both halves of a flow, and `ct show`. */
#include <errno.h>
#include <stdlib.h>
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

static void reply_key(const struct qnat_ct_key *orig, const struct qnat_ct_entry *e, struct qnat_ct_key *rev)
{
	memset(rev, 0, sizeof(*rev));
	rev->saddr = e->peer_addr;
	rev->daddr = e->nat_addr;
	rev->sport = e->peer_port;
	rev->dport = e->nat_port;
	rev->proto = orig->proto;
}

typedef int (*ct_visit)(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg);

/* Walk the table in batches: one syscall per few thousand flows. */
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
		for (uint32_t i = 0; i < n; i++)
			fn(&keys[i], &vals[i], arg);
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

const char *ct_full_name(enum ct_full_policy p)
{
	return p == CT_FULL_EVICT ? "evict" : "refuse";
}

/* Add to a per-CPU counter from userspace: on CPU 0's slot. */
void stats_add(struct dataplane *dp, uint32_t counter, uint64_t packets)
{
	int ncpu = libbpf_num_possible_cpus();
	struct qnat_counter_val *v = ncpu > 0 ? calloc(ncpu, sizeof(*v)) : NULL;

	if (v && !bpf_map_lookup_elem(dp->stats_fd, &counter, v)) {
		v[0].packets += packets;
		bpf_map_update_elem(dp->stats_fd, &counter, v, BPF_ANY);
	}
	free(v);
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
};

static void ct_delete(struct dataplane *dp, const struct qnat_ct_key *k, const struct qnat_ct_entry *e)
{
	struct qnat_ct_key rev, owner;

	reply_key(k, e, &rev);
	/* Delete the reverse half only if it is still this flow's. */
	if (!bpf_map_lookup_elem(dp->ct_rev_fd, &rev, &owner) && !memcmp(&owner, k, sizeof(owner)))
		bpf_map_delete_elem(dp->ct_rev_fd, &rev);
	bpf_map_delete_elem(dp->ct_fd, k);
}

static int expire_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct expiry *x = arg;
	uint64_t limit = (uint64_t)ct_timeout_of(e, k->proto, x->timeouts) * 1000000000ull;

	if (e->last_seen <= x->now && x->now - e->last_seen > limit) {
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
		key = next;
		prev = &key;
		struct qnat_guest g = { 0 };

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
	struct expiry x = { dp, s->timeouts, now_ns, res, NULL, NULL, 0, 0 };
	int err;

	memset(res, 0, sizeof(*res));
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
		stats_add(dp, QNAT_C_CT_EVICTED, res->evicted);
	}
	free(x.guests);
	free(x.victims);
	return err;
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

struct show {
	struct json *j;
	const uint32_t *timeouts;
	uint64_t now;
};

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

static int show_one(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, void *arg)
{
	struct show *s = arg;
	uint64_t age = s->now > e->last_seen ? (s->now - e->last_seen) / 1000000000ull : 0;
	uint64_t to = ct_timeout_of(e, k->proto, s->timeouts);
	struct qnat_ct_key rev;
	char port[IF_NAMESIZE] = "-";

	reply_key(k, e, &rev);
	if (e->port_ifindex && !if_indextoname(e->port_ifindex, port))
		snprintf(port, sizeof(port), "%u", e->port_ifindex);
	json_obj_open(s->j, NULL);
	json_str(s->j, "proto", "%-4s", proto_name(k->proto));
	json_str(s->j, "state", " %-11s", ct_state_name(e->state));
	json_uint(s->j, "expires", " %6llu ", to > age ? to - age : 0);
	print_tuple(s->j, "orig", k->saddr, k->daddr, k->sport, k->dport, k->proto);
	json_text(s->j, " ");
	print_tuple(s->j, "reply", rev.saddr, rev.daddr, rev.sport, rev.dport, k->proto);
	json_str(s->j, "port", " port=%s", port);
	json_uint(s->j, "packets_orig", " packets=%llu", e->packets[0]);
	json_uint(s->j, "packets_reply", "/%llu", e->packets[1]);
	json_uint(s->j, "bytes_orig", " bytes=%llu", e->bytes[0]);
	json_uint(s->j, "bytes_reply", "/%llu", e->bytes[1]);
	if (e->flags & QNAT_CTF_REPLIED)
		json_text(s->j, " [REPLIED]");
	json_obj_close(s->j);
	json_text(s->j, "\n");
	return 0;
}

int ct_show(struct dataplane *dp, struct json *j, const uint32_t timeouts[QNAT_TO_MAX])
{
	struct show s = { j, timeouts, monotonic_ns() };
	int err;

	json_arr_open(j, NULL);
	err = ct_walk(dp, show_one, &s);
	json_arr_close(j);
	return err;
}
