/*
 * daemon.h — the process: the main thread's event_base (signals, admin
 * HTTP, reload), the workers, the monitor, and the current config.
 *
 * Owns: the current config snapshot and its generation, which tenant is
 * bound where, the tenant registry, and start-up / reload / shutdown.
 * Must not: touch sessions (they belong to workers).
 */
#ifndef TANDEM_PROXY_DAEMON_H
#define TANDEM_PROXY_DAEMON_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "proxy/tenant.h"

struct worker;
struct hc_monitor;
struct hc_accounts;
struct http_server;
struct admin_history;
struct throttle;
struct event_base;
struct event;

/* Where a tenant listens now (main thread's record, to tell what changed). */
struct bound_tenant {
	char name[128];
	struct cfg_addr addr;
};

struct daemon {
	struct event_base *base;
	const char *config_path;
	struct cfg *cfg;             /* current snapshot (reference) */
	uint64_t generation;         /* of cfg; 1 for the first */
	int64_t loaded_at_us;        /* wall clock */
	char last_reload_error[512]; /* "" after a good reload */
	stat_t reloads;
	stat_t reload_failures;

	struct worker *workers;
	int nworkers;
	struct hc_monitor *mon;
	struct hc_accounts *accounts; /* users_from_backend loaders */
	struct http_server *admin;
	struct admin_history *history; /* failovers seen (admin_actions.h) */
	struct http_server *admin_old; /* replaced by a reload; stops on admin_retire */
	struct event *admin_retire;
	struct tenant_registry reg;
	struct bound_tenant *bound;
	size_t nbound;

	atomic_uint open_sessions; /* whole process, for limits.max_connections */
	struct throttle *throttle; /* failed logins per source, shared by workers */
	stat_t sessions_rejected_global;

	struct event *sig_hup, *sig_term, *sig_int;
	struct event *shutdown_timer;
	int terms; /* SIGTERM/SIGINT received */
	atomic_int workers_running;
	struct event *workers_done; /* activated (thread-safely) by the last worker out */
};

/* Load the config, bind, start everything. 0 or -1 (errors printed). */
int daemon_start(struct daemon *d, const char *config_path);
/* Run the main loop until shutdown completes; returns the exit code. */
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);

/* Reload the config file now (what SIGHUP does). 0 on success. */
int daemon_reload(struct daemon *d);

/* `tandem --check`: 0 valid, 1 not. */
int daemon_check_config(const char *config_path);
/* What --check checks: load the file and see that every listen address
 * could be taken (see cfg_check_bindable). Errors and warnings go to
 * errs; returns the config (a reference) or NULL. */
struct cfg *daemon_check_load(const char *config_path, struct cfg_errors *errs);

/* A worker's loop has ended (called on the worker thread). */
void daemon_worker_exited(struct daemon *d);

/* Bind one listening socket (SO_REUSEPORT, non-blocking). -1 with errno. */
int daemon_bind_listener(const struct cfg_addr *a);

#endif
