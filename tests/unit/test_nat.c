// SPDX-License-Identifier: GPL-2.0
/*
 * Translation, request and reply paired: a guest's flow masqueraded on the
 * way out, the server's answer translated back, through every path.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "flow.h"

/* One flow per protocol; the ICMP "port" is the echo identifier. */
static const struct flow flows[] = {
	FLOW("tcp", IPPROTO_TCP, GUEST1, 40000, SERVER, 80),
	FLOW("udp", IPPROTO_UDP, GUEST1, 40001, SERVER, 53),
	FLOW("icmp", IPPROTO_ICMP, GUEST1, 0x1234, SERVER, 0),
};
#define NFLOWS (sizeof(flows) / sizeof(flows[0]))

/* After one packet each way. */
static __u8 replied_state(const struct flow *f)
{
	return f->proto == IPPROTO_TCP ? QNAT_CT_SYN_RECV : flow_first_state(f);
}

static void check_accounting(struct qnat *skel, const struct flow *f, __u64 orig_pkts, __u64 reply_pkts)
{
	struct qnat_ct_key k = flow_orig(f);
	struct qnat_ct_entry e;

	if (!ASSERT_OK(ct_get(skel, &k, &e), "the flow is in qnat_ct"))
		return;
	ASSERT_EQ(e.packets[QNAT_DIR_ORIG], orig_pkts, "packets from the guest");
	ASSERT_EQ(e.packets[QNAT_DIR_REPLY], reply_pkts, "packets to the guest");
	ASSERT_EQ(e.flags & QNAT_CTF_REPLIED, reply_pkts ? QNAT_CTF_REPLIED : 0, "flag REPLIED");
}

/* tc_uplink_out masquerades, keeping a free port; the reply goes back
 * through the kernel (the flow has no port), and XDP leaves it alone. */
TEST(snat_egress_and_reply)
{
	for (size_t i = 0; i < NFLOWS; i++) {
		const struct flow *f = &flows[i];
		struct qnat *skel;
		__u8 buf[PKT_MAX];
		struct run r;
		int nat;

		if (!test__start_subtest(f->name))
			continue;
		skel = nat_open();
		if (!skel)
			continue;

		nat = snat_egress(skel, f);
		if (!ASSERT_EQ(nat, f->sport, "source port kept when free") ||
		    !ASSERT_EQ(flow_check(skel, f, 0, flow_first_state(f)), nat, "flow"))
			goto out;
		ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1);
		ASSERT_EQ(map_count(skel->maps.qnat_ct), 1, "flows in qnat_ct");
		ASSERT_EQ(map_count(skel->maps.qnat_ct_rev), 1, "flows in qnat_ct_rev");

		/* No port to send it to: XDP hands it to TC untouched... */
		struct pkt_spec reply = flow_reply(f, nat);
		size_t len = pkt_build(&reply, buf);

		if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_PASS))
			ASSERT_MEMEQ(r.data, buf, len, "xdp leaves the reply untouched");
		/* ...and TC translates it for the kernel to route: no TTL, no MACs. */
		ASSERT_TRUE(reply_ok(skel, f, nat, REPLY_BRIDGE), "reply via the bridge");
		ASSERT_EQ(flow_check(skel, f, 0, replied_state(f)), nat, "flow after the reply");
		check_accounting(skel, f, 1, 1);
		ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1, [QNAT_C_RNAT_BRIDGE] = 1);
out:
		qnat__destroy(skel);
	}
}

/* tc_port_in routes with bpf_fib_lookup and sends the translated packet
 * straight out of the uplink; the reply goes straight back to the TAP. */
TEST(snat_fast_path_and_reply)
{
	for (size_t i = 0; i < NFLOWS; i++) {
		const struct flow *f = &flows[i];
		struct qnat *skel;
		int nat;

		if (!test__start_subtest(f->name))
			continue;
		skel = nat_open();
		if (!skel)
			continue;
		if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port"))
			goto out;

		nat = snat_fast(skel, f, tn.tap);
		if (!ASSERT_EQ(nat, f->sport, "source port kept when free") ||
		    !ASSERT_EQ(flow_check(skel, f, tn.tap, flow_first_state(f)), nat, "flow"))
			goto out;
		ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1);

		ASSERT_TRUE(reply_ok(skel, f, nat, REPLY_TC), "reply redirected by tc");
		ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1, [QNAT_C_RNAT_TC] = 1);
		ASSERT_TRUE(reply_ok(skel, f, nat, REPLY_XDP), "reply redirected by xdp");
		ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1, [QNAT_C_RNAT_TC] = 1,
				[QNAT_C_RNAT_XDP] = 1);
		ASSERT_EQ(flow_check(skel, f, tn.tap, replied_state(f)), nat, "flow after the replies");
		check_accounting(skel, f, 1, 2);
out:
		qnat__destroy(skel);
	}
}

/* A veth port takes no XDP redirects: XDP passes, TC redirects. */
TEST(reply_to_veth_port)
{
	const struct flow *f = &flows[0];
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];
	struct run r;
	int nat;

	if (!skel)
		return;
	if (!ASSERT_OK(port_add(skel, tn.vport, 0), "register the veth port"))
		goto out;
	nat = snat_fast(skel, f, tn.vport);
	if (!ASSERT_EQ(flow_check(skel, f, tn.vport, flow_first_state(f)), nat, "flow"))
		goto out;

	struct pkt_spec reply = flow_reply(f, nat);
	size_t len = pkt_build(&reply, buf);

	if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_PASS))
		ASSERT_MEMEQ(r.data, buf, len, "xdp leaves the reply untouched");
	ASSERT_TRUE(reply_ok(skel, f, nat, REPLY_TC), "reply redirected by tc");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1, [QNAT_C_RNAT_TC] = 1);
out:
	qnat__destroy(skel);
}

/* The flow's port is gone from qnat_ports: the kernel routes the reply. */
TEST(reply_port_gone)
{
	const struct flow *f = &flows[1];
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];
	struct run r;
	int nat;

	if (!skel)
		return;
	nat = snat_fast(skel, f, tn.tap);
	if (!ASSERT_EQ(flow_check(skel, f, tn.tap, flow_first_state(f)), nat, "flow"))
		goto out;

	struct pkt_spec reply = flow_reply(f, nat);
	size_t len = pkt_build(&reply, buf);

	if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_PASS))
		ASSERT_MEMEQ(r.data, buf, len, "xdp leaves the reply untouched");
	ASSERT_TRUE(reply_ok(skel, f, nat, REPLY_BRIDGE), "reply via the bridge");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1, [QNAT_C_RNAT_BRIDGE] = 1);
out:
	qnat__destroy(skel);
}

/* A reply that cannot take one more hop is dropped by TC, left by XDP. */
TEST(reply_ttl_expired)
{
	const struct flow *f = &flows[0];
	struct qnat *skel = nat_open();
	__u8 buf[PKT_MAX];
	struct run r;
	int nat;

	if (!skel)
		return;
	if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port"))
		goto out;
	nat = snat_fast(skel, f, tn.tap);
	if (!ASSERT_GE(nat, 0, "flow"))
		goto out;

	struct pkt_spec reply = flow_reply(f, nat);

	reply.ttl = 1;
	size_t len = pkt_build(&reply, buf);

	if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_PASS))
		ASSERT_MEMEQ(r.data, buf, len, "xdp leaves the reply untouched");
	ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_SHOT);
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_FAST] = 1, [QNAT_C_DROP_TTL] = 1);
	check_accounting(skel, f, 1, 0);
out:
	qnat__destroy(skel);
}

/* UDP's "no checksum" survives every rewrite, port changes included. */
TEST(udp_zero_checksum)
{
	struct flow kept = FLOW("udp", IPPROTO_UDP, GUEST1, 40001, SERVER, 53);
	struct flow remapped = FLOW("udp", IPPROTO_UDP, GUEST1, 500, SERVER, 53); /* below the range */
	struct qnat *skel;
	int nat;

	kept.udp_no_csum = remapped.udp_no_csum = true;

	if (test__start_subtest("egress") && (skel = nat_open())) {
		nat = snat_egress(skel, &kept);
		ASSERT_EQ(nat, kept.sport, "source port kept");
		if (nat >= 0)
			ASSERT_TRUE(reply_ok(skel, &kept, nat, REPLY_BRIDGE), "reply via the bridge");
		qnat__destroy(skel);
	}
	if (test__start_subtest("egress_port_remapped") && (skel = nat_open())) {
		nat = snat_egress(skel, &remapped);
		ASSERT_NEQ(nat, remapped.sport, "source port remapped");
		if (nat >= 0)
			ASSERT_TRUE(reply_ok(skel, &remapped, nat, REPLY_BRIDGE), "reply via the bridge");
		qnat__destroy(skel);
	}
	if (test__start_subtest("fast_path_port_remapped") && (skel = nat_open())) {
		if (ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port")) {
			nat = snat_fast(skel, &remapped, tn.tap);
			ASSERT_NEQ(nat, remapped.sport, "source port remapped");
			if (nat >= 0) {
				ASSERT_TRUE(reply_ok(skel, &remapped, nat, REPLY_TC), "reply redirected by tc");
				ASSERT_TRUE(reply_ok(skel, &remapped, nat, REPLY_XDP), "reply redirected by xdp");
			}
		}
		qnat__destroy(skel);
	}
}

/*
 * Two guests, same source port, same server: the second flow gets another
 * port, and each reply finds its own guest.  Through both ways out.
 */
TEST(port_collision)
{
	static const char *const names[][2] = { { "tcp/egress", "tcp/fast_path" },
						{ "udp/egress", "udp/fast_path" },
						{ "icmp/egress", "icmp/fast_path" } };

	for (size_t i = 0; i < NFLOWS; i++) {
		for (int fast = 0; fast <= 1; fast++) {
			struct flow a = flows[i], b = flows[i];
			struct qnat *skel;
			int nat_a, nat_b;

			if (!test__start_subtest(names[i][fast]))
				continue;
			skel = nat_open();
			if (!skel)
				continue;
			b.guest = GUEST2;
			if (fast && !ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port"))
				goto out;

			nat_a = fast ? snat_fast(skel, &a, tn.tap) : snat_egress(skel, &a);
			nat_b = fast ? snat_fast(skel, &b, tn.tap) : snat_egress(skel, &b);
			if (!ASSERT_EQ(nat_a, a.sport, "first guest keeps its port") ||
			    !ASSERT_GE(nat_b, 0, "second guest translated") ||
			    !ASSERT_NEQ(nat_b, nat_a, "second guest gets another port"))
				goto out;
			test__info("second guest's port %d -> %d", b.sport, nat_b);
			ASSERT_EQ(flow_check(skel, &a, fast ? tn.tap : 0, flow_first_state(&a)), nat_a, "first flow");
			ASSERT_EQ(flow_check(skel, &b, fast ? tn.tap : 0, flow_first_state(&b)), nat_b, "second flow");
			ASSERT_EQ(map_count(skel->maps.qnat_ct), 2, "flows in qnat_ct");
			ASSERT_EQ(map_count(skel->maps.qnat_ct_rev), 2, "flows in qnat_ct_rev");

			enum reply_path path = fast ? REPLY_TC : REPLY_BRIDGE;

			ASSERT_TRUE(reply_ok(skel, &a, nat_a, path), "reply to the first guest");
			ASSERT_TRUE(reply_ok(skel, &b, nat_b, path), "reply to the second guest");
			if (fast) {
				ASSERT_TRUE(reply_ok(skel, &a, nat_a, REPLY_XDP), "xdp reply to the first guest");
				ASSERT_TRUE(reply_ok(skel, &b, nat_b, REPLY_XDP), "xdp reply to the second guest");
				ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 2, [QNAT_C_SNAT_FAST] = 2, [QNAT_C_RNAT_TC] = 2,
						[QNAT_C_RNAT_XDP] = 2);
			} else {
				ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 2, [QNAT_C_SNAT_EGRESS] = 2,
						[QNAT_C_RNAT_BRIDGE] = 2);
			}
out:
			qnat__destroy(skel);
		}
	}
}

/* A source port below the range is moved into it; an echo identifier,
 * which has no range, is kept. */
TEST(port_below_range)
{
	for (size_t i = 0; i < NFLOWS; i++) {
		struct flow f = flows[i];
		struct qnat *skel;
		int nat;

		if (!test__start_subtest(f.name))
			continue;
		skel = nat_open();
		if (!skel)
			continue;
		f.sport = 500;
		nat = snat_egress(skel, &f);
		if (f.proto == IPPROTO_ICMP)
			ASSERT_EQ(nat, 500, "echo identifier kept");
		else if (ASSERT_GE(nat, PORT_MIN, "port moved into the range"))
			ASSERT_LE(nat, PORT_MAX, "port moved into the range");
		if (nat >= 0) {
			ASSERT_EQ(flow_check(skel, &f, 0, flow_first_state(&f)), nat, "flow");
			ASSERT_TRUE(reply_ok(skel, &f, nat, REPLY_BRIDGE), "reply back to port 500");
		}
		qnat__destroy(skel);
	}
}

/* A one-port range: the second flow that needs it is refused. */
TEST(port_exhausted)
{
	struct qnat_config cfg = nat_default_config();
	struct flow a = flows[0], b = flows[0], c = flows[0];
	__u8 buf[PKT_MAX];
	struct qnat *skel;
	struct run r;

	cfg.port_min = cfg.port_max = 2000;
	skel = nat_open_with(&cfg, 1024);
	if (!skel)
		return;
	a.sport = 2000;
	b.guest = GUEST2;
	b.sport = 2000; /* collides */
	c.guest = GUEST2;
	c.sport = 3000; /* out of range, and the only port in it is taken */

	ASSERT_EQ(snat_egress(skel, &a), 2000, "first flow gets the port");
	for (int i = 0; i < 2; i++) {
		struct pkt_spec s = flow_request_routed(i ? &c : &b);
		size_t len = pkt_build(&s, buf);

		ASSERT_TC(run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r), &r, TC_ACT_SHOT);
	}
	ASSERT_EQ(map_count(skel->maps.qnat_ct), 1, "flows in qnat_ct");
	ASSERT_EQ(map_count(skel->maps.qnat_ct_rev), 1, "flows in qnat_ct_rev");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1, [QNAT_C_DROP_NO_PORT] = 2);
	qnat__destroy(skel);
}

/* A host socket owning the reply tuple keeps the port from guests. */
TEST(host_socket_port_avoided)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = EXT_ADDR };
	int one = 1;

	for (size_t i = 0; i < 2; i++) { /* tcp, udp */
		const struct flow *f = &flows[i];
		struct qnat *skel = NULL;
		int fd, nat;

		if (!test__start_subtest(f->name))
			continue;
		fd = socket(AF_INET, f->proto == IPPROTO_TCP ? SOCK_STREAM : SOCK_DGRAM, 0);
		if (!ASSERT_GE(fd, 0, "socket"))
			continue;
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		sa.sin_port = htons(f->sport);
		if (!ASSERT_OK(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), "bind to the guest's port") ||
		    (f->proto == IPPROTO_TCP && !ASSERT_OK(listen(fd, 1), "listen")))
			goto out;
		skel = nat_open();
		if (!skel)
			goto out;
		nat = snat_egress(skel, f);
		if (ASSERT_GE(nat, 0, "translated"))
			ASSERT_NEQ(nat, f->sport, "the host's port is not handed out");
out:
		qnat__destroy(skel);
		close(fd);
	}
}

/* The same flow's next packet reuses it. */
TEST(flow_reuse)
{
	const struct flow *f = &flows[1];
	struct pkt_spec s = flow_request_routed(f);
	struct qnat_ct_key k = flow_orig(f);
	struct qnat *skel = nat_open();
	struct qnat_ct_entry e;
	__u8 buf[PKT_MAX];
	size_t len;

	if (!skel)
		return;
	len = pkt_build(&s, buf);
	ASSERT_EQ(snat_egress(skel, f), f->sport, "first packet");
	ASSERT_EQ(snat_egress(skel, f), f->sport, "second packet");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 2);
	if (ASSERT_OK(ct_get(skel, &k, &e), "flow")) {
		ASSERT_EQ(e.packets[QNAT_DIR_ORIG], 2, "packets");
		ASSERT_EQ(e.bytes[QNAT_DIR_ORIG], 2 * len, "bytes");
	}
	ASSERT_EQ(map_count(skel->maps.qnat_ct), 1, "flows in qnat_ct");
	qnat__destroy(skel);
}

/* The TCP state the controller expires flows by, from both directions. */
TEST(tcp_states)
{
	static const struct {
		bool reply;
		__u8 flags;
		__u8 state;
	} steps[] = {
		{ false, TCP_SYN, QNAT_CT_SYN_SENT },
		{ true, TCP_SYN | TCP_ACK, QNAT_CT_SYN_RECV },
		{ false, TCP_ACK, QNAT_CT_ESTABLISHED },
		{ true, TCP_ACK | TCP_PSH, QNAT_CT_ESTABLISHED },
		{ false, TCP_FIN | TCP_ACK, QNAT_CT_FIN_WAIT },
		{ true, TCP_FIN | TCP_ACK, QNAT_CT_TIME_WAIT },
		{ false, TCP_SYN, QNAT_CT_SYN_SENT }, /* port reuse reopens it */
		{ true, TCP_RST, QNAT_CT_CLOSE },
	};
	const struct flow *f = &flows[0];
	struct qnat_ct_key k = flow_orig(f);
	struct qnat *skel = nat_open();
	struct qnat_ct_entry e;
	__u8 buf[PKT_MAX];
	char what[64];
	struct run r;

	if (!skel)
		return;
	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		struct pkt_spec s = steps[i].reply ? flow_reply(f, f->sport) : flow_request_routed(f);
		size_t len;
		int err;

		s.tcp_flags = steps[i].flags;
		len = pkt_build(&s, buf);
		if (steps[i].reply)
			err = run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r);
		else
			err = run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r);
		/* Replies leave via the bridge (no port known), requests via the stack. */
		if (!ASSERT_TC(err, &r, steps[i].reply ? TC_ACT_REDIRECT : TC_ACT_OK) ||
		    !ASSERT_OK(ct_get(skel, &k, &e), "flow"))
			break;
		snprintf(what, sizeof(what), "state after step %zu (%s)", i, steps[i].reply ? "reply" : "request");
		ASSERT_EQ(e.state, steps[i].state, what);
	}
	qnat__destroy(skel);
}

/* A full table refuses new flows and keeps the old ones. */
TEST(ct_full)
{
	struct qnat_config cfg = nat_default_config();
	struct flow a = flows[0], b = flows[0];
	struct qnat *skel = nat_open_with(&cfg, 1);
	__u8 buf[PKT_MAX];
	struct run r;

	if (!skel)
		return;
	b.guest = GUEST2;
	ASSERT_EQ(snat_egress(skel, &a), a.sport, "first flow");

	struct pkt_spec s = flow_request_routed(&b);
	size_t len = pkt_build(&s, buf);

	ASSERT_TC(run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r), &r, TC_ACT_SHOT);
	ASSERT_EQ(flow_check(skel, &a, 0, flow_first_state(&a)), a.sport, "first flow kept");
	ASSERT_COUNTERS(skel, [QNAT_C_CT_NEW] = 1, [QNAT_C_SNAT_EGRESS] = 1, [QNAT_C_DROP_CT_FULL] = 1);
	qnat__destroy(skel);
}

/*
 * A flow the uplink's egress created (the guest's port not attached yet, or
 * its first packet took the slow path) continues on the fast path: the flow
 * must learn the guest's port *and MAC*, or replies redirected to the port
 * carry a zero destination MAC.
 */
TEST(egress_flow_moves_to_fast_path)
{
	for (size_t i = 0; i < NFLOWS; i++) {
		const struct flow *f = &flows[i];
		struct qnat *skel;
		int nat;

		if (!test__start_subtest(f->name))
			continue;
		skel = nat_open();
		if (!skel)
			continue;
		if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port"))
			goto out;
		nat = snat_egress(skel, f);
		if (!ASSERT_EQ(flow_check(skel, f, 0, flow_first_state(f)), nat, "flow from the egress"))
			goto out;
		ASSERT_EQ(snat_fast(skel, f, tn.tap), nat, "the fast path uses the same flow");
		ASSERT_EQ(flow_check(skel, f, tn.tap, flow_first_state(f)), nat, "flow learnt the guest's port and MAC");
		ASSERT_TRUE(reply_ok(skel, f, nat, REPLY_TC), "reply redirected by tc");
		ASSERT_TRUE(reply_ok(skel, f, nat, REPLY_XDP), "reply redirected by xdp");
out:
		qnat__destroy(skel);
	}
}

/*
 * Builds `before` and its translation `after`, with the payload's first word
 * chosen so that after's UDP checksum computes to 0, which RFC 768 sends as
 * 0xffff: a translator must not emit 0 ("no checksum") there.
 */
static bool build_csum_zero_pair(const struct pkt_spec *before, const struct pkt_spec *after, __u8 *b, size_t *blen,
				 __u8 *a, size_t *alen)
{
	size_t boff = pkt_payload_off(before), aoff = pkt_payload_off(after);
	struct pkt_csums c;

	*blen = pkt_build(before, b);
	*alen = pkt_build(after, a);
	for (__u32 w = 0; w <= 0xffff; w++) {
		a[aoff] = w >> 8;
		a[aoff + 1] = w;
		if (!pkt_csums(a, *alen, &c) && c.l4_want == 0xffff) {
			b[boff] = w >> 8;
			b[boff + 1] = w;
			pkt_refresh_csums(a, *alen);
			pkt_refresh_csums(b, *blen);
			return ASSERT_EQ(a[aoff - 2] << 8 | a[aoff - 1], 0xffff, "crafted udp checksum");
		}
	}
	return ASSERT_TRUE(false, "no payload word makes the checksum 0");
}

TEST(udp_checksum_computed_zero)
{
	struct flow f = FLOW("udp", IPPROTO_UDP, GUEST1, 500, SERVER, 53); /* remapped: port and address change */
	__u8 in[PKT_MAX], want[PKT_MAX];
	size_t len, want_len;
	struct qnat *skel;
	struct run r;
	int nat;

	if (test__start_subtest("egress") && (skel = nat_open())) {
		nat = snat_egress(skel, &f);
		if (ASSERT_GE(nat, PORT_MIN, "flow")) {
			struct pkt_spec before = flow_request_routed(&f), after = before;

			after.saddr = EXT_ADDR;
			after.sport = nat;
			if (build_csum_zero_pair(&before, &after, in, &len, want, &want_len) &&
			    ASSERT_TC(run_tc(skel->progs.tc_uplink_out, in, len, tn.uplink, 0, &r), &r, TC_ACT_OK))
				ASSERT_FRAME(&r, want, want_len, "translated request");
		}
		qnat__destroy(skel);
	}
	if (test__start_subtest("fast_path") && (skel = nat_open())) {
		nat = snat_fast(skel, &f, tn.tap);
		if (ASSERT_GE(nat, PORT_MIN, "flow")) {
			struct pkt_spec before = guest_pkt(f.proto, f.guest, f.sport, f.server, f.dport);
			struct pkt_spec after = routed(before);

			after.saddr = EXT_ADDR;
			after.sport = nat;
			if (build_csum_zero_pair(&before, &after, in, &len, want, &want_len) &&
			    ASSERT_TC(run_tc(skel->progs.tc_port_in, in, len, tn.tap, tn.tap, &r), &r, TC_ACT_REDIRECT))
				ASSERT_FRAME(&r, want, want_len, "translated request");
		}
		qnat__destroy(skel);
	}
	if (test__start_subtest("reply") && (skel = nat_open())) {
		nat = ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port") ?
			      snat_fast(skel, &f, tn.tap) :
			      -1;
		if (ASSERT_GE(nat, PORT_MIN, "flow")) {
			struct pkt_spec before = flow_reply(&f, nat), after = flow_reply_delivered(&f, nat, REPLY_TC);

			if (build_csum_zero_pair(&before, &after, in, &len, want, &want_len)) {
				if (ASSERT_TC(run_tc(skel->progs.tc_uplink_in, in, len, tn.uplink, tn.uplink, &r), &r,
					      TC_ACT_REDIRECT))
					ASSERT_FRAME(&r, want, want_len, "tc: translated reply");
				if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, in, len, &r), &r, XDP_REDIRECT))
					ASSERT_FRAME(&r, want, want_len, "xdp: translated reply");
			}
		}
		qnat__destroy(skel);
	}
}

/* The longest IPv4 header (40 bytes of options) moves every offset. */
TEST(ip_options)
{
	for (size_t i = 0; i < NFLOWS; i++) {
		const struct flow *f = &flows[i];
		__u8 buf[PKT_MAX], want[PKT_MAX];
		size_t len, want_len;
		struct qnat *skel;
		struct run r;
		int nat;

		if (!test__start_subtest(f->name))
			continue;
		skel = nat_open();
		if (!skel)
			continue;
		if (!ASSERT_OK(port_add(skel, tn.tap, QNAT_PORT_TAP), "register the tap port"))
			goto out;

		/* Out through the fast path... */
		struct pkt_spec in = guest_pkt(f->proto, f->guest, f->sport, f->server, f->dport);
		struct pkt_spec out = routed(in);

		in.ip_opt_len = out.ip_opt_len = 40;
		out.saddr = EXT_ADDR;
		len = pkt_build(&in, buf);
		want_len = pkt_build(&out, want);
		if (!ASSERT_TC(run_tc(skel->progs.tc_port_in, buf, len, tn.tap, tn.tap, &r), &r, TC_ACT_REDIRECT) ||
		    !ASSERT_FRAME(&r, want, want_len, "fast path: translated request"))
			goto out;
		nat = flow_check(skel, f, tn.tap, flow_first_state(f));
		if (!ASSERT_EQ(nat, f->sport, "flow"))
			goto out;

		/* ...and through the uplink's egress... */
		in = routed(in);
		len = pkt_build(&in, buf);
		if (ASSERT_TC(run_tc(skel->progs.tc_uplink_out, buf, len, tn.uplink, 0, &r), &r, TC_ACT_OK)) {
			in.saddr = EXT_ADDR;
			want_len = pkt_build(&in, want);
			ASSERT_FRAME(&r, want, want_len, "egress: translated request");
		}

		/* ...and back, in TC and in XDP. */
		struct pkt_spec reply = flow_reply(f, nat), delivered = flow_reply_delivered(f, nat, REPLY_TC);

		reply.ip_opt_len = delivered.ip_opt_len = 40;
		len = pkt_build(&reply, buf);
		want_len = pkt_build(&delivered, want);
		if (ASSERT_TC(run_tc(skel->progs.tc_uplink_in, buf, len, tn.uplink, tn.uplink, &r), &r, TC_ACT_REDIRECT))
			ASSERT_FRAME(&r, want, want_len, "tc: translated reply");
		if (ASSERT_XDP(run_xdp(skel->progs.xdp_uplink_in, buf, len, &r), &r, XDP_REDIRECT))
			ASSERT_FRAME(&r, want, want_len, "xdp: translated reply");
out:
		qnat__destroy(skel);
	}
}
