// SPDX-License-Identifier: GPL-2.0
/*
 * The benchmark's own programs, one object:
 *
 *   bench_gen   the packet generator, run with BPF_PROG_TEST_RUN and
 *               BPF_F_TEST_XDP_LIVE_FRAMES: writes the whole header of every
 *               frame (live-frame pages come back as the last user left them)
 *               and sends it out of the device it runs on (XDP_TX).
 *   bench_sink  XDP on the receiving end: counts UDP per CPU and drops it.
 *   bench_fwd   the null forwarder, the ceiling of the topology: MACs (and
 *               TTL) rewritten, redirected through a devmap, nothing looked up.
 *   noop_*      no-op programs, the floor of BPF_PROG_TEST_RUN.
 *   wrap_*      restore a header template, then tail-call the program under
 *               test: BPF_PROG_TEST_RUN repeats on one buffer, which the
 *               program under test rewrites.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/pkt_cls.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#include "bench.h"

const volatile struct gen_cfg gen_cfg = {};
const volatile struct fwd_cfg fwd_cfg = {};
__u64 gen_seq = 0;		     /* the next flow index; userspace may set it */
__u64 wrap_hdr[WRAP_HDR_MAX / 8] = {}; /* restored by the wrappers, 48 bytes */

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} sink_cnt SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} fwd_tx SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} wrap_xdp_jmp SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} wrap_tc_jmp SEC(".maps");

SEC("xdp")
int bench_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	const volatile __u64 *s = (const volatile __u64 *)gen_cfg.hdr;
	__u64 *d = data;
	struct udphdr *uh = data + sizeof(struct ethhdr) + sizeof(struct iphdr);
	__u32 i = gen_seq++, span = gen_cfg.span ? gen_cfg.span : 1;
	__u16 fast, slow;

	if (data + GEN_HDR_LEN > data_end)
		return XDP_ABORTED;
	d[0] = s[0];
	d[1] = s[1];
	d[2] = s[2];
	d[3] = s[3];
	d[4] = s[4];
	*(__u16 *)(d + 5) = *(const volatile __u16 *)(s + 5);
	if (gen_cfg.nflows)
		i %= gen_cfg.nflows;
	fast = i % span;
	slow = i / span;
	if (gen_cfg.swap) {
		uh->source = bpf_htons(gen_cfg.sport_base + slow);
		uh->dest = bpf_htons(gen_cfg.dport_base + fast);
	} else {
		uh->source = bpf_htons(gen_cfg.sport_base + fast);
		uh->dest = bpf_htons(gen_cfg.dport_base + slow);
	}
	return XDP_TX;
}

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	__u32 zero = 0;
	__u64 *cnt;

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->protocol != IPPROTO_UDP)
		return XDP_PASS; /* ARP, and whatever the stack there wants */
	cnt = bpf_map_lookup_elem(&sink_cnt, &zero);
	if (cnt)
		(*cnt)++;
	return XDP_DROP;
}

SEC("xdp")
int bench_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);

	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	if (fwd_cfg.flags & FWD_F_TTL) {
		__u32 check = ip->check;

		if (ip->ttl <= 1)
			return XDP_PASS;
		check += bpf_htons(0x0100);
		ip->check = (__u16)(check + (check >= 0xffff));
		ip->ttl--;
	}
	if (fwd_cfg.flags & FWD_F_MACS) {
		__builtin_memcpy(eth->h_dest, (const void *)fwd_cfg.dmac, ETH_ALEN);
		__builtin_memcpy(eth->h_source, (const void *)fwd_cfg.smac, ETH_ALEN);
	}
	return bpf_redirect_map(&fwd_tx, 0, 0);
}

SEC("xdp")
int noop_xdp(struct xdp_md *ctx)
{
	return XDP_PASS;
}

SEC("tc")
int noop_tc(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

static __always_inline int restore(void *data, void *data_end)
{
	__u64 *d = data;

	if (data + 48 > data_end)
		return -1;
	d[0] = wrap_hdr[0];
	d[1] = wrap_hdr[1];
	d[2] = wrap_hdr[2];
	d[3] = wrap_hdr[3];
	d[4] = wrap_hdr[4];
	d[5] = wrap_hdr[5];
	return 0;
}

SEC("xdp")
int wrap_xdp(struct xdp_md *ctx)
{
	if (restore((void *)(long)ctx->data, (void *)(long)ctx->data_end))
		return XDP_ABORTED;
	bpf_tail_call(ctx, &wrap_xdp_jmp, 0);
	return XDP_ABORTED;
}

SEC("tc")
int wrap_tc(struct __sk_buff *skb)
{
	if (restore((void *)(long)skb->data, (void *)(long)skb->data_end))
		return TC_ACT_SHOT;
	bpf_tail_call(skb, &wrap_tc_jmp, 0);
	return TC_ACT_SHOT;
}

char LICENSE[] SEC("license") = "GPL";
