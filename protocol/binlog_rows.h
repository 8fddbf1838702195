/*
 * binlog_rows.h — walking the row images of a binlog rows event
 * (Write/Update/Delete_rows, v1 and v2 bodies after their column bitmaps)
 * with the column types and metadata of its Table_map event: how many rows
 * it holds, and the integer columns of its first row.
 *
 * The commit guard (proxy/move/commit_guard.c) needs only that: the affected
 * rows and the insert id of a write it finds in the binlog. Connector/C's
 * mariadb_rpl_extract_rows() refuses tables whose columns carry no
 * metadata (all integers) and some row streams it should accept, so the
 * walk is done here, for lengths only — values are not decoded except
 * integers.
 *
 * Owns: nothing. Must not: read past the given lengths; it returns an
 * error for any type it does not know the length of.
 */
#ifndef TANDEM_PROTOCOL_BINLOG_ROWS_H
#define TANDEM_PROTOCOL_BINLOG_ROWS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PROTO_BINLOG_MAX_COLS 4096

struct proto_binlog_table {
	const uint8_t *types; /* one byte per column (MYSQL_TYPE_*) */
	size_t ncols;
	const uint8_t *meta; /* the table map's metadata block */
	size_t meta_len;
};

struct proto_binlog_rows {
	uint64_t rows;          /* row images counted (an update's pair counts 1) */
	size_t first_cols;      /* columns kept of the first row (<= cap) */
	uint64_t first_int[64]; /* integer value of column i of the first row */
	bool first_is_int[64];  /* column i was present, not NULL and an integer */
};

/*
 * Count the rows of len bytes of row data. present is the columns-present
 * bitmap of the event ((ncols+7)/8 bytes); present2 the after-image bitmap
 * of an update (NULL otherwise: each row is one image). Returns 0, or
 * PROTO_E_MALFORMED / PROTO_E_UNSUPPORTED (a type whose length it does
 * not know); out is filled as far as the walk got.
 */
int proto_binlog_rows_count(const struct proto_binlog_table *t, const uint8_t *present,
			    const uint8_t *present2, const uint8_t *data, size_t len,
			    struct proto_binlog_rows *out);

#endif
