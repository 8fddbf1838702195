/*
 * auth_keys.c — the start-up RSA key (see login.h).
 */
#include "proxy/login/login.h"

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <stdlib.h>

#include "common/log.h"
#include "protocol/auth_rsa.h"

static EVP_PKEY *startup_key;
static char *startup_pem;
static size_t startup_pem_len;

int auth_keys_init(void)
{
	if (startup_key)
		return 0;
	EVP_PKEY *key = EVP_RSA_gen(2048);
	size_t len = 0;
	char *pem = key ? proto_rsa_public_pem(key, &len) : NULL;
	if (!pem) {
		EVP_PKEY_free(key);
		ERR_clear_error();
		log_error("cannot generate the RSA key for caching_sha2_password");
		return -1;
	}
	startup_key = key;
	startup_pem = pem;
	startup_pem_len = len;
	return 0;
}

void auth_keys_free(void)
{
	EVP_PKEY_free(startup_key);
	free(startup_pem);
	startup_key = NULL;
	startup_pem = NULL;
	startup_pem_len = 0;
}

EVP_PKEY *auth_keys_rsa(const struct cfg *c, const char **pem, size_t *pem_len)
{
	if (c && c->rsa_key) {
		*pem = c->rsa_public_pem;
		*pem_len = c->rsa_public_pem_len;
		return c->rsa_key;
	}
	*pem = startup_pem;
	*pem_len = startup_pem_len;
	return startup_key;
}
