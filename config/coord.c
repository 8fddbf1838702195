/*
 * coord.c — the "coordination" section: which etcd endpoints several
 * tandems use to agree on each cluster's primary (health/coord.h).
 *
 * Owns: parsing and validating that section into struct cfg_coord and
 * freeing it (the password is wiped). Must not: talk to etcd; a reload
 * that changes this section is applied by the monitor, not here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/ssl.h>

#include "config/coord.h"
#include "config/errors.h"
#include "config/secret.h"
#include "config/tls.h"
#include "protocol/auth.h"

static const char *str_at(struct cfg_errors *e, json_t *o, const char *key, const char *dflt)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return dflt;
	if (!json_is_string(v) || !json_string_value(v)[0]) {
		cfg_error(e, "$.coordination.%s: must be a non-empty string", key);
		return dflt;
	}
	return json_string_value(v);
}

static long long int_at(struct cfg_errors *e, json_t *o, const char *key, long long dflt,
			long long min, long long max)
{
	json_t *v = json_object_get(o, key);
	if (!v)
		return dflt;
	if (!json_is_integer(v) || json_integer_value(v) < min || json_integer_value(v) > max) {
		cfg_error(e, "$.coordination.%s: must be an integer in %lld..%lld", key, min, max);
		return dflt;
	}
	return json_integer_value(v);
}

/* The prefix is used in etcd keys and JSON: printable, no spaces, starts with '/'. */
static bool prefix_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) > 128)
		return false;
	for (const char *c = p; *c; c++)
		if (*c <= ' ' || *c > '~' || *c == '"' || *c == '\\')
			return false;
	return true;
}

static void load_endpoints(struct cfg_errors *e, json_t *o, struct cfg_coord *k)
{
	json_t *eps = json_object_get(o, "endpoints");
	if (!json_is_array(eps) || json_array_size(eps) == 0 || json_array_size(eps) > 16) {
		cfg_error(e, "$.coordination.endpoints: must be an array of 1..16 \"host:port\"");
		return;
	}
	k->endpoints = calloc(json_array_size(eps), sizeof(*k->endpoints));
	if (!k->endpoints) {
		cfg_error(e, "$.coordination.endpoints: out of memory");
		return;
	}
	size_t i;
	json_t *v;
	json_array_foreach(eps, i, v)
	{
		char err[160];
		const char *t = json_is_string(v) ? json_string_value(v) : NULL;
		/* "http://h:p" and "https://h:p" are accepted as they appear in etcd's docs. */
		if (t && strncmp(t, "http://", 7) == 0)
			t += 7;
		else if (t && strncmp(t, "https://", 8) == 0)
			t += 8;
		if (!t ||
		    cfg_addr_parse(t, false, &k->endpoints[k->nendpoints], err, sizeof(err)) < 0)
			cfg_error(e, "$.coordination.endpoints[%zu]: %s", i,
				  t ? err : "must be a string");
		else
			k->nendpoints++;
	}
}

void cfg_coord_load(struct cfg_errors *e, json_t *root, struct cfg *c, const char *base_dir,
		    const gid_t *group_ok)
{
	static const char *const known[] = {"endpoints",  "prefix",  "instance", "lease_ttl_s",
					    "timeout_ms", "user",    "password", "password_file",
					    "tls",        "enabled", NULL};
	struct cfg_coord *k = &c->coord;
	json_t *o = json_object_get(root, "coordination");
	if (!o)
		return;
	if (!json_is_object(o)) {
		cfg_error(e, "$.coordination: must be an object");
		return;
	}
	const char *key;
	json_t *val;
	json_object_foreach(o, key, val)
	{
		bool found = false;
		for (size_t i = 0; known[i]; i++)
			found = found || strcmp(key, known[i]) == 0;
		if (!found)
			cfg_error(e, "$.coordination.%s: unknown key", key);
	}
	json_t *en = json_object_get(o, "enabled");
	if (en && !json_is_boolean(en))
		cfg_error(e, "$.coordination.enabled: must be true or false");
	k->enabled = !en || json_is_true(en);
	load_endpoints(e, o, k);
	const char *prefix = str_at(e, o, "prefix", "/tandem");
	if (!prefix_ok(prefix))
		cfg_error(e, "$.coordination.prefix: must start with '/' and hold at most 128 "
			     "printable characters without spaces, quotes or backslashes");
	k->prefix = strdup(prefix);
	/* Several tandems on one host differ by their admin port. */
	char dflt[300], host[256] = "tandem";
	gethostname(host, sizeof(host) - 1);
	host[sizeof(host) - 1] = 0;
	snprintf(dflt, sizeof(dflt), "%s-%u", host, (unsigned)c->admin_listen.port);
	const char *inst = str_at(e, o, "instance", dflt);
	if (strpbrk(inst, " \"\\/") || strlen(inst) > 100)
		cfg_error(
			e,
			"$.coordination.instance: at most 100 characters without spaces, quotes, slashes or backslashes");
	k->instance = strdup(inst);
	k->lease_ttl_s = (int)int_at(e, o, "lease_ttl_s", 5, 2, 600);
	k->timeout_ms = (int)int_at(e, o, "timeout_ms", 500, 50, 60000);
	if (k->timeout_ms * 4 > k->lease_ttl_s * 1000)
		cfg_error(e,
			  "$.coordination.timeout_ms: must be at most a quarter of lease_ttl_s, so "
			  "that a cut-off tandem notices before its lease runs out");
	const char *user = str_at(e, o, "user", NULL);
	k->user = user ? strdup(user) : NULL;
	const char *pw = str_at(e, o, "password", NULL);
	const char *pwf = str_at(e, o, "password_file", NULL);
	if (pw && pwf)
		cfg_error(e, "$.coordination: give either password or password_file, not both");
	else if (pwf)
		k->password =
			cfg_secret_read(e, "$.coordination.password_file", pwf, base_dir, group_ok);
	else if (pw)
		k->password = strdup(pw);
	if ((k->user != NULL) != (k->password != NULL))
		cfg_error(e, "$.coordination: user and password go together");
	if (json_object_get(o, "tls")) {
		/* The same "tls" object as a cluster's (ca, cert, key, verify_identity). */
		struct cfg_cluster tmp = {0};
		cfg_tls_load_cluster(e, o, "$.coordination", &tmp, base_dir);
		k->tls = tmp.tls;
	}
}

void cfg_coord_free(struct cfg_coord *k)
{
	free(k->endpoints);
	free(k->prefix);
	free(k->instance);
	free(k->user);
	if (k->password) {
		proto_wipe(k->password, strlen(k->password));
		free(k->password);
	}
	if (k->tls) {
		SSL_CTX_free(k->tls->ctx);
		free(k->tls->ca_path);
		free(k->tls->cert_path);
		free(k->tls->key_path);
		free(k->tls);
	}
	memset(k, 0, sizeof(*k));
}
