// SPDX-License-Identifier: Apache-2.0
/* The IPFIX exporter behind its worker thread. */
#include <arpa/inet.h>
#include <check.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check_main.h"
#include "config.h"
#include "ipfix_async.h"

static int sink_fd = -1;
static uint16_t sink_port;
static struct flowctl_config *cfg;

static void setup(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int big = 8 << 20;
	char text[256];

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sink_fd = socket(AF_INET, SOCK_DGRAM, 0);
	ck_assert_int_ge(sink_fd, 0);
	setsockopt(sink_fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
	ck_assert_int_eq(bind(sink_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(getsockname(sink_fd, (struct sockaddr *)&a, &len), 0);
	sink_port = ntohs(a.sin_port);
	snprintf(text, sizeof(text),
		 "outputs:\n- collector:\n    remoteAddress: 127.0.0.1:%u\n",
		 sink_port);
	ck_assert_int_eq(config_load_string("t", text, strlen(text), &cfg,
					    NULL), 0);
}

static void teardown(void)
{
	config_free(cfg);
	close(sink_fd);
}

static void make_records(struct flow_record *r, size_t n, const char *netns)
{
	size_t i;

	memset(r, 0, n * sizeof(*r));
	for (i = 0; i < n; i++) {
		r[i].ip_version = 4;
		r[i].src_addr[10] = r[i].src_addr[11] = 0xff;
		r[i].src_addr[15] = i;
		r[i].dst_addr[10] = r[i].dst_addr[11] = 0xff;
		r[i].proto = 17;
		r[i].packets = 1;
		r[i].octets = 100;
		r[i].end_reason = 4;
		r[i].netns = netns;
	}
}

/* Datagrams waiting on the sink (read and dropped). */
static unsigned int sink_drain_messages(void)
{
	unsigned char buf[65536];
	unsigned int n = 0;

	while (recv(sink_fd, buf, sizeof(buf), MSG_DONTWAIT) > 0)
		n++;
	return n;
}

START_TEST(every_record_sent_from_the_worker)
{
	struct ipfix_collector_stats st;
	struct ipfix_exporter *ex;
	struct ipfix_async *a;
	struct flow_record r[100];
	char netns[16];
	int i;

	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	ck_assert_int_eq(ipfix_async_create(ex, 0, &a), 0);
	for (i = 0; i < 50; i++) {
		/* the name's storage changes after each call: it is copied */
		snprintf(netns, sizeof(netns), "ns%d", i % 3);
		make_records(r, 100, netns);
		ck_assert_int_eq(ipfix_async_export(a, r, 100), 0);
		memset(netns, 'X', sizeof(netns) - 1);
	}
	ck_assert_int_eq(ipfix_async_flush(a, 1000), 0);
	ck_assert_uint_eq(ipfix_async_n_collectors(a), 1);
	ipfix_async_stats(a, 0, &st);
	ck_assert_uint_eq(st.records, 5000);
	ck_assert_uint_eq(st.records_not_sent, 0);
	ck_assert_uint_eq(ipfix_async_dropped(a), 0);
	ck_assert_uint_eq(sink_drain_messages(), st.messages);
	ipfix_async_destroy(a, 1000);
}
END_TEST

START_TEST(a_full_queue_drops_and_counts)
{
	struct ipfix_collector_stats st;
	struct ipfix_exporter *ex;
	struct ipfix_async *a;
	static struct flow_record r[2000];
	int i;

	ck_assert_int_eq(config_exporter_create(cfg, &ex), 0);
	/* room for one batch at a time */
	ck_assert_int_eq(ipfix_async_create(ex, 2000, &a), 0);
	make_records(r, 2000, NULL);
	for (i = 0; i < 20; i++)
		ipfix_async_export(a, r, 2000);
	ipfix_async_flush(a, 1000);
	ipfix_async_stats(a, 0, &st);
	/* whatever the timing: sent + dropped = offered, nothing unaccounted */
	ck_assert_uint_eq(st.records + st.records_not_sent + ipfix_async_dropped(a),
			  40000);
	ck_assert_uint_gt(st.records, 0);
	ipfix_async_destroy(a, 1000);
	sink_drain_messages();
}
END_TEST

static Suite *ipfix_async_suite(void)
{
	Suite *s = suite_create("ipfix_async");
	TCase *tc = tcase_create("worker");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, every_record_sent_from_the_worker);
	tcase_add_test(tc, a_full_queue_drops_and_counts);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ipfix_async_suite)
