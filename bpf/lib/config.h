/* SPDX-License-Identifier: GPL-2.0 */
/* The controller's settings as the programs see them, and address classes. */
#ifndef QNAT_CONFIG_H
#define QNAT_CONFIG_H

#include <bpf/bpf_endian.h>
#include "qnat_maps.bpf.h"

/* The network this object's programs on a bridge and its ports serve: its slot in qnat_config. */
const volatile __u32 qnat_net = 0;

/* The configuration of slot net, once a controller has written it. */
static __always_inline const struct qnat_config *config_slot(__u32 net)
{
	const struct qnat_config *cfg = bpf_map_lookup_elem(&qnat_config, &net);

#ifdef QNAT_BUILD_TAG
	/* make QNAT_DEFS=-DQNAT_BUILD_TAG=N: every program differs (another
	 * tag), the maps do not; test_upgrade.sh upgrades to such a build. */
#define QNAT_STR_(x) #x
#define QNAT_STR(x) QNAT_STR_(x)
	asm volatile("r0 = " QNAT_STR(QNAT_BUILD_TAG) ::: "r0");
#endif
	return cfg && cfg->abi_version ? cfg : 0;
}

/* This network's configuration, once the controller has written it. */
static __always_inline const struct qnat_config *config_raw(void)
{
	return config_slot(qnat_net);
}

static __always_inline int in_subnet(const struct qnat_config *cfg, __be32 addr)
{
	return (addr & cfg->netmask) == cfg->subnet;
}

/* The uplink's programs serve every network on it: their settings of the
 * uplink itself (address, MAC, flags) come from the first network's slot. */
static __always_inline const struct qnat_config *config_uplink(void)
{
	const struct qnat_config *cfg;

	for (__u32 i = 0; i < QNAT_NETS_MAX; i++)
		if ((cfg = config_slot(i)))
			return cfg;
	return 0;
}

/* The uplink's settings for translating: none without an uplink address. */
static __always_inline const struct qnat_config *config_get(void)
{
	const struct qnat_config *cfg = config_uplink();

	return cfg && cfg->ext_addr ? cfg : 0;
}

/* The network whose subnet holds addr, if any network on this uplink's does. */
static __always_inline const struct qnat_config *config_of(__be32 addr)
{
	const struct qnat_config *cfg;

	for (__u32 i = 0; i < QNAT_NETS_MAX; i++)
		if ((cfg = config_slot(i)) && cfg->subnet && in_subnet(cfg, addr))
			return cfg;
	return 0;
}

/* The networks of two addresses in one walk of the slots (the uplink's ingress asks for both). */
static __always_inline void config_of_either(__be32 a, __be32 b, const struct qnat_config **na,
					     const struct qnat_config **nb)
{
	const struct qnat_config *cfg;

	*na = *nb = 0;
	for (__u32 i = 0; i < QNAT_NETS_MAX; i++) {
		if (!(cfg = config_slot(i)) || !cfg->subnet)
			continue;
		if (in_subnet(cfg, a))
			*na = cfg;
		if (in_subnet(cfg, b))
			*nb = cfg;
	}
}

/* IPv6 address kinds, for every program: multicast (ff00::/8), link-local (fe80::/10), unspecified. */
static __always_inline int is_mcast6(const __be32 a[4])
{
	return (a[0] & bpf_htonl(0xff000000)) == bpf_htonl(0xff000000);
}

static __always_inline int is_linklocal6(const __be32 a[4])
{
	return (a[0] & bpf_htonl(0xffc00000)) == bpf_htonl(0xfe800000);
}

static __always_inline int is_unspec6(const __be32 a[4])
{
	return !(a[0] | a[1] | a[2] | a[3]);
}

/* Is addr in the network's IPv6 /64 (--masq6 or --route6)? */
static __always_inline int in_prefix6(const struct qnat_config *cfg, const __be32 addr[4])
{
	return (cfg->flags & (QNAT_CFG_MASQ6 | QNAT_CFG_ROUTE6)) && addr[0] == cfg->prefix6[0] &&
	       addr[1] == cfg->prefix6[1];
}

/* The network whose IPv6 /64 holds addr, if any network on this uplink's does. */
static __always_inline const struct qnat_config *config_of6(const __be32 addr[4])
{
	const struct qnat_config *cfg;

	for (__u32 i = 0; i < QNAT_NETS_MAX; i++)
		if ((cfg = config_slot(i)) && in_prefix6(cfg, addr))
			return cfg;
	return 0;
}

/* libvirt never masquerades these: multicast and the limited broadcast. */
static __always_inline int is_mcast_or_bcast(__be32 addr)
{
	return (addr & bpf_htonl(0xf0000000)) == bpf_htonl(0xe0000000) ||
	       addr == bpf_htonl(0xffffffff);
}

#endif /* QNAT_CONFIG_H */
