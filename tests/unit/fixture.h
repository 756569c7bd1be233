/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What every qnat test stands on: the private network namespace, a freshly
 * loaded skeleton with its config seeded, BPF_PROG_TEST_RUN wrappers, and
 * checks of conntrack and counters.
 *
 * The namespace (made once by the runner, after unshare(CLONE_NEWNET)):
 *
 *                      qbr0  bridge 192.168.122.1/24, forwarding on
 *                   ____|_____
 *                  |          |
 *   guests ---- qtap0       qvport0 ==== qvport0p     (tap port, veth port)
 *
 *   qup0  veth 198.51.100.1/24 ==== qup0p             the uplink
 *         default via 198.51.100.254, a permanent neighbour (GW_MAC)
 *         203.0.113.128/25 via 198.51.100.253, no neighbour
 *   qoth0 veth 100.64.0.1/10 ==== qoth0p              a route that is not the uplink
 */
#ifndef QNAT_TEST_FIXTURE_H
#define QNAT_TEST_FIXTURE_H

#include <stdbool.h>
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <linux/types.h>
#include <bpf/libbpf.h>

#include "qnat_maps.h"
#include "qnat.skel.h"
#include "pkt.h"
#include "test_progs.h"

/* An address as a constant expression, network order. */
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define IP4(a, b, c, d) ((__be32)__builtin_bswap32((__u32)(a) << 24 | (b) << 16 | (c) << 8 | (d)))
#else
#define IP4(a, b, c, d) ((__be32)((__u32)(a) << 24 | (b) << 16 | (c) << 8 | (d)))
#endif

#define EXT_ADDR IP4(198, 51, 100, 1) /* the uplink's address: flows masquerade to it */
#define SUBNET IP4(192, 168, 122, 0)
#define NETMASK IP4(255, 255, 255, 0)
#define GATEWAY IP4(192, 168, 122, 1) /* qbr0's address */
#define GUEST1 IP4(192, 168, 122, 10)
#define GUEST2 IP4(192, 168, 122, 11)
#define SERVER IP4(203, 0, 113, 5)	      /* via the default route */
#define SERVER_NO_NEIGH IP4(203, 0, 113, 200) /* via a gateway with no neighbour entry */
#define OTHER_NET_HOST IP4(100, 64, 0, 5)    /* routed out of qoth0, not the uplink */
#define PORT_MIN 1024
#define PORT_MAX 65535

extern const __u8 BRIDGE_MAC[6]; /* qbr0 */
extern const __u8 UPLINK_MAC[6]; /* qup0 */
extern const __u8 GW_MAC[6];	 /* 198.51.100.254, the uplink's next hop */

struct testnet {
	int bridge, tap, vport, uplink, other; /* ifindexes of qbr0 qtap0 qvport0 qup0 qoth0 */
};
extern struct testnet tn;

/* Creates the devices above in the current (private) namespace. */
int testnet_setup(void);

/* Each guest's MAC: 52:54:00:00:00:<last octet of its address>. */
void guest_mac(__be32 guest, __u8 mac[6]);

/* A guest's packet entering its bridge port: guest MAC -> bridge MAC, TTL 64.
 * TCP is a SYN; ICMP an echo request with identifier sport, sequence 7. */
struct pkt_spec guest_pkt(__u8 proto, __be32 guest, __u16 sport, __be32 daddr, __u16 dport);
/* The same packet leaving the uplink after the kernel routed it. */
struct pkt_spec routed(struct pkt_spec s);
/* A packet from outside arriving on the uplink: gateway MAC -> uplink MAC,
 * TTL 60.  TCP is a SYN-ACK; ICMP an echo reply with identifier dport. */
struct pkt_spec outside_pkt(__u8 proto, __be32 saddr, __u16 sport, __be32 daddr, __u16 dport);

struct qnat_config nat_default_config(void);
/* qnat__open, conntrack shrunk to ct_max, qnat__load, config seeded. */
struct qnat *nat_open_with(const struct qnat_config *cfg, __u32 ct_max);
struct qnat *nat_open(void);
/* Registers a bridge port in qnat_ports, and in qnat_devmap when a TAP. */
int port_add(struct qnat *skel, int ifindex, __u32 flags);

struct run {
	__u32 ret; /* the program's verdict */
	__u32 len;
	__u8 data[PKT_MAX];
};
/* BPF_PROG_TEST_RUN of a TC program with skb->dev = ifindex, skb_iif = ingress. */
int run_tc(struct bpf_program *prog, const void *frame, size_t len, int ifindex, int ingress, struct run *r);
int run_xdp(struct bpf_program *prog, const void *frame, size_t len, struct run *r);
int run_xdp_on(struct bpf_program *prog, const void *frame, size_t len, int ifindex, struct run *r);

struct qnat_ct_key ct_key(__be32 saddr, __be32 daddr, __u16 sport, __u16 dport, __u8 proto);
int ct_get(struct qnat *skel, const struct qnat_ct_key *k, struct qnat_ct_entry *e);
int ct_rev_get(struct qnat *skel, const struct qnat_ct_key *rev, struct qnat_ct_key *orig);
int map_count(const struct bpf_map *map);

const char *verdict_name(bool xdp, __u32 ret);
bool check_verdict(int err, const struct run *r, bool xdp, __u32 want, const char *what, const char *file, int line);
bool check_counters(struct qnat *skel, __u32 net, const __u64 want[QNAT_C_MAX], const char *file, int line);

/* The run succeeded and the program returned `want` (TC_ACT_* / XDP_*). */
#define ASSERT_TC(err, r, want) check_verdict(err, r, false, want, #want, __FILE__, __LINE__)
#define ASSERT_XDP(err, r, want) check_verdict(err, r, true, want, #want, __FILE__, __LINE__)

/* Every counter's packets (network 0's row), summed over CPUs, e.g.
 * ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1);
 * counters not named must be 0.  ASSERT_NET_COUNTERS: network net's row. */
#define ASSERT_NET_COUNTERS(skel, net, ...)                                                             \
	({                                                                                              \
		const __u64 ___want[QNAT_C_MAX] = { __VA_ARGS__ };                                      \
		check_counters(skel, net, ___want, __FILE__, __LINE__);                                 \
	})
#define ASSERT_COUNTERS(skel, ...) ASSERT_NET_COUNTERS(skel, 0, __VA_ARGS__)

/* Every checksum in the frame equals the one recomputed from scratch. */
#define ASSERT_CSUMS(frame, len)                                                                        \
	({                                                                                              \
		struct pkt_csums ___c;                                                                  \
		ASSERT_OK(pkt_csums(frame, len, &___c), "parse frame for checksums") &&                 \
			ASSERT_EQ(___c.ip, ___c.ip_want, "ipv4 header checksum") &&                     \
			ASSERT_EQ(___c.l4, ___c.l4_want, ___c.l4_name);                                 \
	})

/* The program's output is exactly the expected frame, checksums included. */
#define ASSERT_FRAME(r, expected, explen, name)                                                         \
	({                                                                                              \
		bool ___len_ok = ASSERT_EQ((r)->len, explen, name);                                     \
		bool ___csum_ok = ASSERT_CSUMS((r)->data, (r)->len);                                    \
		bool ___bytes_ok = ___len_ok && ASSERT_MEMEQ((r)->data, expected, explen, name);        \
		___len_ok && ___csum_ok && ___bytes_ok;                                                 \
	})

#endif /* QNAT_TEST_FIXTURE_H */
