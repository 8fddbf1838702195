/*
 * admin.c — /status, /metrics and /health for the daemon (see admin.h).
 * Counters are summed over workers at read time; nothing here blocks a
 * worker.
 */
#include "proxy/admin.h"

#include <event2/buffer.h>
#include <stddef.h>
#include <string.h>

#include "common/clock.h"
#include "health/accounts.h"
#include "health/monitor.h"
#include "proxy/admin_sessions.h"
#include "proxy/daemon.h"
#include "proxy/tenant.h"
#include "proxy/throttle.h"

#define SUM(rt, field) tenant_rt_sum((rt), offsetof(struct tenant_counters, field))

static json_t *tenant_json(struct daemon *d, const struct cfg_tenant *t)
{
	struct tenant_rt *rt = tenant_registry_find(&d->reg, t->name);
	json_t *o = json_pack("{s:s, s:s}", "listen", t->listen.text, "cluster",
			      t->cluster ? t->cluster->name : "");
	if (!rt)
		return o;
	json_object_set_new(o, "sessions", json_integer((json_int_t)SUM(rt, sessions_open)));
	json_object_set_new(o, "sessions_accepted",
			    json_integer((json_int_t)SUM(rt, sessions_accepted)));
	json_object_set_new(o, "sessions_refused", json_integer((json_int_t)SUM(rt, sessions_refused)));
	json_object_set_new(o, "sessions_rejected",
			    json_integer((json_int_t)SUM(rt, sessions_rejected)));
	json_object_set_new(o, "auth_failures", json_integer((json_int_t)SUM(rt, auth_failures)));
	json_object_set_new(o, "auth_throttled", json_integer((json_int_t)SUM(rt, auth_throttled)));
	json_object_set_new(o, "backend_errors", json_integer((json_int_t)SUM(rt, backend_errors)));
	json_object_set_new(o, "queries", json_integer((json_int_t)SUM(rt, queries)));
	return o;
}

static json_t *status(void *arg)
{
	struct daemon *d = arg;
	json_t *tenants = json_object();
	for (size_t i = 0; i < d->cfg->ntenants; i++)
		json_object_set_new(tenants, d->cfg->tenants[i].name,
				    tenant_json(d, &d->cfg->tenants[i]));
	json_t *config = json_pack("{s:I, s:I, s:s, s:I, s:I}", "generation",
				   (json_int_t)d->generation, "loaded_at_us",
				   (json_int_t)d->loaded_at_us, "last_error", d->last_reload_error,
				   "reloads", (json_int_t)stat_get(&d->reloads), "reload_failures",
				   (json_int_t)stat_get(&d->reload_failures));
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:i}", "version", TANDEM_VERSION, "config",
			 config, "tenants", tenants, "clusters", hc_monitor_status_json(d->mon),
			 "backend_accounts", hc_accounts_status_json(d->accounts), "workers",
			 d->nworkers);
}

static void counter(struct evbuffer *out, const char *name, const char *help, const char *type)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_tenant(struct evbuffer *out, struct daemon *d, const char *name,
		       const char *help, const char *type, size_t field)
{
	counter(out, name, help, type);
	for (size_t i = 0; i < d->reg.n; i++) {
		struct tenant_rt *rt = d->reg.items[i];
		evbuffer_add_printf(out, "%s{tenant=\"%s\"} %llu\n", name, rt->name,
				    (unsigned long long)tenant_rt_sum(rt, field));
	}
}

static void metrics(struct evbuffer *out, void *arg)
{
	struct daemon *d = arg;
#define T(name, help, type, field) \
	per_tenant(out, d, name, help, type, offsetof(struct tenant_counters, field))
	T("tandem_sessions", "Open client sessions.", "gauge", sessions_open);
	T("tandem_sessions_accepted_total", "Client connections that got a greeting.", "counter",
	  sessions_accepted);
	T("tandem_sessions_refused_total", "Connections refused by the source allowlist.",
	  "counter", sessions_refused);
	T("tandem_sessions_rejected_total", "Connections refused by connection limits.",
	  "counter", sessions_rejected);
	T("tandem_auth_failures_total", "Failed client logins.", "counter", auth_failures);
	T("tandem_auth_throttled_total",
	  "Connections refused (ERR 1129) because their source is blocked after failed logins.",
	  "counter", auth_throttled);
	T("tandem_backend_errors_total", "Backend connections that failed or broke.", "counter",
	  backend_errors);
	T("tandem_client_errors_total", "Sessions closed for bad input or timeouts.", "counter",
	  client_errors);
	T("tandem_queries_total", "Commands forwarded to backends.", "counter", queries);
	T("tandem_client_received_bytes_total", "Bytes received from clients.", "counter",
	  bytes_from_clients);
	T("tandem_client_sent_bytes_total", "Bytes sent to clients.", "counter", bytes_to_clients);
#undef T
	counter(out, "tandem_config_generation", "Generation of the running config.", "gauge");
	evbuffer_add_printf(out, "tandem_config_generation %llu\n",
			    (unsigned long long)d->generation);
	counter(out, "tandem_config_reloads_total", "Successful config reloads.", "counter");
	evbuffer_add_printf(out, "tandem_config_reloads_total %llu\n",
			    (unsigned long long)stat_get(&d->reloads));
	counter(out, "tandem_config_reload_failures_total", "Rejected config reloads.", "counter");
	evbuffer_add_printf(out, "tandem_config_reload_failures_total %llu\n",
			    (unsigned long long)stat_get(&d->reload_failures));
	counter(out, "tandem_config_loaded_timestamp_seconds",
		"When the running config was loaded (Unix time).", "gauge");
	evbuffer_add_printf(out, "tandem_config_loaded_timestamp_seconds %lld\n",
			    (long long)(d->loaded_at_us / 1000000));
	counter(out, "tandem_auth_blocked_sources",
		"Source addresses blocked now by the failed-login throttle (all tenants).", "gauge");
	evbuffer_add_printf(out, "tandem_auth_blocked_sources %zu\n",
			    throttle_nblocked(d->throttle, clock_mono_us()));
	hc_monitor_metrics(d->mon, out);
	hc_accounts_metrics(d->accounts, out);
}

static bool healthy(void *arg, json_t **detail)
{
	struct daemon *d = arg;
	json_t *missing = json_array();
	for (size_t i = 0; i < d->cfg->ntenants; i++) {
		const struct cfg_tenant *t = &d->cfg->tenants[i];
		struct hc_topology *topo = hc_monitor_topology(d->mon, t->cluster->name);
		if (!hc_topology_primary(topo))
			json_array_append_new(missing, json_string(t->name));
		hc_topology_unref(topo);
	}
	bool ok = json_array_size(missing) == 0;
	*detail = json_pack("{s:s, s:o}", "status", ok ? "ok" : "degraded",
			    "tenants_without_primary", missing);
	return ok;
}

struct http_sources admin_sources(struct daemon *d)
{
	struct http_sources s = {
		.arg = d,
		.status = status,
		.metrics = metrics,
		.healthy = healthy,
		.sessions = admin_sessions_json,
		.action = NULL,
	};
	return s;
}
