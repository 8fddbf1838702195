/*
 * pattern.c — SQL LIKE matching ('%' any run, '_' one byte, '\' escapes),
 * as MariaDB applies it to account host names and as tandem applies it to
 * the user name patterns of users_from_backend.
 *
 * Must not: allocate, or recurse without bound (patterns come from the
 * config and from the backend's account table).
 */
#include <ctype.h>

#include "config/pattern.h"

static bool eq(char a, char b, bool fold)
{
	return fold ? tolower((unsigned char)a) == tolower((unsigned char)b) : a == b;
}

/* Iterative with one backtrack point: the last '%' seen. Linear in practice,
 * O(len(pattern) * len(text)) at worst. */
bool cfg_like_match(const char *pattern, const char *text, bool fold)
{
	const char *p = pattern, *t = text;
	const char *star_p = NULL, *star_t = NULL;
	while (*t) {
		if (*p == '%') {
			star_p = ++p;
			star_t = t;
			continue;
		}
		if (*p == '\\' && p[1] && eq(p[1], *t, fold)) {
			p += 2;
			t++;
			continue;
		}
		if (*p && *p != '\\' && (*p == '_' || eq(*p, *t, fold))) {
			p++;
			t++;
			continue;
		}
		if (!star_p)
			return false;
		p = star_p;
		t = ++star_t;
	}
	while (*p == '%')
		p++;
	return *p == 0;
}
