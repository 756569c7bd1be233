// SPDX-License-Identifier: GPL-2.0
/* qnat-bpf: iproute2-style dispatch, `qnat-bpf OBJECT [VERB] ...`. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "qnat.h"

static int cmd_help(int argc, char **argv);

static const struct cmd {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *synopsis;
} cmds[] = {
	{ "attach", cmd_attach, "attach BRIDGE --masq CIDR [--uplink IFNAME] [--gateway IP] [--dhcp-range S,E | --no-dhcp] ..." },
	{ "detach", cmd_detach, "detach BRIDGE" },
	{ "status", cmd_status, "status [BRIDGE] [-s] [--json]" },
	{ "ct", cmd_ct, "ct { show | list | count | del | flush | events } [BRIDGE] [FILTERS] [--json] (qnat-bpf ct help)" },
	{ "forward", cmd_forward, "forward { add | del | list } BRIDGE ... (qnat-bpf forward help)" },
	{ "dhcp", cmd_dhcp, "dhcp { host { add | del | list } | leases } BRIDGE ... (qnat-bpf dhcp help)" },
	{ "fdb", cmd_fdb, "fdb [show] BRIDGE [--json]" },
	{ "stats", cmd_stats, "stats [BRIDGE] [--json]" },
	{ "doctor", cmd_doctor, "doctor BRIDGE [--json]" },
	{ "help", cmd_help, "help" },
};

static int cmd_help(int argc, char **argv)
{
	puts("Usage: qnat-bpf COMMAND ...\n"
	     "An eBPF/XDP data plane for a KVM host's NAT network: masquerade, conntrack, DHCP.\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		printf("  qnat-bpf %s\n", cmds[i].synopsis);
	puts("\nqnat-bpf COMMAND --help shows a command's options.");
	return 0;
}

int main(int argc, char **argv)
{
	log_init(0, 0);
	log_libbpf_setup(); /* libbpf's warnings with -v, its chatter with -vv */
	if (argc < 2)
		return cmd_help(argc, argv), 1;
	if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))
		return cmd_help(argc, argv);
	if (geteuid() == 0)
		state_ns_reclaim(); /* before anything reads this namespace's state */
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		/* Commands with options of their own explain them; the rest have one line. */
		if (argc == 3 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h")) &&
		    strcmp(argv[1], "attach") && strcmp(argv[1], "ct") && strcmp(argv[1], "forward") &&
		    strcmp(argv[1], "dhcp")) {
			printf("Usage: qnat-bpf %s\n", cmds[i].synopsis);
			return 0;
		}
		return cmds[i].fn(argc - 1, argv + 1);
	}
	log_warnx("unknown command %s (see qnat-bpf help)", argv[1]);
	return 1;
}
