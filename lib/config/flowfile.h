/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Flow files: the YAML the original's dummy-data transmitter sends
 * (`flowctl ipfix file`):
 *
 *   flowsets:
 *   - templateId: 1024
 *     flows:
 *     - {sourceIPv4Address: 10.1.0.1, octetDeltaCount: 0x100, ...}
 *
 * Each flow is encoded once, at load, into the data record of its template
 * (fields the flow leaves out are zero).
 */
#ifndef FLOWCTL_FLOWFILE_H
#define FLOWCTL_FLOWFILE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ipfix.h"
#include "yaml_doc.h"

/* What one flow file may hold once encoded, aliases included: the flows
 * are all kept in memory before the first is sent. */
#define FLOWFILE_MAX_RECORDS	1000000
#define FLOWFILE_MAX_BYTES	(128U << 20)

struct flowfile_record {
	uint16_t len;
	uint8_t *data;		/* the data record, network byte order */
};

struct flowfile_set {
	uint16_t template_id;
	size_t n_records;
	struct flowfile_record *records;
};

struct flowfile {
	size_t n_records;		/* in all sets */
	size_t n_bytes;			/* of all records */
	size_t n_sets;
	struct flowfile_set *sets;
};

/*
 * Load PATH, encoding each flow with the template of CFG it names
 * (configured, or the built-in 65280/65281).  ERR as in config_load_file.
 */
int flowfile_load(const char *path, const struct flowctl_config *cfg,
		  struct flowfile **out, struct yaml_error *err);
int flowfile_load_string(const char *name, const char *text, size_t len,
			 const struct flowctl_config *cfg,
			 struct flowfile **out, struct yaml_error *err);
void flowfile_free(struct flowfile *f);

/*
 * Encode TEXT as a value of IE in a field of LENGTH octets (IPFIX_VARLEN:
 * with its length prefix) into OUT (room for 3 + 65535 octets).  Accepts
 * decimal and 0x hexadecimal numbers, dotted IPv4 and IPv6 notation, MAC
 * addresses, true/false; dateTime values are unix time in the element's
 * unit (dateTimeMicro/Nanoseconds are converted to the NTP format).
 * Returns the encoded length or -EINVAL / -ERANGE.
 */
int ipfix_value_encode(const struct ipfix_ie *ie, uint16_t length,
		       const char *text, uint8_t *out);

#endif
