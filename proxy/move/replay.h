/*
 * replay.h — transaction replay (tenant "transaction_replay": true).
 *
 * While a session is inside a transaction, tandem records the statements
 * it forwards (COM_QUERY and COM_STMT_EXECUTE, each up to 64 KiB, in all
 * up to REPLAY_MAX_BYTES) with a checksum of each answer: the bytes of
 * rows, column definitions and strings, the affected rows and insert id
 * of OKs, the codes of ERRs (never session-state data, which names GTIDs
 * that differ between servers). When the transaction ends, the record is
 * dropped.
 *
 * After a move (migrate.h) of a session that was inside a transaction,
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
#ifndef TANDEM_PROXY_REPLAY_H
#define TANDEM_PROXY_REPLAY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tracker.h"
#include "proxy/move/replay_types.h"

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
 * answers are owed in the queue of tandem's own statements (own.h). */
void sess_replay_send(struct session *s);
/* restore.c: once every answer is in: 1 all matched, -1 some differed. */
int sess_replay_outcome(struct session *s);
/* The command in flight runs again: its answer is checksummed afresh. */
void sess_replay_rerun(struct session *s);
/* Forget the record (the transaction ended or was given up). */
void sess_replay_clear(struct session *s);

#endif
