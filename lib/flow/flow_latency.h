/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Forwarding latency totals of a namespace: the flow_latency map the
 * meter pins when it is attached with --latency (flow_abi.h), read without
 * changing it: per (ingress, egress) interface pair, the count, sum and
 * histogram buckets measured since the map was created, summed over the
 * CPUs.
 */
#ifndef FLOWCTL_FLOW_LATENCY_H
#define FLOWCTL_FLOW_LATENCY_H

#include "flow_abi.h"

typedef void (*flow_latency_fn)(void *ctx, const struct flow_latency_key *k,
				const struct flow_latency_value *total);

/*
 * Call FN for every pair in <PIN_ROOT>/<NETNS>/tc/globals/flow_latency.
 * Returns the number of pairs, -ENOENT when the namespace has no such map
 * (no meter with --latency), -EPROTO when its layout is not flow_abi.h's
 * (message printed), or -errno.
 */
int flow_latency_read(const char *pin_root, const char *netns,
		      flow_latency_fn fn, void *ctx);

#endif
