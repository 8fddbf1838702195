/*
 * test_sqlclass.c — protocol/sqlclass: the lexical classifier, statement
 * by statement, with the comment, quoting and multi-statement cases that
 * decide whether a LOCAL INFILE request may be forwarded.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/sqlclass.h"

static struct proto_sql_class classify(const char *sql)
{
	struct proto_sql_class c;
	proto_sql_classify(sql, strlen(sql), false, false, &c);
	return c;
}

static unsigned flags(const char *sql)
{
	return classify(sql).flags;
}

START_TEST(test_load_local)
{
	static const char *const yes[] = {
		"LOAD DATA LOCAL INFILE '/tmp/x' INTO TABLE t",
		"load data local infile '/tmp/x' into table t",
		"  \n\tLoad Data Low_Priority Local InFile 'x' INTO TABLE t",
		"LOAD DATA CONCURRENT LOCAL INFILE 'x' INTO TABLE t",
		"LOAD XML LOCAL INFILE 'x.xml' INTO TABLE t",
		"/* leading comment */ LOAD DATA LOCAL INFILE 'x' INTO TABLE t",
		"-- a line comment\nLOAD DATA LOCAL INFILE 'x' INTO TABLE t",
		"# hash comment\nLOAD DATA LOCAL INFILE 'x' INTO TABLE t",
		"LOAD/*c*/DATA/*c*/LOCAL/*c*/INFILE 'x' INTO TABLE t",
		"/*!LOAD DATA LOCAL INFILE 'x' INTO TABLE t */",
		"/*M!100000 LOAD DATA LOCAL INFILE 'x' INTO TABLE t */",
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct proto_sql_class c = classify(yes[i]);
		ck_assert_msg(c.flags & PROTO_SQL_LOAD_LOCAL, "not LOAD LOCAL: %s", yes[i]);
		ck_assert_uint_eq(c.load_local, 1);
		ck_assert_uint_eq(c.statements, 1);
	}
	static const char *const no[] = {
		"LOAD DATA INFILE '/tmp/x' INTO TABLE t", /* server-side file */
		"SELECT 'LOAD DATA LOCAL INFILE'",        /* in a string */
		"SELECT 1 -- LOAD DATA LOCAL INFILE 'x'", /* in a comment */
		"/* LOAD DATA LOCAL INFILE 'x' */ SELECT 1",
		"SELECT `LOAD DATA LOCAL INFILE`", /* a quoted identifier */
		"SELECT 1 FROM t WHERE a = 'x\\' LOAD DATA LOCAL INFILE'",
		"LOAD INDEX INTO CACHE t",
		"SELECT 1",
		"--LOAD DATA LOCAL INFILE 'x'", /* '--' without a space is no comment, still no LOAD first */
		"",
		"LOAD DATA LOCAL", /* cut before INFILE */
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct proto_sql_class c = classify(no[i]);
		ck_assert_msg(!(c.flags & PROTO_SQL_LOAD_LOCAL), "LOAD LOCAL: %s", no[i]);
		ck_assert_uint_eq(c.load_local, 0);
	}
}
END_TEST

START_TEST(test_multi_statements)
{
	struct proto_sql_class c = classify("SELECT 1; LOAD DATA LOCAL INFILE 'a' INTO TABLE t; "
					    "LOAD DATA LOCAL INFILE 'b' INTO TABLE t;");
	ck_assert(c.flags & PROTO_SQL_MULTI);
	ck_assert_uint_eq(c.statements, 3);
	ck_assert_uint_eq(c.load_local, 2);
	c = classify("SELECT ';'; SELECT \";\"; SELECT `;`");
	ck_assert_uint_eq(c.statements, 3);
	c = classify("SELECT 1;;  ; ");
	ck_assert_uint_eq(c.statements, 1);
	ck_assert(!(c.flags & PROTO_SQL_MULTI));
	/* a string with an escaped quote does not end early */
	c = classify("SELECT 'it\\'s; LOAD DATA LOCAL INFILE'");
	ck_assert_uint_eq(c.statements, 1);
	ck_assert_uint_eq(c.load_local, 0);
	c = classify("SELECT 'it''s; still a string'");
	ck_assert_uint_eq(c.statements, 1);
}
END_TEST

START_TEST(test_no_backslash_escapes)
{
	/* With NO_BACKSLASH_ESCAPES 'a\' is a whole string: what follows is code. */
	const char *sql = "SELECT 'a\\'; LOAD DATA LOCAL INFILE 'x' INTO TABLE t";
	struct proto_sql_class c;
	proto_sql_classify(sql, strlen(sql), true, false, &c);
	ck_assert_uint_eq(c.statements, 2);
	ck_assert_uint_eq(c.load_local, 1);
	proto_sql_classify(sql, strlen(sql), false, false, &c);
	ck_assert_uint_eq(c.statements, 1);
	ck_assert_uint_eq(c.load_local, 0);
}
END_TEST

START_TEST(test_state_markers)
{
	ck_assert(flags("CREATE TEMPORARY TABLE t (a int)") & PROTO_SQL_TEMP_TABLE);
	ck_assert(flags("create or replace temporary table t (a int)") & PROTO_SQL_TEMP_TABLE);
	ck_assert(!(flags("CREATE TABLE temporary_x (a int)") & PROTO_SQL_TEMP_TABLE));
	ck_assert(flags("SELECT GET_LOCK('x', 10)") & PROTO_SQL_GET_LOCK);
	ck_assert(flags("do get_lock ('x', 10)") & PROTO_SQL_GET_LOCK);
	ck_assert(!(flags("SELECT 'GET_LOCK(x)'") & PROTO_SQL_GET_LOCK));
	ck_assert(!(flags("SELECT get_lock_count FROM t") & PROTO_SQL_GET_LOCK));
	ck_assert(flags("LOCK TABLES t READ") & PROTO_SQL_LOCK_TABLES);
	ck_assert(flags("lock table t write") & PROTO_SQL_LOCK_TABLES);
	ck_assert(flags("FLUSH TABLES WITH READ LOCK") & PROTO_SQL_LOCK_TABLES);
	ck_assert(flags("BACKUP STAGE START") & PROTO_SQL_LOCK_TABLES);
	ck_assert(!(flags("FLUSH TABLES") & PROTO_SQL_LOCK_TABLES));
	ck_assert(flags("UNLOCK TABLES") & PROTO_SQL_UNLOCK_TABLES);
	ck_assert(flags("PREPARE s FROM 'SELECT 1'") & PROTO_SQL_PREPARE);
	ck_assert(!(flags("EXECUTE s") & PROTO_SQL_PREPARE));
}
END_TEST

START_TEST(test_user_vars)
{
	static const char *const yes[] = {
		"SET @x = 1",
		"set @x=1, @y=2",
		"SET @`odd name` = 1",
		"SET @@session.time_zone='+00:00', @x = 3",
		"SELECT @x := 1",
		"SELECT a INTO @x FROM t",
		"SELECT a, b FROM t INTO @x, @y",
		"CALL p(@out)",
		"/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */",
		"UPDATE t SET a = (@n := @n + 1)",
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++)
		ck_assert_msg(flags(yes[i]) & PROTO_SQL_USER_VAR, "no user var: %s", yes[i]);
	static const char *const no[] = {
		"SELECT @x",
		"SELECT * FROM t WHERE a = @x",
		"SET time_zone = '+00:00'",
		"SET @@session.sql_mode = ''",
		"SELECT '@x := 1'",
		"CREATE USER 'a'@'%' IDENTIFIED BY 'x'",
		"SET PASSWORD FOR 'a'@'%' = PASSWORD('x')",
		"EXECUTE s USING @x",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++)
		ck_assert_msg(!(flags(no[i]) & PROTO_SQL_USER_VAR), "user var: %s", no[i]);
}
END_TEST

START_TEST(test_session_track)
{
	ck_assert(flags("SET session_track_schema=OFF") & PROTO_SQL_SESSION_TRACK);
	ck_assert(flags("SET SESSION session_track_system_variables=''") & PROTO_SQL_SESSION_TRACK);
	ck_assert(flags("SET @@session_track_state_change=0") & PROTO_SQL_SESSION_TRACK);
	ck_assert(flags("SET @@SESSION.session_track_gtids=OFF") & PROTO_SQL_SESSION_TRACK);
	ck_assert(!(flags("SELECT @@session_track_schema") & PROTO_SQL_SESSION_TRACK));
	ck_assert(!(flags("SET time_zone='session_track'") & PROTO_SQL_SESSION_TRACK));
}
END_TEST

/* The collation of SET NAMES ... COLLATE, which the server does not report. */
static const char *collate(const char *sql, char *buf)
{
	struct proto_sql_class c = classify(sql);
	if (!c.collate)
		return NULL;
	ck_assert(c.collate >= sql && c.collate + c.collate_len <= sql + strlen(sql));
	memcpy(buf, c.collate, c.collate_len);
	buf[c.collate_len] = 0;
	return buf;
}

START_TEST(test_set_names_collate)
{
	char b[80];
	ck_assert_str_eq(collate("SET NAMES utf8mb4 COLLATE utf8mb4_unicode_ci", b),
			 "utf8mb4_unicode_ci");
	ck_assert_str_eq(collate("set names 'utf8mb4' collate 'utf8mb4_bin'", b), "utf8mb4_bin");
	ck_assert_str_eq(
		collate("SET NAMES `latin1` COLLATE `latin1_german2_ci`, time_zone='+01:00'", b),
		"latin1_german2_ci");
	ck_assert_str_eq(collate("/*!40101 SET NAMES utf8 COLLATE utf8_bin */", b), "utf8_bin");
	ck_assert_ptr_null(collate("SET NAMES utf8mb4", b));
	ck_assert_ptr_null(collate("SET collation_connection = 'utf8mb4_bin'", b));
	ck_assert_ptr_null(collate("SELECT 'a' COLLATE utf8mb4_bin", b));
	ck_assert_ptr_null(collate("SET @x = 'a' COLLATE utf8mb4_bin, NAMES latin1", b));
	ck_assert_ptr_null(collate("SET NAMES utf8mb4 COLLATE 'bad name'", b));
}
END_TEST

START_TEST(test_comments_and_partial)
{
	/* an unterminated comment or string ends the text, never reads past it */
	ck_assert_uint_eq(classify("SELECT 1 /* open").statements, 1);
	ck_assert_uint_eq(classify("SELECT 'open").statements, 1);
	ck_assert_uint_eq(classify("/*").statements, 0);
	ck_assert_uint_eq(classify("@").statements, 1);
	ck_assert_uint_eq(classify("-- only a comment").statements, 0);
	ck_assert_uint_eq(classify("#").statements, 0);
	/* each prefix of a statement classifies without reading past it */
	const char *sql =
		"LOAD DATA LOCAL INFILE '/tmp/a b' INTO TABLE t; SELECT @x := 'q\\'' -- c";
	for (size_t n = 0; n <= strlen(sql); n++) {
		char *copy = malloc(n ? n : 1); /* exact size: ASan sees any overread */
		memcpy(copy, sql, n);
		struct proto_sql_class c;
		proto_sql_classify(copy, n, false, true, &c);
		ck_assert(c.flags & PROTO_SQL_PARTIAL);
		if (n >= strlen("LOAD DATA LOCAL INFILE"))
			ck_assert_uint_eq(c.load_local, 1);
		free(copy);
	}
}
END_TEST


/* The statement kind decides what a failover may do with an interrupted
 * command: only READ is re-run; COMMIT and WRITE are resolved. */
START_TEST(test_kinds)
{
	static const struct {
		const char *sql;
		enum proto_sql_kind kind;
	} cases[] = {
		{"SELECT 1", PROTO_SQL_KIND_READ},
		{"  select * from t where id = 3", PROTO_SQL_KIND_READ},
		{"/* c */ SHOW TABLES", PROTO_SQL_KIND_READ},
		{"DESC t", PROTO_SQL_KIND_READ},
		{"EXPLAIN SELECT 1", PROTO_SQL_KIND_READ},
		{"EXPLAIN ANALYZE SELECT 1", PROTO_SQL_KIND_OTHER},
		{"INSERT INTO t VALUES (1)", PROTO_SQL_KIND_WRITE},
		{"update t set a=1", PROTO_SQL_KIND_WRITE},
		{"DELETE FROM t", PROTO_SQL_KIND_WRITE},
		{"REPLACE INTO t VALUES (1)", PROTO_SQL_KIND_WRITE},
		{"BEGIN", PROTO_SQL_KIND_BEGIN},
		{"begin work", PROTO_SQL_KIND_BEGIN},
		{"BEGIN NOT ATOMIC SELECT 1; END", PROTO_SQL_KIND_OTHER},
		{"START TRANSACTION READ ONLY", PROTO_SQL_KIND_BEGIN},
		{"COMMIT", PROTO_SQL_KIND_COMMIT},
		{"commit work and no chain", PROTO_SQL_KIND_COMMIT},
		{"ROLLBACK", PROTO_SQL_KIND_ROLLBACK},
		{"ROLLBACK TO SAVEPOINT a", PROTO_SQL_KIND_OTHER},
		{"ROLLBACK WORK TO a", PROTO_SQL_KIND_OTHER},
		{"SET time_zone = '+00:00'", PROTO_SQL_KIND_SET},
		{"SET TRANSACTION ISOLATION LEVEL READ COMMITTED", PROTO_SQL_KIND_OTHER},
		{"SET SESSION TRANSACTION READ ONLY", PROTO_SQL_KIND_OTHER},
		{"USE demo", PROTO_SQL_KIND_USE},
		{"CREATE TABLE t (a int)", PROTO_SQL_KIND_OTHER},
		{"(SELECT 1)", PROTO_SQL_KIND_OTHER},
		{"SELECT 1; DELETE FROM t", PROTO_SQL_KIND_READ},
		{"", PROTO_SQL_KIND_OTHER},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_sql_class c = classify(cases[i].sql);
		ck_assert_msg(c.kind == cases[i].kind, "%s: %s, want %s", cases[i].sql,
			      proto_sql_kind_name(c.kind), proto_sql_kind_name(cases[i].kind));
	}
	ck_assert(classify("SELECT 1; DELETE FROM t").flags & PROTO_SQL_MULTI);
}
END_TEST

START_TEST(test_read_flags)
{
	ck_assert(flags("SELECT * FROM t FOR UPDATE") & PROTO_SQL_LOCKING_READ);
	ck_assert(flags("select * from t where a=1 for share") & PROTO_SQL_LOCKING_READ);
	ck_assert(flags("SELECT * FROM t LOCK IN SHARE MODE") & PROTO_SQL_LOCKING_READ);
	ck_assert(!(flags("SELECT 'for update' FROM t") & PROTO_SQL_LOCKING_READ));
	ck_assert(!(flags("SELECT `for`, `update` FROM t") & PROTO_SQL_LOCKING_READ));
	ck_assert(flags("SELECT a INTO @x FROM t") & PROTO_SQL_INTO);
	ck_assert(flags("SELECT * FROM t INTO OUTFILE '/tmp/x'") & PROTO_SQL_INTO);
	ck_assert(!(flags("INSERT INTO t VALUES (1)") & PROTO_SQL_INTO));
	ck_assert(flags("INSERT INTO t VALUES (1) RETURNING id") & PROTO_SQL_RETURNING);
	ck_assert(flags("DELETE FROM t RETURNING *") & PROTO_SQL_RETURNING);
	ck_assert(!(flags("SELECT 1") &
		    (PROTO_SQL_LOCKING_READ | PROTO_SQL_INTO | PROTO_SQL_RETURNING)));
}
END_TEST

/* Every keyword the classifier knows, in every case: the lexer compares
 * words in place, case-insensitively, through a table by first letter and
 * length. Each sentence leans on one or two keywords; near misses (a byte
 * more or less, a digit or '_' in place of a letter) are no keyword. */
static void recase(const char *in, char *out, int mode)
{
	size_t i = 0;
	for (; in[i]; i++) {
		char c = in[i];
		bool lower = mode == 1 || (mode == 2 && i % 2);
		if (lower && c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		out[i] = c;
	}
	out[i] = 0;
}

START_TEST(test_keywords_any_case)
{
	static const struct {
		const char *sql;
		unsigned flags; /* all of these set */
		enum proto_sql_kind kind;
	} cases[] = {
		{"EXPLAIN ANALYZE SELECT 1", 0, PROTO_SQL_KIND_OTHER},
		{"EXPLAIN SELECT 1", 0, PROTO_SQL_KIND_READ},
		{"BACKUP LOCK T", PROTO_SQL_LOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"BACKUP STAGE START", PROTO_SQL_LOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"BACKUP UNLOCK", PROTO_SQL_UNLOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"BEGIN WORK", 0, PROTO_SQL_KIND_BEGIN},
		{"START TRANSACTION", 0, PROTO_SQL_KIND_BEGIN},
		{"CALL P(@X)", PROTO_SQL_USER_VAR, PROTO_SQL_KIND_OTHER},
		{"COMMIT", 0, PROTO_SQL_KIND_COMMIT},
		{"LOAD DATA CONCURRENT LOCAL INFILE 'X' INTO TABLE T", PROTO_SQL_LOAD_LOCAL,
		 PROTO_SQL_KIND_OTHER},
		{"LOAD XML LOW_PRIORITY LOCAL INFILE 'X' INTO TABLE T", PROTO_SQL_LOAD_LOCAL,
		 PROTO_SQL_KIND_OTHER},
		{"CREATE TEMPORARY TABLE T (A INT)", PROTO_SQL_TEMP_TABLE, PROTO_SQL_KIND_OTHER},
		{"DELETE FROM T RETURNING A", PROTO_SQL_RETURNING, PROTO_SQL_KIND_WRITE},
		{"INSERT INTO T VALUES (1)", 0, PROTO_SQL_KIND_WRITE},
		{"UPDATE T SET A = 1", 0, PROTO_SQL_KIND_WRITE},
		{"REPLACE INTO T VALUES (1)", 0, PROTO_SQL_KIND_WRITE},
		{"DESC T", 0, PROTO_SQL_KIND_READ},
		{"DESCRIBE T", 0, PROTO_SQL_KIND_READ},
		{"SHOW TABLES", 0, PROTO_SQL_KIND_READ},
		{"HELP 'X'", 0, PROTO_SQL_KIND_READ},
		{"FLUSH TABLES WITH READ LOCK", PROTO_SQL_LOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"SELECT A FROM T FOR UPDATE", PROTO_SQL_LOCKING_READ, PROTO_SQL_KIND_READ},
		{"SELECT A FROM T FOR SHARE", PROTO_SQL_LOCKING_READ, PROTO_SQL_KIND_READ},
		{"SELECT A FROM T LOCK IN SHARE MODE", PROTO_SQL_LOCKING_READ, PROTO_SQL_KIND_READ},
		{"SELECT GET_LOCK('A', 1)", PROTO_SQL_GET_LOCK, PROTO_SQL_KIND_READ},
		{"SELECT A INTO @X FROM T", PROTO_SQL_INTO | PROTO_SQL_USER_VAR,
		 PROTO_SQL_KIND_READ},
		{"PREPARE S FROM 'SELECT 1'", PROTO_SQL_PREPARE, PROTO_SQL_KIND_OTHER},
		{"ROLLBACK", 0, PROTO_SQL_KIND_ROLLBACK},
		{"ROLLBACK TO S", 0, PROTO_SQL_KIND_OTHER},
		{"SET SESSION_TRACK_SCHEMA = 1", PROTO_SQL_SESSION_TRACK, PROTO_SQL_KIND_SET},
		{"SET TRANSACTION READ ONLY", 0, PROTO_SQL_KIND_OTHER},
		{"LOCK TABLE T READ", PROTO_SQL_LOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"LOCK TABLES T READ", PROTO_SQL_LOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"UNLOCK TABLE", PROTO_SQL_UNLOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"UNLOCK TABLES", PROTO_SQL_UNLOCK_TABLES, PROTO_SQL_KIND_OTHER},
		{"USE DB", 0, PROTO_SQL_KIND_USE},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int mode = 0; mode < 3; mode++) {
			char sql[128];
			recase(cases[i].sql, sql, mode);
			struct proto_sql_class c = classify(sql);
			ck_assert_msg((c.flags & cases[i].flags) == cases[i].flags, "flags %#x: %s",
				      c.flags, sql);
			ck_assert_msg(c.kind == cases[i].kind, "kind %s: %s",
				      proto_sql_kind_name(c.kind), sql);
		}
	}
	static const char *const near[] = {
		"SELECTS 1",
		"SELEC 1",
		"5ELECT 1",
		"_SELECT 1",
		"$SELECT 1",
		"INSERT_ INTO T",
		"INSERTS INTO T",
		"SHOW1 TABLES",
		"COMMITT",
		"ROLLBAC",
		"US DB",
		"USED DB",
		"\xc3\x89XPLAIN SELECT 1",
		"BEGIN2",
		"SET1 A = 1",
	};
	for (size_t i = 0; i < sizeof(near) / sizeof(near[0]); i++)
		ck_assert_msg(classify(near[i]).kind == PROTO_SQL_KIND_OTHER, "a keyword: %s",
			      near[i]);
	ck_assert(!(flags("SELECT GET_LOCKS('a', 1)") & PROTO_SQL_GET_LOCK));
	ck_assert(!(flags("SELECT A INTOX @X FROM T") & (PROTO_SQL_INTO | PROTO_SQL_USER_VAR)));
	ck_assert(!(flags("SELECT A FROM T FOR UPDATES") & PROTO_SQL_LOCKING_READ));
	ck_assert(!(flags("SET SESSION_TRAC = 1") & PROTO_SQL_SESSION_TRACK));
	ck_assert(flags("SET session_trackX = 1") & PROTO_SQL_SESSION_TRACK); /* a prefix */
	ck_assert(!(flags("LOAD DATA LOCAL INFILES 'X' INTO TABLE T") & PROTO_SQL_LOAD_LOCAL));
}
END_TEST

/* Quoted runs are skipped by jumping from quote to backslash to quote:
 * where each ends decides what is code after it. */
START_TEST(test_quoted_runs)
{
	static const struct {
		const char *sql;
		unsigned statements;     /* with backslash escapes */
		unsigned statements_nbe; /* with NO_BACKSLASH_ESCAPES */
	} cases[] = {
		{"SELECT 'a\\\\'; SELECT 2", 2, 2},  /* 'a\\' ends at its second quote */
		{"SELECT 'a\\''; SELECT 2", 2, 1},   /* 'a\'' vs 'a\' then an open quote */
		{"SELECT 'a\\'; SELECT 2", 1, 2},    /* open with escapes */
		{"SELECT 'a''b;c'; SELECT 2", 2, 2}, /* doubled quote */
		{"SELECT 'a'''; SELECT 2", 2, 2},
		{"SELECT '\\\\\\''; SELECT 2", 2, 1},
		{"SELECT \"a\\\";b\"; SELECT 2", 2, 2},
		{"SELECT `a\\`; SELECT 2", 2, 2}, /* no escapes in backticks */
		{"SELECT `a``;b`; SELECT 2", 2, 2},
		{"SELECT 'x\\", 1, 1}, /* backslash last */
		{"SELECT '", 1, 1},
		{"SELECT ''; SELECT 2", 2, 2},
		{"SELECT '\\;'; SELECT 2", 2, 2},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *sql = cases[i].sql;
		size_t n = strlen(sql);
		char *copy = malloc(n); /* exact size: ASan sees any overread */
		memcpy(copy, sql, n);
		struct proto_sql_class c;
		proto_sql_classify(copy, n, false, false, &c);
		ck_assert_msg(c.statements == cases[i].statements, "%u statements: %s",
			      c.statements, sql);
		proto_sql_classify(copy, n, true, false, &c);
		ck_assert_msg(c.statements == cases[i].statements_nbe, "%u statements (nbe): %s",
			      c.statements, sql);
		free(copy);
	}
}
END_TEST

static Suite *sqlclass_suite(void)
{
	Suite *s = suite_create("sqlclass");

	TCase *tc = tcase_create("core");
	tcase_add_test(tc, test_load_local);
	tcase_add_test(tc, test_kinds);
	tcase_add_test(tc, test_read_flags);
	tcase_add_test(tc, test_multi_statements);
	tcase_add_test(tc, test_no_backslash_escapes);
	tcase_add_test(tc, test_state_markers);
	tcase_add_test(tc, test_user_vars);
	tcase_add_test(tc, test_session_track);
	tcase_add_test(tc, test_set_names_collate);
	tcase_add_test(tc, test_comments_and_partial);
	tcase_add_test(tc, test_keywords_any_case);
	tcase_add_test(tc, test_quoted_runs);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(sqlclass_suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
