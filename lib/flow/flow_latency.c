// SPDX-License-Identifier: Apache-2.0
#include "flow_latency.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "log.h"

int flow_latency_read(const char *pin_root, const char *netns,
		      flow_latency_fn fn, void *ctx)
{
	struct flow_latency_value *pc = NULL, sum;
	struct flow_latency_key key, *prev = NULL;
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd, ncpus, n = 0, err, c, b;

	if (snprintf(path, sizeof(path), "%s/%s/%s/%s", pin_root, netns,
		     FLOW_PIN_GLOBALS, FLOW_MAP_LATENCY) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0)
		return errno == ENOENT ? -ENOENT : -errno;
	err = bpf_obj_get_info_by_fd(fd, &info, &len);
	if (err) {
		err = -errno;
		goto out;
	}
	if (info.type != BPF_MAP_TYPE_PERCPU_HASH ||
	    info.key_size != sizeof(key) ||
	    info.value_size != sizeof(sum)) {
		pr_err("%s: type %u key size %u value size %u, this flowctl expects a per-CPU hash of %zu / %zu (struct flow_latency_key / value): re-attach the meter with --force",
		       path, info.type, info.key_size, info.value_size,
		       sizeof(key), sizeof(sum));
		err = -EPROTO;
		goto out;
	}
	ncpus = libbpf_num_possible_cpus();
	if (ncpus <= 0) {
		err = ncpus ? ncpus : -EINVAL;
		goto out;
	}
	pc = calloc(ncpus, sizeof(*pc));
	if (!pc) {
		err = -ENOMEM;
		goto out;
	}
	/* at most FLOW_IFSTATS_MAX pairs: one key at a time is enough */
	while (n < FLOW_IFSTATS_MAX && !bpf_map_get_next_key(fd, prev, &key)) {
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, pc))
			continue;	/* deleted meanwhile */
		memset(&sum, 0, sizeof(sum));
		for (c = 0; c < ncpus; c++) {
			sum.count += pc[c].count;
			sum.sum_ns += pc[c].sum_ns;
			for (b = 0; b < FLOW_LAT_BUCKETS; b++)
				sum.buckets[b] += pc[c].buckets[b];
		}
		fn(ctx, &key, &sum);
		n++;
	}
	err = n;
out:
	free(pc);
	close(fd);
	return err;
}
