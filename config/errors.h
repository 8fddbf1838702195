/*
 * errors.h — the collector of config errors and warnings (errors.c).
 *
 * Every step of loading (config/load.c and the sections it delegates to)
 * reports here, each message starting with its JSON path; nothing in
 * config/ prints. Kept apart from load.c so that the sections can report
 * without depending on the loader that calls them.
 */
#ifndef TANDEM_CONFIG_ERRORS_H
#define TANDEM_CONFIG_ERRORS_H

#include <stddef.h>

/* Errors collected while loading; each names its JSON path. */
struct cfg_errors {
	char **msgs;
	size_t n;
	char **warnings;
	size_t nwarn;
};
/* Frees every message and leaves e empty; NULL is a no-op. */
void cfg_errors_free(struct cfg_errors *e);

/* Append one message (cut at 512 bytes; dropped when out of memory). */
void cfg_error(struct cfg_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void cfg_warning(struct cfg_errors *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
