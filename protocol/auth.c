/*
 * auth.c — scramble computations for mysql_native_password and
 * caching_sha2_password (see auth.h). Uses OpenSSL's one-shot digests only;
 * every intermediate secret is wiped before return.
 */
#include "protocol/auth.h"

#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <string.h>

#include "protocol/protocol.h"

void proto_wipe(void *p, size_t n)
{
	OPENSSL_cleanse(p, n);
}

bool proto_ct_equal(const void *a, const void *b, size_t n)
{
	return CRYPTO_memcmp(a, b, n) == 0;
}

void proto_native_stages(const char *pw, size_t len, uint8_t stage1[PROTO_SHA1_LEN],
			 uint8_t stage2[PROTO_SHA1_LEN])
{
	SHA1((const unsigned char *)pw, len, stage1);
	SHA1(stage1, PROTO_SHA1_LEN, stage2);
}

/* SHA1(scramble || stage2) — the mask both sides compute. */
static void native_mask(uint8_t out[PROTO_SHA1_LEN], const uint8_t scramble[20],
			const uint8_t stage2[PROTO_SHA1_LEN])
{
	uint8_t buf[20 + PROTO_SHA1_LEN];
	memcpy(buf, scramble, 20);
	memcpy(buf + 20, stage2, PROTO_SHA1_LEN);
	SHA1(buf, sizeof(buf), out);
	proto_wipe(buf, sizeof(buf));
}

void proto_native_reply(uint8_t out[PROTO_SHA1_LEN], const uint8_t scramble[20],
			const uint8_t stage1[PROTO_SHA1_LEN])
{
	uint8_t stage2[PROTO_SHA1_LEN], mask[PROTO_SHA1_LEN];
	SHA1(stage1, PROTO_SHA1_LEN, stage2);
	native_mask(mask, scramble, stage2);
	for (size_t i = 0; i < PROTO_SHA1_LEN; i++)
		out[i] = stage1[i] ^ mask[i];
	proto_wipe(stage2, sizeof(stage2));
	proto_wipe(mask, sizeof(mask));
}

bool proto_native_check(const uint8_t *reply, size_t reply_len, const uint8_t scramble[20],
			const uint8_t stage2[PROTO_SHA1_LEN], uint8_t stage1_out[PROTO_SHA1_LEN])
{
	uint8_t mask[PROTO_SHA1_LEN], stage1[PROTO_SHA1_LEN], check[PROTO_SHA1_LEN];
	if (reply_len != PROTO_SHA1_LEN)
		return false;
	native_mask(mask, scramble, stage2);
	for (size_t i = 0; i < PROTO_SHA1_LEN; i++)
		stage1[i] = reply[i] ^ mask[i];
	SHA1(stage1, PROTO_SHA1_LEN, check);
	bool ok = proto_ct_equal(check, stage2, PROTO_SHA1_LEN);
	if (ok && stage1_out)
		memcpy(stage1_out, stage1, PROTO_SHA1_LEN);
	proto_wipe(mask, sizeof(mask));
	proto_wipe(stage1, sizeof(stage1));
	proto_wipe(check, sizeof(check));
	return ok;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int proto_native_hash_parse(const char *text, size_t len, uint8_t stage2[PROTO_SHA1_LEN])
{
	if (len != 1 + 2 * PROTO_SHA1_LEN || text[0] != '*')
		return PROTO_E_MALFORMED;
	for (size_t i = 0; i < PROTO_SHA1_LEN; i++) {
		int hi = hexval(text[1 + 2 * i]), lo = hexval(text[2 + 2 * i]);
		if (hi < 0 || lo < 0)
			return PROTO_E_MALFORMED;
		stage2[i] = (uint8_t)(hi << 4 | lo);
	}
	return PROTO_OK;
}

void proto_native_hash_format(const uint8_t stage2[PROTO_SHA1_LEN], char out[42])
{
	static const char hex[] = "0123456789ABCDEF";
	out[0] = '*';
	for (size_t i = 0; i < PROTO_SHA1_LEN; i++) {
		out[1 + 2 * i] = hex[stage2[i] >> 4];
		out[2 + 2 * i] = hex[stage2[i] & 15];
	}
	out[41] = 0;
}

void proto_sha2_digest2(const char *pw, size_t len, uint8_t out[PROTO_SHA256_LEN])
{
	uint8_t d1[PROTO_SHA256_LEN];
	SHA256((const unsigned char *)pw, len, d1);
	SHA256(d1, sizeof(d1), out);
	proto_wipe(d1, sizeof(d1));
}

/* SHA256(digest2 || scramble) */
static void sha2_mask(uint8_t out[PROTO_SHA256_LEN], const uint8_t digest2[PROTO_SHA256_LEN],
		      const uint8_t scramble[20])
{
	uint8_t buf[PROTO_SHA256_LEN + 20];
	memcpy(buf, digest2, PROTO_SHA256_LEN);
	memcpy(buf + PROTO_SHA256_LEN, scramble, 20);
	SHA256(buf, sizeof(buf), out);
	proto_wipe(buf, sizeof(buf));
}

void proto_sha2_reply(uint8_t out[PROTO_SHA256_LEN], const char *pw, size_t len,
		      const uint8_t scramble[20])
{
	uint8_t d1[PROTO_SHA256_LEN], d2[PROTO_SHA256_LEN], mask[PROTO_SHA256_LEN];
	SHA256((const unsigned char *)pw, len, d1);
	SHA256(d1, sizeof(d1), d2);
	sha2_mask(mask, d2, scramble);
	for (size_t i = 0; i < PROTO_SHA256_LEN; i++)
		out[i] = d1[i] ^ mask[i];
	proto_wipe(d1, sizeof(d1));
	proto_wipe(d2, sizeof(d2));
	proto_wipe(mask, sizeof(mask));
}

bool proto_sha2_check(const uint8_t *reply, size_t reply_len, const uint8_t scramble[20],
		      const uint8_t digest2[PROTO_SHA256_LEN])
{
	uint8_t mask[PROTO_SHA256_LEN], d1[PROTO_SHA256_LEN], check[PROTO_SHA256_LEN];
	if (reply_len != PROTO_SHA256_LEN)
		return false;
	sha2_mask(mask, digest2, scramble);
	for (size_t i = 0; i < PROTO_SHA256_LEN; i++)
		d1[i] = reply[i] ^ mask[i];
	SHA256(d1, sizeof(d1), check);
	bool ok = proto_ct_equal(check, digest2, PROTO_SHA256_LEN);
	proto_wipe(mask, sizeof(mask));
	proto_wipe(d1, sizeof(d1));
	proto_wipe(check, sizeof(check));
	return ok;
}

void proto_sha2_xor_password(uint8_t *out, const char *pw, size_t len, const uint8_t scramble[20])
{
	for (size_t i = 0; i <= len; i++) {
		uint8_t c = i < len ? (uint8_t)pw[i] : 0;
		out[i] = c ^ scramble[i % 20];
	}
}

/* ------------------------------------------------- mysql_old_password */

static void old_hash64(const uint8_t *p, size_t len, uint64_t out[2])
{
	uint64_t nr = 1345345333ULL, add = 7, nr2 = 0x12345671ULL;
	for (size_t i = 0; i < len; i++) {
		if (p[i] == ' ' || p[i] == '\t')
			continue;
		uint64_t tmp = p[i];
		nr ^= (((nr & 63) + add) * tmp) + (nr << 8);
		nr2 += (nr2 << 8) ^ nr;
		add += tmp;
	}
	out[0] = nr & ((1ULL << 31) - 1);
	out[1] = nr2 & ((1ULL << 31) - 1);
}

void proto_old_hash(const char *pw, size_t len, uint32_t hash[2])
{
	uint64_t h[2];
	old_hash64((const uint8_t *)pw, len, h);
	hash[0] = (uint32_t)h[0];
	hash[1] = (uint32_t)h[1];
}

int proto_old_hash_parse(const char *text, size_t len, uint32_t hash[2])
{
	if (len != 16)
		return PROTO_E_MALFORMED;
	for (int w = 0; w < 2; w++) {
		uint32_t v = 0;
		for (int i = 0; i < 8; i++) {
			char c = text[w * 8 + i];
			int d = c >= '0' && c <= '9'   ? c - '0'
				: c >= 'a' && c <= 'f' ? c - 'a' + 10
				: c >= 'A' && c <= 'F' ? c - 'A' + 10
						       : -1;
			if (d < 0)
				return PROTO_E_MALFORMED;
			v = v << 4 | (uint32_t)d;
		}
		hash[w] = v;
	}
	return PROTO_OK;
}

/* The server's my_rnd (mysys/my_rnd.c). */
struct old_rnd {
	uint64_t seed1, seed2;
};

static double old_rnd_next(struct old_rnd *r)
{
	const uint64_t max = 0x3FFFFFFFULL;
	r->seed1 = (r->seed1 * 3 + r->seed2) % max;
	r->seed2 = (r->seed1 + r->seed2 + 33) % max;
	return (double)r->seed1 / (double)max;
}

void proto_old_reply(uint8_t out[PROTO_OLD_REPLY_LEN], const uint8_t scramble[8],
		     const uint32_t hash[2])
{
	uint64_t m[2];
	old_hash64(scramble, 8, m);
	const uint64_t max = 0x3FFFFFFFULL;
	struct old_rnd r = {(hash[0] ^ m[0]) % max, (hash[1] ^ m[1]) % max};
	for (int i = 0; i < PROTO_OLD_REPLY_LEN; i++)
		out[i] = (uint8_t)((unsigned)(old_rnd_next(&r) * 31) + 64); /* floor: >= 0 */
	uint8_t extra = (uint8_t)(unsigned)(old_rnd_next(&r) * 31);
	for (int i = 0; i < PROTO_OLD_REPLY_LEN; i++)
		out[i] ^= extra;
}

bool proto_old_check(const uint8_t *reply, size_t len, const uint8_t scramble[8],
		     const uint32_t hash[2])
{
	if (len == PROTO_OLD_REPLY_LEN + 1 && reply[PROTO_OLD_REPLY_LEN] == 0)
		len--;
	if (len != PROTO_OLD_REPLY_LEN)
		return false;
	uint8_t want[PROTO_OLD_REPLY_LEN];
	proto_old_reply(want, scramble, hash);
	bool ok = proto_ct_equal(want, reply, sizeof(want));
	proto_wipe(want, sizeof(want));
	return ok;
}
