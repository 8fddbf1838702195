/*
 * tracker.h — the response tracker: given the command a client sent, it
 * reads the server's packets one by one and says when the response is
 * complete and with which status flags.
 *
 * The proxy must forward result rows without looking at them, so the
 * tracker asks only for the bytes it needs: for each frame the caller gives
 * the payload length and first byte to proto_tracker_want(), which returns
 * how many leading payload bytes proto_tracker_feed() must see (0 for a
 * row or a column definition, the whole payload for OK/ERR/EOF, 9 for a
 * column count (10 with MariaDB's metadata caching: its "metadata
 * follows" byte), 12 for a COM_STMT_PREPARE OK).
 *
 * Owns: the response grammar of every command tandem forwards. Must not:
 * allocate, or remember anything but counters and flags.
 */
#ifndef TANDEM_PROTOCOL_TRACKER_H
#define TANDEM_PROTOCOL_TRACKER_H

#include "protocol/okerr.h"

enum proto_rt_state {
	RT_IDLE = 0,       /* no response expected */
	RT_FIRST,          /* first packet of a result: OK, ERR, LOCAL INFILE or column count */
	RT_COLUMNS,        /* column definitions, cols_left to come */
	RT_COLUMNS_EOF,    /* the EOF after column definitions (no DEPRECATE_EOF) */
	RT_ROWS,           /* rows until EOF / OK(0xFE) / ERR */
	RT_PREPARE_FIRST,  /* COM_STMT_PREPARE: OK(stmt) or ERR */
	RT_PREPARE_PARAMS, /* parameter definitions, params_left to come */
	RT_PREPARE_PARAMS_EOF,
	RT_PREPARE_COLUMNS, /* column definitions of a prepared statement */
	RT_PREPARE_COLUMNS_EOF,
	RT_FIELD_LIST,   /* COM_FIELD_LIST: definitions until EOF or ERR */
	RT_SIMPLE,       /* one OK / ERR / EOF packet */
	RT_STRING,       /* COM_STATISTICS: one string packet, or ERR */
	RT_LOCAL_INFILE, /* server asked for a file; the client's data is flowing */
	RT_AUTH,         /* COM_CHANGE_USER: OK, ERR, auth switch or more data */
};

const char *proto_rt_state_name(enum proto_rt_state st);

/* What one fed packet was. */
enum proto_rt_kind {
	RT_PKT_OK,  /* an OK (ok is set) */
	RT_PKT_ERR, /* an ERR (err is set) */
	RT_PKT_EOF, /* an EOF (eof is set) */
	RT_PKT_COLUMN_COUNT,
	RT_PKT_COLUMN_DEF,
	RT_PKT_ROW,
	RT_PKT_CONTINUATION, /* a frame continuing a 16 MiB+ packet */
	RT_PKT_PREPARE_OK,   /* prepare is set */
	RT_PKT_LOCAL_INFILE, /* infile_name is set */
	RT_PKT_STRING,       /* COM_STATISTICS text */
	RT_PKT_AUTH_SWITCH,  /* COM_CHANGE_USER: server asks for another plugin */
	RT_PKT_AUTH_MORE,
	RT_PKT_PROGRESS, /* MariaDB progress report (0xFF, code 0xFFFF): not an end */
};

struct proto_prepare_ok {
	uint32_t stmt_id;
	uint16_t columns;
	uint16_t params;
	uint16_t warnings;
};

struct proto_rt_event {
	enum proto_rt_kind kind;
	struct proto_ok ok;
	struct proto_err_pkt err;
	struct proto_eof eof;
	struct proto_prepare_ok prepare;
	struct proto_str infile_name;
};

/* proto_tracker_feed results, besides <0 errors. */
enum proto_rt_result {
	RT_MORE = 1,   /* the response goes on */
	RT_DONE = 2,   /* the response is complete; see status */
	RT_INFILE = 3, /* the server wants the client's file (LOCAL INFILE) */
};

struct proto_tracker {
	uint64_t caps; /* negotiated capabilities of the connection */
	enum proto_rt_state state;
	uint8_t cmd;    /* command in flight */
	bool binary;    /* binary-protocol rows (COM_STMT_EXECUTE/FETCH) */
	bool cursor;    /* COM_STMT_EXECUTE opened a cursor */
	bool continued; /* the previous frame was 0xFFFFFF bytes */
	uint64_t cols_left;
	uint32_t params_left;
	uint16_t status; /* latest server status flags seen; an ERR keeps
				 * them but clears SERVER_MORE_RESULTS_EXISTS */
	uint16_t warnings;
	uint64_t results; /* result sets / OKs completed in this response */
};

void proto_tracker_init(struct proto_tracker *t, uint64_t caps);

/*
 * Start tracking the response to a command. payload is the client's whole
 * command payload (or at least its first 10 bytes: COM_STMT_EXECUTE flags
 * are read). Returns RT_DONE when the command has no response (COM_QUIT,
 * COM_STMT_CLOSE, COM_STMT_SEND_LONG_DATA), RT_MORE when one is expected,
 * PROTO_E_UNSUPPORTED for commands tandem does not forward (shutdown,
 * replication, clone); a byte that names no implemented command is
 * forwarded and answered by the server with one ERR (RT_SIMPLE).
 */
int proto_tracker_start(struct proto_tracker *t, const uint8_t *payload, size_t len);

/* Leading payload bytes proto_tracker_feed needs for a frame of payload_len
 * bytes starting with first (ignored when payload_len is 0). */
uint32_t proto_tracker_want(const struct proto_tracker *t, uint32_t payload_len, uint8_t first);

/*
 * Feed one frame: payload holds its first `avail` bytes (at least what
 * proto_tracker_want asked for), payload_len is the frame's full length.
 * Returns RT_MORE, RT_DONE, RT_INFILE, or <0 (PROTO_E_UNEXPECTED for a
 * packet that cannot come now, PROTO_E_MALFORMED/TRUNCATED for bad bytes).
 * ev, when not NULL, describes the packet.
 */
int proto_tracker_feed(struct proto_tracker *t, const uint8_t *payload, size_t avail,
		       uint32_t payload_len, struct proto_rt_event *ev);

/*
 * Rows go by without a call each: in the rows state, the length of the run
 * of whole row frames at the head of buf (n contiguous bytes starting at a
 * frame header). It stops before the first frame that is not wholly in buf
 * or that proto_tracker_want()/proto_tracker_feed() would treat as anything
 * but a plain row (an ERR, a terminator, an empty frame, a 16 MiB frame
 * that continues); those go through them as usual. Feeding the skipped
 * frames one by one would only have answered RT_PKT_ROW / RT_MORE for each
 * and changed nothing in t, so t is not changed. *last_seq gets the
 * sequence id of the last frame skipped (untouched when none is).
 */
size_t proto_tracker_skip_rows(const struct proto_tracker *t, const uint8_t *buf, size_t n,
			       uint8_t *last_seq);
/* The client finished sending its LOCAL INFILE data (empty packet sent):
 * the server's OK or ERR comes next. */
void proto_tracker_infile_done(struct proto_tracker *t);

static inline bool proto_tracker_busy(const struct proto_tracker *t)
{
	return t->state != RT_IDLE;
}

#endif
