/*
 * accounts.h — users_from_backend: the database accounts of a cluster,
 * loaded from its primary with the monitor user, as immutable
 * reference-counted lists that client logins consult.
 *
 * One loader thread per cluster that some tenant reads accounts from
 * (blocking Connector/C with the monitor's timeouts). It reloads the list
 * every accounts.refresh_ms, and sooner when a login names an unknown user
 * or a password the list does not match (at most once per
 * accounts.min_refresh_ms; such a login waits for that load, see
 * hc_accounts_reload). A failed load keeps the last
 * good list. Only mysql_native_password accounts can be used: tandem must
 * recover SHA1(password) from the client's reply to log in to the backend;
 * the others are listed (not their hashes) in /status.
 *
 * Must not: touch sessions, or depend on the monitor's internals.
 */
#ifndef TANDEM_HEALTH_ACCOUNTS_H
#define TANDEM_HEALTH_ACCOUNTS_H

#include <jansson.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "config/config.h"
#include "health/account_list.h"

struct evbuffer;
struct hc_accounts;

/* Start loaders for the clusters that need them. NULL on failure. */
struct hc_accounts *hc_accounts_start(const struct cfg *cfg);
/* Loaders for a reloaded config: new clusters start, unused ones stop,
 * changed settings (members, monitor credentials, intervals) apply at the
 * next load. Main thread. */
void hc_accounts_reconfigure(struct hc_accounts *a, const struct cfg *cfg);
/* Stop and free. NULL is a no-op. */
void hc_accounts_stop(struct hc_accounts *a);

/* The cluster's current list with a reference (NULL: none loaded yet).
 * Any thread. */
struct hc_account_list *hc_accounts_get(struct hc_accounts *a, const char *cluster);
/* Ask for a reload soon (an unknown user tried to log in); rate limited. */
void hc_accounts_request_refresh(struct hc_accounts *a, const char *cluster);

/* A login the current list refuses (unknown user, other password): ask
 * for a load that starts after this call, and get its ticket (0: no loader
 * for the cluster). Requests made before a load starts share it; loads
 * still keep accounts.min_refresh_ms apart. Any thread; never blocks. */
uint64_t hc_accounts_reload(struct hc_accounts *a, const char *cluster);
/* Whether the load of that ticket has finished (well or not). */
bool hc_accounts_reloaded(struct hc_accounts *a, const char *cluster, uint64_t ticket);

/* /status "accounts" object and /metrics lines. */
json_t *hc_accounts_status_json(struct hc_accounts *a);
void hc_accounts_metrics(struct hc_accounts *a, struct evbuffer *out);

#endif
