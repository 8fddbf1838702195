/*
 * test_sqlmatch.c — protocol/sqlmatch: a client's statement against the
 * server's log of it. The logged texts here are what MariaDB 10.11 wrote
 * to Annotate_rows for them (SHOW BINLOG EVENTS): a COM_QUERY's text
 * trimmed, a prepared statement's with each value's literal in place of
 * its '?'. A text that differs anywhere else must not match.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/sqlmatch.h"
#include "unit.h"

static bool m(const char *sent, bool tpl, const char *logged)
{
	return proto_sql_logged_match(sent, strlen(sent), tpl, logged, strlen(logged), false);
}

START_TEST(test_exact)
{
	ck_assert(m("insert into t values (1)", false, "insert into t values (1)"));
	ck_assert(m("  insert into t values (1) ;; \n", false, "insert into t values (1)"));
	ck_assert(m("/*c*/ update t set a=1", false, "/*c*/ update t set a=1"));
	ck_assert(!m("insert into t values (1)", false, "insert into t values (2)"));
	ck_assert(!m("insert into t values (1)", false, "insert into t values (1),(1)"));
	ck_assert(!m("insert into t values (1)", false, "INSERT into t values (1)"));
	ck_assert(!m("", false, "x"));
	ck_assert(m("", false, " ;"));
	size_t at;
	ck_assert_uint_eq(proto_sql_logged_span(" \tab ;\n", 7, &at), 2);
	ck_assert_uint_eq(at, 2);
}
END_TEST

START_TEST(test_template)
{
	const char *tpl = "insert into t2 values (?,?,?,?,?,?,?,?)";
	ck_assert(m(tpl, true,
		    "insert into t2 values ('-5','a\\'b\\\\c\\n','2026-01-02 03:04:05','1.25e+30',"
		    "'\\0\\1','12.345','18446744073709551615','{\\\"k\\\": 1}')"));
	ck_assert(m(tpl, true, "insert into t2 values (NULL,'x',NULL,'0.1',NULL,NULL,'1',NULL)"));
	ck_assert(m("INSERT INTO d.t VALUES (?, ?, ?, ?)", true,
		    "INSERT INTO d.t VALUES (1, 'x\\'y', '2026-12-07 19:17:07', 1.5)"));
	ck_assert(m("update t set a = ? where id = ?", true,
		    "update t set a = -1.5e-3 where id = 7"));
	ck_assert(m("update t set b = ? where id = ?", true,
		    "update t set b = _binary'\\0x' where id = 0x1F"));
	ck_assert(m("update t set b = ? where id = ?", true,
		    "update t set b = X'00ff' where id = 2"));
	/* a '?' inside quotes or a comment is the template's own text */
	ck_assert(m("update t set q = '?', r = ? /* ? */", true,
		    "update t set q = '?', r = 5 /* ? */"));
	ck_assert(!m("update t set q = '?', r = ?", true, "update t set q = 'z', r = 5"));
	/* anything else that differs */
	ck_assert(!m("update t set a = ? where id = ?", true,
		     "update t set a = 1 where id = 7 or 1"));
	ck_assert(!m("update t set a = ? where id = ?", true, "update t set a = 1 where id ="));
	ck_assert(!m("update t set a = ? where id = ?", true, "update t set b = 1 where id = 2"));
	ck_assert(!m("update t set a = ?", true, "update t set a = foo"));
	ck_assert(!m("update t set a = ?", true, "update t set a = 'open"));
	ck_assert(!m("update t set a = ?", true, "update t set a = NULLx"));
	ck_assert(!m("update t set a = ?", true, "update t set a = 12abc"));
	/* no placeholder: byte for byte */
	ck_assert(m("delete from t", true, "delete from t"));
	ck_assert(!m("delete from t", true, "delete from u"));
}
END_TEST

START_TEST(test_no_backslash)
{
	const char *tpl = "update t set a = ?";
	const char *logged = "update t set a = 'it''s'";
	ck_assert(proto_sql_logged_match(tpl, strlen(tpl), true, logged, strlen(logged), true));
	const char *bs = "update t set a = 'x\\'";
	ck_assert(proto_sql_logged_match(tpl, strlen(tpl), true, bs, strlen(bs), true));
	ck_assert(!proto_sql_logged_match(tpl, strlen(tpl), true, bs, strlen(bs), false));
}
END_TEST

START_TEST(test_truncated)
{
	/* every prefix of either side is read within its length */
	static const char tpl[] = "insert into t values (?, '?', ?) /* c";
	static const char logged[] = "insert into t values (_latin1'a\\'', '?', X'0a') /* c";
	for (size_t n = 0; n <= sizeof(logged) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, logged, n);
		bool r = proto_sql_logged_match(tpl, sizeof(tpl) - 1, true, copy, n, false);
		ck_assert(r == (n == sizeof(logged) - 1));
		free(copy);
	}
	for (size_t n = 0; n < sizeof(tpl) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, tpl, n);
		(void)proto_sql_logged_match(copy, n, true, logged, sizeof(logged) - 1, false);
		free(copy);
	}
}
END_TEST

static Suite *sqlmatch_suite(void)
{
	Suite *s = suite_create("sqlmatch");
	TCase *tc = tcase_create("sqlmatch");
	tcase_add_test(tc, test_exact);
	tcase_add_test(tc, test_template);
	tcase_add_test(tc, test_no_backslash);
	tcase_add_test(tc, test_truncated);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(sqlmatch_suite)
