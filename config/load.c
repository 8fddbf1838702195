/*
 * load.c — JSON to snapshot, in three steps (STYLE.md rule 10):
 *   1. parse with jansson (syntax errors carry line and column);
 *   2. walk the document, checking every key against the known set and
 *      every value's type and range, each error naming its JSON path;
 *   3. build runtime values: resolved addresses, password digests, the
 *      tenant->cluster links.
 * Nothing partial escapes: any error frees the half-built snapshot.
 */
#include <errno.h>
#include <jansson.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/log.h"
#include "config/config.h"
#include "config/coord.h"
#include "config/errors.h"
#include "config/locate.h"
#include "config/secret.h"
#include "config/tls.h"
#include "protocol/auth.h"

/* Largest config file read. */
#define CFG_MAX_FILE (16 << 20)

/* ------------------------------------------------------- typed getters */

/* The walker's context: where we are, where errors go. */
struct ld {
	struct cfg_errors *errs;
	const char *base_dir;    /* directory of the config file, for relative secret files */
	char inline_secret[300]; /* JSON path of the first secret written in the file, or "" */
	gid_t run_gid;           /* group of "user" (secret files may be readable by it) */
	bool have_run_gid;
};

static bool check_keys(struct ld *ld, json_t *obj, const char *path, const char *const known[])
{
	const char *key;
	json_t *val;
	bool ok = true;
	json_object_foreach(obj, key, val)
	{
		bool found = false;
		for (size_t i = 0; known[i]; i++)
			if (strcmp(key, known[i]) == 0)
				found = true;
		if (!found) {
			cfg_error(ld->errs, "%s.%s: unknown key", path, key);
			ok = false;
		}
	}
	return ok;
}

static json_t *get_object(struct ld *ld, json_t *obj, const char *key, const char *path,
			  bool required)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			cfg_error(ld->errs, "%s.%s: required object is missing", path, key);
		return NULL;
	}
	if (!json_is_object(v)) {
		cfg_error(ld->errs, "%s.%s: must be an object", path, key);
		return NULL;
	}
	return v;
}

static const char *get_string(struct ld *ld, json_t *obj, const char *key, const char *path,
			      const char *dflt, bool required)
{
	json_t *v = json_object_get(obj, key);
	if (!v) {
		if (required)
			cfg_error(ld->errs, "%s.%s: required string is missing", path, key);
		return dflt;
	}
	if (!json_is_string(v)) {
		cfg_error(ld->errs, "%s.%s: must be a string", path, key);
		return dflt;
	}
	return json_string_value(v);
}

static long long get_int(struct ld *ld, json_t *obj, const char *key, const char *path,
			 long long dflt, long long min, long long max)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return dflt;
	if (!json_is_integer(v)) {
		cfg_error(ld->errs, "%s.%s: must be an integer", path, key);
		return dflt;
	}
	long long n = json_integer_value(v);
	if (n < min || n > max) {
		cfg_error(ld->errs, "%s.%s: %lld is out of range %lld..%lld", path, key, n, min,
			  max);
		return dflt;
	}
	return n;
}

static bool get_bool(struct ld *ld, json_t *obj, const char *key, const char *path, bool dflt)
{
	json_t *v = json_object_get(obj, key);
	if (!v)
		return dflt;
	if (!json_is_boolean(v)) {
		cfg_error(ld->errs, "%s.%s: must be true or false", path, key);
		return dflt;
	}
	return json_is_true(v);
}

static char *xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* "password" or "password_file": exactly one may be given. */
static char *get_secret(struct ld *ld, json_t *obj, const char *key, const char *path,
			bool required)
{
	char fkey[64];
	snprintf(fkey, sizeof(fkey), "%s_file", key);
	const char *inline_pw = get_string(ld, obj, key, path, NULL, false);
	const char *file = get_string(ld, obj, fkey, path, NULL, false);
	if (inline_pw && file) {
		cfg_error(ld->errs, "%s: give either %s or %s, not both", path, key, fkey);
		return NULL;
	}
	if (file) {
		char p[600];
		snprintf(p, sizeof(p), "%s.%s", path, fkey);
		return cfg_secret_read(ld->errs, p, file, ld->base_dir,
				       ld->have_run_gid ? &ld->run_gid : NULL);
	}
	if (!inline_pw && required)
		cfg_error(ld->errs, "%s: %s (or %s) is required", path, key, fkey);
	if (inline_pw && inline_pw[0] && !ld->inline_secret[0])
		snprintf(ld->inline_secret, sizeof(ld->inline_secret), "%s.%s", path, key);
	return xstrdup(inline_pw);
}

static void get_addr(struct ld *ld, json_t *obj, const char *key, const char *path,
		     const char *dflt, bool numeric, struct cfg_addr *out, bool *present)
{
	const char *text = get_string(ld, obj, key, path, dflt, dflt == NULL);
	if (present)
		*present = text != NULL;
	if (!text)
		return;
	char err[160];
	if (cfg_addr_parse(text, numeric, out, err, sizeof(err)) < 0)
		cfg_error(ld->errs, "%s.%s: \"%s\": %s", path, key, text, err);
}

/* ------------------------------------------------------------- sections */

static void load_limits(struct ld *ld, json_t *root, struct cfg_limits *l)
{
	static const char *const known[] = {"max_packet",          "preauth_max_packet",
					    "auth_timeout_ms",     "idle_timeout_ms",
					    "connect_timeout_ms",  "buffer_high",
					    "buffer_low",          "max_connections",
					    "shutdown_timeout_ms", "drain_timeout_ms",
					    "max_auth_failures",   "auth_failure_window_ms",
					    "auth_block_ms",       "auth_throttle_sources",
					    "preauth_backends",    NULL};
	json_t *o = get_object(ld, root, "limits", "$", false);
	json_t *empty = json_object();
	if (!o)
		o = empty;
	check_keys(ld, o, "$.limits", known);
	const char *p = "$.limits";
	l->max_packet = (uint32_t)get_int(ld, o, "max_packet", p, 64 << 20, 1024, 1 << 30);
	l->preauth_max_packet =
		(uint32_t)get_int(ld, o, "preauth_max_packet", p, 16384, 512, 1 << 20);
	l->auth_timeout_ms = (int)get_int(ld, o, "auth_timeout_ms", p, 10000, 100, 600000);
	l->idle_timeout_ms = (int)get_int(ld, o, "idle_timeout_ms", p, 0, 0, 86400000LL * 24);
	l->connect_timeout_ms = (int)get_int(ld, o, "connect_timeout_ms", p, 5000, 100, 600000);
	l->buffer_high = (uint32_t)get_int(ld, o, "buffer_high", p, 256 << 10, 4096, 1 << 30);
	l->buffer_low = (uint32_t)get_int(ld, o, "buffer_low", p, 64 << 10, 0, 1 << 30);
	l->max_connections = (unsigned)get_int(ld, o, "max_connections", p, 0, 0, 10000000);
	l->preauth_backends = (unsigned)get_int(ld, o, "preauth_backends", p, 256, 0, 1000000);
	l->shutdown_timeout_ms = (int)get_int(ld, o, "shutdown_timeout_ms", p, 30000, 0, 3600000);
	l->drain_timeout_ms = (int)get_int(ld, o, "drain_timeout_ms", p, 60000, 0, 86400000);
	l->max_auth_failures = (unsigned)get_int(ld, o, "max_auth_failures", p, 20, 0, 1000000);
	l->auth_failure_window_ms =
		(int)get_int(ld, o, "auth_failure_window_ms", p, 60000, 1000, 86400000);
	l->auth_block_ms = (int)get_int(ld, o, "auth_block_ms", p, 300000, 1000, 86400000);
	l->auth_throttle_sources =
		(unsigned)get_int(ld, o, "auth_throttle_sources", p, 10000, 16, 1000000);
	if (l->buffer_low >= l->buffer_high)
		cfg_error(ld->errs, "$.limits.buffer_low: must be below buffer_high");
	json_decref(empty);
}

static void load_monitor(struct ld *ld, json_t *obj, const char *path, struct cfg_monitor *m)
{
	static const char *const known[] = {"user",
					    "password",
					    "password_file",
					    "interval_ms",
					    "timeout_ms",
					    "failures",
					    "heartbeat",
					    "heartbeat_schema",
					    "stall_tolerance_ms",
					    "write_timeout_ms",
					    "replica_heartbeat_ms",
					    NULL};
	check_keys(ld, obj, path, known);
	m->user = xstrdup(get_string(ld, obj, "user", path, NULL, true));
	m->password = get_secret(ld, obj, "password", path, true);
	m->interval_ms = (int)get_int(ld, obj, "interval_ms", path, 500, 50, 60000);
	m->timeout_ms = (int)get_int(ld, obj, "timeout_ms", path, 1000, 50, 60000);
	m->failures = (int)get_int(ld, obj, "failures", path, 3, 1, 100);
	m->heartbeat = get_bool(ld, obj, "heartbeat", path, false);
	m->stall_tolerance_ms = (int)get_int(ld, obj, "stall_tolerance_ms", path, 3000, 0, 3600000);
	m->write_timeout_ms = (int)get_int(ld, obj, "write_timeout_ms", path, 2000, 50, 600000);
	m->replica_heartbeat_ms =
		(int)get_int(ld, obj, "replica_heartbeat_ms", path, 500, 0, 3600000);
	const char *schema = get_string(ld, obj, "heartbeat_schema", path, "tandem", false);
	if (schema &&
	    (strlen(schema) == 0 || strlen(schema) > 64 ||
	     strspn(schema, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_$") !=
		     strlen(schema)))
		cfg_error(ld->errs, "%s.heartbeat_schema: must be 1..64 letters, digits, _ or $",
			  path);
	m->heartbeat_schema = xstrdup(schema);
	if (!m->heartbeat && json_object_get(obj, "heartbeat_schema"))
		cfg_warning(ld->errs,
			    "%s.heartbeat_schema: ignored: monitor.heartbeat is off (the default)",
			    path);
}

static void load_failover(struct ld *ld, json_t *obj, const char *path, struct cfg_failover *f)
{
	static const char *const known[] = {"auto",
					    "promote",
					    "max_lag_ms",
					    "catchup_timeout_ms",
					    "min_interval_ms",
					    "drain_timeout_ms",
					    "session_wait_ms",
					    "replication_user",
					    "replication_password",
					    "replication_password_file",
					    "max_data_loss_ms",
					    "on_write_stall",
					    "auto_rejoin",
					    NULL};
	json_t *empty = json_object();
	if (!obj)
		obj = empty;
	check_keys(ld, obj, path, known);
	f->auto_failover = get_bool(ld, obj, "auto", path, true);
	f->promote = get_bool(ld, obj, "promote", path, true);
	f->max_lag_ms = (int)get_int(ld, obj, "max_lag_ms", path, 5000, 0, 86400000);
	f->catchup_timeout_ms = (int)get_int(ld, obj, "catchup_timeout_ms", path, 5000, 0, 600000);
	f->min_interval_ms = (int)get_int(ld, obj, "min_interval_ms", path, 60000, 0, 86400000);
	f->drain_timeout_ms = (int)get_int(ld, obj, "drain_timeout_ms", path, 2000, 0, 600000);
	f->session_wait_ms = (int)get_int(ld, obj, "session_wait_ms", path, 15000, 0, 600000);
	f->replication_user = xstrdup(get_string(ld, obj, "replication_user", path, NULL, false));
	f->replication_password = get_secret(ld, obj, "replication_password", path, false);
	f->max_data_loss_ms = (int)get_int(ld, obj, "max_data_loss_ms", path, -1, -1, 86400000);
	f->on_write_stall = get_bool(ld, obj, "on_write_stall", path, false);
	f->auto_rejoin = get_bool(ld, obj, "auto_rejoin", path, true);
	if (f->replication_password && !f->replication_user)
		cfg_error(ld->errs, "%s.replication_password: needs replication_user", path);
	json_decref(empty);
}

static void load_accounts(struct ld *ld, json_t *obj, const char *path, struct cfg_accounts *a)
{
	static const char *const known[] = {"refresh_ms", "min_refresh_ms", NULL};
	json_t *empty = json_object();
	if (!obj)
		obj = empty;
	check_keys(ld, obj, path, known);
	a->refresh_ms = (int)get_int(ld, obj, "refresh_ms", path, 60000, 1000, 86400000);
	a->min_refresh_ms = (int)get_int(ld, obj, "min_refresh_ms", path, 100, 100, 3600000);
	json_decref(empty);
}

/* Tenant and cluster names appear in metric labels, log lines and
 * fixed-size per-thread records: keep them short and plain. */
static void check_name(struct ld *ld, const char *path, const char *name)
{
	size_t len = strlen(name);
	if (len == 0 || len > CFG_NAME_MAX ||
	    strspn(name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-") != len)
		cfg_error(ld->errs, "%s: names are 1..%d letters, digits, '_' or '-'", path,
			  CFG_NAME_MAX);
}

static void load_cluster(struct ld *ld, const char *name, json_t *obj, struct cfg_cluster *c)
{
	static const char *const known[] = {"primary",  "replicas", "monitor", "failover",
					    "accounts", "tls",      NULL};
	char path[256];
	snprintf(path, sizeof(path), "$.clusters.%s", name);
	c->name = strdup(name);
	check_name(ld, path, name);
	if (!json_is_object(obj)) {
		cfg_error(ld->errs, "%s: must be an object", path);
		return;
	}
	check_keys(ld, obj, path, known);
	json_t *replicas = json_object_get(obj, "replicas");
	size_t nrep = 0;
	if (replicas && !json_is_array(replicas))
		cfg_error(ld->errs, "%s.replicas: must be an array of \"host:port\"", path);
	else if (replicas)
		nrep = json_array_size(replicas);
	c->members = calloc(1 + nrep, sizeof(*c->members));
	if (!c->members)
		return;
	get_addr(ld, obj, "primary", path, NULL, false, &c->members[0], NULL);
	c->nmembers = 1;
	for (size_t i = 0; i < nrep; i++) {
		json_t *r = json_array_get(replicas, i);
		char err[160];
		if (!json_is_string(r)) {
			cfg_error(ld->errs, "%s.replicas[%zu]: must be a string", path, i);
			continue;
		}
		if (cfg_addr_parse(json_string_value(r), false, &c->members[c->nmembers], err,
				   sizeof(err)) < 0) {
			cfg_error(ld->errs, "%s.replicas[%zu]: \"%s\": %s", path, i,
				  json_string_value(r), err);
			continue;
		}
		for (size_t j = 0; j < c->nmembers; j++)
			if (cfg_addr_equal(&c->members[j], &c->members[c->nmembers]))
				cfg_error(ld->errs, "%s.replicas[%zu]: %s is listed twice", path, i,
					  json_string_value(r));
		c->nmembers++;
	}
	char sub[300];
	snprintf(sub, sizeof(sub), "%s.monitor", path);
	json_t *mon = get_object(ld, obj, "monitor", path, true);
	if (mon)
		load_monitor(ld, mon, sub, &c->monitor);
	snprintf(sub, sizeof(sub), "%s.failover", path);
	load_failover(ld, get_object(ld, obj, "failover", path, false), sub, &c->failover);
	snprintf(sub, sizeof(sub), "%s.accounts", path);
	load_accounts(ld, get_object(ld, obj, "accounts", path, false), sub, &c->accounts);
	cfg_tls_load_cluster(ld->errs, obj, path, c, ld->base_dir);
}

static void load_user(struct ld *ld, const char *path, const char *name, json_t *obj,
		      struct cfg_user *u)
{
	static const char *const known[] = {"password", "password_file", "password_hash", NULL};
	u->name = strdup(name);
	if (!json_is_object(obj)) {
		cfg_error(ld->errs, "%s: must be an object", path);
		return;
	}
	check_keys(ld, obj, path, known);
	const char *hash = get_string(ld, obj, "password_hash", path, NULL, false);
	bool has_pw = json_object_get(obj, "password") || json_object_get(obj, "password_file");
	if (hash && has_pw) {
		cfg_error(ld->errs, "%s: give a password or a password_hash, not both", path);
		return;
	}
	if (hash) {
		if (proto_native_hash_parse(hash, strlen(hash), u->stage2) != 0)
			cfg_error(ld->errs, "%s.password_hash: must be \"*\" and 40 hex digits",
				  path);
		return;
	}
	u->password = get_secret(ld, obj, "password", path, true);
	if (u->password) {
		uint8_t stage1[20];
		proto_native_stages(u->password, strlen(u->password), stage1, u->stage2);
		proto_sha2_digest2(u->password, strlen(u->password), u->sha2);
		proto_wipe(stage1, sizeof(stage1));
	}
}

/* "users_from_backend": true, false, or an array of name patterns (LIKE
 * syntax: % and _) that limits which of the cluster's accounts may log in. */
static void load_backend_users(struct ld *ld, json_t *obj, const char *path, struct cfg_tenant *t)
{
	json_t *v = json_object_get(obj, "users_from_backend");
	if (!v)
		return;
	if (json_is_boolean(v)) {
		t->users_from_backend = json_is_true(v);
		return;
	}
	if (!json_is_array(v) || json_array_size(v) == 0) {
		cfg_error(ld->errs,
			  "%s.users_from_backend: must be true, false or a non-empty array of "
			  "user name patterns",
			  path);
		return;
	}
	t->users_from_backend = true;
	t->backend_user_patterns = calloc(json_array_size(v), sizeof(char *));
	for (size_t i = 0; t->backend_user_patterns && i < json_array_size(v); i++) {
		json_t *p = json_array_get(v, i);
		size_t len = json_is_string(p) ? strlen(json_string_value(p)) : 0;
		if (len == 0 || len > 80) {
			cfg_error(ld->errs,
				  "%s.users_from_backend[%zu]: must be a user name pattern "
				  "of 1..80 bytes",
				  path, i);
			continue;
		}
		t->backend_user_patterns[t->nbackend_user_patterns++] =
			strdup(json_string_value(p));
	}
}

static void load_tenant(struct ld *ld, const char *name, json_t *obj, struct cfg *c,
			struct cfg_tenant *t)
{
	static const char *const known[] = {"listen",
					    "allow",
					    "cluster",
					    "users",
					    "users_from_backend",
					    "max_connections",
					    "local_infile",
					    "transaction_replay",
					    "commit_guard",
					    "tls",
					    NULL};
	char path[256];
	snprintf(path, sizeof(path), "$.tenants.%s", name);
	t->name = strdup(name);
	check_name(ld, path, name);
	if (!json_is_object(obj)) {
		cfg_error(ld->errs, "%s: must be an object", path);
		return;
	}
	check_keys(ld, obj, path, known);
	get_addr(ld, obj, "listen", path, NULL, true, &t->listen, NULL);

	json_t *allow = json_object_get(obj, "allow");
	if (!allow || !json_is_array(allow) || json_array_size(allow) == 0) {
		cfg_error(ld->errs, "%s.allow: must be a non-empty array of CIDRs", path);
	} else {
		t->allow = calloc(json_array_size(allow), sizeof(*t->allow));
		for (size_t i = 0; t->allow && i < json_array_size(allow); i++) {
			json_t *a = json_array_get(allow, i);
			if (!json_is_string(a) ||
			    cfg_cidr_parse(json_string_value(a), &t->allow[t->nallow]) < 0)
				cfg_error(ld->errs,
					  "%s.allow[%zu]: not a CIDR (like \"10.0.0.0/8\")", path,
					  i);
			else
				t->nallow++;
		}
	}

	const char *cluster = get_string(ld, obj, "cluster", path, NULL, true);
	if (cluster) {
		t->cluster = cfg_cluster_find(c, cluster);
		if (!t->cluster)
			cfg_error(ld->errs, "%s.cluster: no cluster named \"%s\"", path, cluster);
	}

	load_backend_users(ld, obj, path, t);
	json_t *users = get_object(ld, obj, "users", path, !t->users_from_backend);
	if (users) {
		t->users = calloc(json_object_size(users) + 1, sizeof(*t->users));
		const char *uname;
		json_t *u;
		json_object_foreach(users, uname, u)
		{
			char upath[400];
			snprintf(upath, sizeof(upath), "%s.users.%s", path, uname);
			if (!t->users)
				break;
			if (strlen(uname) == 0 || strlen(uname) > 80) {
				cfg_error(ld->errs, "%s: user names are 1..80 bytes", upath);
				continue;
			}
			load_user(ld, upath, uname, u, &t->users[t->nusers++]);
		}
	}
	t->max_connections = (unsigned)get_int(ld, obj, "max_connections", path, 0, 0, 10000000);
	t->local_infile = get_bool(ld, obj, "local_infile", path, true);
	t->transaction_replay = get_bool(ld, obj, "transaction_replay", path, false);
	/* true or "text": matched by the statements' texts (nothing added
	 * to them); "tag": each write carries a comment naming the session */
	json_t *cg = json_object_get(obj, "commit_guard");
	t->commit_guard = true;
	if (cg && json_is_boolean(cg))
		t->commit_guard = json_is_true(cg);
	else if (cg && json_is_string(cg) && strcmp(json_string_value(cg), "text") == 0)
		t->commit_guard = true;
	else if (cg && json_is_string(cg) && strcmp(json_string_value(cg), "tag") == 0)
		t->commit_guard = t->commit_guard_tag = true;
	else if (cg)
		cfg_error(ld->errs, "%s.commit_guard: must be true, false, \"text\" or \"tag\"",
			  path);
	cfg_tls_load_tenant(ld->errs, obj, path, c, t, ld->base_dir);
}

/* Cross-field checks that need the whole document. */
static void check_listen_unique(struct ld *ld, struct cfg *c)
{
	for (size_t i = 0; i < c->ntenants; i++) {
		if (c->tenants[i].listen.salen == 0)
			continue;
		for (size_t j = i + 1; j < c->ntenants; j++)
			if (cfg_addr_equal(&c->tenants[i].listen, &c->tenants[j].listen))
				cfg_error(ld->errs,
					  "$.tenants.%s.listen: %s is also used by tenant %s",
					  c->tenants[j].name, c->tenants[j].listen.text,
					  c->tenants[i].name);
		if (c->admin_enabled && cfg_addr_equal(&c->tenants[i].listen, &c->admin_listen))
			cfg_error(ld->errs, "$.tenants.%s.listen: %s is also the admin address",
				  c->tenants[i].name, c->tenants[i].listen.text);
	}
}

static bool is_loopback(const struct cfg_addr *a)
{
	if (a->sa.ss_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)&a->sa;
		return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
	}
	if (a->sa.ss_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)&a->sa;
		return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
	}
	return false;
}

static void load_admin(struct ld *ld, json_t *root, struct cfg *c)
{
	static const char *const known[] = {"listen", "token", "token_file", "enabled", NULL};
	json_t *empty = json_object();
	json_t *o = get_object(ld, root, "admin", "$", false);
	if (!o)
		o = empty;
	check_keys(ld, o, "$.admin", known);
	c->admin_enabled = get_bool(ld, o, "enabled", "$.admin", true);
	get_addr(ld, o, "listen", "$.admin", "127.0.0.1:9090", true, &c->admin_listen, NULL);
	c->admin_token = get_secret(ld, o, "token", "$.admin", false);
	if (c->admin_enabled && c->admin_listen.salen && !is_loopback(&c->admin_listen) &&
	    !c->admin_token)
		cfg_error(ld->errs,
			  "$.admin.token: required when admin.listen is not a loopback address");
	json_decref(empty);
}

/* Where the monitor keeps fences and the chosen primary (health/state.c):
 * as given (relative to the config's directory), else beside the config
 * file as <config>.state; none for a config that is not a file. */
static void load_state_file(struct ld *ld, json_t *root, struct cfg *c)
{
	const char *f = get_string(ld, root, "state_file", "$", NULL, false);
	char full[4096];
	if (f && !f[0]) {
		cfg_error(ld->errs, "$.state_file: must not be empty");
		return;
	}
	if (f && f[0] != '/' && ld->base_dir)
		snprintf(full, sizeof(full), "%s/%s", ld->base_dir, f);
	else if (f)
		snprintf(full, sizeof(full), "%s", f);
	else if (c->path)
		snprintf(full, sizeof(full), "%s.state", c->path);
	else
		return;
	c->state_file = xstrdup(full);
}

static void load_root(struct ld *ld, json_t *root, struct cfg *c)
{
	static const char *const known[] = {"admin",
					    "workers",
					    "log_level",
					    "server_version",
					    "user",
					    "limits",
					    "clusters",
					    "tenants",
					    "tls",
					    "rsa_private_key",
					    "rsa_public_key",
					    "state_file",
					    "coordination",
					    NULL};
	if (!json_is_object(root)) {
		cfg_error(ld->errs, "$: the config must be a JSON object");
		return;
	}
	check_keys(ld, root, "$", known);
	c->run_user = xstrdup(get_string(ld, root, "user", "$", NULL, false));
	if (c->run_user) {
		struct passwd *pw = getpwnam(c->run_user);
		if (!pw)
			cfg_error(ld->errs, "$.user: no system account named \"%s\"", c->run_user);
		else {
			ld->run_gid = pw->pw_gid;
			ld->have_run_gid = true;
		}
	}
	load_admin(ld, root, c);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	c->workers = (int)get_int(ld, root, "workers", "$", cpus > 0 ? cpus : 1, 1, 256);
	const char *lvl = get_string(ld, root, "log_level", "$", "info", false);
	c->log_level = lvl ? log_level_parse(lvl) : LOG_INFO;
	if (c->log_level < 0) {
		cfg_error(ld->errs, "$.log_level: must be error, warn, info or debug");
		c->log_level = LOG_INFO;
	}
	c->server_version = xstrdup(get_string(ld, root, "server_version", "$", NULL, false));
	if (c->server_version && (strlen(c->server_version) == 0 || strlen(c->server_version) > 60))
		cfg_error(ld->errs, "$.server_version: must be 1..60 bytes");

	load_limits(ld, root, &c->limits);
	load_state_file(ld, root, c);
	cfg_tls_load_root(ld->errs, root, c, ld->base_dir);
	cfg_coord_load(ld->errs, root, c, ld->base_dir, ld->have_run_gid ? &ld->run_gid : NULL);

	json_t *clusters = get_object(ld, root, "clusters", "$", true);
	if (clusters) {
		c->clusters = calloc(json_object_size(clusters) + 1, sizeof(*c->clusters));
		const char *name;
		json_t *v;
		json_object_foreach(clusters, name, v)
		{
			if (c->clusters)
				load_cluster(ld, name, v, &c->clusters[c->nclusters++]);
		}
	}
	json_t *tenants = get_object(ld, root, "tenants", "$", true);
	if (tenants) {
		c->tenants = calloc(json_object_size(tenants) + 1, sizeof(*c->tenants));
		const char *name;
		json_t *v;
		json_object_foreach(tenants, name, v)
		{
			if (c->tenants)
				load_tenant(ld, name, v, c, &c->tenants[c->ntenants++]);
		}
	}
	check_listen_unique(ld, c);
	for (size_t i = 0; i < c->ntenants; i++)
		for (size_t j = 0; j < c->nclusters; j++)
			if (c->tenants[i].users_from_backend &&
			    c->tenants[i].cluster == &c->clusters[j])
				c->clusters[j].accounts_used = true;
}

/* ------------------------------------------------------------ lifecycle */

static void free_user(struct cfg_user *u)
{
	free(u->name);
	if (u->password) {
		proto_wipe(u->password, strlen(u->password));
		free(u->password);
	}
	proto_wipe(u->stage2, sizeof(u->stage2));
	proto_wipe(u->sha2, sizeof(u->sha2));
}

static void cfg_free(struct cfg *c)
{
	cfg_tls_free(c);
	cfg_coord_free(&c->coord);
	for (size_t i = 0; i < c->nclusters; i++) {
		struct cfg_cluster *cl = &c->clusters[i];
		free(cl->name);
		free(cl->members);
		free(cl->monitor.user);
		if (cl->monitor.password) {
			proto_wipe(cl->monitor.password, strlen(cl->monitor.password));
			free(cl->monitor.password);
		}
		free(cl->monitor.heartbeat_schema);
		free(cl->failover.replication_user);
		if (cl->failover.replication_password) {
			proto_wipe(cl->failover.replication_password,
				   strlen(cl->failover.replication_password));
			free(cl->failover.replication_password);
		}
	}
	for (size_t i = 0; i < c->ntenants; i++) {
		struct cfg_tenant *t = &c->tenants[i];
		free(t->name);
		free(t->allow);
		for (size_t j = 0; j < t->nusers; j++)
			free_user(&t->users[j]);
		free(t->users);
		for (size_t j = 0; j < t->nbackend_user_patterns; j++)
			free(t->backend_user_patterns[j]);
		free(t->backend_user_patterns);
	}
	if (c->admin_token) {
		proto_wipe(c->admin_token, strlen(c->admin_token));
		free(c->admin_token);
	}
	free(c->clusters);
	free(c->tenants);
	free(c->server_version);
	free(c->run_user);
	free(c->path);
	free(c->state_file);
	free(c);
}

static struct cfg *load_json(json_t *root, const char *path, const char *base_dir,
			     struct cfg_errors *errs, bool world_readable)
{
	struct cfg *c = calloc(1, sizeof(*c));
	if (!c) {
		cfg_error(errs, "$: out of memory");
		return NULL;
	}
	atomic_init(&c->refs, 1);
	c->path = path ? strdup(path) : NULL;
	struct ld ld = {.errs = errs, .base_dir = base_dir};
	size_t before = errs->n;
	load_root(&ld, root, c);
	if (world_readable && ld.inline_secret[0])
		cfg_warning(errs,
			    "%s: a secret is written in the config file, which others may "
			    "read; use a *_file key with a file only tandem can read",
			    ld.inline_secret);
	if (errs->n > before) {
		cfg_free(c);
		return NULL;
	}
	return c;
}

/* The whole file, NUL-terminated; NULL with an error in errs. */
static char *read_config_text(const char *path, struct stat *st, struct cfg_errors *errs)
{
	FILE *f = fopen(path, "r");
	if (!f) {
		cfg_error(errs, "%s: cannot read: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(f), st) < 0 || !S_ISREG(st->st_mode) || st->st_size > CFG_MAX_FILE) {
		cfg_error(errs, "%s: not a regular file of at most %d bytes", path, CFG_MAX_FILE);
		fclose(f);
		return NULL;
	}
	char *text = malloc((size_t)st->st_size + 1);
	size_t n = text ? fread(text, 1, (size_t)st->st_size, f) : 0;
	fclose(f);
	if (!text) {
		cfg_error(errs, "%s: out of memory", path);
		return NULL;
	}
	text[n] = 0;
	return text;
}

struct cfg *cfg_load(const char *path, struct cfg_errors *errs)
{
	struct stat st;
	char *text = read_config_text(path, &st, errs);
	if (!text)
		return NULL;
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		cfg_error(errs, "%s:%d:%d: %s", path, jerr.line, jerr.column, jerr.text);
		free(text);
		return NULL;
	}
	char dir[4096];
	snprintf(dir, sizeof(dir), "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = 0;
	else
		snprintf(dir, sizeof(dir), ".");
	size_t nerr = errs->n, nwarn = errs->nwarn;
	struct cfg *c = load_json(root, path, dir, errs, (st.st_mode & S_IROTH) != 0);
	json_decref(root);
	cfg_locate_messages(text, path, errs->msgs + nerr, errs->n - nerr);
	cfg_locate_messages(text, path, errs->warnings + nwarn, errs->nwarn - nwarn);
	free(text);
	return c;
}

struct cfg *cfg_load_string(const char *text, struct cfg_errors *errs)
{
	json_error_t jerr;
	json_t *root = json_loads(text, JSON_REJECT_DUPLICATES, &jerr);
	if (!root) {
		cfg_error(errs, "<string>:%d:%d: %s", jerr.line, jerr.column, jerr.text);
		return NULL;
	}
	size_t nerr = errs->n;
	struct cfg *c = load_json(root, NULL, NULL, errs, false);
	json_decref(root);
	cfg_locate_messages(text, "<string>", errs->msgs + nerr, errs->n - nerr);
	return c;
}

struct cfg *cfg_ref(struct cfg *c)
{
	if (c)
		atomic_fetch_add_explicit(&c->refs, 1, memory_order_relaxed);
	return c;
}

void cfg_unref(struct cfg *c)
{
	if (c && atomic_fetch_sub_explicit(&c->refs, 1, memory_order_acq_rel) == 1)
		cfg_free(c);
}

const struct cfg_tenant *cfg_tenant_find(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->ntenants; i++)
		if (strcmp(c->tenants[i].name, name) == 0)
			return &c->tenants[i];
	return NULL;
}

const struct cfg_cluster *cfg_cluster_find(const struct cfg *c, const char *name)
{
	for (size_t i = 0; i < c->nclusters; i++)
		if (strcmp(c->clusters[i].name, name) == 0)
			return &c->clusters[i];
	return NULL;
}

bool cfg_tenant_backend_user_ok(const struct cfg_tenant *t, const char *name)
{
	if (!t->users_from_backend)
		return false;
	if (t->nbackend_user_patterns == 0)
		return true;
	for (size_t i = 0; i < t->nbackend_user_patterns; i++)
		if (cfg_like_match(t->backend_user_patterns[i], name, false))
			return true;
	return false;
}

const struct cfg_user *cfg_user_find(const struct cfg_tenant *t, const char *name, size_t len)
{
	for (size_t i = 0; i < t->nusers; i++)
		if (strlen(t->users[i].name) == len && memcmp(t->users[i].name, name, len) == 0)
			return &t->users[i];
	return NULL;
}
