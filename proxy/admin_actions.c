/*
 * admin_actions.c — kill a session, drain a tenant, reload with a
 * verdict, and the failover history (see admin_actions.h).
 *
 * The main thread finds a session in a /sessions snapshot and posts the
 * kill to the worker that owns it; the worker looks the session up by id
 * again (it may have gone meanwhile) and closes it the usual way.
 */
#include "proxy/admin_actions.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "health/monitor.h"
#include "protocol/mysql_const.h"
#include "proxy/admin_sessions.h"
#include "proxy/daemon.h"
#include "proxy/session.h"
#include "proxy/worker.h"

#define HISTORY_POLL_MS 1000

uint32_t admin_client_id(const struct session *s)
{
	/* The connection id the client's greeting gave it (the primary's). */
	return s->greeting_id;
}

/* ------------------------------------------------------------ sessions */

int admin_session_kill(struct daemon *d, uint64_t id, uint32_t client_id, json_t **reply)
{
	json_t *doc = admin_sessions_json(d);
	json_t *all = json_object_get(doc, "sessions");
	json_t *hit = NULL;
	for (size_t i = 0; i < json_array_size(all) && !hit; i++) {
		json_t *s = json_array_get(all, i);
		if (id ? (uint64_t)json_integer_value(json_object_get(s, "id")) == id
		       : (uint32_t)json_integer_value(json_object_get(s, "client_id")) == client_id)
			hit = s;
	}
	if (!hit) {
		*reply = json_pack("{s:s}", "error", "no such session");
		json_decref(doc);
		return 404;
	}
	int wid = (int)json_integer_value(json_object_get(hit, "worker"));
	struct wmsg *m = wid >= 0 && wid < d->nworkers ? calloc(1, sizeof(*m)) : NULL;
	if (!m) {
		*reply = json_pack("{s:s}", "error", "out of memory");
		json_decref(doc);
		return 503;
	}
	uint64_t sid = (uint64_t)json_integer_value(json_object_get(hit, "id"));
	m->kind = WMSG_KILL;
	m->session_id = sid;
	worker_post(&d->workers[wid], m); /* the worker owns (and frees) m now */
	*reply = json_pack("{s:O}", "killed", hit);
	json_object_del(json_object_get(*reply, "killed"), "facts");
	json_decref(doc);
	log_info("admin: session %llu killed", (unsigned long long)sid);
	return 200;
}

int admin_tenant_drain(struct daemon *d, const char *tenant, json_t **reply)
{
	if (!cfg_tenant_find(d->cfg, tenant)) {
		*reply = json_pack("{s:s}", "error", "no such tenant");
		return 404;
	}
	struct tenant_rt *rt = tenant_registry_find(&d->reg, tenant);
	uint64_t open = rt ? tenant_rt_sum(rt, offsetof(struct tenant_counters, sessions_open)) : 0;
	for (int i = 0; i < d->nworkers; i++) {
		struct wmsg *m = calloc(1, sizeof(*m));
		if (!m)
			continue;
		m->kind = WMSG_DRAIN;
		snprintf(m->tenant, sizeof(m->tenant), "%s", tenant);
		worker_post(&d->workers[i], m);
	}
	log_info("admin: draining tenant %s (%llu session(s))", tenant, (unsigned long long)open);
	*reply =
		json_pack("{s:s, s:I, s:s}", "tenant", tenant, "sessions", (json_int_t)open, "note",
			  "each session closes when it is between commands (a running command "
			  "answers first); new logins are still accepted");
	return 200;
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

/* -------------------------------------------------------------- reload */

static json_t *strings(char **v, size_t n)
{
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

int admin_reload(struct daemon *d, json_t **reply)
{
	struct cfg_errors errs = {0};
	struct cfg *c = daemon_check_load(d->config_path, &errs);
	bool valid = c && errs.n == 0;
	cfg_unref(c);
	json_t *check = json_pack("{s:s, s:o, s:o}", "verdict", valid ? "valid" : "invalid",
				  "errors", strings(errs.msgs, errs.n), "warnings",
				  strings(errs.warnings, errs.nwarn));
	cfg_errors_free(&errs);
	uint64_t before = d->generation;
	int code = 422;
	if (valid)
		code = daemon_reload(d) == 0 ? 200 : 409;
	*reply = json_pack("{s:o, s:b, s:I, s:s}", "check", check, "reloaded", code == 200,
			   "generation", (json_int_t)d->generation, "last_error",
			   d->last_reload_error);
	json_object_set_new(*reply, "previous_generation", json_integer((json_int_t)before));
	return code;
}

/* ------------------------------------------------------------- history */

struct admin_history {
	struct daemon *d;
	struct event *timer;
	json_t *events; /* array, newest first; each with "cluster" */
};

static bool seen(const json_t *events, const char *cluster, const json_t *ev)
{
	const char *kind = json_string_value(json_object_get(ev, "kind"));
	json_int_t at = json_integer_value(json_object_get(ev, "at_us"));
	for (size_t i = 0; i < json_array_size(events); i++) {
		json_t *e = json_array_get(events, i);
		if (json_integer_value(json_object_get(e, "at_us")) == at &&
		    strcmp(json_string_value(json_object_get(e, "cluster")), cluster) == 0 &&
		    strcmp(json_string_value(json_object_get(e, "kind")), kind ? kind : "") == 0)
			return true;
	}
	return false;
}

static void history_sample(struct admin_history *h)
{
	json_t *clusters = hc_monitor_status_json(h->d->mon);
	const char *name;
	json_t *cl;
	json_t *fresh = json_array();
	json_object_foreach(clusters, name, cl)
	{
		json_t *evs[2] = {json_object_get(json_object_get(cl, "failover"), "last"),
				  json_object_get(json_object_get(cl, "switchover"), "last")};
		for (int i = 0; i < 2; i++) {
			if (!json_is_object(evs[i]) || seen(h->events, name, evs[i]))
				continue;
			json_t *e = json_deep_copy(evs[i]);
			json_object_set_new(e, "cluster", json_string(name));
			json_array_append_new(fresh, e);
		}
	}
	json_decref(clusters);
	/* Within one sample, older events go in first so the array stays
	 * newest first. */
	while (json_array_size(fresh)) {
		size_t oldest = 0;
		for (size_t i = 1; i < json_array_size(fresh); i++)
			if (json_integer_value(json_object_get(json_array_get(fresh, i), "at_us")) <
			    json_integer_value(
				    json_object_get(json_array_get(fresh, oldest), "at_us")))
				oldest = i;
		json_array_insert(h->events, 0, json_array_get(fresh, oldest));
		json_array_remove(fresh, oldest);
	}
	json_decref(fresh);
	while (json_array_size(h->events) > ADMIN_HISTORY_MAX)
		json_array_remove(h->events, json_array_size(h->events) - 1);
}

static void on_history_timer(evutil_socket_t fd, short what, void *arg)
{
	(void)fd;
	(void)what;
	history_sample(arg);
}

struct admin_history *admin_history_start(struct daemon *d)
{
	struct admin_history *h = calloc(1, sizeof(*h));
	if (!h)
		return NULL;
	h->d = d;
	h->events = json_array();
	h->timer = event_new(d->base, -1, EV_PERSIST, on_history_timer, h);
	struct timeval tv = {HISTORY_POLL_MS / 1000, (HISTORY_POLL_MS % 1000) * 1000};
	if (h->timer)
		event_add(h->timer, &tv);
	return h;
}

void admin_history_stop(struct admin_history *h)
{
	if (!h)
		return;
	if (h->timer)
		event_free(h->timer);
	json_decref(h->events);
	free(h);
}

json_t *admin_history_json(struct daemon *d, const char *cluster)
{
	struct admin_history *h = d->history;
	json_t *out = json_array();
	if (!h)
		return json_pack("{s:o}", "events", out);
	history_sample(h);
	for (size_t i = 0; i < json_array_size(h->events); i++) {
		json_t *e = json_array_get(h->events, i);
		if (!cluster ||
		    strcmp(json_string_value(json_object_get(e, "cluster")), cluster) == 0)
			json_array_append(out, e);
	}
	return json_pack("{s:o, s:i}", "events", out, "kept", ADMIN_HISTORY_MAX);
}
