/*
 * commit_guard_types.h — the commit guard's record of a session (commit_guard.c): the types only, so struct session can
 * embed them without depending on the functions (commit_guard.c).
 */
#ifndef TANDEM_PROXY_MOVE_COMMIT_GUARD_TYPES_H
#define TANDEM_PROXY_MOVE_COMMIT_GUARD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct session;
struct hc_guard_lookup;
struct hc_guard_answer;

/* "/\*tandem:" 16 hex "*\/ " */
#define CG_TAG_LEN 28

enum guard_mode {
	CG_NONE = 0,
	CG_COMMIT, /* the client's COMMIT of a transaction that wrote (tagged) */
	CG_WRITE,  /* the client's autocommit write (tagged) */
};

/* What the new primary's binlog says about a cut-off commit. */
enum guard_outcome {
	CG_UNKNOWN = 0, /* no answer (binlog unreadable, no grant, timeout) */
	CG_LANDED,      /* a transaction with this session's tag after its last GTID */
	CG_LOST,        /* read to the end: none */
};

/* The tag-free guard's record of one write of the open transaction. */
#define CG_RECS_MAX 16
struct cg_rec {
	char *text; /* the statement's text as sent (a prepared one's template) */
	uint32_t len;
	bool tpl;          /* a prepared statement's: '?' for each value */
	bool certain;      /* it changed rows (and the count means changed) */
	bool no_backslash; /* NO_BACKSLASH_ESCAPES when it ran */
};

struct sess_guard {
	uint64_t id;              /* this session's guard id (random, never 0) */
	char tag[CG_TAG_LEN + 1]; /* tag mode only ("commit_guard": "tag") */
	bool by_text;             /* on, without a tag: the writes' texts are recorded */
	struct cg_rec recs[CG_RECS_MAX];
	unsigned nrecs;
	uint64_t doubt_fp; /* counted in the tenant's in-flight guarded commands */
	bool doubt_counted;
	char acked[64];       /* the last GTID this session told the tenant's record of */
	bool counted_off;     /* counted in the tenant's unguarded-sessions gauge */
	bool cmd_may_commit;  /* the command in flight may commit (COMMIT, DDL, CALL ...) */
	bool cmd_tagged;      /* the command in flight is a tagged write */
	bool trx_rows;        /* a tagged write of the open transaction changed rows, so
				   its commit carries the tag in the binlog */
	bool trx_blind;       /* the open transaction ran a statement whose rows may be
				   logged without the tag (CALL, EXECUTE, multi, untagged) */
	enum guard_mode mode; /* of the command in flight */
	char after_gtid[64];  /* the session's last acknowledged GTID when it was sent */
	/* resolution after a move */
	struct hc_guard_lookup *lookup; /* in flight (health/guard_lookup.h) */
	bool resolved;                  /* the lookup answered (or could not start) */
	enum guard_outcome outcome;
	uint64_t found_affected, found_insert_id;
	char why[160]; /* CG_UNKNOWN: what stopped the lookup */
};

#endif
