/* SPDX-License-Identifier: Apache-2.0 */
/*
 * SHA-256 (FIPS 180-4).  Used for the digest that names a compiled BPF
 * object; not a general crypto library (no constant-time promises).
 */
#ifndef FLOWCTL_SHA256_H
#define FLOWCTL_SHA256_H

#include <stddef.h>
#include <stdint.h>

#define SHA256_DIGEST_SIZE	32
#define SHA256_BLOCK_SIZE	64

struct sha256_ctx {
	uint32_t state[8];
	uint64_t total_len;		/* bytes hashed so far */
	uint8_t block[SHA256_BLOCK_SIZE];
	size_t block_len;		/* bytes waiting in block */
};

void sha256_init(struct sha256_ctx *ctx);
void sha256_update(struct sha256_ctx *ctx, const void *data, size_t len);
void sha256_final(struct sha256_ctx *ctx, uint8_t out[SHA256_DIGEST_SIZE]);

/* One call: the digest of DATA as 64 lowercase hex digits + NUL. */
void sha256_hex(const void *data, size_t len,
		char hex[2 * SHA256_DIGEST_SIZE + 1]);
/* Hex of a finished digest. */
void sha256_to_hex(const uint8_t digest[SHA256_DIGEST_SIZE],
		   char hex[2 * SHA256_DIGEST_SIZE + 1]);

#endif
