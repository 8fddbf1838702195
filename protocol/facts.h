/*
 * facts.h — what tandem knows about one client session's server-side
 * state, derived from the protocol stream: the current schema, character
 * set, autocommit and transaction flags, the session variables the client
 * changed, transaction state and characteristics, the last GTID it
 * committed, markers for state tandem cannot move to another server, and
 * the prepared statements with the client-visible ids tandem gave them.
 *
 * The proxy feeds it (forward.c, backend_setup.c); failover code reads it
 * to rebuild a session elsewhere. Fields are public for reading; change
 * them only through the functions below.
 *
 * Owns: every string and table it holds (freed by proto_facts_free). Must
 * not: do I/O, log, or keep pointers into the caller's buffers. It may
 * allocate; every function that does returns PROTO_E_NOMEM when it cannot,
 * leaving the facts consistent (the change is then simply not recorded,
 * and PROTO_FACTS_INCOMPLETE is set).
 */
#ifndef TANDEM_PROTOCOL_FACTS_H
#define TANDEM_PROTOCOL_FACTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/okerr.h"
#include "protocol/sqlclass.h"

/* Session state that cannot be moved to another server by replaying what
 * the facts hold. A session with any of these set must not be migrated. */
enum proto_facts_marker {
	PROTO_FACTS_TEMP_TABLE = 1u << 0,  /* a temporary table was created */
	PROTO_FACTS_GET_LOCK = 1u << 1,    /* GET_LOCK() was called: a named lock may be held */
	PROTO_FACTS_LOCK_TABLES = 1u << 2, /* LOCK TABLES (or a backup/global read lock) is held */
	PROTO_FACTS_USER_VARS = 1u << 3,   /* a user variable was assigned */
	PROTO_FACTS_SQL_PREPARE = 1u << 4, /* a statement was prepared with SQL PREPARE */
	PROTO_FACTS_UNTRACKED = 1u << 5,   /* the server reported a state change no item names */
	PROTO_FACTS_TRACKING_OFF =
		1u << 6, /* the client changed session_track_*: facts may miss changes */
	PROTO_FACTS_INCOMPLETE = 1u
				 << 7, /* tandem could not record something (memory, no tracking) */
	PROTO_FACTS_NMARKERS = 8
};

/* "temp_table", "get_lock", ...; NULL for a bit that is no marker. */
const char *proto_facts_marker_name(unsigned marker);

/* A session variable the server reported through SESSION_TRACK_SYSTEM_VARIABLES. */
struct proto_facts_var {
	char *name;   /* as the server spells it, NUL-terminated */
	char *value;  /* its current value */
	bool changed; /* changed by the client (not by login or tandem's own setup) */
};

/* One prepared statement. client_id 0 marks an empty table slot. */
struct proto_facts_stmt {
	uint32_t client_id;  /* the id the client uses (tandem's own numbering) */
	uint32_t backend_id; /* the id the backend gave it */
	uint16_t params;
	uint16_t columns;
	char *sql; /* the SQL text sent with COM_STMT_PREPARE; NULL if too large to keep */
	size_t sql_len;
	unsigned sql_flags; /* enum proto_sql_flag of sql: what each execution may change */
	uint8_t sql_kind;   /* enum proto_sql_kind of sql (OTHER when sql is NULL) */
	uint8_t *types;     /* 2 bytes per parameter, from the last execution that sent them */
	bool bound;         /* the backend holds parameter types (an execution sent them
			      * since the statement was prepared there) */
	bool cursor_open;   /* an execution left a cursor open on the backend that
			      * fetches have not read to its end */
};

struct proto_facts {
	char *schema;      /* current default schema; NULL: none */
	uint8_t charset;   /* collation id the client logged in with */
	uint16_t status;   /* last SERVER_STATUS_* flags seen */
	bool tracking;     /* the backend reports session state (tandem's setup succeeded) */
	char trx_state[9]; /* 8-char SESSION_TRACK_TRANSACTION_STATE, "" until reported */
	char *trx_chars;   /* SESSION_TRACK_TRANSACTION_CHARACTERISTICS text; NULL: none */
	char *last_gtid;   /* last GTID the session committed; NULL: none seen */
	unsigned markers;  /* enum proto_facts_marker */

	struct proto_facts_var *vars;
	size_t nvars, var_cap;

	struct proto_facts_stmt *stmts; /* open addressing on client_id, linear probing */
	uint32_t stmt_cap;              /* 0 or a power of two */
	uint32_t nstmts;
	uint32_t last_stmt_id; /* the last client id handed out */
};

/* Start from what the login said: the client's collation and schema
 * (schema may be NULL or empty). PROTO_OK or PROTO_E_NOMEM. */
int proto_facts_init(struct proto_facts *f, uint8_t charset, const char *schema, size_t len);
/* Free everything; the facts are zeroed (f may be re-initialised). */
void proto_facts_free(struct proto_facts *f);

/* Status flags of an OK or EOF: autocommit, in-transaction, read-only. */
static inline void proto_facts_status(struct proto_facts *f, uint16_t status)
{
	f->status = status;
}
static inline bool proto_facts_in_trans(const struct proto_facts *f)
{
	return (f->status & SERVER_STATUS_IN_TRANS) != 0;
}
static inline bool proto_facts_autocommit(const struct proto_facts *f)
{
	return (f->status & SERVER_STATUS_AUTOCOMMIT) != 0;
}
static inline bool proto_facts_read_only_trans(const struct proto_facts *f)
{
	return (f->status & SERVER_STATUS_IN_TRANS_READONLY) != 0;
}

/* How a session-state block came to be, for proto_facts_apply_*(). */
enum proto_facts_origin {
	PROTO_FACTS_BY_TANDEM = 0,       /* login or tandem's own setup: the baseline */
	PROTO_FACTS_BY_CLIENT = 1u << 0, /* the answer to a client command */
	PROTO_FACTS_EXPLAINED = 1u
				<< 1, /* the classifier already named what the statement changes */
};

/*
 * Apply an OK: its status flags and, when it carries one, its session-state
 * block (the raw items of struct proto_ok.session_state). Items: system
 * variables (last_gtid goes to last_gtid; session_track_* changed by the
 * client sets PROTO_FACTS_TRACKING_OFF), schema, transaction state (an 'L'
 * in its 8th place means LOCK TABLES), characteristics, GTIDs; a
 * STATE_CHANGE item that no other item explains sets PROTO_FACTS_UNTRACKED
 * unless origin has PROTO_FACTS_EXPLAINED. A client block that names
 * character_set_connection but not collation_connection (SET NAMES, SET
 * CHARACTER SET: MariaDB does not report the collation they change)
 * forgets the recorded collation_connection. Returns PROTO_OK, a PROTO_E_*
 * parse error (items before the bad one are applied), or PROTO_E_NOMEM.
 */
int proto_facts_apply_ok(struct proto_facts *f, const struct proto_ok *ok, unsigned origin);
/* Just the session-state items (the block without the OK around it). */
int proto_facts_apply_track(struct proto_facts *f, const uint8_t *items, size_t len,
			    unsigned origin);

/* What the classifier found in a statement that succeeded (at least in
 * part): sets or clears markers. */
void proto_facts_apply_sql(struct proto_facts *f, const struct proto_sql_class *c);

/* A COM_INIT_DB the server accepted. */
int proto_facts_init_db(struct proto_facts *f, const char *schema, size_t len);

/*
 * COM_RESET_CONNECTION or COM_CHANGE_USER succeeded: the server dropped
 * the session's variables, prepared statements, temporary tables, locks
 * and transaction. The schema and collation become the given ones (the
 * schema is kept by RESET_CONNECTION, set by CHANGE_USER). The statement
 * id counter and last_gtid are kept: ids are never reused in a session,
 * and the GTID is history, not state. PROTO_OK or PROTO_E_NOMEM.
 */
int proto_facts_reset(struct proto_facts *f, uint8_t charset, const char *schema, size_t len);

/* The client set a variable the server does not report (the collation of
 * SET NAMES ... COLLATE): record it as changed. PROTO_OK or PROTO_E_NOMEM. */
int proto_facts_set_var(struct proto_facts *f, const char *name, const char *value, size_t len);

/* A variable's current value, or NULL. name is case-insensitive. */
const struct proto_facts_var *proto_facts_var_find(const struct proto_facts *f, const char *name);

/*
 * A prepare succeeded on the backend: record it under a client id
 * returned in *client_id: backend_id itself when it is free (the client
 * sees the server's numbering), else the next free id after the last one
 * given (never 0 or 0xFFFFFFFF, never one in use). sql
 * is copied and classified when not NULL. PROTO_OK or PROTO_E_NOMEM
 * (nothing recorded).
 */
int proto_facts_stmt_add(struct proto_facts *f, uint32_t backend_id, const char *sql,
			 size_t sql_len, uint16_t params, uint16_t columns, uint32_t *client_id);
/* The statement a client id names, or NULL. No allocation: the hot path. */
const struct proto_facts_stmt *proto_facts_stmt_find(const struct proto_facts *f,
						     uint32_t client_id);
/* Forget a statement (COM_STMT_CLOSE). false if the id was unknown. */
bool proto_facts_stmt_remove(struct proto_facts *f, uint32_t client_id);
/* Give a statement a new backend id (after it was prepared again): the
 * new backend has no parameter types bound for it yet. */
bool proto_facts_stmt_rebind(struct proto_facts *f, uint32_t client_id, uint32_t backend_id);

/* An execution sent parameter types (2 bytes per parameter): keep them,
 * the backend holds them now. PROTO_OK or PROTO_E_NOMEM. */
int proto_facts_stmt_types(struct proto_facts *f, uint32_t client_id, const uint8_t *types,
			   size_t len);
/* tandem sent the kept types with an execution: the backend holds them. */
void proto_facts_stmt_bound(struct proto_facts *f, uint32_t client_id);

/* A statement's cursor: opened by an execution whose answer said
 * SERVER_STATUS_CURSOR_EXISTS, closed by a fetch that reached the last
 * row, a reset, or an execution without one. A cursor lives on the
 * server that opened it: it cannot move with the session. */
void proto_facts_stmt_cursor(struct proto_facts *f, uint32_t client_id, bool open);
/* The client id of a statement with an open cursor, or 0 (none). */
uint32_t proto_facts_open_cursor(const struct proto_facts *f);

#endif
