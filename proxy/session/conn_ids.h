/*
 * conn_ids.h — which connection id tandem handed each client (its
 * greeting's, the CONNECTION_ID() of its first backend connection) and
 * which backend connection the session uses now, process-wide, so that
 * `KILL <greeting id>` reaches the session's current connection after a
 * move, from any worker.
 *
 * One table under one small mutex: only logins, moves, closes and KILL
 * statements touch it, never the forwarding of ordinary commands.
 * Must not: hold a session pointer beyond the mutex, or let a caller
 * dereference another worker's session.
 */
#ifndef TANDEM_PROXY_CONN_IDS_H
#define TANDEM_PROXY_CONN_IDS_H

#include <stdbool.h>
#include <stdint.h>

struct session;

/* Register s under s->greeting_id (set by the greeting). Idempotent. */
void conn_ids_add(struct session *s);
/* Unregister s (at free). Idempotent. */
void conn_ids_remove(struct session *s);
/* s's backend connection now has this id (every backend greeting). */
void conn_ids_set_backend(struct session *s, uint32_t id);
/* The id a KILL of `id` from a session of `cluster` must name: the current
 * backend connection of the session of that cluster whose greeting id it
 * is. False when no such session is known, or its connection is the one
 * with that id anyway, or it has no backend connection right now. */
bool conn_ids_translate(const char *cluster, uint32_t id, uint32_t *out);

/* forward.c: the client's whole command (payload p of *len bytes, at the
 * head of s->client.in) is a KILL (COM_QUERY or COM_PROCESS_KILL) of a
 * tandem client's greeting id: rewrite it there to name that session's
 * current backend connection. 1: rewritten (*p, *len: the payload to go
 * on with, in s->client.in); 0: unchanged; -1: out of memory (the caller
 * fails the session). */
int conn_ids_kill_rewrite(struct session *s, uint8_t **p, uint32_t *len);

#endif
