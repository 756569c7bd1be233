// SPDX-License-Identifier: GPL-2.0
/*
 * A benchmark prototype, not part of the data plane: tc_port_in's fast path
 * (an established flow out to the uplink) as an XDP program on a guest
 * port, built from the data plane's own lib/ headers and run on the maps of
 * an attached instance.  Everything else (new flows, L2, hairpin, ICMP,
 * fragments, unresolved neighbours) is XDP_PASS, for tc_port_in to handle.
 * It measures what an XDP variant of tc_port_in could gain; it also strips
 * GSO from a veth port's peer, which is why the data plane has none.
 *
 * proto_flags leave out one part of the fast path at a time, so that L0
 * can price each part (variants for measurement only: PROTO_NO_FIB uses a
 * fixed next hop, PROTO_COARSE handles UDP only).
 */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "qnat_maps.bpf.h"
#include "lib/config.h"
#include "lib/parse.h"
#include "lib/csum.h"
#include "lib/stats.h"
#include "lib/ct.h"
#include "lib/nat.h"
#include "bench.h"

#ifndef AF_INET
#define AF_INET 2
#endif

const volatile __u32 proto_flags = 0;
__u8 nh_dmac[ETH_ALEN] = {}, nh_smac[ETH_ALEN] = {};
__u32 nh_ifindex = 0;

/* uplink ifindex -> itself */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} xport_tx SEC(".maps");

SEC("xdp")
int xdp_port_in(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const struct qnat_config *cfg = config_get();
	struct bpf_fib_lookup fib = {};
	struct qnat_ct_entry *e;
	struct qnat_ct_key orig;
	struct ethhdr *eth = data;
	struct pkt p;

	if (!cfg)
		return XDP_PASS;
	if (parse_ipv4(data, data_end, &p) != PARSE_OK || p.frag || p.ttl <= 1)
		return XDP_PASS;
	if (in_subnet(cfg, p.daddr) || is_mcast_or_bcast(p.daddr) || !in_subnet(cfg, p.saddr) ||
	    (p.proto == IPPROTO_ICMP && p.icmp_type != ICMP_ECHO))
		return XDP_PASS;
	ct_key_orig(&p, &orig);
	e = bpf_map_lookup_elem(&qnat_ct, &orig);
	if (!e)
		return XDP_PASS; /* a new flow: tc_port_in creates it */

	if (proto_flags & PROTO_NO_FIB) {
		__builtin_memcpy(fib.dmac, nh_dmac, ETH_ALEN);
		__builtin_memcpy(fib.smac, nh_smac, ETH_ALEN);
		fib.ifindex = nh_ifindex;
	} else {
		fib.family = AF_INET;
		fib.l4_protocol = p.proto;
		fib.sport = p.proto == IPPROTO_ICMP ? 0 : p.sport;
		fib.dport = p.proto == IPPROTO_ICMP ? 0 : p.dport;
		fib.ifindex = cfg->bridge_ifindex;
		fib.ipv4_src = p.saddr;
		fib.ipv4_dst = p.daddr;
		if (bpf_fib_lookup(ctx, &fib, sizeof(fib), 0) != BPF_FIB_LKUP_RET_SUCCESS ||
		    fib.ifindex != cfg->uplink_ifindex)
			return XDP_PASS;
	}
	if ((void *)(eth + 1) > data_end)
		return XDP_PASS;

	if (proto_flags & PROTO_COARSE) {
		if (p.proto != IPPROTO_UDP)
			return XDP_PASS;
		e->last_seen = bpf_ktime_get_coarse_ns();
		e->packets[QNAT_DIR_ORIG]++;
		e->bytes[QNAT_DIR_ORIG] += data_end - data;
	} else if (!(proto_flags & PROTO_NO_TOUCH)) {
		ct_touch(e, &orig, QNAT_DIR_ORIG, &p, data_end - data);
	}
	if (!(proto_flags & PROTO_NO_TOUCH)) {
		if (e->port_ifindex != ctx->ingress_ifindex)
			e->port_ifindex = ctx->ingress_ifindex;
		__builtin_memcpy(e->guest_mac, eth->h_source, ETH_ALEN);
	}
	if (xdp_nat_rewrite(data, data_end, &p, NAT_SRC, e->nat_addr, e->nat_port) ||
	    xdp_ttl_dec_set_macs(data, data_end, fib.dmac, fib.smac))
		return XDP_ABORTED;
	if (!(proto_flags & PROTO_NO_COUNT))
		count(QNAT_C_SNAT_FAST, data_end - data);
	return bpf_redirect_map(&xport_tx, fib.ifindex, XDP_PASS);
}

char LICENSE[] SEC("license") = "GPL";
