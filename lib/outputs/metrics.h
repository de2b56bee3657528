/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics: a small registry of counters, gauges and histograms
 * with label sets, rendered in the text exposition format 0.0.4 and served
 * on /metrics by libmicrohttpd in its own thread.
 *
 * Threading: register families and look up series (struct metric *) at
 * setup or on a cold path; then update through the handles from any thread:
 * counters and gauges are lock-free atomics, a histogram observation takes
 * that series' own mutex.  Families are append-only; series are appended,
 * and removed only by metrics_forget_label(), which frees them once no
 * render is walking them.  Rendering takes no lock: a scrape never stalls
 * the agent, and the agent never stalls a scrape.  Handles stay valid
 * until metrics_destroy(), except those of forgotten series.
 */
#ifndef FLOWCTL_METRICS_H
#define FLOWCTL_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define METRICS_DEFAULT_ADDR	"127.0.0.1:9999"
#define METRICS_PATH		"/metrics"
#define METRICS_CONTENT_TYPE	"text/plain; version=0.0.4; charset=utf-8"

/*
 * What the HTTP endpoint accepts (docs/outputs.md): connections at once,
 * from one client address, octets a connection may use for its request
 * (request line and headers; beyond: 431 and close), and seconds a
 * connection may stay silent before it is closed.
 */
#define METRICS_MAX_CONNECTIONS		256
#define METRICS_MAX_CONNECTIONS_PER_IP	64
#define METRICS_CONNECTION_MEMORY	(32 * 1024)
#define METRICS_CONNECTION_TIMEOUT_S	5
#define METRICS_LISTEN_BACKLOG		128

enum metric_type {
	METRIC_COUNTER,
	METRIC_GAUGE,
	METRIC_HISTOGRAM,
};

struct metrics;			/* the registry (and its HTTP server) */
struct metric_family;		/* a name, type, help and label names */
struct metric;			/* one series: a family + label values */

int metrics_create(struct metrics **out);
/* Stop the server, free every family and series.  NULL is fine. */
void metrics_destroy(struct metrics *m);

/*
 * Register a family.  LABELS: NULL-terminated label names, or NULL for
 * none.  Registering the same name again with the same type and labels
 * returns the existing family.  A family without labels gets its one
 * series (value 0) at once.  Returns NULL with errno set: EINVAL (bad name
 * or label, or the name taken by another shape), ENOMEM.
 */
struct metric_family *metrics_register(struct metrics *m, const char *name,
				       enum metric_type type,
				       const char *help,
				       const char *const *labels);
/* A histogram with N_BOUNDS increasing upper bounds (+Inf is implied). */
struct metric_family *metrics_register_histogram(struct metrics *m,
						 const char *name,
						 const char *help,
						 const char *const *labels,
						 const double *bounds,
						 size_t n_bounds);
/* A family by name, or NULL. */
struct metric_family *metrics_family(struct metrics *m, const char *name);

/*
 * The series of F for label VALUES (one per label name, in order; NULL for
 * a family without labels): created on first use.  Returns NULL with errno
 * EINVAL (wrong count) or ENOMEM.  Takes a mutex and hashes the values:
 * keep the handle, do not call this per flow.
 */
struct metric *metric_series(struct metric_family *f,
			     const char *const *values);
/* Same, values as NULL-terminated arguments: metric_get(f, "2", "3", NULL). */
struct metric *metric_get(struct metric_family *f, ...)
	__attribute__((sentinel));

/* Counters (monotonic): add, or mirror a total kept elsewhere. */
void metric_add(struct metric *s, uint64_t v);
void metric_inc(struct metric *s);
void metric_counter_set(struct metric *s, uint64_t total);
/* Gauges. */
void metric_set(struct metric *s, double v);
void metric_gauge_add(struct metric *s, double delta);
/* Histograms. */
void metric_observe(struct metric *s, double v);
/*
 * Mirror a histogram kept elsewhere (the kernel's): N_BUCKETS counts, not
 * cumulative, the family's bounds then +Inf; COUNT and SUM.  0, or -EINVAL
 * when S is not a histogram of N_BUCKETS - 1 bounds.
 */
int metric_histogram_set(struct metric *s, const uint64_t *buckets,
			 size_t n_buckets, uint64_t count, double sum);

/*
 * Drop every series whose label LABEL has the value VALUE, in every
 * family that has that label: they disappear from the next scrape, and a
 * later metric_get() of the same labels starts a new series from 0.
 * Handles of the dropped series become invalid: the caller must not hold
 * any (look them up again instead).  Returns the number dropped.
 */
size_t metrics_forget_label(struct metrics *m, const char *label,
			    const char *value);

/*
 * A network namespace is gone (its meter detached, or the namespace
 * deleted) and was drained one last time: drop every series labelled
 * netns=NETNS (interface totals, overflow, unparsed packets, drain time),
 * so that namespaces that come and go do not pile up series.  Call it
 * after the last drain of the namespace has been published, from the
 * thread that updates those series (the agent's loop).  Returns the
 * number of series dropped.
 */
size_t metrics_forget_netns(struct metrics *m, const char *netns);

/* Current values (tests, and the agent's own use). */
uint64_t metric_counter_value(const struct metric *s);
double metric_gauge_value(const struct metric *s);

/*
 * The whole registry in the text format 0.0.4: "# HELP", "# TYPE", then
 * the samples of each family, in registration and creation order.
 * *TEXT is malloc'd (NUL-terminated).  0 or -ENOMEM.
 */
int metrics_render(struct metrics *m, char **text, size_t *len);

/*
 * Parse "HOST:PORT": an IPv4 address, "[IPv6]" ("[::]": every IPv6 and
 * IPv4 address), "localhost", or an empty host or "*" (every IPv4
 * address); or a bare "PORT" (127.0.0.1).  PORT 0..65535 (0: any free
 * port).  0 or -EINVAL (message printed).
 */
int metrics_parse_addr(const char *addr, struct sockaddr_storage *ss,
		       socklen_t *len);
/* The same without the message (the config says where the file is wrong). */
int metrics_parse_addr_quiet(const char *addr, struct sockaddr_storage *ss,
			     socklen_t *len);

/*
 * Listen on ADDR (NULL: METRICS_DEFAULT_ADDR) and serve /metrics from a
 * libmicrohttpd thread (404 elsewhere, 405 for methods other than GET and
 * HEAD).  Errors are printed with the address; returns 0, -EINVAL (bad
 * address: a config error), -EADDRINUSE, -EADDRNOTAVAIL, -EACCES or other
 * -errno (runtime), -EALREADY when already serving.
 */
int metrics_serve(struct metrics *m, const char *addr);
/* The port actually bound (useful with port 0), 0 when not serving. */
uint16_t metrics_port(const struct metrics *m);
/* Stop serving (the registry stays).  Safe when not serving. */
void metrics_stop(struct metrics *m);

/*
 * The families flowctl exports.  The original exporter's five keep their
 * exact names, labels and TYPE gauge (old dashboards); flowctl's counters
 * beside them follow the naming rules (promtool check metrics).
 */
struct flowctl_metrics {
	/*
	 * linux_flow_exporter_{total,overflow}_{pkts,bytes} and
	 * linux_flow_exporter_total_latency_nanoseconds: gauges, labels
	 * ingressIfindex, egressIfindex (summed over the namespaces)
	 */
	struct metric_family *orig_total_pkts;
	struct metric_family *orig_total_bytes;
	struct metric_family *orig_overflow_pkts;
	struct metric_family *orig_overflow_bytes;
	struct metric_family *orig_total_latency;
	/*
	 * flowctl_{packets,bytes,overflow_packets,overflow_bytes}_total:
	 * counters, labels ingress_ifindex, egress_ifindex, netns
	 */
	struct metric_family *total_pkts;
	struct metric_family *total_bytes;
	struct metric_family *overflow_pkts;
	struct metric_family *overflow_bytes;
	/*
	 * flowctl_forwarding_latency_seconds {ingress_ifindex,
	 * egress_ifindex, netns}: histogram (FLOW_LAT_BOUNDS), the kernel's
	 * totals since the meter was attached with --latency
	 */
	struct metric_family *latency;
	/* flowctl_flows_exported_total {output}: records handed to it */
	struct metric_family *flows_exported;
	/* flowctl_ipfix_messages_total {collector} */
	struct metric_family *ipfix_messages;
	/* flowctl_ipfix_send_errors_total {collector} */
	struct metric_family *ipfix_send_errors;
	/* flowctl_ipfix_records_not_sent_total {collector} */
	struct metric_family *ipfix_not_sent;
	/* flowctl_drain_duration_seconds {netns}: histogram, one drain */
	struct metric_family *drain_duration;
	/* flowctl_flow_cache_flows: gauge, flows in the user-space cache */
	struct metric_family *cache_flows;
	/* flowctl_hook_failures_total {hook, reason=hook_failure_name()} */
	struct metric_family *hook_failures;
	/* flowctl_unparsed_packets_total {netns} */
	struct metric_family *unparsed_packets;
	/* flowctl_log_write_errors_total {output} */
	struct metric_family *log_write_errors;
	/* flowctl_log_records_dropped_total {output, reason}: reason
	 * "queue_full" or "write_error" */
	struct metric_family *log_dropped;
	/* flowctl_build_info {version}: gauge, always 1 */
	struct metric_family *build_info;
};

/* Register all of the above into M; 0 or -errno. */
int metrics_register_flowctl(struct metrics *m, struct flowctl_metrics *f);

#endif
