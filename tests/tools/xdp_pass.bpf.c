// SPDX-License-Identifier: GPL-2.0
/* XDP_PASS, nothing else: on a veth, it makes the veth take XDP frames
 * redirected into its peer (the tests' "outside" end of a veth uplink). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
