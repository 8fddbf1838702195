/*
 * test_auth.c — protocol/auth.h: mysql_native_password and
 * caching_sha2_password scrambles, the *HEX hash, wiping, constant-time
 * compare. Known answers were computed independently with Python's hashlib
 * (tests/data/rawclient.py native_reply/sha2_reply) and the *HEX hash
 * equals MariaDB's PASSWORD('app-pass'); replies from real clients that the
 * real server accepted come from tests/data.
 */
#include "unit.h"

#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/protocol.h"

static const uint8_t SCRAMBLE[20] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10,
				     11, 12, 13, 14, 15, 16, 17, 18, 19, 20};
#define APP_HASH "*3F57C84FDE4BBAB2C998F3A2D311684280BAE8E7"

START_TEST(native_known_answers)
{
	uint8_t s1[PROTO_SHA1_LEN], s2[PROTO_SHA1_LEN], reply[PROTO_SHA1_LEN];
	proto_native_stages("app-pass", 8, s1, s2);
	char hex[42];
	proto_native_hash_format(s2, hex);
	ck_assert_str_eq(hex, APP_HASH);
	proto_native_reply(reply, SCRAMBLE, s1);
	ck_assert_hex(reply, sizeof(reply), "0c3bd9ddb19e7079231ddf38cb417847d84253ae");
	uint8_t rec[PROTO_SHA1_LEN];
	memset(rec, 0, sizeof(rec));
	ck_assert(proto_native_check(reply, sizeof(reply), SCRAMBLE, s2, rec));
	ck_assert_mem_eq(rec, s1, PROTO_SHA1_LEN); /* SHA1(pw) recovered */
	ck_assert(proto_native_check(reply, sizeof(reply), SCRAMBLE, s2, NULL));
}
END_TEST

/* mysql_old_password: the hash MariaDB's own mtr case stores for the
 * password 'oldpw' (main.change_user: IDENTIFIED BY PASSWORD
 * "09301740536db389"); a reply checks, a changed or cut one does not. */
START_TEST(old_password_hash_and_reply)
{
	uint32_t h[2], parsed[2];
	proto_old_hash("oldpw", 5, h);
	ck_assert_uint_eq(h[0], 0x09301740u);
	ck_assert_uint_eq(h[1], 0x536db389u);
	ck_assert_int_eq(proto_old_hash_parse("09301740536DB389", 16, parsed), PROTO_OK);
	ck_assert_mem_eq(parsed, h, sizeof(h));
	ck_assert_int_eq(proto_old_hash_parse("09301740536db38", 15, parsed), PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_old_hash_parse("09301740536db38g", 16, parsed), PROTO_E_MALFORMED);
	const uint8_t scramble[8] = {'a', 'B', '3', '!', '~', 'q', '(', 'Z'};
	uint8_t r[PROTO_OLD_REPLY_LEN + 1];
	proto_old_reply(r, scramble, h);
	for (int i = 0; i < PROTO_OLD_REPLY_LEN; i++)
		ck_assert(r[i] != 0); /* sent NUL-terminated: never a NUL inside */
	r[PROTO_OLD_REPLY_LEN] = 0;
	ck_assert(proto_old_check(r, PROTO_OLD_REPLY_LEN, scramble, h));
	ck_assert(proto_old_check(r, PROTO_OLD_REPLY_LEN + 1, scramble, h));
	ck_assert(!proto_old_check(r, PROTO_OLD_REPLY_LEN - 1, scramble, h));
	r[3] ^= 1;
	ck_assert(!proto_old_check(r, PROTO_OLD_REPLY_LEN, scramble, h));
}
END_TEST

START_TEST(native_check_rejects)
{
	uint8_t s1[PROTO_SHA1_LEN], s2[PROTO_SHA1_LEN], reply[PROTO_SHA1_LEN];
	uint8_t rec[PROTO_SHA1_LEN];
	proto_native_stages("app-pass", 8, s1, s2);
	proto_native_reply(reply, SCRAMBLE, s1);
	for (size_t i = 0; i < PROTO_SHA1_LEN; i++) {
		uint8_t bad[PROTO_SHA1_LEN];
		memcpy(bad, reply, sizeof(bad));
		bad[i] ^= 0x01;
		memset(rec, 0xaa, sizeof(rec));
		ck_assert(!proto_native_check(bad, sizeof(bad), SCRAMBLE, s2, rec));
		/* nothing recovered from a wrong reply */
		for (size_t j = 0; j < sizeof(rec); j++)
			ck_assert_uint_eq(rec[j], 0xaa);
	}
	ck_assert(!proto_native_check(reply, 19, SCRAMBLE, s2, NULL));
	ck_assert(!proto_native_check(reply, 0, SCRAMBLE, s2, NULL));
	/* another scramble, another password */
	uint8_t other[20];
	memcpy(other, SCRAMBLE, 20);
	other[19] ^= 0xff;
	ck_assert(!proto_native_check(reply, sizeof(reply), other, s2, NULL));
	uint8_t w1[PROTO_SHA1_LEN], w2[PROTO_SHA1_LEN];
	proto_native_stages("wrong", 5, w1, w2);
	ck_assert(!proto_native_check(reply, sizeof(reply), SCRAMBLE, w2, NULL));
}
END_TEST

/* Replies real clients sent, that the real server accepted. */
START_TEST(native_real_client_replies)
{
	uint8_t s2[PROTO_SHA1_LEN];
	ck_assert_int_eq(proto_native_hash_parse(APP_HASH, strlen(APP_HASH), s2), PROTO_OK);
	static const char *const files[] = {"cli_login", "capi_login", "pymysql_login",
					    "raw_eof_query"};
	for (size_t i = 0; i < 4; i++) {
		struct vec *v = vec_load(files[i]);
		struct proto_handshake hs;
		struct proto_handshake_response r;
		ck_assert_int_gt(proto_handshake_parse(v->f[0].payload, v->f[0].payload_len, &hs),
				 0);
		ck_assert_int_gt(proto_handshake_response_parse(v->f[1].payload,
								v->f[1].payload_len, hs.caps, &r),
				 0);
		ck_assert_uint_eq(v->f[2].payload[0], PROTO_OK_HEADER); /* the server said yes */
		ck_assert(proto_native_check((const uint8_t *)r.auth.p, r.auth.len, hs.scramble, s2,
					     NULL));
		vec_free(v);
	}
	/* and the one it refused */
	struct vec *v = vec_load("cli_denied");
	struct proto_handshake hs;
	struct proto_handshake_response r;
	proto_handshake_parse(v->f[0].payload, v->f[0].payload_len, &hs);
	proto_handshake_response_parse(v->f[1].payload, v->f[1].payload_len, hs.caps, &r);
	ck_assert_uint_eq(v->f[2].payload[0], PROTO_ERR_HEADER);
	ck_assert(
		!proto_native_check((const uint8_t *)r.auth.p, r.auth.len, hs.scramble, s2, NULL));
	vec_free(v);
}
END_TEST

START_TEST(hash_parse_and_format)
{
	uint8_t s2[PROTO_SHA1_LEN];
	char out[42];
	ck_assert_int_eq(proto_native_hash_parse(APP_HASH, 41, s2), PROTO_OK);
	proto_native_hash_format(s2, out);
	ck_assert_str_eq(out, APP_HASH);
	/* lower case is accepted, upper case is written */
	char lower[42];
	for (size_t i = 0; i < 41; i++)
		lower[i] = (char)(APP_HASH[i] >= 'A' && APP_HASH[i] <= 'F' ? APP_HASH[i] + 32
									   : APP_HASH[i]);
	lower[41] = 0;
	uint8_t s2b[PROTO_SHA1_LEN];
	ck_assert_int_eq(proto_native_hash_parse(lower, 41, s2b), PROTO_OK);
	ck_assert_mem_eq(s2, s2b, PROTO_SHA1_LEN);
	/* malformed */
	ck_assert_int_eq(proto_native_hash_parse(APP_HASH, 40, s2), PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_native_hash_parse(APP_HASH + 1, 40, s2), PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_native_hash_parse("", 0, s2), PROTO_E_MALFORMED);
	char bad[42];
	memcpy(bad, APP_HASH, 42);
	bad[0] = '#';
	ck_assert_int_eq(proto_native_hash_parse(bad, 41, s2), PROTO_E_MALFORMED);
	static const char nonhex[] = {'G', 'g', ' ', '/', ':', '@', '`', 0};
	for (size_t pos = 1; pos < 41; pos += 13)
		for (size_t j = 0; nonhex[j]; j++) {
			memcpy(bad, APP_HASH, 42);
			bad[pos] = nonhex[j];
			ck_assert_int_eq(proto_native_hash_parse(bad, 41, s2), PROTO_E_MALFORMED);
		}
	/* the old 16-digit pre-4.1 hash is not accepted */
	ck_assert_int_eq(proto_native_hash_parse("6f8c114b58f2ce9e", 16, s2), PROTO_E_MALFORMED);
}
END_TEST

START_TEST(sha2_known_answers)
{
	uint8_t d2[PROTO_SHA256_LEN], reply[PROTO_SHA256_LEN];
	proto_sha2_digest2("app-pass", 8, d2);
	ck_assert_hex(d2, sizeof(d2),
		      "843025eff563bb120765e854281fdace0a994c5715dbd89b89b6729cb5702adc");
	proto_sha2_reply(reply, "app-pass", 8, SCRAMBLE);
	ck_assert_hex(reply, sizeof(reply),
		      "c28ea0973cdfc6a28e2336674340a24bee7b60530123f260057cef4659410208");
	ck_assert(proto_sha2_check(reply, sizeof(reply), SCRAMBLE, d2));
	ck_assert(!proto_sha2_check(reply, 31, SCRAMBLE, d2));
	ck_assert(!proto_sha2_check(reply, 20, SCRAMBLE, d2));
	for (size_t i = 0; i < sizeof(reply); i += 7) {
		uint8_t bad[PROTO_SHA256_LEN];
		memcpy(bad, reply, sizeof(bad));
		bad[i] ^= 0x80;
		ck_assert(!proto_sha2_check(bad, sizeof(bad), SCRAMBLE, d2));
	}
	uint8_t other[PROTO_SHA256_LEN];
	proto_sha2_digest2("app-pasS", 8, other);
	ck_assert(!proto_sha2_check(reply, sizeof(reply), SCRAMBLE, other));
}
END_TEST

START_TEST(sha2_xor_password)
{
	uint8_t out[64];
	proto_sha2_xor_password(out, "ab", 2, SCRAMBLE);
	ck_assert_uint_eq(out[0], 'a' ^ 1);
	ck_assert_uint_eq(out[1], 'b' ^ 2);
	ck_assert_uint_eq(out[2], 0 ^ 3); /* the NUL terminator is included */
	/* longer than the scramble: it repeats */
	char pw[30];
	memset(pw, 'p', sizeof(pw));
	proto_sha2_xor_password(out, pw, sizeof(pw), SCRAMBLE);
	for (size_t i = 0; i < sizeof(pw); i++)
		ck_assert_uint_eq(out[i], (uint8_t)('p' ^ SCRAMBLE[i % 20]));
	ck_assert_uint_eq(out[30], SCRAMBLE[10]);
	/* the empty password is just the NUL */
	proto_sha2_xor_password(out, "", 0, SCRAMBLE);
	ck_assert_uint_eq(out[0], 1);
}
END_TEST

START_TEST(wipe_and_compare)
{
	uint8_t secret[33];
	memset(secret, 0x5a, sizeof(secret));
	proto_wipe(secret, sizeof(secret));
	for (size_t i = 0; i < sizeof(secret); i++)
		ck_assert_uint_eq(secret[i], 0);
	proto_wipe(secret, 0);
	ck_assert(proto_ct_equal("abc", "abc", 3));
	ck_assert(!proto_ct_equal("abc", "abd", 3));
	ck_assert(!proto_ct_equal("xbc", "abc", 3));
	ck_assert(proto_ct_equal("a", "b", 0));
}
END_TEST

static Suite *auth_suite(void)
{
	Suite *s = suite_create("auth");
	TCase *tc = tcase_create("auth");
	tcase_add_test(tc, native_known_answers);
	tcase_add_test(tc, native_check_rejects);
	tcase_add_test(tc, old_password_hash_and_reply);
	tcase_add_test(tc, native_real_client_replies);
	tcase_add_test(tc, hash_parse_and_format);
	tcase_add_test(tc, sha2_known_answers);
	tcase_add_test(tc, sha2_xor_password);
	tcase_add_test(tc, wipe_and_compare);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(auth_suite)
