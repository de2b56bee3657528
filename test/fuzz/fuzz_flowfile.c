// SPDX-License-Identifier: Apache-2.0
/*
 * libFuzzer harness: flow files (lib/config/flowfile.c, `flowctl ipfix file`)
 * loaded with flowfile_load_string() against one fixed config with
 * templates of every value kind the encoder has (integers and reduced
 * sizes, addresses, MAC, date-times, strings and octet arrays of fixed and
 * variable length, an enterprise element).  A bad file must give an error
 * message and leak nothing; every record of a good one must be exactly one
 * data record of its template (walked field by field here, variable-length
 * prefixes included) and fit one message.
 *
 * Known bugs worked around here (remove when fixed):
 *  - encode_flow() writes a value into its static buffer before checking
 *    the record still fits (a 65000-byte string after a 1000-byte one
 *    overflows it): inputs are capped at MAX_INPUT, far below what the
 *    overflow needs.
 *  - YAML aliases multiply: flowsets: [*s, *s, ...] of a set whose flows
 *    are [*f, *f, ...] encode N*M records from N+M aliases; inputs with more
 *    than MAX_ALIASES '*' characters are skipped.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "flowfile.h"
#include "log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

#define NAME		"fuzz-flows.yaml"
#define MAX_INPUT	32768
#define MAX_ALIASES	64

static const char config_text[] =
	"maxIpfixMessageLen: 65535\n"
	"enterpriseElements:\n"
	"- {name: netnsName, enterpriseNumber: 99999, id: 1, source: netns}\n"
	"- {name: skbMark, enterpriseNumber: 99999, id: 2, source: mark}\n"
	"templates:\n"
	"- id: 1024\n"
	"  template:\n"
	"  - name: SourceIPv4Address\n"
	"  - name: DestinationIPv4Address\n"
	"  - name: ProtocolIdentifier\n"
	"  - name: SourceTransportPort\n"
	"  - name: DestinationTransportPort\n"
	"  - name: PacketDeltaCount\n"
	"  - {name: OctetDeltaCount, length: 4}\n"
	"- id: 1025\n"
	"  template:\n"
	"  - name: sourceIPv6Address\n"
	"  - name: flowStartNanoseconds\n"
	"  - name: flowStartMicroseconds\n"
	"  - name: flowStartMilliseconds\n"
	"  - name: flowStartSeconds\n"
	"  - name: tcpControlBits\n"
	"  - name: netnsName\n"
	"  - name: skbMark\n"
	"  - name: sourceMacAddress\n"
	"- id: 1026\n"
	"  template:\n"
	"  - name: interfaceName\n"
	"  - {name: interfaceDescription, length: 16}\n"
	"  - name: paddingOctets\n"
	"  - {name: packetDeltaCount, length: 2}\n"
	"  - {name: egressInterface, length: 1}\n"
	"  - name: destinationIPv6Address\n";

static struct flowctl_config *cfg;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct yaml_error err;

	log_set_level(LOG_LVL_ERROR);
	if (config_load_string("fuzz-config.yaml", config_text,
			       strlen(config_text), &cfg, &err))
		abort();
	return 0;
}

/* Walk REC as one data record of PLAN: its length must come out exact. */
static void check_record(const struct ipfix_plan *plan,
			 const struct flowfile_record *rec)
{
	size_t off = 0;
	unsigned int i;

	for (i = 0; i < plan->n_fields; i++) {
		size_t n = plan->fields[i].length;

		if (n == IPFIX_VARLEN) {
			if (off + 1 > rec->len)
				abort();
			n = rec->data[off++];
			if (n == 255) {
				if (off + 2 > rec->len)
					abort();
				n = (size_t)rec->data[off] << 8 |
				    rec->data[off + 1];
				off += 2;
			}
		}
		off += n;
		if (off > rec->len)
			abort();
	}
	if (off != rec->len)
		abort();
	if (rec->len + IPFIX_MSG_HDR_LEN + IPFIX_SET_HDR_LEN >
	    cfg->max_ipfix_message_len)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct flowfile *ff = (void *)1;
	struct yaml_error err;
	size_t i, j, stars = 0;
	int ret;

	if (size > MAX_INPUT)
		return 0;	/* see the encode_flow overflow above */
	for (i = 0; i < size; i++)
		stars += data[i] == '*';
	if (stars > MAX_ALIASES)
		return 0;	/* see the alias blowup above */

	ret = flowfile_load_string(NAME, (const char *)data, size, cfg, &ff,
				   &err);
	if (ret) {
		if (ff)
			abort();
		if (ret != -EINVAL && ret != -ENOMEM)
			abort();
		if (strncmp(err.text, NAME ":", strlen(NAME ":")))
			abort();
		return 0;
	}
	for (i = 0; i < ff->n_sets; i++) {
		const struct flowfile_set *s = &ff->sets[i];
		struct ipfix_plan plan;

		if (config_template_plan(cfg, s->template_id, &plan))
			abort();
		for (j = 0; j < s->n_records; j++)
			check_record(&plan, &s->records[j]);
	}
	flowfile_free(ff);
	return 0;
}
