/*
 * locate.h — where a JSON path is written in the config text (locate.c),
 * for the loader's messages (load.c) and the unit tests.
 */
#ifndef TANDEM_CONFIG_LOCATE_H
#define TANDEM_CONFIG_LOCATE_H

#include <stddef.h>

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
