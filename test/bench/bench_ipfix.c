// SPDX-License-Identifier: Apache-2.0
/*
 * IPFIX encoder throughput: records per second encoded into full messages
 * (message header with sequence number, set headers, records; no socket)
 * for a 10-field IPv4 and a 12-field IPv6 template, side by side with a
 * plain memcpy of the same record bytes into the same message buffers.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "ipfix.h"

#define N_RECORDS	4096		/* distinct records cycled through */
#define MSG_LEN		1400
#define TARGET_RPS	20e6

static void fill(struct flow_record *r, int version)
{
	int i;

	memset(r, 0, N_RECORDS * sizeof(*r));
	for (i = 0; i < N_RECORDS; i++) {
		r[i].ip_version = version;
		r[i].src_addr[0] = 0xfd;
		r[i].src_addr[10] = 0xff;
		r[i].src_addr[11] = 0xff;
		r[i].src_addr[14] = i >> 8;
		r[i].src_addr[15] = i;
		r[i].dst_addr[15] = 1;
		r[i].sport = 1024 + i;
		r[i].dport = 443;
		r[i].proto = 6;
		r[i].packets = 10 + i;
		r[i].octets = 1500 * (10 + i);
		r[i].start_ns = 1700000000000000000ULL + i * 1000ULL;
		r[i].end_ns = r[i].start_ns + 5000000000ULL;
		r[i].ingress_ifindex = 2;
		r[i].egress_ifindex = 3;
		r[i].tcp_flags = 0x1b;
	}
}

static int compile(struct ipfix_plan *p, const uint16_t *ids, unsigned int n)
{
	struct ipfix_field f[IPFIX_MAX_FIELDS];
	unsigned int i;

	for (i = 0; i < n; i++) {
		f[i].ie = ipfix_ie_by_id(ids[i]);
		f[i].length = f[i].ie->length;
	}
	return ipfix_plan_compile(p, 256, f, n, 0);
}

/* Encode COUNT records into messages; returns a checksum. */
static uint64_t run_encode(const struct ipfix_plan *p,
			   const struct flow_record *recs, uint64_t count,
			   uint8_t *buf)
{
	struct ipfix_msg m;
	uint64_t i, sum = 0;
	uint32_t seq = 0;

	ipfix_msg_begin(&m, buf, MSG_LEN, 1);
	for (i = 0; i < count; i++) {
		const struct flow_record *r = &recs[i & (N_RECORDS - 1)];

		if (ipfix_msg_add_record(&m, p, r)) {
			sum += ipfix_msg_finish(&m, 1700000000, seq);
			sum += buf[m.len - 1];
			seq += m.n_data;
			ipfix_msg_begin(&m, buf, MSG_LEN, 1);
			ipfix_msg_add_record(&m, p, r);
		}
	}
	return sum + ipfix_msg_finish(&m, 1700000000, seq);
}

/* The same bytes, copied: pre-encoded records memcpy'd into messages of
 * the same size, with the same header and set header writes. */
static uint64_t run_memcpy(const uint8_t *encoded, size_t rec_len,
			   uint64_t count, uint8_t *buf)
{
	size_t per_msg = (MSG_LEN - IPFIX_MSG_HDR_LEN - IPFIX_SET_HDR_LEN) /
			 rec_len;
	size_t len = IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN, n = 0;
	uint64_t i, sum = 0;

	for (i = 0; i < count; i++) {
		if (n == per_msg) {
			memset(buf, 0, IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN);
			sum += len + buf[len - 1];
			len = IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN;
			n = 0;
		}
		memcpy(buf + len,
		       encoded + (i & (N_RECORDS - 1)) * rec_len, rec_len);
		len += rec_len;
		n++;
	}
	return sum;
}

static int bench(const char *name, const uint16_t *ids, unsigned int n,
		 int version)
{
	static struct flow_record recs[N_RECORDS];
	static uint8_t buf[MSG_LEN], *encoded;
	const uint64_t count = 20000000;
	struct ipfix_plan plan;
	double t0, t_enc, t_cpy, best_enc = 1e9, best_cpy = 1e9;
	volatile uint64_t sink = 0;
	int i, rep;

	if (compile(&plan, ids, n))
		return 1;
	fill(recs, version);
	encoded = malloc((size_t)N_RECORDS * plan.min_record_len);
	if (!encoded)
		return 1;
	for (i = 0; i < N_RECORDS; i++)
		ipfix_plan_encode(&plan, &recs[i],
				  encoded + (size_t)i * plan.min_record_len);
	/* best of 3, alternating, so both see the same machine state */
	for (rep = 0; rep < 3; rep++) {
		t0 = clock_mono_s();
		sink += run_encode(&plan, recs, count, buf);
		t_enc = clock_mono_s() - t0;
		t0 = clock_mono_s();
		sink += run_memcpy(encoded, plan.min_record_len, count, buf);
		t_cpy = clock_mono_s() - t0;
		if (t_enc < best_enc)
			best_enc = t_enc;
		if (t_cpy < best_cpy)
			best_cpy = t_cpy;
	}
	printf("%-5s %2u fields %3u B/record: encode %6.1f M records/s (%5.1f ns), memcpy %6.1f M records/s (%5.1f ns), encode/memcpy %.2fx %s\n",
	       name, n, plan.min_record_len, count / best_enc / 1e6,
	       best_enc / count * 1e9, count / best_cpy / 1e6,
	       best_cpy / count * 1e9, best_enc / best_cpy,
	       count / best_enc >= TARGET_RPS ? "(>= 20 M/s target)" :
					       "(BELOW the 20 M/s target)");
	free(encoded);
	(void)sink;
	return 0;
}

int main(void)
{
	static const uint16_t v4[] = {
		8, 12, 7, 11, 4, 1, 2, 152, 153, 10,
	};
	static const uint16_t v6[] = {
		27, 28, 7, 11, 4, 1, 2, 152, 153, 10, 14, 6,
	};
	int ret = 0;

	/* a benchmark, not a timed test: it fails only when it cannot run */
	printf("IPFIX encoder, one core, %d-octet messages, headers and sequence numbers included\n",
	       MSG_LEN);
	ret |= bench("IPv4", v4, 10, 4);
	ret |= bench("IPv6", v6, 12, 6);
	return ret;
}
