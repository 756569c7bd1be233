/* SPDX-License-Identifier: GPL-2.0 */
/*
 * An attach in progress: what it resolved, and what each step changed, so
 * that a failure at any step takes back every earlier one (attach.c).
 */
#ifndef QNAT_ATTACH_H
#define QNAT_ATTACH_H

#include "qnat.h"

#define ATTACH_PORTS_MAX 256

struct attach {
	struct settings s;
	struct extras *x;
	struct owned o; /* what the attach owns: the state file's (a running attach's when recovering) */
	struct dataplane dp;
	struct nl_sock *sk;
	int bridge, uplink; /* ifindexes */
	struct in_addr ext; /* the uplink's address */
	struct in6_addr ext6; /* --masq6: the uplink's global IPv6 address */
	bool recovering;    /* attached already: repair, or upgrade another build's */
	char sharing[IFNAMSIZ * QNAT_NETS_MAX]; /* the other networks' bridges on the uplink, comma-joined */
	char old_build[41];
	pid_t old_sup; /* another build's supervisor, stopped by the data plane step */
	char old_exe[PATH_MAX], old_args[1024]; /* its command line, NUL-separated, to revive it */
	int old_exe_fd; /* its binary, held open (an install may have replaced the file since); 0: none */
	size_t old_args_len;
	struct sup *sup; /* the supervisor, --foreground */
	/* What this run changed, undone if a later step fails. */
	struct undo {
		bool bridge, bridge_up, mtu, txcsum, addr, fwd_bridge, fwd_uplink, enslaved, addr6, fwd6;
		int fwd_bridge_old, fwd_uplink_old, mtu_old, fwd6_old;
		bool uplink_progs, net_progs, dnsmasq, old_sup_stopped; /* net_progs: on the bridge and ports */
		struct port_mtu {
			int ifindex, mtu;
		} port_mtu[ATTACH_PORTS_MAX]; /* the ports --mtu changed, and what they had */
		int nport_mtus;
	} u;
};

/* host.c: the bridge, its address and the sysctls */
int host_setup(struct attach *a);
void host_undo(struct attach *a);
void fwd_restore(const char *ifname, int old);

/* bridged.c: the uplink as a port, with its addresses and default route on the bridge */
int uplink_enslave(struct nl_sock *sk, int bridge, int uplink, bool bridge_new, struct owned *o);
void uplink_release(struct nl_sock *sk, int bridge, int uplink, const struct owned *o);

/* spawn.c: the daemonised supervisor */
pid_t supervisor_pid(const char *bridge);
void supervisor_stop(const char *bridge);
int supervisor_spawn(struct attach *a, int verbose);
int supervisor_note(struct attach *a);
void supervisor_revive(struct attach *a);

/* detach.c */
void ports_detach_all(struct dataplane *dp, struct nl_sock *sk, int bridge_ifindex);

#endif
