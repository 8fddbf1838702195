/*
 * admin_actions.h — the admin endpoint's day-two actions on sessions and
 * tenants (kill a session, drain a tenant) and the reload verdict. The main thread decides and posts; a session is only
 * ever touched by its own worker (WMSG_KILL, WMSG_DRAIN).
 *
 * Must not: touch a session from the main thread, block a worker.
 */
#ifndef TANDEM_PROXY_ADMIN_ACTIONS_H
#define TANDEM_PROXY_ADMIN_ACTIONS_H

#include <jansson.h>
#include <stdint.h>

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

#endif
