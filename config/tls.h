/*
 * tls.h — the TLS and RSA-key sections of the config (tls.c), for the
 * loader (load.c) and the coordination section (coord.c).
 */
#ifndef TANDEM_CONFIG_TLS_H
#define TANDEM_CONFIG_TLS_H

#include <jansson.h>

#include "config/config.h"
#include "config/errors.h"

/* The "tls" objects and RSA key paths. Tenants take the top-level
 * default, so cfg_tls_load_root runs before any tenant is loaded. */
void cfg_tls_load_root(struct cfg_errors *e, json_t *root, struct cfg *c, const char *base_dir);
void cfg_tls_load_tenant(struct cfg_errors *e, json_t *obj, const char *path, const struct cfg *c,
			 struct cfg_tenant *t, const char *base_dir);
void cfg_tls_load_cluster(struct cfg_errors *e, json_t *obj, const char *path,
			  struct cfg_cluster *cl, const char *base_dir);
void cfg_tls_free(struct cfg *c);

#endif
