// SPDX-License-Identifier: Apache-2.0
/*
 * udp_flood: the sender of scripts/bench-forward.sh (not a benchmark of
 * its own).  Sends small UDP datagrams to DST:PORT as fast as it can for
 * SECONDS, with sendmmsg() in batches of 64, round-robin over NFLOWS
 * sockets (one source port each: NFLOWS flows), and prints
 *   sent=N cpu_s=C
 * C: its own CPU time (user + system), which includes the softirq work
 * the kernel did in its context (the forwarding through veth pairs runs
 * there).
 * Usage: udp_flood DST PORT SECONDS [PAYLOAD_BYTES [NFLOWS]]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"

#define BATCH	64
#define FLOWS_MAX 256

int main(int argc, char **argv)
{
	static char payload[1472];
	struct mmsghdr mm[BATCH];
	struct iovec iov[BATCH];
	struct sockaddr_in dst = { .sin_family = AF_INET };
	int fds[FLOWS_MAX], nflows = 16, i, f = 0;
	unsigned long long sent = 0;
	size_t len = 18;
	double secs, end;
	struct rusage ru;

	if (argc < 4 || inet_pton(AF_INET, argv[1], &dst.sin_addr) != 1) {
		fprintf(stderr, "usage: udp_flood DST PORT SECONDS [PAYLOAD_BYTES [NFLOWS]]\n");
		return 2;
	}
	dst.sin_port = htons(atoi(argv[2]));
	secs = atof(argv[3]);
	if (argc > 4)
		len = strtoul(argv[4], NULL, 0);
	if (argc > 5)
		nflows = atoi(argv[5]);
	if (len > sizeof(payload) || nflows < 1 || nflows > FLOWS_MAX) {
		fprintf(stderr, "udp_flood: payload at most %zu bytes, 1 to %d flows\n",
			sizeof(payload), FLOWS_MAX);
		return 2;
	}
	for (i = 0; i < nflows; i++) {
		fds[i] = socket(AF_INET, SOCK_DGRAM, 0);
		if (fds[i] < 0 || connect(fds[i], (struct sockaddr *)&dst,
					  sizeof(dst))) {
			perror("udp_flood: socket");
			return 1;
		}
	}
	memset(mm, 0, sizeof(mm));
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = payload;
		iov[i].iov_len = len;
		mm[i].msg_hdr.msg_iov = &iov[i];
		mm[i].msg_hdr.msg_iovlen = 1;
	}
	end = clock_mono_s() + secs;
	while (clock_mono_s() < end) {
		int n = sendmmsg(fds[f], mm, BATCH, 0);

		if (n > 0)
			sent += n;
		else if (errno != ENOBUFS && errno != EAGAIN &&
			 errno != ECONNREFUSED) {
			perror("udp_flood: sendmmsg");
			return 1;
		}
		f = (f + 1) % nflows;
	}
	getrusage(RUSAGE_SELF, &ru);
	printf("sent=%llu cpu_s=%.3f\n", sent,
	       ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6);
	return 0;
}
