/*
 * accounts.c — the users_from_backend loaders (see accounts.h): one thread
 * per cluster, its settings, its current list, and what /status and
 * /metrics say about it.
 *
 * Owns: struct hc_accounts and every loader in it (list, settings, stats
 * guarded by hc_accounts.mu). Must not: hold the mutex across a network
 * call, log a hash, or pick the primary from the monitor's internals (it
 * asks the members itself: the first with read_only=0 wins, else any).
 */
#include "health/accounts.h"

#include <errno.h>
#include <event2/buffer.h>
#include <mysql.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/clock.h"
#include "common/log.h"

#define ER_NO_SUCH_TABLE_ 1146

/* MariaDB >= 10.4 keeps authentication in mysql.global_priv (JSON).
 * JSON_VALUE gives a JSON true as '1' (MariaDB 10.11), 'true' elsewhere. */
static const char *const Q_MARIADB =
	"SELECT User, Host, JSON_VALUE(Priv, '$.plugin'), "
	"JSON_VALUE(Priv, '$.authentication_string'), "
	"IF(JSON_VALUE(Priv, '$.account_locked') IN ('true', '1'), 'locked', '') "
	"FROM mysql.global_priv "
	"WHERE IFNULL(JSON_VALUE(Priv, '$.is_role'), 'false') NOT IN ('true', '1')";
/* MySQL (and MariaDB's compatibility view). */
static const char *const Q_MYSQL = "SELECT User, Host, plugin, authentication_string, "
				   "IF(account_locked = 'Y', 'locked', '') FROM mysql.user";

struct loader {
	struct hc_accounts *owner;
	char cluster[64];
	pthread_t thread;
	pthread_cond_t cv;
	struct loader *next;
	/* guarded by owner->mu */
	struct cfg *cfg; /* reference; cl points into it */
	const struct cfg_cluster *cl;
	struct hc_account_list *list; /* last good list, or NULL */
	bool stop;
	bool refresh_requested;
	bool used;                  /* scratch for reconfigure */
	int64_t last_attempt_us;    /* monotonic */
	int64_t loaded_at_us;       /* wall clock of the last good load */
	char source[CFG_ADDR_TEXT]; /* member the last good list came from */
	char last_error[300];       /* "" after a good load */
	uint64_t loads, failures;
	uint64_t asked;    /* reload requests with a ticket (hc_accounts_reload) */
	uint64_t answered; /* requests a finished load (good or failed) started after */
};

struct hc_accounts {
	pthread_mutex_t mu;
	struct loader *loaders;
};

static int64_t mono_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* ------------------------------------------------------------ loading */

static MYSQL *connect_member(const struct cfg_cluster *cl, const struct cfg_addr *a, char *err,
			     size_t errlen)
{
	MYSQL *my = mysql_init(NULL);
	if (!my) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	unsigned secs = (unsigned)(cl->monitor.timeout_ms + 999) / 1000;
	unsigned proto = MYSQL_PROTOCOL_TCP;
	mysql_optionsv(my, MYSQL_OPT_CONNECT_TIMEOUT, &secs);
	mysql_optionsv(my, MYSQL_OPT_READ_TIMEOUT, &secs);
	mysql_optionsv(my, MYSQL_OPT_WRITE_TIMEOUT, &secs);
	mysql_optionsv(my, MYSQL_OPT_PROTOCOL, &proto);
	if (!mysql_real_connect(my, a->host, cl->monitor.user, cl->monitor.password, NULL, a->port,
				NULL, 0)) {
		snprintf(err, errlen, "%s: %s", a->text, mysql_error(my));
		mysql_close(my);
		return NULL;
	}
	/* A session whose query cache is on counts every SELECT it cannot
	 * cache in the global Qcache_not_cached, which clients see; this
	 * connection is made at a client's login (accounts on demand). MySQL
	 * has no such variable: its error changes nothing. */
	if (mysql_query(my, "SET SESSION query_cache_type=OFF") == 0) {
		MYSQL_RES *res = mysql_store_result(my);
		mysql_free_result(res);
	}
	return my;
}

/* 1 read_only, 0 writable, -1 error. */
static int read_only(MYSQL *my)
{
	if (mysql_query(my, "SELECT @@global.read_only"))
		return -1;
	MYSQL_RES *res = mysql_store_result(my);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	int ro = row && row[0] ? atoi(row[0]) != 0 : -1;
	mysql_free_result(res);
	return ro;
}

/* Whether the server resolves client names (skip_name_resolve OFF): then
 * it names 127.0.0.1 and ::1 'localhost'. Unknown: as a default server. */
static bool resolves_names(MYSQL *my)
{
	if (mysql_query(my, "SELECT @@global.skip_name_resolve"))
		return true;
	MYSQL_RES *res = mysql_store_result(my);
	MYSQL_ROW row = res ? mysql_fetch_row(res) : NULL;
	bool on = !(row && row[0] && atoi(row[0]) != 0);
	mysql_free_result(res);
	return on;
}

static struct hc_account_list *fetch(MYSQL *my, const char *addr, char *err, size_t errlen)
{
	if (mysql_query(my, Q_MARIADB)) {
		if (mysql_errno(my) != ER_NO_SUCH_TABLE_ || mysql_query(my, Q_MYSQL)) {
			snprintf(err, errlen, "%s: reading accounts: %s", addr, mysql_error(my));
			return NULL;
		}
	}
	MYSQL_RES *res = mysql_store_result(my);
	if (!res) {
		snprintf(err, errlen, "%s: reading accounts: %s", addr, mysql_error(my));
		return NULL;
	}
	size_t n = (size_t)mysql_num_rows(res);
	const char *(*rows)[5] = calloc(n + 1, sizeof(*rows));
	struct hc_account_list *l = NULL;
	if (rows && mysql_num_fields(res) == 5) {
		MYSQL_ROW row;
		size_t i = 0;
		while (i < n && (row = mysql_fetch_row(res)) != NULL) {
			for (int f = 0; f < 5; f++)
				rows[i][f] = row[f];
			i++;
		}
		l = hc_account_list_build((const char *const(*)[5])rows, i);
	}
	if (!l)
		snprintf(err, errlen, "%s: reading accounts: out of memory", addr);
	free(rows);
	mysql_free_result(res);
	if (l)
		l->loopback_localhost = resolves_names(my);
	return l;
}

/* One load: from the first writable member, else from the first reachable
 * one (accounts replicate). Blocking, no lock held. */
static struct hc_account_list *load_once(const struct cfg_cluster *cl, char *source, char *err,
					 size_t errlen)
{
	MYSQL *fallback = NULL;
	size_t fallback_i = 0;
	struct hc_account_list *l = NULL;
	err[0] = 0;
	for (size_t i = 0; i < cl->nmembers && !l; i++) {
		char e[256];
		MYSQL *my = connect_member(cl, &cl->members[i], e, sizeof(e));
		if (!my) {
			if (!err[0])
				snprintf(err, errlen, "%s", e);
			continue;
		}
		if (read_only(my) == 0) {
			l = fetch(my, cl->members[i].text, err, errlen);
			if (l)
				snprintf(source, CFG_ADDR_TEXT, "%s", cl->members[i].text);
			mysql_close(my);
		} else if (!fallback) {
			fallback = my;
			fallback_i = i;
		} else {
			mysql_close(my);
		}
	}
	if (!l && fallback) {
		l = fetch(fallback, cl->members[fallback_i].text, err, errlen);
		if (l)
			snprintf(source, CFG_ADDR_TEXT, "%s", cl->members[fallback_i].text);
	}
	if (fallback)
		mysql_close(fallback);
	if (!l && !err[0])
		snprintf(err, errlen, "no member reachable");
	return l;
}

static void *loader_main(void *arg)
{
	struct loader *ld = arg;
	struct hc_accounts *a = ld->owner;
	char name[16];
	snprintf(name, sizeof(name), "acc:%.11s", ld->cluster);
	log_set_thread_name(name);
	mysql_thread_init();
	pthread_mutex_lock(&a->mu);
	while (!ld->stop) {
		struct cfg *c = cfg_ref(ld->cfg);
		const struct cfg_cluster *cl = ld->cl;
		ld->refresh_requested = false;
		ld->last_attempt_us = mono_us();
		uint64_t serving = ld->asked; /* requests made before this load starts */
		pthread_mutex_unlock(&a->mu);

		char err[300], source[CFG_ADDR_TEXT] = "";
		struct hc_account_list *l = load_once(cl, source, err, sizeof(err));

		pthread_mutex_lock(&a->mu);
		struct hc_account_list *old = NULL;
		if (l) {
			size_t unusable = 0;
			for (size_t i = 0; i < l->n; i++)
				unusable += !l->items[i].usable;
			if (ld->last_error[0] || !ld->list)
				log_info("cluster %s: %zu accounts loaded from %s (%zu unusable)",
					 ld->cluster, l->n, source, unusable);
			old = ld->list;
			ld->list = l;
			ld->loads++;
			ld->loaded_at_us = clock_wall_us();
			snprintf(ld->source, sizeof(ld->source), "%s", source);
			ld->last_error[0] = 0;
		} else {
			if (strcmp(ld->last_error, err) != 0)
				log_warn("cluster %s: cannot load accounts (%s); keeping the last "
					 "good list",
					 ld->cluster, err);
			ld->failures++;
			snprintf(ld->last_error, sizeof(ld->last_error), "%s", err);
		}
		ld->answered = serving;
		int refresh_ms = cl->accounts.refresh_ms;
		int min_ms = cl->accounts.min_refresh_ms;
		/* cfg may be the last reference to cl's snapshot: drop it under the
		 * lock, after reading what the wait below needs. */
		cfg_unref(c);
		hc_account_list_unref(old);

		/* Sleep until the next periodic load, or an earlier requested one
		 * (but not sooner than min_refresh_ms after the last attempt). */
		for (;;) {
			int64_t now = mono_us();
			int64_t due = ld->last_attempt_us + (int64_t)refresh_ms * 1000;
			if (ld->refresh_requested) {
				int64_t soon = ld->last_attempt_us + (int64_t)min_ms * 1000;
				if (soon < due)
					due = soon;
			}
			if (ld->stop || now >= due)
				break;
			struct timespec ts;
			ts.tv_sec = (time_t)(due / 1000000);
			ts.tv_nsec = (long)(due % 1000000) * 1000;
			pthread_cond_timedwait(&ld->cv, &a->mu, &ts);
			if (ld->cl != cl) { /* reconfigured: new intervals */
				refresh_ms = ld->cl->accounts.refresh_ms;
				min_ms = ld->cl->accounts.min_refresh_ms;
				cl = ld->cl;
			}
		}
	}
	pthread_mutex_unlock(&a->mu);
	mysql_thread_end();
	return NULL;
}

/* --------------------------------------------------------- lifecycle */

static struct loader *find(struct hc_accounts *a, const char *cluster)
{
	for (struct loader *ld = a->loaders; ld; ld = ld->next)
		if (strcmp(ld->cluster, cluster) == 0)
			return ld;
	return NULL;
}

static void free_loader(struct loader *ld)
{
	pthread_cond_destroy(&ld->cv);
	cfg_unref(ld->cfg);
	hc_account_list_unref(ld->list);
	free(ld);
}

/* A new loader, not yet started. Caller holds a->mu (or is alone). */
static struct loader *new_loader(struct hc_accounts *a, struct cfg *c, const struct cfg_cluster *cl)
{
	struct loader *ld = calloc(1, sizeof(*ld));
	if (!ld)
		return NULL;
	ld->owner = a;
	snprintf(ld->cluster, sizeof(ld->cluster), "%s", cl->name);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&ld->cv, &ca);
	pthread_condattr_destroy(&ca);
	ld->cfg = cfg_ref(c);
	ld->cl = cl;
	if (pthread_create(&ld->thread, NULL, loader_main, ld) != 0) {
		log_error("cluster %s: cannot start the accounts thread", cl->name);
		free_loader(ld);
		return NULL;
	}
	ld->next = a->loaders;
	a->loaders = ld;
	return ld;
}

static void stop_loaders(struct hc_accounts *a, struct loader *list)
{
	for (struct loader *ld = list; ld; ld = ld->next) {
		pthread_mutex_lock(&a->mu);
		ld->stop = true;
		pthread_cond_signal(&ld->cv);
		pthread_mutex_unlock(&a->mu);
	}
	struct loader *next;
	for (struct loader *ld = list; ld; ld = next) {
		next = ld->next;
		pthread_join(ld->thread, NULL);
		free_loader(ld);
	}
}

void hc_accounts_reconfigure(struct hc_accounts *a, const struct cfg *cfg_const)
{
	if (!a)
		return;
	/* Loaders keep a reference to the snapshot they read settings from. */
	struct cfg *cfg = (struct cfg *)cfg_const;
	struct loader *gone = NULL;
	pthread_mutex_lock(&a->mu);
	for (struct loader *ld = a->loaders; ld; ld = ld->next)
		ld->used = false;
	for (size_t i = 0; i < cfg->nclusters; i++) {
		const struct cfg_cluster *cl = &cfg->clusters[i];
		if (!cl->accounts_used)
			continue;
		struct loader *ld = find(a, cl->name);
		if (ld) {
			struct cfg *old = ld->cfg;
			ld->cfg = cfg_ref(cfg);
			ld->cl = cl;
			ld->used = true;
			pthread_cond_signal(&ld->cv);
			cfg_unref(old);
		} else if ((ld = new_loader(a, cfg, cl)) != NULL) {
			ld->used = true;
		}
	}
	for (struct loader **pp = &a->loaders; *pp;) {
		struct loader *ld = *pp;
		if (ld->used) {
			pp = &ld->next;
			continue;
		}
		*pp = ld->next;
		ld->next = gone;
		gone = ld;
	}
	pthread_mutex_unlock(&a->mu);
	/* A loader in the middle of a load finishes it first (bounded by the
	 * monitor timeouts). */
	stop_loaders(a, gone);
}

struct hc_accounts *hc_accounts_start(const struct cfg *cfg)
{
	struct hc_accounts *a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	/* Connector/C's global init is not thread-safe: do it here, once. */
	mysql_library_init(0, NULL, NULL);
	pthread_mutex_init(&a->mu, NULL);
	hc_accounts_reconfigure(a, cfg);
	return a;
}

void hc_accounts_stop(struct hc_accounts *a)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	struct loader *all = a->loaders;
	a->loaders = NULL;
	pthread_mutex_unlock(&a->mu);
	stop_loaders(a, all);
	pthread_mutex_destroy(&a->mu);
	free(a);
}

/* ------------------------------------------------------------- lookups */

struct hc_account_list *hc_accounts_get(struct hc_accounts *a, const char *cluster)
{
	if (!a)
		return NULL;
	pthread_mutex_lock(&a->mu);
	struct loader *ld = find(a, cluster);
	struct hc_account_list *l = ld ? hc_account_list_ref(ld->list) : NULL;
	pthread_mutex_unlock(&a->mu);
	return l;
}

void hc_accounts_request_refresh(struct hc_accounts *a, const char *cluster)
{
	if (!a)
		return;
	pthread_mutex_lock(&a->mu);
	struct loader *ld = find(a, cluster);
	if (ld && !ld->refresh_requested) {
		ld->refresh_requested = true;
		pthread_cond_signal(&ld->cv);
	}
	pthread_mutex_unlock(&a->mu);
}

uint64_t hc_accounts_reload(struct hc_accounts *a, const char *cluster)
{
	if (!a)
		return 0;
	uint64_t ticket = 0;
	pthread_mutex_lock(&a->mu);
	struct loader *ld = find(a, cluster);
	if (ld) {
		/* Coalesced: requests made while none has started share one load. */
		if (!ld->refresh_requested || ld->asked == ld->answered)
			ld->asked++;
		ticket = ld->asked;
		ld->refresh_requested = true;
		pthread_cond_signal(&ld->cv);
	}
	pthread_mutex_unlock(&a->mu);
	return ticket;
}

bool hc_accounts_reloaded(struct hc_accounts *a, const char *cluster, uint64_t ticket)
{
	if (!a)
		return true;
	pthread_mutex_lock(&a->mu);
	struct loader *ld = find(a, cluster);
	bool done = !ld || ld->answered >= ticket;
	pthread_mutex_unlock(&a->mu);
	return done;
}

/* ------------------------------------------------------------- reports */

json_t *hc_accounts_status_json(struct hc_accounts *a)
{
	json_t *o = json_object();
	if (!a)
		return o;
	pthread_mutex_lock(&a->mu);
	for (struct loader *ld = a->loaders; ld; ld = ld->next) {
		json_t *unusable = json_array();
		size_t usable = 0, n = ld->list ? ld->list->n : 0;
		for (size_t i = 0; i < n; i++) {
			const struct hc_account *acc = &ld->list->items[i];
			if (acc->usable) {
				usable++;
				continue;
			}
			json_array_append_new(unusable,
					      json_pack("{s:s, s:s, s:s, s:s}", "user", acc->user,
							"host", acc->host, "plugin", acc->plugin,
							"reason", acc->why_unusable));
		}
		json_object_set_new(
			o, ld->cluster,
			json_pack("{s:b, s:s, s:I, s:I, s:I, s:o, s:s, s:I, s:I}", "loaded",
				  ld->list != NULL, "source", ld->source, "loaded_at_us",
				  (json_int_t)ld->loaded_at_us, "accounts", (json_int_t)n, "usable",
				  (json_int_t)usable, "unusable", unusable, "last_error",
				  ld->last_error, "loads", (json_int_t)ld->loads, "load_failures",
				  (json_int_t)ld->failures));
	}
	pthread_mutex_unlock(&a->mu);
	return o;
}

void hc_accounts_metrics(struct hc_accounts *a, struct evbuffer *out)
{
	if (!a || !a->loaders)
		return;
	evbuffer_add_printf(out, "# HELP tandem_backend_accounts Accounts loaded from the "
				 "cluster for users_from_backend, by usability.\n"
				 "# TYPE tandem_backend_accounts gauge\n");
	pthread_mutex_lock(&a->mu);
	for (struct loader *ld = a->loaders; ld; ld = ld->next) {
		size_t usable = 0, n = ld->list ? ld->list->n : 0;
		for (size_t i = 0; i < n; i++)
			usable += ld->list->items[i].usable;
		evbuffer_add_printf(out,
				    "tandem_backend_accounts{cluster=\"%s\",usable=\"yes\"} %zu\n"
				    "tandem_backend_accounts{cluster=\"%s\",usable=\"no\"} %zu\n",
				    ld->cluster, usable, ld->cluster, n - usable);
	}
	evbuffer_add_printf(out, "# HELP tandem_backend_account_load_failures_total Failed "
				 "loads of a cluster's accounts.\n"
				 "# TYPE tandem_backend_account_load_failures_total counter\n");
	for (struct loader *ld = a->loaders; ld; ld = ld->next)
		evbuffer_add_printf(out,
				    "tandem_backend_account_load_failures_total{cluster=\"%s\"} "
				    "%llu\n",
				    ld->cluster, (unsigned long long)ld->failures);
	pthread_mutex_unlock(&a->mu);
}
