/*
 * test_auth_rsa.c — caching_sha2_password's RSA exchange (protocol/auth_rsa.c)
 * and the scrambles it builds on: encrypt/decrypt round trips with a fresh
 * key, the client's and the server's view agreeing, PEM in and out, and
 * every way a blob can be wrong (garbage, a wrong key, a wrong scramble,
 * no NUL terminator, truncated) giving PROTO_E_MALFORMED, never a crash.
 */
#include <check.h>
#include <openssl/ec.h>
#include <openssl/encoder.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/auth.h"
#include "protocol/auth_rsa.h"

static EVP_PKEY *key, *other;
static const uint8_t scramble[20] = "0123456789abcdefghij";

static void setup(void)
{
	if (!key)
		key = EVP_RSA_gen(2048);
	if (!other)
		other = EVP_RSA_gen(2048);
	ck_assert_ptr_nonnull(key);
	ck_assert_ptr_nonnull(other);
}

/* The public half only, as a client sees it: through the PEM text. */
static EVP_PKEY *public_of(EVP_PKEY *k)
{
	size_t len = 0;
	char *pem = proto_rsa_public_pem(k, &len);
	ck_assert_ptr_nonnull(pem);
	ck_assert_uint_eq(strlen(pem), len);
	ck_assert_ptr_nonnull(strstr(pem, "-----BEGIN PUBLIC KEY-----"));
	EVP_PKEY *pub = proto_rsa_public_key_parse((const uint8_t *)pem, len);
	free(pem);
	ck_assert_ptr_nonnull(pub);
	return pub;
}

START_TEST(round_trip)
{
	static const char *const passwords[] = {"app-pass", "", "x", "pässwörd with spaces",
						"0123456789012345678901234567890123456789"};
	EVP_PKEY *pub = public_of(key);
	for (size_t i = 0; i < sizeof(passwords) / sizeof(passwords[0]); i++) {
		const char *pw = passwords[i];
		uint8_t blob[PROTO_RSA_MAX_CIPHERTEXT];
		size_t blen = 0;
		ck_assert_int_eq(proto_rsa_encrypt_password(pub, pw, strlen(pw), scramble, blob,
							    sizeof(blob), &blen),
				 PROTO_OK);
		ck_assert_uint_eq(blen, 256);
		char out[64];
		size_t n = 99;
		ck_assert_int_eq(
			proto_rsa_decrypt_password(key, blob, blen, scramble, out, sizeof(out), &n),
			PROTO_OK);
		ck_assert_uint_eq(n, strlen(pw));
		ck_assert_str_eq(out, pw);
	}
	EVP_PKEY_free(pub);
}
END_TEST

/* The plaintext under the RSA layer is pw||NUL XOR scramble, repeated:
 * check the XOR against an independent computation. */
START_TEST(xor_layout)
{
	const char *pw = "abcdefghijklmnopqrstuvwxyz"; /* longer than the scramble */
	uint8_t out[32];
	proto_sha2_xor_password(out, pw, strlen(pw), scramble);
	for (size_t i = 0; i <= strlen(pw); i++) {
		uint8_t c = i < strlen(pw) ? (uint8_t)pw[i] : 0;
		ck_assert_uint_eq(out[i], c ^ scramble[i % 20]);
	}
}
END_TEST

START_TEST(wrong_key_scramble_garbage)
{
	EVP_PKEY *pub = public_of(key);
	uint8_t blob[PROTO_RSA_MAX_CIPHERTEXT];
	size_t blen = 0;
	ck_assert_int_eq(
		proto_rsa_encrypt_password(pub, "secret", 6, scramble, blob, sizeof(blob), &blen),
		PROTO_OK);
	char out[64];
	size_t n;
	/* another key cannot decrypt it */
	ck_assert_int_eq(
		proto_rsa_decrypt_password(other, blob, blen, scramble, out, sizeof(out), &n),
		PROTO_E_MALFORMED);
	/* another scramble moves the NUL: the plaintext is not pw||NUL */
	uint8_t other_scramble[20];
	memcpy(other_scramble, scramble, 20);
	other_scramble[6] ^= 0x55;
	ck_assert_int_eq(
		proto_rsa_decrypt_password(key, blob, blen, other_scramble, out, sizeof(out), &n),
		PROTO_E_MALFORMED);
	/* truncated, flipped, empty, oversized, all zeros */
	ck_assert_int_eq(
		proto_rsa_decrypt_password(key, blob, blen - 1, scramble, out, sizeof(out), &n),
		PROTO_E_MALFORMED);
	blob[100] ^= 1;
	ck_assert_int_eq(
		proto_rsa_decrypt_password(key, blob, blen, scramble, out, sizeof(out), &n),
		PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_rsa_decrypt_password(key, blob, 0, scramble, out, sizeof(out), &n),
			 PROTO_E_MALFORMED);
	uint8_t big[PROTO_RSA_MAX_CIPHERTEXT + 1] = {0};
	ck_assert_int_eq(
		proto_rsa_decrypt_password(key, big, sizeof(big), scramble, out, sizeof(out), &n),
		PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_rsa_decrypt_password(key, big, 256, scramble, out, sizeof(out), &n),
			 PROTO_E_MALFORMED);
	ck_assert_int_eq(
		proto_rsa_decrypt_password(NULL, blob, blen, scramble, out, sizeof(out), &n),
		PROTO_E_MALFORMED);
	/* the public half alone cannot decrypt */
	ck_assert_int_eq(
		proto_rsa_decrypt_password(pub, blob, blen, scramble, out, sizeof(out), &n),
		PROTO_E_MALFORMED);
	EVP_PKEY_free(pub);
}
END_TEST

/* A plaintext with a NUL in the middle (not a password) is refused, as
 * is one without its terminating NUL. */
START_TEST(plaintext_shape)
{
	EVP_PKEY *pub = public_of(key);
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(pub, NULL);
	ck_assert_ptr_nonnull(ctx);
	ck_assert_int_eq(EVP_PKEY_encrypt_init(ctx), 1);
	ck_assert_int_eq(EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING), 1);
	static const char *const plains[] = {"ab\0cd", "abcd"}; /* lengths 6 and 4 */
	size_t lens[] = {6, 4};
	for (int i = 0; i < 2; i++) {
		uint8_t x[8], blob[512];
		for (size_t j = 0; j < lens[i]; j++)
			x[j] = (uint8_t)plains[i][j] ^ scramble[j];
		size_t blen = sizeof(blob);
		ck_assert_int_eq(EVP_PKEY_encrypt(ctx, blob, &blen, x, lens[i]), 1);
		char out[64];
		size_t n;
		ck_assert_int_eq(
			proto_rsa_decrypt_password(key, blob, blen, scramble, out, sizeof(out), &n),
			PROTO_E_MALFORMED);
	}
	EVP_PKEY_CTX_free(ctx);
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(output_space_and_limits)
{
	EVP_PKEY *pub = public_of(key);
	uint8_t blob[PROTO_RSA_MAX_CIPHERTEXT];
	size_t blen = 0;
	/* a 2048-bit key with OAEP-SHA1 holds 214 bytes: 213 + NUL */
	char pw[300];
	memset(pw, 'p', sizeof(pw));
	ck_assert_int_eq(
		proto_rsa_encrypt_password(pub, pw, 213, scramble, blob, sizeof(blob), &blen),
		PROTO_OK);
	ck_assert_int_eq(
		proto_rsa_encrypt_password(pub, pw, 214, scramble, blob, sizeof(blob), &blen),
		PROTO_E_TOO_LARGE);
	ck_assert_int_eq(proto_rsa_encrypt_password(pub, pw, 5, scramble, blob, 255, &blen),
			 PROTO_E_NOSPACE);
	ck_assert_int_eq(
		proto_rsa_encrypt_password(pub, pw, 20, scramble, blob, sizeof(blob), &blen),
		PROTO_OK);
	char small[8];
	size_t n;
	ck_assert_int_eq(
		proto_rsa_decrypt_password(key, blob, blen, scramble, small, sizeof(small), &n),
		PROTO_E_NOSPACE);
	ck_assert_int_eq(
		proto_rsa_encrypt_password(NULL, pw, 5, scramble, blob, sizeof(blob), &blen),
		PROTO_E_MALFORMED);
	EVP_PKEY_free(pub);
}
END_TEST

START_TEST(pem_parsing)
{
	ck_assert_ptr_null(proto_rsa_public_key_parse((const uint8_t *)"", 0));
	ck_assert_ptr_null(proto_rsa_public_key_parse((const uint8_t *)"garbage", 7));
	const char *bad = "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n";
	ck_assert_ptr_null(proto_rsa_public_key_parse((const uint8_t *)bad, strlen(bad)));
	/* a PEM cut short */
	size_t len = 0;
	char *pem = proto_rsa_public_pem(key, &len);
	ck_assert_ptr_null(proto_rsa_public_key_parse((const uint8_t *)pem, len / 2));
	/* an EC key is not an RSA key */
	EVP_PKEY *ec = EVP_EC_gen("P-256");
	ck_assert_ptr_nonnull(ec);
	size_t eclen = 0;
	char *ecpem = proto_rsa_public_pem(ec, &eclen);
	ck_assert_ptr_nonnull(ecpem);
	ck_assert_ptr_null(proto_rsa_public_key_parse((const uint8_t *)ecpem, eclen));
	free(ecpem);
	EVP_PKEY_free(ec);
	free(pem);
}
END_TEST

/* The PKCS#1 form ("BEGIN RSA PUBLIC KEY") some servers send is accepted,
 * and encrypts for the same private key. */
START_TEST(pem_pkcs1)
{
	unsigned char *pem = NULL;
	size_t len = 0;
	OSSL_ENCODER_CTX *ectx = OSSL_ENCODER_CTX_new_for_pkey(key, EVP_PKEY_PUBLIC_KEY, "PEM",
							       "type-specific", NULL);
	ck_assert_ptr_nonnull(ectx);
	ck_assert_int_eq(OSSL_ENCODER_to_data(ectx, &pem, &len), 1);
	OSSL_ENCODER_CTX_free(ectx);
	/* OSSL_ENCODER_to_data's text is not NUL-terminated: search it by length */
	static const char tag[] = "BEGIN RSA PUBLIC KEY";
	ck_assert_ptr_nonnull(memmem(pem, len, tag, sizeof(tag) - 1));
	EVP_PKEY *k = proto_rsa_public_key_parse(pem, len);
	OPENSSL_free(pem);
	ck_assert_ptr_nonnull(k);
	uint8_t blob[PROTO_RSA_MAX_CIPHERTEXT];
	size_t blen;
	ck_assert_int_eq(
		proto_rsa_encrypt_password(k, "pkcs1", 5, scramble, blob, sizeof(blob), &blen),
		PROTO_OK);
	char out[16];
	size_t n;
	ck_assert_int_eq(
		proto_rsa_decrypt_password(key, blob, blen, scramble, out, sizeof(out), &n),
		PROTO_OK);
	ck_assert_str_eq(out, "pkcs1");
	EVP_PKEY_free(k);
}
END_TEST

/* caching_sha2 fast auth: the client's reply verifies against the digest
 * a server keeps; a wrong password or scramble does not. */
START_TEST(sha2_fast)
{
	uint8_t digest[32], reply[32];
	proto_sha2_digest2("app-pass", 8, digest);
	proto_sha2_reply(reply, "app-pass", 8, scramble);
	ck_assert(proto_sha2_check(reply, 32, scramble, digest));
	ck_assert(!proto_sha2_check(reply, 31, scramble, digest));
	uint8_t s2[20];
	memcpy(s2, scramble, 20);
	s2[0] ^= 1;
	ck_assert(!proto_sha2_check(reply, 32, s2, digest));
	proto_sha2_reply(reply, "app-pasS", 8, scramble);
	ck_assert(!proto_sha2_check(reply, 32, scramble, digest));
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("auth_rsa");
	TCase *tc = tcase_create("rsa");
	tcase_add_checked_fixture(tc, setup, NULL);
	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, round_trip);
	tcase_add_test(tc, xor_layout);
	tcase_add_test(tc, wrong_key_scramble_garbage);
	tcase_add_test(tc, plaintext_shape);
	tcase_add_test(tc, output_space_and_limits);
	tcase_add_test(tc, pem_parsing);
	tcase_add_test(tc, pem_pkcs1);
	tcase_add_test(tc, sha2_fast);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	/* no fork: the keys are generated once for all tests */
	srunner_set_fork_status(sr, CK_NOFORK);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	EVP_PKEY_free(key);
	EVP_PKEY_free(other);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
