/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's crash journal: the flows its cache holds that were drained
 * from the kernel and not yet exported, kept in BPF maps of its own
 * pinned in <pin root>-journal/ (FLOW_JOURNAL_SUFFIX), so that they
 * outlive the process (SIGKILL, OOM kill) and the next agent exports them.  One 128-byte slot per cache entry, at the entry's index,
 * in a BPF array mapped into the agent (BPF_F_MMAPABLE): writing a flow is
 * a memory copy, no system call.  A second pinned map (hash) gives the
 * namespace names of the ids.  Gone at reboot, exactly like the meter's
 * own maps.  See docs/flowcache.md ("Crash safety").
 *
 * Order of operations (the agent): read the idle buffers without deleting
 * and merge; write the flows merged (flow_journal_sync) and note the ids
 * of the buffers read (flow_journal_pending); empty those buffers; clear
 * the ids; then forget the flows of the records about to be emitted and
 * emit them.  So a kill at any point loses nothing the kernel counted and
 * exports no record twice; what is lost is what was handed to the outputs
 * and not yet sent (a UDP datagram in flight, a hook not yet run).
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
/* ids of flow buffers read into the journal, not yet emptied */
#define FLOW_JOURNAL_PENDING_MAP	"pending"
#define FLOW_JOURNAL_NS_MAX	4096
#define FLOW_JOURNAL_NAME_LEN	256
/* Slots are added in steps of this many (the cache's chunk of entries). */
#define FLOW_JOURNAL_STEP	65536

/*
 * One slot per cache entry (same index), in a BPF_F_MMAPABLE array the
 * agent writes with plain stores.  STATE: 0 free; odd: being written (a
 * kill landed in the middle: the slot is not read back); even: valid.
 */
struct flow_journal_slot {
	uint32_t state;
	uint32_t ns;			/* id in the netns map */
	struct flow_key key;
	struct flow_value val;		/* unexported counters */
	uint8_t pad[8];
};

_Static_assert(sizeof(struct flow_journal_slot) == 128, "journal slot");

struct flow_journal;

/*
 * Open the journal beside PIN_ROOT (the pin root itself, already chosen)
 * and read back into FC what an agent killed before has left (its flows
 * are merged as drained segments, at monotonic NOW_NS; DOMAIN gives the
 * observation domain of a namespace name); *FLOWS: flows read back.  The
 * flows read back are written again at the first flow_journal_sync(),
 * which replaces the old journal at once.  Call only under the agent
 * lock, before the first drain.  Returns 0 or -errno (said).
 */
int flow_journal_open(const char *pin_root, struct flow_cache *fc,
		      uint32_t (*domain)(void *ctx, const char *netns),
		      void *ctx, uint64_t now_ns, uint64_t *flows,
		      struct flow_journal **jp);
/* Unmap and close; the pins stay (they are the point). */
void flow_journal_close(struct flow_journal *j);
/*
 * After a clean shutdown (everything exported): unpin the maps and close.
 * Returns 0 or -errno.
 */
int flow_journal_remove(struct flow_journal *j);

/*
 * Write the flows of FC merged since the last sync (flow_cache_dirty_next)
 * to their slots.  Returns the number of flows written or -errno.
 */
long flow_journal_sync(struct flow_journal *j, struct flow_cache *fc);

/*
 * Room for FLOWS cache entries now (the journal grows by itself as the
 * cache does; growing copies it and touches new memory, which is slow).
 */
int flow_journal_reserve(struct flow_journal *j, uint32_t flows);

/*
 * Deferred deletion (flow_drain_ops.persist): after flow_journal_sync,
 * note the N flow buffer ids IDS whose flows the journal now holds; the
 * next agent empties them instead of draining them again if this one is
 * killed before flow_journal_pending_clear (after they are emptied).
 */
void flow_journal_pending(struct flow_journal *j, const uint32_t *ids,
			  size_t n);
void flow_journal_pending_clear(struct flow_journal *j);

/* Free the slots of the N cache entries IDX (their records are emitted). */
void flow_journal_forget(struct flow_journal *j, const uint32_t *idx,
			 size_t n);

struct flow_journal_stats {
	uint64_t written;		/* flow updates written */
	uint64_t forgotten;		/* flows freed */
	uint64_t failed;		/* not written (no memory, errors) */
	uint64_t torn;			/* slots read back half written */
	uint64_t sync_ns;		/* time spent in sync and forget */
	uint64_t slots;			/* slots (128 bytes each) */
};

void flow_journal_get_stats(const struct flow_journal *j,
			    struct flow_journal_stats *st);

#endif
