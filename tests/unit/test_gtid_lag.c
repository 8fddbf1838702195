/*
 * test_gtid_lag.c — lag from GTID positions (health/gtid_lag.h): 0 once a
 * replica holds the newest position seen on the primary, else measured from
 * the first position it lacks; the worst domain counts; a domain whose
 * history goes back or disappears starts again; nothing recorded is unknown.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health/gtid_lag.h"

static struct hc_gtid_pos pos(const char *text)
{
	struct hc_gtid_pos p;
	ck_assert_int_eq(hc_gtid_parse(text, strlen(text), &p), 0);
	return p;
}

static void record(struct hc_glag *g, const char *text, int64_t mono)
{
	struct hc_gtid_pos p = pos(text);
	ck_assert_int_eq(hc_glag_record(g, &p, mono), 0);
}

static int64_t lag(const struct hc_glag *g, const char *applied, int64_t ref)
{
	struct hc_gtid_pos a = pos(applied);
	return hc_glag_lag_us(g, &a, ref);
}

START_TEST(nothing_recorded_is_unknown)
{
	struct hc_glag g;
	hc_glag_init(&g);
	ck_assert_int_eq(lag(&g, "0-1-5", 1000), -1);
	record(&g, "", 1000); /* a fresh primary: nothing to lack */
	ck_assert_int_eq(lag(&g, "", 5000), 0);
	hc_glag_reset(&g);
	ck_assert_int_eq(lag(&g, "", 5000), -1);
	hc_glag_free(&g);
	hc_glag_free(NULL);
}
END_TEST

START_TEST(idle_primary_is_no_lag)
{
	struct hc_glag g;
	hc_glag_init(&g);
	record(&g, "0-1-10", 1000);
	record(&g, "0-1-10", 2000); /* no new write: the first sight stays */
	ck_assert_int_eq(lag(&g, "0-1-10", 900000), 0);
	ck_assert_int_eq(lag(&g, "0-1-12", 900000), 0);     /* ahead of what was seen */
	ck_assert_int_eq(lag(&g, "0-1-9", 900000), 899000); /* lacks 10, seen at 1 ms */
	hc_glag_free(&g);
}
END_TEST

START_TEST(lag_from_first_position_not_reached)
{
	struct hc_glag g;
	hc_glag_init(&g);
	for (int i = 1; i <= 10; i++) {
		char t[32];
		snprintf(t, sizeof(t), "0-1-%d", i * 5); /* seq i*5 first seen at i ms */
		record(&g, t, i * 1000);
	}
	ck_assert_int_eq(lag(&g, "0-1-15", 12000), 8000); /* lacks 20, seen at 4 ms */
	ck_assert_int_eq(lag(&g, "0-1-17", 12000), 8000);
	ck_assert_int_eq(lag(&g, "", 12000), 11000); /* lacks everything */
	ck_assert_int_eq(lag(&g, "0-1-50", 12000), 0);
	/* The primary is gone: measured against when it was last seen. */
	ck_assert_int_eq(lag(&g, "0-1-45", 10500), 500);
	hc_glag_free(&g);
}
END_TEST

START_TEST(worst_domain_counts)
{
	struct hc_glag g;
	hc_glag_init(&g);
	record(&g, "0-1-1,1-1-100", 1000);
	record(&g, "0-1-2,1-1-100", 2000);
	record(&g, "0-1-2,1-1-101", 3000);
	ck_assert_int_eq(lag(&g, "0-1-2,1-1-101", 10000), 0);
	ck_assert_int_eq(lag(&g, "0-1-2,1-1-100", 10000), 7000);
	ck_assert_int_eq(lag(&g, "0-1-1,1-1-101", 10000), 8000);
	ck_assert_int_eq(lag(&g, "0-1-2", 10000), 9000); /* domain 1 missing entirely */
	hc_glag_free(&g);
}
END_TEST

START_TEST(history_going_back_starts_again)
{
	struct hc_glag g;
	hc_glag_init(&g);
	record(&g, "0-1-50,1-1-7", 1000);
	record(&g, "0-1-3", 5000); /* RESET MASTER, then 3 new writes; domain 1 gone */
	ck_assert_int_eq(lag(&g, "0-1-3", 9000), 0);
	ck_assert_int_eq(lag(&g, "0-1-2", 9000), 4000);
	ck_assert_int_eq(g.n, 1);
	hc_glag_free(&g);
}
END_TEST

START_TEST(merge_takes_the_higher_per_domain)
{
	struct hc_gtid_pos a = pos("0-1-10,2-3-4"), b = pos("0-2-12,5-5-5,2-3-1"), m;
	hc_glag_merge(&m, &a, &b);
	ck_assert_uint_eq(m.n, 3);
	ck_assert_uint_eq(hc_gtid_find(&m, 0)->seq, 12);
	ck_assert_uint_eq(hc_gtid_find(&m, 0)->server, 2);
	ck_assert_uint_eq(hc_gtid_find(&m, 2)->seq, 4);
	ck_assert_uint_eq(hc_gtid_find(&m, 5)->seq, 5);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("gtid_lag");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, nothing_recorded_is_unknown);
	tcase_add_test(tc, idle_primary_is_no_lag);
	tcase_add_test(tc, lag_from_first_position_not_reached);
	tcase_add_test(tc, worst_domain_counts);
	tcase_add_test(tc, history_going_back_starts_again);
	tcase_add_test(tc, merge_takes_the_higher_per_domain);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
