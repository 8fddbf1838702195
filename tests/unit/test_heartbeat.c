/*
 * test_heartbeat.c — the heartbeat ring and its lag estimate
 * (health/heartbeat.h): lag is measured from the oldest write the replica
 * has not applied, 0 once it has the newest, and a lower bound while old
 * entries roll out of the ring.
 */
#include <check.h>
#include <stdlib.h>

#include "health/heartbeat.h"

START_TEST(empty_ring_is_unknown)
{
	struct hc_hb hb;
	hc_hb_init(&hb);
	ck_assert_int_eq(hc_hb_lag_us(&hb, 0, 1000), -1);
}
END_TEST

START_TEST(newest_applied_is_zero_lag)
{
	struct hc_hb hb;
	hc_hb_init(&hb);
	hc_hb_record(&hb, 100, 1000);
	hc_hb_record(&hb, 200, 2000);
	ck_assert_int_eq(hc_hb_lag_us(&hb, 200, 999999), 0);
	ck_assert_int_eq(hc_hb_lag_us(&hb, 250, 999999), 0); /* another writer's newer row */
}
END_TEST

START_TEST(lag_counts_from_oldest_unapplied_write)
{
	struct hc_hb hb;
	hc_hb_init(&hb);
	for (int i = 1; i <= 10; i++)
		hc_hb_record(&hb, i * 100, i * 1000); /* value i*100 written at i ms */
	/* Applied 300: missing 400 (written at 4000 µs). */
	ck_assert_int_eq(hc_hb_lag_us(&hb, 300, 12000), 8000);
	/* Applied a value between writes (e.g. another tandem's): next is 400. */
	ck_assert_int_eq(hc_hb_lag_us(&hb, 350, 12000), 8000);
	/* Applied nothing we know: oldest in the ring. */
	ck_assert_int_eq(hc_hb_lag_us(&hb, 0, 12000), 11000);
	/* A reference before the write never gives a negative lag. */
	ck_assert_int_eq(hc_hb_lag_us(&hb, 300, 3000), 0);
}
END_TEST

START_TEST(ring_wraps_and_keeps_order)
{
	struct hc_hb hb;
	hc_hb_init(&hb);
	for (int i = 1; i <= HC_HB_RING + 10; i++)
		hc_hb_record(&hb, i, i * 10);
	ck_assert_uint_eq(hb.n, HC_HB_RING);
	/* 1..10 fell out: anything older than 11 counts from entry 11. */
	ck_assert_int_eq(hc_hb_lag_us(&hb, 3, 100000), 100000 - 110);
	ck_assert_int_eq(hc_hb_lag_us(&hb, 500, 100000), 100000 - 5010);
	ck_assert_int_eq(hc_hb_lag_us(&hb, HC_HB_RING + 10, 100000), 0);
}
END_TEST

START_TEST(values_only_grow)
{
	struct hc_hb hb;
	hc_hb_init(&hb);
	ck_assert_int_eq(hc_hb_next_value(&hb, 500), 500);
	hc_hb_record(&hb, 500, 1);
	/* The wall clock stepped back: the next value still grows. */
	ck_assert_int_eq(hc_hb_next_value(&hb, 400), 501);
	hc_hb_record(&hb, 450, 2); /* out of order: ignored */
	ck_assert_uint_eq(hb.n, 1);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("heartbeat");
	TCase *tc = tcase_create("ring");
	tcase_add_test(tc, empty_ring_is_unknown);
	tcase_add_test(tc, newest_applied_is_zero_lag);
	tcase_add_test(tc, lag_counts_from_oldest_unapplied_write);
	tcase_add_test(tc, ring_wraps_and_keeps_order);
	tcase_add_test(tc, values_only_grow);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
