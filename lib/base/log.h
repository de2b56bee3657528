/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Logging.  Text to stderr for the CLI ("flowctl: error: ..."), or one JSON
 * object per line ({"level":..,"ts":..,"msg":..}) for the agent.  libbpf's
 * own messages are routed here one level lower.
 */
#ifndef FLOWCTL_LOG_H
#define FLOWCTL_LOG_H

#include <stdbool.h>

enum log_level {
	LOG_LVL_ERROR = 0,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);
/* Parse "error|warn|info|debug"; -EINVAL when unknown. */
int log_level_parse(const char *s, enum log_level *lvl);
void log_set_json(bool json);
bool log_is_json(void);
/* Route libbpf's print callback into this logger. */
void log_setup_libbpf(void);

void log_msg(enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...)	log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define pr_warn(...)	log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define pr_info(...)	log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define pr_debug(...)	log_msg(LOG_LVL_DEBUG, __VA_ARGS__)

/* Write S as a JSON string (quoted, escaped) into BUF; returns length. */
int json_escape(char *buf, int size, const char *s);

#endif
