/* SPDX-License-Identifier: GPL-2.0 */
/*
 * MAC learning and the L2 fast path between guests.  The kernel bridge keeps
 * what is rare: broadcast, multicast, unknown unicast, STP, the host itself.
 */
#ifndef QNAT_FDB_H
#define QNAT_FDB_H

#include <linux/if_ether.h>
#include "qnat_maps.bpf.h"

#define FDB_REFRESH_NS 1000000000ull /* rewrite last_seen at most once a second */

static __always_inline int mac_is_unicast(const __u8 *mac)
{
	return !(mac[0] & 1);
}

/* Spelled out: clang 14 turns __builtin_memcmp into a call BPF cannot make. */
static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	return a[0] == b[0] && a[1] == b[1] && a[2] == b[2] && a[3] == b[3] && a[4] == b[4] && a[5] == b[5];
}

/* The source MAC lives on this port now; a MAC that moved is followed at once. */
static __always_inline void fdb_learn(const __u8 *mac, __u32 ifindex)
{
	struct qnat_fdb_key k = {};
	struct qnat_fdb *f, v = {};
	__u64 now;

	if (!mac_is_unicast(mac))
		return;
	__builtin_memcpy(k.mac, mac, ETH_ALEN);
	f = bpf_map_lookup_elem(&qnat_fdb, &k);
	now = bpf_ktime_get_ns();
	if (f && f->ifindex == ifindex && now - f->last_seen < FDB_REFRESH_NS)
		return;
	v.last_seen = now;
	v.ifindex = ifindex;
	bpf_map_update_elem(&qnat_fdb, &k, &v, BPF_ANY);
}

/*
 * The port of another guest this frame is for: its entry, its ifindex in
 * *ifindex; NULL for the bridge to handle.
 */
static __always_inline const struct qnat_port *fdb_port_for(const struct qnat_config *cfg, const __u8 *dst,
							     __u32 ingress, __u32 *ifindex)
{
	struct qnat_fdb_key k = {};
	struct qnat_fdb *f;

	if (!mac_is_unicast(dst) || mac_eq(dst, cfg->bridge_mac))
		return 0;
	__builtin_memcpy(k.mac, dst, ETH_ALEN);
	f = bpf_map_lookup_elem(&qnat_fdb, &k);
	if (!f || f->ifindex == ingress)
		return 0;
	*ifindex = f->ifindex;
	/* Only to ports we serve: a stale entry must not send frames astray. */
	return bpf_map_lookup_elem(&qnat_ports, ifindex);
}

#endif /* QNAT_FDB_H */
