// SPDX-License-Identifier: Apache-2.0
/*
 * SHA-256 against the FIPS 180-4 / NIST example vectors; the rendered BPF
 * source (knobs, inlined headers); the digest; the compile cache.
 */
#include <check.h>
#include <dirent.h>
#include <fcntl.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check_main.h"
#include "ebpf_build.h"
#include "meter.h"
#include "sha256.h"

static void expect_sha256(const void *data, size_t len, const char *want)
{
	char hex[2 * SHA256_DIGEST_SIZE + 1];

	sha256_hex(data, len, hex);
	ck_assert_str_eq(hex, want);
}

START_TEST(sha256_empty)
{
	expect_sha256("", 0,
		      "e3b0c44298fc1c149afbf4c8996fb924"
		      "27ae41e4649b934ca495991b7852b855");
}
END_TEST

START_TEST(sha256_abc)
{
	expect_sha256("abc", 3,
		      "ba7816bf8f01cfea414140de5dae2223"
		      "b00361a396177a9cb410ff61f20015ad");
}
END_TEST

START_TEST(sha256_448_bits)
{
	static const char msg[] =
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";

	ck_assert_uint_eq(strlen(msg) * 8, 448);
	expect_sha256(msg, strlen(msg),
		      "248d6a61d20638b8e5c026930c3e6039"
		      "a33ce45964ff2167f6ecedd419db06c1");
}
END_TEST

START_TEST(sha256_896_bits)
{
	static const char msg[] =
		"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
		"hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu";

	ck_assert_uint_eq(strlen(msg) * 8, 896);
	expect_sha256(msg, strlen(msg),
		      "cf5b16a778af8380036ce59e7b049237"
		      "0b249b11e8f07a51afac45037afee9d1");
}
END_TEST

START_TEST(sha256_million_a)
{
	static const char want[] = "cdc76e5c9914fb9281a1c7e284d73e67"
				   "f1809a48a497200e046d39ccc7112cd0";
	uint8_t d[SHA256_DIGEST_SIZE];
	char hex[2 * SHA256_DIGEST_SIZE + 1];
	struct sha256_ctx ctx;
	char *a = malloc(1000000);
	size_t off, step;

	ck_assert_ptr_nonnull(a);
	memset(a, 'a', 1000000);
	expect_sha256(a, 1000000, want);

	/* the same bytes fed in uneven pieces: the block buffering */
	sha256_init(&ctx);
	for (off = 0, step = 1; off < 1000000; off += step, step = step % 97 + 1)
		sha256_update(&ctx, a + off,
			      off + step > 1000000 ? 1000000 - off : step);
	sha256_final(&ctx, d);
	sha256_to_hex(d, hex);
	ck_assert_str_eq(hex, want);
	free(a);
}
END_TEST

/* Every length around the padding boundary (55, 56, 63, 64 bytes...):
 * one-shot and byte-at-a-time must agree.
 */
START_TEST(sha256_split_consistent)
{
	uint8_t d1[SHA256_DIGEST_SIZE], d2[SHA256_DIGEST_SIZE];
	struct sha256_ctx c1, c2;
	unsigned char buf[200];
	size_t len, i;

	for (i = 0; i < sizeof(buf); i++)
		buf[i] = i * 7 + 3;
	for (len = 0; len <= sizeof(buf); len++) {
		sha256_init(&c1);
		sha256_update(&c1, buf, len);
		sha256_final(&c1, d1);
		sha256_init(&c2);
		for (i = 0; i < len; i++)
			sha256_update(&c2, buf + i, 1);
		sha256_final(&c2, d2);
		ck_assert_msg(!memcmp(d1, d2, sizeof(d1)), "len %zu", len);
	}
}
END_TEST

static char *render(unsigned int max_flows, bool ifstats, size_t *len)
{
	struct ebpf_knobs k;
	char *src = NULL;

	ebpf_knobs_default(&k);
	k.max_flows = max_flows;
	k.ifstats = ifstats;
	ck_assert_int_eq(ebpf_render(&k, &src, len), 0);
	ck_assert_ptr_nonnull(src);
	ck_assert_uint_eq(strlen(src), *len);
	return src;
}

START_TEST(render_knobs_and_inlining)
{
	size_t len;
	char *src = render(1234, false, &len);

	ck_assert_ptr_nonnull(strstr(src, "#define FLOWCTL_MAX_FLOWS 1234\n"));
	ck_assert_ptr_nonnull(strstr(src, "#define FLOWCTL_IFSTATS 0\n"));
	ck_assert_ptr_nonnull(strstr(src, "#define FLOWCTL_COARSE_TIME 1\n"));
	/* the knobs come before the template's own text */
	ck_assert(strstr(src, "#define FLOWCTL_MAX_FLOWS") <
		  strstr(src, "SEC(FLOW_SEC_INGRESS)"));
	/* flow_abi.h and parse.h are inlined, exactly once */
	ck_assert_ptr_nonnull(strstr(src, "struct flow_key {"));
	ck_assert_ptr_null(strstr(strstr(src, "struct flow_key {") + 1,
				  "struct flow_key {"));
	ck_assert_ptr_nonnull(strstr(src, "parse_packet("));
	ck_assert_ptr_null(strstr(src, "#include \"flow_abi.h\""));
	ck_assert_ptr_null(strstr(src, "#include \"parse.h\""));
	ck_assert_ptr_null(strstr(src, "#include \""));
	ck_assert_ptr_nonnull(strstr(src, "#include <linux/bpf.h>"));
	ck_assert_ptr_nonnull(strstr(src, "char _license[] SEC(\"license\")"));
	free(src);

	src = render(65536, true, &len);
	ck_assert_ptr_nonnull(strstr(src, "#define FLOWCTL_MAX_FLOWS 65536\n"));
	ck_assert_ptr_nonnull(strstr(src, "#define FLOWCTL_IFSTATS 1\n"));
	free(src);
}
END_TEST

START_TEST(render_defaults_and_range)
{
	struct ebpf_knobs k;
	size_t len;
	char *src;

	ebpf_knobs_default(&k);
	ck_assert_uint_eq(k.max_flows, 65536);
	/* the defaults that keep the meter within its cost budget */
	ck_assert(!k.ifstats);
	ck_assert(k.coarse_time);
	k.max_flows = 0;
	ck_assert_int_eq(ebpf_render(&k, &src, &len), -EINVAL);
	k.max_flows = EBPF_MAX_FLOWS_LIMIT + 1;
	ck_assert_int_eq(ebpf_render(&k, &src, &len), -EINVAL);
	k.max_flows = EBPF_MAX_FLOWS_LIMIT;
	ck_assert_int_eq(ebpf_render(&k, &src, &len), 0);
	free(src);
}
END_TEST

START_TEST(digest_follows_knobs)
{
	char d1[EBPF_DIGEST_LEN + 1], d2[EBPF_DIGEST_LEN + 1];
	char d3[EBPF_DIGEST_LEN + 1], d4[EBPF_DIGEST_LEN + 1];
	size_t l1, l2, l3;
	char *s1 = render(64, true, &l1);
	char *s2 = render(64, true, &l2);
	char *s3 = render(65, true, &l3);
	size_t i;

	ck_assert_int_eq(ebpf_digest(s1, l1, d1), 0);
	ck_assert_int_eq(ebpf_digest(s2, l2, d2), 0);
	ck_assert_int_eq(ebpf_digest(s3, l3, d3), 0);
	ck_assert_uint_eq(strlen(d1), EBPF_DIGEST_LEN);
	for (i = 0; i < EBPF_DIGEST_LEN; i++)
		ck_assert(strchr("0123456789abcdef", d1[i]));
	ck_assert_str_eq(d1, d2);	/* same knobs: same digest */
	ck_assert_str_ne(d1, d3);	/* max_flows changed */
	free(s3);
	s3 = render(64, false, &l3);
	ck_assert_int_eq(ebpf_digest(s3, l3, d4), 0);
	ck_assert_str_ne(d1, d4);	/* ifstats changed */
	/* the digest covers more than the source (flags, clang version) */
	sha256_hex(s1, l1, d3);
	ck_assert_str_ne(d1, d3);
	free(s1);
	free(s2);
	free(s3);
}
END_TEST

/* Render with FLOWCTL_EBPF_TEMPLATE=PATH; the source is freed. */
static int render_with_template(const char *path)
{
	struct ebpf_knobs k;
	size_t len = 0;
	char *src = NULL;
	int err;

	ebpf_knobs_default(&k);
	ck_assert_int_eq(setenv("FLOWCTL_EBPF_TEMPLATE", path, 1), 0);
	err = ebpf_render(&k, &src, &len);
	unsetenv("FLOWCTL_EBPF_TEMPLATE");
	if (err)
		ck_assert_ptr_null(src);
	free(src);
	return err;
}

static void write_template(const char *path, const char *text, size_t len,
			   mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(fchmod(fd, mode), 0);
	close(fd);
}

/*
 * FLOWCTL_EBPF_TEMPLATE names the source root compiles and loads: anything
 * that is not a small regular file only its owner can write is refused as
 * a usage error, at once (no endless read of /dev/zero, no wait on a FIFO,
 * no empty render of a directory).
 */
START_TEST(template_override_refused)
{
	char dir[] = "/tmp/flowctl-tmpl-check.XXXXXX", path[PATH_MAX];
	static const char ok[] = "#include \"flow_abi.h\"\nint x;\n";
	char *big;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	ck_assert_int_eq(render_with_template("/dev/zero"), -FLOWCTL_EREQUEST);
	ck_assert_int_eq(render_with_template(dir), -FLOWCTL_EREQUEST);
	snprintf(path, sizeof(path), "%s/missing.c", dir);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);

	snprintf(path, sizeof(path), "%s/fifo", dir);
	ck_assert_int_eq(mkfifo(path, 0600), 0);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);
	unlink(path);

	/* anyone may write it: refused, whatever it says */
	snprintf(path, sizeof(path), "%s/t.c", dir);
	write_template(path, ok, strlen(ok), 0666);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);
	write_template(path, ok, strlen(ok), 0620);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);
	write_template(path, ok, strlen(ok), 0644);
	ck_assert_int_eq(render_with_template(path), 0);

	/* 1 MiB is the limit: one byte more is refused */
	big = malloc((1 << 20) + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, ' ', (1 << 20) + 1);
	write_template(path, big, 1 << 20, 0600);
	ck_assert_int_eq(render_with_template(path), 0);
	write_template(path, big, (1 << 20) + 1, 0600);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);
	free(big);
	unlink(path);

	/* the path goes into a comment and a #line: nothing that ends them */
	snprintf(path, sizeof(path), "%s/a\"b.c", dir);
	write_template(path, ok, strlen(ok), 0600);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);
	unlink(path);
	snprintf(path, sizeof(path), "%s/a*/b.c", dir);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);
	snprintf(path, sizeof(path), "%s/a\nb.c", dir);
	ck_assert_int_eq(render_with_template(path), -FLOWCTL_EREQUEST);
	rmdir(dir);
}
END_TEST

START_TEST(template_override_renders)
{
	char dir[] = "/tmp/flowctl-tmpl-check.XXXXXX", path[PATH_MAX];
	static const char text[] = "#include \"flow_abi.h\"\nint marker_x;\n";
	struct ebpf_knobs k;
	size_t len;
	char *src;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/t.c", dir);
	write_template(path, text, strlen(text), 0644);
	ebpf_knobs_default(&k);
	ck_assert_int_eq(setenv("FLOWCTL_EBPF_TEMPLATE", path, 1), 0);
	ck_assert_int_eq(ebpf_render(&k, &src, &len), 0);
	unsetenv("FLOWCTL_EBPF_TEMPLATE");
	ck_assert_ptr_nonnull(strstr(src, "int marker_x;\n"));
	ck_assert_ptr_nonnull(strstr(src, "struct flow_key {"));
	free(src);
	unlink(path);
	rmdir(dir);
}
END_TEST

static int count_entries(const char *dir)
{
	struct dirent *de;
	DIR *d = opendir(dir);
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			n++;
	closedir(d);
	return n;
}

static void rm_tree(const char *dir)
{
	char path[2 * PATH_MAX];
	struct dirent *de;
	DIR *d = opendir(dir);

	if (!d)
		return;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		unlink(path);
	}
	closedir(d);
	rmdir(dir);
}

START_TEST(build_caches_by_digest)
{
	char tmpl[] = "/tmp/flowctl-ebpf-check.XXXXXX";
	char obj[PATH_MAX], obj2[PATH_MAX], dir[PATH_MAX + 16];
	char digest[EBPF_DIGEST_LEN + 1], digest2[EBPF_DIGEST_LEN + 1];
	char want[PATH_MAX + 100];
	struct stat st1, st2;
	struct ebpf_knobs k;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	/* mkdir -p of a missing sub directory, created 0700 */
	snprintf(dir, sizeof(dir), "%s/a/obj", tmpl);
	ebpf_knobs_default(&k);
	k.max_flows = 128;
	ck_assert_int_eq(ebpf_build(&k, dir, obj, sizeof(obj), digest), 0);
	snprintf(want, sizeof(want), "%s/%s.bpf.o", dir, digest);
	ck_assert_str_eq(obj, want);
	ck_assert_int_eq(stat(dir, &st1), 0);
	ck_assert_uint_eq(st1.st_mode & 0777, 0700);
	ck_assert_int_eq(stat(obj, &st1), 0);
	ck_assert(st1.st_size > 0);
	/* the source that was compiled sits next to it; nothing else */
	ck_assert_int_eq(count_entries(dir), 2);

	/* second build: the same object, not rebuilt */
	ck_assert_int_eq(ebpf_build(&k, dir, obj2, sizeof(obj2), digest2), 0);
	ck_assert_str_eq(obj, obj2);
	ck_assert_str_eq(digest, digest2);
	ck_assert_int_eq(stat(obj2, &st2), 0);
	ck_assert_uint_eq(st1.st_ino, st2.st_ino);
	ck_assert_int_eq(st1.st_mtim.tv_nsec, st2.st_mtim.tv_nsec);

	/* a source clang rejects: -EINVAL and no object, no temp file */
	ck_assert_int_eq(ebpf_compile_source("int x = ;\n", 10, dir, obj2,
					     sizeof(obj2), digest2),
			 -EINVAL);
	snprintf(want, sizeof(want), "%s/%s.bpf.o", dir, digest2);
	ck_assert_int_ne(access(want, F_OK), 0);
	ck_assert_int_eq(count_entries(dir), 3);	/* + its .bpf.c */

	/* a cache directory others may write to is refused */
	ck_assert_int_eq(chmod(dir, 0777), 0);
	ck_assert_int_eq(ebpf_build(&k, dir, obj2, sizeof(obj2), digest2),
			 -EPERM);
	rm_tree(dir);
	snprintf(dir, sizeof(dir), "%s/a", tmpl);
	rmdir(dir);
	rmdir(tmpl);
}
END_TEST

/* A directory above the cache that others may write: refused. */
START_TEST(cache_untrusted_ancestor)
{
	char tmpl[] = "/tmp/flowctl-ebpf-check.XXXXXX";
	char dir[PATH_MAX + 16], open_dir[256], link[256];
	char obj[PATH_MAX], digest[EBPF_DIGEST_LEN + 1];
	struct ebpf_knobs k;

	ebpf_knobs_default(&k);
	k.max_flows = 256;
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(open_dir, sizeof(open_dir), "%s/open", tmpl);
	ck_assert_int_eq(mkdir(open_dir, 0700), 0);
	ck_assert_int_eq(chmod(open_dir, 0777), 0);
	snprintf(dir, sizeof(dir), "%s/obj", open_dir);
	ck_assert_int_eq(ebpf_build(&k, dir, obj, sizeof(obj), digest),
			 -EPERM);

	/* reached through a symlink: the directory it resolves to counts */
	snprintf(link, sizeof(link), "%s/link", tmpl);
	ck_assert_int_eq(symlink(open_dir, link), 0);
	snprintf(dir, sizeof(dir), "%s/obj", link);
	ck_assert_int_eq(ebpf_build(&k, dir, obj, sizeof(obj), digest),
			 -EPERM);
	/* the cache directory itself a symlink: refused */
	snprintf(dir, sizeof(dir), "%s/objlink", tmpl);
	ck_assert_int_eq(symlink(tmpl, dir), 0);
	ck_assert_int_eq(ebpf_build(&k, dir, obj, sizeof(obj), digest),
			 -EPERM);
	unlink(dir);
	unlink(link);

	/* sticky, like /tmp: others cannot move our entries, accepted */
	ck_assert_int_eq(chmod(open_dir, 01777), 0);
	snprintf(dir, sizeof(dir), "%s/obj", open_dir);
	ck_assert_int_eq(ebpf_build(&k, dir, obj, sizeof(obj), digest), 0);
	rm_tree(dir);
	rmdir(open_dir);
	rmdir(tmpl);
}
END_TEST

/* A cached object someone else could have written is rebuilt, not used. */
START_TEST(cache_rebuilds_loose_object)
{
	char tmpl[] = "/tmp/flowctl-ebpf-check.XXXXXX";
	char obj[PATH_MAX], obj2[PATH_MAX], digest[EBPF_DIGEST_LEN + 1];
	struct stat st1, st2;
	struct ebpf_knobs k;

	ebpf_knobs_default(&k);
	k.max_flows = 512;
	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	ck_assert_int_eq(ebpf_build(&k, tmpl, obj, sizeof(obj), digest), 0);
	ck_assert_int_eq(stat(obj, &st1), 0);
	ck_assert_uint_eq(st1.st_mode & 07777, 0600);
	ck_assert_int_eq(chmod(obj, 0666), 0);
	ck_assert_int_eq(ebpf_build(&k, tmpl, obj2, sizeof(obj2), digest), 0);
	ck_assert_str_eq(obj, obj2);
	ck_assert_int_eq(stat(obj2, &st2), 0);
	ck_assert_uint_ne(st1.st_ino, st2.st_ino);
	ck_assert_uint_eq(st2.st_mode & 07777, 0600);
	if (geteuid() == 0) {
		/* owned by another user: rebuilt too */
		ck_assert_int_eq(chown(obj, 1, 1), 0);
		ck_assert_int_eq(ebpf_build(&k, tmpl, obj2, sizeof(obj2),
					    digest), 0);
		ck_assert_int_eq(stat(obj2, &st1), 0);
		ck_assert_uint_eq(st1.st_uid, 0);
		ck_assert_uint_ne(st1.st_ino, st2.st_ino);
	}
	rm_tree(tmpl);
}
END_TEST

/*
 * The caller's environment does not reach clang: a header planted through
 * CPATH would otherwise be compiled into an object cached under a digest
 * that says nothing of it.
 */
START_TEST(build_ignores_compiler_env)
{
	char tmpl[] = "/tmp/flowctl-ebpf-check.XXXXXX";
	char cache[64], inc[64], bpfdir[80], hdr[120];
	char obj[PATH_MAX], digest[EBPF_DIGEST_LEN + 1];
	struct ebpf_knobs k;
	FILE *f;

	ck_assert_ptr_nonnull(mkdtemp(tmpl));
	snprintf(cache, sizeof(cache), "%s/obj", tmpl);
	snprintf(inc, sizeof(inc), "%s/inc", tmpl);
	snprintf(bpfdir, sizeof(bpfdir), "%s/bpf", inc);
	snprintf(hdr, sizeof(hdr), "%s/bpf_helpers.h", bpfdir);
	ck_assert_int_eq(mkdir(inc, 0700), 0);
	ck_assert_int_eq(mkdir(bpfdir, 0700), 0);
	f = fopen(hdr, "w");
	ck_assert_ptr_nonnull(f);
	fputs("#error planted header\n", f);
	fclose(f);
	ck_assert_int_eq(setenv("CPATH", inc, 1), 0);
	ck_assert_int_eq(setenv("C_INCLUDE_PATH", inc, 1), 0);
	ebpf_knobs_default(&k);
	k.max_flows = 1024;
	ck_assert_int_eq(ebpf_build(&k, cache, obj, sizeof(obj), digest), 0);
	unsetenv("CPATH");
	unsetenv("C_INCLUDE_PATH");
	unlink(hdr);
	rmdir(bpfdir);
	rmdir(inc);
	rm_tree(cache);
	rmdir(tmpl);
}
END_TEST

static Suite *ebpf_build_suite(void)
{
	Suite *s = suite_create("ebpf_build");
	TCase *tc = tcase_create("sha256");

	tcase_add_test(tc, sha256_empty);
	tcase_add_test(tc, sha256_abc);
	tcase_add_test(tc, sha256_448_bits);
	tcase_add_test(tc, sha256_896_bits);
	tcase_add_test(tc, sha256_million_a);
	tcase_add_test(tc, sha256_split_consistent);
	suite_add_tcase(s, tc);

	tc = tcase_create("render");
	tcase_add_test(tc, render_knobs_and_inlining);
	tcase_add_test(tc, render_defaults_and_range);
	tcase_add_test(tc, digest_follows_knobs);
	tcase_add_test(tc, template_override_refused);
	tcase_add_test(tc, template_override_renders);
	suite_add_tcase(s, tc);

	tc = tcase_create("build");
	/* clang compiles the template: allow it time on a slow machine */
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, build_caches_by_digest);
	tcase_add_test(tc, cache_untrusted_ancestor);
	tcase_add_test(tc, cache_rebuilds_loose_object);
	tcase_add_test(tc, build_ignores_compiler_env);
	suite_add_tcase(s, tc);
	return s;
}

CHECK_MAIN(ebpf_build_suite)
