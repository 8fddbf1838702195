/*
 * test_topology.c — snapshots and the admission gate (health/topology.h):
 * a closed member admits nobody and does not count the refused attempt;
 * counts drain as sessions leave; snapshots keep the gate alive.
 */
#include <check.h>
#include <stdlib.h>

#include "health/topology.h"

START_TEST(gate_counts_and_closes)
{
	struct hc_gate *g = hc_gate_new(2);
	ck_assert(hc_gate_enter(g, 0));
	ck_assert(hc_gate_enter(g, 0));
	ck_assert(hc_gate_enter(g, 1));
	ck_assert_int_eq(hc_gate_sessions(g, 0), 2);
	hc_gate_set_closed(g, 0, true);
	ck_assert(!hc_gate_enter(g, 0));
	ck_assert_int_eq(hc_gate_sessions(g, 0), 2); /* the refused attempt is not counted */
	ck_assert(hc_gate_enter(g, 1));              /* other members are not affected */
	hc_gate_leave(g, 0);
	hc_gate_leave(g, 0);
	ck_assert_int_eq(hc_gate_sessions(g, 0), 0); /* drained */
	hc_gate_set_closed(g, 0, false);
	ck_assert(hc_gate_enter(g, 0));
	/* Out of range and NULL are harmless (a snapshot without a gate). */
	ck_assert(hc_gate_enter(g, 7));
	ck_assert(hc_gate_enter(NULL, 0));
	ck_assert_int_eq(hc_gate_sessions(NULL, 0), 0);
	hc_gate_unref(g);
}
END_TEST

START_TEST(snapshot_holds_its_gate)
{
	struct hc_gate *g = hc_gate_new(1);
	struct hc_topology *t = hc_topology_new("db1", 1);
	ck_assert_int_eq(t->primary, -1);
	ck_assert_ptr_null(hc_topology_primary(t));
	ck_assert_int_eq(t->members[0].lag_ms, -1);
	t->gate = hc_gate_ref(g);
	t->primary = 0;
	ck_assert_ptr_eq(hc_topology_primary(t), &t->members[0]);
	hc_gate_unref(g);                     /* the monitor lets go ... */
	ck_assert(hc_gate_enter(t->gate, 0)); /* ... the snapshot's reference keeps it */
	struct hc_topology *r = hc_topology_ref(t);
	hc_topology_unref(t);
	hc_topology_unref(r); /* frees the snapshot and the gate (ASan checks) */
	hc_topology_unref(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("topology");
	TCase *tc = tcase_create("gate");
	tcase_add_test(tc, gate_counts_and_closes);
	tcase_add_test(tc, snapshot_holds_its_gate);
	suite_add_tcase(s, tc);
	SRunner *sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
