/*
 * test_machine.c — the session machine's tables, without a proxy: every
 * state that can be entered has a handler for each leg it waits on, and
 * every transition the table allows starts from a state a session can
 * reach.
 */
#include <check.h>
#include <stdio.h>

#include "proxy/machine.h"
#include "proxy/session/session.h"

/* States a session can be in right after accept (machine.c mach_accept):
 * tandem greets, or the primary's greeting is fetched first. */
static const enum sess_state starts[] = {SESS_GREETING_WANTED, SESS_BACKEND_WANTED};

static void reachable(bool seen[SESS_NSTATES])
{
	for (int i = 0; i < SESS_NSTATES; i++)
		seen[i] = false;
	for (size_t i = 0; i < sizeof(starts) / sizeof(starts[0]); i++)
		seen[starts[i]] = true;
	for (bool grew = true; grew;) {
		grew = false;
		for (int from = 0; from < SESS_NSTATES; from++) {
			if (!seen[from])
				continue;
			for (int to = 0; to < SESS_NSTATES; to++)
				if (!seen[to] && sess_transition_allowed(from, to))
					seen[to] = grew = true;
		}
	}
}

START_TEST(every_state_named)
{
	for (int st = 0; st < SESS_NSTATES; st++)
		ck_assert_str_ne(sess_state_name(st), "?");
}
END_TEST

START_TEST(every_state_reachable)
{
	bool seen[SESS_NSTATES];
	reachable(seen);
	for (int st = 0; st < SESS_NSTATES; st++)
		ck_assert_msg(seen[st], "state %s cannot be entered", sess_state_name(st));
}
END_TEST

/* A transition out of a state no session can be in would be dead text in
 * the table; with every state reachable, each allowed edge can be taken. */
START_TEST(every_transition_reachable)
{
	bool seen[SESS_NSTATES];
	reachable(seen);
	int edges = 0;
	for (int from = 0; from < SESS_NSTATES; from++)
		for (int to = 0; to < SESS_NSTATES; to++)
			if (from != to && sess_transition_allowed(from, to)) {
				ck_assert_msg(seen[from], "%s -> %s starts unreachable",
					      sess_state_name(from), sess_state_name(to));
				edges++;
			}
	ck_assert_int_gt(edges, SESS_NSTATES);
}
END_TEST

START_TEST(readers_for_every_leg_waited_on)
{
	const struct mach_state *t = mach_table();
	bool seen[SESS_NSTATES];
	reachable(seen);
	for (int st = 0; st < SESS_NSTATES; st++) {
		if (!seen[st])
			continue;
		const char *n = sess_state_name(st);
		if (t[st].waits & MACH_CLIENT)
			ck_assert_msg(t[st].client_read != NULL, "%s waits on the client", n);
		if (t[st].waits & MACH_BACKEND)
			ck_assert_msg(t[st].backend_read != NULL, "%s waits on the backend", n);
		if (t[st].waits & MACH_TIMER)
			ck_assert_msg(t[st].timer != NULL, "%s waits on its timer", n);
		if (t[st].waits & MACH_LOOKUP)
			ck_assert_msg(t[st].event != NULL, "%s waits on a lookup", n);
		if (t[st].waits & MACH_ACCOUNTS)
			ck_assert_msg(t[st].event != NULL, "%s waits on an accounts reload", n);
		/* A state that waits on a connection must hear of its close. */
		if (t[st].waits & (MACH_CLIENT | MACH_BACKEND))
			ck_assert_msg(t[st].event != NULL, "%s ignores a closed connection", n);
	}
}
END_TEST

/* A state that waits on nothing must move on in its own enter, or it
 * would hold a session forever (a transient state such as BACKEND_WANTED). */
START_TEST(waiting_on_nothing_means_transient)
{
	const struct mach_state *t = mach_table();
	for (int st = 0; st < SESS_NSTATES; st++) {
		if (st == SESS_CLOSED || t[st].waits)
			continue;
		ck_assert_msg(t[st].enter != NULL, "%s waits on nothing and has no enter",
			      sess_state_name(st));
		bool out = false;
		for (int to = 0; to < SESS_NSTATES; to++)
			if (to != st && to != SESS_CLOSING && to != SESS_CLOSED &&
			    sess_transition_allowed(st, to))
				out = true;
		ck_assert_msg(out, "%s cannot be left", sess_state_name(st));
	}
}
END_TEST

/* The handoffs between phases are transitions (issue 16): each transient
 * state is entered from the phase that hands off and left for the state
 * the next phase waits in; its enter is the next phase's entry. */
START_TEST(handoffs_are_transitions)
{
	static const struct {
		enum sess_state from, via, to;
	} handoffs[] = {
		/* the primary greeted before the client logged in */
		{SESS_BACKEND_HANDSHAKE, SESS_GREETING_WANTED, SESS_CLIENT_HANDSHAKE},
		/* no descriptor for the greeting's connection: tandem greets */
		{SESS_BACKEND_CONNECT, SESS_GREETING_WANTED, SESS_CLIENT_HANDSHAKE},
		/* a verified login wants its backend */
		{SESS_CLIENT_HANDSHAKE, SESS_BACKEND_WANTED, SESS_BACKEND_CONNECT},
		{SESS_CLIENT_AUTH, SESS_BACKEND_WANTED, SESS_BACKEND_AUTH},
		/* a COM_CHANGE_USER read while idle */
		{SESS_IDLE, SESS_CHANGE_USER_START, SESS_CHANGE_USER_AUTH},
		{SESS_IDLE, SESS_CHANGE_USER_START, SESS_IDLE},
		/* its client side verified, or refused */
		{SESS_CHANGE_USER_AUTH, SESS_CHANGE_USER_WANTED, SESS_CHANGE_USER_BACKEND},
		{SESS_CHANGE_USER_AUTH, SESS_CHANGE_USER_DENIED, SESS_CHANGE_USER_BACKEND},
		{SESS_CHANGE_USER_AUTH, SESS_CHANGE_USER_DENIED, SESS_IDLE},
		/* a move leaves an attached state and picks the primary again */
		{SESS_RESULT, SESS_BACKEND_WANTED, SESS_BACKEND_CONNECT},
	};
	const struct mach_state *t = mach_table();
	for (size_t i = 0; i < sizeof(handoffs) / sizeof(handoffs[0]); i++) {
		const char *f = sess_state_name(handoffs[i].from);
		const char *v = sess_state_name(handoffs[i].via);
		const char *o = sess_state_name(handoffs[i].to);
		ck_assert_msg(sess_transition_allowed(handoffs[i].from, handoffs[i].via),
			      "%s -> %s", f, v);
		ck_assert_msg(sess_transition_allowed(handoffs[i].via, handoffs[i].to), "%s -> %s",
			      v, o);
		ck_assert_msg(t[handoffs[i].via].enter != NULL && t[handoffs[i].via].waits == 0,
			      "%s is not transient", v);
	}
	/* a move's login ends in RESTORE, whose enter sends the restore
	 * statements; a first login's ends in IDLE, whose enter reads on */
	ck_assert(sess_transition_allowed(SESS_BACKEND_AUTH, SESS_RESTORE));
	ck_assert(t[SESS_RESTORE].enter != NULL);
	ck_assert(t[SESS_IDLE].enter != NULL);
	/* no phase hands a greeting over directly any more */
	ck_assert(!sess_transition_allowed(SESS_BACKEND_HANDSHAKE, SESS_CLIENT_HANDSHAKE));
	ck_assert(!sess_transition_allowed(SESS_BACKEND_CONNECT, SESS_CLIENT_HANDSHAKE));
	ck_assert(!sess_transition_allowed(SESS_IDLE, SESS_CHANGE_USER_AUTH));
}
END_TEST

START_TEST(closing_and_closed)
{
	for (int st = 0; st < SESS_NSTATES; st++) {
		ck_assert(sess_transition_allowed(st, SESS_CLOSED));
		ck_assert(sess_transition_allowed(st, SESS_CLOSING) == (st != SESS_CLOSED));
		if (st != SESS_CLOSED)
			ck_assert(!sess_transition_allowed(SESS_CLOSED, st));
	}
	ck_assert(!sess_transition_allowed(SESS_NSTATES, SESS_IDLE));
}
END_TEST

int main(void)
{
	Suite *su = suite_create("machine");
	TCase *tc = tcase_create("table");
	tcase_add_test(tc, every_state_named);
	tcase_add_test(tc, every_state_reachable);
	tcase_add_test(tc, every_transition_reachable);
	tcase_add_test(tc, readers_for_every_leg_waited_on);
	tcase_add_test(tc, waiting_on_nothing_means_transient);
	tcase_add_test(tc, handoffs_are_transitions);
	tcase_add_test(tc, closing_and_closed);
	suite_add_tcase(su, tc);
	SRunner *sr = srunner_create(su);
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
