/*
 * sqlclass.h — a tiny lexical classifier of SQL text: what kind of session
 * state a COM_QUERY may create that the server's session tracking does not
 * name, and whether it may make the server ask for a client-side file.
 *
 * It is a lexer, not a parser: it skips whitespace, comments ('#', '-- ',
 * C-style) and quoted strings/identifiers, splits statements at ';' and
 * compares keywords case-insensitively. The contents of executable
 * comments (MySQL's slash-star-bang and MariaDB's slash-star-M-bang forms)
 * count as code, because the server runs them. Every answer is conservative: when the
 * text is ambiguous, the flag that makes tandem more careful is set.
 *
 * Owns: nothing (no allocation, no state between calls). Must not: look
 * at anything but the bytes it is given.
 */
#ifndef TANDEM_PROTOCOL_SQLCLASS_H
#define TANDEM_PROTOCOL_SQLCLASS_H

#include <stdbool.h>
#include <stddef.h>

#include "protocol/protocol.h"

enum proto_sql_flag {
	PROTO_SQL_LOAD_LOCAL = 1u << 0,  /* LOAD DATA|XML [LOW_PRIORITY|CONCURRENT] LOCAL INFILE */
	PROTO_SQL_TEMP_TABLE = 1u << 1,  /* CREATE [OR REPLACE] TEMPORARY TABLE */
	PROTO_SQL_GET_LOCK = 1u << 2,    /* a GET_LOCK( call anywhere */
	PROTO_SQL_LOCK_TABLES = 1u << 3, /* LOCK TABLE(S), BACKUP LOCK, FLUSH ... WITH READ LOCK */
	PROTO_SQL_UNLOCK_TABLES = 1u << 4, /* UNLOCK TABLE(S), BACKUP UNLOCK */
	PROTO_SQL_USER_VAR =
		1u << 5, /* assigns a user variable (@v := / SET @v = / INTO @v / CALL with @v) */
	PROTO_SQL_PREPARE = 1u << 6,       /* SQL-level PREPARE name FROM ... */
	PROTO_SQL_SESSION_TRACK = 1u << 7, /* a SET that names a session_track_* variable */
	PROTO_SQL_MULTI = 1u << 8,         /* more than one statement */
	PROTO_SQL_PARTIAL = 1u << 9,       /* the text was cut (the caller saw only its head) */
	PROTO_SQL_LOCKING_READ = 1u
				 << 10, /* SELECT ... FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE */
	PROTO_SQL_INTO = 1u << 11,      /* SELECT ... INTO (a file or variables) */
	PROTO_SQL_RETURNING = 1u << 12, /* INSERT/DELETE/REPLACE ... RETURNING: a write with rows */
};

/* What the first statement of a text is, for deciding what a failover may
 * do with it (retry a read, resolve a commit). Conservative: anything not
 * recognised for sure is OTHER. */
enum proto_sql_kind {
	PROTO_SQL_KIND_OTHER = 0,
	PROTO_SQL_KIND_READ,     /* SELECT, SHOW, DESCRIBE/DESC, EXPLAIN (not ANALYZE), HELP */
	PROTO_SQL_KIND_WRITE,    /* INSERT, UPDATE, DELETE, REPLACE */
	PROTO_SQL_KIND_BEGIN,    /* BEGIN [WORK], START TRANSACTION */
	PROTO_SQL_KIND_COMMIT,   /* COMMIT [WORK] [AND [NO] CHAIN] [[NO] RELEASE] */
	PROTO_SQL_KIND_ROLLBACK, /* ROLLBACK [WORK] (not ROLLBACK TO SAVEPOINT) */
	PROTO_SQL_KIND_SET,      /* SET ... (not SET TRANSACTION, which is OTHER) */
	PROTO_SQL_KIND_USE,      /* USE db */
};

const char *proto_sql_kind_name(enum proto_sql_kind k);

struct proto_sql_class {
	unsigned flags;           /* enum proto_sql_flag */
	enum proto_sql_kind kind; /* of the first statement */
	unsigned statements;      /* non-empty statements seen */
	unsigned load_local;      /* statements that may ask for a local file */
	/* SET NAMES cs COLLATE name: the name (without quotes), pointing into
	 * the text; NULL when there is none. MariaDB's session tracking does
	 * not report the collation this sets (only the character sets). */
	const char *collate;
	size_t collate_len;
};

/*
 * Classify len bytes of SQL text. no_backslash_escapes follows the
 * session's SERVER_STATUS_NO_BACKSLASH_ESCAPES (a backslash in a string is
 * then an ordinary character). partial says the caller holds only the
 * head of a longer text: PROTO_SQL_PARTIAL is set, and an unfinished last
 * statement still counts.
 */
void proto_sql_classify(const char *sql, size_t len, bool no_backslash_escapes, bool partial,
			struct proto_sql_class *out);

#endif
