/*
 * text.c — bounded formatting for health/ (see text.h).
 */
#include "health/text.h"

#include <stdarg.h>

void hc_fmtn(char *p, size_t n, const char *fmt, ...)
{
	if (n == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(p, n, fmt, ap);
	va_end(ap);
}
