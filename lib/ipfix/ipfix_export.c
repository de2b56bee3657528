// SPDX-License-Identifier: Apache-2.0
/*
 * The IPFIX exporting process (RFC 7011 10): per collector a socket, a
 * message being filled, sequence numbers per observation domain, and for
 * TCP a bounded queue of messages the kernel has not taken yet.
 */
#include "ipfix_export.h"

#include <errno.h>
#include <time.h>		/* before errqueue.h, which uses timespec */
#include <linux/errqueue.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/udp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "hostport.h"
#include "ipfix.h"
#include "log.h"

#define NS_PER_SEC	1000000000ULL

enum coll_state {
	COLL_DEAD = 0,		/* could not be set up: every record lost */
	COLL_RESOLVING,		/* its host name did not resolve (yet) */
	COLL_DOWN,		/* TCP: waiting to reconnect */
	COLL_CONNECTING,	/* TCP: connect() in progress */
	COLL_UP,
};

struct domain_state {
	uint32_t id;
	uint32_t seq;			/* data records sent in this session */
	bool templates_sent;		/* in this session */
	uint64_t last_refresh_ns;	/* templates (UDP) / options records */
};

/* A message in the TCP queue: where it ends and what it carries. */
struct queued_msg {
	size_t end;			/* offset after its last octet */
	uint32_t len;
	uint32_t records;		/* flow records */
	uint64_t packets;
	uint64_t octets;
};

struct collector {
	struct ipfix_exporter *ex;
	const struct ipfix_collector_params *cfg;
	enum coll_state state;
	int fd;
	struct sockaddr_storage remote;
	socklen_t remote_len;
	struct sockaddr_storage local;
	socklen_t local_len;
	uint64_t next_connect_ns;

	struct domain_state *domains;
	size_t n_domains;
	size_t cap_domains;
	struct domain_state *last_domain;

	/* the message being filled */
	uint8_t *buf;
	struct ipfix_msg msg;
	bool msg_open;
	struct domain_state *msg_domain;
	uint32_t msg_records;
	uint64_t msg_packets;
	uint64_t msg_octets;
	uint32_t last_export_time;

	/*
	 * UDP: the last messages the kernel sent, to find the one an ICMP
	 * error (read from the socket's error queue, IP_RECVERR) refers to.
	 */
	struct udp_sent *sent;		/* UDP_SENT_RING */
	unsigned int sent_next;

	/* remoteAddress not resolved yet: a lookup in a thread, retried */
	struct resolve_job *job;
	uint64_t next_resolve_ns;
	uint32_t resolve_backoff_s;

	/*
	 * UDP: finished messages wait here and leave together with one
	 * sendmmsg() (at most UDP_BATCH, and always before a public call
	 * returns): a third of the cost of one send() per datagram.
	 */
	uint8_t *ubuf;			/* UDP_BATCH slots of max_msg_len */
	struct udp_pending *up;
	unsigned int n_up;
	/*
	 * Segmentation offload (UDP_SEGMENT, udpSegmentation: true): a run
	 * of messages of one length leaves as one send that the kernel cuts
	 * into the same datagrams, each message its own, as late as it
	 * can.  Off when the kernel or the route refuses it (then for good).
	 */
	bool gso;
	uint32_t gso_run;		/* id of the last run sent (not 0) */

	/* TCP queue */
	uint8_t *q;
	size_t q_head;			/* first octet not yet written */
	size_t q_len;			/* end of queued data */
	struct queued_msg *qm;
	size_t qm_head, qm_n, qm_cap;
	bool want_out;			/* EPOLLOUT registered */

	bool failing;			/* in a burst of send errors */
	uint64_t burst_errors;
	uint64_t last_error_ns;
	struct ipfix_collector_stats st;
};

#define UDP_BATCH 32
#define UDP_SENT_RING 256
/*
 * One UDP_SEGMENT send: at most 64 segments (UDP_MAX_SEGMENTS of every
 * kernel that has it), and one IP packet before segmentation (64 KiB with
 * the UDP header and the largest IPv4 header).
 */
#define UDP_GSO_SEGS_MAX 64
#define UDP_GSO_BYTES_MAX (65535 - 8 - 60)

/* What identifies a sent UDP message in the ICMP error that returns it. */
struct udp_sent {
	uint32_t domain;
	uint32_t seq;
	uint32_t export_time;
	uint16_t len;			/* 0: free or already refused */
	uint32_t run;			/* its UDP_SEGMENT send; 0: alone */
	uint32_t records;
	uint64_t packets, octets;
};

struct udp_pending {
	uint16_t len;
	struct domain_state *d;
	uint32_t n_data;	/* what the message's sequence number counted */
	uint32_t records;
	uint64_t packets, octets;
};

struct metering {
	uint32_t obs_domain_id;
	uint64_t packets;
	uint64_t octets;
};

struct ipfix_exporter {
	uint32_t exporting_process_id;
	uint16_t max_msg_len;
	uint64_t refresh_ns;
	struct ipfix_plan *plans;	/* data templates */
	size_t n_plans;
	const struct ipfix_plan *plan_v4;
	const struct ipfix_plan *plan_v6;
	struct ipfix_plan opt_exporting;
	struct ipfix_plan opt_metering;
	struct metering *meter;
	size_t n_meter;
	struct collector *colls;
	struct ipfix_collector_params *coll_params;	/* colls[i].cfg */
	size_t n_colls;
	int epfd;
	uint64_t (*clock)(void);
	bool warned_no_plan[2];
};

static uint64_t now_real(const struct ipfix_exporter *ex)
{
	return ex->clock ? ex->clock() : clock_ns(CLOCK_REALTIME);
}

static uint64_t now_mono(const struct ipfix_exporter *ex)
{
	return ex->clock ? ex->clock() : clock_ns(CLOCK_MONOTONIC);
}

void ipfix_exporter_set_clock(struct ipfix_exporter *ex,
			      uint64_t (*now_ns)(void))
{
	ex->clock = now_ns;
}

const char *ipfix_transport_name(enum ipfix_transport t)
{
	return t == IPFIX_TRANSPORT_TCP ? "tcp" : "udp";
}

static const char *coll_name(const struct collector *c)
{
	return c->cfg->remote_address;
}

/* ---- errors and counters ---- */

static void count_not_sent(struct collector *c, uint64_t records,
			   uint64_t packets, uint64_t octets)
{
	c->st.records_not_sent += records;
	c->st.packets_not_sent += packets;
	c->st.octets_not_sent += octets;
}

/*
 * One warning per burst of errors, one note when it ends.  A UDP collector
 * that is down makes every other send fail (the kernel reports the ICMP
 * error of one datagram on the next send), so a burst ends only after
 * BURST_QUIET_NS without an error.
 */
#define BURST_QUIET_NS	(10 * NS_PER_SEC)

static void send_failed(struct collector *c, int err, const char *what)
{
	c->st.send_errors++;
	c->burst_errors++;
	c->last_error_ns = now_mono(c->ex);
	if (c->failing)
		return;
	c->failing = true;
	pr_warn("collector %s (%s): %s: %s; records are counted as not sent until it recovers",
		coll_name(c), ipfix_transport_name(c->cfg->transport), what,
		strerror(err));
}

static void send_ok(struct collector *c)
{
	if (!c->failing ||
	    now_mono(c->ex) - c->last_error_ns < BURST_QUIET_NS)
		return;
	pr_info("collector %s: sending again after %llu error(s)",
		coll_name(c), (unsigned long long)c->burst_errors);
	c->failing = false;
	c->burst_errors = 0;
}

/* ---- domains ---- */

static struct domain_state *coll_domain(struct collector *c, uint32_t id)
{
	struct domain_state *d;
	size_t i;

	if (c->last_domain && c->last_domain->id == id)
		return c->last_domain;
	for (i = 0; i < c->n_domains; i++) {
		if (c->domains[i].id == id) {
			c->last_domain = &c->domains[i];
			return c->last_domain;
		}
	}
	if (c->n_domains == c->cap_domains) {
		size_t cap = c->cap_domains ? c->cap_domains * 2 : 8;

		d = realloc(c->domains, cap * sizeof(*d));
		if (!d)
			return NULL;
		c->last_domain = NULL;
		/* the message in progress points into the array */
		if (c->msg_domain)
			c->msg_domain = d + (c->msg_domain - c->domains);
		c->domains = d;
		c->cap_domains = cap;
	}
	d = &c->domains[c->n_domains++];
	memset(d, 0, sizeof(*d));
	d->id = id;
	c->last_domain = d;
	return d;
}

/* A new transport session: sequence numbers restart, templates resent. */
static void coll_new_session(struct collector *c)
{
	size_t i;

	for (i = 0; i < c->n_domains; i++) {
		c->domains[i].seq = 0;
		c->domains[i].templates_sent = false;
		c->domains[i].last_refresh_ns = 0;
	}
}

/*
 * Something this collector should have received was lost (refused by its
 * host, or dropped before it left): it may have lost the templates too,
 * e.g. a UDP collector that restarted.  Every domain's next message is
 * preceded by its templates (RFC 7011 10.3: over UDP the exporter must
 * make sure the collector can decode what it sends).
 */
static void coll_resend_templates(struct collector *c)
{
	size_t i;

	for (i = 0; i < c->n_domains; i++)
		c->domains[i].templates_sent = false;
}

/* ---- TCP queue ---- */

static void epoll_update(struct collector *c)
{
	struct epoll_event ev = { .data.ptr = c };
	bool want = c->state == COLL_CONNECTING || c->q_head < c->q_len;

	if (c->cfg->transport != IPFIX_TRANSPORT_TCP || c->fd < 0 ||
	    want == c->want_out)
		return;
	ev.events = EPOLLIN | EPOLLRDHUP | (want ? EPOLLOUT : 0);
	if (epoll_ctl(c->ex->epfd, EPOLL_CTL_MOD, c->fd, &ev) == 0)
		c->want_out = want;
}

static void tcp_close(struct collector *c, int err, const char *what)
{
	size_t i;

	/* everything still queued is lost with the session */
	for (i = 0; i < c->qm_n; i++) {
		struct queued_msg *m = &c->qm[(c->qm_head + i) % c->qm_cap];

		count_not_sent(c, m->records, m->packets, m->octets);
	}
	c->qm_head = c->qm_n = 0;
	c->q_head = c->q_len = 0;
	if (c->fd >= 0) {
		epoll_ctl(c->ex->epfd, EPOLL_CTL_DEL, c->fd, NULL);
		close(c->fd);
		c->fd = -1;
	}
	c->want_out = false;
	c->state = COLL_DOWN;
	c->st.up = false;
	c->next_connect_ns = now_mono(c->ex) +
		(uint64_t)c->cfg->reconnect_interval_s * NS_PER_SEC;
	send_failed(c, err, what);
	if (c->failing && c->burst_errors == 1)
		pr_info("collector %s: next connection attempt in %u s",
			coll_name(c), c->cfg->reconnect_interval_s);
}

/* Slide the unwritten part of the queue to its front. */
static void tcp_compact(struct collector *c)
{
	size_t i;

	if (!c->q_head)
		return;
	memmove(c->q, c->q + c->q_head, c->q_len - c->q_head);
	for (i = 0; i < c->qm_n; i++)
		c->qm[(c->qm_head + i) % c->qm_cap].end -= c->q_head;
	c->q_len -= c->q_head;
	c->q_head = 0;
}

static void tcp_write(struct collector *c)
{
	while (c->q_head < c->q_len) {
		ssize_t n = send(c->fd, c->q + c->q_head, c->q_len - c->q_head,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			tcp_close(c, errno, "connection lost");
			return;
		}
		c->q_head += n;
		while (c->qm_n) {
			struct queued_msg *m = &c->qm[c->qm_head];

			if (m->end > c->q_head)
				break;
			c->st.messages++;
			c->st.records += m->records;
			c->st.octets += m->len;
			c->qm_head = (c->qm_head + 1) % c->qm_cap;
			c->qm_n--;
		}
		send_ok(c);
	}
	if (c->q_head == c->q_len) {
		c->q_head = c->q_len = 0;
		c->qm_head = 0;
	} else if (c->q_head > IPFIX_TCP_QUEUE_MAX / 2) {
		tcp_compact(c);
	}
	epoll_update(c);
}

/* Queue a finished message; false when it does not fit (not sent). */
static bool tcp_queue(struct collector *c, const uint8_t *msg, size_t len,
		      uint32_t records, uint64_t packets, uint64_t octets)
{
	struct queued_msg *m;

	if (c->q_len + len > IPFIX_TCP_QUEUE_MAX)
		tcp_compact(c);
	if (c->q_len + len > IPFIX_TCP_QUEUE_MAX)
		return false;
	if (c->qm_n == c->qm_cap) {
		size_t cap = c->qm_cap ? c->qm_cap * 2 : 64, i;
		struct queued_msg *n = malloc(cap * sizeof(*n));

		if (!n)
			return false;
		for (i = 0; i < c->qm_n; i++)
			n[i] = c->qm[(c->qm_head + i) % c->qm_cap];
		free(c->qm);
		c->qm = n;
		c->qm_cap = cap;
		c->qm_head = 0;
	}
	memcpy(c->q + c->q_len, msg, len);
	c->q_len += len;
	m = &c->qm[(c->qm_head + c->qm_n) % c->qm_cap];
	m->end = c->q_len;
	m->len = len;
	m->records = records;
	m->packets = packets;
	m->octets = octets;
	c->qm_n++;
	return true;
}

static void tcp_connect(struct collector *c)
{
	struct epoll_event ev = { .data.ptr = c };
	int fd, one = 1;

	fd = socket(c->remote.ss_family,
		    SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		c->next_connect_ns = now_mono(c->ex) +
			(uint64_t)c->cfg->reconnect_interval_s * NS_PER_SEC;
		send_failed(c, errno, "socket");
		return;
	}
	if (c->local_len) {
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
		if (bind(fd, (struct sockaddr *)&c->local, c->local_len)) {
			int err = errno;

			close(fd);
			c->next_connect_ns = now_mono(c->ex) +
				(uint64_t)c->cfg->reconnect_interval_s *
				NS_PER_SEC;
			send_failed(c, err, "bind to localAddress");
			return;
		}
	}
	c->fd = fd;
	c->state = COLL_CONNECTING;
	coll_new_session(c);
	ev.events = EPOLLIN | EPOLLRDHUP | EPOLLOUT;
	c->want_out = true;
	if (epoll_ctl(c->ex->epfd, EPOLL_CTL_ADD, fd, &ev)) {
		tcp_close(c, errno, "epoll");
		return;
	}
	if (connect(fd, (struct sockaddr *)&c->remote, c->remote_len) == 0) {
		c->state = COLL_UP;
		c->st.up = true;
		c->st.connects++;
	} else if (errno != EINPROGRESS) {
		tcp_close(c, errno, "connect");
	}
}

/* The socket reported something: connect finished, writable, reset. */
static void tcp_event(struct collector *c, uint32_t events)
{
	char sink[256];
	int err = 0;
	socklen_t len = sizeof(err);

	if (c->fd < 0)
		return;
	if (c->state == COLL_CONNECTING) {
		if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
			return;
		getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
		if (err || (events & EPOLLHUP)) {
			tcp_close(c, err ?: ECONNREFUSED, "connect");
			return;
		}
		c->state = COLL_UP;
		c->st.up = true;
		c->st.connects++;
		pr_info("collector %s (tcp): connected", coll_name(c));
	}
	if (events & (EPOLLERR | EPOLLHUP | EPOLLRDHUP | EPOLLIN)) {
		ssize_t n = recv(c->fd, sink, sizeof(sink), MSG_DONTWAIT);

		if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
			getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &len);
			tcp_close(c, n == 0 ? (err ?: ECONNRESET) : errno,
				  "connection closed by the collector");
			return;
		}
	}
	tcp_write(c);
}

/* ---- delivery ---- */

static uint8_t *udp_slot(struct collector *c, unsigned int i)
{
	return c->ubuf + (size_t)i * c->ex->max_msg_len;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | p[1] << 16 | p[2] << 8 | p[3];
}

/* A message the kernel sent: remembered until an ICMP error may name it. */
static void udp_sent_add(struct collector *c, const uint8_t *h,
			 const struct udp_pending *p, uint32_t run)
{
	struct udp_sent *s = &c->sent[c->sent_next++ % UDP_SENT_RING];

	s->len = p->len;
	s->run = run;
	s->export_time = rd32(h + 4);
	s->seq = rd32(h + 8);
	s->domain = rd32(h + 12);
	s->records = p->records;
	s->packets = p->packets;
	s->octets = p->octets;
}

/*
 * The collector's host refused a message we sent (HDR: the start of the
 * datagram the ICMP error carried back, N octets of it).  Its records did
 * not arrive: they move from sent to not sent.  Unknown (too old, or the
 * error carried too little): only the error is counted.
 */
static void udp_message_refused(struct collector *c, const uint8_t *hdr,
				size_t n, int err)
{
	struct udp_sent *s = NULL;
	unsigned int k;

	if (n >= IPFIX_MSG_HDR_LEN) {
		uint16_t len = hdr[2] << 8 | hdr[3];

		/* newest first: a sequence number can repeat (templates) */
		for (k = 1; k <= UDP_SENT_RING && !s; k++) {
			struct udp_sent *e = &c->sent[(c->sent_next - k) %
						      UDP_SENT_RING];

			if (e->len == len && e->seq == rd32(hdr + 8) &&
			    e->domain == rd32(hdr + 12) &&
			    e->export_time == rd32(hdr + 4))
				s = e;
		}
	}
	send_failed(c, err, "message refused");
	coll_resend_templates(c);
	if (!s)
		return;
	/*
	 * Sent in one UDP_SEGMENT send: the messages of the run went to the
	 * same port at the same moment, and a host that delivers the run
	 * unsegmented (loopback, veth) answers it with one ICMP error.
	 * Every message of the run is refused, once.
	 */
	for (k = 0; k < UDP_SENT_RING; k++) {
		struct udp_sent *e = &c->sent[k];

		if (e != s && (!s->run || e->run != s->run || !e->len))
			continue;
		if (e->records) {
			c->st.records -= e->records;
			count_not_sent(c, e->records, e->packets, e->octets);
		}
		e->len = 0;
	}
}

/*
 * ICMP errors of sent datagrams (IP_RECVERR): each comes back on the
 * socket's error queue with the start of the datagram, whose IPFIX header
 * names the message.  Emptying the queue also clears the socket's pending
 * error, which would otherwise fail (and drop) the next send.
 */
static void udp_read_errors(struct collector *c)
{
	unsigned int guard;

	for (guard = 0; guard < 2 * UDP_SENT_RING; guard++) {
		uint8_t hdr[IPFIX_MSG_HDR_LEN];
		union {
			char buf[CMSG_SPACE(sizeof(struct sock_extended_err) +
					    sizeof(struct sockaddr_in6))];
			struct cmsghdr align;
		} ctl;
		struct iovec iov = { .iov_base = hdr, .iov_len = sizeof(hdr) };
		struct msghdr mh = {
			.msg_iov = &iov,
			.msg_iovlen = 1,
			.msg_control = ctl.buf,
			.msg_controllen = sizeof(ctl.buf),
		};
		struct sock_extended_err *ee = NULL;
		struct cmsghdr *cm;
		ssize_t n;

		n = recvmsg(c->fd, &mh, MSG_ERRQUEUE | MSG_DONTWAIT);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return;		/* EAGAIN: the queue is empty */
		}
		for (cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
			if ((cm->cmsg_level == SOL_IP &&
			     cm->cmsg_type == IP_RECVERR) ||
			    (cm->cmsg_level == SOL_IPV6 &&
			     cm->cmsg_type == IPV6_RECVERR))
				ee = (struct sock_extended_err *)CMSG_DATA(cm);
		}
		/* local errors were returned by the send itself */
		if (!ee || (ee->ee_origin != SO_EE_ORIGIN_ICMP &&
			    ee->ee_origin != SO_EE_ORIGIN_ICMP6))
			continue;
		udp_message_refused(c, hdr, n, ee->ee_errno);
	}
}

/*
 * Message I of the batch could not be sent: its records are not sent and
 * its domain's sequence number goes back, in the messages of the same
 * domain that follow it too (their headers are rewritten before they are
 * sent).  It may have held templates: they go again.
 */
static void udp_refused(struct collector *c, unsigned int i, int err)
{
	struct udp_pending *p = &c->up[i];
	unsigned int j;

	count_not_sent(c, p->records, p->packets, p->octets);
	send_failed(c, err, "send");
	coll_resend_templates(c);
	p->d->seq -= p->n_data;
	for (j = i + 1; j < c->n_up; j++) {
		uint8_t *h = udp_slot(c, j);
		uint32_t seq;

		if (c->up[j].d != p->d)
			continue;
		seq = rd32(h + 8) - p->n_data;
		h[8] = seq >> 24;
		h[9] = seq >> 16;
		h[10] = seq >> 8;
		h[11] = seq;
	}
}

/*
 * How many waiting messages from I leave as one UDP_SEGMENT send: all of
 * one length, the last maybe shorter (the kernel cuts at the first one's
 * length).  1 without segmentation.
 */
static unsigned int udp_run(const struct collector *c, unsigned int i)
{
	uint16_t len = c->up[i].len;
	unsigned int k = 1;

	if (!c->gso)
		return 1;
	while (i + k < c->n_up && k < UDP_GSO_SEGS_MAX &&
	       (size_t)len * (k + 1) <= UDP_GSO_BYTES_MAX &&
	       c->up[i + k].len <= len) {
		k++;
		if (c->up[i + k - 1].len < len)
			break;		/* a shorter one ends the run */
	}
	return k;
}

/* The kernel or the route does not take UDP_SEGMENT: send one by one. */
static bool udp_gso_refused(struct collector *c, int err)
{
	if (err != EIO && err != EINVAL && err != EMSGSIZE &&
	    err != ENOPROTOOPT && err != EOPNOTSUPP)
		return false;
	c->gso = false;
	pr_info("collector %s: udpSegmentation: the kernel refuses it on this route (%s%s): one send per datagram from now on",
		coll_name(c), strerror(err),
		err == EMSGSIZE || err == EINVAL ?
		"; messages larger than the route's MTU?" : "");
	return true;
}

/* Send the waiting UDP messages: runs of one length as one send each. */
static void udp_flush(struct collector *c)
{
	struct mmsghdr mm[UDP_BATCH];
	struct iovec iov[UDP_BATCH];
	union {
		char buf[CMSG_SPACE(sizeof(uint16_t))];
		struct cmsghdr align;
	} ctl[UDP_BATCH];
	unsigned int runs[UDP_BATCH];	/* messages in mm[e] */
	unsigned int i = 0, j, e, ne, m;
	bool retried = false;
	int n;

	/* refusals of earlier messages first: they clear the socket error */
	udp_read_errors(c);
	while (i < c->n_up) {
		memset(mm, 0, sizeof(mm));
		for (j = i, ne = 0; j < c->n_up; ne++) {
			unsigned int k = udp_run(c, j);
			struct msghdr *h = &mm[ne].msg_hdr;

			for (m = 0; m < k; m++) {
				iov[j - i + m].iov_base = udp_slot(c, j + m);
				iov[j - i + m].iov_len = c->up[j + m].len;
			}
			h->msg_iov = &iov[j - i];
			h->msg_iovlen = k;
			if (k > 1) {
				struct cmsghdr *cm;

				memset(&ctl[ne], 0, sizeof(ctl[ne]));
				h->msg_control = ctl[ne].buf;
				h->msg_controllen = sizeof(ctl[ne].buf);
				cm = CMSG_FIRSTHDR(h);
				cm->cmsg_level = SOL_UDP;
				cm->cmsg_type = UDP_SEGMENT;
				cm->cmsg_len = CMSG_LEN(sizeof(uint16_t));
				memcpy(CMSG_DATA(cm), &c->up[j].len,
				       sizeof(uint16_t));
			}
			runs[ne] = k;
			j += k;
		}
		n = sendmmsg(c->fd, mm, ne, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			int err = n < 0 ? errno : EAGAIN;

			/* the same messages again, one datagram per send */
			if (runs[0] > 1 && udp_gso_refused(c, err))
				continue;
			/*
			 * The ICMP error of an earlier datagram (collector
			 * down: ECONNREFUSED) fails the next send, which
			 * sends nothing.  That refusal is on the error
			 * queue: account for it and send this one again.
			 */
			if (!retried && err != EAGAIN && err != ENOBUFS) {
				udp_read_errors(c);
				retried = true;
				continue;
			}
			for (m = 0; m < runs[0]; m++)
				udp_refused(c, i + m, err);
			retried = false;
			i += runs[0];
			continue;
		}
		for (e = 0; e < (unsigned int)n; e++) {
			uint32_t run = 0;

			if (runs[e] > 1) {	/* ids of runs: never 0 */
				if (!++c->gso_run)
					c->gso_run = 1;
				run = c->gso_run;
			}
			for (m = 0; m < runs[e]; m++, i++) {
				struct udp_pending *p = &c->up[i];

				c->st.messages++;
				c->st.records += p->records;
				c->st.octets += p->len;
				udp_sent_add(c, udp_slot(c, i), p, run);
			}
		}
		retried = false;
		send_ok(c);
	}
	c->n_up = 0;
	/* over loopback a refusal of what just left is already queued */
	udp_read_errors(c);
}

/* A finished message joins the batch; its sequence number counts on it. */
static void udp_send(struct collector *c, uint16_t len, struct domain_state *d,
		     uint32_t n_data, uint32_t records, uint64_t packets,
		     uint64_t octets)
{
	c->up[c->n_up++] = (struct udp_pending){
		.len = len, .d = d, .n_data = n_data, .records = records,
		.packets = packets, .octets = octets,
	};
	d->seq += n_data;
	if (c->n_up == UDP_BATCH)
		udp_flush(c);
}

/* Every collector's waiting UDP messages: before a public call returns. */
static void udp_flush_all(struct ipfix_exporter *ex)
{
	size_t k;

	for (k = 0; k < ex->n_colls; k++)
		if (ex->colls[k].n_up)
			udp_flush(&ex->colls[k]);
}

static bool coll_can_send(const struct collector *c)
{
	return c->state == COLL_UP ||
	       (c->state == COLL_CONNECTING &&
		c->cfg->transport == IPFIX_TRANSPORT_TCP);
}

/* Finish the open message and hand it to the transport. */
static void coll_send_msg(struct collector *c)
{
	struct domain_state *d = c->msg_domain;
	uint64_t now_s = now_real(c->ex) / NS_PER_SEC;
	uint32_t t = now_s > c->last_export_time ? now_s : c->last_export_time;
	uint16_t len;

	if (!c->msg_open)
		return;
	c->msg_open = false;
	if (ipfix_msg_empty(&c->msg))
		return;
	/* export time never goes backwards within a session */
	c->last_export_time = t;
	len = ipfix_msg_finish(&c->msg, t, d->seq);
	if (c->cfg->transport == IPFIX_TRANSPORT_UDP) {
		udp_send(c, len, d, c->msg.n_data, c->msg_records,
			 c->msg_packets, c->msg_octets);
		return;
	}
	if (!coll_can_send(c)) {
		/* the connection went down while this message was built */
		count_not_sent(c, c->msg_records, c->msg_packets,
			       c->msg_octets);
		return;
	}
	if (!tcp_queue(c, c->buf, len, c->msg_records, c->msg_packets,
		       c->msg_octets)) {
		count_not_sent(c, c->msg_records, c->msg_packets,
			       c->msg_octets);
		send_failed(c, ENOBUFS, "queue full");
		return;
	}
	d->seq += c->msg.n_data;
	if (c->state == COLL_UP)
		tcp_write(c);
	else
		epoll_update(c);
}

static void coll_begin_msg(struct collector *c, struct domain_state *d)
{
	ipfix_msg_begin(&c->msg, c->ubuf ? udp_slot(c, c->n_up) : c->buf,
			c->ex->max_msg_len, d->id);
	c->msg_open = true;
	c->msg_domain = d;
	c->msg_records = 0;
	c->msg_packets = 0;
	c->msg_octets = 0;
}

/* Options data records: exporting and metering process statistics. */
static void coll_add_options_data(struct collector *c, struct domain_state *d)
{
	struct ipfix_exporter *ex = c->ex;
	struct ipfix_exporting_stats es = {
		.exporting_process_id = ex->exporting_process_id,
		.messages = c->st.messages,
		.records = c->st.records,
		.octets = c->st.octets,
		.not_sent_flows = c->st.records_not_sent,
		.not_sent_packets = c->st.packets_not_sent,
		.not_sent_octets = c->st.octets_not_sent,
	};
	struct ipfix_metering_stats ms = { .obs_domain_id = d->id };
	uint8_t rec[64];
	size_t i, len;

	for (i = 0; i < ex->n_meter; i++) {
		if (ex->meter[i].obs_domain_id == d->id) {
			ms.ignored_packets = ex->meter[i].packets;
			ms.ignored_octets = ex->meter[i].octets;
		}
	}
	len = ipfix_encode_exporting_stats(&es, rec);
	if (ipfix_msg_add_encoded(&c->msg, &ex->opt_exporting, rec, len)) {
		coll_send_msg(c);
		coll_begin_msg(c, d);
		ipfix_msg_add_encoded(&c->msg, &ex->opt_exporting, rec, len);
	}
	len = ipfix_encode_metering_stats(&ms, rec);
	if (ipfix_msg_add_encoded(&c->msg, &ex->opt_metering, rec, len)) {
		coll_send_msg(c);
		coll_begin_msg(c, d);
		ipfix_msg_add_encoded(&c->msg, &ex->opt_metering, rec, len);
	}
}

static void coll_add_template(struct collector *c, struct domain_state *d,
			      const struct ipfix_plan *plan)
{
	if (ipfix_msg_add_template(&c->msg, plan) == 0)
		return;
	coll_send_msg(c);
	coll_begin_msg(c, d);
	/* max_msg_len holds any one template (the config checks it) */
	ipfix_msg_add_template(&c->msg, plan);
}

/*
 * Templates of domain D (data templates, then the options templates and
 * their records), in messages of their own.  With TEMPLATES false (TCP
 * refresh) only the options records.
 */
static void coll_send_templates(struct collector *c, struct domain_state *d,
				bool templates)
{
	struct ipfix_exporter *ex = c->ex;
	size_t i;

	coll_send_msg(c);
	coll_begin_msg(c, d);
	if (templates) {
		for (i = 0; i < ex->n_plans; i++)
			coll_add_template(c, d, &ex->plans[i]);
		coll_add_template(c, d, &ex->opt_exporting);
		coll_add_template(c, d, &ex->opt_metering);
		d->templates_sent = true;
	}
	coll_add_options_data(c, d);
	coll_send_msg(c);
	d->last_refresh_ns = now_mono(ex);
}

/* The open message is full: send it, start the next one of domain D
 * (after the templates, when a refusal asked for them again). */
static void coll_next_msg(struct collector *c, struct domain_state *d)
{
	coll_send_msg(c);
	if (!d->templates_sent)
		coll_send_templates(c, d, true);
	coll_begin_msg(c, d);
}

/* Make the open message one of domain DOMAIN, templates sent first. */
static struct domain_state *coll_prepare(struct collector *c, uint32_t domain)
{
	struct domain_state *d;

	if (c->msg_open && c->msg_domain->id == domain &&
	    c->msg_domain->templates_sent)
		return c->msg_domain;
	coll_send_msg(c);
	d = coll_domain(c, domain);
	if (!d)
		return NULL;
	if (!d->templates_sent)
		coll_send_templates(c, d, true);
	coll_begin_msg(c, d);
	return d;
}

static void coll_export(struct collector *c, const struct ipfix_plan *plan,
			const struct flow_record *r)
{
	struct domain_state *d;

	if (!coll_can_send(c) || !plan) {
		count_not_sent(c, 1, r->packets, r->octets);
		return;
	}
	d = coll_prepare(c, r->obs_domain_id);
	if (!d) {
		count_not_sent(c, 1, r->packets, r->octets);
		return;
	}
	if (ipfix_msg_add_record(&c->msg, plan, r)) {
		coll_next_msg(c, d);
		if (ipfix_msg_add_record(&c->msg, plan, r)) {
			count_not_sent(c, 1, r->packets, r->octets);
			return;
		}
	}
	c->msg_records++;
	c->msg_packets += r->packets;
	c->msg_octets += r->octets;
}

/*
 * Within each run of records of one observation domain, the IPv4 records
 * first, then the IPv6 ones: the messages in between hold one template's
 * records, all of one length, and leave together as one UDP_SEGMENT send
 * (records of one export carry no order a collector could rely on).
 */
void ipfix_exporter_export(struct ipfix_exporter *ex,
			   const struct flow_record *recs, size_t n)
{
	size_t i, j, m, k;
	int v6;

	for (k = 0; k < ex->n_colls; k++) {
		struct collector *c = &ex->colls[k];

		for (i = 0; i < n; i = j) {
			for (j = i + 1; j < n && recs[j].obs_domain_id ==
						 recs[i].obs_domain_id; j++)
				;
			for (v6 = 0; v6 < 2; v6++)
				for (m = i; m < j; m++)
					if ((recs[m].ip_version == 6) == v6)
						coll_export(c, v6 ? ex->plan_v6 :
								    ex->plan_v4,
							    &recs[m]);
		}
		coll_send_msg(c);
	}
	udp_flush_all(ex);
}

static const struct ipfix_plan *plan_by_id(const struct ipfix_exporter *ex,
					   uint16_t id)
{
	size_t i;

	for (i = 0; i < ex->n_plans; i++)
		if (ex->plans[i].id == id)
			return &ex->plans[i];
	return NULL;
}

void ipfix_exporter_add_domain(struct ipfix_exporter *ex,
			       uint32_t obs_domain_id)
{
	size_t k;

	for (k = 0; k < ex->n_colls; k++) {
		struct collector *c = &ex->colls[k];

		if (!coll_can_send(c))
			continue;
		/* templates (and options records) go out now, if new */
		coll_prepare(c, obs_domain_id);
		coll_send_msg(c);
	}
	udp_flush_all(ex);
}

int ipfix_exporter_export_encoded(struct ipfix_exporter *ex,
				  uint32_t obs_domain_id, uint16_t template_id,
				  const uint8_t *rec, uint16_t len)
{
	const struct ipfix_plan *plan = plan_by_id(ex, template_id);
	size_t k;

	if (!plan)
		return -ENOENT;
	for (k = 0; k < ex->n_colls; k++) {
		struct collector *c = &ex->colls[k];
		struct domain_state *d;

		if (!coll_can_send(c)) {
			count_not_sent(c, 1, 0, 0);
			continue;
		}
		d = coll_prepare(c, obs_domain_id);
		if (!d) {
			count_not_sent(c, 1, 0, 0);
			continue;
		}
		if (ipfix_msg_add_encoded(&c->msg, plan, rec, len)) {
			coll_next_msg(c, d);
			if (ipfix_msg_add_encoded(&c->msg, plan, rec, len)) {
				count_not_sent(c, 1, 0, 0);
				continue;
			}
		}
		c->msg_records++;
	}
	return 0;
}

void ipfix_exporter_end_batch(struct ipfix_exporter *ex)
{
	size_t k;

	for (k = 0; k < ex->n_colls; k++)
		coll_send_msg(&ex->colls[k]);
	udp_flush_all(ex);
}

/* ---- setup ---- */

static int (*resolver)(const char *, const char *, const struct addrinfo *,
			struct addrinfo **) = getaddrinfo;

void ipfix_exporter_set_resolver(int (*fn)(const char *, const char *,
					   const struct addrinfo *,
					   struct addrinfo **))
{
	resolver = fn ? fn : getaddrinfo;
}

/* "HOST:PORT" to an address.  0, or a getaddrinfo error (EAI_*). */
static int lookup(const char *addr, int socktype, bool passive,
		  struct sockaddr_storage *ss, socklen_t *len)
{
	struct addrinfo hints = {
		.ai_socktype = socktype,
		.ai_flags = AI_NUMERICSERV | (passive ? AI_PASSIVE : 0),
	};
	struct addrinfo *res;
	char host[256], port[8];
	uint16_t p;
	int ret;

	if (hostport_parse(addr, host, sizeof(host), &p))
		return EAI_NONAME;
	snprintf(port, sizeof(port), "%u", p);
	ret = resolver(host, port, &hints, &res);
	if (ret)
		return ret;
	memcpy(ss, res->ai_addr, res->ai_addrlen);
	*len = res->ai_addrlen;
	freeaddrinfo(res);
	return 0;
}

/*
 * A lookup of remoteAddress in a thread of its own: a name server that
 * does not answer must not stall the exporter.  The job is shared by the
 * thread and the collector; the last one to let go frees it (the exporter
 * may be destroyed while a lookup still waits for its timeout).
 */
struct resolve_job {
	pthread_mutex_t lock;
	int refs;
	bool done;
	int gai_err;
	int socktype;
	struct sockaddr_storage ss;
	socklen_t len;
	char addr[];
};

static void job_put(struct resolve_job *j)
{
	bool last;

	pthread_mutex_lock(&j->lock);
	last = --j->refs == 0;
	pthread_mutex_unlock(&j->lock);
	if (last) {
		pthread_mutex_destroy(&j->lock);
		free(j);
	}
}

static void *resolve_main(void *arg)
{
	struct resolve_job *j = arg;
	struct sockaddr_storage ss;
	socklen_t len = 0;
	int err;

	err = lookup(j->addr, j->socktype, false, &ss, &len);
	pthread_mutex_lock(&j->lock);
	j->gai_err = err;
	if (!err) {
		j->ss = ss;
		j->len = len;
	}
	j->done = true;
	pthread_mutex_unlock(&j->lock);
	job_put(j);
	return NULL;
}

/* Retry the lookup after BACKOFF, doubled each time up to 5 minutes
 * (never less than reconnectIntervalSeconds). */
#define RESOLVE_BACKOFF_MAX_S	300

static void resolve_later(struct collector *c)
{
	uint32_t max = c->cfg->reconnect_interval_s > RESOLVE_BACKOFF_MAX_S ?
		       c->cfg->reconnect_interval_s : RESOLVE_BACKOFF_MAX_S;

	if (!c->resolve_backoff_s)
		c->resolve_backoff_s = c->cfg->reconnect_interval_s ?: 1;
	else if (c->resolve_backoff_s < max)
		c->resolve_backoff_s = c->resolve_backoff_s * 2 < max ?
				       c->resolve_backoff_s * 2 : max;
	c->next_resolve_ns = now_mono(c->ex) +
			     (uint64_t)c->resolve_backoff_s * NS_PER_SEC;
}

static void resolve_start(struct collector *c)
{
	size_t n = strlen(c->cfg->remote_address) + 1;
	struct resolve_job *j = calloc(1, sizeof(*j) + n);
	sigset_t all, old;
	pthread_attr_t at;
	pthread_t t;
	int err;

	if (!j) {
		resolve_later(c);
		return;
	}
	pthread_mutex_init(&j->lock, NULL);
	j->refs = 2;
	j->socktype = c->cfg->transport == IPFIX_TRANSPORT_TCP ?
		      SOCK_STREAM : SOCK_DGRAM;
	memcpy(j->addr, c->cfg->remote_address, n);
	pthread_attr_init(&at);
	pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
	/* the lookup thread must not take the caller's signals */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	err = pthread_create(&t, &at, resolve_main, j);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	pthread_attr_destroy(&at);
	if (err) {
		j->refs = 1;
		job_put(j);
		resolve_later(c);
		return;
	}
	c->job = j;
}

/* Whether to send runs with UDP_SEGMENT: asked for, and the kernel knows
 * it (4.18+). */
static bool udp_gso_wanted(const struct collector *c, int fd)
{
	int v = 0;
	socklen_t len = sizeof(v);

	if (!c->cfg->udp_segmentation)
		return false;
	if (getsockopt(fd, SOL_UDP, UDP_SEGMENT, &v, &len) == 0) {
		pr_info("collector %s: udpSegmentation: runs of messages of one length leave as one UDP_SEGMENT send",
			coll_name(c));
		return true;
	}
	pr_info("collector %s: udpSegmentation: this kernel has no UDP segmentation offload (%s): one send per datagram",
		coll_name(c), strerror(errno));
	return false;
}

static int udp_open(struct collector *c)
{
	int fd, one = 1;

	fd = socket(c->remote.ss_family, SOCK_DGRAM | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (c->local_len &&
	    bind(fd, (struct sockaddr *)&c->local, c->local_len)) {
		int err = -errno;

		pr_err("collector %s: cannot bind to localAddress %s: %s",
		       coll_name(c), c->cfg->local_address, strerror(-err));
		close(fd);
		return err;
	}
	/* ICMP errors with the datagram they refer to (udp_read_errors) */
	if (c->remote.ss_family == AF_INET6)
		setsockopt(fd, SOL_IPV6, IPV6_RECVERR, &one, sizeof(one));
	else
		setsockopt(fd, SOL_IP, IP_RECVERR, &one, sizeof(one));
	/* connected: send() without an address, and ICMP errors reported */
	if (connect(fd, (struct sockaddr *)&c->remote, c->remote_len)) {
		int err = -errno;

		pr_err("collector %s: cannot connect UDP socket: %s",
		       coll_name(c), strerror(-err));
		close(fd);
		return err;
	}
	c->fd = fd;
	c->state = COLL_UP;
	c->st.up = true;
	c->gso = udp_gso_wanted(c, fd);
	return 0;
}

/* remoteAddress is resolved: open the socket (UDP) or connect (TCP). */
static void coll_start(struct collector *c)
{
	if (c->local_len && c->local.ss_family != c->remote.ss_family) {
		pr_err("collector %s: localAddress %s is of another address family; nothing is sent to it",
		       coll_name(c), c->cfg->local_address);
		c->state = COLL_DEAD;
		return;
	}
	if (c->cfg->transport == IPFIX_TRANSPORT_TCP) {
		c->state = COLL_DOWN;
		tcp_connect(c);
		return;
	}
	c->state = COLL_DEAD;
	udp_open(c);
}

/* COLL_RESOLVING: collect the lookup, or start the next one when due. */
static void coll_resolve_tick(struct collector *c, uint64_t now)
{
	struct resolve_job *j = c->job;
	bool done;
	int err;

	if (!j) {
		if (now >= c->next_resolve_ns)
			resolve_start(c);
		return;
	}
	pthread_mutex_lock(&j->lock);
	done = j->done;
	pthread_mutex_unlock(&j->lock);
	if (!done)
		return;
	c->job = NULL;
	err = j->gai_err;
	if (!err) {
		c->remote = j->ss;
		c->remote_len = j->len;
	}
	job_put(j);
	if (err) {
		resolve_later(c);
		pr_debug("collector %s: still cannot resolve: %s; next attempt in %u s",
			 coll_name(c), gai_strerror(err), c->resolve_backoff_s);
		return;
	}
	pr_info("collector %s: resolved; exporting to it from now on",
		coll_name(c));
	c->resolve_backoff_s = 0;
	coll_start(c);
}

static int coll_init(struct ipfix_exporter *ex, struct collector *c,
		     const struct ipfix_collector_params *cc)
{
	bool tcp = cc->transport == IPFIX_TRANSPORT_TCP;
	int err;

	c->ex = ex;
	c->cfg = cc;
	c->fd = -1;
	c->state = COLL_DEAD;
	c->st.address = cc->remote_address;
	c->st.transport = cc->transport;
	if (!tcp) {
		c->ubuf = malloc((size_t)UDP_BATCH * ex->max_msg_len);
		c->up = calloc(UDP_BATCH, sizeof(*c->up));
		c->sent = calloc(UDP_SENT_RING, sizeof(*c->sent));
		if (!c->ubuf || !c->up || !c->sent)
			return -ENOMEM;
	}
	c->buf = malloc(ex->max_msg_len);
	if (!c->buf)
		return -ENOMEM;
	if (tcp) {
		c->q = malloc(IPFIX_TCP_QUEUE_MAX);
		if (!c->q)
			return -ENOMEM;
	}
	if (cc->local_address) {
		err = lookup(cc->local_address, tcp ? SOCK_STREAM : SOCK_DGRAM,
			     true, &c->local, &c->local_len);
		if (err) {
			pr_err("collector %s: cannot resolve localAddress '%s': %s; nothing is sent to it",
			       cc->remote_address, cc->local_address,
			       gai_strerror(err));
			return 0;	/* dead: counted, not fatal */
		}
	}
	err = lookup(cc->remote_address, tcp ? SOCK_STREAM : SOCK_DGRAM, false,
		     &c->remote, &c->remote_len);
	if (err) {
		/* a name server may be down, or the name not there yet */
		c->state = COLL_RESOLVING;
		resolve_later(c);
		pr_err("collector %s: cannot resolve its host name: %s; retrying in %u s, doubling up to %u s (records are counted as not sent meanwhile)",
		       cc->remote_address, gai_strerror(err), c->resolve_backoff_s,
		       cc->reconnect_interval_s > RESOLVE_BACKOFF_MAX_S ?
		       cc->reconnect_interval_s : RESOLVE_BACKOFF_MAX_S);
		return 0;
	}
	coll_start(c);
	return 0;
}

/* The template of the kernel flows of VERSION: ipfix_plan_choose(). */
static int choose_plan(struct ipfix_exporter *ex, size_t n_cfg, int version,
		       uint16_t pinned, const struct ipfix_plan **out)
{
	struct ipfix_plan_choice c;
	int ret;

	ret = ipfix_plan_choose(ex->plans, n_cfg, version, pinned, &c);
	if (ret)
		pr_err("flowTemplates: ipv%d: template %u %s", version, pinned,
		       ret == -ENOENT ? "is not in templates" :
		       "carries addresses of the other IP version");
	*out = c.plan;
	return ret;
}

static bool plan_fits(const struct ipfix_exporter *ex,
		      const struct ipfix_plan *p)
{
	unsigned int rec = p->max_record_len > p->template_record_len ?
			   p->max_record_len : p->template_record_len;

	return IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN + rec <= ex->max_msg_len;
}

/* P's plans, then room for the built-in default of each IP version. */
static int setup_plans(struct ipfix_exporter *ex,
		       const struct ipfix_exporter_params *prm)
{
	size_t n_cfg = prm->n_plans;
	int ret;

	ex->plans = calloc(n_cfg + 2, sizeof(*ex->plans));
	if (!ex->plans)
		return -ENOMEM;
	if (n_cfg)
		memcpy(ex->plans, prm->plans, n_cfg * sizeof(*ex->plans));
	ex->n_plans = n_cfg;
	ret = choose_plan(ex, n_cfg, 4, prm->flow_template_v4, &ex->plan_v4);
	ret = ret ?: choose_plan(ex, n_cfg, 6, prm->flow_template_v6,
				 &ex->plan_v6);
	if (ret)
		return ret;
	if (!ex->plan_v4) {
		struct ipfix_plan *p = &ex->plans[ex->n_plans];

		ipfix_plan_default_v4(p);
		p->exporting_process_id = ex->exporting_process_id;
		if (plan_fits(ex, p)) {
			ex->plan_v4 = p;
			ex->n_plans++;
		} else {
			pr_warn("no template for IPv4 flows fits maxIpfixMessageLen %u: IPv4 flows are not exported",
				ex->max_msg_len);
		}
	}
	if (!ex->plan_v6) {
		struct ipfix_plan *p = &ex->plans[ex->n_plans];

		ipfix_plan_default_v6(p);
		p->exporting_process_id = ex->exporting_process_id;
		if (plan_fits(ex, p)) {
			ex->plan_v6 = p;
			ex->n_plans++;
		} else {
			pr_warn("no template for IPv6 flows fits maxIpfixMessageLen %u: IPv6 flows are not exported",
				ex->max_msg_len);
		}
	}
	ret = ipfix_plan_exporting_stats(&ex->opt_exporting);
	ret = ret ?: ipfix_plan_metering_stats(&ex->opt_metering);
	return ret;
}

int ipfix_exporter_create(const struct ipfix_exporter_params *p,
			  struct ipfix_exporter **out)
{
	struct ipfix_exporter *ex;
	size_t i;
	int ret;

	*out = NULL;
	ex = calloc(1, sizeof(*ex));
	if (!ex)
		return -ENOMEM;
	ex->exporting_process_id = p->exporting_process_id;
	ex->max_msg_len = p->max_msg_len;
	ex->refresh_ns = (uint64_t)p->template_refresh_s * NS_PER_SEC;
	ex->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (ex->epfd < 0) {
		ret = -errno;
		goto fail;
	}
	ret = setup_plans(ex, p);
	if (ret)
		goto fail;
	ex->colls = calloc(p->n_collectors ?: 1, sizeof(*ex->colls));
	ex->coll_params = calloc(p->n_collectors ?: 1,
				 sizeof(*ex->coll_params));
	if (!ex->colls || !ex->coll_params) {
		ret = -ENOMEM;
		goto fail;
	}
	if (p->n_collectors)
		memcpy(ex->coll_params, p->collectors,
		       p->n_collectors * sizeof(*ex->coll_params));
	for (i = 0; i < p->n_collectors; i++) {
		ex->n_colls++;
		ret = coll_init(ex, &ex->colls[i], &ex->coll_params[i]);
		if (ret)
			goto fail;
	}
	/* a configured domain is known now: templates at start */
	if (p->obs_domain_id_set)
		ipfix_exporter_add_domain(ex, p->obs_domain_id);
	*out = ex;
	return 0;
fail:
	ipfix_exporter_destroy(ex);
	return ret;
}

void ipfix_exporter_destroy(struct ipfix_exporter *ex)
{
	size_t i;

	if (!ex)
		return;
	for (i = 0; i < ex->n_colls; i++) {
		struct collector *c = &ex->colls[i];

		if (c->n_up && c->fd >= 0)
			udp_flush(c);
		if (c->fd >= 0)
			close(c->fd);
		free(c->buf);
		free(c->ubuf);
		free(c->up);
		free(c->sent);
		if (c->job)
			job_put(c->job);	/* the lookup thread frees it */
		free(c->q);
		free(c->qm);
		free(c->domains);
	}
	free(ex->colls);
	free(ex->coll_params);
	free(ex->plans);
	free(ex->meter);
	if (ex->epfd >= 0)
		close(ex->epfd);
	free(ex);
}

/* ---- periodic work ---- */

static void process_events(struct ipfix_exporter *ex, int timeout_ms)
{
	struct epoll_event ev[16];
	int n, i;

	n = epoll_wait(ex->epfd, ev, 16, timeout_ms);
	for (i = 0; i < n; i++)
		tcp_event(ev[i].data.ptr, ev[i].events);
}

void ipfix_exporter_tick(struct ipfix_exporter *ex)
{
	uint64_t now;
	size_t k, i;

	process_events(ex, 0);
	now = now_mono(ex);
	for (k = 0; k < ex->n_colls; k++) {
		struct collector *c = &ex->colls[k];
		bool tcp = c->cfg->transport == IPFIX_TRANSPORT_TCP;

		if (c->state == COLL_RESOLVING)
			coll_resolve_tick(c, now);
		if (tcp && c->state == COLL_DOWN && now >= c->next_connect_ns)
			tcp_connect(c);
		if (c->state != COLL_UP)
			continue;
		/* refusals that came back after a round trip */
		if (!tcp)
			udp_read_errors(c);
		for (i = 0; i < c->n_domains; i++) {
			struct domain_state *d = &c->domains[i];

			if (!d->templates_sent ||
			    now - d->last_refresh_ns < ex->refresh_ns)
				continue;
			/* TCP: templates once per connection (RFC 7011
			 * 8.1); the statistics are refreshed anyway */
			coll_send_templates(c, d, !tcp);
		}
		if (tcp)
			tcp_write(c);
	}
	udp_flush_all(ex);
}

int ipfix_exporter_fd(const struct ipfix_exporter *ex)
{
	return ex->epfd;
}

void ipfix_exporter_set_metering(struct ipfix_exporter *ex,
				 uint32_t obs_domain_id,
				 uint64_t ignored_packets,
				 uint64_t ignored_octets)
{
	struct metering *m;
	size_t i;

	for (i = 0; i < ex->n_meter; i++)
		if (ex->meter[i].obs_domain_id == obs_domain_id)
			break;
	if (i == ex->n_meter) {
		m = realloc(ex->meter, (ex->n_meter + 1) * sizeof(*m));
		if (!m)
			return;
		ex->meter = m;
		ex->n_meter++;
		ex->meter[i].obs_domain_id = obs_domain_id;
	}
	ex->meter[i].packets = ignored_packets;
	ex->meter[i].octets = ignored_octets;
}

size_t ipfix_exporter_n_collectors(const struct ipfix_exporter *ex)
{
	return ex->n_colls;
}

void ipfix_exporter_stats(const struct ipfix_exporter *ex, size_t i,
			  struct ipfix_collector_stats *st)
{
	*st = ex->colls[i].st;
	st->segmentation = ex->colls[i].gso;
}

static bool tcp_pending(const struct ipfix_exporter *ex)
{
	size_t k;

	for (k = 0; k < ex->n_colls; k++) {
		const struct collector *c = &ex->colls[k];

		if (c->cfg->transport == IPFIX_TRANSPORT_TCP &&
		    (c->state == COLL_CONNECTING ||
		     (c->state == COLL_UP && c->q_head < c->q_len)))
			return true;
	}
	return false;
}

/* ICMP refusals of the last datagrams (a remote collector's take a round
 * trip): wait for them at most TIMEOUT_MS. */
static void udp_check_refused(struct ipfix_exporter *ex, int timeout_ms)
{
	struct pollfd pfd[64];
	struct collector *cs[64];
	size_t k, n = 0;
	int i;

	for (k = 0; k < ex->n_colls && n < 64; k++) {
		struct collector *c = &ex->colls[k];

		if (c->cfg->transport == IPFIX_TRANSPORT_UDP && c->fd >= 0 &&
		    c->st.messages) {
			udp_read_errors(c);
			pfd[n].fd = c->fd;
			pfd[n].events = 0;	/* POLLERR is always reported */
			cs[n++] = c;
		}
	}
	if (!n || poll(pfd, n, timeout_ms) <= 0)
		return;
	for (i = 0; i < (int)n; i++)
		if (pfd[i].revents & POLLERR)
			udp_read_errors(cs[i]);
}

int ipfix_exporter_flush(struct ipfix_exporter *ex, int timeout_ms)
{
	uint64_t deadline = clock_ns(CLOCK_MONOTONIC) +
			    (uint64_t)timeout_ms * 1000000ULL;
	size_t k;
	int ret = 0;

	ipfix_exporter_end_batch(ex);
	for (k = 0; k < ex->n_colls; k++)
		if (ex->colls[k].state == COLL_UP &&
		    ex->colls[k].cfg->transport == IPFIX_TRANSPORT_TCP)
			tcp_write(&ex->colls[k]);
	while (tcp_pending(ex)) {
		uint64_t now = clock_ns(CLOCK_MONOTONIC);

		if (now >= deadline) {
			ret = -ETIMEDOUT;
			break;
		}
		process_events(ex, (deadline - now) / 1000000ULL + 1);
	}
	udp_check_refused(ex, timeout_ms < 50 ? timeout_ms : 50);
	if (ret) {
		for (k = 0; k < ex->n_colls; k++) {
			struct collector *c = &ex->colls[k];

			if (c->cfg->transport == IPFIX_TRANSPORT_TCP &&
			    (c->q_len > c->q_head || c->state == COLL_CONNECTING))
				tcp_close(c, ETIMEDOUT, "flush timed out");
		}
	}
	return ret;
}
