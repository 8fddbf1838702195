/*
 * sqlmatch.h — is a statement text the server logged (a binlog
 * Annotate_rows or statement-format Query event) the one a client sent?
 *
 * The commit guard's tag-free read-back (proxy/move/commit_guard.c,
 * health/guard_lookup.c) matches a cut-off transaction by the texts of its
 * writes, so the client's statements go to the server unchanged. The
 * server logs a COM_QUERY's text without its leading blanks and trailing
 * blanks and semicolons, and a prepared statement's text with each
 * placeholder replaced by the value's literal (NULL, a number, a quoted
 * string with an optional _charset introducer, a hex literal).
 *
 * Pure: bytes in, a verdict out; never reads past the given lengths.
 */
#ifndef TANDEM_PROTOCOL_SQLMATCH_H
#define TANDEM_PROTOCOL_SQLMATCH_H

#include <stdbool.h>
#include <stddef.h>

/* The part of s the server keeps as the statement's text: *at is where it
 * starts, the return value its length. */
size_t proto_sql_logged_span(const char *s, size_t len, size_t *at);

/* Whether logged is the server's log of sent: byte for byte (both
 * trimmed as above), or, with template, sent's '?' placeholders (outside
 * quotes and comments) each standing for one literal of logged.
 * no_backslash: the session's NO_BACKSLASH_ESCAPES (quotes in the
 * template and literals in logged are read with it). */
bool proto_sql_logged_match(const char *sent, size_t sent_len, bool template_, const char *logged,
			    size_t logged_len, bool no_backslash);

#endif
