/*
 * fuzz_sqlmatch.c — the commit guard's text matcher, on a logged text
 * from a server's binlog against a client's statement.
 *
 * Input: a flags byte, then the sent text and the logged text split at
 * the first NUL. Invariants: neither side is read past its end (ASan); a
 * text always matches itself byte for byte; the same pair gives the same
 * answer.
 */
#include "fuzz.h"

#include "protocol/sqlmatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	bool tpl = data[0] & 1, nbs = (data[0] & 2) != 0;
	const char *p = (const char *)data + 1;
	size_t n = size - 1;
	const char *nul = memchr(p, 0, n);
	size_t sl = nul ? (size_t)(nul - p) : n;
	const char *l = nul ? nul + 1 : p + n;
	size_t ll = nul ? n - sl - 1 : 0;
	/* copies of exactly their lengths, so ASan sees any overread */
	char *s = malloc(sl ? sl : 1), *g = malloc(ll ? ll : 1);
	memcpy(s, p, sl);
	memcpy(g, l, ll);
	bool r = proto_sql_logged_match(s, sl, tpl, g, ll, nbs);
	FUZZ_CHECK(r == proto_sql_logged_match(s, sl, tpl, g, ll, nbs));
	FUZZ_CHECK(proto_sql_logged_match(s, sl, false, s, sl, nbs));
	size_t at;
	size_t span = proto_sql_logged_span(s, sl, &at);
	FUZZ_CHECK(at + span <= sl);
	free(s);
	free(g);
	return 0;
}
