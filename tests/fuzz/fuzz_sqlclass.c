/*
 * fuzz_sqlclass.c — the lexical SQL classifier, on the text of a client's
 * COM_QUERY / COM_STMT_PREPARE.
 *
 * Input: 1 byte of flags (bit 0 NO_BACKSLASH_ESCAPES, bit 1 partial), then
 * the SQL text. Invariants: the counts agree with the flags; a SET NAMES
 * collation points inside the text; the text is never read past its end
 * (ASan); the same text gives the same answer.
 */
#include "fuzz.h"

#include "protocol/sqlclass.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags = (uint8_t)fuzz_take_le(&data, &size, 1);
	bool nbe = flags & 1, partial = flags & 2;
	struct proto_sql_class c, again;
	proto_sql_classify((const char *)data, size, nbe, partial, &c);
	FUZZ_CHECK(c.load_local <= c.statements);
	FUZZ_CHECK(!!(c.flags & PROTO_SQL_LOAD_LOCAL) == (c.load_local > 0));
	FUZZ_CHECK(!!(c.flags & PROTO_SQL_PARTIAL) == partial);
	FUZZ_CHECK(!(c.flags & PROTO_SQL_MULTI) || c.statements > 1 || partial);
	FUZZ_CHECK(!c.collate ||
		   (c.collate >= (const char *)data && c.collate_len >= 1 && c.collate_len <= 64 &&
		    c.collate + c.collate_len <= (const char *)data + size));
	proto_sql_classify((const char *)data, size, nbe, partial, &again);
	FUZZ_CHECK(memcmp(&c, &again, sizeof(c)) == 0);
	return 0;
}
