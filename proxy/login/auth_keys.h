/*
 * auth_keys.h — the RSA key pair of caching_sha2_password full
 * authentication on connections without TLS.
 *
 * Tandem generates an RSA-2048 pair once at start-up (before any worker
 * runs; immutable afterwards, so workers read it without locks). A config
 * with "rsa_private_key" overrides it: that key lives in the snapshot and
 * changes with reloads. Must not: hand out the private half to anything
 * but a decrypt call.
 */
#ifndef TANDEM_PROXY_AUTH_KEYS_H
#define TANDEM_PROXY_AUTH_KEYS_H

#include <stddef.h>

#include "config/config.h"

/* Generate the start-up key. Main thread, before workers start. 0 or -1. */
int auth_keys_init(void);
void auth_keys_free(void);

/* The key sessions of snapshot c use, and its public PEM text; NULL when
 * there is none (auth_keys_init not run or failed). */
struct evp_pkey_st *auth_keys_rsa(const struct cfg *c, const char **pem, size_t *pem_len);

#endif
