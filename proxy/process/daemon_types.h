/*
 * daemon_types.h — the process's types (struct daemon): what the main
 * thread owns. Types only; daemon.c declares what daemon.c does with them.
 */
#ifndef TANDEM_PROXY_DAEMON_TYPES_H
#define TANDEM_PROXY_DAEMON_TYPES_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "proxy/session/tenant_types.h"

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
	struct admin_history *history; /* failovers seen (admin_history.c) */
	struct http_server *admin_old; /* replaced by a reload; stops on admin_retire */
	struct event *admin_retire;
	struct tenant_registry reg;
	/* daemon_reload, lent to the admin API (which must not call into
	 * daemon.c: the daemon starts it) */
	int (*reload)(struct daemon *d);
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

#endif
