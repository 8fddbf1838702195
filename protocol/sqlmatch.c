/*
 * sqlmatch.c — a client's statement text against the server's log of it
 * (see sqlmatch.h).
 *
 * Owns: the trimming the server does to a COM_QUERY's text, and the
 * literal grammar of an expanded placeholder.
 * Must not: allocate, or accept a text that differs outside placeholders:
 * a false match can tell a client its lost write committed.
 */
#include "protocol/sqlmatch.h"

#include <string.h>

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

size_t proto_sql_logged_span(const char *s, size_t len, size_t *at)
{
	size_t i = 0;
	while (i < len && is_blank(s[i]))
		i++;
	size_t e = len;
	while (e > i && (is_blank(s[e - 1]) || s[e - 1] == ';'))
		e--;
	*at = i;
	return e - i;
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_word(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

/* End of the quoted string opening at s[i] (its quote char), or 0 when it
 * does not close within len. */
static size_t quoted_end(const char *s, size_t len, size_t i, bool no_backslash)
{
	char q = s[i++];
	while (i < len) {
		if (s[i] == '\\' && !no_backslash) {
			i += 2;
			continue;
		}
		if (s[i] == q) {
			if (i + 1 < len && s[i + 1] == q) {
				i += 2; /* a doubled quote */
				continue;
			}
			return i + 1;
		}
		i++;
	}
	return 0;
}

/* Length of the literal an expanded placeholder left at s[0..len), or 0. */
static size_t literal_len(const char *s, size_t len, bool no_backslash)
{
	if (len >= 4 && strncmp(s, "NULL", 4) == 0 && (len == 4 || !is_word(s[4])))
		return 4;
	size_t i = 0;
	if (s[0] == '_') { /* a _charset introducer before a quoted string */
		i = 1;
		while (i < len && is_word(s[i]))
			i++;
		if (i == 1 || i >= len || s[i] != '\'')
			return 0;
	}
	if (i < len && s[i] == '\'') {
		size_t e = quoted_end(s, len, i, no_backslash);
		return e;
	}
	if (len >= 3 && (s[0] == 'X' || s[0] == 'x') && s[1] == '\'') {
		i = 2;
		while (i < len && is_hex(s[i]))
			i++;
		return i < len && s[i] == '\'' ? i + 1 : 0;
	}
	if (len >= 3 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		i = 2;
		while (i < len && is_hex(s[i]))
			i++;
		return i > 2 && (i == len || !is_word(s[i])) ? i : 0;
	}
	i = 0;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	size_t d0 = i;
	while (i < len && is_digit(s[i]))
		i++;
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (i == d0 || (i == d0 + 1 && s[d0] == '.'))
		return 0;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t j = i + 1;
		if (j < len && (s[j] == '-' || s[j] == '+'))
			j++;
		size_t e0 = j;
		while (j < len && is_digit(s[j]))
			j++;
		if (j > e0)
			i = j;
	}
	return i == len || !is_word(s[i]) ? i : 0;
}

/* Length of the comment opening at s[i], or 0 when none opens there. */
static size_t comment_len(const char *s, size_t len, size_t i)
{
	if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
		const char *e = len - i >= 4 ? memmem(s + i + 2, len - i - 2, "*/", 2) : NULL;
		return e ? (size_t)(e - (s + i)) + 2 : len - i;
	}
	bool dash = i + 2 < len && s[i] == '-' && s[i + 1] == '-' && is_blank(s[i + 2]);
	if (s[i] == '#' || dash) {
		size_t j = i;
		while (j < len && s[j] != '\n')
			j++;
		return j - i;
	}
	return 0;
}

bool proto_sql_logged_match(const char *sent, size_t sent_len, bool template_, const char *logged,
			    size_t logged_len, bool no_backslash)
{
	size_t a, b;
	size_t sl = proto_sql_logged_span(sent, sent_len, &a);
	size_t ll = proto_sql_logged_span(logged, logged_len, &b);
	const char *s = sent + a, *l = logged + b;
	if (!template_)
		return sl == ll && memcmp(s, l, sl) == 0;
	size_t i = 0, j = 0;
	while (i < sl) {
		char c = s[i];
		size_t span = 0;
		if (c == '\'' || c == '"' || c == '`') {
			size_t e = quoted_end(s, sl, i, no_backslash && c != '`');
			span = e ? e - i : sl - i;
		} else {
			span = comment_len(s, sl, i);
		}
		if (span) { /* copied verbatim by the server */
			if (ll - j < span || memcmp(s + i, l + j, span) != 0)
				return false;
			i += span;
			j += span;
			continue;
		}
		if (c == '?') {
			size_t n = j < ll ? literal_len(l + j, ll - j, no_backslash) : 0;
			if (!n)
				return false;
			i++;
			j += n;
			continue;
		}
		if (j >= ll || l[j] != c)
			return false;
		i++;
		j++;
	}
	return j == ll;
}
