/*
 * admin_worker.c — the worker thread's side of the admin API: its part of
 * a /sessions snapshot (the JSON form of each session and its facts), and
 * the kill or drain the main thread posted (admin_actions.c).
 *
 * Must not: call the worker's loop or the main thread's code; it only
 * reads the worker's session list and closes sessions the usual way.
 */
#include "proxy/io/io.h"
#include "proxy/process/process.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/mysql_const.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

void admin_snapshot_unref(struct sess_snapshot *snap)
{
	if (!snap)
		return;
	pthread_mutex_lock(&snap->mu);
	int refs = --snap->refs;
	pthread_mutex_unlock(&snap->mu);
	if (refs > 0)
		return;
	json_decref(snap->sessions);
	json_decref(snap->answered);
	pthread_cond_destroy(&snap->cv);
	pthread_mutex_destroy(&snap->mu);
	free(snap);
}

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

json_t *sess_facts_json(const struct session *s)
{
	const struct proto_facts *f = &s->sf.f;
	json_t *vars = json_object();
	for (size_t i = 0; i < f->nvars; i++)
		if (f->vars[i].changed)
			json_object_set_new(vars, f->vars[i].name, json_string(f->vars[i].value));
	json_t *markers = json_array();
	for (unsigned i = 0; i < PROTO_FACTS_NMARKERS; i++)
		if (f->markers & (1u << i))
			json_array_append_new(markers,
					      json_string(proto_facts_marker_name(1u << i)));
	json_t *stmts = json_array();
	for (uint32_t i = 0; i < f->stmt_cap; i++) {
		const struct proto_facts_stmt *st = &f->stmts[i];
		if (!st->client_id)
			continue;
		/* The SQL itself may hold secrets (a password literal): only its size. */
		json_array_append_new(
			stmts,
			json_pack("{s:I, s:I, s:i, s:i, s:o}", "id", (json_int_t)st->client_id,
				  "backend_id", (json_int_t)st->backend_id, "params", st->params,
				  "columns", st->columns, "sql_bytes",
				  st->sql ? json_integer((json_int_t)st->sql_len) : json_null()));
	}
	return json_pack("{s:o, s:i, s:b, s:b, s:b, s:b, s:o, s:o, s:o, s:o, s:o, s:o}", "schema",
			 str_or_null(f->schema), "charset", f->charset, "autocommit",
			 proto_facts_autocommit(f), "in_transaction", proto_facts_in_trans(f),
			 "read_only_transaction", proto_facts_read_only_trans(f), "tracking",
			 f->tracking, "transaction_state",
			 f->trx_state[0] ? json_string(f->trx_state) : json_null(),
			 "transaction_characteristics", str_or_null(f->trx_chars), "last_gtid",
			 str_or_null(f->last_gtid), "variables", vars, "markers", markers,
			 "prepared_statements", stmts);
}

uint32_t admin_client_id(const struct session *s)
{
	/* The connection id the client's greeting gave it (the primary's). */
	return s->greeting_id;
}

void admin_sessions_fill(struct worker *w, struct sess_snapshot *snap)
{
	json_t *mine = json_array();
	for (struct session *s = w->sessions; s; s = s->next) {
		if (s->state == SESS_CLOSED)
			continue;
		json_t *o = json_pack("{s:I, s:i, s:s, s:s, s:s, s:s, s:s}", "id",
				      (json_int_t)s->id, "worker", w->id, "tenant", s->wt->name,
				      "user", s->user, "client", s->peer_text, "backend",
				      s->backend_addr, "state", sess_state_name(s->state));
		if (o) {
			/* the id the client knows (its greeting's: also "client_id", the
			 * name the admin API's kill takes) and the server's now */
			json_object_set_new(o, "connection_id", json_integer(s->greeting_id));
			json_object_set_new(o, "client_id", json_integer(admin_client_id(s)));
			json_object_set_new(o, "backend_connection_id",
					    conn_is_open(&s->backend)
						    ? json_integer(s->backend_conn_id)
						    : json_null());
			json_object_set_new(o, "facts", sess_facts_json(s));
			json_array_append_new(mine, o);
		}
	}
	pthread_mutex_lock(&snap->mu);
	json_array_extend(snap->sessions, mine);
	json_array_append_new(snap->answered, json_integer(w->id));
	snap->pending--;
	pthread_cond_signal(&snap->cv);
	pthread_mutex_unlock(&snap->mu);
	json_decref(mine);
}

void admin_sessions_act(struct worker *w, const struct wmsg *m)
{
	for (struct session *s = w->sessions; s; s = s->next) {
		if (s->state == SESS_CLOSED)
			continue;
		if (m->kind == WMSG_KILL && s->id == m->session_id) {
			sess_fail(s, ER_CONNECTION_KILLED, "70100", "Connection was killed");
			return;
		}
		if (m->kind == WMSG_DRAIN && strcmp(s->wt->name, m->tenant) == 0)
			sess_drain(s);
	}
}
