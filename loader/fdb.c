// SPDX-License-Identifier: GPL-2.0
/* The MACs the port programs learned: ageing, flushing, `qnat-bpf fdb show`. */
#include <errno.h>
#include <string.h>
#include <bpf/bpf.h>

#include "json.h"
#include "log.h"
#include "qnat.h"

/* Calls fn for each entry; fn may delete the entry it is given. */
static void fdb_walk(struct dataplane *dp, void (*fn)(struct dataplane *, const struct qnat_fdb_key *,
						       const struct qnat_fdb *, void *),
		     void *arg)
{
	struct qnat_fdb_key key, next, *prev = NULL;
	struct qnat_fdb v;

	if (dp->fdb_fd < 0)
		return;
	while (!bpf_map_get_next_key(dp->fdb_fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!bpf_map_lookup_elem(dp->fdb_fd, &key, &v))
			fn(dp, &key, &v, arg);
	}
}

struct age {
	uint64_t now, limit;
};

static void age_one(struct dataplane *dp, const struct qnat_fdb_key *k, const struct qnat_fdb *v, void *arg)
{
	struct age *a = arg;

	if (v->last_seen < a->now && a->now - v->last_seen > a->limit)
		bpf_map_delete_elem(dp->fdb_fd, k);
}

void fdb_expire(struct dataplane *dp, uint32_t ageing_secs, uint64_t now_ns)
{
	struct age a = { now_ns, (uint64_t)ageing_secs * 1000000000ull };

	fdb_walk(dp, age_one, &a);
}

static void flush_one(struct dataplane *dp, const struct qnat_fdb_key *k, const struct qnat_fdb *v, void *arg)
{
	if (v->ifindex == *(uint32_t *)arg)
		bpf_map_delete_elem(dp->fdb_fd, k);
}

/* A port that left takes its MACs with it. */
void fdb_flush_port(struct dataplane *dp, uint32_t ifindex)
{
	fdb_walk(dp, flush_one, &ifindex);
}

static void show_one(struct dataplane *dp, const struct qnat_fdb_key *k, const struct qnat_fdb *v, void *arg)
{
	struct json *j = arg;
	uint64_t now = monotonic_ns();
	char mac[MAC_STR_LEN], port[IF_NAMESIZE] = "?";

	mac_str(k->mac, mac);
	if (!if_indextoname(v->ifindex, port))
		snprintf(port, sizeof(port), "%u", v->ifindex);
	json_obj_open(j, NULL);
	json_str(j, "mac", "%s", mac);
	json_str(j, "port", " dev %-15s", port);
	json_uint(j, "age", " age %llus", now > v->last_seen ? (now - v->last_seen) / 1000000000ull : 0);
	json_str(j, "type", " %s\n", "learned");
	json_obj_close(j);
}

int cmd_fdb(int argc, char **argv)
{
	const char *bridge;
	struct dataplane dp;
	struct settings s;
	struct owned o;
	struct json j;
	bool json;

	if (argc > 1 && (!strcmp(argv[1], "show") || !strcmp(argv[1], "list"))) {
		argc--;
		argv++;
	}
	if (parse_listing_args(argc, argv, &bridge, &json, true))
		return 1;
	if (bridge_open(bridge, &s, &o, &dp, NULL))
		return 1;
	json_begin(&j, json);
	json_arr_open(&j, NULL);
	fdb_walk(&dp, show_one, &j);
	json_arr_close(&j);
	json_end(&j);
	dp_close(&dp);
	return 0;
}
