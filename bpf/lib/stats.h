/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU packet and byte counters, indexed by enum qnat_counter (reasons and events), a row per network. */
#ifndef QNAT_STATS_H
#define QNAT_STATS_H

#include "qnat_maps.bpf.h"

static __always_inline void count(const struct qnat_config *cfg, __u32 counter, __u32 bytes)
{
	__u32 key = (__u32)cfg->net * QNAT_STATS_SLOTS + counter;
	struct qnat_counter_val *v = bpf_map_lookup_elem(&qnat_stats, &key);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

#endif /* QNAT_STATS_H */
