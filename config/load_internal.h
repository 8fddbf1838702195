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

/* coord.c: the "coordination" section (after "admin": the default
 * instance name takes the admin port). */
void cfg_coord_load(struct cfg_errors *e, json_t *root, struct cfg *c, const char *base_dir);
void cfg_coord_free(struct cfg_coord *k);

/* Largest config file read. */
#define CFG_MAX_FILE (16 << 20)

/*
 * Prefix each message that starts with a JSON path ("$.a.b[2]: ...") with
 * "FILE:LINE:COL: ", the place in text where that path's key is written (or
 * the deepest part of the path that exists, for a missing key). jansson keeps
 * no positions for values, so this re-scans the text; messages it cannot
 * place are left as they are.
 */
void cfg_locate_messages(const char *text, const char *file, char **msgs, size_t n);
/* Where path is in text: 0 with line and column (1-based), or -1. Exposed for tests. */
int cfg_locate(const char *text, const char *path, int *line, int *col);

#endif
