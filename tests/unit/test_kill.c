/*
 * test_kill.c — protocol/kill: which statements are a KILL of a
 * connection id (and where its digits are), and which are left alone:
 * KILL QUERY ID, KILL USER, comments, a second statement, cut texts.
 */
#include <check.h>
#include <string.h>

#include "protocol/kill.h"
#include "unit.h"

static int parse(const char *sql, struct proto_kill *k)
{
	return proto_kill_parse(sql, strlen(sql), k);
}

START_TEST(test_kills)
{
	static const struct {
		const char *sql;
		uint32_t id;
		bool query;
	} yes[] = {
		{"KILL 5", 5, false},
		{"kill 42", 42, false},
		{"  KILL\tCONNECTION\n 7 ", 7, false},
		{"KILL QUERY 9;", 9, true},
		{"Kill Hard Query 10 ; ", 10, true},
		{"KILL SOFT 11", 11, false},
		{"KILL SOFT CONNECTION 4294967295", 4294967295u, false},
	};
	for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		struct proto_kill k;
		ck_assert_msg(parse(yes[i].sql, &k) == (int)strlen(yes[i].sql), "not a KILL: %s",
			      yes[i].sql);
		ck_assert_uint_eq(k.id, yes[i].id);
		ck_assert_int_eq(k.query_only, yes[i].query);
		/* the digits are where it says */
		char digits[16];
		memcpy(digits, yes[i].sql + k.id_at, k.id_len);
		digits[k.id_len] = 0;
		ck_assert_uint_eq(strtoul(digits, NULL, 10), yes[i].id);
	}
}
END_TEST

START_TEST(test_not_kills)
{
	static const char *const no[] = {
		"KILL QUERY ID 5",  /* a query id, not a connection */
		"KILL USER app",    /* a user */
		"KILL",             /* cut */
		"KILL ",            /* cut */
		"KILL CONNECTION",  /* cut */
		"KILL5",            /* no space */
		"KILL CONNECTION5", /* no space */
		"KILL 5; SELECT 1", /* a second statement */
		"KILL 5 6",         /* garbage after the id */
		"KILL 4294967296",  /* above 32 bits */
		"KILL -1",          /* no digits */
		"KILL /* c */ 5",   /* comments are left to the server */
		"SELECT 'KILL 5'",  /* another statement */
		"KILL HARD HARD 5", /* twice */
		"",
	};
	for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
		struct proto_kill k;
		ck_assert_msg(parse(no[i], &k) == 0, "a KILL: %s", no[i]);
	}
}
END_TEST

START_TEST(test_truncated)
{
	/* every prefix of a KILL is parsed without reading past its end */
	static const char sql[] = "KILL HARD CONNECTION 123 ;";
	for (size_t n = 0; n < sizeof(sql) - 1; n++) {
		char *copy = malloc(n ? n : 1);
		memcpy(copy, sql, n);
		struct proto_kill k;
		int rc = proto_kill_parse(copy, n, &k);
		ck_assert(rc == 0 || rc == (int)n);
		free(copy);
	}
}
END_TEST

static Suite *kill_suite(void)
{
	Suite *s = suite_create("kill");
	TCase *tc = tcase_create("kill");
	tcase_add_test(tc, test_kills);
	tcase_add_test(tc, test_not_kills);
	tcase_add_test(tc, test_truncated);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(kill_suite)
