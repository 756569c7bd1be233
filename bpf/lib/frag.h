/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Inbound IPv4 fragments, without reassembly.  Later fragments carry no
 * ports: they go where their datagram's first fragment went (qnat_frags, by
 * IP id).  One that comes before its first fragment cannot know yet whether
 * the datagram is a guest's or the host's: it goes on to the host, and a copy
 * waits in qnat_frag_stash.  If the first fragment then turns out to be a
 * guest's, the controller is told on qnat_frag_ev and sends the copies on.
 *
 * Races between CPUs are settled by qnat_frags: a later fragment writes its
 * copy before it marks the datagram pending (BPF_NOEXIST), a first fragment
 * writes the destination before it reads the mark.  Whichever comes second
 * sees the other's work; the controller's periodic sweep is the safety net.
 */
#ifndef QNAT_FRAG_H
#define QNAT_FRAG_H

#include "qnat_maps.bpf.h"
#include "lib/parse.h"
#include "lib/stats.h"

static __always_inline struct qnat_frag_key frag_key(const struct pkt *p)
{
	struct qnat_frag_key fk = { .saddr = p->saddr, .daddr = p->daddr, .id = p->ip_id, .proto = p->proto };

	return fk;
}

/* A first fragment for the host: its later ones need no copy. */
static __always_inline void frag_host(const struct qnat_config *cfg, const struct pkt *p)
{
	if (p->frag == FRAG_FIRST && p->daddr == cfg->ext_addr) {
		struct qnat_frag_key fk = frag_key(p);
		struct qnat_frag fv = { .flags = QNAT_FRAG_HOST };

		bpf_map_update_elem(&qnat_frags, &fk, &fv, BPF_ANY);
	}
}

/*
 * The first fragment of a guest's datagram: the rest follow it by IP id, and
 * those that came before it are the controller's to send.
 */
static __always_inline void frag_first(const struct pkt *p, __be32 guest, const struct qnat_ct_entry *e)
{
	struct qnat_frag_key fk = frag_key(p);
	struct qnat_frag fv = { .guest_addr = guest, .port_ifindex = e->port_ifindex };
	struct qnat_frag *old;
	int pending;

	__builtin_memcpy(fv.guest_mac, e->guest_mac, ETH_ALEN);
	if (!bpf_map_update_elem(&qnat_frags, &fk, &fv, BPF_NOEXIST))
		return;
	old = bpf_map_lookup_elem(&qnat_frags, &fk);
	pending = old && (old->flags & QNAT_FRAG_PENDING);
	bpf_map_update_elem(&qnat_frags, &fk, &fv, BPF_ANY);
	if (pending)
		bpf_ringbuf_output(&qnat_frag_ev, &fk, sizeof(fk), 0);
}

/*
 * A later fragment for the uplink address with no entry: copy it into the
 * stash and mark its datagram pending.  Returns the datagram's entry when its
 * first fragment came in the meantime (the copy is then taken back).
 */
static __always_inline struct qnat_frag *frag_stash(struct __sk_buff *skb, const struct qnat_config *cfg,
						    const struct pkt *p, const struct qnat_frag_key *fk)
{
	struct qnat_stash_key sk = { .frag = *fk, .frag_off = p->frag_off };
	struct qnat_frag pending = { .flags = QNAT_FRAG_PENDING };
	__u32 zero = 0, len = skb->len;
	struct qnat_stash *v;
	struct qnat_frag *f;

	/* Only these can be a guest's. */
	if (p->proto != IPPROTO_TCP && p->proto != IPPROTO_UDP && p->proto != IPPROTO_ICMP)
		return 0;
	if (len > QNAT_STASH_FRAME) {
		count(cfg, QNAT_C_FRAG_TOO_BIG, len);
		return 0;
	}
	v = bpf_map_lookup_elem(&qnat_stash_buf, &zero);
	if (!v || len < sizeof(struct ethhdr) + sizeof(struct iphdr) || bpf_skb_load_bytes(skb, 0, v->frame, len))
		return 0;
	v->len = len;
	v->stamp = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&qnat_frag_stash, &sk, v, BPF_ANY))
		return 0;
	if (!bpf_map_update_elem(&qnat_frags, fk, &pending, BPF_NOEXIST)) {
		count(cfg, QNAT_C_FRAG_STASHED, len);
		return 0;
	}
	f = bpf_map_lookup_elem(&qnat_frags, fk);
	if (!f || (f->flags & QNAT_FRAG_PENDING)) {
		count(cfg, QNAT_C_FRAG_STASHED, len); /* a sibling came first: the copy waits too */
		return 0;
	}
	bpf_map_delete_elem(&qnat_frag_stash, &sk);
	return f;
}

#endif /* QNAT_FRAG_H */
