/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The BPF object: render templates/ebpflow.bpf.c with its knobs into one
 * self-contained source, hash it (digest), compile it once per digest with
 * clang into the cache directory, reuse it for every interface.
 */
#ifndef FLOWCTL_EBPF_BUILD_H
#define FLOWCTL_EBPF_BUILD_H

#include <stdbool.h>
#include <stddef.h>
#include "rundir.h"

#define EBPF_CACHE_DIR		FLOWCTL_RUN_DIR "/obj"
#define EBPF_DIGEST_LEN		64	/* hex SHA-256 */

/* Largest max_flows accepted (1 << 24), a plain number so the CLI's help
 * text can spell it (STRINGIFY). */
#define EBPF_MAX_FLOWS_LIMIT	16777216

struct ebpf_knobs {
	unsigned int max_flows;		/* per netns and buffer (-l) */
	bool ifstats;			/* per-packet totals in flow_ifstats
					 * (overflow is counted either way) */
	bool coarse_time;		/* bpf_ktime_get_coarse_ns (tick
					 * resolution, cheaper) */
	bool latency;			/* forwarding latency: ingress stamp,
					 * egress match (flow_stamp,
					 * flow_latency, per-flow sums) */
	bool no_prealloc;		/* flows_0/1 with BPF_F_NO_PREALLOC:
					 * memory follows the flows */
};

void ebpf_knobs_default(struct ebpf_knobs *k);

/*
 * Render the template with K: one C source in which the project's own
 * headers are inlined and the knobs are #defines.  *SRC is malloc'ed.
 * FLOWCTL_EBPF_TEMPLATE=FILE in the environment renders FILE instead of the
 * built-in template; -FLOWCTL_EREQUEST (error.h) when FILE cannot be one
 * (not a regular file, writable by group or others, over 1 MiB,
 * unreadable): the user must change it.  Otherwise 0 or -errno.
 */
int ebpf_render(const struct ebpf_knobs *k, char **src, size_t *len);

/* Digest of a rendered source and the compiler command that builds it. */
int ebpf_digest(const char *src, size_t len, char digest[EBPF_DIGEST_LEN + 1]);

/*
 * Render, digest and, unless CACHE_DIR/<digest>.bpf.o exists, compile.
 * OBJ receives the object path.  On a clang failure clang's own output and
 * the command line are printed and -EINVAL returned.
 */
int ebpf_build(const struct ebpf_knobs *k, const char *cache_dir,
	       char *obj, size_t obj_size,
	       char digest[EBPF_DIGEST_LEN + 1]);

/*
 * Compile SRC (any BPF C source) with the same clang command as ebpf_build,
 * cached under CACHE_DIR by its digest.  ebpf_build() is ebpf_render() +
 * this; tests and benchmarks use it for their own programs and variants.
 * DIGEST (may be NULL) is filled as soon as it is known, on failure too.
 */
int ebpf_compile_source(const char *src, size_t len, const char *cache_dir,
			char *obj, size_t obj_size,
			char digest[EBPF_DIGEST_LEN + 1]);

#endif
