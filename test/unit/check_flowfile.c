// SPDX-License-Identifier: Apache-2.0
/*
 * Flow files against hostile and oversized input: records longer than any
 * message, variable-length prefixes at their limits, alias bombs.  Every
 * file here is built in memory; the loaders must refuse with FILE:LINE and
 * never write past a buffer (run under VARIANT=san too).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "config.h"
#include "flowfile.h"

static struct flowctl_config *load_config(const char *text)
{
	struct flowctl_config *cfg = NULL;
	struct yaml_error err;
	int ret;

	ret = config_load_string("test.yaml", text, strlen(text), &cfg, &err);
	ck_assert_msg(ret == 0, "%s", err.text);
	return cfg;
}

static char *repeat(char c, size_t n)
{
	char *s = malloc(n + 1);

	ck_assert_ptr_nonnull(s);
	memset(s, c, n);
	s[n] = 0;
	return s;
}

/* A flow file with one flow of interfaceName and interfaceDescription
 * values of NAME and DESCR characters (the flow is at line 4). */
static int load_two_strings(const struct flowctl_config *cfg, size_t name,
			    size_t descr, struct flowfile **ff,
			    struct yaml_error *err)
{
	char *a = repeat('a', name), *b = repeat('b', descr), *text;
	int ret;

	ck_assert_int_gt(asprintf(&text,
				  "flowsets:\n"
				  "- templateId: 1024\n"
				  "  flows:\n"
				  "  - interfaceName: %s\n"
				  "    interfaceDescription: %s\n", a, b), 0);
	ret = flowfile_load_string("flows.yaml", text, strlen(text), cfg, ff,
				   err);
	free(text);
	free(a);
	free(b);
	return ret;
}

#define TWO_STRINGS_TEMPLATE						\
	"collectors:\n"							\
	"- address: 127.0.0.1:4739\n"					\
	"templates:\n"							\
	"- id: 1024\n"							\
	"  template: [{name: interfaceName}, {name: interfaceDescription}]\n"

/* 1000 + 65000 octets used to write past the static record buffer. */
START_TEST(test_record_longer_than_message)
{
	struct flowctl_config *cfg = load_config(TWO_STRINGS_TEMPLATE);
	struct flowfile *ff = (void *)1;
	struct yaml_error err;

	ck_assert_int_eq(load_two_strings(cfg, 1000, 65000, &ff, &err),
			 -EINVAL);
	ck_assert_ptr_null(ff);
	ck_assert_int_eq(err.line, 4);
	ck_assert_msg(strstr(err.text, "flows.yaml:4:5: flow: the record is 66006 octets") &&
		      strstr(err.text, "maxIpfixMessageLen 1400"), "%s",
		      err.text);
	config_free(cfg);
}
END_TEST

/* 30000 + 60000 octets with maxIpfixMessageLen 65535: was a SIGSEGV. */
START_TEST(test_record_longer_than_largest_message)
{
	struct flowctl_config *cfg = load_config("maxIpfixMessageLen: 65535\n"
						 TWO_STRINGS_TEMPLATE);
	struct flowfile *ff = (void *)1;
	struct yaml_error err;

	ck_assert_int_eq(load_two_strings(cfg, 30000, 60000, &ff, &err),
			 -EINVAL);
	ck_assert_ptr_null(ff);
	ck_assert_int_eq(err.line, 4);
	ck_assert_msg(strstr(err.text, "the record is 90006 octets") &&
		      strstr(err.text, "at most 65515 octets"), "%s",
		      err.text);
	config_free(cfg);
}
END_TEST

/* The longest record a message holds loads; one octet more does not. */
START_TEST(test_record_fits_largest_message)
{
	struct flowctl_config *cfg = load_config("maxIpfixMessageLen: 65535\n"
						 TWO_STRINGS_TEMPLATE);
	const uint8_t *rec;
	struct flowfile *ff;
	struct yaml_error err;
	int ret;

	/* 3 + 30000 + 3 + 35509 = 65515 = 65535 - 16 - 4 */
	ret = load_two_strings(cfg, 30000, 35509, &ff, &err);
	ck_assert_msg(ret == 0, "%s", err.text);
	ck_assert_uint_eq(ff->sets[0].records[0].len, 65515);
	rec = ff->sets[0].records[0].data;
	ck_assert_mem_eq(rec, "\xff\x75\x30" "aaa", 6);
	ck_assert_mem_eq(rec + 3 + 30000, "\xff\x8a\xb5" "bbb", 6);
	flowfile_free(ff);
	ck_assert_int_eq(load_two_strings(cfg, 30000, 35510, &ff, &err),
			 -EINVAL);
	ck_assert_msg(strstr(err.text, "the record is 65516 octets"), "%s",
		      err.text);
	config_free(cfg);
}
END_TEST

/* Fields left out count too: 2 x 30000 zero octets do not fit 1400. */
START_TEST(test_left_out_fields_counted)
{
	struct flowctl_config *cfg = load_config(
		"maxIpfixMessageLen: 65535\n"
		"collectors:\n"
		"- address: 127.0.0.1:4739\n"
		"templates:\n"
		"- id: 1024\n"
		"  template: [{name: interfaceName, length: 30000},\n"
		"             {name: interfaceDescription, length: 30000}]\n");
	static const char flows[] = "flowsets:\n"
				    "- templateId: 1024\n"
				    "  flows:\n"
				    "  - {}\n"
				    "  - {interfaceName: eth0}\n";
	struct flowfile *ff;
	struct yaml_error err;
	int ret;

	ret = flowfile_load_string("flows.yaml", flows, strlen(flows), cfg,
				   &ff, &err);
	ck_assert_msg(ret == 0, "%s", err.text);
	ck_assert_uint_eq(ff->sets[0].n_records, 2);
	ck_assert_uint_eq(ff->sets[0].records[1].len, 60000);
	ck_assert_mem_eq(ff->sets[0].records[1].data, "eth0\0", 5);
	flowfile_free(ff);
	config_free(cfg);
}
END_TEST

/* Fixed fields whose sum no message can hold: refused by the config (the
 * 16-bit record length used to wrap to 14464). */
START_TEST(test_template_longer_than_message)
{
	static const char text[] =
		"maxIpfixMessageLen: 65535\n"
		"collectors:\n"
		"- address: 127.0.0.1:4739\n"
		"templates:\n"
		"- id: 1024\n"
		"  template: [{name: interfaceName, length: 40000},\n"
		"             {name: interfaceDescription, length: 40000}]\n";
	struct flowctl_config *cfg = (void *)1;
	struct yaml_error err;

	ck_assert_int_eq(config_load_string("test.yaml", text, strlen(text),
					    &cfg, &err), -EINVAL);
	ck_assert_ptr_null(cfg);
	ck_assert_msg(strstr(err.text, "test.yaml:5:3: template 1024: a record of its fields is longer than the 65515 octets"),
		      "%s", err.text);
}
END_TEST

/* RFC 7011 7: below 255 one length octet, else 255 and two octets; at
 * most 65535 octets of value. */
START_TEST(test_varlen_prefix)
{
	const struct ipfix_ie *str = ipfix_ie_by_name("interfaceName");
	const struct ipfix_ie *oct = ipfix_ie_by_name("paddingOctets");
	static uint8_t out[3 + IPFIX_MAX_VARLEN];
	char *s, *hex;

	s = repeat('x', 65536);
	s[254] = 0;
	ck_assert_int_eq(ipfix_value_encode(str, IPFIX_VARLEN, s, out), 255);
	ck_assert_uint_eq(out[0], 254);
	s[254] = 'x';
	s[255] = 0;
	ck_assert_int_eq(ipfix_value_encode(str, IPFIX_VARLEN, s, out), 258);
	ck_assert_mem_eq(out, "\xff\x00\xff" "x", 4);
	s[255] = 'x';
	s[65535] = 0;
	ck_assert_int_eq(ipfix_value_encode(str, IPFIX_VARLEN, s, out),
			 65538);
	ck_assert_mem_eq(out, "\xff\xff\xff" "x", 4);
	ck_assert_uint_eq(out[65537], 'x');
	s[65535] = 'x';
	ck_assert_int_eq(ipfix_value_encode(str, IPFIX_VARLEN, s, out),
			 -ERANGE);
	free(s);

	/* octets: 300 of them (more than the old 4096 too) */
	hex = repeat('a', 2 + 2 * 5000);
	hex[0] = '0';
	hex[1] = 'x';
	ck_assert_int_eq(ipfix_value_encode(oct, IPFIX_VARLEN, hex, out),
			 5003);
	ck_assert_mem_eq(out, "\xff\x13\x88\xaa", 4);
	hex[2 + 2 * 300] = 0;
	ck_assert_int_eq(ipfix_value_encode(oct, IPFIX_VARLEN, hex, out), 303);
	ck_assert_mem_eq(out, "\xff\x01\x2c\xaa", 4);
	ck_assert_int_eq(ipfix_value_encode(oct, 299, hex, out), -ERANGE);
	ck_assert_int_eq(ipfix_value_encode(oct, 301, hex, out), 301);
	ck_assert_uint_eq(out[300], 0);
	free(hex);
}
END_TEST

#define SMALL_TEMPLATE							\
	"collectors:\n"							\
	"- address: 127.0.0.1:4739\n"					\
	"templates:\n"							\
	"- id: 1024\n"							\
	"  template: [{name: protocolIdentifier}]\n"

/* A growing text buffer for the generated files. */
struct text {
	char *s;
	size_t len, cap;
};

static void add(struct text *t, const char *s)
{
	size_t n = strlen(s);

	if (t->len + n + 1 > t->cap) {
		t->cap = (t->len + n + 1) * 2;
		t->s = realloc(t->s, t->cap);
		ck_assert_ptr_nonnull(t->s);
	}
	memcpy(t->s + t->len, s, n + 1);
	t->len += n;
}

static int load_text(const struct flowctl_config *cfg, struct text *t,
		     struct flowfile **ff, struct yaml_error *err)
{
	int ret = flowfile_load_string("flows.yaml", t->s, t->len, cfg, ff,
				       err);

	free(t->s);
	return ret;
}

/* 180 KiB: 2000 aliases of a flow in a flowset aliased 2000 times, 4 M
 * records (it used to run out of memory with more of the same). */
START_TEST(test_alias_bomb)
{
	struct flowctl_config *cfg = load_config(SMALL_TEMPLATE);
	struct flowfile *ff = (void *)1;
	struct text t = {};
	struct yaml_error err;
	int i;

	add(&t, "flowsets:\n"
		"- &s\n"
		"  templateId: 1024\n"
		"  flows:\n"
		"  - &f {protocolIdentifier: 6}\n");
	for (i = 0; i < 2000; i++)
		add(&t, "  - *f\n");
	for (i = 0; i < 2000; i++)
		add(&t, "- *s\n");
	ck_assert_int_eq(load_text(cfg, &t, &ff, &err), -EINVAL);
	ck_assert_ptr_null(ff);
	ck_assert_msg(strstr(err.text, "flows.yaml:2:1: aliases expand this node to more than") &&
		      strstr(err.text, "at most 1000000 more through aliases"),
		      "%s", err.text);
	config_free(cfg);
}
END_TEST

START_TEST(test_alias_recursive)
{
	struct flowctl_config *cfg = load_config(SMALL_TEMPLATE);
	struct flowfile *ff = (void *)1;
	struct text t = {};
	struct yaml_error err;

	add(&t, "flowsets:\n"
		"- templateId: 1024\n"
		"  flows: &l\n"
		"  - protocolIdentifier: 6\n"
		"  - *l\n");
	ck_assert_int_eq(load_text(cfg, &t, &ff, &err), -EINVAL);
	ck_assert_ptr_null(ff);
	ck_assert_msg(strstr(err.text, "flows.yaml:3:10: an alias refers to this node from inside it"),
		      "%s", err.text);
	config_free(cfg);
}
END_TEST

/* Aliases the way people use them still work. */
START_TEST(test_aliases_allowed)
{
	struct flowctl_config *cfg = load_config(SMALL_TEMPLATE);
	struct flowfile *ff;
	struct text t = {};
	struct yaml_error err;
	int ret, i;

	add(&t, "flowsets:\n"
		"- &s\n"
		"  templateId: 1024\n"
		"  flows:\n"
		"  - &tcp {protocolIdentifier: 6}\n"
		"  - {protocolIdentifier: 17}\n"
		"  - *tcp\n");
	for (i = 0; i < 300; i++)
		add(&t, "- *s\n");
	ret = load_text(cfg, &t, &ff, &err);
	ck_assert_msg(ret == 0, "%s", err.text);
	ck_assert_uint_eq(ff->n_sets, 301);
	ck_assert_uint_eq(ff->n_records, 903);
	ck_assert_uint_eq(ff->sets[300].n_records, 3);
	ck_assert_uint_eq(ff->sets[300].records[2].data[0], 6);
	ck_assert_uint_eq(ff->sets[300].records[1].data[0], 17);
	flowfile_free(ff);
	config_free(cfg);
}
END_TEST

/* libyaml looks anchors up one by one: their number is bounded, and so is
 * the number of aliases (40000 of each took seconds). */
START_TEST(test_too_many_anchors)
{
	struct flowctl_config *cfg = load_config(SMALL_TEMPLATE);
	struct flowfile *ff = (void *)1;
	struct text t = {};
	struct yaml_error err;
	char line[64];
	int i;

	add(&t, "flowsets:\n"
		"- templateId: 1024\n"
		"  flows:\n");
	for (i = 0; i <= YAML_DOC_MAX_ANCHORS; i++) {
		snprintf(line, sizeof(line), "  - &a%d {protocolIdentifier: 6}\n",
			 i);
		add(&t, line);
	}
	ck_assert_int_eq(load_text(cfg, &t, &ff, &err), -EINVAL);
	ck_assert_ptr_null(ff);
	ck_assert_msg(strstr(err.text, "flows.yaml:1004:5: more than 1000 YAML anchors"),
		      "%s", err.text);

	t = (struct text){};
	add(&t, "flowsets:\n"
		"- templateId: 1024\n"
		"  flows:\n"
		"  - &f {protocolIdentifier: 6}\n");
	for (i = 0; i <= YAML_DOC_MAX_ALIASES; i++)
		add(&t, "  - *f\n");
	ck_assert_int_eq(load_text(cfg, &t, &ff, &err), -EINVAL);
	ck_assert_msg(strstr(err.text, "flows.yaml:100005:5: more than 100000 YAML aliases"),
		      "%s", err.text);
	config_free(cfg);
}
END_TEST

/* 1000001 written flows: one too many. */
START_TEST(test_too_many_flows)
{
	struct flowctl_config *cfg = load_config(SMALL_TEMPLATE);
	struct flowfile *ff = (void *)1;
	struct text t = {};
	struct yaml_error err;
	int i;

	add(&t, "flowsets:\n"
		"- templateId: 1024\n"
		"  flows:\n");
	for (i = 0; i < FLOWFILE_MAX_RECORDS + 1; i++)
		add(&t, "  - {}\n");
	ck_assert_int_eq(load_text(cfg, &t, &ff, &err), -EINVAL);
	ck_assert_ptr_null(ff);
	ck_assert_msg(strstr(err.text, "flows.yaml:4:3: flows: the flow file has more than 1000000 flows"),
		      "%s", err.text);
	config_free(cfg);
}
END_TEST

/* 2101 aliases of a 65000-octet record: more than 128 MiB. */
START_TEST(test_too_many_bytes)
{
	struct flowctl_config *cfg = load_config(
		"maxIpfixMessageLen: 65535\n"
		"collectors:\n"
		"- address: 127.0.0.1:4739\n"
		"templates:\n"
		"- id: 1024\n"
		"  template: [{name: interfaceName, length: 65000}]\n");
	struct flowfile *ff = (void *)1;
	struct text t = {};
	struct yaml_error err;
	int i;

	add(&t, "flowsets:\n"
		"- templateId: 1024\n"
		"  flows:\n"
		"  - &f {interfaceName: eth0}\n");
	for (i = 0; i < 2100; i++)
		add(&t, "  - *f\n");
	ck_assert_int_eq(load_text(cfg, &t, &ff, &err), -EINVAL);
	ck_assert_ptr_null(ff);
	/* 128 MiB / 65000 = 2064.9: the 2065th flow is one too many */
	ck_assert_msg(strstr(err.text, "flows.yaml:4:5: flow: the records of the flow file take more than 128 MiB at flow 2065 of flowset 1"),
		      "%s", err.text);
	config_free(cfg);
}
END_TEST

static Suite *flowfile_suite(void)
{
	Suite *s = suite_create("flowfile");
	TCase *tc = tcase_create("oversized");
	TCase *ta;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, test_record_longer_than_message);
	tcase_add_test(tc, test_record_longer_than_largest_message);
	tcase_add_test(tc, test_record_fits_largest_message);
	tcase_add_test(tc, test_left_out_fields_counted);
	tcase_add_test(tc, test_template_longer_than_message);
	tcase_add_test(tc, test_varlen_prefix);
	suite_add_tcase(s, tc);

	ta = tcase_create("aliases");
	tcase_set_timeout(ta, 120);
	tcase_add_test(ta, test_alias_bomb);
	tcase_add_test(ta, test_alias_recursive);
	tcase_add_test(ta, test_aliases_allowed);
	tcase_add_test(ta, test_too_many_anchors);
	tcase_add_test(ta, test_too_many_flows);
	tcase_add_test(ta, test_too_many_bytes);
	suite_add_tcase(s, ta);
	return s;
}

CHECK_MAIN(flowfile_suite)
