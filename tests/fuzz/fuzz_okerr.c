/*
 * fuzz_okerr.c — the generic server responses: OK (with its session-state
 * items), ERR, EOF.
 *
 * Input: 1 byte of flags (bit 0 CLIENT_SESSION_TRACK, bit 1
 * CLIENT_DEPRECATE_EOF), then a payload parsed as each packet kind.
 * Invariants: an OK or EOF that parses rebuilds into bytes that parse to
 * the same fields; session-state items never run past their block; a
 * block filtered to a client's tracking view (the flags' upper bits pick
 * it) is no longer than the block, parses to whole items, keeps all of a
 * block under "track everything" and none under "track nothing".
 */
#include "fuzz.h"

#include "protocol/okerr.h"

static void items(struct proto_str state)
{
	struct proto_rd r;
	struct proto_track_item it;
	int rc;
	size_t seen = 0;
	proto_rd_init(&r, state.p, state.len);
	while ((rc = proto_track_next(&r, &it)) > 0) {
		seen += (size_t)rc;
		FUZZ_CHECK(seen <= state.len);
		FUZZ_CHECK(it.name.len + it.value.len <= state.len);
	}
	FUZZ_CHECK(rc == 0 ? seen == state.len : rc < 0);
}

static void filtered(struct proto_str state, uint8_t flags)
{
	static const char *const lists[] = {NULL, "*", "autocommit,time_zone", " sql_mode , ,*x"};
	struct proto_track_view v = {.sysvars = lists[(flags >> 2) & 3],
				     .schema = (flags >> 4) & 1,
				     .state_change = (flags >> 5) & 1,
				     .trx = (uint8_t)((flags >> 6) % 3)};
	struct proto_track_view all = {.sysvars = "*",
				       .schema = true,
				       .state_change = true,
				       .trx = PROTO_TRACK_TRX_CHARACTERISTICS,
				       .gtids = true};
	struct proto_track_view none = {0};
	uint8_t *out = malloc(state.len + 1);
	if (!out)
		return;
	const uint8_t *in = (const uint8_t *)state.p;
	int n = proto_track_filter(&v, NULL, in, state.len, out);
	if (n >= 0) {
		FUZZ_CHECK((size_t)n <= state.len);
		struct proto_rd r;
		struct proto_track_item it;
		int rc;
		proto_rd_init(&r, out, (size_t)n);
		while ((rc = proto_track_next(&r, &it)) > 0)
			FUZZ_CHECK(proto_track_view_keeps(&v, &it));
		FUZZ_CHECK(rc == 0);
		int a = proto_track_filter(&all, NULL, in, state.len, out);
		/* unknown item types are kept by any view; known ones only here */
		FUZZ_CHECK(a == (int)state.len && memcmp(out, in, state.len) == 0);
		FUZZ_CHECK(proto_track_filter(&none, &v, in, state.len, out) == n);
	}
	free(out);
}

static uint8_t flags_seen;

static void ok(const uint8_t *data, size_t size, uint64_t caps)
{
	struct proto_ok o, back;
	int rc = proto_ok_parse(data, size, caps, &o);
	FUZZ_CHECK(rc < 0 || rc == (int)size);
	if (rc < 0)
		return;
	items(o.session_state);
	filtered(o.session_state, flags_seen);
	size_t cap = size + 32;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return;
	struct proto_wr w;
	proto_wr_init(&w, buf, cap);
	FUZZ_CHECK(proto_ok_build(&w, 1, &o, caps) == PROTO_OK);
	FUZZ_CHECK(proto_ok_parse(buf + 4, w.len - 4, caps, &back) == (int)(w.len - 4));
	FUZZ_CHECK(back.header == o.header && back.affected_rows == o.affected_rows);
	FUZZ_CHECK(back.last_insert_id == o.last_insert_id && back.warnings == o.warnings);
	FUZZ_CHECK(back.info.len == o.info.len && back.session_state.len == o.session_state.len);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags = (uint8_t)fuzz_take_le(&data, &size, 1);
	flags_seen = flags;
	uint64_t caps = CLIENT_PROTOCOL_41 | ((flags & 1) ? CLIENT_SESSION_TRACK : 0) |
			((flags & 2) ? CLIENT_DEPRECATE_EOF : 0);
	ok(data, size, caps);

	struct proto_err_pkt e;
	int rc = proto_err_parse(data, size, caps, &e);
	FUZZ_CHECK(rc < 0 || rc == (int)size);
	if (rc > 0) {
		FUZZ_CHECK(e.sqlstate[5] == 0);
		FUZZ_CHECK(e.message.len <= size);
	}

	struct proto_eof eof, back;
	rc = proto_eof_parse(data, size, &eof);
	FUZZ_CHECK(rc < 0 || (rc == (int)size && proto_is_eof(data, size)));
	if (rc > 0) {
		uint8_t buf[16];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		FUZZ_CHECK(proto_eof_build(&w, 1, &eof) == PROTO_OK);
		FUZZ_CHECK(proto_eof_parse(buf + 4, w.len - 4, &back) == 5);
		FUZZ_CHECK(back.status == eof.status && back.warnings == eof.warnings);
	}
	return 0;
}
