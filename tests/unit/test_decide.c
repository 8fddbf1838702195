/*
 * test_decide.c — the monitor's pure rules (health/decide.h): when a
 * member becomes DOWN, how fast it is re-probed, which failures count, and
 * which replica a failover may promote.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "health/decide.h"

static const struct hc_policy pol = {
	.interval_ms = 500,
	.timeout_ms = 1000,
	.failures = 3,
	.auto_failover = true,
	.promote = true,
	.max_lag_ms = 5000,
	.min_interval_ms = 60000,
};

START_TEST(down_after_n_failures)
{
	struct hc_health h = {0};
	ck_assert(hc_health_apply(&h, HC_FAIL_NONE, &pol, false, 1));
	ck_assert_int_eq(h.health, HC_UP);
	ck_assert(!hc_health_apply(&h, HC_FAIL_CONNECT, &pol, false, 10));
	ck_assert_int_eq(h.fail_since_us, 10);
	ck_assert(!hc_health_apply(&h, HC_FAIL_CONNECT, &pol, false, 20));
	ck_assert_int_eq(h.health, HC_UP);
	ck_assert(hc_health_apply(&h, HC_FAIL_QUERY, &pol, false, 30));
	ck_assert_int_eq(h.health, HC_DOWN);
	ck_assert_int_eq(h.fail_since_us, 10);
	/* One success brings it back and resets the streak. */
	ck_assert(hc_health_apply(&h, HC_FAIL_NONE, &pol, false, 40));
	ck_assert_int_eq(h.fails, 0);
	ck_assert_int_eq(h.fail_since_us, 0);
}
END_TEST

START_TEST(a_timeout_alone_is_down_except_in_the_antiflap_window)
{
	struct hc_health h = {.health = HC_UP};
	ck_assert(hc_health_apply(&h, HC_FAIL_HANDSHAKE_TIMEOUT, &pol, false, 1));
	ck_assert_int_eq(h.health, HC_DOWN);
	struct hc_health g = {.health = HC_UP};
	ck_assert(!hc_health_apply(&g, HC_FAIL_QUERY_TIMEOUT, &pol, true, 1));
	ck_assert_int_eq(g.health, HC_UP);
	hc_health_apply(&g, HC_FAIL_QUERY_TIMEOUT, &pol, true, 2);
	ck_assert(hc_health_apply(&g, HC_FAIL_QUERY_TIMEOUT, &pol, true, 3));
	ck_assert_int_eq(g.health, HC_DOWN);
}
END_TEST

START_TEST(auth_failures_never_make_down)
{
	struct hc_health h = {.health = HC_UP};
	for (int i = 0; i < 10; i++)
		hc_health_apply(&h, HC_FAIL_AUTH, &pol, false, i);
	ck_assert_int_eq(h.health, HC_UP);
	ck_assert_int_eq(h.fails, 0);
	ck_assert(!hc_fail_counts(HC_FAIL_AUTH));
	ck_assert(!hc_fail_counts(HC_FAIL_MONITOR));
	ck_assert(hc_fail_counts(HC_FAIL_SERVER));
	/* A DOWN member that answers (even refusing the login) is not down. */
	struct hc_health d = {.health = HC_DOWN, .fails = 5};
	ck_assert(hc_health_apply(&d, HC_FAIL_AUTH, &pol, false, 1));
	ck_assert_int_eq(d.health, HC_UNKNOWN);
}
END_TEST

START_TEST(failing_members_are_reprobed_fast)
{
	struct hc_health h = {.health = HC_UP};
	ck_assert_int_eq(hc_next_probe_ms(&h, &pol), 500);
	hc_health_apply(&h, HC_FAIL_CONNECT, &pol, false, 1);
	ck_assert_int_eq(hc_next_probe_ms(&h, &pol), 100);
	hc_health_apply(&h, HC_FAIL_CONNECT, &pol, false, 2);
	hc_health_apply(&h, HC_FAIL_CONNECT, &pol, false, 3);
	ck_assert_int_eq(h.health, HC_DOWN);
	ck_assert_int_eq(hc_next_probe_ms(&h, &pol), 500);
	struct hc_policy quick = pol;
	quick.interval_ms = 50;
	struct hc_health q = {.health = HC_UP, .fails = 1};
	ck_assert_int_eq(hc_next_probe_ms(&q, &quick), 20);
}
END_TEST

START_TEST(overlay_states)
{
	ck_assert_int_eq(hc_overlay(HC_UP, true, true), HC_FENCED);
	ck_assert_int_eq(hc_overlay(HC_DOWN, false, true), HC_MAINTENANCE);
	ck_assert_int_eq(hc_overlay(HC_DOWN, false, false), HC_DOWN);
}
END_TEST

static struct hc_cand replica(const char *name, int64_t lag)
{
	return (struct hc_cand){.health = HC_UP,
				.read_only = true,
				.replicating = true,
				.lag_ms = lag,
				.name = name};
}

START_TEST(candidate_lowest_lag_wins)
{
	struct hc_cand c[] = {{.health = HC_DOWN, .name = "p"},
			      replica("a", 300),
			      replica("b", 20),
			      replica("c", 20)};
	char why[256];
	ck_assert_int_eq(hc_pick_candidate(c, 4, 0, &pol, why, sizeof(why)), 2);
	ck_assert_str_eq(why, "");
}
END_TEST

START_TEST(candidate_refused_with_reasons)
{
	struct hc_cand c[] = {{.health = HC_DOWN, .name = "p"},
			      replica("a", 6200),
			      replica("b", -1),
			      replica("c", 0),
			      replica("d", 0),
			      replica("e", 0)};
	c[3].fenced = true;
	c[4].maintenance = true;
	c[5].health = HC_DOWN;
	char why[512];
	ck_assert_int_eq(hc_pick_candidate(c, 6, 0, &pol, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "a: lag 6200 ms is above failover.max_lag_ms 5000"));
	ck_assert_ptr_nonnull(strstr(why, "b: replication lag unknown"));
	ck_assert_ptr_nonnull(strstr(why, "c: fenced"));
	ck_assert_ptr_nonnull(strstr(why, "d: in maintenance"));
	ck_assert_ptr_nonnull(strstr(why, "e: down"));
	struct hc_cand alone[] = {{.health = HC_DOWN, .name = "p"}};
	ck_assert_int_eq(hc_pick_candidate(alone, 1, 0, &pol, why, sizeof(why)), -1);
	ck_assert_str_eq(why, "the cluster has no other member");
}
END_TEST

START_TEST(without_promote_only_writable_members)
{
	struct hc_policy p = pol;
	p.promote = false;
	struct hc_cand c[] = {{.health = HC_DOWN, .name = "p"}, replica("a", 0), replica("b", -1)};
	char why[256];
	ck_assert_int_eq(hc_pick_candidate(c, 3, 0, &p, why, sizeof(why)), -1);
	ck_assert_ptr_nonnull(strstr(why, "failover.promote is false"));
	/* An external tool promoted b: its lag is unknown now, and that is fine. */
	c[2].read_only = false;
	c[2].replicating = false;
	ck_assert_int_eq(hc_pick_candidate(c, 3, 0, &p, why, sizeof(why)), 2);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("decide");
	TCase *tc = tcase_create("rules");
	tcase_add_test(tc, down_after_n_failures);
	tcase_add_test(tc, a_timeout_alone_is_down_except_in_the_antiflap_window);
	tcase_add_test(tc, auth_failures_never_make_down);
	tcase_add_test(tc, failing_members_are_reprobed_fast);
	tcase_add_test(tc, overlay_states);
	tcase_add_test(tc, candidate_lowest_lag_wins);
	tcase_add_test(tc, candidate_refused_with_reasons);
	tcase_add_test(tc, without_promote_only_writable_members);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
