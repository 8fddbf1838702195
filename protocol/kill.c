/*
 * kill.c — see kill.h. A strict little lexer: words separated by white
 * space, an optional `;` and white space at the end. Anything it does not
 * know makes the statement "not a KILL", which is always safe: the server
 * then sees the client's text as it is.
 */
#include "protocol/kill.h"

#include <ctype.h>
#include <strings.h>
#include <string.h>

static bool space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static size_t skip_space(const char *s, size_t len, size_t i)
{
	while (i < len && space(s[i]))
		i++;
	return i;
}

/* The word at i (letters only); its length, 0 if none. */
static size_t word(const char *s, size_t len, size_t i)
{
	size_t j = i;
	while (j < len && isalpha((unsigned char)s[j]))
		j++;
	return j - i;
}

static bool word_is(const char *s, size_t i, size_t n, const char *w)
{
	return n == strlen(w) && strncasecmp(s + i, w, n) == 0;
}

int proto_kill_parse(const char *sql, size_t len, struct proto_kill *k)
{
	memset(k, 0, sizeof(*k));
	size_t i = skip_space(sql, len, 0);
	size_t n = word(sql, len, i);
	if (!word_is(sql, i, n, "KILL"))
		return 0;
	i += n;
	/* white space after every word */
	size_t j = skip_space(sql, len, i);
	if (j == i)
		return 0;
	i = j;
	n = word(sql, len, i);
	if (word_is(sql, i, n, "HARD") || word_is(sql, i, n, "SOFT")) {
		j = skip_space(sql, len, i + n);
		if (j == i + n)
			return 0;
		i = j;
		n = word(sql, len, i);
	}
	if (word_is(sql, i, n, "CONNECTION") || word_is(sql, i, n, "QUERY")) {
		k->query_only = word_is(sql, i, n, "QUERY");
		j = skip_space(sql, len, i + n);
		if (j == i + n)
			return 0;
		i = j;
	} else if (n > 0) {
		return 0; /* USER, ID, anything else */
	}
	j = i;
	if (j >= len || !isdigit((unsigned char)sql[j]))
		return 0;
	k->id_at = j;
	uint64_t v = 0;
	while (j < len && isdigit((unsigned char)sql[j])) {
		v = v * 10 + (uint64_t)(sql[j] - '0');
		if (v > UINT32_MAX)
			return 0;
		j++;
	}
	k->id_len = j - k->id_at;
	k->id = (uint32_t)v;
	j = skip_space(sql, len, j);
	if (j < len && sql[j] == ';')
		j = skip_space(sql, len, j + 1);
	if (j != len || len > INT32_MAX)
		return 0;
	return (int)len;
}
