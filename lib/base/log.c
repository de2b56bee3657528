// SPDX-License-Identifier: Apache-2.0
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>

static enum log_level cur_level = LOG_LVL_INFO;
static bool log_json;

static const char *const level_names[] = {
	[LOG_LVL_ERROR] = "error",
	[LOG_LVL_WARN] = "warn",
	[LOG_LVL_INFO] = "info",
	[LOG_LVL_DEBUG] = "debug",
};

void log_set_level(enum log_level lvl)
{
	cur_level = lvl;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

int log_level_parse(const char *s, enum log_level *lvl)
{
	unsigned int i;

	for (i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*lvl = i;
			return 0;
		}
	}
	if (strcmp(s, "warning") == 0) {
		*lvl = LOG_LVL_WARN;
		return 0;
	}
	return -EINVAL;
}

void log_set_json(bool json)
{
	log_json = json;
}

bool log_is_json(void)
{
	return log_json;
}

int json_escape(char *buf, int size, const char *s)
{
	int n = 0;

#define PUT(c) do { if (n < size - 1) buf[n] = (c); n++; } while (0)
	PUT('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\') {
			PUT('\\');
			PUT(c);
		} else if (c == '\n') {
			PUT('\\');
			PUT('n');
		} else if (c == '\t') {
			PUT('\\');
			PUT('t');
		} else if (c < 0x20) {
			char esc[8];
			int i;

			snprintf(esc, sizeof(esc), "\\u%04x", c);
			for (i = 0; esc[i]; i++)
				PUT(esc[i]);
		} else {
			PUT(c);
		}
	}
	PUT('"');
#undef PUT
	if (size > 0)
		buf[n < size ? n : size - 1] = '\0';
	return n;
}

__attribute__((format(printf, 2, 0)))
static void log_vmsg(enum log_level lvl, const char *fmt, va_list ap)
{
	char msg[4096];
	int saved = errno;

	if (lvl > cur_level)
		return;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	/* one line per message: strip the trailing newline */
	size_t len = strlen(msg);
	while (len && msg[len - 1] == '\n')
		msg[--len] = '\0';

	if (log_json) {
		char esc[8192];
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		json_escape(esc, sizeof(esc), msg);
		fprintf(stderr, "{\"level\":\"%s\",\"ts\":%lld.%03ld,\"msg\":%s}\n",
			level_names[lvl], (long long)ts.tv_sec,
			ts.tv_nsec / 1000000, esc);
	} else if (lvl == LOG_LVL_INFO) {
		fprintf(stderr, "%s\n", msg);
	} else {
		fprintf(stderr, "flowctl: %s: %s\n", level_names[lvl], msg);
	}
	errno = saved;
}

void log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(lvl, fmt, ap);
	va_end(ap);
}

__attribute__((format(printf, 2, 0)))
static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	/* libbpf's messages go one level lower than their own label. */
	enum log_level lvl = level == LIBBPF_WARN ? LOG_LVL_INFO : LOG_LVL_DEBUG;

	if (lvl > cur_level)
		return 0;
	log_vmsg(lvl, fmt, ap);
	return 0;
}

void log_setup_libbpf(void)
{
	libbpf_set_print(libbpf_print);
}
