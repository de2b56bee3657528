// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness: the agent's YAML config (lib/config/config.c) loaded from a
 * buffer with config_load_string(), the entry config_load_file() uses
 * after reading the file.  A bad file must give -EINVAL (or -ENOMEM) with a
 * "NAME:..." message and leak nothing (LeakSanitizer checks the error
 * paths); a good one must hold what the exporter relies on: every template
 * compiles and fits one message, collector addresses split, hooks have a
 * command or a shell body.
 *
 * CHECK_EMPTY_STRINGS: a quoted '' used to pass as a log file, hook
 * command or shell (finding config-3 of docs/fuzzing.md, fixed); with
 * quotes in command: it is also '' as the program name.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "hostport.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NAME "fuzz.yaml"
#define CHECK_EMPTY_STRINGS 1	/* config-3, fixed */

static void check_good(const struct flowctl_config *cfg)
{
	struct ipfix_plan plan;
	char host[256];
	uint16_t port;
	size_t i, j;

	if (!cfg->max_ipfix_message_len ||
	    cfg->max_ipfix_message_len > IPFIX_MAX_MSG_LEN)
		abort();
	for (i = 0; i < cfg->n_templates; i++) {
		const struct config_template *t = &cfg->templates[i];
		unsigned int rec;

		if (config_template_plan(cfg, t->id, &plan))
			abort();	/* accepted but does not compile */
		rec = plan.template_record_len > plan.max_record_len ?
			plan.template_record_len : plan.max_record_len;
		if (IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN + rec >
		    cfg->max_ipfix_message_len)
			abort();	/* accepted but never fits */
	}
	for (i = 0; i < cfg->n_collectors; i++) {
		const struct config_collector *c = &cfg->collectors[i];

		if (!c->remote_address ||
		    hostport_parse(c->remote_address, host, sizeof(host),
				   &port))
			abort();
	}
	for (i = 0; i < cfg->n_logs; i++) {
		const struct config_log *l = &cfg->logs[i];

		if (!l->file || (CHECK_EMPTY_STRINGS && !*l->file))
			abort();
		for (j = 0; j < l->n_hooks; j++) {
			const struct config_hook *h = &l->hooks[j];

			if (!!h->argv == !!h->shell)
				abort();	/* exactly one of them */
			if (h->argv && (!h->argv[0] ||
					(CHECK_EMPTY_STRINGS && !*h->argv[0])))
				abort();	/* an empty command */
			if (CHECK_EMPTY_STRINGS && h->shell && !*h->shell)
				abort();
		}
	}
	for (i = 0; i < cfg->n_interfaces; i++)
		if (!cfg->interfaces[i])
			abort();
	(void)config_obs_domain_id(cfg, NULL);
	(void)config_obs_domain_id(cfg, "ns0");
	for (i = 0; i < cfg->n_enterprise_ies; i++)
		if (config_ie_by_name(cfg, cfg->enterprise_ies[i].name) !=
		    &cfg->enterprise_ies[i])
			abort();	/* a name declared twice */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flowctl_config *cfg = (void *)1;
	struct yaml_error err;
	int ret;

	log_set_level(LOG_LVL_ERROR);
	ret = config_load_string(NAME, (const char *)data, size, &cfg, &err);
	if (ret) {
		if (cfg)
			abort();	/* *out must be NULL on error */
		if (ret != -EINVAL && ret != -ENOMEM)
			abort();
		if (strncmp(err.text, NAME ":", strlen(NAME ":")))
			abort();	/* a message that does not say where */
		return 0;
	}
	if (!cfg)
		abort();
	check_good(cfg);
	config_free(cfg);
	return 0;
}
