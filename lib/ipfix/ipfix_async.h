/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IPFIX exporter behind a worker thread: the agent's loop hands over
 * copies of the expired records and goes on draining the kernel maps while
 * the worker encodes and sends them, so that a scan's export overlaps the
 * next scan's drain.  Every call on the exporter, from the worker or from
 * the loop (tick, metering, stats, flush), holds one mutex: the exporter
 * itself stays single-threaded.
 *
 * The queue is bounded (max_records); a batch that does not fit is not
 * queued and its records count as not sent (dropped_records), never lost
 * silently.
 */
#ifndef FLOWCTL_IPFIX_ASYNC_H
#define FLOWCTL_IPFIX_ASYNC_H

#include <stddef.h>
#include <stdint.h>

#include "flow_record.h"
#include "ipfix_export.h"

#define IPFIX_ASYNC_MAX_RECORDS	(1U << 20)

struct ipfix_async;

/* Take over EX (destroyed with the wrapper).  0 or -errno. */
int ipfix_async_create(struct ipfix_exporter *ex, size_t max_records,
		       struct ipfix_async **out);
/* Wait for the queue, flush (ipfix_exporter_flush), stop, destroy. */
void ipfix_async_destroy(struct ipfix_async *a, int flush_timeout_ms);

/* Queue a copy of N records; returns at once.  -ENOBUFS: dropped. */
int ipfix_async_export(struct ipfix_async *a, const struct flow_record *r,
		       size_t n);
/* Wait until every queued record has been handed to the exporter. */
void ipfix_async_wait(struct ipfix_async *a);
/* ipfix_async_wait, then ipfix_exporter_flush. */
int ipfix_async_flush(struct ipfix_async *a, int timeout_ms);

/* The exporter's calls, under the lock. */
void ipfix_async_tick(struct ipfix_async *a);
void ipfix_async_set_metering(struct ipfix_async *a, uint32_t obs_domain_id,
			      uint64_t ignored_packets,
			      uint64_t ignored_octets);
size_t ipfix_async_n_collectors(struct ipfix_async *a);
void ipfix_async_stats(struct ipfix_async *a, size_t i,
		       struct ipfix_collector_stats *st);
int ipfix_async_fd(struct ipfix_async *a);
/* Records refused because the queue was full (they are not sent). */
uint64_t ipfix_async_dropped(struct ipfix_async *a);

#endif
