/*
 * admin_actions.h — the admin endpoint's day-two actions on sessions and
 * tenants (kill a session, drain a tenant), the failover history, and the
 * reload verdict. The main thread decides and posts; a session is only
 * ever touched by its own worker (WMSG_KILL, WMSG_DRAIN).
 *
 * Must not: touch a session from the main thread, block a worker.
 */
#ifndef TANDEM_PROXY_ADMIN_ACTIONS_H
#define TANDEM_PROXY_ADMIN_ACTIONS_H

#include <jansson.h>
#include <stdint.h>

struct daemon;
struct worker;
struct wmsg;
struct session;

/* The connection id tandem's greeting gave the client (what it sees as
 * CONNECTION_ID() and in SHOW PROCESSLIST's Id through tandem). */
uint32_t admin_client_id(const struct session *s);

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

/* Worker thread: carry out a WMSG_KILL or WMSG_DRAIN. */
void admin_sessions_act(struct worker *w, const struct wmsg *m);

/* Failover and switchover history, newest first (main thread). The
 * monitor keeps only the last event of each kind per cluster, so the
 * daemon samples those every second and on each request, and keeps the
 * last ADMIN_HISTORY_MAX events. */
#define ADMIN_HISTORY_MAX 100
struct admin_history;
struct admin_history *admin_history_start(struct daemon *d);
void admin_history_stop(struct admin_history *h);
json_t *admin_history_json(struct daemon *d, const char *cluster);

#endif
