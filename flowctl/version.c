// SPDX-License-Identifier: Apache-2.0
/*
 * flowctl version [ -o normal|json ]
 *
 * The first three lines are linux-flow-exporter's (its build date, git
 * SHA/branch/tag and toolchain/OS/arch lines), flowctl's follow.
 */
#include <stdio.h>
#include <string.h>

#include "build_info.h"
#include "commands.h"
#include "log.h"

/* The compiler, as the original printed Go's version ("go1.19.2"). */
#if defined(__clang__)
#define CC_VERSION "clang" STRINGIFY(__clang_major__) "." \
	STRINGIFY(__clang_minor__) "." STRINGIFY(__clang_patchlevel__)
#elif defined(__GNUC__)
#define CC_VERSION "gcc" STRINGIFY(__GNUC__) "." STRINGIFY(__GNUC_MINOR__) \
	"." STRINGIFY(__GNUC_PATCHLEVEL__)
#else
#define CC_VERSION "unknown"
#endif

/* The architecture of this binary, named as Go's GOARCH names it. */
#if defined(__x86_64__)
#define ARCH "amd64"
#elif defined(__aarch64__)
#define ARCH "arm64"
#elif defined(__i386__)
#define ARCH "386"
#elif defined(__arm__)
#define ARCH "arm"
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define ARCH "ppc64le"
#elif defined(__s390x__)
#define ARCH "s390x"
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH "riscv64"
#else
#define ARCH "unknown"
#endif

static const struct opt version_opts[] = {
	{ "output", 'o', 'o', "FORMAT", "normal (default) or json",
	  OV_WORDS, OUTPUT_FORMATS },
	{ 0 }
};

const struct cmd_spec version_spec = {
	.path = "version",
	.help = "print version, git commit, build date",
	.synopsis = "[ -o normal|json ]",
	.about = "Build date, git SHA/branch/tag, compiler/OS/arch (the lines of\n"
		 "linux-flow-exporter), then version and map ABI version.\n",
	.groups = { version_opts },
};

int cmd_version(int argc, char **argv)
{
	struct opt_parser op;
	bool json = false;
	int c;

	opt_parser_init(&op, &version_spec);
	optind = 1;
	while ((c = opt_next(&op, argc, argv)) != -1) {
		switch (c) {
		case 'o':
			c = opt_word("-o", optarg, OUTPUT_FORMATS);
			if (c < 0)
				return EXIT_USAGE;
			json = c == 1;
			break;
		case 'h':
			opt_usage(stdout, &version_spec);
			return 0;
		default:
			opt_usage(stderr, &version_spec);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		pr_err("unexpected argument '%s'", argv[optind]);
		return EXIT_USAGE;
	}
	if (json) {
		printf("{\"version\":\"%s\",\"gitCommit\":\"%s\","
		       "\"gitBranch\":\"%s\",\"gitTag\":\"%s\","
		       "\"buildDate\":\"%s\",\"compiler\":\"%s\","
		       "\"os\":\"linux\",\"arch\":\"%s\",\"abiVersion\":%d}\n",
		       FLOWCTL_VERSION, FLOWCTL_GIT_COMMIT, FLOWCTL_GIT_BRANCH,
		       FLOWCTL_GIT_TAG, FLOWCTL_BUILD_DATE, CC_VERSION, ARCH,
		       FLOW_ABI_VERSION);
		return 0;
	}
	printf("Build Date: %s\n", FLOWCTL_BUILD_DATE);
	printf("Git SHA/Branch/Tag: %s/%s/%s\n", FLOWCTL_GIT_COMMIT,
	       FLOWCTL_GIT_BRANCH, FLOWCTL_GIT_TAG);
	printf("Compiler/OS/Arch: %s/linux/%s\n", CC_VERSION, ARCH);
	printf("Version: %s\n", FLOWCTL_VERSION);
	printf("Map ABI: %d\n", FLOW_ABI_VERSION);
	return 0;
}
