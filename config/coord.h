/*
 * coord.h — the "coordination" section of the config (coord.c), for the
 * loader (load.c). What it means at run time is health/coord.h.
 */
#ifndef TANDEM_CONFIG_COORD_H
#define TANDEM_CONFIG_COORD_H

#include <jansson.h>
#include <sys/types.h>

#include "config/config.h"
#include "config/errors.h"

/* Runs after "admin" (the default instance name takes the admin port);
 * group_ok as for cfg_secret_read(). */
void cfg_coord_load(struct cfg_errors *e, json_t *root, struct cfg *c, const char *base_dir,
		    const gid_t *group_ok);
void cfg_coord_free(struct cfg_coord *k);

#endif
