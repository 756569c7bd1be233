/* SPDX-License-Identifier: GPL-2.0 */
/* Port forwards: which guest a host port leads to. */
#ifndef QNAT_FWD_H
#define QNAT_FWD_H

#include "config.h"
#include "parse.h"

/* The forward for addr:port, by that address or by "every uplink address". */
static __always_inline struct qnat_fwd *fwd_lookup(const struct qnat_config *cfg, __be32 addr, __be16 port,
						   __u8 proto)
{
	struct qnat_fwd_key k = { .addr = addr, .port = port, .proto = proto };
	struct qnat_fwd *f;

	if (!addr) /* 0 in the key means "every uplink address", never 0.0.0.0 */
		return 0;
	f = bpf_map_lookup_elem(&qnat_fwd, &k);

	if (f || addr != cfg->ext_addr)
		return f;
	k.addr = 0;
	return bpf_map_lookup_elem(&qnat_fwd, &k);
}

#endif /* QNAT_FWD_H */
