/*
 * errors.c — the collector of config errors and warnings (errors.h).
 *
 * Owns: the message strings, until cfg_errors_free(). Must not: print or
 * log; the caller (tandem --check, a reload, a test) decides where
 * messages go.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/errors.h"

__attribute__((format(printf, 3, 0))) static void append(char ***list, size_t *n, const char *fmt,
							 va_list ap)
{
	char buf[512];
	vsnprintf(buf, sizeof(buf), fmt, ap);
	char **grown = realloc(*list, (*n + 1) * sizeof(char *));
	if (!grown)
		return;
	*list = grown;
	(*list)[*n] = strdup(buf);
	if ((*list)[*n])
		(*n)++;
}

void cfg_error(struct cfg_errors *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append(&e->msgs, &e->n, fmt, ap);
	va_end(ap);
}

void cfg_warning(struct cfg_errors *e, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	append(&e->warnings, &e->nwarn, fmt, ap);
	va_end(ap);
}

void cfg_errors_free(struct cfg_errors *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->n; i++)
		free(e->msgs[i]);
	for (size_t i = 0; i < e->nwarn; i++)
		free(e->warnings[i]);
	free(e->msgs);
	free(e->warnings);
	e->msgs = e->warnings = NULL;
	e->n = e->nwarn = 0;
}
