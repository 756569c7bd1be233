/* SPDX-License-Identifier: GPL-2.0 */
/* The controller's shared types: settings, persisted state, and the pieces' interfaces. */
#ifndef QNAT_H
#define QNAT_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "qnat_maps.h"

#define QNAT_RUN_DIR "/run/qnat-bpf"
#define QNAT_LIB_DIR "/var/lib/qnat-bpf" /* what outlives an attach: leases, a log */
#define QNAT_TC_HANDLE 0x51a7 /* our cls_bpf filters: this handle ... */
#define QNAT_TC_PRIO 0x51a7   /* ... at this priority */

enum xdp_mode { XDP_MODE_AUTO, XDP_MODE_NATIVE, XDP_MODE_GENERIC, XDP_MODE_OFF };

/* libvirt's forward modes (--mode). */
enum net_mode { MODE_NAT, MODE_ROUTE, MODE_OPEN, MODE_ISOLATED };
enum ip6_mode { IP6_NONE, IP6_MASQ, IP6_ROUTE }; /* --masq6, --route6 */

/* What happens when the conntrack table is full. */
enum ct_full_policy {
	CT_FULL_REFUSE, /* new flows are refused (and counted) */
	CT_FULL_EVICT,	/* the controller keeps room by evicting the least recently used */
};

/* A repeatable setting's values (--dns-host, --dhcp-option, ...), in dnsmasq's spelling. */
#define QNAT_LIST_MAX 16
struct str_list {
	char v[QNAT_LIST_MAX][128];
	int n;
};

/* What `attach` was asked for.  Two attaches agree when these agree. */
struct settings {
	char bridge[IFNAMSIZ];
	char uplink[IFNAMSIZ];
	struct in_addr subnet;
	unsigned int prefix;
	struct in_addr gateway;
	bool dhcp;
	struct in_addr dhcp_start, dhcp_end;
	uint16_t port_min, port_max;
	uint32_t ct_max;
	uint32_t max_flows_per_guest; /* 0: no cap */
	enum ct_full_policy ct_full;
	bool eif; /* UDP: endpoint-independent filtering, else address-and-port-dependent */
	uint32_t fdb_ageing; /* seconds a learned MAC lives unseen */
	uint32_t mtu;	     /* bridge, ports and DHCP option 26; 0: leave alone */
	bool port_security;  /* each port: one MAC, one IPv4 address */
	bool csum_fill;	     /* complete checksums on what the host sends guests (DHCP) */
	bool bridged;	     /* no NAT: the uplink is a port, guests are on the LAN */
	enum net_mode mode;
	uint32_t timeouts[QNAT_TO_MAX];
	enum xdp_mode xdp;
	enum xdp_mode port_xdp; /* xdp_port_in on the ports; auto: native on TAPs */
	char metrics[32]; /* --metrics-listen ADDR:PORT, or empty */
	char host_allow[256]; /* --host-allow, comma-joined; empty: DHCP and DNS only */
	/* dnsmasq's DNS and DHCP, as libvirt's <domain>, <dns> and <dhcp> give them */
	char domain[64];
	bool domain_local; /* answered here only, never forwarded */
	bool dns;	   /* --no-dns: DHCP only (dnsmasq's port=0) */
	char lease_time[16]; /* dnsmasq's spelling (1h, 30m, infinite); empty: its default */
	struct str_list dns_hosts, dns_txts, dns_srvs, dns_fwds, dhcp_opts;
	/* IPv6, as libvirt's <ip family='ipv6'>: a /64 whose gateway is on the bridge, RAs from dnsmasq */
	enum ip6_mode ip6;
	struct in6_addr prefix6, gateway6;
	bool dhcp6; /* --dhcp6-range: DHCPv6 leases too */
	struct in6_addr dhcp6_start, dhcp6_end;
};

/* What attach changed on the host, so detach can undo exactly that. */
struct owned {
	bool bridge_created;
	bool bridge_upped; /* it was down: detach takes it down again */
	bool addr_added;
	int fwd_bridge_old; /* -1: untouched */
	int fwd_uplink_old;
	bool uplink_clsact_created;
	int xdp_attached; /* XDP_FLAGS_* mode it was attached with, 0 when none */
	bool sock_hooks;  /* host-local forwards: socket hooks on the root cgroup */
	int bridge_mtu_old; /* 0: untouched */
	int bridge_txcsum_old; /* -1: untouched */
	bool uplink_enslaved;  /* bridged: we put the uplink in the bridge ... */
	char moved_addrs[160]; /* ... and moved these "a/p,a/p" to the bridge ... */
	struct in_addr moved_gw; /* ... and the default route via this gateway */
	uint32_t sock_cfg_id; /* their config map's id: finds them when the data plane is gone */
	bool bridge_clsact_created; /* the host policy's programs hang on the bridge device */
	bool addr6_added;	    /* gateway6/64 on the bridge */
	int fwd6_old;		    /* net.ipv6.conf.all.forwarding before (-1: untouched) */
	char build[41];	      /* the build that attached: build_id() of its qnat-bpf */
	int abi;	      /* and its QNAT_ABI_VERSION */
};

/* util.c */
char *split_at(const char *s, const char *seps, char *buf, size_t len);
int parse_cidr(const char *s, struct in_addr *net, unsigned int *prefix);
const char *subnet_unusable(struct in_addr net, unsigned int prefix); /* why not, or NULL */
int parse_ipv4(const char *s, struct in_addr *a);
int parse_prefix6(const char *s, struct in6_addr *net);
int parse_ipv6(const char *s, struct in6_addr *a);
bool in_prefix6(const struct in6_addr *a, const struct in6_addr *net);
bool prefix_match(const void *a, const void *b, unsigned int bits);
const char *prefix6_unusable(const struct in6_addr *net); /* why not, or NULL */
const char *ip6_str(const struct in6_addr *a);		  /* static buffer, rotating over 8 */
int parse_u32(const char *s, uint32_t min, uint32_t max, uint32_t *out);
int parse_port_range(const char *s, uint16_t *lo, uint16_t *hi);
int host_allow_parse(const char *spec, struct qnat_host_allow *rules, int *n, bool *all);
in_addr_t prefix_mask(unsigned int prefix);
const char *ip_str(struct in_addr a); /* static buffer, rotating over 8 */
const char *ip_str_be(uint32_t be);
#define MAC_STR_LEN 18
char *mac_str(const uint8_t mac[6], char buf[MAC_STR_LEN]); /* "52:54:00:12:34:56" */
int state_dir(const char *bridge, char *buf, size_t len);
int state_path(const char *bridge, const char *file, char *buf, size_t len);
int lib_path(const char *bridge, const char *file, char *buf, size_t len);
int lib_dir_make(const char *bridge);
int sysctl_read_int(const char *path);
int sysctl_write_int(const char *path, int val);
pid_t pidfile_read(const char *path);
bool pid_alive(pid_t pid, const char *comm);
pid_t state_pid(const char *bridge, const char *file, const char *comm);
void proc_stop(pid_t pid, const char *comm, int tries);
int mkdir_p(const char *path, mode_t mode);
int valid_ifname(const char *name);
int write_file_atomic(const char *path, const char *data, mode_t mode);
int write_file_atomic_gid(const char *path, const char *data, mode_t mode, gid_t gid);
int state_dir_make(const char *bridge);
void state_ns_reclaim(void);
void state_ns_release(void);
void state_remove(const char *bridge);
uint64_t monotonic_ns(void);
const char *build_id(void);
const char *timeout_name(int i);
int timeout_lookup(const char *name);
uint32_t timeout_default(int i);

/* state.c: the settings and ownership persisted under /run/qnat-bpf */
size_t settings_write(const struct settings *s, char *buf, size_t len);
int state_save(const struct settings *s, const struct owned *o);
int state_load(const char *bridge, struct settings *s, struct owned *o);
int state_text(const struct settings *s, const struct owned *o, char *buf, size_t len);
int state_parse(FILE *f, struct settings *s, struct owned *o);

/* options.c: attach's settings, one table entry each (options.h has the table) */
void settings_defaults(struct settings *s);
void settings_describe(const struct settings *s, char *buf, size_t len);
void settings_diff(const struct settings *running, const struct settings *asked, char *buf, size_t len);
bool settings_equal(const struct settings *a, const struct settings *b);
const char *xdp_mode_name(enum xdp_mode m);
const char *ct_full_name(enum ct_full_policy p);
const char *net_mode_name(enum net_mode m);

/* nl.c: links, addresses, routes and events through libnl-route-3 */
struct nl_sock;
int nl_open(struct nl_sock **sk);
int nl_ifindex(struct nl_sock *sk, const char *name);
int nl_ifname(struct nl_sock *sk, int ifindex, char *name);
int nl_link_kind(struct nl_sock *sk, int ifindex, char *kind, size_t len);
int nl_link_master(struct nl_sock *sk, int ifindex);
int nl_veth_peer_xdp(struct nl_sock *sk, int ifindex);
int nl_link_mac(struct nl_sock *sk, int ifindex, uint8_t mac[6]);
int nl_link_mtu(struct nl_sock *sk, int ifindex);
int nl_link_set_mtu(struct nl_sock *sk, int ifindex, int mtu);
int link_tx_csum(const char *ifname, int on); /* on: 0/1, or -1 to only read */
int nl_bridge_create(struct nl_sock *sk, const char *name);
int nl_link_delete(struct nl_sock *sk, int ifindex);
int nl_link_set_up(struct nl_sock *sk, int ifindex, bool up);
int nl_addr_has(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned int prefix);
int nl_addr_add(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned int prefix);
int nl_addr_del(struct nl_sock *sk, int ifindex, struct in_addr a, unsigned int prefix);
int nl_addr_first(struct nl_sock *sk, int ifindex, struct in_addr *a);
int nl_addr6_change(struct nl_sock *sk, int ifindex, const struct in6_addr *a, bool add);
int nl_addr6_find(struct nl_sock *sk, int ifindex, const struct in6_addr *want, struct in6_addr *out);
int nl_default_route_dev(struct nl_sock *sk);
int default_route_moved(struct nl_sock *sk, const struct settings *s, int uplink, char *msg, size_t len);
int nl_route_overlaps(struct nl_sock *sk, struct in_addr net, unsigned int prefix, int except_ifindex);
int nl_route6_overlaps(struct nl_sock *sk, const struct in6_addr *net, unsigned int prefix, int except_ifindex);
int nl_default6_static(struct nl_sock *sk, int ifindex);
int nl_link_set_master(struct nl_sock *sk, int ifindex, int master);
int nl_link_set_mac(struct nl_sock *sk, int ifindex, const uint8_t mac[6]);
int nl_default_gw(struct nl_sock *sk, int ifindex, struct in_addr *gw);
int nl_default_route_set(struct nl_sock *sk, int ifindex, struct in_addr gw);
int nl_addrs(struct nl_sock *sk, int ifindex, struct in_addr *a, unsigned int *prefix, int cap);
int nl_neigh_mac(struct nl_sock *sk, int ifindex, struct in_addr addr, uint8_t mac[6]);
typedef void (*port_cb)(int ifindex, void *arg);
int nl_bridge_ports(struct nl_sock *sk, int bridge_ifindex, port_cb cb, void *arg);

/* dataplane.c: the BPF object, its maps and where its programs hang */
struct qnat;
struct dataplane {
	struct qnat *skel;
	int config_fd, ct_fd, ct_rev_fd, stats_fd, ports_fd, devmap_fd, fwd_fd, guests_fd, fdb_fd, host_allow_fd,
		host_flow_fd;
	int frags_fd, stash_fd, frag_ev_fd; /* fragments that came before their first (frag.c) */
	int ip6_bind_fd;		     /* port security's IPv6 sources */
	int ct_ev_fd;			     /* flows' first packets, for ct events */
	int ct6_fd, ct6_rev_fd;		     /* NAT66 flows */
	int fwd6_fd;			     /* --masq6 port forwards */
	bool reused; /* maps adopted from a running data plane */
	bool joined; /* ... of other networks on the uplink: this one is new there */
	int net;     /* our slot in qnat_config (networks sharing the uplink) */
	uint32_t subnet, netmask; /* our subnet: of the shared tables, the flows and guests that are ours */
	bool ip6;		  /* --masq6 or --route6: ... and of prefix6, the IPv6 ones */
	uint32_t prefix6[2];
};
const char *dp_home(const struct settings *s);
int dp_load(struct dataplane *dp, const struct settings *s, int home_ifindex, int bridge_ifindex);
int dp_open_home(struct dataplane *dp, int home_ifindex, int bridge_ifindex, uint32_t subnet);
int dp_open_existing(struct dataplane *dp, const struct settings *s);
int dp_other_nets(struct dataplane *dp, char *names, size_t len);
void dp_clear_net(struct dataplane *dp);
bool dp_shareable(struct dataplane *dp);
bool dp_owns(const struct dataplane *dp, uint32_t addr);
bool dp_owns6(const struct dataplane *dp, const uint32_t addr[4]);
bool dp_port_ours(const struct dataplane *dp, uint32_t ifindex, struct qnat_port *port);
void dp_close(struct dataplane *dp);
int dp_write_config(struct dataplane *dp, const struct settings *s, int uplink_ifindex, int bridge_ifindex,
		    struct in_addr ext, const struct in6_addr *ext6, const uint8_t bridge_mac[6]);
int dp_set_ext_addr(struct dataplane *dp, struct in_addr ext, const struct in6_addr *ext6);
int dp_attach_uplink(struct dataplane *dp, struct nl_sock *sk, int ifindex, enum xdp_mode mode, struct owned *o);
void dp_detach_uplink(int ifindex, const struct owned *o);
int dp_attach_uplink_xdp(struct dataplane *dp, struct nl_sock *sk, int ifindex, enum xdp_mode mode, struct owned *o);
void dp_detach_uplink_xdp(int ifindex, const struct owned *o);
enum xdp_mode dp_uplink_xdp_now(int ifindex, struct owned *o);
int dp_attach_port(struct dataplane *dp, struct nl_sock *sk, int ifindex, enum xdp_mode xdp);
void dp_uplink_xmit(struct dataplane *dp, struct nl_sock *sk, int ifindex);
void dp_forget_port(struct dataplane *dp, int ifindex, bool detach);
void dp_mark_uplink_port(struct dataplane *dp, int ifindex);
int dp_attach_bridge(struct dataplane *dp, int ifindex, struct owned *o);
void dp_detach_bridge(int ifindex, const struct owned *o);
int dp_uplink_prog_ids(int ifindex, uint32_t ids[3]);
int dp_attach_cgroup(struct dataplane *dp);
void dp_read_counters(struct dataplane *dp, struct qnat_counter_val out[QNAT_C_MAX]);
void dp_count(struct dataplane *dp, uint32_t counter, uint64_t packets);
const char *counter_name(int i);
const char *counter_help(int i);
void dp_detach_cgroup(struct dataplane *dp);
void dp_detach_cgroup_id(uint32_t cfg_id);
uint32_t dp_config_id(struct dataplane *dp);

/* ct.c */
struct expiry_result {
	uint32_t live, expired, evicted; /* flows of both tables */
	uint32_t live6;			 /* of the live, the IPv6 ones */
	uint32_t orphans;		 /* reverse entries swept whose flow was gone */
};
int ct_expire(struct dataplane *dp, const struct settings *s, uint64_t now_ns, struct expiry_result *res);
struct guest_total {
	uint32_t addr, flows;
	uint64_t packets[QNAT_DIR_MAX], bytes[QNAT_DIR_MAX];
};
int guest_totals(struct dataplane *dp, struct guest_total **out); /* count; free(*out) */
int ct_count(struct dataplane *dp, uint32_t *ipv6); /* both tables; *ipv6 (may be NULL): of them, IPv6 */
void net_forget(struct dataplane *dp);
uint32_t ct_timeout_of(const struct qnat_ct_entry *e, uint8_t proto, const uint32_t timeouts[QNAT_TO_MAX]);
const char *ct_state_name(uint8_t state);
struct json;

/* dnsmasq.c */
int dnsmasq_conf_text(const struct settings *s, const char *dir, char *buf, size_t len);
int dnsmasq_write_config(const struct settings *s);
pid_t dnsmasq_start(const struct settings *s);
void dnsmasq_stop(const char *bridge);
void dnsmasq_stop_child(const char *bridge, pid_t pid);
int dnsmasq_lease_count(const char *bridge);
gid_t dnsmasq_gid(void);

/* forward.c: port forwards */
struct fwd_rule {
	uint8_t proto;
	bool v6;		  /* --masq6: host6 and guest6, not host_addr and guest */
	struct in_addr host_addr; /* 0: every address of the uplink */
	uint16_t first, last;	  /* host ports */
	struct in_addr guest;
	uint16_t guest_first;
	struct in6_addr host6, guest6;
};
int fwd_rule_parse_compact(const char *s, struct fwd_rule *r);
int fwd_rule_add(struct dataplane *dp, const struct settings *s, const struct fwd_rule *r, bool force, bool idempotent);
void fwd_print(struct json *j, struct dataplane *dp, const char *heading);
int cmd_forward(int argc, char **argv);

/* firewall.c: would the host's nftables, iptables-nft or iptables-legacy rules drop this packet? */
struct fw_packet {
	const char *iif, *oif; /* oif "": none (to the host itself) */
	const char *proto, *dport; /* "": any */
};
typedef void (*fw_drop_cb)(const char *family, const char *table, const char *chain, const char *why, void *arg);
struct fw;
struct fw *fw_load(void); /* the host's rulesets, read once; NULL: no nft */
struct fw *fw_parse(FILE *rules);
int fw_judge(struct fw *fw, const char *hook, const struct fw_packet *pkt, fw_drop_cb cb, void *arg); /* drops */
void fw_release(struct fw *fw);

/* metrics.c */
struct sockaddr_in;
int metrics_parse(const char *s, struct sockaddr_in *sa);
int metrics_listen(const struct sockaddr_in *sa);
struct expiry_result;
void metrics_serve(int lfd, const struct settings *s, struct dataplane *dp, const struct expiry_result *ct,
		   bool dnsmasq_up);

/* What an attach declares besides its settings: forwards and static DHCP
 * hosts (applied idempotently on every attach and on reload), and where
 * it was read from. */
#define ATTACH_FORWARDS_MAX 64
#define ATTACH_HOSTS_MAX 256
struct static_host {
	char mac[18];
	char ip[16];
	char name[64];
};
struct extras {
	struct fwd_rule fwd[ATTACH_FORWARDS_MAX];
	int nfwd;
	struct static_host host[ATTACH_HOSTS_MAX];
	int nhost;
	char config[PATH_MAX]; /* --config FILE, or empty */
	bool foreground;
	bool dry_run;
	char libvirt_xml[PATH_MAX]; /* --libvirt-xml FILE ("-": stdin), or empty */
	int verbose;
};
/* attach_args.c: attach's command line and config file, checked */
int attach_args(int argc, char **argv, struct settings *s, struct extras *x);
int config_load(const char *bridge, const char *path, struct settings *s, struct extras *x);
int extras_apply(struct dataplane *dp, const struct settings *s, const struct extras *x);
int fwd_rule_del(struct dataplane *dp, const struct fwd_rule *r);
void fwd_forget_net(struct dataplane *dp);

/* dhcp.c */
int dhcp_host_check(const struct settings *s, const struct static_host *h);
int dhcp_host_line(const struct static_host *h, char *buf, size_t len);
bool valid_hostname(const char *s);
int dhcp_host_set(const struct settings *s, const struct static_host *h);
int dhcp_host_del(const struct settings *s, const char *mac);
int dhcp_hosts_print(struct json *j, const struct settings *s, const char *key, const char *indent); /* how many */
int dnsmasq_reload(const char *bridge);
int dhcp_ip_of(const struct settings *s, const uint8_t mac[6], struct in_addr *ip);

/* frag.c: inbound fragments that came before their first, sent on to the guest */
struct frag_out;
struct frag_out *frag_out_open(struct dataplane *dp, struct nl_sock *sk, int bridge_ifindex);
void frag_out_close(struct frag_out *fo);
int frag_out_fd(struct frag_out *fo); /* readable: the data plane has datagrams to send on */
void frag_out_events(struct frag_out *fo);
void frag_out_sweep(struct frag_out *fo, uint64_t now_ns);

/* supervisor.c */
struct sup;
struct sup *supervisor_start(const struct settings *s, struct extras *x, struct dataplane *dp, int bridge_ifindex,
			     int uplink_ifindex, int *err);
void supervisor_run(struct sup *p);
void supervisor_end(struct sup *p);
int supervise(const struct settings *s, struct extras *x, struct dataplane *dp, int bridge_ifindex,
	      int uplink_ifindex, int ready_fd);

/* commands */
int cmd_attach(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_status(int argc, char **argv);
int cmd_ct(int argc, char **argv);
int cmd_stats(int argc, char **argv);
int cmd_dhcp(int argc, char **argv);
int cmd_doctor(int argc, char **argv);
int cmd_fdb(int argc, char **argv);

/* portsec.c: port security's bindings (the IPv4 lease, IPv6 sources) */
void port_bindings_sync(struct dataplane *dp, const struct settings *s, uint64_t now_ns);
void port_bindings_release(struct dataplane *dp, uint64_t now_ns);

/* fdb.c: the bridge's learned MACs */
void fdb_expire(struct dataplane *dp, uint32_t ageing_secs, uint64_t now_ns);
void fdb_flush_port(struct dataplane *dp, uint32_t ifindex);

/* status.c: what the listings share */
int bridges_each(void (*fn)(const char *bridge, void *arg), void *arg);
const char *only_bridge(void);
int parse_listing_args(int argc, char **argv, const char **bridge, bool *json, bool bridge_required);
int bridge_open(const char *bridge, struct settings *s, struct owned *o, struct dataplane *dp, struct json *j);

#endif /* QNAT_H */
