/*
 * commit_guard.h — making a commit cut off by a failover answerable.
 *
 * When the primary dies between a COMMIT (or an autocommit write) and its
 * OK, nobody can tell from the outside whether the transaction landed on
 * the replica that takes over. Guessing either way is wrong: "rolled back,
 * retry" duplicates a write that landed; "OK" loses one that did not. So
 * tandem writes a marker row in the same transaction — <schema>.commit_marker
 * (id = the session's random marker id, seq = a number per commit) — and,
 * after a move, reads it on the new primary: the row is there exactly when
 * the commit is.
 *   - A transaction that wrote: the marker goes just before the client's
 *     COMMIT (pipelined, its answer swallowed).
 *   - An autocommit write (one INSERT/UPDATE/DELETE/REPLACE): tandem runs
 *     BEGIN, the write, the marker (recording ROW_COUNT() and
 *     LAST_INSERT_ID() so the OK can be rebuilt), COMMIT — pipelined, so no
 *     extra round trip — and holds the write's answer until the COMMIT's
 *     says it is durable.
 * A session whose marker is refused (no table, no privilege) goes on
 * unguarded: its cut-off commits are reported as of unknown outcome.
 *
 * Owns: struct sess_guard. Must not: change what the client sees, except
 * the status flags of a held OK (the transaction tandem opened is closed).
 */
#ifndef TANDEM_PROXY_COMMIT_GUARD_H
#define TANDEM_PROXY_COMMIT_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;
struct evbuffer;

enum guard_mode {
	CG_NONE = 0,
	CG_COMMIT, /* the client's COMMIT, with the marker written before it */
	CG_WRAP,   /* the client's autocommit write inside tandem's BEGIN ... COMMIT */
};

/* What the marker on the new primary says about a cut-off commit. */
enum guard_outcome {
	CG_UNKNOWN = 0, /* no answer (no table, an error) */
	CG_LANDED,      /* the marker row with this commit's seq is there */
	CG_LOST,        /* it is not: the commit did not reach the new primary */
};

struct sess_guard {
	uint64_t id;            /* this session's marker row (random, never 0) */
	uint64_t seq;           /* sequence number of the last marker written */
	bool off;               /* a marker was refused: this session goes unguarded */
	enum guard_mode mode;   /* of the command in flight */
	uint8_t before;         /* answers to tandem's statements owed before the client's */
	uint8_t after;          /* ... and after it (CG_WRAP: the marker, then COMMIT) */
	bool poisoned;          /* the marker's error rolled the transaction back */
	bool holding;           /* the client's answer goes to held until COMMIT answers */
	bool held_err;          /* what is held is an ERR */
	struct evbuffer *held;  /* the held answer */
	uint16_t commit_status; /* status flags of tandem's COMMIT's OK */
	char *commit_state;     /* its session-state items (malloc'd), for the rebuilt OK */
	size_t commit_state_len;
	uint16_t commit_err; /* tandem's COMMIT failed: this code ... */
	char commit_err_state[6];
	char commit_err_msg[200];

	/* resolution after a move */
	enum guard_outcome outcome;
	uint64_t found_affected, found_insert_id;
};

void sess_guard_free(struct session *s);

/* forward.c, before the client's command is written to the backend
 * (after sess_facts_command(), whose SQL class it uses): decide whether
 * it is guarded and write what goes before it. */
void sess_guard_command(struct session *s, const uint8_t *payload, size_t have, bool whole);
/* forward.c, once the client's command is wholly written: what goes after it. */
void sess_guard_after_command(struct session *s);
/* forward.c, first in sess_result_read: consume the answers owed before
 * the client's. False while waiting (or when the session failed). */
bool sess_guard_read_before(struct session *s);
/* forward.c, once the client's answer is complete: consume the answers
 * after it and hand the held answer to the client (status fixed, or the
 * COMMIT's error in its place). False while waiting or failed. */
bool sess_guard_read_after(struct session *s);
/* Where the bytes of the client's answer go now. */
struct evbuffer *sess_guard_out(struct session *s);

/* migrate.c: the command cut off is a guarded commit whose outcome the
 * marker can tell (it may not have answered: its answer is not held to
 * an ERR already). */
bool sess_guard_in_doubt(const struct session *s);
/* migrate.c: the held answer is complete and is an ERR: the write failed
 * whatever became of tandem's COMMIT; hand it to the client now. True when
 * it was sent. */
bool sess_guard_release_error(struct session *s);
/* migrate.c: the query that reads the marker, written to the backend. */
void sess_guard_send_lookup(struct session *s);
/* migrate.c: a row of the lookup's answer (text protocol payload). */
void sess_guard_lookup_row(struct session *s, const uint8_t *payload, size_t len);
/* migrate.c: answer the cut-off command from the outcome (OK, rolled back,
 * or unknown), as the answer the client waits for. */
void sess_guard_answer(struct session *s);

#endif
