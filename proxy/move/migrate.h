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


/* Free what a move holds (mach_free). Safe on a zeroed struct. */
void sess_migrate_free(struct session *s);

/* The backend connection of an attached session (IDLE, COMMAND, RESULT,
 * LOCAL_INFILE, CHANGE_USER_*) broke, or the topology says it must go:
 * settle the command in flight, drop the connection, and move. */
void sess_backend_lost(struct session *s, const char *why);

/* A new topology for the session's cluster arrived (worker thread). */
void sess_migrate_topology(struct session *s, const struct hc_topology *t);

/* A session that may have to leave its backend now that it is idle
 * (switchover parking). True when it left (the caller stops). */
bool sess_migrate_idle(struct session *s);


/* backend_auth.c: the backend accepted the login of a move. */
void sess_migrate_logged_in(struct session *s);

/* SESS_RESTORE: the backend's answers to the restore statements. */
void sess_restore_read(struct session *s);

/* forward.c, for each command about to be forwarded: keep a copy when it
 * is one that could run again (payload holds have bytes of a len-byte
 * command; client_stmt is the id a COM_STMT_EXECUTE carried, before tandem
 * translated it). */
void sess_migrate_keep(struct session *s, const uint8_t *payload, size_t have, uint32_t len,
		       uint32_t client_stmt);

/* forward.c, before a command is forwarded: the error the session owes,
 * if it owes one for this command (code set, message in msg); false when
 * the command goes ahead. */
bool sess_migrate_owed(struct session *s, const uint8_t *payload, size_t have, uint16_t *code,
		       const char **sqlstate, const char **msg);

#endif
