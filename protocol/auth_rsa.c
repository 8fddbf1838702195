/*
 * auth_rsa.c — caching_sha2_password's RSA exchange (see auth_rsa.h).
 * OpenSSL EVP only; OAEP with its defaults (SHA-1, MGF1-SHA-1) is what
 * MySQL servers and Connector/C use.
 */
#include "protocol/auth_rsa.h"

#include <openssl/bio.h>
#include <openssl/decoder.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/auth.h"

static EVP_PKEY_CTX *oaep_ctx(EVP_PKEY *key, bool decrypt)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new(key, NULL);
	if (!ctx)
		return NULL;
	int rc = decrypt ? EVP_PKEY_decrypt_init(ctx) : EVP_PKEY_encrypt_init(ctx);
	if (rc <= 0 || EVP_PKEY_CTX_set_rsa_padding(ctx, RSA_PKCS1_OAEP_PADDING) <= 0) {
		EVP_PKEY_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

int proto_rsa_decrypt_password(EVP_PKEY *key, const uint8_t *ct, size_t ct_len,
			       const uint8_t scramble[20], char *out, size_t out_cap,
			       size_t *pw_len)
{
	uint8_t plain[PROTO_RSA_MAX_CIPHERTEXT];
	size_t plen = sizeof(plain);
	int ret = PROTO_E_MALFORMED;
	if (!key || ct_len == 0 || ct_len > PROTO_RSA_MAX_CIPHERTEXT ||
	    EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA)
		return PROTO_E_MALFORMED;
	EVP_PKEY_CTX *ctx = oaep_ctx(key, true);
	if (!ctx)
		return PROTO_E_MALFORMED;
	if (EVP_PKEY_decrypt(ctx, plain, &plen, ct, ct_len) <= 0 || plen == 0)
		goto out;
	for (size_t i = 0; i < plen; i++)
		plain[i] ^= scramble[i % 20];
	/* pw || NUL: exactly one NUL, at the end */
	if (plain[plen - 1] != 0 || memchr(plain, 0, plen - 1))
		goto out;
	if (plen > out_cap) {
		ret = PROTO_E_NOSPACE;
		goto out;
	}
	memcpy(out, plain, plen);
	*pw_len = plen - 1;
	ret = PROTO_OK;
out:
	proto_wipe(plain, sizeof(plain));
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

int proto_rsa_encrypt_password(EVP_PKEY *pub, const char *pw, size_t pw_len,
			       const uint8_t scramble[20], uint8_t *out, size_t out_cap,
			       size_t *out_len)
{
	if (!pub || EVP_PKEY_get_base_id(pub) != EVP_PKEY_RSA)
		return PROTO_E_MALFORMED;
	size_t key_bytes = (size_t)EVP_PKEY_get_size(pub);
	/* OAEP with SHA-1 takes at most k - 2*20 - 2 bytes */
	if (pw_len + 1 > PROTO_RSA_MAX_PASSWORD || key_bytes < 42 || pw_len + 1 > key_bytes - 42)
		return PROTO_E_TOO_LARGE;
	if (out_cap < key_bytes)
		return PROTO_E_NOSPACE;
	uint8_t plain[PROTO_RSA_MAX_PASSWORD];
	proto_sha2_xor_password(plain, pw, pw_len, scramble);
	int ret = PROTO_E_MALFORMED;
	EVP_PKEY_CTX *ctx = oaep_ctx(pub, false);
	size_t n = out_cap;
	if (ctx && EVP_PKEY_encrypt(ctx, out, &n, plain, pw_len + 1) > 0) {
		*out_len = n;
		ret = PROTO_OK;
	}
	proto_wipe(plain, sizeof(plain));
	EVP_PKEY_CTX_free(ctx);
	ERR_clear_error();
	return ret;
}

EVP_PKEY *proto_rsa_public_key_parse(const uint8_t *pem, size_t len)
{
	if (!pem || len == 0 || len > 64 * 1024)
		return NULL;
	/* No structure named: the decoder takes SubjectPublicKeyInfo ("PUBLIC
	 * KEY") and PKCS#1 ("RSA PUBLIC KEY", which some servers write) alike. */
	EVP_PKEY *key = NULL;
	OSSL_DECODER_CTX *dctx = OSSL_DECODER_CTX_new_for_pkey(
		&key, "PEM", NULL, "RSA", OSSL_KEYMGMT_SELECT_PUBLIC_KEY, NULL, NULL);
	const unsigned char *p = pem;
	size_t left = len;
	if (!dctx || OSSL_DECODER_from_data(dctx, &p, &left) != 1) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	OSSL_DECODER_CTX_free(dctx);
	ERR_clear_error();
	if (key && EVP_PKEY_get_base_id(key) != EVP_PKEY_RSA) {
		EVP_PKEY_free(key);
		key = NULL;
	}
	return key;
}

char *proto_rsa_public_pem(EVP_PKEY *key, size_t *len)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *text = NULL;
	if (bio && PEM_write_bio_PUBKEY(bio, key) == 1) {
		char *p;
		long n = BIO_get_mem_data(bio, &p);
		if (n > 0 && (text = malloc((size_t)n + 1))) {
			memcpy(text, p, (size_t)n);
			text[n] = 0;
			*len = (size_t)n;
		}
	}
	BIO_free(bio);
	ERR_clear_error();
	return text;
}
