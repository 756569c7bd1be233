/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmark's own BPF programs (bench.bpf.c) and qbench share:
 * the generator's frame template and flow pattern, the forwarder's MACs.
 * Only <linux/types.h> types; sizes asserted.
 */
#ifndef QNAT_BENCH_H
#define QNAT_BENCH_H

#include <linux/types.h>

#define GEN_HDR_LEN 42	 /* Ethernet + IPv4 + UDP: rewritten on every packet */
#define GEN_FRAME_LEN 60 /* 64 bytes on the wire with the FCS */

/*
 * Flow i of the pattern: the fast port is base + i % span, the slow one
 * base + i / span.  The fast port is the source port unless swap is set.
 * nflows 0: i counts up forever, every packet is a new flow.
 */
struct gen_cfg {
	__u8 hdr[48]; /* GEN_HDR_LEN bytes used; UDP checksum 0 (none) */
	__u32 nflows;
	__u32 span;
	__u16 sport_base;
	__u16 dport_base;
	__u32 swap;
};
_Static_assert(sizeof(struct gen_cfg) == 64, "gen_cfg layout");

#define FWD_F_TTL (1U << 0)  /* an IPv4 hop: decrement the TTL */
#define FWD_F_MACS (1U << 1) /* rewrite the Ethernet addresses */

/* The null forwarder: rewrite, then redirect to fwd_tx[0]. */
struct fwd_cfg {
	__u8 dmac[6];
	__u8 smac[6];
	__u32 flags;
};
_Static_assert(sizeof(struct fwd_cfg) == 16, "fwd_cfg layout");

/* The header the L0 wrappers restore before every run of the program under test. */
#define WRAP_HDR_MAX 64

#endif /* QNAT_BENCH_H */
