/*
 * sha256: FIPS 180-4 SHA-256, for fingerprinting input files (run history
 * and idempotent re-staging).  No library in the chosen set exposes it.
 */
#ifndef MB_SHA256_H
#define MB_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t state[8];
	uint64_t length;         /* bytes hashed */
	unsigned char block[64];
	size_t fill;
};

void sha256_init(struct sha256 *s);
void sha256_update(struct sha256 *s, const void *p, size_t n);
/* Write the digest and wipe s (sha256_init() it again to reuse it). */
void sha256_final(struct sha256 *s, unsigned char digest[32]);

/* digest as 64 lowercase hex digits plus NUL. */
void sha256_hex(const unsigned char digest[32], char hex[65]);

#endif
