/*
 * tracker.c — the response grammar of every forwarded command (see
 * tracker.h). One function per state family; the table in
 * proto_tracker_start() is the single place that maps a command to the
 * shape of its response.
 */
#include "protocol/tracker.h"

#include "protocol/handshake.h"
#include "protocol/packet.h"

const char *proto_rt_state_name(enum proto_rt_state st)
{
	static const char *const names[] = {
		[RT_IDLE] = "idle",
		[RT_FIRST] = "first",
		[RT_COLUMNS] = "columns",
		[RT_COLUMNS_EOF] = "columns_eof",
		[RT_ROWS] = "rows",
		[RT_PREPARE_FIRST] = "prepare_first",
		[RT_PREPARE_PARAMS] = "prepare_params",
		[RT_PREPARE_PARAMS_EOF] = "prepare_params_eof",
		[RT_PREPARE_COLUMNS] = "prepare_columns",
		[RT_PREPARE_COLUMNS_EOF] = "prepare_columns_eof",
		[RT_FIELD_LIST] = "field_list",
		[RT_SIMPLE] = "simple",
		[RT_STRING] = "string",
		[RT_LOCAL_INFILE] = "local_infile",
		[RT_AUTH] = "auth",
	};
	if ((unsigned)st < sizeof(names) / sizeof(names[0]) && names[st])
		return names[st];
	return "?";
}

void proto_tracker_init(struct proto_tracker *t, uint64_t caps)
{
	memset(t, 0, sizeof(*t));
	t->caps = caps;
	t->state = RT_IDLE;
}

int proto_tracker_start(struct proto_tracker *t, const uint8_t *payload, size_t len)
{
	if (len < 1)
		return PROTO_E_TRUNCATED;
	t->cmd = payload[0];
	t->binary = false;
	t->cursor = false;
	t->continued = false;
	t->cols_left = 0;
	t->params_left = 0;
	t->results = 0;
	switch (t->cmd) {
	case COM_QUIT:
	case COM_STMT_CLOSE:
	case COM_STMT_SEND_LONG_DATA:
		t->state = RT_IDLE;
		return RT_DONE;
	case COM_QUERY:
	case COM_PROCESS_INFO:
		t->state = RT_FIRST;
		return RT_MORE;
	case COM_STMT_EXECUTE:
		if (len < 10)
			return PROTO_E_TRUNCATED;
		t->binary = true;
		t->cursor = (payload[5] & 0x07) != CURSOR_TYPE_NO_CURSOR;
		t->state = RT_FIRST;
		return RT_MORE;
	case COM_STMT_BULK_EXECUTE:
		/* MariaDB: statement id, flags, then the rows. The answer is an
		 * OK or ERR, or (RETURNING, unit results) binary result sets. */
		if (len < 7)
			return PROTO_E_TRUNCATED;
		t->binary = true;
		t->state = RT_FIRST;
		return RT_MORE;
	case COM_STMT_FETCH:
		t->binary = true;
		t->state = RT_ROWS;
		return RT_MORE;
	case COM_STMT_PREPARE:
		t->state = RT_PREPARE_FIRST;
		return RT_MORE;
	case COM_FIELD_LIST:
		t->state = RT_FIELD_LIST;
		return RT_MORE;
	case COM_STATISTICS:
		t->state = RT_STRING;
		return RT_MORE;
	case COM_INIT_DB:
	case COM_PING:
	case COM_REFRESH:
	case COM_PROCESS_KILL:
	case COM_DEBUG:
	case COM_SET_OPTION:
	case COM_STMT_RESET:
	case COM_RESET_CONNECTION:
	case COM_CREATE_DB:
	case COM_DROP_DB:
		t->state = RT_SIMPLE;
		return RT_MORE;
	case COM_CHANGE_USER:
		t->state = RT_AUTH;
		return RT_MORE;
	case COM_SHUTDOWN:
	case COM_BINLOG_DUMP:
	case COM_REGISTER_SLAVE:
	case COM_BINLOG_DUMP_GTID:
	case COM_CLONE:
	case COM_MULTI:
		t->state = RT_IDLE;
		return PROTO_E_UNSUPPORTED;
	default:
		/* A byte the server implements no command for (COM_SLEEP,
		 * COM_TIME, ..., 0x20 and up): it answers one ERR 1047
		 * "Unknown command" and the session goes on. Forwarded, so the
		 * client reads the server's own answer. */
		t->state = RT_SIMPLE;
		return RT_MORE;
	}
}

/* Is a packet starting with 0xFE of this length a result-set terminator
 * (EOF, or OK when DEPRECATE_EOF is on) rather than a row? */
static bool is_terminator(const struct proto_tracker *t, uint32_t len, uint8_t first)
{
	if (first != PROTO_EOF_HEADER)
		return false;
	if (t->caps & CLIENT_DEPRECATE_EOF)
		return len < PROTO_MAX_FRAME;
	return len < 9;
}

uint32_t proto_tracker_want(const struct proto_tracker *t, uint32_t payload_len, uint8_t first)
{
	if (t->continued || payload_len == 0)
		return 0;
	switch (t->state) {
	case RT_FIRST:
		if (first == PROTO_OK_HEADER || first == PROTO_ERR_HEADER ||
		    first == PROTO_LOCAL_INFILE || first == PROTO_EOF_HEADER)
			return payload_len;
		/* a column count (9 bytes at most), and with metadata caching
		 * the byte that says whether definitions follow */
		if (t->caps & MARIADB_CLIENT_CACHE_METADATA)
			return payload_len < 10 ? payload_len : 10;
		return payload_len < 9 ? payload_len : 9;
	case RT_COLUMNS:
	case RT_PREPARE_PARAMS:
	case RT_PREPARE_COLUMNS:
		return 1;
	case RT_ROWS:
	case RT_FIELD_LIST:
		if (first == PROTO_ERR_HEADER || is_terminator(t, payload_len, first))
			return payload_len;
		return 1;
	case RT_PREPARE_FIRST:
		if (first == PROTO_OK_HEADER)
			return payload_len < 12 ? payload_len : 12;
		return payload_len;
	case RT_COLUMNS_EOF:
	case RT_PREPARE_PARAMS_EOF:
	case RT_PREPARE_COLUMNS_EOF:
	case RT_SIMPLE:
	case RT_STRING:
	case RT_AUTH:
	case RT_LOCAL_INFILE:
	case RT_IDLE:
		return payload_len;
	}
	return payload_len;
}

/* A result (OK or terminator) ended with these status flags: either the
 * next result follows, or the response is complete. */
static int result_end(struct proto_tracker *t, uint16_t status, uint16_t warnings)
{
	t->status = status;
	t->warnings = warnings;
	t->results++;
	if (status & SERVER_MORE_RESULTS_EXISTS) {
		t->state = RT_FIRST;
		return RT_MORE;
	}
	t->state = RT_IDLE;
	return RT_DONE;
}

/* MariaDB's progress report: an ERR-shaped packet with code 0xFFFF, sent
 * during a statement to a client with MARIADB_CLIENT_PROGRESS. */
static bool is_progress(const struct proto_tracker *t, const uint8_t *p, size_t avail)
{
	return (t->caps & MARIADB_CLIENT_PROGRESS) && avail >= 3 && p[0] == PROTO_ERR_HEADER &&
	       p[1] == 0xff && p[2] == 0xff;
}

/* An ERR ends the whole response, even after a result that announced
 * more: the status keeps the last flags seen, minus that announcement.
 * A progress report is no ERR: the statement goes on. */
static int feed_err(struct proto_tracker *t, const uint8_t *p, size_t avail,
		    struct proto_rt_event *ev)
{
	if (is_progress(t, p, avail)) {
		ev->kind = RT_PKT_PROGRESS;
		return RT_MORE;
	}
	ev->kind = RT_PKT_ERR;
	int rc = proto_err_parse(p, avail, t->caps, &ev->err);
	t->state = RT_IDLE;
	t->status &= (uint16_t)~SERVER_MORE_RESULTS_EXISTS;
	return rc < 0 ? rc : RT_DONE;
}

static int feed_ok_end(struct proto_tracker *t, const uint8_t *p, size_t avail,
		       struct proto_rt_event *ev)
{
	ev->kind = RT_PKT_OK;
	int rc = proto_ok_parse(p, avail, t->caps, &ev->ok);
	if (rc < 0)
		return rc;
	return result_end(t, ev->ok.status, ev->ok.warnings);
}

/* A 0xFE terminator: an EOF, or with DEPRECATE_EOF an OK. */
static int feed_terminator(struct proto_tracker *t, const uint8_t *p, size_t avail, uint32_t len,
			   struct proto_rt_event *ev)
{
	if (len < 9 && !(t->caps & CLIENT_DEPRECATE_EOF)) {
		ev->kind = RT_PKT_EOF;
		int rc = proto_eof_parse(p, avail, &ev->eof);
		if (rc < 0)
			return rc;
		return result_end(t, ev->eof.status, ev->eof.warnings);
	}
	return feed_ok_end(t, p, avail, ev);
}

/* The EOF that closes a block of definitions when DEPRECATE_EOF is off. */
static int feed_defs_eof(struct proto_tracker *t, const uint8_t *p, size_t avail, uint32_t len,
			 struct proto_rt_event *ev)
{
	if (!proto_is_eof(p, len))
		return PROTO_E_UNEXPECTED;
	ev->kind = RT_PKT_EOF;
	int rc = proto_eof_parse(p, avail, &ev->eof);
	if (rc < 0)
		return rc;
	t->status = ev->eof.status;
	return RT_MORE;
}

static int feed_first(struct proto_tracker *t, const uint8_t *p, size_t avail, uint32_t len,
		      struct proto_rt_event *ev)
{
	switch (p[0]) {
	case PROTO_OK_HEADER:
		return feed_ok_end(t, p, avail, ev);
	case PROTO_ERR_HEADER:
		return feed_err(t, p, avail, ev);
	case PROTO_LOCAL_INFILE: {
		ev->kind = RT_PKT_LOCAL_INFILE;
		ev->infile_name.p = (const char *)p + 1;
		ev->infile_name.len = avail - 1;
		t->state = RT_LOCAL_INFILE;
		return RT_INFILE;
	}
	case PROTO_EOF_HEADER:
		/* an EOF-shaped packet cannot start a result */
		return PROTO_E_UNEXPECTED;
	}
	struct proto_rd r;
	proto_rd_init(&r, p, avail);
	uint64_t cols = proto_rd_lenenc(&r, NULL);
	if (r.err)
		return r.err;
	if (cols == 0)
		return PROTO_E_MALFORMED;
	(void)len;
	ev->kind = RT_PKT_COLUMN_COUNT;
	t->cols_left = cols;
	t->state = RT_COLUMNS;
	/* Metadata caching: 0 says the client has the definitions already
	 * (a prepared statement executed again); none follow, but the EOF
	 * that closes them does without DEPRECATE_EOF. */
	if (t->caps & MARIADB_CLIENT_CACHE_METADATA) {
		uint8_t follows = proto_rd_u8(&r);
		if (r.err)
			return r.err;
		if (!follows) {
			t->cols_left = 0;
			t->state = (t->caps & CLIENT_DEPRECATE_EOF) ? RT_ROWS : RT_COLUMNS_EOF;
		}
	}
	return RT_MORE;
}

/* Every column (and parameter) definition opens with its catalog, the
 * length-encoded string "def": a packet that does not is the sign of a
 * column count that lied (an EOF, ERR or row where a definition should
 * be), and the rest of the stream cannot be framed as a result. */
static bool is_column_def(const uint8_t *p)
{
	return p[0] == 3;
}

static int feed_columns(struct proto_tracker *t, const uint8_t *p, struct proto_rt_event *ev)
{
	if (!is_column_def(p))
		return PROTO_E_UNEXPECTED;
	ev->kind = RT_PKT_COLUMN_DEF;
	if (--t->cols_left == 0)
		t->state = (t->caps & CLIENT_DEPRECATE_EOF) ? RT_ROWS : RT_COLUMNS_EOF;
	return RT_MORE;
}

static int feed_rows(struct proto_tracker *t, const uint8_t *p, size_t avail, uint32_t len,
		     struct proto_rt_event *ev)
{
	if (p[0] == PROTO_ERR_HEADER)
		return feed_err(t, p, avail, ev);
	if (is_terminator(t, len, p[0]))
		return feed_terminator(t, p, avail, len, ev);
	ev->kind = RT_PKT_ROW;
	return RT_MORE;
}

/* After a prepare's parameter block: its columns, or the end. */
static int prepare_after_params(struct proto_tracker *t)
{
	if (t->cols_left > 0) {
		t->state = RT_PREPARE_COLUMNS;
		return RT_MORE;
	}
	t->state = RT_IDLE;
	return RT_DONE;
}

static int feed_prepare_first(struct proto_tracker *t, const uint8_t *p, size_t avail,
			      struct proto_rt_event *ev)
{
	if (p[0] == PROTO_ERR_HEADER)
		return feed_err(t, p, avail, ev);
	if (p[0] != PROTO_OK_HEADER)
		return PROTO_E_UNEXPECTED;
	struct proto_rd r;
	proto_rd_init(&r, p + 1, avail - 1);
	ev->kind = RT_PKT_PREPARE_OK;
	ev->prepare.stmt_id = proto_rd_u32(&r);
	ev->prepare.columns = proto_rd_u16(&r);
	ev->prepare.params = proto_rd_u16(&r);
	proto_rd_u8(&r);
	ev->prepare.warnings = proto_rd_u16(&r);
	if (r.err)
		return r.err;
	t->cols_left = ev->prepare.columns;
	t->params_left = ev->prepare.params;
	if (t->params_left > 0) {
		t->state = RT_PREPARE_PARAMS;
		return RT_MORE;
	}
	return prepare_after_params(t);
}

static int feed_prepare_defs(struct proto_tracker *t, const uint8_t *p, size_t avail, uint32_t len,
			     struct proto_rt_event *ev)
{
	bool deprecate_eof = (t->caps & CLIENT_DEPRECATE_EOF) != 0;
	if ((t->state == RT_PREPARE_PARAMS || t->state == RT_PREPARE_COLUMNS) && !is_column_def(p))
		return PROTO_E_UNEXPECTED;
	switch (t->state) {
	case RT_PREPARE_PARAMS:
		ev->kind = RT_PKT_COLUMN_DEF;
		if (--t->params_left > 0)
			return RT_MORE;
		if (!deprecate_eof) {
			t->state = RT_PREPARE_PARAMS_EOF;
			return RT_MORE;
		}
		return prepare_after_params(t);
	case RT_PREPARE_PARAMS_EOF: {
		int rc = feed_defs_eof(t, p, avail, len, ev);
		return rc < 0 ? rc : prepare_after_params(t);
	}
	case RT_PREPARE_COLUMNS:
		ev->kind = RT_PKT_COLUMN_DEF;
		if (--t->cols_left > 0)
			return RT_MORE;
		if (!deprecate_eof) {
			t->state = RT_PREPARE_COLUMNS_EOF;
			return RT_MORE;
		}
		t->state = RT_IDLE;
		return RT_DONE;
	case RT_PREPARE_COLUMNS_EOF: {
		int rc = feed_defs_eof(t, p, avail, len, ev);
		if (rc < 0)
			return rc;
		t->state = RT_IDLE;
		return RT_DONE;
	}
	default:
		return PROTO_E_UNEXPECTED;
	}
}

static int feed_simple(struct proto_tracker *t, const uint8_t *p, size_t avail, uint32_t len,
		       struct proto_rt_event *ev)
{
	switch (p[0]) {
	case PROTO_OK_HEADER:
		return feed_ok_end(t, p, avail, ev);
	case PROTO_ERR_HEADER:
		return feed_err(t, p, avail, ev);
	case PROTO_EOF_HEADER:
		return feed_terminator(t, p, avail, len, ev);
	}
	return PROTO_E_UNEXPECTED;
}

static int feed_auth(struct proto_tracker *t, const uint8_t *p, size_t avail,
		     struct proto_rt_event *ev)
{
	switch (p[0]) {
	case PROTO_OK_HEADER:
		return feed_ok_end(t, p, avail, ev);
	case PROTO_ERR_HEADER:
		return feed_err(t, p, avail, ev);
	case PROTO_AUTH_SWITCH:
		ev->kind = RT_PKT_AUTH_SWITCH;
		return RT_MORE;
	case PROTO_AUTH_MORE_DATA:
		ev->kind = RT_PKT_AUTH_MORE;
		return RT_MORE;
	}
	return PROTO_E_UNEXPECTED;
}

/* The first frame of a packet, by state. */
static int feed_packet(struct proto_tracker *t, const uint8_t *payload, size_t avail,
		       uint32_t payload_len, struct proto_rt_event *ev)
{
	switch (t->state) {
	case RT_FIRST:
		return feed_first(t, payload, avail, payload_len, ev);
	case RT_COLUMNS:
		return feed_columns(t, payload, ev);
	case RT_COLUMNS_EOF: {
		int rc = feed_defs_eof(t, payload, avail, payload_len, ev);
		if (rc < 0)
			return rc;
		/* An opened cursor sends no rows now; COM_STMT_FETCH gets them. */
		if (t->binary && (ev->eof.status & SERVER_STATUS_CURSOR_EXISTS))
			return result_end(t, ev->eof.status, ev->eof.warnings);
		t->state = RT_ROWS;
		return RT_MORE;
	}
	case RT_ROWS:
		return feed_rows(t, payload, avail, payload_len, ev);
	case RT_PREPARE_FIRST:
		return feed_prepare_first(t, payload, avail, ev);
	case RT_PREPARE_PARAMS:
	case RT_PREPARE_PARAMS_EOF:
	case RT_PREPARE_COLUMNS:
	case RT_PREPARE_COLUMNS_EOF:
		return feed_prepare_defs(t, payload, avail, payload_len, ev);
	case RT_FIELD_LIST:
		if (payload[0] == PROTO_ERR_HEADER)
			return feed_err(t, payload, avail, ev);
		if (is_terminator(t, payload_len, payload[0]))
			return feed_terminator(t, payload, avail, payload_len, ev);
		ev->kind = RT_PKT_COLUMN_DEF;
		return RT_MORE;
	case RT_SIMPLE:
		return feed_simple(t, payload, avail, payload_len, ev);
	case RT_STRING:
		if (payload[0] == PROTO_ERR_HEADER)
			return feed_err(t, payload, avail, ev);
		ev->kind = RT_PKT_STRING;
		t->state = RT_IDLE;
		return RT_DONE;
	case RT_AUTH:
		return feed_auth(t, payload, avail, ev);
	case RT_IDLE:
	case RT_LOCAL_INFILE:
		break;
	}
	return PROTO_E_UNEXPECTED;
}

int proto_tracker_feed(struct proto_tracker *t, const uint8_t *payload, size_t avail,
		       uint32_t payload_len, struct proto_rt_event *ev)
{
	struct proto_rt_event scratch;
	if (!ev)
		ev = &scratch;
	ev->kind = RT_PKT_CONTINUATION;

	/* The tail of a 16 MiB+ packet: a row or a huge OK; pass it by. A
	 * response that this packet completed is done after its last frame. */
	if (t->continued) {
		t->continued = payload_len == PROTO_MAX_FRAME;
		return t->state == RT_IDLE && !t->continued ? RT_DONE : RT_MORE;
	}
	if (t->state == RT_IDLE || t->state == RT_LOCAL_INFILE)
		return PROTO_E_UNEXPECTED;
	if (payload_len == 0 || avail == 0)
		return PROTO_E_MALFORMED;
	if (avail > payload_len)
		avail = payload_len;
	if (avail < proto_tracker_want(t, payload_len, payload[0]))
		return PROTO_E_TRUNCATED;
	t->continued = payload_len == PROTO_MAX_FRAME;
	int rc = feed_packet(t, payload, avail, payload_len, ev);
	/* the proxy must pass the continuation frames on before it is done */
	return rc == RT_DONE && t->continued ? RT_MORE : rc;
}

size_t proto_tracker_skip_rows(const struct proto_tracker *t, const uint8_t *buf, size_t n,
			       uint8_t *last_seq)
{
	if (t->state != RT_ROWS || t->continued)
		return 0;
	/* A 0xFE first byte is a row only when the frame is at least this
	 * long (is_terminator()); ERR (0xFF) never is. */
	uint32_t row_fe = (t->caps & CLIENT_DEPRECATE_EOF) ? PROTO_MAX_FRAME : 9;
	size_t off = 0;
	const uint8_t *seq = NULL; /* kept in a local: a store through last_seq
				    * could alias buf and force reloads */
	while (n - off > PROTO_HEADER_LEN) {
		const uint8_t *h = buf + off;
		uint32_t len = (uint32_t)h[0] | (uint32_t)h[1] << 8 | (uint32_t)h[2] << 16;
		uint8_t first = h[PROTO_HEADER_LEN];
		if (len == 0 || len == PROTO_MAX_FRAME || first == PROTO_ERR_HEADER ||
		    (first == PROTO_EOF_HEADER && len < row_fe) || n - off - PROTO_HEADER_LEN < len)
			break;
		seq = h + 3;
		off += PROTO_HEADER_LEN + (size_t)len;
	}
	if (seq)
		*last_seq = *seq;
	return off;
}

void proto_tracker_infile_done(struct proto_tracker *t)
{
	if (t->state == RT_LOCAL_INFILE)
		t->state = RT_FIRST;
}
