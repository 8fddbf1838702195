/*
 * commit_guard.h — making a commit cut off by a failover answerable, with
 * nothing the session can see.
 *
 * When the primary dies between a COMMIT (or an autocommit write) and its
 * OK, nobody can tell from the outside whether the transaction landed on
 * the replica that takes over. Guessing either way is wrong. tandem sends
 * nothing extra for it: it prepends a comment tag `/\*tandem:<16 hex>*\/ `
 * (the session's random guard id) to the client's own writes (INSERT,
 * UPDATE, DELETE, REPLACE) — COM_QUERY texts, and COM_STMT_PREPARE texts
 * once at prepare time. MariaDB logs each row-writing statement's text, comment
 * included, in the binary log's Annotate_rows event, and the replica logs
 * it again (log_slave_updates). Only when a commit is in doubt does the
 * monitor account read the new primary's binlog from the session's last
 * acknowledged GTID (health/guard_lookup.h): a transaction carrying the
 * tag there is the one cut off (a session's commits are sequential).
 *
 * Owns: struct sess_guard. Must not: send anything on the session's
 * backend connection, or change what the client sees except the answer to
 * a cut-off command.
 */
#ifndef TANDEM_PROXY_COMMIT_GUARD_H
#define TANDEM_PROXY_COMMIT_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "proxy/move/commit_guard_types.h"

struct session;
struct hc_guard_lookup;
struct hc_guard_answer;


void sess_guard_free(struct session *s);

/* forward.c, after sess_facts_command() (whose SQL class it uses) and
 * before the command is kept for a rerun or replay: decide whether the
 * whole command is guarded and tag its text in s->client.in. *p and *len
 * follow the rewrite (p points at the payload in the client's input). */
void sess_guard_command(struct session *s, uint8_t **p, size_t *have, uint32_t *len, bool whole,
			uint32_t client_stmt);
/* forward.c: an OK of the command in flight (its affected rows). */
struct proto_ok;
void sess_guard_ok(struct session *s, const struct proto_ok *ok);
/* restore.c: the text of a statement re-prepared after a move, tagged
 * (malloc'd, *out_len); NULL when the guard is off (send it as it is). */
char *sess_guard_tag_text(struct session *s, const char *sql, size_t len, size_t *out_len);

/* migrate.c: the command cut off may have committed the transaction
 * (unguarded: its outcome is unknown). */
bool sess_guard_may_commit(const struct session *s);
/* migrate.c: the command cut off is a guarded commit whose outcome the
 * binlog can tell. */
bool sess_guard_in_doubt(const struct session *s);
/* restore.c, once logged in to the new primary: start reading its binlog
 * (through the monitor account, on a thread of its own); false when it
 * could not start (the outcome is then CG_UNKNOWN). When it answers (on
 * the worker thread), resolved and outcome are set and, if the session
 * still waits in SESS_RESTORE, sess_restore_read() goes on. */
bool sess_guard_start_lookup(struct session *s);
/* restore.c: answer the cut-off command from the outcome (OK, rolled back,
 * or unknown), as the answer the client waits for. */
void sess_guard_answer(struct session *s);

#endif
