/*
 * replay_types.h — the record of the open transaction, for replay (replay.c): the types only, so struct session can
 * embed them without depending on the functions (replay.c).
 */
#ifndef TANDEM_PROXY_MOVE_REPLAY_TYPES_H
#define TANDEM_PROXY_MOVE_REPLAY_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "protocol/tracker.h"

struct session;

#define REPLAY_MAX_BYTES      (1u << 20) /* statements kept per transaction, in all */
#define REPLAY_MAX_STATEMENTS 1000

struct replay_entry {
	uint8_t *cmd; /* the command payload, statement id as the client sent it */
	uint32_t len;
	uint32_t client_stmt; /* a COM_STMT_EXECUTE's client statement id, else 0 */
	uint64_t sum;         /* checksum of its answer */
};

struct sess_replay {
	struct replay_entry *e;
	size_t n, cap;
	size_t bytes;   /* payload bytes kept */
	bool broken;    /* this transaction cannot be replayed */
	bool recording; /* the command in flight is being recorded (entry n-1) */
	bool hash_rest; /* the bytes still to stream belong to a hashed frame */

	/* running again after a move (the answers: own.c) */
	bool active;   /* entries are being replayed */
	uint64_t sum;  /* checksum of the answer being read so far */
	bool mismatch; /* an answer differed: the replay failed */
};

#endif
