/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The pinned maps of a namespace's meter as one table next to
 * ebpflow/flow_abi.h: name, type, key and value size, max entries.  The
 * flow table checks the pins it opens against it, the meter checks the
 * pins it would reuse against it, the tests and benchmarks make their
 * maps from it.  One wording for a map that does not fit.
 */
#ifndef FLOWCTL_FLOW_MAPS_H
#define FLOWCTL_FLOW_MAPS_H

#include <stddef.h>
#include <stdint.h>

#include <bpf/bpf.h>

#include "flow_abi.h"

/* Index into flow_maps[]: the maps every meter pins, in this order. */
enum flow_map_idx {
	FM_FLOWS0,
	FM_FLOWS1,
	FM_CTL,
	FM_IFSTATS,
	FM_COUNTERS,
	FM_EVENTS,
	FM_NR,
};

struct flow_map_spec {
	const char *name;		/* FLOW_MAP_* */
	enum bpf_map_type type;
	const char *type_name;
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;		/* 0: the flow limit (meter -l) */
	const char *layout;		/* what flow_abi.h calls the layout */
};

extern const struct flow_map_spec flow_maps[FM_NR];

/*
 * Does the map described by INFO fit flow_maps[I]?  MAX_FLOWS: the flow
 * limit the flow buffers must have (0: any).  0 when it does, else
 * -EPROTO and, when MSG is not NULL, what differs (without the map's name
 * or path, which the caller puts in front) in MSG.
 */
int flow_map_check(enum flow_map_idx i, const struct bpf_map_info *info,
		   uint32_t max_flows, char *msg, size_t size);

/*
 * Create the maps of flow_maps[] (flow buffers of MAX_FLOWS entries) and
 * pin them under PIN_ROOT/NETNS/FLOW_PIN_GLOBALS as a meter would (for
 * tests and benchmarks: the meter itself gets its maps from the object).
 * FD receives the map fds.  0 or -errno; on error the fds made so far
 * stay open (-1 for the rest).
 */
int flow_maps_pin(const char *pin_root, const char *netns, uint32_t max_flows,
		  int fd[FM_NR]);

#endif
