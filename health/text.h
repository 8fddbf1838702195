/*
 * text.h — bounded string copies for health/'s fixed-size text fields
 * (errors, GTID sets, addresses), where cutting a long server message
 * short is the intended behaviour, not a bug to warn about.
 */
#ifndef TANDEM_HEALTH_TEXT_H
#define TANDEM_HEALTH_TEXT_H

#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* snprintf into p (size n) where cutting the text short is intended (a
 * function, so -Wformat-truncation does not flag every long server
 * message); the format is still checked. */
void hc_fmtn(char *p, size_t n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* The same into a char array. */
#define hc_fmt(buf, ...) hc_fmtn((buf), sizeof(buf), __VA_ARGS__)

/* Copy src (NULL counts as "") into dst of size n, cut and terminated. */
static inline void hc_copy(char *dst, size_t n, const char *src)
{
	if (n == 0)
		return;
	size_t len = src ? strlen(src) : 0;
	if (len >= n)
		len = n - 1;
	if (len)
		memcpy(dst, src, len);
	dst[len] = 0;
}

/* dst = prefix + src, cut to n. */
static inline void hc_copy2(char *dst, size_t n, const char *prefix, const char *src)
{
	hc_copy(dst, n, prefix);
	size_t used = strlen(dst);
	hc_copy(dst + used, n - used, src);
}

#endif
