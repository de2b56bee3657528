/* SPDX-License-Identifier: Apache-2.0 */
/*
 * flowctl agent: the exporter daemon.  One event loop (epoll) over a scan
 * timer, the meter's map-full events, the IPFIX exporter's sockets and the
 * signals; the flow log writes from its own worker thread and the metrics
 * server answers from libmicrohttpd's.
 */
#ifndef FLOWCTL_AGENT_H
#define FLOWCTL_AGENT_H

#include <stdbool.h>

struct agent_opts {
	const char *config;	/* path, or NULL: the embedded default */
	bool config_from_cwd;	/* config is CONFIG_CWD_FILE, found (no -c) */
	const char *pin_root;	/* NULL: FLOW_PIN_ROOT ($FLOWCTL_PIN_ROOT) */
	const char *state_dir;	/* NULL: FLOW_TABLE_STATE_DIR */
	const char *metrics_address;	/* overrides the config's, or NULL */
	bool no_attach;		/* ignore the config's interfaces */
	bool no_journal;	/* no crash journal (docs/flowcache.md) */
};

/*
 * Run until SIGTERM/SIGINT.  Returns 0; -FLOWCTL_EREQUEST (error.h) for
 * a config, address or interface the user must change; or -errno (all
 * said).
 */
int agent_run(const struct agent_opts *opts);

/*
 * For the commands that change the pinned flow tables (flush):
 * hold the agent lock of PIN_ROOT (NULL: flow_pin_root's choice) for the
 * command's duration, so that it neither races a running agent nor one
 * started meanwhile (that one refuses to start).  Returns the fd to close
 * when done; -ENOENT: no pin root (nothing metered, nothing to lock);
 * -EBUSY: an agent runs (said, with its pid and WHAT); or -errno (said).
 */
int agent_lock_exclude(const char *pin_root, const char *what);

#endif
