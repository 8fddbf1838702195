/*
 * migrate.h — moving a session to a new backend connection without the
 * client noticing: after a failover or a switchover (the monitor published
 * another primary), or when the session's backend connection broke.
 *
 * A move reuses the login states (BACKEND_WAIT, BACKEND_CONNECT,
 * BACKEND_HANDSHAKE, BACKEND_TLS, BACKEND_AUTH) with mg.active set, so the
 * login OK is swallowed instead of sent to the client; then SESS_RESTORE
 * sends, pipelined, what rebuilds the session on the new server (session
 * tracking, the schema, every variable the client changed, every prepared
 * statement again under the client's unchanged statement id) and swallows
 * the answers. What was in flight is then settled:
 *   - a read none of whose answer had reached the client runs again;
 *   - anything else gets a documented error at once, in place of its
 *     answer, and an open transaction is reported rolled back;
 * and state that cannot be moved (temporary tables, named locks, LOCK
 * TABLES, user variables) is reported by an error on the client's next
 * command, after which the session goes on with clean state. The errors
 * are listed in docs/sessions.md.
 *
 * Owns: struct sess_migrate. Must not: send the client anything but those
 * errors and the answer to a command it is owed.
 */
#ifndef TANDEM_PROXY_MIGRATE_H
#define TANDEM_PROXY_MIGRATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tracker.h"
#include "proxy/move/migrate_types.h"

struct session;
struct hc_topology;


/* The backend connection of an attached session (IDLE, COMMAND, RESULT,
 * LOCAL_INFILE, CHANGE_USER_*) broke, or the topology says it must go:
 * settle the command in flight, drop the connection, and move. */
void sess_backend_lost(struct session *s, const char *why);

/* A new topology for the session's cluster arrived (worker thread). */
void sess_migrate_topology(struct session *s, const struct hc_topology *t);

/* IDLE's enter, with mg.park set (a switchover waits for this session
 * to leave the old primary): true when the session left (outside a
 * transaction), and the enter stops. */
bool sess_migrate_park(struct session *s);

/* SESS_RESTORE's enter: the backend accepted the login of a move; send
 * the restore statements and read what has come of them. */
void sess_migrate_logged_in(struct session *s);

/* SESS_RESTORE: the backend's answers to the restore statements. */
void sess_restore_read(struct session *s);

#endif
