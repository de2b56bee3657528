// SPDX-License-Identifier: Apache-2.0
#include "flow_maps.h"

#include <errno.h>
#include <stdio.h>
#include <sys/stat.h>

#include "bpffs.h"

#define FLOWS(name) { name, BPF_MAP_TYPE_HASH, "hash",			\
		      sizeof(struct flow_key), sizeof(struct flow_value),	\
		      0, "struct flow_key / struct flow_value" }

const struct flow_map_spec flow_maps[FM_NR] = {
	[FM_FLOWS0] = FLOWS(FLOW_MAP_FLOWS_0),
	[FM_FLOWS1] = FLOWS(FLOW_MAP_FLOWS_1),
	[FM_CTL] = { FLOW_MAP_CTL, BPF_MAP_TYPE_ARRAY, "array",
		     sizeof(__u32), sizeof(struct flow_ctl), 1,
		     "__u32 / struct flow_ctl" },
	[FM_IFSTATS] = { FLOW_MAP_IFSTATS, BPF_MAP_TYPE_HASH, "hash",
			 sizeof(struct flow_ifstats_key),
			 sizeof(struct flow_ifstats_value), FLOW_IFSTATS_MAX,
			 "struct flow_ifstats_key / struct flow_ifstats_value" },
	[FM_COUNTERS] = { FLOW_MAP_COUNTERS, BPF_MAP_TYPE_PERCPU_ARRAY,
			  "percpu_array", sizeof(__u32),
			  sizeof(struct flow_counters), 1,
			  "__u32 / struct flow_counters" },
	[FM_EVENTS] = { FLOW_MAP_EVENTS, BPF_MAP_TYPE_RINGBUF, "ringbuf",
			0, 0, FLOW_EVENTS_RING_SIZE, "ring buffer" },
};

int flow_map_check(enum flow_map_idx i, const struct bpf_map_info *info,
		   uint32_t max_flows, char *msg, size_t size)
{
	const struct flow_map_spec *s = &flow_maps[i];
	uint32_t max = s->max_entries ? s->max_entries : max_flows;
	char want_max[32] = "";

	if (info->type == s->type && info->key_size == s->key_size &&
	    info->value_size == s->value_size &&
	    (!max || info->max_entries == max))
		return 0;
	if (max)
		snprintf(want_max, sizeof(want_max), ", max entries %u", max);
	if (msg)
		snprintf(msg, size,
			 "key size %u, value size %u, type %u, max entries %u; flow_abi.h v%d expects key size %u, value size %u, type %u (%s)%s (%s): pins of another flowctl version?",
			 info->key_size, info->value_size, info->type,
			 info->max_entries, FLOW_ABI_VERSION, s->key_size,
			 s->value_size, s->type, s->type_name, want_max,
			 s->layout);
	return -EPROTO;
}

int flow_maps_pin(const char *pin_root, const char *netns, uint32_t max_flows,
		  int fd[FM_NR])
{
	char path[512];
	int i, err;

	for (i = 0; i < FM_NR; i++)
		fd[i] = -1;
	snprintf(path, sizeof(path), "%s/%s/%s", pin_root, netns,
		 FLOW_PIN_GLOBALS);
	err = bpffs_mkdir_p(path, 0700);
	if (err)
		return err;
	for (i = 0; i < FM_NR; i++) {
		const struct flow_map_spec *s = &flow_maps[i];

		fd[i] = bpf_map_create(s->type, s->name, s->key_size,
				       s->value_size,
				       s->max_entries ?: max_flows, NULL);
		if (fd[i] < 0)
			return fd[i];
		snprintf(path, sizeof(path), "%s/%s/%s/%s", pin_root, netns,
			 FLOW_PIN_GLOBALS, s->name);
		if (bpf_obj_pin(fd[i], path))
			return -errno;
	}
	return 0;
}
