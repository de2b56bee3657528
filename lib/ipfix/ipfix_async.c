// SPDX-License-Identifier: Apache-2.0
/*
 * The IPFIX exporter behind a worker thread (see ipfix_async.h).
 */
#include "ipfix_async.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "strset.h"

struct batch {
	struct batch *next;
	size_t n;
	struct flow_record r[];
};

struct ipfix_async {
	struct ipfix_exporter *ex;
	pthread_mutex_t ex_lock;	/* every call on ex */

	pthread_mutex_t q_lock;
	pthread_cond_t q_wake;		/* work queued, or stop */
	pthread_cond_t q_idle;		/* the queue went empty */
	struct batch *head, *tail;
	size_t queued, max_records;
	bool busy, stop, started, dropping;
	uint64_t dropped;
	pthread_t worker;

	/*
	 * Namespace names, copied once: a record's netns points into the
	 * flow table, which may forget a namespace before the worker has
	 * encoded its last records.  Only the loop's thread touches these.
	 */
	struct strset names;
};

static void *worker_main(void *arg)
{
	struct ipfix_async *a = arg;
	struct batch *b;

	pthread_mutex_lock(&a->q_lock);
	for (;;) {
		while (!a->head && !a->stop)
			pthread_cond_wait(&a->q_wake, &a->q_lock);
		b = a->head;
		if (!b)
			break;		/* stopping and nothing left */
		a->head = b->next;
		if (!a->head)
			a->tail = NULL;
		a->busy = true;
		pthread_mutex_unlock(&a->q_lock);

		pthread_mutex_lock(&a->ex_lock);
		ipfix_exporter_export(a->ex, b->r, b->n);
		pthread_mutex_unlock(&a->ex_lock);

		pthread_mutex_lock(&a->q_lock);
		a->queued -= b->n;
		a->busy = false;
		if (!a->head)
			pthread_cond_broadcast(&a->q_idle);
		free(b);
	}
	pthread_mutex_unlock(&a->q_lock);
	return NULL;
}

int ipfix_async_create(struct ipfix_exporter *ex, size_t max_records,
		       struct ipfix_async **out)
{
	struct ipfix_async *a = calloc(1, sizeof(*a));
	sigset_t all, old;
	int err;

	*out = NULL;
	if (!a)
		return -ENOMEM;
	a->ex = ex;
	a->max_records = max_records ? max_records : IPFIX_ASYNC_MAX_RECORDS;
	pthread_mutex_init(&a->ex_lock, NULL);
	pthread_mutex_init(&a->q_lock, NULL);
	pthread_cond_init(&a->q_wake, NULL);
	pthread_cond_init(&a->q_idle, NULL);
	/* signals belong to the agent's loop (signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = -pthread_create(&a->worker, NULL, worker_main, a);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("cannot start the IPFIX export thread: %s",
		       strerror(-err));
		free(a);
		return err;
	}
	a->started = true;
	*out = a;
	return 0;
}

int ipfix_async_export(struct ipfix_async *a, const struct flow_record *r,
		       size_t n)
{
	struct batch *b;
	bool full, report = false, resumed = false;
	uint64_t dropped = 0;
	size_t i;

	if (!n)
		return 0;
	b = malloc(sizeof(*b) + n * sizeof(*r));
	if (!b) {
		pthread_mutex_lock(&a->q_lock);
		a->dropped += n;
		pthread_mutex_unlock(&a->q_lock);
		return -ENOMEM;
	}
	b->next = NULL;
	b->n = n;
	memcpy(b->r, r, n * sizeof(*r));
	for (i = 0; i < n; i++)
		if (i == 0 || r[i].netns != r[i - 1].netns)
			b->r[i].netns = strset_intern(&a->names, r[i].netns);
		else
			b->r[i].netns = b->r[i - 1].netns;

	pthread_mutex_lock(&a->q_lock);
	/* an idle worker always takes a batch, however large */
	full = (a->head || a->busy) && a->queued + n > a->max_records;
	if (full) {
		a->dropped += n;
		report = !a->dropping;
		a->dropping = true;
	} else {
		resumed = a->dropping;
		dropped = a->dropped;
		a->dropping = false;
		if (a->tail)
			a->tail->next = b;
		else
			a->head = b;
		a->tail = b;
		a->queued += n;
		pthread_cond_signal(&a->q_wake);
	}
	pthread_mutex_unlock(&a->q_lock);
	if (resumed)
		pr_warn("IPFIX export queue accepting again (%llu records dropped so far)",
			(unsigned long long)dropped);
	if (!full)
		return 0;
	if (report)
		pr_err("IPFIX export queue full (%zu records: collectors or the network too slow): dropping records, counted as not sent",
		       a->max_records);
	free(b);
	return -ENOBUFS;
}

void ipfix_async_wait(struct ipfix_async *a)
{
	pthread_mutex_lock(&a->q_lock);
	while (a->head || a->busy)
		pthread_cond_wait(&a->q_idle, &a->q_lock);
	pthread_mutex_unlock(&a->q_lock);
}

int ipfix_async_flush(struct ipfix_async *a, int timeout_ms)
{
	int err;

	ipfix_async_wait(a);
	pthread_mutex_lock(&a->ex_lock);
	err = ipfix_exporter_flush(a->ex, timeout_ms);
	pthread_mutex_unlock(&a->ex_lock);
	return err;
}

/*
 * What each collector got, once the exporter has flushed: every record
 * handed over is either sent or not sent (the queue's drops count for
 * every collector).
 */
static void log_totals(struct ipfix_async *a)
{
	size_t i;

	for (i = 0; i < ipfix_exporter_n_collectors(a->ex); i++) {
		struct ipfix_collector_stats st;

		ipfix_exporter_stats(a->ex, i, &st);
		pr_info("collector %s (%s): %llu records sent in %llu messages, %llu not sent, %llu send errors",
			st.address, ipfix_transport_name(st.transport),
			(unsigned long long)st.records,
			(unsigned long long)st.messages,
			(unsigned long long)(st.records_not_sent + a->dropped),
			(unsigned long long)st.send_errors);
	}
}

void ipfix_async_destroy(struct ipfix_async *a, int flush_timeout_ms)
{
	if (!a)
		return;
	ipfix_async_flush(a, flush_timeout_ms);
	pthread_mutex_lock(&a->q_lock);
	a->stop = true;
	pthread_cond_signal(&a->q_wake);
	pthread_mutex_unlock(&a->q_lock);
	if (a->started)
		pthread_join(a->worker, NULL);
	log_totals(a);
	ipfix_exporter_destroy(a->ex);
	strset_free(&a->names);
	pthread_mutex_destroy(&a->ex_lock);
	pthread_mutex_destroy(&a->q_lock);
	pthread_cond_destroy(&a->q_wake);
	pthread_cond_destroy(&a->q_idle);
	free(a);
}

void ipfix_async_tick(struct ipfix_async *a)
{
	pthread_mutex_lock(&a->ex_lock);
	ipfix_exporter_tick(a->ex);
	pthread_mutex_unlock(&a->ex_lock);
}

void ipfix_async_set_metering(struct ipfix_async *a, uint32_t obs_domain_id,
			      uint64_t ignored_packets,
			      uint64_t ignored_octets)
{
	pthread_mutex_lock(&a->ex_lock);
	ipfix_exporter_set_metering(a->ex, obs_domain_id, ignored_packets,
				    ignored_octets);
	pthread_mutex_unlock(&a->ex_lock);
}

size_t ipfix_async_n_collectors(struct ipfix_async *a)
{
	size_t n;

	pthread_mutex_lock(&a->ex_lock);
	n = ipfix_exporter_n_collectors(a->ex);
	pthread_mutex_unlock(&a->ex_lock);
	return n;
}

void ipfix_async_stats(struct ipfix_async *a, size_t i,
		       struct ipfix_collector_stats *st)
{
	pthread_mutex_lock(&a->ex_lock);
	ipfix_exporter_stats(a->ex, i, st);
	pthread_mutex_unlock(&a->ex_lock);
}

int ipfix_async_fd(struct ipfix_async *a)
{
	/* the fd itself never changes for the life of the exporter */
	return ipfix_exporter_fd(a->ex);
}

uint64_t ipfix_async_dropped(struct ipfix_async *a)
{
	uint64_t v;

	pthread_mutex_lock(&a->q_lock);
	v = a->dropped;
	pthread_mutex_unlock(&a->q_lock);
	return v;
}
