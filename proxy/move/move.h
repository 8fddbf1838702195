/*
 * move.h — what proxy/move/ offers the rest of tandem: moving sessions:
 * migration and restore, what a move owes, transaction replay, the commit
 * guard. One section per topic, each opening with what its file owns; its
 * types are in commit_guard_types.h, migrate_types.h, replay_types.h.
 *
 * Owns: the declarations (and the few constants and inline helpers) of the
 * functions proxy/move/'s files define. Must not: declare anything another
 * folder defines.
 */
#ifndef TANDEM_PROXY_MOVE_H
#define TANDEM_PROXY_MOVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tracker.h"
#include "proxy/move/commit_guard_types.h"
#include "proxy/move/migrate_types.h"
#include "proxy/move/replay_types.h"

/*
 * migrate — moving a session to a new backend connection without the
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

/*
 * owed — what a session keeps for a move and owes after one (owed.c):
 * values on struct sess_migrate, no phase.
 */
struct session;

/* Free what a move holds (mach_free). Safe on a zeroed struct. */
void sess_migrate_free(struct session *s);

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

/* Owe the client's next command an error (a lost transaction is never
 * overwritten by lost state: it is the stronger news). */
void mig_owe(struct session *s, enum mig_pending p, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/*
 * replay — transaction replay (tenant "transaction_replay": true).
 *
 * While a session is inside a transaction, tandem records the statements
 * it forwards (COM_QUERY and COM_STMT_EXECUTE, each up to 64 KiB, in all
 * up to REPLAY_MAX_BYTES) with a checksum of each answer: the bytes of
 * rows, column definitions and strings, the affected rows and insert id
 * of OKs, the codes of ERRs (never session-state data, which names GTIDs
 * that differ between servers). When the transaction ends, the record is
 * dropped.
 *
 * After a move (migrate.c) of a session that was inside a transaction,
 * the record is run again on the new primary and every answer is
 * checksummed the same way. Only when every checksum matches does the
 * session go on, inside the rebuilt transaction, as if nothing happened;
 * otherwise tandem rolls the new transaction back and the client gets the
 * documented "rolled back" error. A transaction that did something replay
 * cannot reproduce (USE, SET, a statement too large to keep, too much in
 * all) is not replayed.
 *
 * Owns: struct sess_replay. Must not: let a replayed answer reach the
 * client.
 */
struct session;

void sess_replay_free(struct session *s);

/* forward.c: a command is about to be forwarded (payload holds have of its
 * len bytes; client_stmt as the client sent it), after sess_facts_command()
 * has classified it. */
void sess_replay_command(struct session *s, const uint8_t *payload, size_t have, uint32_t len,
			 uint32_t client_stmt);
/* forward.c: one frame of the answer was scanned at offset `start` of the
 * backend's input (len payload bytes, ev what it was). */
void sess_replay_frame(struct session *s, const struct proto_rt_event *ev, size_t start,
		       uint32_t len);
/* forward.c: bytes [start, start+n) of the input continue the last frame. */
void sess_replay_more(struct session *s, size_t start, size_t n);
/* forward.c: the answer is complete; keep the entry only inside a transaction. */
void sess_replay_result(struct session *s);

/* migrate.c: whether the session's open transaction can be replayed. */
bool sess_replay_possible(const struct session *s);
/* restore.c: write the recorded statements to the new backend; their
 * answers are owed in the queue of tandem's own statements (own.c). */
void sess_replay_send(struct session *s);
/* restore.c: once every answer is in: 1 all matched, -1 some differed. */
int sess_replay_outcome(struct session *s);
/* The command in flight runs again: its answer is checksummed afresh. */
void sess_replay_rerun(struct session *s);
/* Forget the record (the transaction ended or was given up). */
void sess_replay_clear(struct session *s);

/*
 * commit_guard — making a commit cut off by a failover answerable, with
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
