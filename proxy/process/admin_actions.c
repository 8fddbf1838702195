/*
 * admin_actions.c — kill a session, drain a tenant, reload with a
 * verdict (see process.h); main thread. What a worker does with a
 * kill or a drain is admin_worker.c.
 *
 * The main thread finds a session in a /sessions snapshot and posts the
 * kill to the worker that owns it; the worker looks the session up by id
 * again (it may have gone meanwhile) and closes it the usual way.
 */
#include "proxy/process/process.h"

#include <event2/event.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "health/monitor.h"
#include "protocol/mysql_const.h"
#include "proxy/process/daemon_types.h"
#include "proxy/session/session.h"


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
	struct cfg *c = running_check_load(d->config_path, &errs);
	bool valid = c && errs.n == 0;
	cfg_unref(c);
	json_t *check = json_pack("{s:s, s:o, s:o}", "verdict", valid ? "valid" : "invalid",
				  "errors", strings(errs.msgs, errs.n), "warnings",
				  strings(errs.warnings, errs.nwarn));
	cfg_errors_free(&errs);
	uint64_t before = d->generation;
	int code = 422;
	if (valid)
		code = d->reload(d) == 0 ? 200 : 409;
	*reply = json_pack("{s:o, s:b, s:I, s:s}", "check", check, "reloaded", code == 200,
			   "generation", (json_int_t)d->generation, "last_error",
			   d->last_reload_error);
	json_object_set_new(*reply, "previous_generation", json_integer((json_int_t)before));
	return code;
}
