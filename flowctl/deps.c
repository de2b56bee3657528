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

/* A version "X.Y[.Z]"; found false when there was none. */
struct semver {
	int v[3];
	bool found;
};

/* The first "X.Y[.Z]" number after PREFIX (or anywhere) in S. */
static struct semver version_after(const char *s, const char *prefix)
{
	const char *p = s && prefix ? strstr(s, prefix) : s;
	struct semver r = { { 0, 0, 0 }, false };

	if (!p)
		return r;
	p += prefix ? strlen(prefix) : 0;
	while (*p && !(*p >= '0' && *p <= '9'))
		p++;
	r.found = sscanf(p, "%d.%d.%d", &r.v[0], &r.v[1], &r.v[2]) >= 2;
	return r;
}

static bool semver_at_least(struct semver cur, struct semver min)
{
	int i;

	for (i = 0; i < 3; i++)
		if (cur.v[i] != min.v[i])
			return cur.v[i] > min.v[i];
	return true;
}

/* What flowctl needs (BPF atomic or: kernel 5.12, coarse clock 5.11,
 * ringbuf 5.8; tc's libbpf 0.7 for BTF maps and pinning). */
static const struct semver need_clang = { { 11, 0, 0 }, true };
static const struct semver need_kernel = { { 5, 12, 0 }, true };
static const struct semver need_iproute2 = { { 5, 10, 0 }, true };
static const struct semver need_libbpf = { { 0, 7, 0 }, true };

/* What this machine has, probed once for both outputs. */
struct probe {
	char *clang_line;	/* first line of clang --version, or NULL */
	char *tc_line;		/* first line of tc -V, or NULL */
	char *ip_line;		/* first line of ip -V, or NULL */
	char kernel[65];	/* uname -r */
	struct semver clang, kernel_v, iproute2, libbpf;
};

static void probe(struct probe *p)
{
	char *clangv[] = { "clang", "--version", NULL };
	char *tcv[] = { "tc", "-V", NULL };
	char *ipv[] = { "ip", "-V", NULL };
	struct utsname u;

	memset(p, 0, sizeof(*p));
	p->clang_line = first_line(clangv);
	p->tc_line = first_line(tcv);
	p->ip_line = first_line(ipv);
	if (uname(&u) == 0)
		snprintf(p->kernel, sizeof(p->kernel), "%s", u.release);
	p->clang = version_after(p->clang_line, "version");
	p->kernel_v = version_after(p->kernel, NULL);
	/* "tc utility, iproute2-6.1.0, libbpf 1.1.2" */
	p->iproute2 = version_after(p->tc_line, "iproute2");
	p->libbpf = version_after(p->tc_line, "libbpf");
}

static void probe_free(struct probe *p)
{
	free(p->clang_line);
	free(p->tc_line);
	free(p->ip_line);
}

static enum dep_status semver_status(bool installed, struct semver cur,
				     struct semver need)
{
	if (!installed)
		return DEP_NOT_INSTALLED;
	return cur.found && semver_at_least(cur, need) ? DEP_VALID :
							 DEP_INVALID;
}

/*
 * linux-flow-exporter's four lines, in its words and formats
 * ("vX.Y.Z"; an empty version when the tool is missing), with flowctl's
 * minimum versions.
 */
static void print_compat_line(const char *what, bool installed,
			      struct semver cur, struct semver need)
{
	char v[48] = "";

	if (installed)
		snprintf(v, sizeof(v), "v%d.%d.%d", cur.v[0], cur.v[1],
			 cur.v[2]);
	printf("%s version (expect v%d.%d.%d): %s (%s)\n", what, need.v[0],
	       need.v[1], need.v[2], v,
	       status_names[semver_status(installed, cur, need)]);
}

static void print_compat(const struct probe *p)
{
	print_compat_line("clang", p->clang_line, p->clang, need_clang);
	print_compat_line("kernel", p->kernel[0], p->kernel_v, need_kernel);
	print_compat_line("iproute2 binary", p->tc_line, p->iproute2,
			  need_iproute2);
	print_compat_line("iproute2 libbpf", p->tc_line && p->libbpf.found,
			  p->libbpf, need_libbpf);
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

static void check_clang(const struct probe *p)
{
	char cur[300];

	if (!p->clang_line) {
		report("clang", "-", ">= 11", DEP_NOT_INSTALLED);
		return;
	}
	if (!p->clang.found) {
		report("clang", p->clang_line, ">= 11", DEP_INVALID);
		return;
	}
	snprintf(cur, sizeof(cur), "%d.%d", p->clang.v[0], p->clang.v[1]);
	with_path(cur, sizeof(cur), "clang");
	report("clang", cur, ">= 11",
	       semver_status(true, p->clang, need_clang));
}

static void check_kernel(const struct probe *p)
{
	report("kernel", p->kernel, ">= 5.12",
	       semver_status(true, p->kernel_v, need_kernel));
}

static void check_iproute2(const struct probe *p)
{
	char cur[300];

	if (!p->tc_line) {
		report("iproute2 (tc)", "-", ">= 5.10", DEP_NOT_INSTALLED);
	} else {
		snprintf(cur, sizeof(cur), "%d.%d", p->iproute2.v[0],
			 p->iproute2.v[1]);
		with_path(cur, sizeof(cur), "tc");
		report("iproute2 (tc)", cur, ">= 5.10",
		       semver_status(true, p->iproute2, need_iproute2));
		if (p->libbpf.found) {
			snprintf(cur, sizeof(cur), "%d.%d", p->libbpf.v[0],
				 p->libbpf.v[1]);
			report("tc's libbpf", cur, ">= 0.7 (BTF maps, pinning)",
			       semver_status(true, p->libbpf, need_libbpf));
		} else {
			report("tc's libbpf", "not linked",
			       ">= 0.7 (BTF maps, pinning)", DEP_INVALID);
		}
	}
	snprintf(cur, sizeof(cur), "%s", p->ip_line ? "present" : "-");
	if (p->ip_line)
		with_path(cur, sizeof(cur), "ip");
	report("ip", cur, "present",
	       p->ip_line ? DEP_VALID : DEP_NOT_INSTALLED);
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

const struct cmd_spec dependency_check_spec = {
	.path = "dependency-check",
	.help = "check clang, kernel, iproute2, bpffs, BTF, headers",
	.about = "First linux-flow-exporter's four lines (clang, kernel, iproute2\n"
		 "and its libbpf: \"... (expect vX.Y.Z): vX.Y.Z (VALID)\"), then\n"
		 "a table of every dependency: current, expected, status.\n"
		 "Exit 1 when anything required is missing or too old.\n",
};

int cmd_dependency_check(int argc, char **argv)
{
	struct opt_parser op;
	struct probe p;
	int c;

	opt_parser_init(&op, &dependency_check_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		if (c == 'h') {
			opt_usage(stdout, &dependency_check_spec);
			return 0;
		}
		opt_usage(stderr, &dependency_check_spec);
		return EXIT_USAGE;
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	probe(&p);
	print_compat(&p);
	printf("\n%-14s %-42s %-27s %s\n", "DEPENDENCY", "CURRENT", "EXPECTED",
	       "STATUS");
	check_clang(&p);
	check_kernel(&p);
	check_iproute2(&p);
	check_libcyaml();
	check_files();
	probe_free(&p);
	if (bad)
		printf("\n%d dependency problem(s); scripts/deps.sh installs the Debian packages\n",
		       bad);
	return bad ? 1 : 0;
}
