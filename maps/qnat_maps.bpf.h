/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The maps, as the BPF programs declare them.  Layouts live in qnat_maps.h.
 * Networks on one uplink share every map but the four their own programs
 * alone use: qnat_fdb, qnat_host_allow, qnat_host_flow, qnat_ip6_bind.
 */
#ifndef QNAT_MAPS_BPF_H
#define QNAT_MAPS_BPF_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "qnat_maps.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QNAT_NETS_MAX);
	__type(key, __u32);
	__type(value, struct qnat_config);
} qnat_config SEC(".maps");

/* Plain hash, not LRU: an LRU evicts the two halves of a flow independently. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_CT_DEFAULT_MAX); /* the controller sets the real size */
	__type(key, struct qnat_ct_key);
	__type(value, struct qnat_ct_entry);
} qnat_ct SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_CT_DEFAULT_MAX);
	__type(key, struct qnat_ct_key);
	__type(value, struct qnat_ct_key);
} qnat_ct_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_CT_DEFAULT_MAX); /* the controller sets the real size, as qnat_ct's */
	__type(key, struct qnat_ct6_key);
	__type(value, struct qnat_ct_entry);
} qnat_ct6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_CT_DEFAULT_MAX);
	__type(key, struct qnat_ct6_key);
	__type(value, struct qnat_ct6_key);
} qnat_ct6_rev SEC(".maps");

/* Shared by every CPU: a guest's new flow may evict another CPU's. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QNAT_EVICT_RING);
	__type(key, __u32);
	__type(value, struct qnat_ct_key);
} qnat_evict_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qnat_evict_pos);
} qnat_evict_pos SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, QNAT_STATS_SLOTS * QNAT_NETS_MAX);
	__type(key, __u32);
	__type(value, struct qnat_counter_val);
} qnat_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_PORTS_MAX);
	__type(key, __u32);
	__type(value, struct qnat_port);
} qnat_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_IP6_BINDS_MAX);
	__type(key, struct qnat_ip6_addr);
	__type(value, struct qnat_ip6_binding);
} qnat_ip6_bind SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, QNAT_PORTS_MAX);
	__type(key, __u32);
	__type(value, __u32);
} qnat_devmap SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_FWD_MAX);
	__type(key, struct qnat_fwd_key);
	__type(value, struct qnat_fwd);
} qnat_fwd SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_FWD_MAX);
	__type(key, struct qnat_fwd6_key);
	__type(value, struct qnat_fwd6);
} qnat_fwd6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct qnat_sock_rev_key);
	__type(value, struct qnat_sock_rev);
} qnat_sock_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, QNAT_GUESTS_MAX);
	__type(key, __be32);
	__type(value, struct qnat_guest);
} qnat_guests SEC(".maps");

/* LRU: a mapping is only a hint, checked against a live flow on use. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct qnat_mapping_key);
	__type(value, struct qnat_ct_key);
} qnat_mappings SEC(".maps");

/* LRU: entries are independent, and a full table must still learn. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QNAT_FDB_MAX);
	__type(key, struct qnat_fdb_key);
	__type(value, struct qnat_fdb);
} qnat_fdb SEC(".maps");

/* LRU is right here: entries are independent and live a few milliseconds. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 8192);
	__type(key, struct qnat_frag_key);
	__type(value, struct qnat_frag);
} qnat_frags SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, QNAT_HOST_ALLOW_MAX);
	__type(key, __u32);
	__type(value, struct qnat_host_allow);
} qnat_host_allow SEC(".maps");

/* LRU: entries are independent; a lost one only costs a reply until the
 * host sends on that connection again. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QNAT_HOST_FLOWS_MAX);
	__type(key, struct qnat_host_flow_key);
	__type(value, __u64);
} qnat_host_flow SEC(".maps");

/* LRU: a full stash makes room by forgetting the oldest copy. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, QNAT_STASH_MAX);
	__type(key, struct qnat_stash_key);
	__type(value, struct qnat_stash);
} qnat_frag_stash SEC(".maps");

/* Where a copy is built: too big for the BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct qnat_stash);
} qnat_stash_buf SEC(".maps");

/* Datagrams whose stashed fragments can go now: struct qnat_frag_key. */
struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, QNAT_FRAG_EV_BYTES);
} qnat_frag_ev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, QNAT_CT_EV_BYTES);
} qnat_ct_ev SEC(".maps");

#endif /* QNAT_MAPS_BPF_H */
