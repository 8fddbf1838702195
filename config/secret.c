/*
 * secret.c — secrets read from files named in the config (secret.h).
 *
 * Owns: the one rule for who may read a secret file. Must not: log the
 * secret or keep a copy of it (the read buffer is wiped).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "config/secret.h"
#include "protocol/auth.h"

char *cfg_secret_read(struct cfg_errors *e, const char *path, const char *file,
		      const char *base_dir, const gid_t *group_ok)
{
	char full[4096];
	if (file[0] != '/' && base_dir)
		snprintf(full, sizeof(full), "%s/%s", base_dir, file);
	else
		snprintf(full, sizeof(full), "%s", file);
	FILE *f = fopen(full, "r");
	if (!f) {
		cfg_error(e, "%s: cannot read %s: %s", path, full, strerror(errno));
		return NULL;
	}
	/* Others may never read a secret; its group may when that is the
	 * group tandem switches to ("user"), so root:tandem 0640 is quiet. */
	struct stat st;
	if (fstat(fileno(f), &st) == 0 &&
	    ((st.st_mode & S_IRWXO) ||
	     ((st.st_mode & S_IRWXG) && !(group_ok && st.st_gid == *group_ok))))
		cfg_warning(e, "%s: %s is readable by %s (mode %03o)", path, full,
			    (st.st_mode & S_IRWXO) ? "others" : "its group",
			    (unsigned)(st.st_mode & 0777));
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = 0;
	buf[strcspn(buf, "\r\n")] = 0;
	char *s = strdup(buf);
	proto_wipe(buf, sizeof(buf));
	return s;
}
