/*
 * process.h — what proxy/process/ offers the rest of tandem: the process:
 * the daemon, its workers, the admin API, readiness. One section per topic,
 * each opening with what its file owns; its types are in daemon_types.h,
 * worker_types.h.
 *
 * Owns: the declarations (and the few constants and inline helpers) of the
 * functions proxy/process/'s files define. Must not: declare anything
 * another folder defines.
 */
#ifndef TANDEM_PROXY_PROCESS_H
#define TANDEM_PROXY_PROCESS_H

#include <jansson.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "config/config.h"
#include "health/http.h"
#include "proxy/process/daemon_types.h"
#include "proxy/process/worker_types.h"

/*
 * daemon — the process: the main thread's event_base (signals, admin
 * HTTP, reload), the workers, the monitor, and the current config.
 *
 * Owns: the current config snapshot and its generation, which tenant is
 * bound where, the tenant registry, and start-up / reload / shutdown.
 * Must not: touch sessions (they belong to workers).
 */
/* Load the config, bind, start everything. 0 or -1 (errors printed). */
int daemon_start(struct daemon *d, const char *config_path);
/* Run the main loop until shutdown completes; returns the exit code. */
int daemon_run(struct daemon *d);
void daemon_free(struct daemon *d);

/* Reload the config file now (what SIGHUP does). 0 on success. */
int daemon_reload(struct daemon *d);

/* `tandem --check`: 0 valid, 1 not. */
int daemon_check_config(const char *config_path);

/* Bind one listening socket (SO_REUSEPORT, non-blocking). -1 with errno. */
int daemon_bind_listener(const struct cfg_addr *a);

/*
 * worker — a proxy worker thread: one event_base, the listeners of every
 * tenant on this worker (one SO_REUSEPORT socket per tenant per worker, so
 * the kernel spreads connections), and every session accepted here.
 *
 * Other threads talk to a worker only through worker_post() (a locked
 * queue plus event_active on the worker's wake event) and
 * worker_topology_changed(); everything else in struct worker belongs to
 * the worker thread.
 */
/* exited(arg) is called on the worker's thread as its loop ends. */
int worker_init(struct worker *w, int id, void (*exited)(void *arg), void *arg);
/* Start the thread; shared: what its sessions are lent of the process
 * (monitor, accounts, throttle, session count; base and pool are the
 * worker's own). */
int worker_start(struct worker *w, const struct sess_env *shared);
/* Join the thread and free what the worker owns. */
void worker_join(struct worker *w);

/* Hand a message to the worker (takes ownership of msg). Any thread. */
void worker_post(struct worker *w, struct wmsg *msg);
/* Tell the worker a cluster topology changed. Any thread; coalesces. */
void worker_topology_changed(struct worker *w);

/*
 * running — what a running tandem listens on, asked over its admin
 * endpoint, for `tandem --check` when /proc does not say who holds a port
 * (the running tandem dropped to "user" and the check lacks CAP_SYS_PTRACE,
 * as under the systemd unit).
 *
 * Must not: change anything in the running tandem (GET /status only).
 */
struct running_probe {
	const struct cfg *cfg; /* the file being checked: where to ask, with which token */
	bool asked;
	struct cfg_addr *addrs; /* what the running tandem answered it listens on */
	size_t naddrs;
};

/* cfg_listen_ours_fn: whether the tandem answering at cfg's admin.listen
 * listens on a (its admin address, or a tenant's). Asks once (2 s
 * deadline) and remembers the answer in the probe (arg). */
bool running_holds(const struct cfg_addr *a, void *arg);
void running_probe_free(struct running_probe *p);

/* What --check checks: load the file and see that every listen address
 * could be taken (see cfg_check_bindable), asking a running tandem about
 * the ones it holds. Errors and warnings go to errs; returns the config (a
 * reference) or NULL. */
struct cfg *running_check_load(const char *config_path, struct cfg_errors *errs);

/*
 * admin — the daemon's answers for the admin endpoint: /status and
 * /metrics documents composed from the tenant counters, the config and the
 * monitor, and /health. Main thread only.
 */
struct daemon;

/* Callbacks for http_start(), bound to d. */
struct http_sources admin_sources(struct daemon *d);

/*
 * admin_worker — the worker thread's side of the admin API
 * (admin_worker.c) and the snapshot the main thread collects.
 */
struct session;
struct worker;
struct wmsg;

/* A /sessions collector. Reference-counted: the main thread and every
 * posted message hold one, so a worker that answers after the main thread
 * gave up (or a message dropped at shutdown) frees nothing twice. A worker
 * builds its part without the lock and appends it under the lock. */
struct sess_snapshot {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int refs;         /* guarded by mu */
	int pending;      /* workers yet to answer; guarded by mu */
	json_t *sessions; /* array; guarded by mu */
	json_t *answered; /* worker ids that answered; guarded by mu */
};

void admin_snapshot_unref(struct sess_snapshot *snap);
/* The id a client knows its session by (its greeting's): what the admin
 * API's kill takes as "client_id". */
uint32_t admin_client_id(const struct session *s);
/* The session's facts as JSON (worker thread). SQL text is summarised
 * (length only): it may hold secrets. */
json_t *sess_facts_json(const struct session *s);
/* Worker thread: append this worker's sessions to snap. */
void admin_sessions_fill(struct worker *w, struct sess_snapshot *snap);
/* Worker thread: a WMSG_KILL or WMSG_DRAIN from the admin API. */
void admin_sessions_act(struct worker *w, const struct wmsg *m);

/*
 * admin_sessions — GET /sessions: every live session with its facts, for
 * operators and tests. Sessions belong to their workers, so the main
 * thread asks each worker (a WMSG_SESSIONS message) for a JSON snapshot
 * of its own sessions and waits, briefly and boundedly, for the answers.
 *
 * Owns: the snapshot collector shared by the main thread and the workers.
 * Must not: touch a session from any thread but its worker's.
 */
struct daemon;
struct worker;
struct sess_snapshot;

/* Main thread: the /sessions document (new reference). Workers that do
 * not answer within a second are listed in "workers_missing". */
json_t *admin_sessions_json(void *daemon);

/* Worker thread: add this worker's sessions to the snapshot. */
/* Drop a message's reference (any thread); NULL is a no-op. */

/*
 * admin_actions — the admin endpoint's day-two actions on sessions and
 * tenants (kill a session, drain a tenant) and the reload verdict. The main thread decides and posts; a session is only
 * ever touched by its own worker (WMSG_KILL, WMSG_DRAIN).
 *
 * Must not: touch a session from the main thread, block a worker.
 */
struct daemon;

/* Main thread. Each returns an HTTP status and sets *reply (new ref). */
/* Kill the session with tandem id `id`, or (id 0) the one whose client
 * connection id is client_id: ERR 1927 to the client, then close. */
int admin_session_kill(struct daemon *d, uint64_t id, uint32_t client_id, json_t **reply);
/* Close the tenant's sessions as each becomes idle: at once between
 * commands, else when the running command has answered (an open
 * transaction is rolled back by the server, as on a drain at shutdown);
 * new logins are still taken. */
int admin_tenant_drain(struct daemon *d, const char *tenant, json_t **reply);
/* Check the config file as --check does; when valid, reload it (what
 * SIGHUP does). The answer holds the check's verdict and every error. */
int admin_reload(struct daemon *d, json_t **reply);

/*
 * admin_history — the failover history (admin_history.c): the last
 * ADMIN_HISTORY_MAX decisions of every cluster's monitor, newest first.
 */
struct daemon;

/* Failover and switchover history, newest first (main thread). The
 * monitor keeps only the last event of each kind per cluster, so the
 * daemon samples those every second and on each request, and keeps the
 * last ADMIN_HISTORY_MAX events. */
#define ADMIN_HISTORY_MAX 100
struct admin_history;
struct admin_history *admin_history_start(struct daemon *d);
void admin_history_stop(struct admin_history *h);
json_t *admin_history_json(struct daemon *d, const char *cluster);

/*
 * sdnotify — systemd's readiness protocol, without libsystemd: one
 * datagram ("READY=1", "RELOADING=1", "STOPPING=1", ...) to the unix socket
 * named by $NOTIFY_SOCKET ('@' = abstract namespace). Without that variable
 * every call is a no-op, so tandem behaves the same outside systemd.
 *
 * Must not: block, or fail the caller: a lost notification is logged once.
 */
/* Send state (newline-separated assignments). 1 sent, 0 no socket, -1 error. */
int sdn_send(const char *state);
/* "RELOADING=1" with the MONOTONIC_USEC systemd >= 253 asks for. */
int sdn_reloading(void);

#endif
