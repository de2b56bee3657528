/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The IPFIX exporting process: flow records in, IPFIX messages out to every
 * collector of its parameters, over UDP or TCP (RFC 7011 10).  It knows
 * nothing of the config: lib/config fills struct ipfix_exporter_params
 * (config_exporter_create()).
 *
 * Each collector has its own socket, sequence numbers (one counter per
 * observation domain and transport session), template state and counters;
 * a dead or slow collector never blocks the caller nor affects the others.
 * Nothing here blocks except ipfix_exporter_flush(), given a time limit.
 *
 * Typical use by the agent:
 *
 *	ipfix_exporter_create(&params, &ex);	(or config_exporter_create)
 *	ipfix_exporter_add_domain(ex, domain);	for each metered netns
 *	epoll_ctl(ADD, ipfix_exporter_fd(ex), EPOLLIN);
 *	loop:
 *		ipfix_exporter_set_metering(ex, domain, ignored_pkts, ignored_oct);
 *		ipfix_exporter_export(ex, records, n);	after each drain
 *		ipfix_exporter_tick(ex);	on its fd and every scan interval
 *	ipfix_exporter_flush(ex, 2000);
 *	ipfix_exporter_destroy(ex);
 */
#ifndef FLOWCTL_IPFIX_EXPORT_H
#define FLOWCTL_IPFIX_EXPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "flow_record.h"
#include "ipfix.h"

/* Bytes of IPFIX messages a TCP collector may have queued in user space
 * (on top of the kernel's socket buffer); beyond, records are not sent. */
#define IPFIX_TCP_QUEUE_MAX	(1U << 20)

struct ipfix_exporter;

enum ipfix_transport {
	IPFIX_TRANSPORT_UDP = 0,
	IPFIX_TRANSPORT_TCP,
};

/* "udp", "tcp" */
const char *ipfix_transport_name(enum ipfix_transport t);

struct ipfix_collector_params {
	const char *remote_address;	/* "host:port", "[v6]:port" */
	const char *local_address;	/* or NULL */
	enum ipfix_transport transport;
	uint32_t reconnect_interval_s;	/* TCP; DNS retries */
	bool udp_segmentation;		/* UDP: runs of messages of one length
					 * as one UDP_SEGMENT send each */
};

struct ipfix_exporter_params {
	const struct ipfix_collector_params *collectors;
	size_t n_collectors;
	/* the data templates that may be used, compiled (copied) */
	const struct ipfix_plan *plans;
	size_t n_plans;
	/* the template of kernel flows per IP version: 0 for
	 * ipfix_plan_choose()'s choice */
	uint16_t flow_template_v4;
	uint16_t flow_template_v6;
	uint16_t max_msg_len;		/* a message holds any one template */
	uint32_t template_refresh_s;	/* templates (UDP), options records */
	uint32_t exporting_process_id;
	bool obs_domain_id_set;		/* announce OBS_DOMAIN_ID at once */
	uint32_t obs_domain_id;
};

/* Counters of one collector, for metrics and the command's report. */
struct ipfix_collector_stats {
	const char *address;		/* remoteAddress as configured */
	enum ipfix_transport transport;
	bool up;			/* UDP: socket open; TCP: connected */
	uint64_t messages;		/* messages the kernel accepted */
	uint64_t records;		/* flow records in them */
	uint64_t octets;		/* octets of those messages */
	uint64_t send_errors;		/* failed sends, refused connections */
	uint64_t records_not_sent;	/* flow records dropped (collector
					 * down, buffer full, send failed) */
	uint64_t packets_not_sent;	/* their packet and octet counts */
	uint64_t octets_not_sent;
	uint64_t connects;		/* TCP connections established */
	bool segmentation;		/* UDP: udpSegmentation is on and the
					 * kernel and route take it */
};

/*
 * Create the exporter for every collector of P, choose the templates of
 * kernel flows, open the sockets (UDP: bound to localAddress and
 * connected; TCP: a non-blocking connect is started).  Host names are
 * resolved here; a remoteAddress that does not resolve is logged with its
 * name and looked up again from ipfix_exporter_tick(), in a thread, after
 * reconnectIntervalSeconds, doubling up to 5 minutes.  A collector that
 * cannot be set up (unresolved yet, address in use) counts its records as
 * not sent; it does not fail the others.  Returns 0 or -errno (-ENOMEM,
 * -ENOENT or -EINVAL for a flow template that cannot be used).  P and its
 * arrays are copied; the address strings must outlive the exporter.
 */
int ipfix_exporter_create(const struct ipfix_exporter_params *p,
			  struct ipfix_exporter **out);

/*
 * Export N flow records to every collector.  Each record goes into the
 * observation domain r->obs_domain_id with the template picked for
 * r->ip_version: flow_template_v4/v6 of the parameters, else the one
 * ipfix_plan_choose() picks among their plans, else the built-in default
 * of that version.
 * Templates (and options records) of a domain go first.  Never blocks;
 * records that cannot be sent are counted (ipfix_exporter_stats).
 */
void ipfix_exporter_export(struct ipfix_exporter *ex,
			   const struct flow_record *recs, size_t n);

/*
 * Announce observation domain OBS_DOMAIN_ID (a network namespace the agent
 * meters): its templates and options records are sent now rather than
 * just before its first record.  The parameters' obs_domain_id, when set,
 * is announced by ipfix_exporter_create().
 */
void ipfix_exporter_add_domain(struct ipfix_exporter *ex,
			       uint32_t obs_domain_id);

/*
 * Export one data record already encoded (LEN octets) for template
 * TEMPLATE_ID (one of the parameters' plans), in observation domain
 * OBS_DOMAIN_ID: what
 * `flowctl ipfix file` sends.  Records are packed into messages until
 * ipfix_exporter_end_batch() or ipfix_exporter_flush().  -ENOENT for an
 * unknown template.
 */
int ipfix_exporter_export_encoded(struct ipfix_exporter *ex,
				  uint32_t obs_domain_id, uint16_t template_id,
				  const uint8_t *rec, uint16_t len);
/* Send the messages being filled by ipfix_exporter_export_encoded(). */
void ipfix_exporter_end_batch(struct ipfix_exporter *ex);

/*
 * Periodic work, never blocking: handle socket events (TCP connect done,
 * writable, reset), reconnect TCP collectors whose back-off has passed,
 * resend templates (UDP) and the options records every
 * timerTemplateFlushSeconds, push queued TCP data.  Call it when
 * ipfix_exporter_fd() is readable and at least every second.
 */
void ipfix_exporter_tick(struct ipfix_exporter *ex);

/* An epoll fd that becomes readable when a TCP socket needs attention
 * (connected, writable with data queued, reset).  -1 when unused. */
int ipfix_exporter_fd(const struct ipfix_exporter *ex);

/*
 * Metering Process statistics of OBS_DOMAIN_ID (totals since start:
 * packets and octets the meter saw but could not account to a flow);
 * sent as options records with the next template refresh.
 */
void ipfix_exporter_set_metering(struct ipfix_exporter *ex,
				 uint32_t obs_domain_id,
				 uint64_t ignored_packets,
				 uint64_t ignored_octets);

size_t ipfix_exporter_n_collectors(const struct ipfix_exporter *ex);
void ipfix_exporter_stats(const struct ipfix_exporter *ex, size_t i,
			  struct ipfix_collector_stats *st);

/*
 * Send what is pending and wait at most TIMEOUT_MS for TCP queues to
 * drain (and for a UDP collector's ICMP refusal of the last message, at
 * most 50 ms).  Returns 0 when everything was handed to the kernel,
 * -ETIMEDOUT otherwise (what remains is counted as not sent).
 */
int ipfix_exporter_flush(struct ipfix_exporter *ex, int timeout_ms);

/* Close every socket (after ipfix_exporter_flush) and free. */
void ipfix_exporter_destroy(struct ipfix_exporter *ex);

/* Replace getaddrinfo() for every exporter (tests; NULL: getaddrinfo). */
struct addrinfo;
void ipfix_exporter_set_resolver(int (*fn)(const char *, const char *,
					   const struct addrinfo *,
					   struct addrinfo **));

/* Replace the wall clock (unix ns) used for export times and timers: for
 * tests. */
void ipfix_exporter_set_clock(struct ipfix_exporter *ex,
			      uint64_t (*now_ns)(void));

#endif
