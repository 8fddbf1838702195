/*
 * test_decide.c — the monitor's pure rules (health/decide.h): when a
 * member becomes DOWN, how fast it is re-probed, which failures count, and
 * which replica a failover may promote.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "health/decide.h"
#include "health/probe.h"
#include "health/text.h"

static const struct hc_policy pol = {
	.interval_ms = 500,
	.timeout_ms = 1000,
	.failures = 3,
	.auto_failover = true,
	.promote = true,
	.max_lag_ms = 5000,
	.min_interval_ms = 60000,
	.stall_tolerance_ms = 3000,
};

START_TEST(down_after_n_failures)
{
	struct hc_health h = {0};
	ck_assert(hc_health_apply(&h, HC_FAIL_NONE, &pol, 1));
	ck_assert_int_eq(h.health, HC_UP);
	ck_assert(!hc_health_apply(&h, HC_FAIL_CONNECT, &pol, 10));
	ck_assert_int_eq(h.fail_since_us, 10);
	ck_assert(!hc_health_apply(&h, HC_FAIL_CONNECT, &pol, 20));
	ck_assert_int_eq(h.health, HC_UP);
	ck_assert(hc_health_apply(&h, HC_FAIL_QUERY, &pol, 30));
	ck_assert_int_eq(h.health, HC_DOWN);
	ck_assert_int_eq(h.fail_since_us, 10);
	/* One success brings it back and resets the streak. */
	ck_assert(hc_health_apply(&h, HC_FAIL_NONE, &pol, 40));
	ck_assert_int_eq(h.fails, 0);
	ck_assert_int_eq(h.fail_since_us, 0);
}
END_TEST

START_TEST(a_timeout_is_a_stall_judged_after_the_tolerance)
{
	/* A hung server (SIGSTOP, a cut link) only times out: never DOWN by
	 * counting, however many; stalled, and expired after the tolerance. */
	struct hc_health h = {.health = HC_UP};
	for (int i = 0; i < 10; i++)
		ck_assert(!hc_health_apply(&h, HC_FAIL_HANDSHAKE_TIMEOUT, &pol, 1000000 + i));
	ck_assert_int_eq(h.health, HC_UP);
	ck_assert(h.stalled);
	ck_assert_int_eq(h.hard, 0);
	ck_assert(!hc_stall_expired(&h, &pol, 1000000 + 2999999));
	ck_assert(hc_stall_expired(&h, &pol, 1000000 + 3000000));
	/* An answer ends the stall. */
	ck_assert(!hc_health_apply(&h, HC_FAIL_NONE, &pol, 5000000));
	ck_assert(!h.stalled);
	ck_assert(!hc_stall_expired(&h, &pol, 9000000));
	/* Refused after a timeout: the process is gone; `failures` hard ones. */
	struct hc_health g = {.health = HC_UP};
	hc_health_apply(&g, HC_FAIL_QUERY_TIMEOUT, &pol, 1);
	hc_health_apply(&g, HC_FAIL_CONNECT, &pol, 2);
	hc_health_apply(&g, HC_FAIL_CONNECT, &pol, 3);
	ck_assert_int_eq(g.health, HC_UP);
	ck_assert(hc_health_apply(&g, HC_FAIL_HANDSHAKE, &pol, 4));
	ck_assert_int_eq(g.health, HC_DOWN);
	ck_assert(!hc_stall_expired(&g, &pol, 99000000));
}
END_TEST

START_TEST(refused_is_a_crash_no_route_is_a_stall)
{
	struct hc_db db;
	hc_db_init(&db, -1);
	db.err_no = 2002;
	hc_fmt(db.err, "Can't connect to server on '127.0.0.1' (111)");
	ck_assert_int_eq(hc_probe_classify_connect(&db, HC_DB_ERROR), HC_FAIL_CONNECT);
	db.err_no = 2003;
	hc_fmt(db.err, "Can't connect to server on '10.0.0.5' (113)");
	ck_assert_int_eq(hc_probe_classify_connect(&db, HC_DB_ERROR), HC_FAIL_UNREACHABLE);
	ck_assert(hc_fail_is_timeout(HC_FAIL_UNREACHABLE));
	ck_assert(hc_fail_counts(HC_FAIL_UNREACHABLE));
	hc_fmt(db.err, "Can't connect to server on '10.0.0.5' (101)");
	ck_assert_int_eq(hc_probe_classify_connect(&db, HC_DB_ERROR), HC_FAIL_UNREACHABLE);
	ck_assert_str_eq(hc_fail_name(HC_FAIL_UNREACHABLE), "unreachable");
}
END_TEST

START_TEST(a_replica_hears_its_source)
{
	int64_t now = 100000000;
	struct hc_hearing r = {.io_running = true,
			       .changed_mono_us = now - 900000,
			       .probed_mono_us = now - 100000,
			       .heartbeat_period_ms = 500};
	ck_assert(hc_replica_hears_source(&r, &pol, now));
	/* window: 2 x 500 ms heartbeats + 2 x 500 ms probe interval */
	r.changed_mono_us = now - 2000000;
	ck_assert(hc_replica_hears_source(&r, &pol, now));
	r.changed_mono_us = now - 2000001;
	ck_assert(!hc_replica_hears_source(&r, &pol, now));
	r.changed_mono_us = now - 100;
	r.io_running = false;
	ck_assert(!hc_replica_hears_source(&r, &pol, now));
	r.io_running = true;
	r.probed_mono_us = now - 5000000; /* what it said is too old to count */
	ck_assert(!hc_replica_hears_source(&r, &pol, now));
	struct hc_hearing never = {.io_running = true, .probed_mono_us = now};
	ck_assert(!hc_replica_hears_source(&never, &pol, now));
}
END_TEST

START_TEST(auth_failures_never_make_down)
{
	struct hc_health h = {.health = HC_UP};
	for (int i = 0; i < 10; i++)
		hc_health_apply(&h, HC_FAIL_AUTH, &pol, i);
	ck_assert_int_eq(h.health, HC_UP);
	ck_assert_int_eq(h.fails, 0);
	ck_assert(!hc_fail_counts(HC_FAIL_AUTH));
	ck_assert(!hc_fail_counts(HC_FAIL_MONITOR));
	ck_assert(hc_fail_counts(HC_FAIL_SERVER));
	/* A DOWN member that answers (even refusing the login) is not down. */
	struct hc_health d = {.health = HC_DOWN, .fails = 5};
	ck_assert(hc_health_apply(&d, HC_FAIL_AUTH, &pol, 1));
	ck_assert_int_eq(d.health, HC_UNKNOWN);
}
END_TEST

START_TEST(failing_members_are_reprobed_fast)
{
	struct hc_health h = {.health = HC_UP};
	ck_assert_int_eq(hc_next_probe_ms(&h, &pol), 500);
	hc_health_apply(&h, HC_FAIL_CONNECT, &pol, 1);
	ck_assert_int_eq(hc_next_probe_ms(&h, &pol), 100);
	hc_health_apply(&h, HC_FAIL_CONNECT, &pol, 2);
	hc_health_apply(&h, HC_FAIL_CONNECT, &pol, 3);
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
	tcase_add_test(tc, a_timeout_is_a_stall_judged_after_the_tolerance);
	tcase_add_test(tc, a_replica_hears_its_source);
	tcase_add_test(tc, refused_is_a_crash_no_route_is_a_stall);
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
