// SPDX-License-Identifier: Apache-2.0
/* Command lines built for iproute2: argv arrays, never shell strings. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "check_main.h"
#include "ebpf_build.h"
#include "flow_abi.h"
#include "rundir.h"
#include "tc.h"

static void expect_argv(const struct tc_cmd *c, const char *const *want)
{
	int i;

	for (i = 0; want[i]; i++) {
		ck_assert_msg(c->argv[i], "argv[%d] missing, want %s", i,
			      want[i]);
		ck_assert_str_eq(c->argv[i], want[i]);
	}
	ck_assert_msg(c->argv[i] == NULL, "extra argv[%d] = %s", i, c->argv[i]);
	ck_assert_int_eq(c->argc, i);
}

START_TEST(filter_add_netns)
{
	static const char *const want[] = {
		"ip", "netns", "exec", "ns0", "tc", "filter", "add", "dev",
		"eth1", "ingress", "pref", "100", "chain", "0", "handle", "0x1",
		"bpf", "da", "obj", EBPF_CACHE_DIR "/abc.bpf.o", "sec",
		FLOW_SEC_INGRESS, NULL
	};
	struct tc_filter_id id = { 100, 0, 1 };
	struct tc_cmd c;

	tc_cmd_filter_set(&c, "add", "ns0", "eth1", TC_HOOK_INGRESS, &id,
			  EBPF_CACHE_DIR "/abc.bpf.o");
	expect_argv(&c, want);
	ck_assert_str_eq(c.env[0], "TC_BPF_MNT=" BPFFS_BIND_DIR "/flowctl/ns0");
	ck_assert_ptr_null(c.env[1]);
}
END_TEST

START_TEST(filter_replace_root)
{
	static const char *const want[] = {
		"tc", "filter", "replace", "dev", "eth0", "egress", "pref",
		"7", "chain", "3", "handle", "0x2a", "bpf", "da", "obj", "o.o",
		"sec", FLOW_SEC_EGRESS, NULL
	};
	struct tc_filter_id id = { 7, 3, 42 };
	struct tc_cmd c;

	tc_cmd_filter_set(&c, "replace", "", "eth0", TC_HOOK_EGRESS, &id,
			  "o.o");
	expect_argv(&c, want);
	ck_assert_str_eq(c.env[0], "TC_BPF_MNT=/sys/fs/bpf/flowctl/DEFAULT");
}
END_TEST

START_TEST(filter_add_stamp_section)
{
	static const char *const want[] = {
		"ip", "netns", "exec", "ns0", "tc", "filter", "add", "dev",
		"eth1", "ingress", "pref", "100", "chain", "0", "handle", "0x1",
		"bpf", "da", "obj", "o.o", "sec", FLOW_SEC_INGRESS_STAMP, NULL
	};
	struct tc_filter_id id = { 100, 0, 1 };
	struct tc_cmd c;

	tc_cmd_filter_set_sec(&c, "add", "ns0", "eth1", TC_HOOK_INGRESS,
			      FLOW_SEC_INGRESS_STAMP, &id, "o.o");
	expect_argv(&c, want);
}
END_TEST

START_TEST(filter_del)
{
	static const char *const want[] = {
		"ip", "netns", "exec", "r1", "tc", "filter", "del", "dev",
		"veth0", "egress", "pref", "100", "chain", "0", "handle", "0x1",
		"bpf", NULL
	};
	struct tc_filter_id id = { 100, 0, 1 };
	struct tc_cmd c;

	tc_cmd_filter_del(&c, "r1", "veth0", TC_HOOK_EGRESS, &id);
	expect_argv(&c, want);
	ck_assert_ptr_null(c.env[0]);
}
END_TEST

START_TEST(qdisc_and_show)
{
	static const char *const add[] = {
		"ip", "netns", "exec", "ns0", "tc", "qdisc", "add", "dev",
		"eth1", "clsact", NULL
	};
	static const char *const show[] = {
		"tc", "-j", "filter", "show", "dev", "eth1", "ingress", NULL
	};
	static const char *const link[] = {
		"ip", "-n", "ns0", "-j", "link", "show", NULL
	};
	struct tc_cmd c;

	tc_cmd_qdisc_add(&c, "ns0", "eth1");
	expect_argv(&c, add);
	tc_cmd_filter_show(&c, NULL, "eth1", TC_HOOK_INGRESS);
	expect_argv(&c, show);
	ip_cmd_link_show(&c, "ns0");
	expect_argv(&c, link);
}
END_TEST

START_TEST(printable)
{
	struct tc_filter_id id = { 100, 0, 1 };
	struct tc_cmd c;
	char *s;

	/* a name with a space stays one argument and is quoted when shown */
	tc_cmd_filter_set(&c, "add", "ns0", "eth1", TC_HOOK_EGRESS, &id,
			  "/tmp/my obj.o");
	s = tc_cmd_str(&c);
	ck_assert_str_eq(s, "TC_BPF_MNT=" BPFFS_BIND_DIR "/flowctl/ns0 ip netns exec ns0 tc filter add dev eth1 egress pref 100 chain 0 handle 0x1 bpf da obj '/tmp/my obj.o' sec tc-egress");
	free(s);
}
END_TEST

static Suite *tc_suite(void)
{
	Suite *s = suite_create("tc");
	TCase *tc = tcase_create("argv");

	tcase_add_test(tc, filter_add_netns);
	tcase_add_test(tc, filter_replace_root);
	tcase_add_test(tc, filter_add_stamp_section);
	tcase_add_test(tc, filter_del);
	tcase_add_test(tc, qdisc_and_show);
	tcase_add_test(tc, printable);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(tc_suite)
