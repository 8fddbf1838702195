/*
 * migrate.c — the first half of moving a session to a new backend
 * connection (see move.h): deciding when a session must move, settling
 * what was in flight, choosing the errors owed, and leaving the old
 * backend. restore.c does the second half.
 *
 * Order of a move: sess_backend_lost() (or sess_migrate_topology()) drops
 * the old connection and moves the session to SESS_BACKEND_WANTED with
 * mg.active set (the driver picks the primary); the login states run as
 * for a first login; the login's OK moves it to SESS_RESTORE, whose enter
 * (sess_migrate_logged_in) pipelines the restore statements behind tandem's own
 * session-tracking setup, each an entry in the queue of tandem's own
 * statements (own.c); sess_restore_read() lets the queue swallow their
 * answers and puts the session back to work (restore.c).
 *
 * Must not: call the login or command phases (they are the driver's to
 * call), or read a backend answer itself.
 */
#include "proxy/io/io.h"
#include "proxy/move/move.h"


#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/topology.h"
#include "protocol/command.h"
#include "protocol/okerr.h"
#include "protocol/packet.h"
#include "protocol/sqlclass.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

/* Markers of state tandem cannot carry to another server. */
#define UNMOVABLE                                                                  \
	(PROTO_FACTS_TEMP_TABLE | PROTO_FACTS_GET_LOCK | PROTO_FACTS_LOCK_TABLES | \
	 PROTO_FACTS_USER_VARS | PROTO_FACTS_SQL_PREPARE | PROTO_FACTS_UNTRACKED | \
	 PROTO_FACTS_TRACKING_OFF | PROTO_FACTS_INCOMPLETE)

/* ----------------------------------------------------------- keeping */

/* Whether the command kept in mg.cmd may simply run again elsewhere: a
 * plain read, outside any transaction, with no side effect tandem can see. */
static bool rerunnable(const struct session *s)
{
	const struct sess_migrate *mg = &s->mg;
	if (!mg->cmd_kept || mg->cmd_len < 1 || proto_facts_in_trans(&s->sf.f))
		return false;
	static const unsigned risky =
		PROTO_SQL_LOCKING_READ | PROTO_SQL_INTO | PROTO_SQL_USER_VAR | PROTO_SQL_GET_LOCK |
		PROTO_SQL_MULTI | PROTO_SQL_PARTIAL | PROTO_SQL_LOAD_LOCAL | PROTO_SQL_TEMP_TABLE |
		PROTO_SQL_LOCK_TABLES | PROTO_SQL_PREPARE | PROTO_SQL_SESSION_TRACK;
	struct proto_sql_class c;
	if (mg->cmd[0] == COM_QUERY) {
		proto_sql_classify((const char *)mg->cmd + 1, mg->cmd_len - 1,
				   (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0, false,
				   &c);
	} else if (mg->cmd[0] == COM_STMT_EXECUTE && mg->cmd_len >= 5) {
		uint32_t id;
		proto_stmt_id_parse(mg->cmd, mg->cmd_len, &id);
		const struct proto_facts_stmt *st = proto_facts_stmt_find(&s->sf.f, id);
		if (!st || !st->sql)
			return false;
		proto_sql_classify(st->sql, st->sql_len, false, false, &c);
		/* a cursor lives on the server: its fetches cannot follow */
		if (mg->cmd_len >= 6 && (mg->cmd[5] & 0x07))
			return false;
	} else {
		return false;
	}
	return c.kind == PROTO_SQL_KIND_READ && !(c.flags & risky);
}

/* --------------------------------------------------------- settling */

/* Tell the client now that its command will not be answered. Only at a
 * packet boundary of its answer can an ERR end it cleanly; otherwise the
 * session must close. Returns false when the session is gone. */
static bool answer_lost(struct session *s, const char *where)
{
	bool in_trans = proto_facts_in_trans(&s->sf.f) || (s->flags & SESS_F_IN_TRANS);
	bool clean = s->state == SESS_RESULT && s->resp_left == 0;
	bool outcome_unknown = in_trans && s->state == SESS_RESULT && sess_guard_may_commit(s);
	if (outcome_unknown)
		in_trans = false; /* it may have committed: not "rolled back" */
	uint16_t code = in_trans ? TANDEM_ER_FAILOVER_ROLLED_BACK : TANDEM_ER_BACKEND_LOST;
	const char *state = in_trans ? "40001" : "08S01";
	char msg[300];
	if (in_trans)
		snprintf(msg, sizeof(msg),
			 "tandem: %s during this statement; the transaction was rolled back and "
			 "can be retried",
			 where);
	else
		snprintf(msg, sizeof(msg),
			 "tandem: %s during this statement; whether it took effect is unknown",
			 where);
	stat_add(&s->wt->stats->failover_errors, 1);
	if (!clean) {
		sess_fail(s, code, state, "%s", msg);
		return false;
	}
	if (sess_send_err(s, s->bfr.next_seq, code, state, msg) < 0) {
		sess_close(s, "client gone");
		return false;
	}
	log_info("session %llu: %s (error %u sent)", (unsigned long long)s->id, msg, code);
	/* The server rolled the transaction back with the connection. */
	proto_facts_status(&s->sf.f, (uint16_t)(s->sf.f.status & ~SERVER_STATUS_IN_TRANS));
	s->flags &= ~(unsigned)SESS_F_IN_TRANS;
	return true;
}

/* Decide what becomes of the session's work on the backend it leaves.
 * False when the session is gone. */
static bool settle(struct session *s, const char *where)
{
	struct sess_migrate *mg = &s->mg;
	mg->inflight = MIG_NONE;
	switch (s->state) {
	case SESS_IDLE:
		if ((proto_facts_in_trans(&s->sf.f) || (s->flags & SESS_F_IN_TRANS)) &&
		    sess_replay_possible(s)) {
			mg->replay = true;
		} else if (proto_facts_in_trans(&s->sf.f) || (s->flags & SESS_F_IN_TRANS)) {
			mig_owe(s, MIG_P_ROLLED_BACK,
				"tandem: %s while a transaction was open; it was rolled back and can be "
				"retried",
				where);
			proto_facts_status(&s->sf.f,
					   (uint16_t)(s->sf.f.status & ~SERVER_STATUS_IN_TRANS));
			s->flags &= ~(unsigned)SESS_F_IN_TRANS;
		}
		break;
	case SESS_RESULT:
		if (!mg->answered && sess_guard_in_doubt(s)) {
			mg->inflight = MIG_RESOLVE;
			break;
		}
		if (!mg->answered && rerunnable(s)) {
			mg->inflight = MIG_RERUN;
			break;
		}
		/* Inside a transaction tandem can replay: the transaction so far,
		 * then this statement again, its answer the client's. */
		if (!mg->answered && mg->cmd_kept && s->rp.recording && sess_replay_possible(s) &&
		    !sess_guard_may_commit(s)) {
			/* (a statement that may have committed is not run again: if
			 * it did, the replay would commit the transaction twice) */
			mg->inflight = MIG_RERUN;
			mg->replay = true;
			break;
		}
		if (!answer_lost(s, where))
			return false;
		break;
	default:
		/* Mid-upload (a large command, LOCAL INFILE data) or mid change of
		 * user: there is no clean point to answer at. */
		answer_lost(s, where);
		return false;
	}
	unsigned lost = s->sf.f.markers & UNMOVABLE;
	uint32_t cursor = proto_facts_open_cursor(&s->sf.f);
	if (lost || cursor) {
		char names[200] = "";
		size_t n = 0;
		for (unsigned bit = 1; bit && bit <= lost; bit <<= 1) {
			const char *name = (lost & bit) ? proto_facts_marker_name(bit) : NULL;
			if (name && n < sizeof(names))
				n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s",
						      n ? ", " : "", name);
		}
		/* A cursor lives on the server that opened it. */
		if (cursor && n < sizeof(names))
			n += (size_t)snprintf(names + n, sizeof(names) - n,
					      "%sthe open cursor of prepared statement %u",
					      n ? ", " : "", cursor);
		mig_owe(s, MIG_P_STATE_LOST,
			"tandem: %s; session state that cannot move to another server was lost (%s); "
			"the session goes on with clean state",
			where, names);
		/* the new server starts without any of it (re-preparing a
		 * statement clears its cursor) */
		s->sf.f.markers &= ~lost;
	}
	return true;
}

/* Drop the old connection and start the move to the current primary. */
static void move(struct session *s)
{
	struct sess_migrate *mg = &s->mg;
	conn_close(&s->backend);
	env_backend_release(s);
	own_clear(s); /* the old server's answers will never come */
	s->resp_left = 0;
	s->result_done = false;
	s->cmd_left = 0;
	mg->active = true;
	mg->park = false;
	mg->started_us = clock_mono_us();
	mg->restore_failed = false;
	mg->replaying = mg->replay_failed = false;
	s->verdict_seq = 0;
	int wait_ms = s->wt->cfg->cluster->failover.session_wait_ms;
	s->backend_deadline_us = mg->started_us + (int64_t)wait_ms * 1000;
	sess_set_state(s, SESS_BACKEND_WANTED);
}

void sess_backend_lost(struct session *s, const char *why)
{
	if (s->state == SESS_CLOSED || s->state == SESS_CLOSING)
		return;
	log_info("session %llu (tenant %s): backend %s %s in state %s; moving the session",
		 (unsigned long long)s->id, s->wt->name, s->backend_addr, why,
		 sess_state_name(s->state));
	char where[200];
	snprintf(where, sizeof(where), "the database server %s %s", s->backend_addr, why);
	if (!settle(s, where))
		return;
	move(s);
}

/* ---------------------------------------------------- topology news */

static bool same_addr(const struct session *s, const struct hc_member *m)
{
	return m && m->addr.salen == s->backend_salen &&
	       memcmp(&m->addr.sa, &s->backend_sa, s->backend_salen) == 0;
}

static bool usable(const struct hc_member *m)
{
	return m && m->state != HC_DOWN && m->state != HC_FENCED && m->state != HC_MAINTENANCE;
}

/* A switchover holds new sessions back at the old primary's gate and
 * waits for its sessions to leave: idle ones leave now, busy ones when
 * their transaction ends. */
static bool parking(const struct hc_topology *t)
{
	return t->transition == HC_TR_SWITCHOVER;
}

bool sess_migrate_park(struct session *s)
{
	if (!s->mg.park || proto_facts_in_trans(&s->sf.f) || (s->flags & SESS_F_IN_TRANS))
		return false;
	sess_backend_lost(s, "is being switched over");
	return true;
}

void sess_migrate_topology(struct session *s, const struct hc_topology *t)
{
	const struct hc_member *p = hc_topology_primary(t);
	switch (s->state) {
	case SESS_IDLE:
	case SESS_COMMAND:
	case SESS_RESULT:
	case SESS_LOCAL_INFILE:
	case SESS_CHANGE_USER_AUTH:
	case SESS_CHANGE_USER_BACKEND:
		if (s->flags & SESS_F_BACKEND_GONE)
			return;
		if (same_addr(s, p) && usable(p)) {
			if (parking(t)) {
				s->mg.park = true;
				if (s->state == SESS_IDLE)
					sess_migrate_park(s);
			}
			return;
		}
		sess_backend_lost(s, same_addr(s, p) ? "is no longer usable"
						     : "is no longer the primary");
		return;
	case SESS_BACKEND_CONNECT:
	case SESS_BACKEND_HANDSHAKE:
	case SESS_BACKEND_TLS:
	case SESS_BACKEND_AUTH:
	case SESS_RESTORE:
		if (same_addr(s, p) && usable(p) && !parking(t))
			return;
		/* logging in where sessions may no longer go: start over */
		conn_close(&s->backend);
		env_backend_release(s);
		own_clear(s); /* setup and restore answers of that login */
		sess_set_state(s, SESS_BACKEND_WANTED);
		return;
	default:
		/* BACKEND_WAIT: the worker retries it after every topology */
		return;
	}
}
