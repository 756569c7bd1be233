/* SPDX-License-Identifier: GPL-2.0 */
/*
 * A frame as the shared port logic sees it, whichever hook it came by: TC
 * (an skb) or XDP (an xdp_md).  Helpers that need more than this stay in
 * the entry points.
 */
#ifndef QNAT_FRAME_H
#define QNAT_FRAME_H

#include <linux/types.h>

struct frame {
	void *data;
	void *data_end;
	__u32 ifindex; /* the port it came in by */
	__u32 vlan;    /* TC: a tag the driver stripped into the skb */
};

#endif /* QNAT_FRAME_H */
