/*
 * restore.c — the second half of a move (see migrate.c): once the new
 * backend accepted the login (the enter of SESS_RESTORE), rebuild the
 * session there (session tracking, schema, changed variables, prepared
 * statements), swallow the answers, replay the open transaction when
 * asked, and put the session back to work: re-run a read, answer a
 * resolved commit, or go idle.
 *
 * Owns: the restore items and their answers. Must not: send the client
 * anything but the answer it is owed and the documented errors.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/command.h"
#include "protocol/okerr.h"
#include "protocol/packet.h"
#include "proxy/io/io.h"
#include "proxy/move/move.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"


enum mig_item_kind {
	MI_INIT_DB = 1, /* COM_INIT_DB of the session's schema */
	MI_SET,         /* SET SESSION of one variable the client changed (ref: index) */
	MI_PREPARE,     /* COM_STMT_PREPARE of one statement (ref: client id) */
	MI_ROLLBACK,    /* ROLLBACK of a replayed transaction that came out different */
};

/* Variables the server reports but a client cannot (or must not) set:
 * they are the server's own, or tandem's session tracking. */
static const char *const unsettable[] = {
	"last_gtid",
	"in_transaction",
	"warning_count",
	"error_count",
	"rand_seed1",
	"rand_seed2",
	"session_track_system_variables",
	"session_track_schema",
	"session_track_state_change",
	"session_track_transaction_info",
	"session_track_gtids",
	"timestamp",
	"last_insert_id",
	"insert_id",
	"identity",
	"pseudo_thread_id",
	"gtid_seq_no",
	NULL,
};

static const struct cfg_limits *limits(const struct session *s)
{
	return &s->wt->snap->limits;
}

static bool item_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			uint32_t len, const struct proto_rt_event *ev, bool last);

/* Queue a restore statement's answer (own.c); the statement follows. */
static bool add_item(struct session *s, uint8_t kind, uint32_t ref)
{
	static const uint8_t cmds[] = {[MI_INIT_DB] = COM_INIT_DB,
				       [MI_SET] = COM_QUERY,
				       [MI_PREPARE] = COM_STMT_PREPARE,
				       [MI_ROLLBACK] = COM_QUERY};
	return own_push(s, OWN_RESTORE, &cmds[kind], 1, ref, kind, item_answer);
}

/* One command (cmd byte, then text) to the backend, sequence id 0. */
static void send_command(struct session *s, uint8_t cmd, const char *text, size_t len)
{
	uint8_t hdr[PROTO_HEADER_LEN + 1];
	proto_frame_build(hdr, (uint32_t)(len + 1), 0);
	hdr[PROTO_HEADER_LEN] = cmd;
	evbuffer_add(s->backend.out, hdr, sizeof(hdr));
	evbuffer_add(s->backend.out, text, len);
}

static bool settable(const struct proto_facts_var *v)
{
	if (!v->changed || !v->name || !v->value)
		return false;
	for (size_t i = 0; unsettable[i]; i++)
		if (strcasecmp(v->name, unsettable[i]) == 0)
			return false;
	for (const char *c = v->name; *c; c++)
		if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
		      (*c >= '0' && *c <= '9') || *c == '_'))
			return false;
	return true;
}

static bool is_number(const char *v)
{
	if (*v == '-')
		v++;
	if (!*v)
		return false;
	bool dot = false;
	for (; *v; v++) {
		if (*v == '.' && !dot)
			dot = true;
		else if (*v < '0' || *v > '9')
			return false;
	}
	return true;
}

/* SET SESSION name=value, the value as the server reported it. */
static void send_set(struct session *s, const struct proto_facts_var *v)
{
	size_t vlen = strlen(v->value);
	size_t cap = strlen(v->name) + 2 * vlen + 32;
	char *sql = malloc(cap);
	if (!sql)
		return;
	size_t n = (size_t)snprintf(sql, cap, "SET SESSION %s=", v->name);
	if (vlen == 0 && strcasecmp(v->name, "character_set_results") == 0) {
		n += (size_t)snprintf(sql + n, cap - n, "NULL");
	} else if (is_number(v->value)) {
		n += (size_t)snprintf(sql + n, cap - n, "%s", v->value);
	} else {
		sql[n++] = '\'';
		for (const char *c = v->value; *c; c++) {
			if (*c == '\'' || *c == '\\')
				sql[n++] = *c;
			sql[n++] = *c;
		}
		sql[n++] = '\'';
	}
	send_command(s, COM_QUERY, sql, n);
	free(sql);
}

/* Character sets before collations: setting character_set_connection
 * resets collation_connection to the set's default. */
static int var_order(const struct proto_facts_var *v)
{
	if (strncasecmp(v->name, "character_set_", 14) == 0)
		return 0;
	if (strncasecmp(v->name, "collation_", 10) == 0)
		return 1;
	return 2;
}

static void queue_restore(struct session *s)
{
	const struct proto_facts *f = &s->sf.f;
	if (f->schema && f->schema[0] && add_item(s, MI_INIT_DB, 0))
		send_command(s, COM_INIT_DB, f->schema, strlen(f->schema));
	for (int pass = 0; pass < 3; pass++) {
		for (size_t i = 0; i < f->nvars; i++) {
			const struct proto_facts_var *v = &f->vars[i];
			if (var_order(v) == pass && settable(v) && add_item(s, MI_SET, (uint32_t)i))
				send_set(s, v);
		}
	}
	/* Statements whose text tandem never saw (too large) cannot come back. */
	for (uint32_t i = 0; i < f->stmt_cap; i++) {
		const struct proto_facts_stmt *st = &f->stmts[i];
		if (!st->client_id)
			continue;
		if (!st->sql) {
			mig_owe(s, MIG_P_STATE_LOST,
				"tandem: the session moved to another server; prepared statement %u "
				"could not be prepared again (its text was too large to keep)",
				st->client_id);
			continue;
		}
		if (add_item(s, MI_PREPARE, st->client_id)) {
			/* with the session's tag, as the client's prepare had it */
			size_t tl = 0;
			char *tagged = sess_guard_tag_text(s, st->sql, st->sql_len, &tl);
			send_command(s, COM_STMT_PREPARE, tagged ? tagged : st->sql,
				     tagged ? tl : st->sql_len);
			free(tagged);
		}
	}
}

void sess_migrate_logged_in(struct session *s)
{
	struct sess_migrate *mg = &s->mg;
	s->backend_deadline_us = 0;
	s->verdict_seq = 0;
	own_clear(s); /* a fresh connection: nothing of tandem's is owed on it yet */
	mg->saved_status = s->sf.f.status;
	memcpy(mg->saved_trx, s->sf.f.trx_state, sizeof(mg->saved_trx));
	/* Tracking first, then the restore statements, all in one write;
	 * their answers are swallowed in that order (own.c). */
	sess_setup_resend(s);
	queue_restore(s);
	if (conn_flush(&s->backend) < 0) {
		sess_backend_wait(s, "cannot send the restore statements");
		return;
	}
	sess_restore_read(s);
}

/* A restore statement was refused (kind: enum mig_item_kind; ref: what it
 * restored): the client is owed the news at its next command. */
static void item_refused(struct session *s, uint8_t kind, uint32_t ref,
			 const struct proto_err_pkt *e)
{
	struct sess_migrate *mg = &s->mg;
	mg->restore_failed = true;
	const struct proto_facts *f = &s->sf.f;
	char what[160];
	switch (kind) {
	case MI_INIT_DB:
		snprintf(what, sizeof(what), "the default schema '%s'", f->schema);
		break;
	case MI_SET:
		snprintf(what, sizeof(what), "the session variable %s",
			 ref < f->nvars ? f->vars[ref].name : "?");
		break;
	default:
		snprintf(what, sizeof(what), "prepared statement %u", ref);
		proto_facts_stmt_remove(&s->sf.f, ref);
		break;
	}
	log_warn("session %llu: restoring %s on %s failed: error %u: %.*s",
		 (unsigned long long)s->id, what, s->backend_addr, e->code, (int)e->message.len,
		 e->message.p);
	mig_owe(s, MIG_P_STATE_LOST,
		"tandem: the session moved to another server after a failover and %s could not be "
		"restored there (error %u)",
		what, e->code);
}

static void finish_move(struct session *s);

/* The answer to one restore statement (e->arg: enum mig_item_kind, e->ref:
 * what it restored). */
static bool item_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			uint32_t len, const struct proto_rt_event *ev, bool last)
{
	(void)len;
	(void)last;
	if (!p) {
		log_warn("session %llu: %s answered a restore statement with a malformed packet",
			 (unsigned long long)s->id, s->backend_addr);
		sess_backend_wait(s, "malformed answer to a restore statement");
		return false;
	}
	if (ev->kind == RT_PKT_ERR && e->arg != MI_ROLLBACK)
		item_refused(s, (uint8_t)e->arg, e->ref, &ev->err);
	else if (ev->kind == RT_PKT_PREPARE_OK && e->arg == MI_PREPARE)
		proto_facts_stmt_rebind(&s->sf.f, e->ref, ev->prepare.stmt_id);
	return true;
}

/*
 * Once the session is rebuilt: whether its transaction is to be replayed
 * (it was open, or a guarded COMMIT did not land and can be replayed and
 * committed again). True when the replay was started.
 */
static bool start_replay(struct session *s)
{
	struct sess_migrate *mg = &s->mg;
	if (mg->inflight == MIG_RESOLVE && s->cg.outcome == CG_LOST && mg->cmd_kept &&
	    s->rp.recording && sess_replay_possible(s)) {
		/* the commit never reached the new primary: build the transaction
		 * again and run the client's COMMIT on it */
		mg->inflight = MIG_RERUN;
		mg->replay = true;
		s->cg.mode = CG_NONE;
	}
	if (!mg->replay || mg->inflight == MIG_RESOLVE)
		return false;
	mg->replay = false;
	sess_replay_send(s);
	if (conn_flush(&s->backend) < 0) {
		sess_backend_wait(s, "cannot send the replayed statements");
		return false;
	}
	mg->replaying = true;
	return true;
}

void sess_restore_read(struct session *s)
{
	struct sess_migrate *mg = &s->mg;
	for (;;) {
		/* setup, restore and replay answers, in the order sent */
		if (!own_read(s))
			return;
		/* A cut-off commit: the binlog lookup answers on its own thread
		 * (sess_guard_resolved() comes back here). */
		if (mg->inflight == MIG_RESOLVE && !s->cg.resolved) {
			if (!s->cg.lookup && !sess_guard_start_lookup(s))
				s->cg.resolved = true; /* outcome unknown */
			if (!s->cg.resolved)
				return;
		}
		if (mg->replaying) {
			mg->replaying = false;
			if (sess_replay_outcome(s) < 0) {
				/* Different answers: this is not the client's transaction. */
				mg->replay_failed = true;
				if (add_item(s, MI_ROLLBACK, 0)) {
					send_command(s, COM_QUERY, "ROLLBACK", 8);
					if (conn_flush(&s->backend) < 0) {
						sess_backend_wait(
							s, "cannot roll back a failed replay");
						return;
					}
				}
			}
			continue;
		}
		if (!mg->replay_failed && start_replay(s))
			continue;
		break;
	}
	finish_move(s);
}

/* Run the kept read again on the new backend; its answer is the client's. */
static void rerun(struct session *s)
{
	struct sess_migrate *mg = &s->mg;
	uint32_t client_id = 0;
	if (mg->cmd[0] == COM_STMT_EXECUTE) {
		proto_stmt_id_parse(mg->cmd, mg->cmd_len, &client_id);
		const struct proto_facts_stmt *st = proto_facts_stmt_find(&s->sf.f, client_id);
		if (!st) {
			mg->inflight = MIG_NONE;
			sess_send_err(
				s, 1, ER_UNKNOWN_STMT_HANDLER, "HY000",
				"tandem: the prepared statement could not be restored after a "
				"failover");
			sess_set_state(s, SESS_IDLE);
			return;
		}
		/* the backend's id on the wire, the client's kept for a later move */
		proto_stmt_id_patch(mg->cmd, st->backend_id);
	}
	/* The new backend holds no parameter types for a re-prepared statement. */
	size_t typed_len = 0;
	const struct proto_facts_stmt *st =
		client_id ? proto_facts_stmt_find(&s->sf.f, client_id) : NULL;
	uint8_t *typed = st && !st->bound ? sess_facts_exec_types(s, client_id, mg->cmd,
								  mg->cmd_len, &typed_len)
					  : NULL;
	const uint8_t *wire = typed ? typed : mg->cmd;
	size_t wire_len = typed ? typed_len : mg->cmd_len;
	uint8_t hdr[PROTO_HEADER_LEN];
	proto_frame_build(hdr, (uint32_t)wire_len, 0);
	evbuffer_add(s->backend.out, hdr, sizeof(hdr));
	evbuffer_add(s->backend.out, wire, wire_len);
	free(typed);
	if (client_id)
		proto_stmt_id_patch(mg->cmd, client_id);
	proto_tracker_start(&s->tr, mg->cmd, mg->cmd_len);
	sess_replay_rerun(s);
	s->cmd_expects_result = true;
	s->bfr.next_seq = 1;
	mg->inflight = MIG_NONE;
	mg->answered = false;
	sess_set_state(s, SESS_RESULT);
	if (conn_flush(&s->backend) < 0)
		sess_backend_lost(s, "closed the connection");
}

/* The transaction could not be replayed, or came out different: the
 * client learns it was rolled back (now, when it waits for an answer; at
 * its next command otherwise). */
static void replay_given_up(struct session *s)
{
	struct sess_migrate *mg = &s->mg;
	if (mg->inflight == MIG_RERUN) {
		sess_send_err(s, 1, TANDEM_ER_FAILOVER_ROLLED_BACK, "40001",
			      "tandem: the transaction was replayed on the new primary after a "
			      "failover and came out different; it was rolled back and can be "
			      "retried");
		stat_add(&s->wt->stats->failover_errors, 1);
		mg->inflight = MIG_NONE;
	} else {
		mig_owe(s, MIG_P_ROLLED_BACK,
			"tandem: the transaction was replayed on the new primary after a failover and "
			"came out different; it was rolled back and can be retried");
	}
	sess_replay_clear(s);
	proto_facts_status(&s->sf.f, (uint16_t)(s->sf.f.status & ~SERVER_STATUS_IN_TRANS));
	s->flags &= ~(unsigned)SESS_F_IN_TRANS;
}

static void finish_move(struct session *s)
{
	struct sess_migrate *mg = &s->mg;
	mg->active = false;
	mg->moves++;
	/* The session's status is the client's, not the fresh login's. */
	proto_facts_status(&s->sf.f, mg->saved_status);
	memcpy(s->sf.f.trx_state, mg->saved_trx, sizeof(mg->saved_trx));
	if (mg->replay_failed)
		replay_given_up(s);
	else if (s->rp.n && proto_facts_in_trans(&s->sf.f))
		stat_add(&s->wt->stats->transactions_replayed, 1);
	stat_add(&s->wt->stats->sessions_moved, 1);
	log_info("session %llu (tenant %s): moved to %s in %lld ms%s%s", (unsigned long long)s->id,
		 s->wt->name, s->backend_addr,
		 (long long)((clock_mono_us() - mg->started_us) / 1000),
		 mg->inflight == MIG_RERUN     ? "; running its read again"
		 : mg->inflight == MIG_RESOLVE ? "; resolving its commit"
					       : "",
		 mg->pending ? "; the client's next command gets an error" : "");
	proto_framer_init(&s->cfr, limits(s)->max_packet, true);
	proto_framer_init(&s->bfr, UINT64_MAX, false);
	proto_tracker_init(&s->tr, s->backend_caps);
	sess_timer_clear(s);
	if (mg->inflight == MIG_RERUN) {
		stat_add(&s->wt->stats->reads_rerun, 1);
		rerun(s);
		return;
	}
	if (mg->inflight == MIG_RESOLVE) {
		mg->inflight = MIG_NONE;
		sess_guard_answer(s);
		sess_replay_clear(s); /* committed, or given up: the transaction is over */
		if (conn_flush(&s->client) < 0) {
			sess_close(s, "client gone");
			return;
		}
	}
	sess_set_state(s, SESS_IDLE);
}
