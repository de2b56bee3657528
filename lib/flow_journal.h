/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's crash journal: the flows its cache holds that were drained
 * from the kernel and not yet exported, kept in a BPF hash map pinned
 * in <pin root>-journal/ (FLOW_JOURNAL_SUFFIX), so that they outlive the process (SIGKILL, OOM kill) and the next agent
 * exports them.  Key: (journal namespace id, flow_key), value: the flow's
 * unexported counters (struct flow_value).  A second pinned map gives the
 * namespace names of the ids.  Gone at reboot, exactly like the meter's
 * own maps.  See docs/flowcache.md ("Crash safety").
 *
 * Order of operations (the agent): drain and merge; forget the flows of
 * the records about to be emitted, then emit them; then write the flows
 * merged in this scan (flow_journal_sync).  So a crash can lose what was
 * drained in the scan in progress or handed to the outputs and not yet
 * sent, and never exports a record twice.
 */
#ifndef FLOWCTL_FLOW_JOURNAL_H
#define FLOWCTL_FLOW_JOURNAL_H

#include <stddef.h>
#include <stdint.h>

#include "flow_abi.h"
#include "flow_cache.h"

/*
 * <pin root>-journal/: beside the pin root, not in it, where the namespace
 * discovery and `meter status` would take it for a namespace (bpffs names
 * cannot hide behind a dot: they may not contain one).
 */
#define FLOW_JOURNAL_SUFFIX	"-journal"
#define FLOW_JOURNAL_MAP	"flows"
#define FLOW_JOURNAL_NS_MAP	"netns"
/* Flows the journal can hold (entries allocated as used, not up front). */
#define FLOW_JOURNAL_MAX_FLOWS	(1U << 20)
#define FLOW_JOURNAL_NS_MAX	4096
#define FLOW_JOURNAL_NAME_LEN	256

struct flow_journal_key {
	uint32_t ns;			/* id in the journal_ns map */
	uint32_t pad;
	struct flow_key key;
};

struct flow_journal;

/*
 * Open the journal under PIN_ROOT (the pin root itself, already chosen),
 * creating and pinning its maps when absent.  Call only under the agent
 * lock.  Returns 0 or -errno (said).
 */
int flow_journal_open(const char *pin_root, struct flow_journal **jp);
/* Close the maps; the pins stay (they are the point). */
void flow_journal_close(struct flow_journal *j);
/*
 * After a clean shutdown (everything exported): unpin the maps and close.
 * Returns 0 or -errno.
 */
int flow_journal_remove(struct flow_journal *j);

/*
 * Read back what a killed agent left and merge it into FC as journaled
 * flows (flow_cache_restore), at monotonic NOW_NS.  DOMAIN gives the
 * observation domain of a namespace name.  *FLOWS: flows read.
 */
int flow_journal_replay(struct flow_journal *j, struct flow_cache *fc,
			uint32_t (*domain)(void *ctx, const char *netns),
			void *ctx, uint64_t now_ns, uint64_t *flows);

/*
 * Write the flows of FC merged since the last sync (flow_cache_dirty_next).
 * Returns the number of flows written or -errno.
 */
long flow_journal_sync(struct flow_journal *j, struct flow_cache *fc);

/*
 * flow_cache_params.journal_forget for the agent: CTX is not the journal,
 * so the agent calls this from its own hook.  Deletes the N flows (DOMS:
 * cache domains of FC) from the journal.
 */
void flow_journal_forget(struct flow_journal *j, const struct flow_cache *fc,
			 const uint32_t *doms, const struct flow_key *keys,
			 size_t n);

struct flow_journal_stats {
	uint64_t written;		/* flow updates written */
	uint64_t forgotten;		/* flows deleted */
	uint64_t failed;		/* not written (journal full, errors) */
	uint64_t sync_ns;		/* time spent in sync and forget */
};

void flow_journal_get_stats(const struct flow_journal *j,
			    struct flow_journal_stats *st);

#endif
