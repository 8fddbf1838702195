/*
 * auth.h — password scrambles of the authentication plugins tandem speaks.
 *
 * mysql_native_password: reply = SHA1(pw) XOR SHA1(scramble || SHA1(SHA1(pw))).
 * Knowing only the stored hash SHA1(SHA1(pw)) a server can check the reply
 * and, in doing so, recovers SHA1(pw) — enough to answer the next server's
 * scramble. Tandem relies on that to reach backends for hash-only users.
 *
 * caching_sha2_password: fast reply = SHA256(pw) XOR SHA256(SHA256(SHA256(pw)) || scramble);
 * full authentication sends the password over TLS, or RSA-encrypted
 * (pw||NUL XOR scramble, OAEP padding) on a plaintext connection.
 *
 * Owns: these computations. Must not: keep secrets anywhere but in the
 * caller's buffers, or log. Callers wipe secrets with proto_wipe().
 */
#ifndef TANDEM_PROTOCOL_AUTH_H
#define TANDEM_PROTOCOL_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_SHA1_LEN   20
#define PROTO_SHA256_LEN 32

#define PROTO_PLUGIN_NATIVE "mysql_native_password"
#define PROTO_PLUGIN_SHA2   "caching_sha2_password"
#define PROTO_PLUGIN_CLEAR  "mysql_clear_password"
#define PROTO_PLUGIN_OLD    "mysql_old_password"

/* caching_sha2 AuthMoreData status bytes */
#define PROTO_SHA2_REQUEST_PUBLIC_KEY 0x02
#define PROTO_SHA2_FAST_AUTH_OK       0x03
#define PROTO_SHA2_PERFORM_FULL_AUTH  0x04

/* SHA1(pw) and SHA1(SHA1(pw)). */
void proto_native_stages(const char *pw, size_t len, uint8_t stage1[PROTO_SHA1_LEN],
			 uint8_t stage2[PROTO_SHA1_LEN]);
/* Client side: reply from SHA1(pw) (stage1) and the server's 20-byte scramble. */
void proto_native_reply(uint8_t out[PROTO_SHA1_LEN], const uint8_t scramble[20],
			const uint8_t stage1[PROTO_SHA1_LEN]);
/* Server side: true if reply matches stage2 = SHA1(SHA1(pw)); then stage1_out
 * (when not NULL) holds the recovered SHA1(pw). Constant time compare. */
bool proto_native_check(const uint8_t *reply, size_t reply_len, const uint8_t scramble[20],
			const uint8_t stage2[PROTO_SHA1_LEN], uint8_t stage1_out[PROTO_SHA1_LEN]);
/* Parse "*" followed by 40 hex digits (either case). PROTO_OK or PROTO_E_MALFORMED. */
int proto_native_hash_parse(const char *text, size_t len, uint8_t stage2[PROTO_SHA1_LEN]);
/* Format stage2 as "*HEX" into out[42] (41 chars + NUL). */
void proto_native_hash_format(const uint8_t stage2[PROTO_SHA1_LEN], char out[42]);

/* caching_sha2: SHA256(SHA256(pw)), what a server keeps for fast auth. */
void proto_sha2_digest2(const char *pw, size_t len, uint8_t out[PROTO_SHA256_LEN]);
void proto_sha2_reply(uint8_t out[PROTO_SHA256_LEN], const char *pw, size_t len,
		      const uint8_t scramble[20]);
bool proto_sha2_check(const uint8_t *reply, size_t reply_len, const uint8_t scramble[20],
		      const uint8_t digest2[PROTO_SHA256_LEN]);
/* XOR pw||NUL with the scramble (repeated) — the plaintext that is RSA-encrypted. */
void proto_sha2_xor_password(uint8_t *out, const char *pw, size_t len, const uint8_t scramble[20]);

/*
 * mysql_old_password (pre-4.1, accepted by a server only with secure_auth
 * OFF): the stored hash is two 31-bit words (16 hex digits), and a reply
 * is 8 bytes derived from that hash and the scramble's first 8 bytes
 * (sql/password.c: hash_password, scramble_323, check_scramble_323, with
 * 64-bit unsigned long arithmetic as on the servers tandem fronts). The
 * hash alone both checks a client's reply and answers a server.
 */
#define PROTO_OLD_REPLY_LEN 8
void proto_old_hash(const char *pw, size_t len, uint32_t hash[2]);
/* "%08x%08x". PROTO_OK or PROTO_E_MALFORMED. */
int proto_old_hash_parse(const char *text, size_t len, uint32_t hash[2]);
void proto_old_reply(uint8_t out[PROTO_OLD_REPLY_LEN], const uint8_t scramble[8],
		     const uint32_t hash[2]);
/* reply: 8 bytes, or 9 ending in NUL (as Connector/C sends it). */
bool proto_old_check(const uint8_t *reply, size_t len, const uint8_t scramble[8],
		     const uint32_t hash[2]);

/* Overwrite a secret so the compiler cannot drop the store. */
void proto_wipe(void *p, size_t n);
/* Constant-time equality. */
bool proto_ct_equal(const void *a, const void *b, size_t n);

#endif
