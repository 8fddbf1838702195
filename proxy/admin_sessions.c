/*
 * admin_sessions.c — the /sessions document (see admin_sessions.h) and
 * the JSON form of one session's facts (session_facts.h).
 *
 * The collector is reference-counted: the main thread and every posted
 * message hold one, so a worker that answers after the main thread gave
 * up (or a message dropped at shutdown) frees nothing twice. A worker
 * builds its part without the lock and appends it under the lock.
 */
#include "proxy/admin_sessions.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <time.h>

#include "proxy/admin_actions.h"
#include "proxy/daemon.h"
#include "proxy/session.h"
#include "proxy/worker.h"

/* How long the main thread waits for the workers' answers. */
#define SNAPSHOT_WAIT_MS 1000

struct sess_snapshot {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;         /* guarded by mu */
	int pending;      /* workers yet to answer; guarded by mu */
	json_t *sessions; /* array; guarded by mu */
	json_t *answered; /* worker ids that answered; guarded by mu */
};

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

json_t *admin_sessions_json(void *arg)
{
	struct daemon *d = arg;
	struct sess_snapshot *snap = calloc(1, sizeof(*snap));
	if (!snap)
		return json_pack("{s:s}", "error", "out of memory");
	pthread_mutex_init(&snap->mu, NULL);
	pthread_cond_init(&snap->cv, NULL);
	snap->refs = 1;
	snap->sessions = json_array();
	snap->answered = json_array();
	for (int i = 0; i < d->nworkers; i++) {
		struct wmsg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		m->kind = WMSG_SESSIONS;
		m->snapshot = snap;
		pthread_mutex_lock(&snap->mu);
		snap->refs++;
		snap->pending++;
		pthread_mutex_unlock(&snap->mu);
		worker_post(&d->workers[i], m);
	}
	struct timespec until;
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)SNAPSHOT_WAIT_MS * 1000000L;
	until.tv_sec += until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&snap->mu);
	while (snap->pending > 0)
		if (pthread_cond_timedwait(&snap->cv, &snap->mu, &until) == ETIMEDOUT)
			break;
	/* Copies: a late worker may still append to the collector. */
	json_t *sessions = json_deep_copy(snap->sessions);
	json_t *answered = json_deep_copy(snap->answered);
	pthread_mutex_unlock(&snap->mu);
	admin_snapshot_unref(snap);

	json_t *missing = json_array();
	for (int i = 0; i < d->nworkers; i++) {
		bool seen = false;
		for (size_t j = 0; j < json_array_size(answered); j++)
			seen |= json_integer_value(json_array_get(answered, j)) == i;
		if (!seen)
			json_array_append_new(missing, json_integer(i));
	}
	json_decref(answered);
	return json_pack("{s:o, s:i, s:o}", "sessions", sessions ? sessions : json_array(),
			 "workers", d->nworkers, "workers_missing", missing);
}
