// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl dependency-check: what the meter and the agent need from this
 * machine, current vs expected.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <unistd.h>
#include <cyaml/cyaml.h>

#include "bpffs.h"
#include "commands.h"
#include "exec.h"
#include "log.h"

enum dep_status { DEP_VALID, DEP_INVALID, DEP_NOT_INSTALLED };

static const char *const status_names[] = {
	[DEP_VALID] = "VALID",
	[DEP_INVALID] = "INVALID",
	[DEP_NOT_INSTALLED] = "NOT-INSTALLED",
};

static int bad;

static void report(const char *name, const char *cur, const char *expect,
		   enum dep_status st)
{
	printf("%-14s %-42s %-27s %s\n", name, cur, expect, status_names[st]);
	if (st != DEP_VALID)
		bad++;
}

/* First line of ARGV's output (stdout, else stderr), or NULL. */
static char *first_line(char *const argv[])
{
	struct exec_result res;
	char *s, *nl;

	if (exec_run(argv, NULL, NULL, 0, 10000, &res) || res.status) {
		exec_result_free(&res);
		return NULL;
	}
	s = strdup(res.out[0] ? res.out : res.err);
	exec_result_free(&res);
	if (s && (nl = strchr(s, '\n')))
		*nl = '\0';
	return s;
}

/* The first "X.Y" number after PREFIX (or anywhere) in S. */
static int version_after(const char *s, const char *prefix, int *maj, int *min)
{
	const char *p = prefix ? strstr(s, prefix) : s;

	if (!p)
		return -1;
	p += prefix ? strlen(prefix) : 0;
	while (*p && !(*p >= '0' && *p <= '9'))
		p++;
	return sscanf(p, "%d.%d", maj, min) == 2 ? 0 : -1;
}

/*
 * "VERSION (PATH)": the file flowctl runs for NAME, from the fixed
 * EXEC_PATH (docs/security.md), whatever the caller's PATH says.
 */
static void with_path(char *cur, size_t size, const char *name)
{
	char *path = exec_which(name);
	size_t n = strlen(cur);

	if (path)
		snprintf(cur + n, size - n, " (%s)", path);
	free(path);
}

static void check_clang(void)
{
	char *argv[] = { "clang", "--version", NULL };
	char *l = first_line(argv);
	int maj, min;

	if (!l) {
		report("clang", "-", ">= 11", DEP_NOT_INSTALLED);
		return;
	}
	if (version_after(l, "version", &maj, &min) == 0) {
		char cur[300];

		snprintf(cur, sizeof(cur), "%d.%d", maj, min);
		with_path(cur, sizeof(cur), "clang");
		report("clang", cur, ">= 11", maj >= 11 ? DEP_VALID : DEP_INVALID);
	} else {
		report("clang", l, ">= 11", DEP_INVALID);
	}
	free(l);
}

static void check_kernel(void)
{
	struct utsname u;
	int maj = 0, min = 0;

	uname(&u);
	sscanf(u.release, "%d.%d", &maj, &min);
	/* BPF atomic or (5.12), coarse clock (5.11), ringbuf (5.8) */
	report("kernel", u.release, ">= 5.12",
	       maj > 5 || (maj == 5 && min >= 12) ? DEP_VALID : DEP_INVALID);
}

static void check_iproute2(void)
{
	char *argv[] = { "tc", "-V", NULL };
	char *ipv[] = { "ip", "-V", NULL };
	char *l = first_line(argv), *ipl = first_line(ipv);
	char cur[300];
	int maj, min;

	if (!l) {
		report("iproute2 (tc)", "-", ">= 5.10", DEP_NOT_INSTALLED);
	} else {
		/* "tc utility, iproute2-6.1.0, libbpf 1.1.2" */
		if (version_after(l, "iproute2", &maj, &min))
			maj = min = 0;
		snprintf(cur, sizeof(cur), "%d.%d", maj, min);
		with_path(cur, sizeof(cur), "tc");
		report("iproute2 (tc)", cur, ">= 5.10",
		       maj > 5 || (maj == 5 && min >= 10) ? DEP_VALID :
		       DEP_INVALID);
		if (version_after(l, "libbpf", &maj, &min) == 0) {
			snprintf(cur, sizeof(cur), "%d.%d", maj, min);
			report("tc's libbpf", cur, ">= 0.7 (BTF maps, pinning)",
			       maj >= 1 || min >= 7 ? DEP_VALID : DEP_INVALID);
		} else {
			report("tc's libbpf", "not linked", ">= 0.7 (BTF maps, pinning)",
			       DEP_INVALID);
		}
	}
	snprintf(cur, sizeof(cur), "%s", ipl ? "present" : "-");
	if (ipl)
		with_path(cur, sizeof(cur), "ip");
	report("ip", cur, "present", ipl ? DEP_VALID : DEP_NOT_INSTALLED);
	free(l);
	free(ipl);
}

/* The libcyaml flowctl runs with: the config's error positions come from
 * its backtrace, which has line and column since 1.2. */
static void check_libcyaml(void)
{
	unsigned int maj = (cyaml_version >> 16) & 0xff;
	unsigned int min = (cyaml_version >> 8) & 0xff;

	report("libcyaml", cyaml_version_str, ">= 1.2 (error positions)",
	       maj > 1 || (maj == 1 && min >= 2) ? DEP_VALID : DEP_INVALID);
}

static void check_files(void)
{
	char *argv[] = { "gcc", "-print-multiarch", NULL };
	char *ma = first_line(argv), path[256];

	if (bpffs_is_bpffs("/sys/fs/bpf"))
		report("bpffs", "/sys/fs/bpf", "mounted", DEP_VALID);
	else
		/* flowctl mounts it itself; not an error */
		printf("%-14s %-42s %-27s %s\n", "bpffs", "not mounted",
		       "mounted", "VALID (flowctl mounts it on attach)");
	report("BTF", access("/sys/kernel/btf/vmlinux", R_OK) ? "-" :
	       "/sys/kernel/btf/vmlinux", "present",
	       access("/sys/kernel/btf/vmlinux", R_OK) ? DEP_INVALID : DEP_VALID);
	report("UAPI headers", access("/usr/include/linux/bpf.h", R_OK) ? "-" :
	       "/usr/include/linux/bpf.h", "linux-libc-dev",
	       access("/usr/include/linux/bpf.h", R_OK) ? DEP_NOT_INSTALLED :
	       DEP_VALID);
	snprintf(path, sizeof(path), "/usr/include/%s/asm/types.h",
		 ma ? ma : "x86_64-linux-gnu");
	report("asm headers", access(path, R_OK) ? "-" : path, "libc6-dev",
	       access(path, R_OK) ? DEP_NOT_INSTALLED : DEP_VALID);
	report("bpf_helpers.h",
	       access("/usr/include/bpf/bpf_helpers.h", R_OK) ? "-" :
	       "/usr/include/bpf/bpf_helpers.h", "libbpf-dev",
	       access("/usr/include/bpf/bpf_helpers.h", R_OK) ?
	       DEP_NOT_INSTALLED : DEP_VALID);
	free(ma);
}

int cmd_dependency_check(int argc, char **argv)
{
	if (argc > 1) {
		if (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
			printf("Usage: flowctl dependency-check\n");
			return 0;
		}
		pr_err("unexpected argument '%s'", argv[1]);
		return EXIT_USAGE;
	}
	printf("%-14s %-42s %-27s %s\n", "DEPENDENCY", "CURRENT", "EXPECTED",
	       "STATUS");
	check_clang();
	check_kernel();
	check_iproute2();
	check_libcyaml();
	check_files();
	if (bad)
		printf("\n%d dependency problem(s); scripts/deps.sh installs the Debian packages\n",
		       bad);
	return bad ? 1 : 0;
}
