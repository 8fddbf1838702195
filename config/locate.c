/*
 * locate.c — line and column of a JSON path in the config text, for error
 * messages. jansson reports positions only for syntax errors, not for the
 * values of a parsed document, so this re-scans the text the loader parsed
 * (it is known to be valid JSON by then) with a small string-aware walker.
 *
 * Owns: nothing beyond the rewritten message strings.
 * Must not: judge the document; it only finds places in it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/locate.h"

static const char *skip_ws(const char *p)
{
	while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
		p++;
	return p;
}

/* p at '"': the byte after the closing quote. */
static const char *skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

/* p at the start of a value: the byte after it. */
static const char *skip_value(const char *p)
{
	if (*p == '"')
		return skip_string(p);
	if (*p == '{' || *p == '[') {
		int depth = 0;
		while (*p) {
			if (*p == '"') {
				p = skip_string(p);
				continue;
			}
			if (*p == '{' || *p == '[')
				depth++;
			else if (*p == '}' || *p == ']')
				if (--depth == 0)
					return p + 1;
			p++;
		}
		return p;
	}
	while (*p && *p != ',' && *p != '}' && *p != ']' && *p != ' ' && *p != '\n' && *p != '\t' &&
	       *p != '\r')
		p++;
	return p;
}

/* obj at '{': the opening quote of member key (klen bytes), or NULL. */
static const char *find_member(const char *obj, const char *key, size_t klen, const char **value)
{
	const char *p = skip_ws(obj + 1);
	while (*p == '"') {
		const char *kq = p;
		const char *kend = skip_string(p);
		p = skip_ws(kend);
		if (*p != ':')
			return NULL;
		p = skip_ws(p + 1);
		if ((size_t)(kend - kq) == klen + 2 && memcmp(kq + 1, key, klen) == 0) {
			*value = p;
			return kq;
		}
		p = skip_ws(skip_value(p));
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1);
	}
	return NULL;
}

/* arr at '[': the start of element idx, or NULL. */
static const char *find_element(const char *arr, unsigned long idx)
{
	const char *p = skip_ws(arr + 1);
	for (unsigned long i = 0; *p && *p != ']'; i++) {
		if (i == idx)
			return p;
		p = skip_ws(skip_value(p));
		if (*p != ',')
			return NULL;
		p = skip_ws(p + 1);
	}
	return NULL;
}

int cfg_locate(const char *text, const char *path, int *line, int *col)
{
	if (path[0] != '$')
		return -1;
	const char *val = skip_ws(text);
	const char *best = val;
	const char *q = path + 1;
	while (*q) {
		if (*q == '.') {
			q++;
			size_t klen = strcspn(q, ".[");
			const char *v;
			const char *k = *val == '{' ? find_member(val, q, klen, &v) : NULL;
			if (!k)
				break;
			best = k;
			val = v;
			q += klen;
		} else if (*q == '[') {
			char *end;
			unsigned long idx = strtoul(q + 1, &end, 10);
			const char *e = *val == '[' && *end == ']' ? find_element(val, idx) : NULL;
			if (!e)
				break;
			best = val = e;
			q = end + 1;
		} else {
			break;
		}
	}
	int l = 1, c = 1;
	for (const char *p = text; p < best; p++) {
		if (*p == '\n') {
			l++;
			c = 1;
		} else {
			c++;
		}
	}
	*line = l;
	*col = c;
	return 0;
}

void cfg_locate_messages(const char *text, const char *file, char **msgs, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const char *m = msgs[i];
		const char *sep = strstr(m, ": ");
		if (m[0] != '$' || !sep || (size_t)(sep - m) > 1000)
			continue;
		char path[1024];
		memcpy(path, m, (size_t)(sep - m));
		path[sep - m] = 0;
		int line, col;
		if (cfg_locate(text, path, &line, &col) < 0)
			continue;
		size_t len = strlen(file) + strlen(m) + 32;
		char *out = malloc(len);
		if (!out)
			continue;
		snprintf(out, len, "%s:%d:%d: %s", file, line, col, m);
		free(msgs[i]);
		msgs[i] = out;
	}
}
