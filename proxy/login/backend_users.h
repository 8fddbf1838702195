/*
 * backend_users.h — which account a client login checks against: the
 * tenant's configured users first, then (users_from_backend) the cluster's
 * accounts as loaded by health/accounts.c.
 */
#ifndef TANDEM_PROXY_BACKEND_USERS_H
#define TANDEM_PROXY_BACKEND_USERS_H

#include "config/config.h"

struct session;

/*
 * The account for s->user connecting from s->peer, or NULL (unknown: the
 * login is denied, and an unknown name asks the loader for a fresh list).
 * A configured user points into the tenant's snapshot; a backend account
 * is copied into storage of the calling thread, valid until its next call
 * — long enough for one verification, which is all a caller may use it for.
 * Worker thread only.
 */
const struct cfg_user *sess_find_user(struct session *s);

/* Whether the server calls this client 'localhost' (it is at 127.0.0.1 or
 * ::1 and the cluster's server resolves names): the host of its 1045.
 * Known only for tenants with users_from_backend; false otherwise. */
bool sess_peer_is_localhost(struct session *s);

#endif
