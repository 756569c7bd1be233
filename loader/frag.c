// SPDX-License-Identifier: GPL-2.0
/*
 * Inbound fragments that came before their datagram's first fragment.  The
 * data plane passed them to the host and kept a copy (qnat_frag_stash, see
 * bpf/lib/frag.h); once a first fragment shows the datagram is a guest's, it
 * names the datagram on the qnat_frag_ev ring buffer.  Here the copies are
 * translated as the data plane would (destination, TTL, header checksum) and
 * sent out of the guest's port on an AF_PACKET socket.
 *
 * The periodic sweep catches what an event missed (a race, a full ring, a
 * supervisor restart) and drops copies that waited 30 s, as Linux drops an
 * incomplete datagram after ipfrag_time.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_packet.h>
#include <linux/ip.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"
#include "qnat.h"

#define ETH_HLEN 14

struct frag_out {
	struct dataplane *dp;
	struct nl_sock *sk;
	struct ring_buffer *rb;
	int pkt_fd; /* AF_PACKET, send only */
	int bridge_ifindex;
};

static uint16_t ip_csum(const void *hdr, size_t len)
{
	const uint8_t *b = hdr;
	uint32_t sum = 0;

	for (size_t i = 0; i + 1 < len; i += 2)
		sum += b[i] << 8 | b[i + 1];
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons(~sum & 0xffff);
}

/* Where a guest's frames go: its port, or the bridge when the port is not
 * known.  -EAGAIN: no MAC yet (the neighbour is being resolved). */
static int frag_dest(struct frag_out *fo, const struct qnat_frag *f, int *ifindex, uint8_t mac[6])
{
	static const uint8_t zero[6];
	struct qnat_port port;
	uint32_t key = f->port_ifindex;

	memcpy(mac, f->guest_mac, 6);
	*ifindex = f->port_ifindex;
	if (!key || bpf_map_lookup_elem(fo->dp->ports_fd, &key, &port))
		*ifindex = fo->bridge_ifindex;
	if (memcmp(mac, zero, 6))
		return 0;
	return nl_neigh_mac(fo->sk, fo->bridge_ifindex, (struct in_addr){ f->guest_addr }, mac) ? -EAGAIN : 0;
}

/* One stashed frame to its guest.  0, or negative errno. */
static int frag_send(struct frag_out *fo, const struct qnat_stash *v, const struct qnat_frag *f)
{
	struct sockaddr_ll to = { .sll_family = AF_PACKET, .sll_halen = 6 };
	/* Two bytes ahead of the frame put its IP header on a 4-byte boundary. */
	uint8_t buf[2 + QNAT_STASH_FRAME] __attribute__((aligned(4))), *frame = buf + 2, bridge_mac[6];
	struct iphdr *ip = (void *)(frame + ETH_HLEN);
	struct qnat_config cfg;
	uint32_t slot = fo->dp->net;
	int ifindex, err;
	size_t ihl;

	if (v->len > QNAT_STASH_FRAME || v->len < ETH_HLEN + sizeof(*ip))
		return -EINVAL;
	memcpy(frame, v->frame, v->len);
	ihl = ip->ihl * 4;
	if (ihl < sizeof(*ip) || ETH_HLEN + ihl > v->len || ip->ttl <= 1)
		return -EINVAL;
	if (bpf_map_lookup_elem(fo->dp->config_fd, &slot, &cfg))
		return -errno;
	memcpy(bridge_mac, cfg.bridge_mac, 6);
	if ((err = frag_dest(fo, f, &ifindex, to.sll_addr)))
		return err;
	ip->daddr = f->guest_addr;
	ip->ttl--;
	ip->check = 0;
	ip->check = ip_csum(ip, ihl);
	memcpy(frame, to.sll_addr, 6);
	memcpy(frame + 6, bridge_mac, 6);
	to.sll_ifindex = ifindex;
	if (sendto(fo->pkt_fd, frame, v->len, 0, (struct sockaddr *)&to, sizeof(to)) < 0)
		return -errno;
	return 0;
}

/* Sends one copy on (1) when its datagram's first fragment has come; drops
 * it (0) when it cannot be sent, the datagram was the host's or it waited
 * too long; else -1: it waits for the next sweep. */
static int frag_settle(struct frag_out *fo, const struct qnat_stash_key *k, uint64_t now_ns)
{
	static struct qnat_stash v; /* too big for the stack */
	struct qnat_frag f;
	bool known;
	int err;

	if (bpf_map_lookup_elem(fo->dp->stash_fd, k, &v))
		return -1;
	known = !bpf_map_lookup_elem(fo->dp->frags_fd, &k->frag, &f);
	if (known && !f.flags && !dp_owns(fo->dp, f.guest_addr))
		return -1; /* another network's guest, on a shared uplink: its supervisor's */
	if (known && !f.flags && (err = frag_send(fo, &v, &f)) != -EAGAIN) {
		bpf_map_delete_elem(fo->dp->stash_fd, k);
		if (err)
			log_debug("stashed fragment for %s not sent: %s", ip_str_be(f.guest_addr), strerror(-err));
		dp_count(fo->dp, err ? QNAT_C_FRAG_EXPIRED : QNAT_C_FRAG_DELIVERED, 1);
		return !err;
	}
	/* The stamp may be newer than now: the sweep read the clock first. */
	if ((known && (f.flags & QNAT_FRAG_HOST)) ||
	    (now_ns > v.stamp && now_ns - v.stamp >= QNAT_STASH_TTL_SECS * 1000000000ull)) {
		bpf_map_delete_elem(fo->dp->stash_fd, k);
		dp_count(fo->dp, QNAT_C_FRAG_EXPIRED, 1);
		return 0;
	}
	return -1;
}

/*
 * Settles the stash's copies (all, or one datagram's).  Keys are gathered
 * first, as deleting under get_next_key restarts the walk; the walk is
 * bounded, since the data plane changes the map meanwhile.
 */
static void frag_settle_all(struct frag_out *fo, const struct qnat_frag_key *only, uint64_t now_ns)
{
	static struct qnat_stash_key keys[QNAT_STASH_MAX];
	struct qnat_stash_key k, cur;
	int n = 0, sent = 0;

	for (int step = 0; step < 2 * QNAT_STASH_MAX && n < QNAT_STASH_MAX &&
			   !bpf_map_get_next_key(fo->dp->stash_fd, step ? &cur : NULL, &k);
	     step++) {
		cur = k;
		if (!only || !memcmp(&k.frag, only, sizeof(*only)))
			keys[n++] = k;
	}
	for (int i = 0; i < n; i++)
		sent += frag_settle(fo, &keys[i], now_ns) > 0;
	if (sent)
		log_debug("sent %d stashed fragment%s on to guests", sent, sent > 1 ? "s" : "");
}

static int on_event(void *ctx, void *data, size_t size)
{
	if (size >= sizeof(struct qnat_frag_key))
		frag_settle_all(ctx, data, monotonic_ns());
	return 0;
}

struct frag_out *frag_out_open(struct dataplane *dp, struct nl_sock *sk, int bridge_ifindex)
{
	struct frag_out *fo = calloc(1, sizeof(*fo));

	if (!fo)
		return NULL;
	fo->dp = dp;
	fo->sk = sk;
	fo->bridge_ifindex = bridge_ifindex;
	fo->pkt_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0); /* protocol 0: receives nothing */
	if (fo->pkt_fd < 0 || dp->stash_fd < 0 || dp->frags_fd < 0 || dp->frag_ev_fd < 0) {
		log_warn("cannot set up the delivery of early fragments");
		frag_out_close(fo);
		return NULL;
	}
	fo->rb = ring_buffer__new(dp->frag_ev_fd, on_event, fo, NULL);
	if (!fo->rb) {
		log_warn("cannot read the fragment events");
		frag_out_close(fo);
		return NULL;
	}
	return fo;
}

void frag_out_close(struct frag_out *fo)
{
	if (!fo)
		return;
	ring_buffer__free(fo->rb);
	if (fo->pkt_fd >= 0)
		close(fo->pkt_fd);
	free(fo);
}

int frag_out_fd(struct frag_out *fo)
{
	return fo ? ring_buffer__epoll_fd(fo->rb) : -1;
}

void frag_out_events(struct frag_out *fo)
{
	if (fo)
		ring_buffer__consume(fo->rb);
}

void frag_out_sweep(struct frag_out *fo, uint64_t now_ns)
{
	if (fo)
		frag_settle_all(fo, NULL, now_ns);
}
