/* SPDX-License-Identifier: GPL-2.0 */
/* Per-CPU packet and byte counters, indexed by enum qnat_counter (reasons and events). */
#ifndef QNAT_STATS_H
#define QNAT_STATS_H

#include "qnat_maps.bpf.h"

static __always_inline void count(__u32 counter, __u32 bytes)
{
	struct qnat_counter_val *v = bpf_map_lookup_elem(&qnat_stats, &counter);

	if (v) {
		v->packets++;
		v->bytes += bytes;
	}
}

#endif /* QNAT_STATS_H */
