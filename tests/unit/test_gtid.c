/*
 * test_gtid.c — GTID positions (health/gtid.h): parsing what MariaDB
 * reports, what one position lacks of another, and whether a former
 * primary may rejoin the new one.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "health/gtid.h"

static struct hc_gtid_pos pos(const char *s)
{
	struct hc_gtid_pos p;
	ck_assert_int_eq(hc_gtid_parse(s, strlen(s), &p), 0);
	return p;
}

START_TEST(parses_positions)
{
	struct hc_gtid_pos p = pos("0-1-105,\n 7-2-18446744073709551615");
	ck_assert_uint_eq(p.n, 2);
	ck_assert_uint_eq(p.g[0].domain, 0);
	ck_assert_uint_eq(p.g[0].server, 1);
	ck_assert_uint_eq(p.g[0].seq, 105);
	ck_assert(p.g[1].seq == UINT64_MAX);
	ck_assert_uint_eq(pos("").n, 0);
	static const char *const bad[] = {"0-1",
					  "0-1-",
					  "a-1-2",
					  "0-1-2,",
					  "0-1-2,0-3-4",
					  "0--1-2",
					  "0-1-2 0-2-3",
					  "4294967296-1-1",
					  "0-1-18446744073709551616",
					  "3E11FA47-71CA-11E1-9E33-C80AA9429562:1-5"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct hc_gtid_pos q;
		ck_assert_msg(hc_gtid_parse(bad[i], strlen(bad[i]), &q) < 0, "%s", bad[i]);
		ck_assert_uint_eq(q.n, 0);
	}
}
END_TEST

START_TEST(missing_entries)
{
	struct hc_gtid_pos have = pos("0-1-100,1-1-5"), want = pos("0-1-101,1-1-5,2-1-1");
	char out[64];
	ck_assert_uint_eq(hc_gtid_missing(&have, &want, out, sizeof(out)), 2);
	ck_assert_str_eq(out, "0-1-101,2-1-1");
	ck_assert_uint_eq(hc_gtid_missing(&want, &have, out, sizeof(out)), 0);
	ck_assert_str_eq(out, "");
	ck_assert_uint_eq(hc_gtid_missing(&have, &want, NULL, 0), 2);
}
END_TEST

START_TEST(rejoin_verdicts)
{
	char why[200];
	struct hc_gtid_pos none = {.n = 0};
	/* The new primary replicated all of it, then wrote its own. */
	struct hc_gtid_pos old = pos("0-1-100"), cur = pos("0-2-150"), ap = pos("0-1-100");
	ck_assert_int_eq(hc_gtid_rejoin_check(&old, &cur, &ap, why, sizeof(why)), HC_REJOIN_OK);
	/* It had applied only 99 of the old primary's 100: one lost write. */
	struct hc_gtid_pos ap99 = pos("0-1-99");
	ck_assert_int_eq(hc_gtid_rejoin_check(&old, &cur, &ap99, why, sizeof(why)),
			 HC_REJOIN_DIVERGED);
	ck_assert_ptr_nonnull(strstr(why, "0-1-100"));
	/* Nothing written since the promotion: the same server's entry. */
	struct hc_gtid_pos same = pos("0-1-100");
	ck_assert_int_eq(hc_gtid_rejoin_check(&old, &same, &none, why, sizeof(why)), HC_REJOIN_OK);
	struct hc_gtid_pos behind = pos("0-1-98");
	ck_assert_int_eq(hc_gtid_rejoin_check(&old, &behind, &none, why, sizeof(why)),
			 HC_REJOIN_DIVERGED);
	/* A domain the new primary never saw. */
	struct hc_gtid_pos two = pos("0-1-100,5-1-3");
	ck_assert_int_eq(hc_gtid_rejoin_check(&two, &cur, &ap, why, sizeof(why)),
			 HC_REJOIN_DIVERGED);
	/* Not known what it had applied (tandem restarted): the server decides,
	 * unless the new primary is plainly behind. */
	ck_assert_int_eq(hc_gtid_rejoin_check(&old, &cur, &none, why, sizeof(why)),
			 HC_REJOIN_UNSURE);
	struct hc_gtid_pos low = pos("0-2-50");
	ck_assert_int_eq(hc_gtid_rejoin_check(&old, &low, &none, why, sizeof(why)),
			 HC_REJOIN_DIVERGED);
	/* An empty old primary can always follow. */
	ck_assert_int_eq(hc_gtid_rejoin_check(&none, &cur, &none, why, sizeof(why)), HC_REJOIN_OK);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gtid");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, parses_positions);
	tcase_add_test(tc, missing_entries);
	tcase_add_test(tc, rejoin_verdicts);
	suite_add_tcase(s, tc);
	SRunner *r = srunner_create(s);
	srunner_run_all(r, CK_NORMAL);
	int failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
