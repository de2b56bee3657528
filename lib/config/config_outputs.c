// SPDX-License-Identifier: Apache-2.0
/*
 * The config as the parameters of the modules below it (the flow cache,
 * the IPFIX exporter, the flow logs): they know nothing of the config;
 * this is the one place that reads it for them.
 */
#include <errno.h>
#include <stdlib.h>

#include "config.h"
#include "flow_cache.h"
#include "flowlog.h"
#include "hooks.h"
#include "ipfix_export.h"

void config_cache_params(const struct flowctl_config *cfg,
			 struct flow_cache_params *p)
{
	/* loading applied the defaults: every timer is set (and at least 1)
	 * but the finished drain, whose 0 keeps the cache's default */
	p->idle_timeout_ms = cfg->idle_timeout_s * 1000;
	p->active_timeout_ms = cfg->active_timeout_s * 1000;
	if (cfg->timer_finished_drain_s)
		p->finished_drain_ms = cfg->timer_finished_drain_s * 1000;
	p->scan_interval_ms = cfg->scan_interval_ms;
}

int config_exporter_create(const struct flowctl_config *cfg,
			   struct ipfix_exporter **out)
{
	struct ipfix_exporter_params p = {
		.n_collectors = cfg->n_collectors,
		.n_plans = cfg->n_templates,
		.flow_template_v4 = cfg->flow_templates.ipv4,
		.flow_template_v6 = cfg->flow_templates.ipv6,
		.max_msg_len = cfg->max_ipfix_message_len,
		.template_refresh_s = cfg->timer_template_flush_s,
		.exporting_process_id = cfg->exporting_process_id,
		.obs_domain_id_set = cfg->obs_domain_id_set,
		.obs_domain_id = cfg->obs_domain_id,
	};
	struct ipfix_collector_params *colls;
	struct ipfix_plan *plans;
	size_t i;
	int ret = -ENOMEM;

	*out = NULL;
	colls = calloc(cfg->n_collectors ?: 1, sizeof(*colls));
	plans = calloc(cfg->n_templates ?: 1, sizeof(*plans));
	if (!colls || !plans)
		goto out;
	for (i = 0; i < cfg->n_collectors; i++) {
		const struct config_collector *c = &cfg->collectors[i];

		colls[i] = (struct ipfix_collector_params){
			.remote_address = c->remote_address,
			.local_address = c->local_address,
			.transport = c->transport,
			.udp_segmentation = c->udp_segmentation,
			.reconnect_interval_s = c->reconnect_interval_s,
		};
	}
	for (i = 0; i < cfg->n_templates; i++) {
		ret = config_template_plan(cfg, cfg->templates[i].id,
					   &plans[i]);
		if (ret)
			goto out;
	}
	p.collectors = colls;
	p.plans = plans;
	ret = ipfix_exporter_create(&p, out);
out:
	free(plans);
	free(colls);
	return ret;
}

int config_flowlog_open(const struct flowctl_config *cfg,
			const struct config_log *lc, bool async,
			struct flowlog **fl)
{
	struct hook_spec *hooks = NULL;
	struct flowlog_config c = { 0 };
	size_t i;
	int err;

	if (lc->n_hooks) {
		hooks = calloc(lc->n_hooks, sizeof(*hooks));
		if (!hooks)
			return -ENOMEM;
	}
	for (i = 0; i < lc->n_hooks; i++) {
		hooks[i].name = lc->hooks[i].name;
		hooks[i].kind = lc->hooks[i].shell ? HOOK_SHELL : HOOK_COMMAND;
		hooks[i].argv = lc->hooks[i].argv;
		hooks[i].shell = lc->hooks[i].shell;
	}
	c.path = lc->file;
	c.hooks = hooks;
	c.n_hooks = lc->n_hooks;
	c.hook_timeout_ms = cfg->hook_timeout_s * 1000;
	c.async = async;
	err = flowlog_open(fl, &c);
	free(hooks);
	return err;
}
