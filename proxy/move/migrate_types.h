/*
 * migrate_types.h — a move in progress (migrate.c, restore.c): the types only, so struct session can
 * embed them without depending on the functions (migrate.c).
 */
#ifndef TANDEM_PROXY_MOVE_MIGRATE_TYPES_H
#define TANDEM_PROXY_MOVE_MIGRATE_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "protocol/tracker.h"

struct session;
struct hc_topology;

/* What happens to the command that was in flight when the backend went. */
enum mig_inflight {
	MIG_NONE = 0, /* none was (or the client already got its answer) */
	MIG_RERUN,    /* a read none of whose answer reached the client: run it again */
	MIG_RESOLVE,  /* a guarded commit: the new primary's binlog tells (commit_guard.c) */
};

/* An error owed to the client's next command. */
enum mig_pending {
	MIG_P_NONE = 0,
	MIG_P_STATE_LOST,  /* session state that could not be moved is gone */
	MIG_P_ROLLED_BACK, /* the open transaction was rolled back by the move */
};

struct sess_migrate {
	bool active;        /* a move is under way */
	bool park;          /* leave the backend once idle outside a transaction (switchover) */
	unsigned moves;     /* completed moves of this session */
	int64_t started_us; /* monotonic: when the current move began */
	enum mig_inflight inflight;
	enum mig_pending pending;
	char pending_msg[300]; /* says what was lost */

	bool restore_failed;   /* some restore statement was refused (pending says which) */
	bool replay;           /* the open transaction is to be replayed (replay.c) */
	bool replaying;        /* RESTORE is reading the replayed statements' answers */
	bool replay_failed;    /* they differed: tandem rolled the new transaction back */
	uint16_t saved_status; /* the session's status flags and transaction state before */
	char saved_trx[9];     /* the move: the new login's answers must not replace them */

	/* The command in flight, kept whole (one frame up to 64 KiB) when it is
	 * a read that could run again: payload bytes, with the statement id the
	 * client sent. */
	uint8_t *cmd;
	size_t cmd_len, cmd_cap;
	bool cmd_kept;
	uint32_t cmd_client_id; /* statement id the command in flight named (client's), 0: none */
	bool answered;          /* a byte of its answer went to the client */
};

#endif
