/*
 * secret.h — reading a secret from a file named in the config (secret.c):
 * "password_file" of users and monitors (config/load.c) and of the
 * coordination section (config/coord.c), with one permission rule.
 */
#ifndef TANDEM_CONFIG_SECRET_H
#define TANDEM_CONFIG_SECRET_H

#include <sys/types.h>

#include "config/errors.h"

/*
 * The first line of file (relative to base_dir unless absolute), without
 * its newline, as a malloc'ed string the caller owns and wipes; NULL with
 * an error "<path>: cannot read ..." in e. Warns when others may read the
 * file, or its group may and that group is not group_ok (the group of the
 * config's "user"; NULL: none).
 */
char *cfg_secret_read(struct cfg_errors *e, const char *path, const char *file,
		      const char *base_dir, const gid_t *group_ok);

#endif
