/*
 * load_internal.h — helpers shared by the files of config/, not part of the contract.
 */
#ifndef TANDEM_CONFIG_LOAD_INTERNAL_H
#define TANDEM_CONFIG_LOAD_INTERNAL_H

#include <jansson.h>

#include "config/config.h"

void cfg_error(struct cfg_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg_warning(struct cfg_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* tls.c: the "tls" objects and RSA key paths. Tenants take the top-level
 * default, so cfg_tls_load_root runs before any tenant is loaded. */
void cfg_tls_load_root(struct cfg_errors *e, json_t *root, struct cfg *c, const char *base_dir);
void cfg_tls_load_tenant(struct cfg_errors *e, json_t *obj, const char *path, const struct cfg *c,
			 struct cfg_tenant *t, const char *base_dir);
void cfg_tls_load_cluster(struct cfg_errors *e, json_t *obj, const char *path,
			  struct cfg_cluster *cl, const char *base_dir);
void cfg_tls_free(struct cfg *c);

#endif
