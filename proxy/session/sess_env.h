/*
 * sess_env.h — what a worker lends its sessions (sess_env.c): the member a
 * new backend connection goes to (the cluster's primary, counted in at its
 * admission gate), the process's budget of backend connections for
 * clients not logged in, and the queue to the reaper.
 *
 * Worker thread only. Must not: call a phase or the worker's loop.
 */
#ifndef TANDEM_PROXY_SESS_ENV_H
#define TANDEM_PROXY_SESS_ENV_H

#include <stdbool.h>
#include <stddef.h>

#include "health/topology.h"
#include "proxy/process/worker_types.h"

enum env_pick {
	ENV_PICK_GO,   /* connect to *m; the session is counted in at it */
	ENV_PICK_WAIT, /* no usable primary now, but the monitor may bring one */
	ENV_PICK_FAIL, /* none will come (why says so) */
};
/* Choose the member a new backend connection of s goes to (the cluster's
 * primary) and count s in at it through the topology's gate (s->gate). */
enum env_pick env_backend_pick(struct worker *w, struct session *s, const struct hc_member **m,
			       char *why, size_t whylen);
/* Count s out of the member it was counted in at. Idempotent. */
void env_backend_release(struct session *s);
/* A client not logged in yet may hold a backend connection for its
 * greeting: true (and counted) while the process holds fewer than
 * limits.preauth_backends of them; the others are greeted without one,
 * so unauthenticated clients cannot use up the servers' connections. */
bool env_preauth_hold(struct session *s);
/* Count out what env_preauth_hold counted in. Idempotent. */
void env_preauth_release(struct session *s);
/* Whether the session's backend connection is at the member sessions of
 * its cluster belong to now, and that member is usable. */
bool env_backend_current(struct worker *w, const struct session *s);
/* Queue a closed session for the worker's reaper (sess_close). */
void env_reap_later(struct worker *w, struct session *s);

#endif
