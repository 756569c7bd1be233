// SPDX-License-Identifier: GPL-2.0
/*
 * Coverage-guided fuzzing of the data plane.  libFuzzer mutates inputs (a
 * selector byte, then a frame: see world.h); each runs through the seven
 * packet programs (tc_port_in, after xdp_port_in on the TAP as tun runs
 * them, tc_uplink_in, tc_uplink_out, xdp_uplink_in, and the host policy's
 * tc_host_in and tc_host_out) with
 * BPF_PROG_TEST_RUN, against the world of flows, forwards, ports, --host-allow
 * rules and host connections world_seed() built, and the invariants below
 * are checked on every execution.  A violation prints what broke and aborts: libFuzzer
 * saves the input as a crash-* file.
 *
 * libFuzzer only sees this process's branches, not the BPF program's, so
 * each run's outcome (verdict, counters bumped, maps changed, bytes
 * rewritten, per selector) is fed back as extra coverage counters.  The maps
 * are put back to the world's state after every run, so every input starts
 * from the same state and a crash replays alone.
 *
 * Invariants (delivered: TC_ACT_OK/TC_ACT_REDIRECT, XDP_PASS/XDP_REDIRECT):
 *   verdict    tc_port_in, tc_uplink_in: OK, SHOT or REDIRECT; tc_uplink_out,
 *              tc_host_in: OK or SHOT; tc_host_out: OK; xdp_uplink_in: PASS,
 *              DROP or REDIRECT (ABORTED is the program's own "bug" verdict).
 *              The frame keeps its length.
 *   untouched  what goes to the kernel's stack (OK from the port or uplink
 *              ingress, XDP_PASS) is exactly the frame that came in.
 *   fields     a delivered frame differs from the input only in the MACs, TTL,
 *              addresses, ports or identifier, checksums, and an ICMP error's
 *              quoted header.
 *   leak       nothing that leaves for the uplink carries an IPv4 source in
 *              the subnet, nor (a guest's ICMP error) quotes a subnet address:
 *              tc_uplink_out's OK, and every REDIRECT of
 *              tc_port_in but the L2 fast path's (l2_fast counted) and the
 *              hairpin's back into the bridge (hairpin counted).  Tagged
 *              (802.1Q) frames are not IPv4 to the programs, by design.
 *              IPv6 (--masq6) the same: no source in the prefix, nor (a
 *              guest's ICMPv6 error) a quoted address in it.
 *   l2         a frame tc_port_in switches to another guest's port (l2_fast)
 *              is not modified.
 *   to guest   tc_uplink_in's and XDP's REDIRECT hand a guest a packet
 *              addressed to the subnet (IPv6: the prefix), from a source
 *              outside it.
 *   ttl        any other REDIRECT (we routed it) came with a TTL (IPv6: hop
 *              limit) of 2 or more and leaves with one less.
 *   checksums  for a delivered frame that was modified: an IPv4 header
 *              checksum valid before is valid after; a TCP/UDP/ICMP checksum
 *              valid before, over a complete datagram (not a fragment, total
 *              length within the frame), is valid after; UDP's "no
 *              checksum" stays 0; the same for an ICMP error's quoted header
 *              and, when quoted whole, its quoted datagram.  IPv6: the L4
 *              checksum (pseudo-header included) of a complete datagram.
 *   no flow    a dropped packet (SHOT, DROP) created no conntrack entry.
 *   stash      a copy in qnat_frag_stash is of a later fragment for the uplink
 *              address that tc_uplink_in passed to the kernel (OK), byte for
 *              byte the frame that came in.
 *   nat        a translated packet (snat_fast, snat_egress, a reply redirected
 *              to a guest) carries exactly its flow's tuple: out, the flow of
 *              its original tuple's nat address and port; in, the guest's.
 *              NAT66 (snat6_fast, snat_egress, tc_uplink_in's redirect)
 *              the same against qnat_ct6 and qnat_ct6_rev, out from ext6.
 *   host       from the uplink, a packet for the host (its address, multicast,
 *              broadcast) that no flow, forward or (EIF) mapping claims goes
 *              to the kernel (OK, PASS), whatever its TTL; ICMP errors and
 *              later fragments aside.
 *   ct         qnat_ct and qnat_ct_rev mirror each other exactly: every flow's
 *              reply tuple (peer -> nat) maps back to it and nothing else is
 *              there; every flow has a guest inside (its source is in the
 *              subnet) and is translated to the uplink address.  The same
 *              of qnat_ct6 and qnat_ct6_rev, guests in the prefix; a dropped
 *              packet created no NAT66 flow.
 *   host policy  tc_host_in and tc_host_out never modify the frame (SHOT
 *              included); a drop is counted in drop_host, and nothing else is
 *              counted.  tc_host_in adds and removes no map entry and changes
 *              no value but a host connection's timestamp, when it lets a
 *              packet in.  tc_host_out changes qnat_host_flow only: at most
 *              one new entry, the packet's reply tuple, for TCP or UDP, and
 *              (IPv4) to the subnet from a host address.  A clear IPv4 case
 *              for tc_host_in (TCP, UDP or ICMP header whole, for the
 *              gateway, the uplink address or qoth0's) gets the policy's
 *              verdict: DHCP, DNS on the gateway, ICMP errors and echo
 *              replies, echo requests to the gateway, --host-allow ports and
 *              replies to the host's live connections (or anything, with
 *              --host-allow all) go in; the rest is dropped.
 */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>

#include "world.h"

#define FRAME_MAX 1600 /* BPF_PROG_TEST_RUN takes up to about a page */
#define OUT_MAX 4096
#define SNAP_CAP 256
#define CT_MAX 256

struct snap {
	__u32 n, ksz, vsz;
	bool array; /* entry i has key i: found at once */
	__u8 *k, *v;
};

/* Every map a program may write (all but the config, counters and devmap;
 * the fragment events' ring and the per-CPU scratch hold no state), found by
 * walking the object: maps added later are covered too. */
#define MAPS_MAX 24
struct inst {
	struct qnat *skel;
	int nmaps, ct, ct_rev, ct6, ct6_rev, fwd, mappings, stash, host_flow; /* indexes of those maps in m[] */
	struct {
		const char *name;
		int fd;
		struct snap base, cur;
	} m[MAPS_MAX];
	struct qnat_config written;
	__u32 cap; /* GUEST1's seeded flows: with SEL_CAP, it may open no more */
	__u64 prev[QNAT_C_MAX];
};
static struct inst insts[2];
static int ncpus;
static __u8 *stats_vals;

static const char *const prog_names[FP_MAX] = { "tc_port_in", "tc_uplink_in", "tc_uplink_out", "xdp_uplink_in",
						"tc_host_in", "tc_host_out", "xdp_port_in" };
static const char *const counter_names[QNAT_C_MAX] = {
#define COUNTER_NAME(id, name, help) [QNAT_C_##id] = name,
	QNAT_COUNTERS(COUNTER_NAME)
#undef COUNTER_NAME
};

/* Extra coverage: what the BPF program did, as libFuzzer features. */
enum { R_DMAC, R_SMAC, R_TTL, R_IPSUM, R_SADDR, R_DADDR, R_SPORT, R_DPORT, R_L4SUM, R_QUOTE, R_OTHER, R_MAX };
#define EC_VERDICT 0
#define EC_COUNTER (EC_VERDICT + FP_MAX * 8)
#define EC_REGION (EC_COUNTER + FP_MAX * QNAT_C_MAX)
#define EC_MAPS (EC_REGION + FP_MAX * R_MAX)
#define EC_SEL (EC_MAPS + FP_MAX * MAPS_MAX)
#define EC_NEWCT (EC_SEL + FP_MAX * 32 * 3)
#define EC_CHECKS (EC_NEWCT + FP_MAX * 3)
#define EC_N (EC_CHECKS + FP_MAX * 8)
__attribute__((section("__libfuzzer_extra_counters"), used)) static __u8 ec[EC_N];

/* For the summary printed at exit: is the fuzzing reaching anything? */
static struct {
	__u64 runs[FP_MAX], verdicts[FP_MAX][8], counters[FP_MAX][QNAT_C_MAX];
	__u64 ip_sum, l4_sum, inner_ip, inner_l4, leak, leak6, to_guest, nat6, flows6, nat, host, new_flows, dropped, stashed;
	__u64 policy, host_flows, evicted;
} seen;

static __u16 get16(const __u8 *p)
{
	return p[0] << 8 | p[1];
}

static __be32 get_be32(const __u8 *p)
{
	__be32 a;

	memcpy(&a, p, 4);
	return a;
}

/* The programs' own network (slot 0), whose bridge and ports they serve. */
static bool in_net0(__be32 a)
{
	return (a & NETMASK) == SUBNET;
}

/* Any network on the uplink: slot 0's, or the second one's (world.h). */
static bool in_subnet(__be32 a)
{
	return in_net0(a) || (a & NETMASK) == NET1_SUBNET;
}

static bool mcast_or_bcast(__be32 a)
{
	return (ntohl(a) & 0xf0000000) == 0xe0000000 || a == 0xffffffff;
}

/* ---- the run and what it did ---- */

static __u8 in_buf[FRAME_MAX], out_buf[OUT_MAX];
static size_t in_len, out_len;
static __u8 sel;
static int prog;
static __u32 verdict;

static void hexdump(const char *title, const __u8 *b, size_t len)
{
	fprintf(stderr, "  %s (%zu bytes):\n", title, len);
	for (size_t row = 0; row < len; row += 16) {
		fprintf(stderr, "  %04zx:", row);
		for (size_t i = row; i < row + 16 && i < len; i++)
			fprintf(stderr, " %02x", b[i]);
		fputc('\n', stderr);
	}
}

/* An invariant is broken: say which, show the run, let libFuzzer save it. */
__attribute__((noreturn, format(printf, 1, 2))) static void broken(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "\n==qnat-fuzz== INVARIANT BROKEN: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n  program %s, selector 0x%02x (%s%s%s%s%s%s), verdict %s (%u)\n", prog_names[prog], sel,
		!sel_host(sel)		? (sel & SEL_VPORT ? "vport" : "tap") :
		(sel & SEL_HOST_OPEN) ? "host-allow-all" :
					"host-policy",
		sel & SEL_EIF ? " eif" : "",
		!sel_host(sel) ? (sel & SEL_CAP ? " guest-cap" : "") : (sel & SEL_HOST_QUIET ? " host-flows-quiet" : ""),
		sel_evict(sel) ? " ct-full-evict" : sel & SEL_FULL ? " ct-full" : "", sel & SEL_PORTSEC ? " port-security" : "",
		sel_bridged(sel) ? " bridged" : "", verdict_name(prog == FP_XDP || prog == FP_XDP_PORT, verdict), verdict);
	hexdump("input frame", in_buf, in_len);
	hexdump("output frame", out_buf, out_len);
	abort();
}

/* ---- map snapshots ---- */

static int snap_init(struct snap *s, const struct bpf_map *m)
{
	s->ksz = bpf_map__key_size(m);
	s->vsz = bpf_map__value_size(m);
	s->array = bpf_map__type(m) == BPF_MAP_TYPE_ARRAY;
	s->k = calloc(SNAP_CAP, s->ksz);
	s->v = calloc(SNAP_CAP, s->vsz);
	return s->k && s->v ? 0 : -1;
}

static void snap_take(int fd, struct snap *s)
{
	__u32 token, cnt;
	void *in = NULL;
	int err;

	s->n = 0;
	do {
		cnt = SNAP_CAP - s->n;
		err = bpf_map_lookup_batch(fd, in, &token, s->k + s->n * s->ksz, s->v + s->n * s->vsz, &cnt, NULL);
		if (err && err != -ENOENT) {
			fprintf(stderr, "qnat-fuzz: map lookup_batch: %s\n", strerror(-err));
			abort();
		}
		s->n += cnt;
		in = &token;
	} while (!err && s->n < SNAP_CAP);
}

static const __u8 *snap_find(const struct snap *s, const void *key)
{
	if (s->array) {
		__u32 i = *(const __u32 *)key;

		return i < s->n && !memcmp(s->k + i * s->ksz, key, s->ksz) ? s->v + i * s->vsz : NULL;
	}
	for (__u32 i = 0; i < s->n; i++)
		if (!memcmp(s->k + i * s->ksz, key, s->ksz))
			return s->v + i * s->vsz;
	return NULL;
}

/* Puts the map back as base has it; returns how many entries it changed. */
static int snap_restore(int fd, const struct snap *base, const struct snap *cur)
{
	int changed = 0;

	for (__u32 i = 0; i < cur->n; i++) {
		const __u8 *k = cur->k + i * cur->ksz;

		if (!snap_find(base, k)) {
			bpf_map_delete_elem(fd, k);
			changed++;
		}
	}
	for (__u32 i = 0; i < base->n; i++) {
		const __u8 *k = base->k + i * base->ksz, *v = snap_find(cur, k);

		if (!v || memcmp(v, base->v + i * base->vsz, base->vsz)) {
			if (bpf_map_update_elem(fd, k, base->v + i * base->vsz, BPF_ANY)) {
				fprintf(stderr, "qnat-fuzz: cannot restore a map entry: %s\n", strerror(errno));
				abort();
			}
			changed++;
		}
	}
	return changed;
}

/* Both networks' rows of counters: the uplink's programs count in the packet's network. */
#define STATS_READ (2 * QNAT_STATS_SLOTS)

/* Counter deltas since the last run of this instance, both networks together. */
static void stats_delta(struct inst *I, __u64 delta[QNAT_C_MAX])
{
	__u32 keys[STATS_READ], token, cnt = STATS_READ;
	__u64 sum[QNAT_C_MAX] = { 0 };
	int err = bpf_map_lookup_batch(bpf_map__fd(I->skel->maps.qnat_stats), NULL, &token, keys, stats_vals, &cnt,
				       NULL);

	if ((err && err != -ENOENT) || cnt != STATS_READ) {
		fprintf(stderr, "qnat-fuzz: reading the counters: %s (%u)\n", strerror(-err), cnt);
		abort();
	}
	for (__u32 i = 0; i < cnt; i++) {
		const struct qnat_counter_val *v = (const void *)(stats_vals + (size_t)i * ncpus * sizeof(*v));
		__u32 c = keys[i] % QNAT_STATS_SLOTS;

		for (int cpu = 0; c < QNAT_C_MAX && cpu < ncpus; cpu++)
			sum[c] += v[cpu].packets;
	}
	for (__u32 c = 0; c < QNAT_C_MAX; c++) {
		delta[c] = sum[c] - I->prev[c];
		I->prev[c] = sum[c];
	}
}

/* ---- frames ---- */

struct v4 {
	const __u8 *ip; /* NULL: not an IPv4 header we can read */
	size_t ihl, tot, avail; /* header length; total length field; bytes from ip to the end */
	__u8 proto;
	bool whole; /* the header with its options is there: the parser reads 20 bytes
		     * only, when it needs no L4 header (later fragments) */
	bool frag, later;
};

static void v4_at(const __u8 *ip, size_t avail, struct v4 *v)
{
	size_t ihl;

	memset(v, 0, sizeof(*v));
	if (avail < 20 || ip[0] >> 4 != 4)
		return;
	ihl = (ip[0] & 0xf) * 4;
	if (ihl < 20)
		return;
	v->whole = ihl <= avail;
	v->ip = ip;
	v->ihl = ihl;
	v->tot = get16(ip + 2);
	v->avail = avail;
	v->proto = ip[9];
	v->frag = get16(ip + 6) & 0x3fff;
	v->later = get16(ip + 6) & 0x1fff;
}

static void v4_frame(const __u8 *f, size_t len, struct v4 *v)
{
	memset(v, 0, sizeof(*v));
	if (len >= 14 + 20 && get16(f + 12) == 0x0800)
		v4_at(f + 14, len - 14, v);
}

static bool is_icmp_err_type(__u8 t)
{
	return t == 3 || t == 11 || t == 12;
}

/* The packet an ICMP error quotes, within the ICMP message. */
static void v4_quoted(const struct v4 *o, struct v4 *q)
{
	size_t end = o->tot < o->avail ? o->tot : o->avail;

	memset(q, 0, sizeof(*q));
	if (!o->ip || !o->whole || o->later || o->proto != IPPROTO_ICMP || end < o->ihl + 8 + 20 ||
	    !is_icmp_err_type(o->ip[o->ihl]))
		return;
	v4_at(o->ip + o->ihl + 8, end - o->ihl - 8, q);
}

/* An IPv6 header, and what follows it as the programs walk it: up to three
 * hop-by-hop, destination options or fragment headers. */
struct v6 {
	const __u8 *ip; /* NULL: not IPv6 */
	size_t avail, end; /* bytes from ip to the end of the frame; to the end of the packet (40 + payload length) */
	size_t l4; /* the upper-layer header's offset from ip (maybe past avail) */
	__u8 proto;
	bool frag, later; /* a fragment (not an atomic one); not the first */
};

static void v6_frame(const __u8 *f, size_t len, struct v6 *v)
{
	const __u8 *ip = f + 14;
	size_t off = 40;
	__u8 nh;

	memset(v, 0, sizeof(*v));
	if (len < 14 + 40 || get16(f + 12) != 0x86dd || ip[0] >> 4 != 6)
		return;
	v->ip = ip;
	v->avail = len - 14;
	v->end = 40 + get16(ip + 4);
	nh = ip[6];
	for (int i = 0; i < 3 && !v->later && (nh == 0 || nh == 60 || nh == 44) && off + 8 <= v->avail; i++) {
		size_t hlen = nh == 44 ? 8 : (ip[off + 1] + 1) * 8;

		if (nh == 44) {
			v->frag = get16(ip + off + 2) & 0xfff9; /* an offset, or more to come */
			v->later = get16(ip + off + 2) & 0xfff8;
		}
		nh = ip[off];
		off += hlen;
	}
	v->proto = nh;
	v->l4 = off;
}

static bool is_icmp6_err_type(__u8 t)
{
	return t >= 1 && t <= 4;
}

/* The IPv6 header an ICMPv6 error quotes, or NULL. */
static const __u8 *v6_quoted(const struct v6 *o)
{
	size_t end = o->end < o->avail ? o->end : o->avail;

	if (!o->ip || o->later || o->proto != IPPROTO_ICMPV6 || o->l4 + 8 + 40 > end || !is_icmp6_err_type(o->ip[o->l4]))
		return NULL;
	return o->ip + o->l4 + 8;
}

static const char *ip6_str(const __u8 *a)
{
	static char b[4][INET6_ADDRSTRLEN];
	static int i;

	i = (i + 1) % 4;
	return inet_ntop(AF_INET6, a, b[i], sizeof(b[i]));
}

static bool ip_sum_ok(const struct v4 *v)
{
	return v->whole && csum_ref_finish(csum_ref_add(0, v->ip, v->ihl)) == 0;
}

enum l4c { L4C_NA, L4C_OK, L4C_BAD, L4C_NONE };

/* The L4 checksum of a complete, unfragmented datagram. */
static enum l4c l4_sum(const struct v4 *v)
{
	const __u8 *l4;
	size_t l4len;
	__u32 sum = 0;

	if (!v->ip || !v->whole || v->frag || v->tot < v->ihl || v->tot > v->avail)
		return L4C_NA;
	l4 = v->ip + v->ihl;
	l4len = v->tot - v->ihl;
	switch (v->proto) {
	case IPPROTO_TCP:
		if (l4len < 20)
			return L4C_NA;
		break;
	case IPPROTO_UDP:
		if (l4len < 8)
			return L4C_NA;
		if (!get16(l4 + 6))
			return L4C_NONE;
		break;
	case IPPROTO_ICMP:
		if (l4len < 8)
			return L4C_NA;
		break;
	default:
		return L4C_NA;
	}
	if (v->proto != IPPROTO_ICMP) {
		__u8 ph[12];

		memcpy(ph, v->ip + 12, 8);
		ph[8] = 0;
		ph[9] = v->proto;
		ph[10] = l4len >> 8;
		ph[11] = l4len;
		sum = csum_ref_add(0, ph, sizeof(ph));
	}
	return csum_ref_finish(csum_ref_add(sum, l4, l4len)) == 0 ? L4C_OK : L4C_BAD;
}

static const char *const l4c_names[] = { "n/a", "valid", "invalid", "none (0)" };

/* The same of a complete, unfragmented IPv6 datagram: every L4 checksum
 * covers the pseudo-header, ICMPv6's too. */
static enum l4c l4_sum6(const struct v6 *v)
{
	size_t min = v->proto == IPPROTO_TCP ? 20 : v->proto == IPPROTO_UDP || v->proto == IPPROTO_ICMPV6 ? 8 : 0;
	const __u8 *l4;
	size_t l4len;
	__u8 ph[8];

	if (!v->ip || !min || v->frag || v->end > v->avail || v->l4 + min > v->end)
		return L4C_NA;
	l4 = v->ip + v->l4;
	l4len = v->end - v->l4;
	if (v->proto == IPPROTO_UDP && !get16(l4 + 6))
		return L4C_NONE;
	memset(ph, 0, sizeof(ph));
	ph[2] = l4len >> 8;
	ph[3] = l4len;
	ph[7] = v->proto;
	return csum_ref_finish(csum_ref_add(csum_ref_add(csum_ref_add(0, v->ip + 8, 32), ph, 8), l4, l4len)) == 0 ?
		       L4C_OK :
		       L4C_BAD;
}

/* Which L4 field offset o of a header of proto is; icmp: proto is the
 * family's ICMP, whose errors quote an IP header of iphdr bytes; -1: none
 * NAT rewrites. */
static int l4_region(__u8 proto, bool icmp, const __u8 *l4, size_t l4avail, size_t iphdr, size_t o)
{
	if (icmp) {
		if (o == 2 || o == 3)
			return R_L4SUM;
		if (o == 4 || o == 5)
			return R_SPORT; /* the echo identifier */
		/* An error's quote: the IP header, then TCP up to its checksum. */
		if (l4avail && (iphdr == 20 ? is_icmp_err_type(l4[0]) : is_icmp6_err_type(l4[0])) && o >= 8 &&
		    o < 8 + iphdr + 18)
			return R_QUOTE;
		return -1;
	}
	if ((proto == IPPROTO_TCP || proto == IPPROTO_UDP) && o < 4)
		return o < 2 ? R_SPORT : R_DPORT;
	if ((proto == IPPROTO_TCP && (o == 16 || o == 17)) || (proto == IPPROTO_UDP && (o == 6 || o == 7)))
		return R_L4SUM;
	return -1;
}

/* Which field an offset of the input frame is, and may a program write it. */
static int region_of(size_t off, bool *allowed)
{
	struct v4 v;
	struct v6 w;
	size_t l4 = 0;
	int r = -1;

	*allowed = false;
	v4_frame(in_buf, in_len, &v);
	v6_frame(in_buf, in_len, &w);
	if (!v.ip && !w.ip)
		return R_OTHER;
	*allowed = true;
	if (off < 6)
		return R_DMAC;
	if (off < 12)
		return R_SMAC;
	if (v.ip) {
		if (off == 14 + 8)
			return R_TTL;
		if (off == 14 + 10 || off == 14 + 11)
			return R_IPSUM;
		if (off >= 14 + 12 && off < 14 + 16)
			return R_SADDR;
		if (off >= 14 + 16 && off < 14 + 20)
			return R_DADDR;
		l4 = 14 + v.ihl;
		if (v.whole && !v.later && off >= l4)
			r = l4_region(v.proto, v.proto == IPPROTO_ICMP, in_buf + l4, in_len - l4, 20, off - l4);
	} else {
		if (off == 14 + 7)
			return R_TTL; /* the hop limit */
		if (off >= 14 + 8 && off < 14 + 24)
			return R_SADDR;
		if (off >= 14 + 24 && off < 14 + 40)
			return R_DADDR;
		l4 = 14 + w.l4;
		if (!w.later && off >= l4)
			r = l4_region(w.proto, w.proto == IPPROTO_ICMPV6, in_buf + l4, in_len - l4, 40, off - l4);
	}
	if (r >= 0)
		return r;
	*allowed = false;
	return R_OTHER;
}

/* ---- the invariants ---- */

static bool tc_prog(void)
{
	return prog != FP_XDP && prog != FP_XDP_PORT;
}

static bool host_prog(void)
{
	return prog == FP_HOST_IN || prog == FP_HOST_OUT;
}

static void inv_verdict(void)
{
	switch (prog) {
	case FP_PORT_IN:
	case FP_UPLINK_IN:
		if (verdict == TC_ACT_OK || verdict == TC_ACT_SHOT || verdict == TC_ACT_REDIRECT)
			return;
		break;
	case FP_UPLINK_OUT:
	case FP_HOST_IN:
		if (verdict == TC_ACT_OK || verdict == TC_ACT_SHOT)
			return;
		break;
	case FP_HOST_OUT:
		if (verdict == TC_ACT_OK)
			return;
		break;
	case FP_XDP:
	case FP_XDP_PORT:
		if (verdict == XDP_PASS || verdict == XDP_DROP || verdict == XDP_REDIRECT)
			return;
		break;
	}
	broken("unexpected verdict");
}

static bool delivered(void)
{
	return tc_prog() ? verdict == TC_ACT_OK || verdict == TC_ACT_REDIRECT :
			   verdict == XDP_PASS || verdict == XDP_REDIRECT;
}

static bool redirected(void)
{
	return verdict == (tc_prog() ? TC_ACT_REDIRECT : XDP_REDIRECT);
}

static bool to_stack(void)
{
	return (prog == FP_PORT_IN || prog == FP_UPLINK_IN) ? verdict == TC_ACT_OK :
	       (prog == FP_XDP || prog == FP_XDP_PORT)	     ? verdict == XDP_PASS :
								       false;
}

/* Bytes: only the fields NAT rewrites; returns the regions changed. */
static unsigned int check_bytes(void)
{
	unsigned int regions = 0;

	if (out_len != in_len)
		broken("the frame's length changed: %zu -> %zu", in_len, out_len);
	for (size_t i = 0; i < in_len; i++) {
		bool allowed;
		int r;

		if (in_buf[i] == out_buf[i])
			continue;
		if (host_prog())
			broken("the host policy modified a frame (byte %zu: %02x -> %02x)", i, in_buf[i], out_buf[i]);
		if (to_stack())
			broken("a frame handed to the kernel's stack was modified (byte %zu: %02x -> %02x)", i,
			       in_buf[i], out_buf[i]);
		r = region_of(i, &allowed);
		regions |= 1U << r;
		if (delivered() && !allowed)
			broken("byte %zu changed (%02x -> %02x): not a field NAT rewrites", i, in_buf[i], out_buf[i]);
	}
	return regions;
}

static void check_csums(unsigned int *checks)
{
	struct v4 vi, vo, qi, qo;
	struct v6 wi, wo;
	enum l4c a, b;

	if (!memcmp(in_buf, out_buf, in_len))
		return;
	v6_frame(in_buf, in_len, &wi);
	v6_frame(out_buf, out_len, &wo);
	a = l4_sum6(&wi);
	if (wo.ip && (a == L4C_OK || a == L4C_NONE)) {
		seen.l4_sum++;
		*checks |= 2;
		b = l4_sum6(&wo);
		if (a != b)
			broken("IPv6 L4 (next header %u) checksum %s in, %s out", wi.proto, l4c_names[a], l4c_names[b]);
	}
	v4_frame(in_buf, in_len, &vi);
	v4_frame(out_buf, out_len, &vo);
	if (!vi.ip || !vo.ip)
		return;
	if (vi.ihl != vo.ihl || vi.tot != vo.tot || vi.proto != vo.proto)
		broken("the IPv4 header's length, total length or protocol changed");
	if (ip_sum_ok(&vi)) {
		seen.ip_sum++;
		*checks |= 1;
		if (!ip_sum_ok(&vo))
			broken("IPv4 header checksum valid in, invalid out");
	}
	a = l4_sum(&vi);
	b = l4_sum(&vo);
	if (a == L4C_OK || a == L4C_NONE) {
		seen.l4_sum++;
		*checks |= 2;
		if (a != b)
			broken("L4 (protocol %u) checksum %s in, %s out", vi.proto, l4c_names[a], l4c_names[b]);
	}
	v4_quoted(&vi, &qi);
	v4_quoted(&vo, &qo);
	if (!qi.ip)
		return;
	if (!qo.ip)
		broken("the quoted packet of an ICMP error became unreadable");
	if (ip_sum_ok(&qi)) {
		seen.inner_ip++;
		*checks |= 4;
		if (!ip_sum_ok(&qo))
			broken("quoted IPv4 header checksum valid in, invalid out");
	}
	a = l4_sum(&qi);
	b = l4_sum(&qo);
	if (a == L4C_OK || a == L4C_NONE) {
		seen.inner_l4++;
		*checks |= 8;
		if (a != b)
			broken("quoted L4 (protocol %u) checksum %s in, %s out", qi.proto, l4c_names[a], l4c_names[b]);
	}
}

/*
 * IPv6 (--masq6), as IPv4: nothing leaves for the uplink from the prefix,
 * nor (a guest's ICMPv6 error) quotes it; what reaches a guest from outside
 * is for the prefix, from outside it.
 */
static void check_path6(const struct v6 *wi, const struct v6 *wo, bool to_uplink, bool to_guest, unsigned int *checks)
{
	const __u8 *src = wo->ip + 8, *dst = wo->ip + 24, *q = v6_quoted(wo);

	if (to_uplink) {
		seen.leak6++;
		*checks |= 16;
		if (world_in_prefix6(src))
			broken("an IPv6 packet leaves for the uplink with the masq6 source %s", ip6_str(src));
		if (q && wi->ip && world_in_prefix6(wi->ip + 8) && (world_in_prefix6(q + 8) || world_in_prefix6(q + 24)))
			broken("an ICMPv6 error leaves for the uplink quoting %s -> %s", ip6_str(q + 8), ip6_str(q + 24));
	}
	if (to_guest) {
		seen.to_guest++;
		*checks |= 32;
		if (!world_in_prefix6(dst))
			broken("an IPv6 packet redirected towards the guests is addressed to %s", ip6_str(dst));
		if (world_in_prefix6(src))
			broken("an IPv6 packet from the uplink reaches a guest with the masq6 source %s", ip6_str(src));
	}
}

static void check_path(const __u64 delta[QNAT_C_MAX], unsigned int *checks)
{
	/* tc_port_in's redirects: L2 to another guest's port, a hairpin back
	 * through the bridge, else translated for the uplink. */
	bool l2 = (prog == FP_PORT_IN && delta[QNAT_C_L2_FAST]) || (prog == FP_XDP_PORT && delta[QNAT_C_L2_PORT_XDP]);
	bool hairpin = prog == FP_PORT_IN && delta[QNAT_C_HAIRPIN];
	/* Leaving for the uplink; handed to a guest from outside. */
	bool to_uplink = (prog == FP_UPLINK_OUT && verdict == TC_ACT_OK) ||
			 (prog == FP_PORT_IN && verdict == TC_ACT_REDIRECT && !hairpin) ||
			 (prog == FP_XDP_PORT && verdict == XDP_REDIRECT);
	bool to_guest = (prog == FP_UPLINK_IN || prog == FP_XDP) && redirected();
	struct v4 vi, vo;
	struct v6 wi, wo;
	__be32 src, dst;

	v4_frame(in_buf, in_len, &vi);
	v4_frame(out_buf, out_len, &vo);
	v6_frame(in_buf, in_len, &wi);
	v6_frame(out_buf, out_len, &wo);
	if (redirected() && l2) {
		if (memcmp(in_buf, out_buf, in_len))
			broken("a frame switched to another guest's port was modified");
		return;
	}
	if (redirected()) {
		/* The TTL, or the hop limit. */
		const __u8 *ti = vi.ip ? vi.ip + 8 : wi.ip ? wi.ip + 7 : NULL, *to = vo.ip ? vo.ip + 8 : wo.ip ? wo.ip + 7 : NULL;

		if (!ti || !to)
			broken("redirected a frame that is neither IPv4 nor IPv6");
		if (*ti < 2 || *to != *ti - 1)
			broken("forwarded with TTL %u -> %u", *ti, *to);
	}
	if (wo.ip)
		check_path6(&wi, &wo, to_uplink, to_guest, checks);
	if (!vo.ip)
		return;
	src = get_be32(vo.ip + 12);
	dst = get_be32(vo.ip + 16);
	if (to_uplink) {
		struct v4 q;

		seen.leak++;
		*checks |= 16;
		if (in_subnet(src))
			broken("a packet leaves for the uplink with the subnet source %s", ip4_str(src));
		/* A guest's ICMP error must not show its address in the quote
		 * either (errors from elsewhere are not ours to translate). */
		v4_quoted(&vo, &q);
		if (q.ip && vi.ip && in_subnet(get_be32(vi.ip + 12)) &&
		    (in_subnet(get_be32(q.ip + 12)) || in_subnet(get_be32(q.ip + 16))))
			broken("an ICMP error leaves for the uplink quoting %s -> %s", ip4_str(get_be32(q.ip + 12)),
			       ip4_str(get_be32(q.ip + 16)));
	}
	if (to_guest) {
		seen.to_guest++;
		*checks |= 32;
		if (!in_subnet(dst))
			broken("a reply redirected towards the guests is addressed to %s", ip4_str(dst));
		if (in_subnet(src))
			broken("a packet from the uplink reaches a guest with the subnet source %s", ip4_str(src));
	}
}

/*
 * Arriving on the uplink, what no flow, forward or mapping of the world
 * claims is the host's own: it goes to the kernel (TC_ACT_OK, XDP_PASS),
 * whatever its TTL or flags.  ICMP errors and later fragments aside (their
 * flow is found through the quote, the first fragment).
 */
static void check_host(struct inst *I, unsigned int *checks)
{
	struct qnat_ct_key rev = {};
	struct qnat_fwd_key fk = {};
	struct qnat_mapping_key mk = {};
	const __u8 *l4;
	struct v4 v;
	size_t hdr;

	if (prog != FP_UPLINK_IN && prog != FP_XDP)
		return;
	v4_frame(in_buf, in_len, &v);
	if (!v.ip || !v.whole || v.later)
		return;
	rev.saddr = get_be32(v.ip + 12);
	rev.daddr = get_be32(v.ip + 16);
	if (in_subnet(rev.saddr) || in_subnet(rev.daddr))
		return; /* dropped on sight, by design */
	/* For the host: its address, multicast, broadcast (TTL 1 is fine
	 * there); what it would route on may lose an expiring TTL. */
	if (rev.daddr != EXT_ADDR && !mcast_or_bcast(rev.daddr))
		return;
	l4 = v.ip + v.ihl;
	hdr = v.proto == IPPROTO_TCP ? 20 : v.proto == IPPROTO_UDP || v.proto == IPPROTO_ICMP ? 8 : 0;
	if (hdr && v.ihl + hdr <= v.avail) { /* a header the programs can read */
		if (v.proto == IPPROTO_ICMP) {
			if (is_icmp_err_type(l4[0]))
				return;
			if (l4[0] == 0) { /* echo reply: the identifier */
				memcpy(&rev.dport, l4 + 4, 2);
				rev.proto = IPPROTO_ICMP;
				if (snap_find(&I->m[I->ct_rev].base, &rev))
					return;
			}
		} else {
			memcpy(&rev.sport, l4, 2);
			memcpy(&rev.dport, l4 + 2, 2);
			rev.proto = v.proto;
			if (snap_find(&I->m[I->ct_rev].base, &rev))
				return;
			fk.addr = rev.daddr;
			fk.port = rev.dport;
			fk.proto = v.proto;
			if (fk.addr && snap_find(&I->m[I->fwd].base, &fk))
				return;
			fk.addr = 0;
			if (rev.daddr == EXT_ADDR && snap_find(&I->m[I->fwd].base, &fk))
				return;
			mk.nat_addr = rev.daddr;
			mk.nat_port = rev.dport;
			mk.proto = v.proto;
			if ((sel & SEL_EIF) && v.proto == IPPROTO_UDP && snap_find(&I->m[I->mappings].base, &mk))
				return;
		}
	}
	seen.host++;
	*checks |= 128;
	if (verdict != (prog == FP_XDP ? XDP_PASS : TC_ACT_OK))
		broken("a packet for the host that no flow, forward or mapping claims was not left to the kernel");
}

/* The ports of a packet in and out: source, destination; ICMP echo: the identifier in both. */
static void nat_ports(const __u8 *l4i, const __u8 *l4o, bool icmp, __be16 pi[2], __be16 po[2])
{
	memcpy(pi, icmp ? l4i + 4 : l4i, 2);
	memcpy(pi + 1, icmp ? l4i + 4 : l4i + 2, 2);
	memcpy(po, icmp ? l4o + 4 : l4o, 2);
	memcpy(po + 1, icmp ? l4o + 4 : l4o + 2, 2);
}

/* The translation is the flow's: the tuple rewritten exactly as the flow says. */
static void check_nat(struct inst *I, const __u64 delta[QNAT_C_MAX], unsigned int *checks)
{
	bool snat = (prog == FP_PORT_IN && delta[QNAT_C_SNAT_FAST]) || (prog == FP_UPLINK_OUT && delta[QNAT_C_SNAT_EGRESS]) ||
		    (prog == FP_XDP_PORT && delta[QNAT_C_SNAT_XDP]);
	bool rnat = (prog == FP_UPLINK_IN || prog == FP_XDP) && redirected();
	struct qnat_ct_key k = {};
	const __u8 *l4i, *l4o;
	struct v4 vi, vo;
	__be16 pi[2], po[2];

	v4_frame(in_buf, in_len, &vi);
	v4_frame(out_buf, out_len, &vo);
	if ((!snat && !rnat) || !delivered() || !vi.ip || !vo.ip)
		return;
	if (vi.later) { /* no ports: only the source address, going out */
		if (snat && get_be32(vo.ip + 12) != EXT_ADDR)
			broken("a later fragment leaves from %s", ip4_str(get_be32(vo.ip + 12)));
		return;
	}
	l4i = vi.ip + vi.ihl;
	l4o = vo.ip + vo.ihl;
	if (!vi.whole || vi.ihl + 8 > vi.avail ||
	    (vi.proto != IPPROTO_TCP && vi.proto != IPPROTO_UDP && vi.proto != IPPROTO_ICMP) ||
	    (vi.proto == IPPROTO_ICMP && is_icmp_err_type(l4i[0])))
		return; /* ICMP errors and fragments have their own paths */
	nat_ports(l4i, l4o, vi.proto == IPPROTO_ICMP, pi, po);
	k.saddr = get_be32(vi.ip + 12);
	k.daddr = get_be32(vi.ip + 16);
	k.proto = vi.proto;
	seen.nat++;
	*checks |= 64;
	if (snat) {
		const struct qnat_ct_entry *e;

		k.sport = pi[0];
		k.dport = vi.proto == IPPROTO_ICMP ? 0 : pi[1];
		e = (const void *)snap_find(&I->m[I->ct].cur, &k);
		if (!e)
			broken("translated out with no flow for its tuple");
		if (get_be32(vo.ip + 12) != e->nat_addr || po[0] != e->nat_port || get_be32(vo.ip + 16) != k.daddr ||
		    (vi.proto != IPPROTO_ICMP && po[1] != pi[1]))
			broken("translated out to %s:%u -> %s:%u, the flow says %s:%u", ip4_str(get_be32(vo.ip + 12)),
			       ntohs(po[0]), ip4_str(get_be32(vo.ip + 16)), ntohs(po[1]), ip4_str(e->nat_addr),
			       ntohs(e->nat_port));
	} else {
		const struct qnat_ct_key *o;

		k.sport = vi.proto == IPPROTO_ICMP ? 0 : pi[0];
		k.dport = pi[1];
		o = (const void *)snap_find(&I->m[I->ct_rev].cur, &k);
		if (!o)
			broken("translated in with no flow for its tuple");
		if (get_be32(vo.ip + 16) != o->saddr || po[1] != o->sport || get_be32(vo.ip + 12) != k.saddr ||
		    (vi.proto != IPPROTO_ICMP && po[0] != pi[0]))
			broken("translated in to %s:%u -> %s:%u, the flow's guest is %s:%u", ip4_str(get_be32(vo.ip + 12)),
			       ntohs(po[0]), ip4_str(get_be32(vo.ip + 16)), ntohs(po[1]), ip4_str(o->saddr),
			       ntohs(o->sport));
	}
}

/* NAT66, as check_nat: out, the flow's ext6 and port; in, the guest's (ICMPv6 errors aside). */
static void check_nat6(struct inst *I, const __u64 delta[QNAT_C_MAX], unsigned int *checks)
{
	bool snat = (prog == FP_PORT_IN && delta[QNAT_C_SNAT6_FAST]) || (prog == FP_UPLINK_OUT && delta[QNAT_C_SNAT_EGRESS]) ||
		    (prog == FP_XDP_PORT && delta[QNAT_C_SNAT6_XDP]);
	bool rnat = prog == FP_UPLINK_IN && redirected(), icmp;
	struct qnat_ct6_key k = {};
	const __u8 *l4i, *l4o;
	struct v6 wi, wo;
	__be16 pi[2], po[2];

	v6_frame(in_buf, in_len, &wi);
	v6_frame(out_buf, out_len, &wo);
	if ((!snat && !rnat) || !delivered() || !wi.ip || !wo.ip)
		return;
	if (wi.later) { /* no ports: only the source address, going out */
		if (snat && memcmp(wo.ip + 8, WORLD_EXT6, 16))
			broken("a later IPv6 fragment leaves from %s", ip6_str(wo.ip + 8));
		return;
	}
	icmp = wi.proto == IPPROTO_ICMPV6;
	l4i = wi.ip + wi.l4;
	l4o = wo.ip + wo.l4;
	if (wi.l4 + 8 > wi.avail || (wi.proto != IPPROTO_TCP && wi.proto != IPPROTO_UDP && !icmp) ||
	    (icmp && is_icmp6_err_type(l4i[0])))
		return; /* ICMPv6 errors have their own path */
	nat_ports(l4i, l4o, icmp, pi, po);
	memcpy(k.saddr, wi.ip + 8, 16);
	memcpy(k.daddr, wi.ip + 24, 16);
	k.proto = wi.proto;
	seen.nat6++;
	*checks |= 64;
	if (snat) {
		const struct qnat_ct_entry *e;

		k.sport = pi[0];
		k.dport = icmp ? 0 : pi[1];
		e = (const void *)snap_find(&I->m[I->ct6].cur, &k);
		if (!e)
			broken("translated out (NAT66) with no flow for its tuple");
		if (memcmp(wo.ip + 8, WORLD_EXT6, 16) || po[0] != e->nat_port || memcmp(wo.ip + 24, k.daddr, 16) ||
		    (!icmp && po[1] != pi[1]))
			broken("translated out (NAT66) to [%s]:%u -> [%s]:%u, the flow says [%s]:%u", ip6_str(wo.ip + 8),
			       ntohs(po[0]), ip6_str(wo.ip + 24), ntohs(po[1]), ip6_str(WORLD_EXT6), ntohs(e->nat_port));
	} else {
		const struct qnat_ct6_key *o;

		k.sport = icmp ? 0 : pi[0];
		k.dport = pi[1];
		o = (const void *)snap_find(&I->m[I->ct6_rev].cur, &k);
		if (!o)
			broken("translated in (NAT66) with no flow for its tuple");
		if (memcmp(wo.ip + 24, o->saddr, 16) || po[1] != o->sport || memcmp(wo.ip + 8, k.saddr, 16) ||
		    (!icmp && po[0] != pi[0]))
			broken("translated in (NAT66) to [%s]:%u -> [%s]:%u, the flow's guest is [%s]:%u",
			       ip6_str(wo.ip + 8), ntohs(po[0]), ip6_str(wo.ip + 24), ntohs(po[1]),
			       ip6_str((const __u8 *)o->saddr), ntohs(o->sport));
	}
}

/* qnat_ct6 and qnat_ct6_rev mirror each other, every flow is a guest's, and a drop creates none. */
static void check_ct6(struct inst *I)
{
	const struct snap *ct = &I->m[I->ct6].cur, *rev = &I->m[I->ct6_rev].cur, *base = &I->m[I->ct6].base;
	__be32 ext6[4];
	int created = 0;

	memcpy(ext6, WORLD_EXT6, sizeof(ext6));
	for (__u32 i = 0; i < ct->n; i++) {
		const struct qnat_ct6_key *k = (const void *)(ct->k + i * ct->ksz), *o;
		const struct qnat_ct_entry *e = (const void *)(ct->v + i * ct->vsz);
		struct qnat_ct6_key r;

		if (!snap_find(base, k))
			created++;
		qnat_ct6_reply_key(k, e, ext6, &r);
		o = (const void *)snap_find(rev, &r);
		if (!o || memcmp(o, k, sizeof(*k)))
			broken("NAT66 flow [%s]:%u -> [%s]:%u/%u: its reply tuple %s", ip6_str((const __u8 *)k->saddr),
			       ntohs(k->sport), ip6_str((const __u8 *)k->daddr), ntohs(k->dport), k->proto,
			       o ? "leads to another flow" : "is not in qnat_ct6_rev");
		if (!world_in_prefix6((const __u8 *)k->saddr))
			broken("NAT66 flow from %s: not a guest's", ip6_str((const __u8 *)k->saddr));
	}
	if (rev->n != ct->n)
		broken("%u NAT66 flows but %u reply tuples", ct->n, rev->n);
	seen.flows6 += created;
	if (created && !delivered())
		broken("a dropped packet created %d NAT66 flow%s", created, created > 1 ? "s" : "");
}

/*
 * Bridged: no NAT and no flows.  A frame goes on exactly as it came: to the
 * kernel, or straight to the port of its unicast destination MAC, counted
 * (tc_port_in: l2_fast; XDP: l2_xdp) -- or it is dropped by port security.
 */
static void check_bridged(const __u64 delta[QNAT_C_MAX], int created)
{
	if (created)
		broken("bridged mode created %d flows", created);
	if (delivered() && memcmp(in_buf, out_buf, in_len))
		broken("bridged mode modified a frame");
	if (redirected() && !delta[prog == FP_XDP ? QNAT_C_L2_XDP : prog == FP_XDP_PORT ? QNAT_C_L2_PORT_XDP : QNAT_C_L2_FAST])
		broken("bridged mode redirected a frame, but not by its MAC");
	if (redirected() && ((in_buf[0] & 1) || !memcmp(in_buf, BRIDGE_MAC, 6)))
		broken("bridged mode redirected a frame for the bridge, or broadcast or multicast");
}

static void ct_rev_of(const struct qnat_ct_key *k, const struct qnat_ct_entry *e, struct qnat_ct_key *r)
{
	memset(r, 0, sizeof(*r));
	r->saddr = e->peer_addr;
	r->daddr = e->nat_addr;
	r->sport = k->proto == IPPROTO_ICMP ? 0 : e->peer_port;
	r->dport = e->nat_port;
	r->proto = k->proto;
}

/*
 * Flows vanish only by --ct-full evict's early drop: at most two for each
 * of a new flow's two inserts, each one nothing answered, each counted, and
 * only to make room for a flow this packet created.
 */
static void check_evict(struct inst *I, const __u64 delta[QNAT_C_MAX], int created)
{
	const struct snap *base = &I->m[I->ct].base, *cur = &I->m[I->ct].cur;
	unsigned int gone = 0;

	for (__u32 i = 0; i < base->n; i++) {
		const struct qnat_ct_key *k = (const void *)(base->k + i * base->ksz);
		const struct qnat_ct_entry *e = (const void *)(base->v + i * base->vsz);

		if (snap_find(cur, k))
			continue;
		gone++;
		if (!sel_evict(sel))
			broken("flow %s:%u -> %s:%u/%u deleted without --ct-full evict", ip4_str(k->saddr),
			       ntohs(k->sport), ip4_str(k->daddr), ntohs(k->dport), k->proto);
		if ((e->flags & QNAT_CTF_REPLIED) || e->state == QNAT_CT_ESTABLISHED)
			broken("flow %s:%u -> %s:%u/%u evicted, but it was answered", ip4_str(k->saddr),
			       ntohs(k->sport), ip4_str(k->daddr), ntohs(k->dport), k->proto);
	}
	if (gone)
		seen.evicted++;
	if (gone != delta[QNAT_C_CT_EARLY_DROP])
		broken("%u flows evicted, ct_early_drop moved by %llu", gone,
		       (unsigned long long)delta[QNAT_C_CT_EARLY_DROP]);
	if (gone > 4 || (gone && !created))
		broken("%u flows evicted for %d new ones", gone, created);
}

static int check_ct(struct inst *I)
{
	const struct snap *ct = &I->m[I->ct].cur, *rev = &I->m[I->ct_rev].cur, *base = &I->m[I->ct].base;
	int created = 0;

	for (__u32 i = 0; i < ct->n; i++) {
		const struct qnat_ct_key *k = (const void *)(ct->k + i * ct->ksz);
		const struct qnat_ct_entry *e = (const void *)(ct->v + i * ct->vsz);
		const struct qnat_ct_key *o;
		struct qnat_ct_key r;

		if (!snap_find(base, k))
			created++;
		ct_rev_of(k, e, &r);
		o = (const void *)snap_find(rev, &r);
		if (!o || memcmp(o, k, sizeof(*k)))
			broken("flow %s:%u -> %s:%u/%u: its reply tuple %s:%u -> %s:%u %s", ip4_str(k->saddr),
			       ntohs(k->sport), ip4_str(k->daddr), ntohs(k->dport), k->proto, ip4_str(r.saddr),
			       ntohs(r.sport), ip4_str(r.daddr), ntohs(r.dport),
			       o ? "leads to another flow" : "is not in qnat_ct_rev");
		if (!in_subnet(k->saddr) || e->nat_addr != EXT_ADDR)
			broken("flow %s:%u -> %s:%u/%u: not from a guest, or translated to %s", ip4_str(k->saddr),
			       ntohs(k->sport), ip4_str(k->daddr), ntohs(k->dport), k->proto, ip4_str(e->nat_addr));
	}
	/* The flows' reply tuples are all in qnat_ct_rev; anything more is stray. */
	if (rev->n != ct->n)
		broken("%u flows but %u reply tuples", ct->n, rev->n);
	if (created && !delivered())
		broken("a dropped packet created %d conntrack entr%s", created, created > 1 ? "ies" : "y");
	return created;
}

static void check_stash(struct inst *I)
{
	const struct snap *cur = &I->m[I->stash].cur, *base = &I->m[I->stash].base;
	struct v4 v;

	v4_frame(in_buf, in_len, &v);
	for (__u32 i = 0; i < cur->n; i++) {
		const struct qnat_stash *c = (const void *)(cur->v + i * cur->vsz);

		if (snap_find(base, cur->k + i * cur->ksz))
			continue;
		seen.stashed++;
		if (prog != FP_UPLINK_IN || verdict != TC_ACT_OK)
			broken("a fragment was stashed by a run that did not pass it to the kernel");
		if (!v.ip || !v.later || get_be32(v.ip + 16) != EXT_ADDR)
			broken("stashed a frame that is not a later fragment for the uplink address");
		if (c->len != in_len || memcmp(c->frame, in_buf, in_len))
			broken("the stashed copy (%u bytes) is not the frame that came in", c->len);
	}
}

/* ---- the host policy ---- */

/* What the FIB of the world's namespace calls local (or broadcast): the
 * addresses of qbr0, qup0, qoth0 and lo, and the broadcasts of the networks
 * outside the subnet. */
static bool host_addr4(__be32 a)
{
	static const __be32 local[] = { GATEWAY, EXT_ADDR, IP4(100, 64, 0, 1), IP4(198, 51, 100, 255),
					IP4(100, 127, 255, 255) };

	if ((ntohl(a) >> 24) == 127)
		return true;
	for (size_t i = 0; i < sizeof(local) / sizeof(local[0]); i++)
		if (a == local[i])
			return true;
	return false;
}

/* The tuple of an IPv4 TCP/UDP/ICMP packet the parser reads whole (no later
 * fragment, the L4 header in the frame), as qnat_host_flow keys it. */
static bool host_tuple4(struct qnat_host_flow_key *k, __u8 *icmp_type)
{
	struct v4 v;
	const __u8 *l4;
	size_t need;

	memset(k, 0, sizeof(*k));
	v4_frame(in_buf, in_len, &v);
	if (!v.ip || v.later)
		return false;
	need = v.proto == IPPROTO_TCP ? 20 : v.proto == IPPROTO_UDP || v.proto == IPPROTO_ICMP ? 8 : 0;
	if (!need || v.ihl + need > v.avail)
		return false;
	l4 = v.ip + v.ihl;
	k->saddr[2] = k->daddr[2] = htonl(0xffff);
	k->saddr[3] = get_be32(v.ip + 12);
	k->daddr[3] = get_be32(v.ip + 16);
	k->proto = v.proto;
	if (v.proto != IPPROTO_ICMP) {
		memcpy(&k->sport, l4, 2);
		memcpy(&k->dport, l4 + 2, 2);
	}
	*icmp_type = l4[0];
	return true;
}

/* The TCP/UDP tuple of an IPv6 packet, past at most one hop-by-hop header. */
static bool host_tuple6(struct qnat_host_flow_key *k)
{
	const __u8 *ip6 = in_buf + 14;
	size_t off = 14 + 40;
	__u8 nh;

	memset(k, 0, sizeof(*k));
	if (in_len < off || get16(in_buf + 12) != 0x86dd)
		return false;
	nh = ip6[6];
	if (nh == 0) {
		if (in_len < off + 2)
			return false;
		nh = in_buf[off];
		off += (in_buf[off + 1] + 1) * 8;
	}
	if ((nh != IPPROTO_TCP && nh != IPPROTO_UDP) || in_len < off + 4)
		return false;
	memcpy(k->saddr, ip6 + 8, 16);
	memcpy(k->daddr, ip6 + 24, 16);
	memcpy(&k->sport, in_buf + off, 2);
	memcpy(&k->dport, in_buf + off + 2, 2);
	k->proto = nh;
	return true;
}

static void host_key_reverse(const struct qnat_host_flow_key *k, struct qnat_host_flow_key *r)
{
	memset(r, 0, sizeof(*r));
	memcpy(r->saddr, k->daddr, 16);
	memcpy(r->daddr, k->saddr, 16);
	r->sport = k->dport;
	r->dport = k->sport;
	r->proto = k->proto;
}

static bool host_port_allowed(__u8 proto, __be16 port)
{
	for (size_t i = 0; i < world_nhost_allow; i++)
		if (world_host_allow[i].proto == proto && ntohs(port) >= world_host_allow[i].first &&
		    ntohs(port) <= world_host_allow[i].last)
			return true;
	return false;
}

/*
 * tc_host_in and tc_host_out only judge and note: the counters say
 * drop_host for a drop and nothing else; tc_host_in adds and removes no map
 * entry (it may refresh a host connection it lets a reply in for);
 * tc_host_out changes qnat_host_flow only, by noting the packet's own
 * connection, and only one from a host address to a guest (IPv4) or over
 * TCP/UDP (IPv6).  For clear IPv4 cases (a whole TCP, UDP or ICMP header
 * for the gateway, the uplink address or qoth0's), the verdict is the
 * policy's: DHCP, DNS on the gateway, ICMP errors and echo replies, echo
 * requests to the gateway, --host-allow ports and replies to the host's
 * live connections pass, the rest is dropped.
 */
static void check_host_policy(struct inst *I, const __u64 delta[QNAT_C_MAX], unsigned int *checks)
{
	bool open = sel & SEL_HOST_OPEN;
	struct qnat_host_flow_key k, want;
	__u8 icmp_type = 0;
	bool v4 = host_tuple4(&k, &icmp_type), v6 = !v4 && host_tuple6(&k);

	for (int c = 0; c < QNAT_C_MAX; c++)
		if (delta[c] != (c == QNAT_C_DROP_HOST && verdict == TC_ACT_SHOT))
			broken("counter %s moved by %llu (drop_host: exactly one, for a drop)", counter_names[c],
			       (unsigned long long)delta[c]);
	for (int i = 0; i < I->nmaps; i++) {
		const struct snap *base = &I->m[i].base, *cur = &I->m[i].cur;
		bool hf = i == I->host_flow;

		for (__u32 j = 0; j < base->n; j++) {
			const __u8 *v = snap_find(cur, base->k + j * base->ksz);

			if (!v)
				broken("%s lost an entry", I->m[i].name);
			if (memcmp(v, base->v + j * base->vsz, base->vsz) && (!hf || verdict != TC_ACT_OK))
				broken("%s: an entry's value changed", I->m[i].name);
		}
		if (cur->n == base->n)
			continue;
		if (!hf || prog != FP_HOST_OUT || cur->n != base->n + 1)
			broken("%s: %u entries, %u before", I->m[i].name, cur->n, base->n);
		seen.host_flows++;
		*checks |= 2;
		if (!v4 && !v6)
			broken("a host connection noted for a packet that is not TCP or UDP");
		host_key_reverse(&k, &want);
		if (!snap_find(cur, &want) || snap_find(base, &want))
			broken("the host connection noted is not the packet's reply tuple");
		if (v4 && (k.proto == IPPROTO_ICMP || !in_net0(k.daddr[3])))
			broken("a host connection noted for ICMP, or to %s outside the subnet", ip4_str(k.daddr[3]));
		if (v4 && !host_addr4(k.saddr[3]))
			broken("a host connection noted for a packet from %s, not a host address", ip4_str(k.saddr[3]));
		/* IPv6: forwarding is off in the world's namespace, so the FIB
		 * calls every unicast address the host's. */
		if (v6 && ((const __u8 *)k.saddr)[0] == 0xff)
			broken("a host connection noted for a packet from a multicast address");
	}

	/* The policy's verdict, where it is clear. */
	if (prog != FP_HOST_IN || !v4 || (k.daddr[3] != GATEWAY && k.daddr[3] != EXT_ADDR &&
					  k.daddr[3] != IP4(100, 64, 0, 1)))
		return;
	bool pass;

	if (open)
		pass = true;
	else if (k.proto == IPPROTO_ICMP)
		pass = is_icmp_err_type(icmp_type) || icmp_type == 0 || icmp_type == 8; /* every address here is a unicast one of the host's */
	else if (k.proto == IPPROTO_UDP && k.dport == htons(67) && k.daddr[3] == GATEWAY)
		pass = true;
	else if (k.dport == htons(53) && k.daddr[3] == GATEWAY)
		pass = true;
	else
		pass = host_port_allowed(k.proto, k.dport) ||
		       (!(sel & SEL_HOST_QUIET) && snap_find(&I->m[I->host_flow].base, &k));
	seen.policy++;
	*checks |= 1;
	if (pass != (verdict == TC_ACT_OK))
		broken("the host policy %s a packet it should %s", pass ? "dropped" : "let in", pass ? "let in" : "drop");
}

/* Port security: no DHCP server's reply, RA or redirect from a guest's port goes on. */
static void check_guards(void)
{
	const __u8 *ip = in_buf + 14;
	size_t l4 = 14 + (ip[0] & 15) * 4;

	if (!(sel & SEL_PORTSEC) || (prog != FP_PORT_IN && prog != FP_XDP_PORT) || !delivered() || in_len < 14 + 20)
		return;
	if (get16(in_buf + 12) == 0x0800 && ip[9] == IPPROTO_UDP && !(get16(ip + 6) & 0x1fff) && in_len >= l4 + 8 &&
	    get16(in_buf + l4) == 67)
		broken("a DHCP server's reply from a guest's port went on");
	if (get16(in_buf + 12) != 0x86dd || in_len < 14 + 40 + 8)
		return;
	if (ip[6] == IPPROTO_ICMPV6 && (ip[40] == 134 || ip[40] == 137))
		broken("a router advertisement or redirect from a guest's port went on");
	if (ip[6] == IPPROTO_UDP && get16(ip + 40) == 547)
		broken("a DHCPv6 server's reply from a guest's port went on");
}

/* ---- the instances ---- */

static struct qnat_config fuzz_config(const struct inst *I, __u8 s)
{
	struct qnat_config c = nat_default_config();

	c.flags |= QNAT_CFG_UPLINK_XMIT; /* as on a host whose uplink takes XDP redirects: xdp_port_in's fast path */
	world_masq6(&c);
	if (s & SEL_EIF)
		c.flags |= QNAT_CFG_EIF;
	if (s & SEL_CAP)
		c.max_flows_per_guest = I->cap;
#ifdef QNAT_CFG_PORT_SECURITY
	if (s & SEL_PORTSEC)
		c.flags |= QNAT_CFG_PORT_SECURITY;
#endif
	if (sel_host(s)) { /* the host policy, in NAT mode */
		if (s & SEL_HOST_OPEN)
			c.flags |= QNAT_CFG_HOST_OPEN;
		if (s & SEL_HOST_QUIET)
			c.timeouts[QNAT_TO_TCP_ESTABLISHED] = c.timeouts[QNAT_TO_UDP_STREAM] = 0;
		else /* the seeded connections stay live however long the run (they were seen once, at the start) */
			c.timeouts[QNAT_TO_TCP_ESTABLISHED] = c.timeouts[QNAT_TO_UDP_STREAM] = c.timeouts[QNAT_TO_UDP] =
				1U << 30;
		c.max_flows_per_guest = 0; /* bit 4 is not the guest cap here */
	} else if (sel_evict(s)) {
		c.flags |= QNAT_CFG_CT_EVICT;
	} else if (s & SEL_BRIDGED) { /* as attach --bridged writes it: nothing to translate */
		c.flags = QNAT_CFG_BRIDGED | (c.flags & QNAT_CFG_PORT_SECURITY);
		c.subnet = c.netmask = c.gateway = c.ext_addr = 0;
	}
	return c;
}

static void config_write(struct inst *I, const struct qnat_config *c)
{
	__u32 zero = 0;

	if (!memcmp(&I->written, c, sizeof(*c)))
		return;
	if (bpf_map__update_elem(I->skel->maps.qnat_config, &zero, sizeof(zero), c, sizeof(*c), BPF_ANY)) {
		fprintf(stderr, "qnat-fuzz: cannot write the config\n");
		abort();
	}
	I->written = *c;
}

/* ct_max: qnat_ct's size; ct6_max, qnat_ct6's (each full when just the world's flows). */
static int inst_open(struct inst *I, __u32 ct_max, __u32 ct6_max)
{
	struct qnat *skel = qnat__open();
	struct qnat_config c = nat_default_config();
	struct qnat_guest g;
	struct bpf_map *map;
	__u64 d[QNAT_C_MAX];

	if (!skel)
		return -1;
	I->ct = I->ct_rev = I->ct6 = I->ct6_rev = I->fwd = I->mappings = I->stash = I->host_flow = -1;
	bpf_object__for_each_map(map, skel->obj) {
		const char *name = bpf_map__name(map);
		enum bpf_map_type t = bpf_map__type(map);
		int i = I->nmaps;

		if (strchr(name, '.') || !strcmp(name, QNAT_MAP_CONFIG) || !strcmp(name, QNAT_MAP_STATS) ||
		    t == BPF_MAP_TYPE_DEVMAP || t == BPF_MAP_TYPE_DEVMAP_HASH || t == BPF_MAP_TYPE_RINGBUF ||
		    t == BPF_MAP_TYPE_PERCPU_ARRAY)
			continue;
		if (i == MAPS_MAX)
			return -1;
		if (!strcmp(name, QNAT_MAP_CT))
			I->ct = i;
		if (!strcmp(name, QNAT_MAP_CT_REV))
			I->ct_rev = i;
		if (!strcmp(name, QNAT_MAP_CT6))
			I->ct6 = i;
		if (!strcmp(name, QNAT_MAP_CT6_REV))
			I->ct6_rev = i;
		if (!strcmp(name, QNAT_MAP_FWD))
			I->fwd = i;
		if (!strcmp(name, QNAT_MAP_MAPPINGS))
			I->mappings = i;
		if (!strcmp(name, QNAT_MAP_FRAG_STASH))
			I->stash = i;
		if (!strcmp(name, QNAT_MAP_HOST_FLOW))
			I->host_flow = i;
		/* Small maps: a snapshot walks every bucket (an array's slots
		 * are all entries: arrays keep their size, but for the evict
		 * ring, whose slots past the world's flows and one input's new
		 * ones are never reached: the ring is restored after each). */
		if (t != BPF_MAP_TYPE_ARRAY &&
		    bpf_map__set_max_entries(map, (I->ct == i || I->ct_rev == i)	    ? ct_max :
						  (I->ct6 == i || I->ct6_rev == i) ? ct6_max :
										      64))
			return -1;
		if (!strcmp(name, QNAT_MAP_EVICT_RING) && bpf_map__set_max_entries(map, 64))
			return -1;
		I->m[i].name = name;
		I->nmaps++;
	}
	if (I->ct < 0 || I->ct_rev < 0 || I->ct6 < 0 || I->ct6_rev < 0 || I->fwd < 0 || I->mappings < 0 || I->stash < 0 || I->host_flow < 0 ||
	    qnat__load(skel))
		return -1;
	I->skel = skel;
	/* Seeding: mappings are made with EIF on, guests counted with a cap,
	 * ports bound to their guest's MAC and address by port security. */
	c.flags |= QNAT_CFG_EIF;
#ifdef QNAT_CFG_PORT_SECURITY
	c.flags |= QNAT_CFG_PORT_SECURITY;
#endif
	c.max_flows_per_guest = 1000;
	world_masq6(&c);
	c.flags |= QNAT_CFG_CT_EVICT; /* the seeded flows are candidates for eviction */
	config_write(I, &c);
	if (world_seed(skel))
		return -1;
	if (bpf_map__lookup_elem(skel->maps.qnat_guests, &(__be32){ GUEST1 }, sizeof(__be32), &g, sizeof(g), 0))
		return -1;
	I->cap = g.flows;
	for (int i = 0; i < I->nmaps; i++) {
		map = bpf_object__find_map_by_name(skel->obj, I->m[i].name);
		I->m[i].fd = bpf_map__fd(map);
		if (snap_init(&I->m[i].base, map) || snap_init(&I->m[i].cur, map))
			return -1;
		snap_take(I->m[i].fd, &I->m[i].base);
	}
	c = fuzz_config(I, 0);
	config_write(I, &c);
	stats_delta(I, d);
	return 0;
}

__attribute__((format(printf, 2, 0))) static int libbpf_quiet(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_WARN ? vfprintf(stderr, fmt, ap) : 0;
}

static void summary(void)
{
	static const char *const tcv[] = { "ok", "reclassify", "shot", "pipe", "stolen", "queued", "repeat",
					   "redirect" };
	static const char *const xdv[] = { "aborted", "drop", "pass", "tx", "redirect", "?", "?", "?" };
	__u64 total = 0;
	int pairs = 0;

	for (int p = 0; p < FP_MAX; p++)
		total += seen.runs[p];
	if (!total)
		return;
	fprintf(stderr, "qnat-fuzz: %llu programs runs:\n", (unsigned long long)total);
	for (int p = 0; p < FP_MAX; p++) {
		fprintf(stderr, "  %-14s %9llu runs;", prog_names[p], (unsigned long long)seen.runs[p]);
		for (int v = 0; v < 8; v++)
			if (seen.verdicts[p][v])
				fprintf(stderr, " %s %llu", p == FP_XDP || p == FP_XDP_PORT ? xdv[v] : tcv[v],
					(unsigned long long)seen.verdicts[p][v]);
		fprintf(stderr, "\n                 counters:");
		for (int c = 0; c < QNAT_C_MAX; c++)
			if (seen.counters[p][c]) {
				fprintf(stderr, " %s", counter_names[c]);
				pairs++;
			}
		fputc('\n', stderr);
	}
	fprintf(stderr,
		"qnat-fuzz: %d (program, counter) outcomes reached; checked: %llu IPv4 header sums, %llu L4 sums, "
		"%llu quoted header sums, %llu quoted L4 sums, %llu uplink-bound sources (%llu IPv6), %llu guest-bound "
		"packets, %llu translations against their flow (%llu NAT66), %llu packets for the host, %llu host-policy "
		"verdicts; %llu flows created (%llu NAT66), %llu packets that evicted, %llu host connections noted, %llu drops, "
		"%llu fragments stashed\n",
		pairs, (unsigned long long)seen.ip_sum, (unsigned long long)seen.l4_sum,
		(unsigned long long)seen.inner_ip, (unsigned long long)seen.inner_l4, (unsigned long long)seen.leak,
		(unsigned long long)seen.leak6, (unsigned long long)seen.to_guest, (unsigned long long)seen.nat,
		(unsigned long long)seen.nat6, (unsigned long long)seen.host, (unsigned long long)seen.policy,
		(unsigned long long)seen.new_flows, (unsigned long long)seen.flows6, (unsigned long long)seen.evicted,
		(unsigned long long)seen.host_flows, (unsigned long long)seen.dropped, (unsigned long long)seen.stashed);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const __u8 *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct inst *normal = &insts[0], *full = &insts[1];

	if (geteuid() != 0) {
		fprintf(stderr, "qnat-fuzz: run as root (BPF_PROG_TEST_RUN and a private network namespace)\n");
		exit(1);
	}
	/* Devices of our own, as the unit tests have: the host's are never touched. */
	if (unshare(CLONE_NEWNET)) {
		perror("qnat-fuzz: unshare(CLONE_NEWNET)");
		exit(1);
	}
	if (testnet_setup() || world_net6()) {
		fprintf(stderr, "qnat-fuzz: cannot set up the test network namespace\n");
		exit(1);
	}
	libbpf_set_print(libbpf_quiet);
	ncpus = libbpf_num_possible_cpus();
	stats_vals = calloc((size_t)ncpus * STATS_READ, sizeof(struct qnat_counter_val));
	if (ncpus <= 0 || !stats_vals || inst_open(normal, CT_MAX, CT_MAX) ||
	    inst_open(full, normal->m[normal->ct].base.n, world_nflows6)) {
		fprintf(stderr, "qnat-fuzz: cannot load and seed the data plane\n");
		exit(1);
	}
	fprintf(stderr, "qnat-fuzz: world:");
	for (int i = 0; i < normal->nmaps; i++)
		fprintf(stderr, " %s %u", normal->m[i].name, normal->m[i].base.n);
	fprintf(stderr, "; guest cap %u\n", normal->cap);
	atexit(summary);
	return 0;
}

static int run(struct inst *I)
{
	struct bpf_program *progs[FP_MAX] = { I->skel->progs.tc_port_in,    I->skel->progs.tc_uplink_in,
					      I->skel->progs.tc_uplink_out, I->skel->progs.xdp_uplink_in,
					      I->skel->progs.tc_host_in,    I->skel->progs.tc_host_out,
					      I->skel->progs.xdp_port_in };
	int port = sel & SEL_VPORT ? tn.vport : tn.tap;
	struct __sk_buff ctx = {};
	struct xdp_md xctx = { .data_end = in_len, .ingress_ifindex = tn.tap };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in_buf, .data_size_in = in_len, .data_out = out_buf,
		    .data_size_out = sizeof(out_buf));
	int err;

	switch (prog) {
	case FP_PORT_IN:
		ctx.ifindex = ctx.ingress_ifindex = port;
		break;
	case FP_UPLINK_IN:
		ctx.ifindex = ctx.ingress_ifindex = tn.uplink;
		break;
	case FP_UPLINK_OUT:
		ctx.ifindex = tn.uplink;
		break;
	case FP_HOST_IN: /* what the bridge hands up to the host */
		ctx.ifindex = ctx.ingress_ifindex = tn.bridge;
		break;
	case FP_HOST_OUT: /* what the host sends guests */
		ctx.ifindex = tn.bridge;
		break;
	}
	if (tc_prog()) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	} else if (prog == FP_XDP_PORT) {
		opts.ctx_in = &xctx;
		opts.ctx_size_in = sizeof(xctx);
	}
	err = bpf_prog_test_run_opts(bpf_program__fd(progs[prog]), &opts);
	verdict = opts.retval;
	out_len = opts.data_size_out;
	return err;
}

/* One program's run on the input, its invariants, and what it covered. */
static void run_checked(struct inst *I)
{
	__u64 delta[QNAT_C_MAX];
	unsigned int regions, checks = 0;
	int err, created;

	err = run(I);
	if (err) {
		fprintf(stderr, "qnat-fuzz: BPF_PROG_TEST_RUN: %s\n", strerror(-err));
		broken("the program did not run");
	}
	for (int i = 0; i < I->nmaps; i++)
		snap_take(I->m[i].fd, &I->m[i].cur);
	stats_delta(I, delta);

	inv_verdict();
	regions = check_bytes();
	if (delivered())
		check_csums(&checks);
	if (sel_bridged(sel)) {
		created = check_ct(I);
		check_bridged(delta, created);
	} else {
		check_path(delta, &checks);
		check_nat(I, delta, &checks);
		check_host(I, &checks);
		check_nat6(I, delta, &checks);
		created = check_ct(I);
	}
	check_ct6(I);
	check_evict(I, delta, created);
	check_stash(I);
	check_guards();
	if (host_prog())
		check_host_policy(I, delta, &checks);

	/* What happened, for the summary and as coverage. */
	seen.runs[prog]++;
	seen.verdicts[prog][verdict & 7]++;
	seen.new_flows += created;
	seen.dropped += !delivered();
	ec[EC_VERDICT + prog * 8 + (verdict & 7)] = 1;
	for (int i = 0; i < QNAT_C_MAX; i++) {
		seen.counters[prog][i] += delta[i];
		if (delta[i])
			ec[EC_COUNTER + prog * QNAT_C_MAX + i] = delta[i] > 255 ? 255 : delta[i];
	}
	for (int r = 0; r < R_MAX; r++)
		if (regions & (1U << r))
			ec[EC_REGION + prog * R_MAX + r] = 1;
	ec[EC_SEL + (prog * 32 + ((sel >> 2) & 31)) * 3 + (!delivered() ? 0 : redirected() ? 1 : 2)] = 1;
	ec[EC_NEWCT + prog * 3 + (created > 2 ? 2 : created)] = 1;
	for (int i = 0; i < 8; i++)
		if (checks & (1U << i))
			ec[EC_CHECKS + prog * 8 + i] = 1;

}

int LLVMFuzzerTestOneInput(const __u8 *data, size_t size)
{
	struct qnat_config c;
	struct inst *I;
	int changed;

	/* BPF_PROG_TEST_RUN wants at least an Ethernet header, and for skbs
	 * (since Linux 6.x) the whole IPv4 or IPv6 header its ethertype
	 * announces: runts like these reach TC on a real link, but cannot be
	 * tested here. */
	if (size < 1 + 14)
		return 0;
	sel = data[0];
	prog = sel_prog(sel); /* bridged mode's uplink programs: the host's instead */
	in_len = size - 1 < FRAME_MAX ? size - 1 : FRAME_MAX;
	memcpy(in_buf, data + 1, in_len);
	if (tc_prog() && ((get16(in_buf + 12) == 0x0800 && in_len < 14 + 20) ||
			  (get16(in_buf + 12) == 0x86dd && in_len < 14 + 40)))
		return 0;
	I = &insts[sel & SEL_FULL ? 1 : 0];
	c = fuzz_config(I, sel);
	config_write(I, &c);

	/* On the TAP, tun runs xdp_port_in first; tc_port_in sees what it passes. */
	if (prog == FP_PORT_IN && !(sel & SEL_VPORT)) {
		prog = FP_XDP_PORT;
		run_checked(I);
		if (verdict == XDP_PASS)
			prog = FP_PORT_IN;
	}
	if (prog != FP_XDP_PORT)
		run_checked(I);

	/* Back to the world as seeded. */
	for (int i = 0; i < I->nmaps; i++) {
		changed = snap_restore(I->m[i].fd, &I->m[i].base, &I->m[i].cur);
		if (changed)
			ec[EC_MAPS + prog * MAPS_MAX + i] = changed > 255 ? 255 : changed;
	}
	return 0;
}
