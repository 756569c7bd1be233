/* SPDX-License-Identifier: GPL-2.0 */
/* qbench: the benchmark's helper binary.  One file per group of commands. */
#ifndef QBENCH_H
#define QBENCH_H

#include <stdbool.h>
#include <stdint.h>
#include <netinet/in.h>

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

/* commands */
int cmd_sink(int argc, char **argv);
int cmd_fwd(int argc, char **argv);
int cmd_detach(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_xdpport(int argc, char **argv);
int cmd_qnatmaps(int argc, char **argv);
int cmd_ctfill(int argc, char **argv);
int cmd_cpuwatch(int argc, char **argv);
int cmd_expirycost(int argc, char **argv);
int cmd_crr_server(int argc, char **argv);
int cmd_crr_client(int argc, char **argv);
int cmd_progcost(int argc, char **argv);

#endif /* QBENCH_H */
