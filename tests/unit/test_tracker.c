/*
 * test_tracker.c — protocol/tracker.h on synthetic responses: the cases a
 * real server does not produce on demand (malformed packets, 0xFE-headed
 * frames inside 16 MiB+ rows, an OK spanning frames, unsupported
 * commands), proto_tracker_want for every state, and the error codes.
 * Recorded responses are in test_recorded.c.
 */
#include "rtdrive.h"
#include "unit.h"

#include "protocol/command.h"

#define DEOF      CLIENT_DEPRECATE_EOF
#define BASE_CAPS (CLIENT_PROTOCOL_41 | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS)

/* Feed one whole small packet the way the proxy does: only the bytes
 * proto_tracker_want asks for (the first byte at least). */
static int feed(struct proto_tracker *t, const void *payload, size_t len, struct proto_rt_event *ev)
{
	const uint8_t *p = payload;
	uint32_t want = proto_tracker_want(t, (uint32_t)len, len ? p[0] : 0);
	ck_assert_uint_le(want, len);
	return proto_tracker_feed(t, p, want ? want : (len ? 1 : 0), (uint32_t)len, ev);
}

static int feed_hex(struct proto_tracker *t, const char *hex, struct proto_rt_event *ev)
{
	uint8_t b[256];
	size_t n = vec_unhex(hex, b, sizeof(b));
	return feed(t, b, n, ev);
}
#define FEED feed_hex

static void start(struct proto_tracker *t, uint64_t caps, const char *cmd_hex, int expect)
{
	uint8_t b[64];
	size_t n = vec_unhex(cmd_hex, b, sizeof(b));
	proto_tracker_init(t, caps);
	ck_assert_int_eq(proto_tracker_start(t, b, n), expect);
}

static const char COLDEF[] = "0364656600000001610c3f000b000000030000000000"; /* "a" INT */
static const char EOF_AC[] = "fe00000200";                                   /* EOF, autocommit */
static const char OKFE_AC[] = "fe000002000000";                              /* OK(0xFE) */

START_TEST(state_names)
{
	for (int st = RT_IDLE; st <= RT_AUTH; st++) {
		const char *n = proto_rt_state_name((enum proto_rt_state)st);
		ck_assert_str_ne(n, "?");
		for (int j = RT_IDLE; j < st; j++)
			ck_assert_str_ne(n, proto_rt_state_name((enum proto_rt_state)j));
	}
	ck_assert_str_eq(proto_rt_state_name(RT_ROWS), "rows");
	ck_assert_str_eq(proto_rt_state_name((enum proto_rt_state)99), "?");
	ck_assert_str_eq(proto_rt_state_name((enum proto_rt_state) - 1), "?");
}
END_TEST

START_TEST(start_every_command)
{
	static const struct {
		uint8_t cmd;
		int rc;
		enum proto_rt_state st;
	} cases[] = {
		{COM_QUIT, RT_DONE, RT_IDLE},
		{COM_STMT_CLOSE, RT_DONE, RT_IDLE},
		{COM_STMT_SEND_LONG_DATA, RT_DONE, RT_IDLE},
		{COM_QUERY, RT_MORE, RT_FIRST},
		{COM_PROCESS_INFO, RT_MORE, RT_FIRST},
		{COM_STMT_EXECUTE, RT_MORE, RT_FIRST},
		{COM_STMT_FETCH, RT_MORE, RT_ROWS},
		{COM_STMT_PREPARE, RT_MORE, RT_PREPARE_FIRST},
		{COM_FIELD_LIST, RT_MORE, RT_FIELD_LIST},
		{COM_STATISTICS, RT_MORE, RT_STRING},
		{COM_INIT_DB, RT_MORE, RT_SIMPLE},
		{COM_PING, RT_MORE, RT_SIMPLE},
		{COM_REFRESH, RT_MORE, RT_SIMPLE},
		{COM_PROCESS_KILL, RT_MORE, RT_SIMPLE},
		{COM_DEBUG, RT_MORE, RT_SIMPLE},
		{COM_SET_OPTION, RT_MORE, RT_SIMPLE},
		{COM_STMT_RESET, RT_MORE, RT_SIMPLE},
		{COM_RESET_CONNECTION, RT_MORE, RT_SIMPLE},
		{COM_CREATE_DB, RT_MORE, RT_SIMPLE},
		{COM_DROP_DB, RT_MORE, RT_SIMPLE},
		{COM_CHANGE_USER, RT_MORE, RT_AUTH},
	};
	uint8_t p[16] = {0};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct proto_tracker t;
		proto_tracker_init(&t, BASE_CAPS);
		p[0] = cases[i].cmd;
		ck_assert_msg(proto_tracker_start(&t, p, sizeof(p)) == cases[i].rc, "%s",
			      proto_cmd_name(cases[i].cmd));
		ck_assert_int_eq(t.state, cases[i].st);
		ck_assert_int_eq(proto_tracker_busy(&t), cases[i].rc == RT_MORE);
		ck_assert_uint_eq(t.cmd, cases[i].cmd);
		ck_assert_int_eq(t.binary, cases[i].cmd == COM_STMT_EXECUTE ||
						   cases[i].cmd == COM_STMT_FETCH);
	}
}
END_TEST

/* Replication, shutdown, clone, and what another branch brings (bulk
 * execute, COM_MULTI): the commands tandem does not pass on. */
START_TEST(start_unsupported)
{
	static const uint8_t cmds[] = {COM_SHUTDOWN,         COM_BINLOG_DUMP, COM_REGISTER_SLAVE,
				       COM_BINLOG_DUMP_GTID, COM_CLONE,       COM_MULTI};
	uint8_t p[16] = {0};
	for (size_t i = 0; i < sizeof(cmds); i++) {
		struct proto_tracker t;
		proto_tracker_init(&t, BASE_CAPS);
		p[0] = cmds[i];
		ck_assert_msg(proto_tracker_start(&t, p, sizeof(p)) == PROTO_E_UNSUPPORTED, "%s",
			      proto_cmd_name(cmds[i]));
		ck_assert(!proto_tracker_busy(&t));
	}
}
END_TEST

/* Commands the server implements none of (obsolete ones and every byte
 * that names no command) are forwarded: the server answers one ERR 1047
 * "Unknown command" (recorded from MariaDB 10.11 for the byte 0x60) and
 * the session goes on, exactly as without tandem. */
START_TEST(start_unknown_forwarded)
{
	static const uint8_t cmds[] = {COM_SLEEP,      COM_CONNECT,
				       COM_TIME,       COM_DELAYED_INSERT,
				       COM_TABLE_DUMP, COM_CONNECT_OUT,
				       COM_DAEMON,     0x21,
				       0x60,           0xf9,
				       0xfb,           0xff};
	static const char unknown_err[] = "ff1704233038533031556e6b6e6f776e20636f6d6d616e64";
	uint8_t p[16] = {0};
	for (size_t i = 0; i < sizeof(cmds); i++) {
		struct proto_tracker t;
		proto_tracker_init(&t, BASE_CAPS);
		p[0] = cmds[i];
		ck_assert_msg(proto_tracker_start(&t, p, sizeof(p)) == RT_MORE, "0x%02x", cmds[i]);
		ck_assert_int_eq(t.state, RT_SIMPLE);
		struct proto_rt_event ev;
		ck_assert_int_eq(FEED(&t, unknown_err, &ev), RT_DONE);
		ck_assert_int_eq(ev.kind, RT_PKT_ERR);
		ck_assert_uint_eq(ev.err.code, 1047);
		ck_assert(!proto_tracker_busy(&t));
	}
	for (int c = 0x21; c <= 0xff; c++) {
		if (c == COM_STMT_BULK_EXECUTE || c == COM_MULTI)
			continue;
		ck_assert_str_eq(proto_cmd_name((uint8_t)c), "COM_UNKNOWN");
	}
}
END_TEST

START_TEST(start_truncated)
{
	struct proto_tracker t;
	proto_tracker_init(&t, BASE_CAPS);
	ck_assert_int_eq(proto_tracker_start(&t, (const uint8_t *)"", 0), PROTO_E_TRUNCATED);
	/* COM_STMT_EXECUTE: id, flags and iteration count are needed */
	uint8_t ex[10] = {COM_STMT_EXECUTE, 1, 0, 0, 0, CURSOR_TYPE_READ_ONLY, 1, 0, 0, 0};
	ck_assert_int_eq(proto_tracker_start(&t, ex, 9), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_tracker_start(&t, ex, 10), RT_MORE);
	ck_assert(t.cursor);
	ex[5] = CURSOR_TYPE_NO_CURSOR;
	ck_assert_int_eq(proto_tracker_start(&t, ex, 10), RT_MORE);
	ck_assert(!t.cursor);
}
END_TEST

/* How many payload bytes the proxy must copy out for each kind of frame. */
START_TEST(want_per_state)
{
	struct proto_tracker t;
	proto_tracker_init(&t, BASE_CAPS);
	t.state = RT_FIRST;
	ck_assert_uint_eq(proto_tracker_want(&t, 7, 0x00), 7);     /* OK: whole */
	ck_assert_uint_eq(proto_tracker_want(&t, 300, 0xff), 300); /* ERR: whole */
	ck_assert_uint_eq(proto_tracker_want(&t, 10, 0xfb), 10);   /* LOCAL INFILE name */
	ck_assert_uint_eq(proto_tracker_want(&t, 1, 0x03), 1);     /* column count */
	ck_assert_uint_eq(proto_tracker_want(&t, 3, 0xfc), 3);
	ck_assert_uint_eq(proto_tracker_want(&t, 100, 0x05), 9); /* count, at most 9 */
	ck_assert_uint_eq(proto_tracker_want(&t, 0, 0x00), 0);   /* empty frame */
	t.state = RT_COLUMNS;
	ck_assert_uint_eq(proto_tracker_want(&t, 5000, 0x03), 1);
	t.state = RT_ROWS;
	ck_assert_uint_eq(proto_tracker_want(&t, 5000, 0x01), 1); /* a row */
	ck_assert_uint_eq(proto_tracker_want(&t, 5, 0xfe), 5);    /* EOF */
	ck_assert_uint_eq(proto_tracker_want(&t, 9, 0xfe), 1);    /* 0xFE row, no DEOF */
	ck_assert_uint_eq(proto_tracker_want(&t, 80, 0xff), 80);  /* ERR */
	t.caps |= DEOF;
	ck_assert_uint_eq(proto_tracker_want(&t, 9, 0xfe), 9); /* OK(0xFE) */
	ck_assert_uint_eq(proto_tracker_want(&t, 0xfffffe, 0xfe), 0xfffffe);
	ck_assert_uint_eq(proto_tracker_want(&t, PROTO_MAX_FRAME, 0xfe), 1); /* a huge row */
	t.state = RT_PREPARE_FIRST;
	ck_assert_uint_eq(proto_tracker_want(&t, 12, 0x00), 12);
	ck_assert_uint_eq(proto_tracker_want(&t, 40, 0x00), 12);
	ck_assert_uint_eq(proto_tracker_want(&t, 5, 0x00), 5);
	ck_assert_uint_eq(proto_tracker_want(&t, 50, 0xff), 50);
	t.state = RT_SIMPLE;
	ck_assert_uint_eq(proto_tracker_want(&t, 30, 0x00), 30);
	t.state = RT_STRING;
	ck_assert_uint_eq(proto_tracker_want(&t, 118, 'U'), 118);
	/* a continuation frame needs nothing */
	t.state = RT_ROWS;
	t.continued = true;
	ck_assert_uint_eq(proto_tracker_want(&t, 300, 0xff), 0);
}
END_TEST

START_TEST(feed_errors)
{
	struct proto_tracker t;
	struct proto_rt_event ev;
	uint8_t ok[] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00};
	proto_tracker_init(&t, BASE_CAPS);
	/* nothing expected */
	ck_assert_int_eq(proto_tracker_feed(&t, ok, sizeof(ok), sizeof(ok), &ev),
			 PROTO_E_UNEXPECTED);
	/* an empty packet cannot answer a command */
	start(&t, BASE_CAPS, "0e", RT_MORE);
	ck_assert_int_eq(proto_tracker_feed(&t, ok, 0, 0, &ev), PROTO_E_MALFORMED);
	/* fewer bytes than asked for */
	start(&t, BASE_CAPS, "0e", RT_MORE);
	ck_assert_int_eq(proto_tracker_feed(&t, ok, 3, sizeof(ok), &ev), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_tracker_feed(&t, ok, 0, sizeof(ok), NULL), PROTO_E_MALFORMED);
	/* bytes past the frame's end (the next frame's) are ignored */
	uint8_t two[] = {0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0xff, 0xff};
	ck_assert_int_eq(proto_tracker_feed(&t, two, sizeof(two), 7, &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, RT_PKT_OK);
	ck_assert_uint_eq(ev.ok.info.len, 0);
	/* a simple command answered with a row */
	start(&t, BASE_CAPS, "0e", RT_MORE);
	ck_assert_int_eq(FEED(&t, "0131", &ev), PROTO_E_UNEXPECTED);
	/* an OK too short to hold its status */
	start(&t, BASE_CAPS, "0e", RT_MORE);
	ck_assert_int_eq(FEED(&t, "000000", &ev), PROTO_E_TRUNCATED);
	/* during LOCAL INFILE the server has nothing to say until the data ends */
	start(&t, BASE_CAPS | CLIENT_LOCAL_FILES, "0378", RT_MORE);
	const uint8_t req[] = {0xfb, 'a', '.', 'c', 's', 'v'};
	ck_assert_int_eq(feed(&t, req, sizeof(req), &ev), RT_INFILE);
	ck_assert_int_eq(ev.kind, RT_PKT_LOCAL_INFILE);
	ck_assert(proto_str_eq(ev.infile_name, "a.csv"));
	ck_assert_int_eq(t.state, RT_LOCAL_INFILE);
	ck_assert_int_eq(FEED(&t, "00000002000000", &ev), PROTO_E_UNEXPECTED);
	proto_tracker_infile_done(&t);
	ck_assert_int_eq(FEED(&t, "00030002000000", &ev), RT_DONE);
	ck_assert_uint_eq(ev.ok.affected_rows, 3);
	/* infile_done outside LOCAL INFILE changes nothing */
	proto_tracker_infile_done(&t);
	ck_assert_int_eq(t.state, RT_IDLE);
}
END_TEST

START_TEST(first_packet_errors)
{
	struct proto_tracker t;
	struct proto_rt_event ev;
	start(&t, BASE_CAPS, "0378", RT_MORE);
	ck_assert_int_eq(FEED(&t, "fe00000200", &ev), PROTO_E_UNEXPECTED); /* EOF first */
	start(&t, BASE_CAPS | DEOF, "0378", RT_MORE);
	ck_assert_int_eq(FEED(&t, "fe000002000000", &ev), PROTO_E_UNEXPECTED);
	start(&t, BASE_CAPS, "0378", RT_MORE);
	ck_assert_int_eq(FEED(&t, "fc0000", &ev), PROTO_E_MALFORMED); /* zero columns */
	start(&t, BASE_CAPS, "0378", RT_MORE);
	ck_assert_int_eq(FEED(&t, "fc01", &ev), PROTO_E_TRUNCATED); /* count cut short */
	/* a wide column count */
	start(&t, BASE_CAPS, "0378", RT_MORE);
	ck_assert_int_eq(FEED(&t, "fc2c01", &ev), RT_MORE);
	ck_assert_int_eq(ev.kind, RT_PKT_COLUMN_COUNT);
	ck_assert_uint_eq(t.cols_left, 300);
}
END_TEST

/* A text result: count, definitions, [EOF], rows, EOF / OK(0xFE). */
static void text_result(uint64_t caps)
{
	bool deof = caps & DEOF;
	struct proto_tracker t;
	struct proto_rt_event ev;
	start(&t, caps, "0353454c454354", RT_MORE);
	ck_assert_int_eq(FEED(&t, "02", &ev), RT_MORE);
	ck_assert_int_eq(FEED(&t, COLDEF, &ev), RT_MORE);
	ck_assert_int_eq(ev.kind, RT_PKT_COLUMN_DEF);
	ck_assert_int_eq(FEED(&t, COLDEF, &ev), RT_MORE);
	if (!deof) {
		ck_assert_int_eq(t.state, RT_COLUMNS_EOF);
		ck_assert_int_eq(FEED(&t, "fe00002200", &ev), RT_MORE);
		ck_assert_int_eq(ev.kind, RT_PKT_EOF);
		ck_assert_uint_eq(t.status, 0x22);
	}
	ck_assert_int_eq(t.state, RT_ROWS);
	ck_assert_int_eq(FEED(&t, "01310132", &ev), RT_MORE);
	ck_assert_int_eq(ev.kind, RT_PKT_ROW);
	ck_assert_int_eq(FEED(&t, "fbfb", &ev), RT_MORE); /* NULL, NULL */
	/* a row whose first value is a string of 251+ bytes starts 0xFC */
	ck_assert_int_eq(FEED(&t,
			      "fcfb00"
			      "78",
			      &ev),
			 RT_MORE);
	ck_assert_int_eq(ev.kind, RT_PKT_ROW);
	ck_assert_int_eq(FEED(&t, deof ? "fe000003000100" : "fe01000300", &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, deof ? RT_PKT_OK : RT_PKT_EOF);
	ck_assert_uint_eq(t.status, SERVER_STATUS_AUTOCOMMIT | SERVER_STATUS_IN_TRANS);
	ck_assert_uint_eq(t.warnings, 1);
	ck_assert_uint_eq(t.results, 1);
	ck_assert(!proto_tracker_busy(&t));
}

/* MariaDB's metadata caching: the byte after the column count says whether
 * definitions follow; 0 skips them (the EOF after them still comes
 * without DEPRECATE_EOF), 1 sends them. A count without the byte is
 * truncated. */
START_TEST(cache_metadata_shapes)
{
	const uint64_t CM = MARIADB_CLIENT_CACHE_METADATA;
	struct proto_tracker t;
	struct proto_rt_event ev;
	for (int deof = 0; deof < 2; deof++) {
		uint64_t caps = BASE_CAPS | CM | (deof ? DEOF : 0);
		start(&t, caps, "17010000000001000000", RT_MORE);
		ck_assert_uint_eq(proto_tracker_want(&t, 2, 0x02), 2);
		ck_assert_int_eq(FEED(&t, "0200", &ev), RT_MORE);
		ck_assert_int_eq(ev.kind, RT_PKT_COLUMN_COUNT);
		ck_assert_int_eq(t.state, deof ? RT_ROWS : RT_COLUMNS_EOF);
		if (!deof)
			ck_assert_int_eq(FEED(&t, EOF_AC, &ev), RT_MORE);
		ck_assert_int_eq(FEED(&t, "000001000000", &ev), RT_MORE);
		ck_assert_int_eq(ev.kind, RT_PKT_ROW);
		ck_assert_int_eq(FEED(&t, deof ? OKFE_AC : EOF_AC, &ev), RT_DONE);

		start(&t, caps, "0353454c454354", RT_MORE);
		ck_assert_int_eq(FEED(&t, "0101", &ev), RT_MORE);
		ck_assert_int_eq(t.state, RT_COLUMNS);
		ck_assert_int_eq(FEED(&t, COLDEF, &ev), RT_MORE);
		if (!deof)
			ck_assert_int_eq(FEED(&t, EOF_AC, &ev), RT_MORE);
		ck_assert_int_eq(FEED(&t, "0131", &ev), RT_MORE);
		ck_assert_int_eq(FEED(&t, deof ? OKFE_AC : EOF_AC, &ev), RT_DONE);

		start(&t, caps, "0353454c454354", RT_MORE);
		ck_assert_int_eq(FEED(&t, "01", &ev), PROTO_E_TRUNCATED);
	}
	/* a 9-byte count and its flag: the tracker asks for all 10 */
	start(&t, BASE_CAPS | CM, "0353454c454354", RT_MORE);
	ck_assert_uint_eq(proto_tracker_want(&t, 10, 0xfe), 10);
	ck_assert_uint_eq(proto_tracker_want(&t, 100, 0x05), 10);
	start(&t, BASE_CAPS, "0353454c454354", RT_MORE);
	ck_assert_uint_eq(proto_tracker_want(&t, 100, 0x05), 9);
}
END_TEST

/* MariaDB's progress reports (0xFF, code 0xFFFF) in any state an ERR may
 * come: not an end with MARIADB_CLIENT_PROGRESS; without it, an ERR. */
START_TEST(progress_reports)
{
	static const char PROGRESS[] = "ffffff010102c4090011636f707920746f20746d70207461626c65";
	const uint64_t PR = MARIADB_CLIENT_PROGRESS;
	struct proto_tracker t;
	struct proto_rt_event ev;
	start(&t, BASE_CAPS | PR, "03414c544552", RT_MORE);
	for (int i = 0; i < 3; i++) {
		ck_assert_int_eq(FEED(&t, PROGRESS, &ev), RT_MORE);
		ck_assert_int_eq(ev.kind, RT_PKT_PROGRESS);
		ck_assert_int_eq(t.state, RT_FIRST);
	}
	ck_assert_int_eq(FEED(&t, "00000002000000", &ev), RT_DONE);
	/* between the results of a multi-statement, and on simple commands */
	start(&t, BASE_CAPS | PR, "03414c544552", RT_MORE);
	ck_assert_int_eq(FEED(&t, "00000008000000", &ev), RT_MORE);
	ck_assert_int_eq(FEED(&t, PROGRESS, &ev), RT_MORE);
	ck_assert_int_eq(FEED(&t, "00000002000000", &ev), RT_DONE);
	ck_assert_uint_eq(t.results, 2);
	start(&t, BASE_CAPS | PR, "1f", RT_MORE);
	ck_assert_int_eq(FEED(&t, PROGRESS, &ev), RT_MORE);
	ck_assert_int_eq(FEED(&t, "00000002000000", &ev), RT_DONE);
	/* a real ERR still ends it */
	start(&t, BASE_CAPS | PR, "03414c544552", RT_MORE);
	ck_assert_int_eq(FEED(&t, "ff7a042334325330325461626c65", &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, RT_PKT_ERR);
	/* without the capability a 0xFFFF ERR is an ERR */
	start(&t, BASE_CAPS, "03414c544552", RT_MORE);
	ck_assert_int_eq(FEED(&t, PROGRESS, &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, RT_PKT_ERR);
}
END_TEST

/* COM_STMT_BULK_EXECUTE: binary, answered by an OK, an ERR or results. */
START_TEST(bulk_execute)
{
	struct proto_tracker t;
	struct proto_rt_event ev;
	start(&t, BASE_CAPS | MARIADB_CLIENT_STMT_BULK_OPERATIONS, "fa010000008000", RT_MORE);
	ck_assert(t.binary);
	ck_assert_int_eq(FEED(&t, "00030002000000", &ev), RT_DONE);
	start(&t, BASE_CAPS, "fa0100000080", PROTO_E_TRUNCATED);
	start(&t, BASE_CAPS | DEOF, "fa010000008000", RT_MORE);
	ck_assert_int_eq(FEED(&t, "01", &ev), RT_MORE);
	ck_assert_int_eq(FEED(&t, COLDEF, &ev), RT_MORE);
	ck_assert_int_eq(FEED(&t, "000001000000", &ev), RT_MORE);
	ck_assert_int_eq(FEED(&t, OKFE_AC, &ev), RT_DONE);
}
END_TEST

START_TEST(text_result_both_shapes)
{
	text_result(BASE_CAPS);
	text_result(BASE_CAPS | DEOF);
	text_result(BASE_CAPS | DEOF | CLIENT_SESSION_TRACK);
}
END_TEST

START_TEST(defs_eof_must_be_eof)
{
	struct proto_tracker t;
	struct proto_rt_event ev;
	start(&t, BASE_CAPS, "0378", RT_MORE);
	FEED(&t, "01", &ev);
	FEED(&t, COLDEF, &ev);
	ck_assert_int_eq(FEED(&t, "0131", &ev), PROTO_E_UNEXPECTED);
	start(&t, BASE_CAPS, "16", RT_MORE);
	ck_assert_int_eq(FEED(&t, "000100000000000100000000", &ev), RT_MORE);
	FEED(&t, COLDEF, &ev);
	ck_assert_int_eq(FEED(&t, "ff", &ev), PROTO_E_UNEXPECTED);
	/* ... and after a prepared statement's columns */
	start(&t, BASE_CAPS, "16", RT_MORE);
	ck_assert_int_eq(FEED(&t, "000100000001000000000000", &ev), RT_MORE);
	FEED(&t, COLDEF, &ev);
	ck_assert_int_eq(t.state, RT_PREPARE_COLUMNS_EOF);
	ck_assert_int_eq(FEED(&t, "0131", &ev), PROTO_E_UNEXPECTED);
}
END_TEST

/* An ERR in the middle of rows ends the response; the status keeps the
 * flags seen before it. */
START_TEST(err_mid_rows)
{
	for (int deof = 0; deof < 2; deof++) {
		uint64_t caps = BASE_CAPS | (deof ? DEOF : 0);
		struct proto_tracker t;
		struct proto_rt_event ev;
		start(&t, caps, "0378", RT_MORE);
		t.status = SERVER_STATUS_IN_TRANS; /* from an earlier command */
		FEED(&t, "01", &ev);
		FEED(&t, COLDEF, &ev);
		if (!deof)
			FEED(&t, "fe00000300", &ev);
		FEED(&t, "0131", &ev);
		ck_assert_int_eq(FEED(&t, "ffda0423323130303053756271756572", &ev), RT_DONE);
		ck_assert_int_eq(ev.kind, RT_PKT_ERR);
		ck_assert_uint_eq(ev.err.code, 1242);
		ck_assert_str_eq(ev.err.sqlstate, "21000");
		ck_assert_uint_eq(t.status & SERVER_STATUS_IN_TRANS, SERVER_STATUS_IN_TRANS);
		ck_assert(!proto_tracker_busy(&t));
	}
}
END_TEST

/* Binary results: a cursor's EOF ends the execute; a text result's EOF
 * with the same flag does not. */
START_TEST(cursor_flag_only_for_binary)
{
	struct proto_tracker t;
	struct proto_rt_event ev;
	start(&t, BASE_CAPS, "17010000000100000000", RT_MORE);
	FEED(&t, "01", &ev);
	FEED(&t, COLDEF, &ev);
	ck_assert_int_eq(FEED(&t, "fe00004200", &ev), RT_DONE);
	ck_assert_uint_eq(t.status, 0x42);
	start(&t, BASE_CAPS, "0378", RT_MORE);
	FEED(&t, "01", &ev);
	FEED(&t, COLDEF, &ev);
	ck_assert_int_eq(FEED(&t, "fe00004200", &ev), RT_MORE);
	ck_assert_int_eq(t.state, RT_ROWS);
	/* a fetch: binary rows (first byte 0x00), then the terminator */
	start(&t, BASE_CAPS, "1c0100000002000000", RT_MORE);
	ck_assert_int_eq(FEED(&t, "00000100000000", &ev), RT_MORE);
	ck_assert_int_eq(ev.kind, RT_PKT_ROW);
	ck_assert_int_eq(FEED(&t, "fe00008200", &ev), RT_DONE);
}
END_TEST

START_TEST(multi_results)
{
	for (int deof = 0; deof < 2; deof++) {
		uint64_t caps = BASE_CAPS | (deof ? DEOF : 0);
		struct proto_tracker t;
		struct proto_rt_event ev;
		start(&t, caps, "0378", RT_MORE);
		ck_assert_int_eq(FEED(&t, "0001000a000000", &ev), RT_MORE); /* OK, more */
		ck_assert_int_eq(t.state, RT_FIRST);
		FEED(&t, "01", &ev);
		FEED(&t, COLDEF, &ev);
		if (!deof)
			FEED(&t, "fe00000a00", &ev);
		FEED(&t, "0131", &ev);
		ck_assert_int_eq(FEED(&t, deof ? "fe00000a000000" : "fe00000a00", &ev), RT_MORE);
		ck_assert_int_eq(t.state, RT_FIRST);
		ck_assert_int_eq(FEED(&t, "00000002000000", &ev), RT_DONE);
		ck_assert_uint_eq(t.results, 3);
		/* an ERR ends it all and the announcement of more goes with it */
		start(&t, caps, "0378", RT_MORE);
		ck_assert_int_eq(FEED(&t, "0001000a000000", &ev), RT_MORE);
		ck_assert_uint_eq(t.status, 0x0a);
		ck_assert_int_eq(FEED(&t, "ff7a042334325330325461626c65", &ev), RT_DONE);
		ck_assert_uint_eq(t.status, SERVER_STATUS_AUTOCOMMIT);
		ck_assert_uint_eq(t.results, 1);
	}
}
END_TEST

START_TEST(prepare_shapes)
{
	for (int deof = 0; deof < 2; deof++) {
		uint64_t caps = BASE_CAPS | (deof ? DEOF : 0);
		struct proto_tracker t;
		struct proto_rt_event ev;
		/* no params, no columns: the OK alone */
		start(&t, caps, "16444f2031", RT_MORE);
		ck_assert_int_eq(FEED(&t, "000500000000000000000000", &ev), RT_DONE);
		ck_assert_int_eq(ev.kind, RT_PKT_PREPARE_OK);
		ck_assert_uint_eq(ev.prepare.stmt_id, 5);
		/* params only */
		start(&t, caps, "16", RT_MORE);
		ck_assert_int_eq(FEED(&t, "000600000000000200000100", &ev), RT_MORE);
		ck_assert_uint_eq(ev.prepare.params, 2);
		ck_assert_uint_eq(ev.prepare.warnings, 1);
		ck_assert_int_eq(FEED(&t, COLDEF, &ev), RT_MORE);
		int rc = FEED(&t, COLDEF, &ev);
		if (!deof) {
			ck_assert_int_eq(rc, RT_MORE);
			rc = FEED(&t, EOF_AC, &ev);
		}
		ck_assert_int_eq(rc, RT_DONE);
		/* columns only */
		start(&t, caps, "16", RT_MORE);
		ck_assert_int_eq(FEED(&t, "000700000001000000000000", &ev), RT_MORE);
		rc = FEED(&t, COLDEF, &ev);
		if (!deof) {
			ck_assert_int_eq(rc, RT_MORE);
			rc = FEED(&t, EOF_AC, &ev);
		}
		ck_assert_int_eq(rc, RT_DONE);
		/* errors */
		start(&t, caps, "16", RT_MORE);
		ck_assert_int_eq(FEED(&t, "0131", &ev), PROTO_E_UNEXPECTED);
		start(&t, caps, "16", RT_MORE);
		ck_assert_int_eq(FEED(&t, "0001000000", &ev), PROTO_E_TRUNCATED);
		start(&t, caps, "16", RT_MORE);
		ck_assert_int_eq(FEED(&t, "ff28042334323030307379", &ev), RT_DONE);
		ck_assert_uint_eq(ev.err.code, 1064);
	}
}
END_TEST

START_TEST(simple_string_auth)
{
	struct proto_tracker t;
	struct proto_rt_event ev;
	start(&t, BASE_CAPS, "09", RT_MORE);
	ck_assert_int_eq(FEED(&t, "557074696d653a2031", &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, RT_PKT_STRING);
	start(&t, BASE_CAPS, "09", RT_MORE);
	ck_assert_int_eq(FEED(&t, "ff1504233238303030", &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, RT_PKT_ERR);
	/* COM_SET_OPTION: an EOF is its OK */
	start(&t, BASE_CAPS, "1b0100", RT_MORE);
	ck_assert_int_eq(FEED(&t, EOF_AC, &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, RT_PKT_EOF);
	start(&t, BASE_CAPS | DEOF, "1b0100", RT_MORE);
	ck_assert_int_eq(FEED(&t, OKFE_AC, &ev), RT_DONE);
	ck_assert_int_eq(ev.kind, RT_PKT_OK);
	/* COM_CHANGE_USER: switch, more data, then OK */
	start(&t, BASE_CAPS, "11", RT_MORE);
	ck_assert_int_eq(FEED(&t, "fe6d7973716c5f6e61746976655f70617373776f726400", &ev), RT_MORE);
	ck_assert_int_eq(ev.kind, RT_PKT_AUTH_SWITCH);
	ck_assert_int_eq(FEED(&t, "0104", &ev), RT_MORE);
	ck_assert_int_eq(ev.kind, RT_PKT_AUTH_MORE);
	ck_assert_int_eq(FEED(&t, "00000002000000", &ev), RT_DONE);
	start(&t, BASE_CAPS, "11", RT_MORE);
	ck_assert_int_eq(FEED(&t, "05", &ev), PROTO_E_UNEXPECTED);
}
END_TEST

/* Build a stream of frames and drive it the proxy's way, whole and split. */
static int drive(struct proto_tracker *t, const struct vbuf *s, size_t piece, size_t *used)
{
	struct rtdrive d;
	rtdrive_init(&d, t, NULL, NULL);
	size_t arrived = 0, consumed = 0;
	int rc = RT_MORE;
	while (rc == RT_MORE || rc == RT_INFILE) {
		if (arrived == s->len && rc == RT_MORE)
			break;
		if (rc == RT_INFILE)
			proto_tracker_infile_done(t);
		arrived = arrived + piece < s->len ? arrived + piece : s->len;
		size_t u;
		rc = rtdrive_scan(&d, s->p + consumed, arrived - consumed, &u);
		consumed += u;
	}
	*used = consumed;
	return rc;
}

/* 16 MiB+ rows: continuation frames are passed by whatever their first
 * byte; a short 0xFE or 0xFF continuation is neither EOF nor ERR. */
START_TEST(rows_split_in_frames)
{
	static const uint8_t tails[][6] = {
		{0xfe, 0x00, 0x00, 0x02, 0x00}, /* looks like an EOF */
		{0xff, 0x15, 0x04, 0x23, 0x32}, /* looks like an ERR */
		{0x00, 0x00, 0x00, 0x02, 0x00}, /* looks like an OK */
	};
	size_t big = PROTO_MAX_FRAME + 5;
	uint8_t *row = malloc(big);
	ck_assert_ptr_nonnull(row);
	memset(row, 'x', big);
	for (int deof = 0; deof < 2; deof++) {
		uint64_t caps = BASE_CAPS | (deof ? DEOF : 0);
		for (size_t i = 0; i < 3; i++) {
			row[0] = 0xfe; /* lenenc: 8-byte length follows */
			memcpy(row + PROTO_MAX_FRAME, tails[i], 5);
			struct vbuf s = {0};
			uint8_t seq = 1, def[64];
			size_t dn = vec_unhex(COLDEF, def, sizeof(def));
			vbuf_frame(&s, "\x01", 1, seq++);
			vbuf_frame(&s, def, (uint32_t)dn, seq++);
			if (!deof)
				vbuf_frame(&s, "\xfe\x00\x00\x02\x00", 5, seq++);
			seq = vbuf_packet(&s, row, big, seq);             /* two frames */
			seq = vbuf_packet(&s, row, PROTO_MAX_FRAME, seq); /* + an empty one */
			if (deof)
				vbuf_frame(&s, "\xfe\x00\x00\x02\x00\x00\x00", 7, seq++);
			else
				vbuf_frame(&s, "\xfe\x00\x00\x02\x00", 5, seq++);
			size_t end = s.len;
			vbuf_frame(&s, "\x00\x00\x00\x02\x00\x00\x00", 7, 1); /* next response */
			static const size_t pieces[] = {SIZE_MAX / 2, 1 << 20, 65537, 4097};
			for (size_t p = 0; p < 4; p++) {
				struct proto_tracker t;
				size_t used;
				start(&t, caps, "0378", RT_MORE);
				ck_assert_int_eq(drive(&t, &s, pieces[p], &used), RT_DONE);
				ck_assert_uint_eq(used, end);
				ck_assert_uint_eq(t.results, 1);
			}
			vbuf_free(&s);
		}
	}
	free(row);
}
END_TEST

/* proto_tracker_skip_rows passes by exactly the frames that feeding one by
 * one would have called plain rows, stops before anything else, and
 * leaves the tracker as it was. */
START_TEST(skip_rows_stops_where_feed_would_differ)
{
	for (int deof = 0; deof < 2; deof++) {
		uint64_t caps = BASE_CAPS | (deof ? DEOF : 0);
		struct proto_tracker t;
		struct proto_rt_event ev;
		uint8_t seq = 9;
		start(&t, caps, "0378", RT_MORE);
		/* not in the rows state yet: nothing is skipped */
		uint8_t colcount[] = {1, 0, 0, 1, 1};
		ck_assert_uint_eq(proto_tracker_skip_rows(&t, colcount, sizeof(colcount), &seq), 0);
		ck_assert_uint_eq(seq, 9);
		FEED(&t, "01", &ev);
		FEED(&t, COLDEF, &ev);
		if (!deof)
			FEED(&t, EOF_AC, &ev);
		ck_assert_int_eq(t.state, RT_ROWS);
		struct proto_tracker before = t;

		/* rows, the last one headed 0xFE where that can be a row (a
		 * 9-byte row without DEPRECATE_EOF; with it, only a 16 MiB
		 * frame, so a row of a 251+ byte string there), then what must
		 * stop the run */
		static const uint8_t fe_row[9] = {0xfe, 1, 0, 0, 0, 0, 0, 0, 'x'};
		static const uint8_t fc_row[4] = {0xfc, 1, 0, 'x'};
		const uint8_t *third = deof ? fc_row : fe_row;
		uint32_t third_len = deof ? sizeof(fc_row) : sizeof(fe_row);
		struct vbuf b = {0};
		vbuf_frame(&b,
			   "\x01"
			   "1",
			   2, 3);
		vbuf_frame(&b, "\xfb", 1, 4);
		vbuf_frame(&b, third, third_len, 5);
		size_t rows_end = b.len;
		static const char *stops[] = {"ff150423323130303073", /* ERR */
					      "fe00000200",           /* EOF / short OK */
					      ""};                    /* empty frame */
		for (size_t i = 0; i < 3; i++) {
			uint8_t stop[32];
			size_t sn = vec_unhex(stops[i], stop, sizeof(stop));
			struct vbuf s = {0};
			vbuf_frame(&s,
				   "\x01"
				   "1",
				   2, 3);
			vbuf_frame(&s, "\xfb", 1, 4);
			vbuf_frame(&s, third, third_len, 5);
			vbuf_frame(&s, stop, (uint32_t)sn, 6);
			seq = 0;
			ck_assert_uint_eq(proto_tracker_skip_rows(&t, s.p, s.len, &seq), rows_end);
			ck_assert_uint_eq(seq, 5);
			ck_assert_int_eq(t.state, before.state);
			ck_assert(t.continued == before.continued);
			ck_assert_uint_eq(t.results, before.results);
			ck_assert_uint_eq(t.status, before.status);
			/* what stopped it is no plain row: feed says so */
			if (sn > 0) {
				struct proto_tracker copy = t;
				int rc = feed(&copy, stop, sn, &ev);
				ck_assert(rc < 0 || ev.kind != RT_PKT_ROW);
			}
			/* every prefix: only whole frames go by */
			const size_t ends[] = {0, PROTO_HEADER_LEN + 2, 2 * PROTO_HEADER_LEN + 3,
					       rows_end};
			for (size_t n = 0; n <= s.len; n++) {
				size_t want = 0;
				for (size_t e = 0; e < 4; e++)
					if (ends[e] <= n)
						want = ends[e];
				ck_assert_uint_eq(proto_tracker_skip_rows(&t, s.p, n, &seq), want);
			}
			vbuf_free(&s);
		}
		vbuf_free(&b);

		/* a 16 MiB frame continues a packet: feed must see it */
		uint8_t huge[PROTO_HEADER_LEN + 1] = {0xff, 0xff, 0xff, 7, 0x01};
		ck_assert_uint_eq(proto_tracker_skip_rows(&t, huge, sizeof(huge), &seq), 0);
		/* nor is anything skipped in the middle of a continued packet */
		uint8_t row[] = {2, 0, 0, 8, 0x01, '1'};
		t.continued = true;
		ck_assert_uint_eq(proto_tracker_skip_rows(&t, row, sizeof(row), &seq), 0);
		t.continued = false;
		ck_assert_uint_eq(proto_tracker_skip_rows(&t, row, sizeof(row), &seq), sizeof(row));
	}
}
END_TEST

/* An OK that spans frames (a 16 MiB info text without session tracking):
 * the response ends after its last frame, not its first. */
START_TEST(ok_spanning_frames)
{
	size_t n = PROTO_MAX_FRAME + 10;
	uint8_t *ok = malloc(n);
	ck_assert_ptr_nonnull(ok);
	memset(ok, 'i', n);
	memcpy(ok, "\x00\x00\x00\x02\x00\x00\x00", 7);
	struct vbuf s = {0};
	vbuf_packet(&s, ok, n, 1);
	size_t end = s.len;
	vbuf_frame(&s, "\x00\x00\x00\x02\x00\x00\x00", 7, 1);
	struct proto_tracker t;
	size_t used;
	start(&t, BASE_CAPS, "0e", RT_MORE);
	ck_assert_int_eq(drive(&t, &s, SIZE_MAX / 2, &used), RT_DONE);
	ck_assert_uint_eq(used, end);
	start(&t, BASE_CAPS, "0378", RT_MORE);
	ck_assert_int_eq(drive(&t, &s, 1 << 16, &used), RT_DONE);
	ck_assert_uint_eq(used, end);
	vbuf_free(&s);
	free(ok);
}
END_TEST

static Suite *tracker_suite(void)
{
	Suite *s = suite_create("tracker");
	TCase *tc = tcase_create("tracker");
	tcase_add_test(tc, state_names);
	tcase_add_test(tc, start_every_command);
	tcase_add_test(tc, start_unsupported);
	tcase_add_test(tc, cache_metadata_shapes);
	tcase_add_test(tc, progress_reports);
	tcase_add_test(tc, bulk_execute);
	tcase_add_test(tc, start_unknown_forwarded);
	tcase_add_test(tc, start_truncated);
	tcase_add_test(tc, want_per_state);
	tcase_add_test(tc, feed_errors);
	tcase_add_test(tc, first_packet_errors);
	tcase_add_test(tc, text_result_both_shapes);
	tcase_add_test(tc, defs_eof_must_be_eof);
	tcase_add_test(tc, err_mid_rows);
	tcase_add_test(tc, cursor_flag_only_for_binary);
	tcase_add_test(tc, multi_results);
	tcase_add_test(tc, prepare_shapes);
	tcase_add_test(tc, simple_string_auth);
	tcase_add_test(tc, rows_split_in_frames);
	tcase_add_test(tc, ok_spanning_frames);
	tcase_add_test(tc, skip_rows_stops_where_feed_would_differ);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(tracker_suite)
