/*
 * admin.c — /status, /metrics, /health and the POST actions for the daemon
 * (see process.h). Counters are summed over workers at read time; nothing
 * here blocks a worker, and the actions only queue requests for the
 * monitor's threads, which answer later.
 */
#include "proxy/process/process.h"

#include <event2/buffer.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "health/accounts.h"
#include "health/monitor.h"
#include "proxy/process/daemon_types.h"
#include "proxy/session/session.h"
#include "proxy/login/login.h"

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
	json_object_set_new(o, "sessions_refused",
			    json_integer((json_int_t)SUM(rt, sessions_refused)));
	json_object_set_new(o, "sessions_rejected",
			    json_integer((json_int_t)SUM(rt, sessions_rejected)));
	json_object_set_new(o, "auth_failures", json_integer((json_int_t)SUM(rt, auth_failures)));
	json_object_set_new(o, "auth_throttled", json_integer((json_int_t)SUM(rt, auth_throttled)));
	json_object_set_new(o, "backend_errors", json_integer((json_int_t)SUM(rt, backend_errors)));
	json_object_set_new(o, "queries", json_integer((json_int_t)SUM(rt, queries)));
	json_object_set_new(o, "failover_closed_sessions",
			    json_integer((json_int_t)SUM(rt, failover_closed)));
	json_object_set_new(o, "sessions_moved", json_integer((json_int_t)SUM(rt, sessions_moved)));
	json_object_set_new(o, "reads_rerun", json_integer((json_int_t)SUM(rt, reads_rerun)));
	json_object_set_new(o, "transactions_replayed",
			    json_integer((json_int_t)SUM(rt, transactions_replayed)));
	json_object_set_new(o, "failover_errors",
			    json_integer((json_int_t)SUM(rt, failover_errors)));
	json_object_set_new(o, "commit_guard",
			    json_pack("{s:b, s:s, s:I, s:I, s:I, s:I, s:I}", "enabled",
				      t->commit_guard, "mode",
				      !t->commit_guard      ? "off"
				      : t->commit_guard_tag ? "tag"
							    : "text",
				      "unguarded_sessions", (json_int_t)SUM(rt, guard_off),
				      "landed", (json_int_t)SUM(rt, guard_landed), "lost",
				      (json_int_t)SUM(rt, guard_lost), "unresolved",
				      (json_int_t)SUM(rt, guard_unresolved), "untagged",
				      (json_int_t)SUM(rt, guard_untagged)));
	if (t->cluster)
		json_object_set_new(o, "last_failover",
				    hc_monitor_last_failover_json(d->mon, t->cluster->name));
	return o;
}

static json_t *status(void *arg)
{
	struct daemon *d = arg;
	json_t *tenants = json_object();
	for (size_t i = 0; i < d->cfg->ntenants; i++)
		json_object_set_new(tenants, d->cfg->tenants[i].name,
				    tenant_json(d, &d->cfg->tenants[i]));
	json_t *config =
		json_pack("{s:I, s:I, s:s, s:I, s:I}", "generation", (json_int_t)d->generation,
			  "loaded_at_us", (json_int_t)d->loaded_at_us, "last_error",
			  d->last_reload_error, "reloads", (json_int_t)stat_get(&d->reloads),
			  "reload_failures", (json_int_t)stat_get(&d->reload_failures));
	return json_pack("{s:s, s:o, s:o, s:o, s:o, s:i}", "version", TANDEM_VERSION, "config",
			 config, "tenants", tenants, "clusters", hc_monitor_status_json(d->mon),
			 "backend_accounts", hc_accounts_status_json(d->accounts), "workers",
			 d->nworkers);
}

static void counter(struct evbuffer *out, const char *name, const char *help, const char *type)
{
	evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void per_tenant(struct evbuffer *out, struct daemon *d, const char *name, const char *help,
		       const char *type, size_t field)
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
	T("tandem_sessions_rejected_total", "Connections refused by connection limits.", "counter",
	  sessions_rejected);
	T("tandem_auth_failures_total", "Failed client logins.", "counter", auth_failures);
	T("tandem_auth_throttled_total",
	  "Connections refused (ERR 1129) because their source is blocked after failed logins.",
	  "counter", auth_throttled);
	T("tandem_backend_errors_total", "Backend connections that failed or broke.", "counter",
	  backend_errors);
	T("tandem_client_errors_total", "Sessions closed for bad input or timeouts.", "counter",
	  client_errors);
	T("tandem_failover_closed_sessions_total",
	  "Sessions closed with an error because their primary moved (failover, switchover).",
	  "counter", failover_closed);
	T("tandem_sessions_moved_total",
	  "Sessions moved to a new backend connection (failover, switchover, broken connection).",
	  "counter", sessions_moved);
	T("tandem_reads_rerun_total",
	  "Interrupted reads run again on the new backend after a move.", "counter", reads_rerun);
	T("tandem_transactions_replayed_total",
	  "Open transactions replayed on the new backend after a move, answers matching.",
	  "counter", transactions_replayed);
	T("tandem_failover_errors_total",
	  "Errors sent to clients because a move lost their command, transaction or session state.",
	  "counter", failover_errors);
	T("tandem_commit_guard_landed_total",
	  "Commits cut off by a failover found in the new primary's binlog (OK sent).", "counter",
	  guard_landed);
	T("tandem_commit_guard_lost_total",
	  "Commits cut off by a failover not in the new primary's binlog (ERR 1213 sent).",
	  "counter", guard_lost);
	T("tandem_commit_guard_unresolved_total",
	  "Commits cut off by a failover whose outcome the binlog could not tell (ERR 1158).",
	  "counter", guard_unresolved);
	T("tandem_commit_guard_untagged_total",
	  "Writes the commit guard could not keep (too large; in text mode also over 16 in a "
	  "transaction): their transaction is not guarded.",
	  "counter", guard_untagged);
	T("tandem_commit_guard_unguarded_sessions",
	  "Open sessions running without the commit guard (off, or no session tracking).", "gauge",
	  guard_off);
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
		"Source addresses blocked now by the failed-login throttle (all tenants).",
		"gauge");
	evbuffer_add_printf(out, "tandem_auth_blocked_sources %zu\n",
			    throttle_nblocked(d->throttle, clock_mono_us()));
	hc_monitor_metrics(d->mon, out);
	hc_accounts_metrics(d->accounts, out);
}

/* A tenant has a writable backend when its cluster's chosen primary is UP
 * and writable, with no failover or switchover in progress. A primary the
 * monitor cannot judge (UNKNOWN: not probed yet, or the monitor cannot log
 * in) still counts: sessions reach it, and the alert says why. */
static bool tenant_writable(const struct hc_topology *topo)
{
	const struct hc_member *p = hc_topology_primary(topo);
	if (!p || topo->transition != HC_TR_NONE)
		return false;
	if (p->state == HC_UNKNOWN)
		return true;
	return p->state == HC_UP && !p->read_only;
}

static bool healthy(void *arg, json_t **detail)
{
	struct daemon *d = arg;
	json_t *missing = json_array();
	for (size_t i = 0; i < d->cfg->ntenants; i++) {
		const struct cfg_tenant *t = &d->cfg->tenants[i];
		struct hc_topology *topo = hc_monitor_topology(d->mon, t->cluster->name);
		if (!tenant_writable(topo))
			json_array_append_new(missing, json_string(t->name));
		hc_topology_unref(topo);
	}
	bool ok = json_array_size(missing) == 0;
	json_t *alerts = hc_monitor_alerts_json(d->mon);
	const char *word = !ok ? "degraded" : json_array_size(alerts) ? "warning" : "ok";
	*detail = json_pack("{s:s, s:o, s:o}", "status", word, "tenants_without_primary", missing,
			    "alerts", alerts);
	return ok;
}

/* ------------------------------------------------------- GET documents */

/* GET / with Accept: application/json: what there is to ask for. */
static json_t *index_json(void)
{
	static const char *const doc[][2] = {
		{"GET /", "the dashboard (a browser), or this index (Accept: application/json)"},
		{"GET /health", "200 when every tenant has a writable primary, else 503"},
		{"GET /status", "the whole state: config, tenants, clusters, accounts"},
		{"GET /metrics", "Prometheus text"},
		{"GET /clusters", "members with role, state, lag and probes (the /status part)"},
		{"GET /tenants?q=&cluster=&offset=&limit=", "tenants, filtered and paged"},
		{"GET /sessions", "live sessions (id, client_id, tenant, user, state, facts)"},
		{"GET /failovers?cluster=", "failover and switchover history, newest first"},
		{"POST /sessions/<id>/kill", "kill a session by tandem's id"},
		{"POST /sessions/kill?client_id=<n>", "kill a session by its client connection id"},
		{"POST /tenants/<name>/drain", "close the tenant's sessions as each goes idle"},
		{"POST /clusters/<c>/switchover[?to=<member>]", "planned primary change"},
		{"POST /clusters/<c>/members/<m>/maintenance", "take a member out of rotation"},
		{"POST /clusters/<c>/members/<m>/ready", "back from maintenance, or unfence"},
		{"POST /clusters/<c>/members/<m>/rejoin",
		 "a fenced old primary rejoins as replica"},
		{"POST /reload", "check the config file, reload when valid; the verdict"},
	};
	json_t *a = json_array();
	for (size_t i = 0; i < sizeof(doc) / sizeof(doc[0]); i++)
		json_array_append_new(a, json_pack("{s:s, s:s}", "endpoint", doc[i][0],
						   "description", doc[i][1]));
	return json_pack("{s:s, s:s, s:o}", "name", "tandem", "version", TANDEM_VERSION,
			 "endpoints", a);
}

static long query_long(struct evkeyvalq *q, const char *key, long dflt, long lo, long hi)
{
	const char *v = evhttp_find_header(q, key);
	if (!v || !*v)
		return dflt;
	char *end;
	long n = strtol(v, &end, 10);
	if (*end)
		return dflt;
	return n < lo ? lo : n > hi ? hi : n;
}

/* GET /tenants: name filter (substring, case-insensitive), cluster
 * filter, and a page; totals tell the page how many there are. */
static json_t *tenants_page(struct daemon *d, const char *query)
{
	struct evkeyvalq q = {0};
	if (query)
		evhttp_parse_query_str(query, &q);
	const char *needle = evhttp_find_header(&q, "q");
	const char *cluster = evhttp_find_header(&q, "cluster");
	long offset = query_long(&q, "offset", 0, 0, 1L << 30);
	long limit = query_long(&q, "limit", 50, 1, 1000);
	json_t *page = json_array();
	long matched = 0;
	for (size_t i = 0; i < d->cfg->ntenants; i++) {
		const struct cfg_tenant *t = &d->cfg->tenants[i];
		if (needle && *needle && !strcasestr(t->name, needle))
			continue;
		if (cluster && *cluster && (!t->cluster || strcmp(t->cluster->name, cluster) != 0))
			continue;
		if (matched >= offset && matched < offset + limit) {
			json_t *o = tenant_json(d, t);
			json_object_set_new(o, "name", json_string(t->name));
			struct tenant_rt *rt = tenant_registry_find(&d->reg, t->name);
			if (rt)
				json_object_set_new(
					o, "errors",
					json_integer((json_int_t)(SUM(rt, backend_errors) +
								  SUM(rt, client_errors) +
								  SUM(rt, failover_errors) +
								  SUM(rt, auth_failures))));
			json_array_append_new(page, o);
		}
		matched++;
	}
	evhttp_clear_headers(&q);
	return json_pack("{s:I, s:I, s:I, s:I, s:o, s:I}", "total", (json_int_t)d->cfg->ntenants,
			 "matched", (json_int_t)matched, "offset", (json_int_t)offset, "limit",
			 (json_int_t)limit, "tenants", page, "at_us", (json_int_t)clock_wall_us());
}

static int get_doc(const char *path, const char *query, json_t **reply, void *arg)
{
	struct daemon *d = arg;
	if (strcmp(path, "/") == 0) {
		*reply = index_json();
	} else if (strcmp(path, "/clusters") == 0) {
		*reply = json_pack("{s:o, s:o, s:I}", "clusters", hc_monitor_status_json(d->mon),
				   "alerts", hc_monitor_alerts_json(d->mon), "at_us",
				   (json_int_t)clock_wall_us());
	} else if (strcmp(path, "/tenants") == 0) {
		*reply = tenants_page(d, query);
	} else if (strcmp(path, "/failovers") == 0) {
		struct evkeyvalq q = {0};
		if (query)
			evhttp_parse_query_str(query, &q);
		*reply = admin_history_json(d, evhttp_find_header(&q, "cluster"));
		evhttp_clear_headers(&q);
	} else {
		return 0;
	}
	return 200;
}

/* ------------------------------------------------------------- actions */

static void request_done(int code, json_t *body, void *arg)
{
	http_pending_done(arg, code, body);
}

/*
 * POST /clusters/<name>/switchover[?to=<member>]
 * POST /clusters/<name>/members/<member>/maintenance
 * POST /clusters/<name>/members/<member>/ready
 * POST /clusters/<name>/members/<member>/rejoin  (the "ready" path: a
 *      fenced old primary becomes a replica of the new one and returns)
 * POST /sessions/<id>/kill, /sessions/kill?client_id=<n>
 * POST /tenants/<name>/drain, POST /reload
 * Segments are URL-decoded (an IPv6 member is written %5B::1%5D:3306).
 */
static int action(const char *path, const char *query, struct http_pending *p, json_t **reply,
		  void *arg)
{
	struct daemon *d = arg;
	char *seg[6] = {0};
	int nseg = 0;
	char *copy = strdup(path);
	if (!copy) {
		*reply = json_pack("{s:s}", "error", "out of memory");
		return 503;
	}
	bool bad = false;
	for (char *save = NULL, *tok = strtok_r(copy, "/", &save); tok && nseg < 6;
	     tok = strtok_r(NULL, "/", &save)) {
		seg[nseg] = evhttp_uridecode(tok, 0, NULL);
		bad = bad || !seg[nseg];
		nseg++;
	}
	int code = bad ? 400 : 404;
	enum hc_request_kind kind = HC_REQ_SWITCHOVER;
	const char *member = NULL;
	char *to = NULL;
	if (bad) {
		/* a segment could not be decoded */
	} else if (nseg == 1 && strcmp(seg[0], "reload") == 0) {
		code = admin_reload(d, reply);
	} else if (nseg == 3 && strcmp(seg[0], "sessions") == 0 && strcmp(seg[2], "kill") == 0) {
		char *end;
		unsigned long long id = strtoull(seg[1], &end, 10);
		code = *end || id == 0 ? 400 : admin_session_kill(d, id, 0, reply);
		if (code == 400)
			*reply = json_pack("{s:s}", "error", "bad session id");
	} else if (nseg == 2 && strcmp(seg[0], "sessions") == 0 && strcmp(seg[1], "kill") == 0) {
		struct evkeyvalq q = {0};
		long cid = -1;
		if (query && evhttp_parse_query_str(query, &q) == 0)
			cid = query_long(&q, "client_id", -1, -1, 0xffffffffL);
		evhttp_clear_headers(&q);
		code = cid < 0 ? 400 : admin_session_kill(d, 0, (uint32_t)cid, reply);
		if (code == 400)
			*reply = json_pack("{s:s}", "error", "client_id=<n> is required");
	} else if (nseg == 3 && strcmp(seg[0], "tenants") == 0 && strcmp(seg[2], "drain") == 0) {
		code = admin_tenant_drain(d, seg[1], reply);
	} else if (nseg == 3 && strcmp(seg[0], "clusters") == 0 &&
		   strcmp(seg[2], "switchover") == 0) {
		code = 0;
		struct evkeyvalq q = {0};
		if (query && evhttp_parse_query_str(query, &q) == 0) {
			const char *v = evhttp_find_header(&q, "to");
			to = v ? strdup(v) : NULL;
		}
		evhttp_clear_headers(&q);
		member = to ? to : "";
	} else if (nseg == 5 && strcmp(seg[0], "clusters") == 0 && strcmp(seg[2], "members") == 0 &&
		   (strcmp(seg[4], "maintenance") == 0 || strcmp(seg[4], "ready") == 0 ||
		    strcmp(seg[4], "rejoin") == 0)) {
		code = 0;
		kind = strcmp(seg[4], "maintenance") == 0 ? HC_REQ_MAINTENANCE : HC_REQ_READY;
		member = seg[3];
	}
	if (code == 0)
		code = hc_monitor_request(d->mon, kind, seg[1], member, request_done, p, reply);
	else if (!*reply)
		*reply = json_pack("{s:s}", "error", bad ? "bad path" : "not found");
	free(to);
	for (int i = 0; i < nseg; i++)
		free(seg[i]);
	free(copy);
	return code;
}

struct http_sources admin_sources(struct daemon *d)
{
	struct http_sources s = {
		.arg = d,
		.status = status,
		.metrics = metrics,
		.healthy = healthy,
		.sessions = admin_sessions_json,
		.get = get_doc,
		.action = action,
	};
	return s;
}
