/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's YAML configuration (docs/config.md): the original tool's keys
 * unchanged (maxIpfixMessageLen, timer*, outputs, templates, and the older
 * collectors: form) plus flowctl's own optional keys, loaded through
 * libcyaml schemas.  Loading checks everything it can; a bad file gives one
 * message "FILE:LINE:COL: what was expected"; unknown keys are warnings.
 */
#ifndef FLOWCTL_CONFIG_H
#define FLOWCTL_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipfix.h"
#include "ipfix_export.h"
#include "ipfix_ie.h"
#include "yaml_doc.h"

/* Defaults (docs/config.md); the flow cache's timers (idle, active,
 * finished drain, scan interval) are the cache's own FLOW_CACHE_*. */
#define CONFIG_DEFAULT_MAX_MSG_LEN		1400
#define CONFIG_DEFAULT_TEMPLATE_FLUSH_S		60
#define CONFIG_DEFAULT_HOOK_TIMEOUT_S		10
#define CONFIG_DEFAULT_RECONNECT_S		60
#define CONFIG_DEFAULT_FILE			"templates/config.yaml"
/* What the original read without -c (agent, ipfix file/dump): the agent
 * falls back to the embedded default when it does not exist. */
#define CONFIG_CWD_FILE				"./config.yaml"
#define CONFIG_CWD_FLOW_FILE			"./flow.yaml"

/* Sizes of a config: one template per id (256..65279), at most 60 fields
 * each (IPFIX_MAX_FIELDS); enterprise elements, of which there are only a
 * few sources to draw on. */
#define CONFIG_MAX_TEMPLATES \
	(IPFIX_TID_CONFIG_MAX - IPFIX_MIN_DATA_SET_ID + 1)
#define CONFIG_MAX_ENTERPRISE_IES		1024

struct config_collector {
	char *remote_address;		/* "host:port", "[v6]:port" */
	char *local_address;		/* or NULL */
	enum ipfix_transport transport;
	uint32_t reconnect_interval_s;	/* TCP */
	bool udp_segmentation;		/* UDP: runs as UDP_SEGMENT sends */
	int line;			/* where it was declared */
};

struct config_hook {
	char *name;			/* or NULL */
	char **argv;			/* command: NULL-terminated, or NULL */
	char *shell;			/* shell: script body, or NULL */
};

struct config_log {
	char *file;
	struct config_hook *hooks;
	size_t n_hooks;
};

struct config_template {
	uint16_t id;
	unsigned int n_fields;
	struct ipfix_field fields[IPFIX_MAX_FIELDS];
	int line;
	int col;
};

struct flowctl_config {
	char *file;			/* as given (messages) */

	/* the original's keys */
	uint32_t max_ipfix_message_len;
	uint32_t timer_finished_drain_s;
	uint32_t timer_force_drain_s;	/* 0 when not given */
	uint32_t timer_template_flush_s;

	/* flowctl's own keys */
	uint32_t idle_timeout_s;
	uint32_t active_timeout_s;
	uint32_t scan_interval_ms;
	uint32_t drain_threads;		/* drainThreads: 0 = one per CPU */
	uint32_t hook_timeout_s;
	bool obs_domain_id_set;		/* observationDomainId given */
	uint32_t obs_domain_id;
	uint32_t exporting_process_id;	/* default: the process id */
	bool exporting_process_id_set;
	char *metrics_address;
	char **interfaces;		/* "NETNS:DEV" strings */
	size_t n_interfaces;

	struct config_collector *collectors;
	size_t n_collectors;
	struct config_log *logs;
	size_t n_logs;
	struct config_template *templates;
	size_t n_templates;
	/* flowTemplates: the template of kernel flows per IP version, a
	 * configured one without addresses of the other version; 0 when
	 * not given: the one with the most measured fields
	 * (ipfix_plan_choose) */
	struct {
		uint16_t ipv4;
		uint16_t ipv6;
	} flow_templates;
	uint16_t *template_order;	/* indices into templates, by id */
	/* enterprise-specific elements declared in enterpriseElements */
	struct ipfix_ie *enterprise_ies;
	size_t n_enterprise_ies;
	const struct ipfix_ie **enterprise_by_name;	/* sorted */
};

/*
 * Load a config.  ERR (optional) receives the message of a bad file; when
 * ERR is NULL the message is printed with pr_err.  Returns 0, -EINVAL for
 * a bad file, or -errno when it cannot be read.  Free with config_free().
 */
int config_load_file(const char *path, struct flowctl_config **out,
		     struct yaml_error *err);
int config_load_string(const char *name, const char *text, size_t len,
		       struct flowctl_config **out, struct yaml_error *err);
/* The embedded default (templates/config.yaml compiled into flowctl). */
int config_load_default(struct flowctl_config **out, struct yaml_error *err);
void config_free(struct flowctl_config *cfg);

/* An element by name for this config: its enterprise elements first, then
 * the IANA registry (case-insensitive); NULL when unknown. */
const struct ipfix_ie *config_ie_by_name(const struct flowctl_config *cfg,
					 const char *name);

/*
 * The observation domain of flows metered in network namespace NETNS
 * (NULL or "DEFAULT": the root namespace): observationDomainId when the
 * config sets it, else a stable id derived from the namespace name.
 */
uint32_t config_obs_domain_id(const struct flowctl_config *cfg,
			      const char *netns);


/*
 * Compile template ID of CFG into PLAN, as the exporter does: a configured
 * template, or one of the built-in ones (IPFIX_TID_*).  -ENOENT when CFG
 * has no such template.
 */
int config_template_plan(const struct flowctl_config *cfg, uint16_t id,
			 struct ipfix_plan *plan);

/* Whether CFG configures template ID (templates:). */
bool config_is_template(const struct flowctl_config *cfg, uint16_t id);

/*
 * The exporter of CFG: its collectors, templates (compiled here) and
 * timers as struct ipfix_exporter_params; ipfix_exporter_create()'s
 * errors.  CFG must outlive the exporter (its address strings).
 */
int config_exporter_create(const struct flowctl_config *cfg,
			   struct ipfix_exporter **out);

/* The flow cache's timers from CFG into P (after flow_cache_params_init;
 * emit and the rest are left to the caller). */
struct flow_cache_params;
void config_cache_params(const struct flowctl_config *cfg,
			 struct flow_cache_params *p);

/*
 * Open the flow log LC of CFG (its hooks, the config's hook timeout);
 * ASYNC: with a writer thread (the agent), else writes in flowlog_submit
 * (one-shot commands).  flowlog_open's errors.
 */
struct flowlog;
int config_flowlog_open(const struct flowctl_config *cfg,
			const struct config_log *lc, bool async,
			struct flowlog **fl);

#endif
