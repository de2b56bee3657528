// SPDX-License-Identifier: Apache-2.0
/*
 * The IPFIX exporter when its collector goes away: a UDP collector that
 * refuses (ICMP port unreachable) and comes back, a host name that does
 * not resolve yet.  Nothing may be counted as exported that did not
 * arrive, and what arrives must be decodable (templates first).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "check_main.h"
#include "clock.h"
#include "config.h"
#include "ipfix.h"
#include "ipfix_export.h"

static uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

/* What a strict collector makes of the messages it received. */
struct seen {
	uint16_t tid[16];
	uint16_t rec_len[16];
	int n_tmpl;
	int messages;
	int data_records;	/* of configured templates (not options) */
	int unknown_sets;	/* data sets whose template was not seen */
	int first_set_id;	/* of the first message */
};

static int seen_tmpl(const struct seen *s, uint16_t id)
{
	int i;

	for (i = 0; i < s->n_tmpl; i++)
		if (s->tid[i] == id)
			return i;
	return -1;
}

static void seen_msg(struct seen *s, const uint8_t *b, size_t len)
{
	size_t off = IPFIX_MSG_HDR_LEN;

	ck_assert_uint_ge(len, IPFIX_MSG_HDR_LEN);
	ck_assert_uint_eq(get16(b), 10);
	ck_assert_uint_eq(get16(b + 2), len);
	if (!s->messages++)
		s->first_set_id = get16(b + off);
	while (off + 4 <= len) {
		uint16_t id = get16(b + off), slen = get16(b + off + 2);
		size_t p = off + 4, end = off + slen;

		ck_assert_uint_ge(slen, 4);
		ck_assert_uint_le(end, len);
		if (id == 2 || id == 3) {
			while (end - p >= 4) {
				uint16_t tid = get16(b + p);
				uint16_t n = get16(b + p + 2), i, rl = 0;
				int t;

				if (!tid)
					break;		/* padding */
				p += id == 3 ? 6 : 4;
				for (i = 0; i < n; i++) {
					rl += get16(b + p + 2);
					p += get16(b + p) & 0x8000 ? 8 : 4;
				}
				t = seen_tmpl(s, tid);
				if (t < 0) {
					t = s->n_tmpl++;
					s->tid[t] = tid;
				}
				s->rec_len[t] = rl;
			}
		} else {
			int t = seen_tmpl(s, id);

			if (t < 0)
				s->unknown_sets++;
			else if (id < IPFIX_TID_EXPORTING_STATS)
				s->data_records += (slen - 4) / s->rec_len[t];
		}
		off = end;
	}
}

static void read_all(int fd, struct seen *s)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	uint8_t buf[65536];

	while (poll(&pfd, 1, 200) > 0) {
		ssize_t n = recv(fd, buf, sizeof(buf), 0);

		if (n <= 0)
			break;
		seen_msg(s, buf, n);
	}
}

/* A UDP socket on 127.0.0.1:PORT (0: any free port, *PORT set). */
static int udp_bind(uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK, 0);

	ck_assert_int_ge(fd, 0);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	a.sin_port = htons(*port);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static struct flowctl_config *make_config(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));

static struct flowctl_config *make_config(const char *fmt, ...)
{
	struct flowctl_config *cfg;
	struct yaml_error err;
	char text[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	ck_assert_msg(config_load_string("test", text, strlen(text), &cfg,
					 &err) == 0, "%s", err.text);
	return cfg;
}

/* 20-octet IPv4 records; 4 of them fit a 100-octet message. */
#define SMALL_TEMPLATE							\
	"templates:\n"							\
	"- id: 256\n"							\
	"  template: [{name: sourceIPv4Address}, "			\
	"{name: destinationIPv4Address}, {name: packetDeltaCount}, "	\
	"{name: ingressInterface}]\n"

static void fill_records(struct flow_record *r, int n, uint32_t domain)
{
	int i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++) {
		r[i].ip_version = 4;
		r[i].src_addr[10] = r[i].src_addr[11] = 0xff;
		r[i].src_addr[12] = 10;
		r[i].src_addr[15] = i;
		r[i].dst_addr[10] = r[i].dst_addr[11] = 0xff;
		r[i].dst_addr[12] = 10;
		r[i].packets = i + 1;
		r[i].octets = 100 * (i + 1);
		r[i].ingress_ifindex = 2;
		r[i].obs_domain_id = domain;
	}
}

/*
 * A UDP collector that is down refuses every datagram (ICMP port
 * unreachable).  The kernel reports one refusal on the next send, which
 * then sends nothing: counting what sendmmsg() accepted as exported
 * called half of the refused records exported.
 */
START_TEST(udp_refused_records_are_not_exported)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[40];
	uint16_t port = 0;
	int i;

	close(udp_bind(&port));		/* a port nobody listens on */
	cfg = make_config("maxIpfixMessageLen: 100\n"
			  "collectors: [{address: 127.0.0.1:%u}]\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	fill_records(recs, 40, 1);
	for (i = 0; i < 4; i++)
		ipfix_exporter_export(ex, recs + 10 * i, 10);
	ipfix_exporter_flush(ex, 100);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_gt(st.send_errors, 0);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(st.records_not_sent, 40);
	ck_assert_uint_eq(st.packets_not_sent, 40 * 41 / 2);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
}
END_TEST

/* The exporter's clock, fixed: two runs encode the same octets. */
static uint64_t fixed_clock(void)
{
	return 1700000000ULL * 1000000000ULL;
}

/* Every datagram received on FD, in order, into BUF (N of them, LEN each). */
static size_t read_datagrams(int fd, uint8_t *buf, size_t cap, size_t *lens,
			     size_t max, size_t *n)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	size_t used = 0;

	*n = 0;
	while (*n < max && poll(&pfd, 1, 200) > 0) {
		ssize_t r = recv(fd, buf + used, cap - used, 0);

		if (r <= 0)
			break;
		lens[(*n)++] = r;
		used += r;
	}
	return used;
}

/*
 * udpSegmentation: runs of messages of one length leave as one
 * UDP_SEGMENT send, and the collector receives the same datagrams, octet
 * for octet, as with one send per message (the default), IPv4 and IPv6
 * records mixed so that runs end on shorter messages too.
 */
START_TEST(udp_segmentation_sends_the_same_datagrams)
{
	static uint8_t got[2][1 << 20];
	size_t lens[2][2048], n[2], used[2];
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[700];
	uint16_t port = 0;
	int fd = udp_bind(&port), run, i, rcvbuf = 4 << 20;

	setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	fill_records(recs, 700, 7);
	for (i = 0; i < 700; i += 3) {		/* every third one IPv6 */
		recs[i].ip_version = 6;
		recs[i].src_addr[10] = recs[i].src_addr[11] = 0;
		recs[i].src_addr[0] = 0x20;
	}
	for (run = 0; run < 2; run++) {
		cfg = make_config("outputs:\n- collector:\n"
				  "    remoteAddress: 127.0.0.1:%u\n"
				  "    udpSegmentation: %s\n", port,
				  run ? "false" : "true");
		ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
		ipfix_exporter_set_clock(ex, fixed_clock);
		/* in batches as the agent exports them */
		for (i = 0; i < 700; i += 256)
			ipfix_exporter_export(ex, recs + i,
					      700 - i < 256 ? 700 - i : 256);
		ipfix_exporter_flush(ex, 100);
		ipfix_exporter_stats(ex, 0, &st);
		ck_assert_int_eq(st.segmentation, !run);
		ck_assert_uint_eq(st.records, 700);
		ck_assert_uint_eq(st.records_not_sent, 0);
		ipfix_exporter_destroy(ex);
		config_free(cfg);
		used[run] = read_datagrams(fd, got[run], sizeof(got[run]),
					   lens[run], 2048, &n[run]);
		ck_assert_uint_eq(n[run], st.messages);
	}
	ck_assert_uint_gt(n[0], 30);	/* runs of many messages */
	ck_assert_uint_eq(n[0], n[1]);
	ck_assert_uint_eq(used[0], used[1]);
	ck_assert_mem_eq(lens[0], lens[1], n[0] * sizeof(size_t));
	ck_assert_mem_eq(got[0], got[1], used[0]);
	close(fd);
}
END_TEST

/*
 * The collector restarts (it lost the templates): after a refusal the
 * next message that goes out carries the templates, and every data record
 * it receives can be decoded, long before timerTemplateFlushSeconds.
 */
START_TEST(udp_templates_again_after_a_refusal)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[20];
	struct seen s = { 0 };
	uint16_t port = 0;
	int fd = udp_bind(&port);

	cfg = make_config("maxIpfixMessageLen: 100\n"
			  "timerTemplateFlushSeconds: 3600\n"
			  "collectors: [{address: 127.0.0.1:%u}]\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	fill_records(recs, 20, 1);
	ipfix_exporter_export(ex, recs, 10);
	ipfix_exporter_flush(ex, 100);
	read_all(fd, &s);
	ck_assert_int_eq(s.data_records, 10);
	ck_assert_int_eq(s.unknown_sets, 0);

	close(fd);			/* the collector goes away */
	ipfix_exporter_export(ex, recs, 4);
	ipfix_exporter_flush(ex, 100);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_eq(st.records, 10);
	ck_assert_uint_eq(st.records_not_sent, 4);

	fd = udp_bind(&port);		/* and comes back, knowing nothing */
	memset(&s, 0, sizeof(s));
	ipfix_exporter_export(ex, recs + 10, 10);
	ipfix_exporter_flush(ex, 100);
	read_all(fd, &s);
	ck_assert_int_eq(s.first_set_id, 2);	/* a template set first */
	ck_assert_int_eq(s.unknown_sets, 0);
	ck_assert_int_eq(s.data_records, 10);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_eq(st.records, 20);
	ck_assert_uint_eq(st.records_not_sent, 4);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	close(fd);
}
END_TEST

/* ---- a name that does not resolve yet (no DNS: a fake resolver) ---- */

static atomic_int name_exists;
static atomic_int lookups;

static int n_lookups(void)
{
	return atomic_load(&lookups);
}

static int fake_resolver(const char *host, const char *port,
			 const struct addrinfo *hints, struct addrinfo **res)
{
	atomic_fetch_add(&lookups, 1);
	if (strcmp(host, "collector.test") || !atomic_load(&name_exists))
		return EAI_NONAME;
	return getaddrinfo("127.0.0.1", port, hints, res);
}

/* The exporter's clock, moved by hand; it starts at the real monotonic
 * time, which the exporter read before the test could replace it. */
static uint64_t fake_ns;

static uint64_t fake_clock(void)
{
	return fake_ns;
}

START_TEST(unresolved_name_is_retried)
{
	struct ipfix_collector_stats st;
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	struct flow_record recs[10];
	struct seen s = { 0 };
	uint16_t port = 0;
	int fd = udp_bind(&port), i;

	ipfix_exporter_set_resolver(fake_resolver);
	atomic_store(&lookups, 0);
	atomic_store(&name_exists, 0);
	fake_ns = clock_mono_ns();
	cfg = make_config("outputs:\n"
			  "- collector: {remoteAddress: 'collector.test:%u', reconnectIntervalSeconds: 2}\n"
			  SMALL_TEMPLATE, port);
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	ipfix_exporter_set_clock(ex, fake_clock);
	ck_assert_int_eq(n_lookups(), 1);
	fill_records(recs, 10, 1);
	ipfix_exporter_export(ex, recs, 10);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert(!st.up);
	ck_assert_uint_eq(st.records, 0);
	ck_assert_uint_eq(st.records_not_sent, 10);

	/* not before its back-off: no lookup */
	ipfix_exporter_tick(ex);
	ck_assert_int_eq(n_lookups(), 1);
	/* after it: another lookup (in a thread), still nothing */
	fake_ns += 2100000000ULL;
	for (i = 0; i < 200 && n_lookups() < 2; i++) {
		ipfix_exporter_tick(ex);
		usleep(5000);
	}
	ck_assert_int_eq(n_lookups(), 2);
	for (i = 0; i < 20; i++) {
		ipfix_exporter_tick(ex);
		usleep(5000);
	}
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert(!st.up);
	/* the back-off doubled: 2 s more is not enough, 4 s is */
	atomic_store(&name_exists, 1);
	fake_ns += 2100000000ULL;
	ipfix_exporter_tick(ex);
	ck_assert_int_eq(n_lookups(), 2);
	fake_ns += 2000000000ULL;
	for (i = 0; i < 200 && !st.up; i++) {
		ipfix_exporter_tick(ex);
		ipfix_exporter_stats(ex, 0, &st);
		usleep(5000);
	}
	ck_assert(st.up);
	ipfix_exporter_export(ex, recs, 10);
	ipfix_exporter_flush(ex, 100);
	read_all(fd, &s);
	ck_assert_int_eq(s.unknown_sets, 0);
	ck_assert_int_eq(s.data_records, 10);
	ipfix_exporter_stats(ex, 0, &st);
	ck_assert_uint_eq(st.records, 10);
	ck_assert_uint_eq(st.records_not_sent, 10);
	ipfix_exporter_destroy(ex);
	ipfix_exporter_set_resolver(NULL);
	config_free(cfg);
	close(fd);
}
END_TEST

/* Destroyed while a lookup is still running: the thread cleans up. */
static int slow_resolver(const char *host, const char *port,
			 const struct addrinfo *hints, struct addrinfo **res)
{
	(void)host;
	(void)port;
	(void)hints;
	(void)res;
	if (atomic_fetch_add(&lookups, 1))
		usleep(200000);
	return EAI_AGAIN;
}

START_TEST(destroy_during_a_lookup)
{
	struct flowctl_config *cfg;
	struct ipfix_exporter *ex;
	int i;

	atomic_store(&lookups, 0);
	ipfix_exporter_set_resolver(slow_resolver);
	fake_ns = clock_mono_ns();
	cfg = make_config("outputs:\n"
			  "- collector: {remoteAddress: 'slow.test:4739', reconnectIntervalSeconds: 1}\n");
	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	ipfix_exporter_set_clock(ex, fake_clock);
	fake_ns += 1100000000ULL;
	for (i = 0; i < 100 && n_lookups() < 2; i++) {
		ipfix_exporter_tick(ex);
		usleep(1000);
	}
	ck_assert_int_eq(n_lookups(), 2);
	ipfix_exporter_destroy(ex);
	config_free(cfg);
	usleep(300000);		/* the thread ends and frees its job */
	ipfix_exporter_set_resolver(NULL);
}
END_TEST

static Suite *ipfix_export_suite(void)
{
	Suite *s = suite_create("ipfix_export");
	TCase *tc = tcase_create("collector_trouble");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, udp_refused_records_are_not_exported);
	tcase_add_test(tc, udp_segmentation_sends_the_same_datagrams);
	tcase_add_test(tc, udp_templates_again_after_a_refusal);
	tcase_add_test(tc, unresolved_name_is_retried);
	tcase_add_test(tc, destroy_during_a_lookup);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ipfix_export_suite)
