/*
 * fuzz_auth_rsa.c — the RSA step of caching_sha2_password: the ciphertext
 * a client sends (decrypted with tandem's private key) and the PEM public
 * key a server sends.
 *
 * Input: bytes used three ways: as a password to encrypt and decrypt again
 * (round trip), as a ciphertext to decrypt, and as PEM text. Invariants: a
 * password without a NUL comes back exactly; one with a NUL is refused; a
 * decrypted password is shorter than its ciphertext.
 */
#include "fuzz.h"

#include <openssl/evp.h>
#include <openssl/rsa.h>

#include "protocol/auth_rsa.h"

static EVP_PKEY *key;
static const uint8_t scramble[20] = "0123456789abcdefghij";

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* 1024 bits: real keys are larger, but every code path is the same
	 * and a private-key operation stays fast enough to fuzz */
	key = EVP_RSA_gen(1024);
	if (!key)
		abort();
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t ct[PROTO_RSA_MAX_CIPHERTEXT];
	size_t ct_len = 0, pw_len = 0;
	char pw[PROTO_RSA_MAX_PASSWORD + 1];

	int rc = proto_rsa_encrypt_password(key, (const char *)data, size, scramble, ct, sizeof(ct),
					    &ct_len);
	if (rc == PROTO_OK) {
		rc = proto_rsa_decrypt_password(key, ct, ct_len, scramble, pw, sizeof(pw), &pw_len);
		if (memchr(data, 0, size)) {
			FUZZ_CHECK(rc == PROTO_E_MALFORMED);
		} else {
			FUZZ_CHECK(rc == PROTO_OK && pw_len == size);
			FUZZ_CHECK(memcmp(pw, data, size) == 0 && pw[size] == 0);
		}
	} else {
		FUZZ_CHECK(rc == PROTO_E_TOO_LARGE);
	}

	rc = proto_rsa_decrypt_password(key, data, size, scramble, pw, sizeof(pw), &pw_len);
	FUZZ_CHECK(rc == PROTO_OK || rc == PROTO_E_MALFORMED || rc == PROTO_E_NOSPACE);
	if (rc == PROTO_OK)
		FUZZ_CHECK(pw_len < size && strlen(pw) == pw_len);

	EVP_PKEY *pub = proto_rsa_public_key_parse(data, size);
	EVP_PKEY_free(pub);
	return 0;
}
