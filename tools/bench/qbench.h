/* SPDX-License-Identifier: GPL-2.0 */
/* qbench: the benchmark's helper binary.  One file per group of commands. */
#ifndef QBENCH_H
#define QBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

#include "bench.h"

/* qbench.c: small shared helpers; all return negative errno on failure */
void warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int netns_enter(const char *name);
int ifindex_of(const char *dev);
int parse_mac(const char *s, uint8_t mac[6]);
int parse_ip(const char *s, uint32_t *be);
int parse_num(const char *s, uint64_t *v);
int pin_cpu(int cpu);
double now_s(void);
uint64_t mono_ns(void);
int xdp_attach_native(int ifindex, int prog_fd);
int xdp_detach(int ifindex);
int prog_map_fd(uint32_t prog_id, const char *map_name);
int qnat_uplink_prog(int uplink_ifindex, uint32_t *prog_id);
int map_memlock(int map_fd, uint64_t *memlock);

/* gen.c: what the generators share (frames, the sink's count, CPU time) */
struct frame_spec {
	uint8_t smac[6], dmac[6];
	uint32_t saddr, daddr; /* network order */
	uint16_t sport, dport; /* host order */
};
void frame_build(const struct frame_spec *f, uint8_t frame[GEN_FRAME_LEN]);
/* The options both generators take (qbench run, tapgen): getopt values */
enum {
	O_SINK_NS = 256, O_SINK_DEV, O_SMAC, O_DMAC, O_SADDR, O_DADDR, O_SPORT, O_DPORT, O_SPAN, O_FLOWS,
	O_PREFILL, O_PACKETS, O_SECS, O_CPU,
	O_GEN_OWN /* the first of a generator's own */
};
#define GEN_OPTIONS                                                                                           \
	{ "sink-ns", required_argument, NULL, O_SINK_NS }, { "sink-dev", required_argument, NULL, O_SINK_DEV }, \
	{ "smac", required_argument, NULL, O_SMAC },	   { "dmac", required_argument, NULL, O_DMAC },         \
	{ "saddr", required_argument, NULL, O_SADDR },	   { "daddr", required_argument, NULL, O_DADDR },       \
	{ "sport", required_argument, NULL, O_SPORT },	   { "dport", required_argument, NULL, O_DPORT },       \
	{ "span", required_argument, NULL, O_SPAN },	   { "flows", required_argument, NULL, O_FLOWS },       \
	{ "prefill", required_argument, NULL, O_PREFILL }, { "packets", required_argument, NULL, O_PACKETS },   \
	{ "secs", required_argument, NULL, O_SECS },	   { "cpu", required_argument, NULL, O_CPU }
int sink_open(const char *dev);
int sink_read(int fd, uint64_t *total);
int ksoftirqd_pid(int cpu);
uint64_t task_cpu_ns(int pid);
uint64_t thread_cpu_ns(void);

/* commands */
int cmd_sink(int argc, char **argv);
int cmd_fwd(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_tapgen(int argc, char **argv);
int cmd_qnatmaps(int argc, char **argv);
int cmd_ctfill(int argc, char **argv);
int cmd_cpuwatch(int argc, char **argv);
int cmd_expirycost(int argc, char **argv);
int cmd_crr_server(int argc, char **argv);
int cmd_crr_client(int argc, char **argv);
int cmd_progcost(int argc, char **argv);

#endif /* QBENCH_H */
