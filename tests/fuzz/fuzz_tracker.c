/*
 * fuzz_tracker.c — the response tracker driven over a server byte stream
 * exactly as proxy/command/forward.c drives it (tests/common/rtdrive.c: header
 * plus first byte, want(), copy of the wanted bytes, feed, pass the frame
 * on), with any command first.
 *
 * Input: 1 byte of flags (bit 0 CLIENT_DEPRECATE_EOF, bit 1
 * CLIENT_SESSION_TRACK, bit 2 MariaDB's CACHE_METADATA, bit 3 its PROGRESS
 * and STMT_BULK_OPERATIONS; bits 2-7 also seed the split), 1 byte n, n bytes of
 * command payload, then the server's bytes. After each complete response
 * the same command is started again on the rest of the stream, as a
 * session's next command would be.
 *
 * Invariant: the bytes arriving all at once or in small pieces give the
 * same events, the same completion points and the same final state; and
 * passing plain rows by with proto_tracker_skip_rows() (as forward.c does
 * unless it records for replay) changes nothing but which rows are fed:
 * every other event, the completion points and the final state stay.
 */
#include "fuzz.h"

#include "rtdrive.h"

struct run {
	uint64_t hash; /* FNV-1a over (rc, kind, frame length) of every feed */
	size_t feeds;
	uint64_t hash_other; /* the same over every feed but a plain row's */
	size_t other_feeds;
	size_t responses; /* completed */
	size_t used;      /* bytes scanned when the run stopped */
	int last_rc;
	uint16_t status;
	enum proto_rt_state state;
};

static void mix(uint64_t *h, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		*h ^= (uint8_t)(v >> (8 * i));
		*h *= 0x100000001b3ULL;
	}
}

static void on_feed(struct rtdrive *d, int rc, const struct proto_rt_event *ev,
		    const struct proto_frame *f)
{
	struct run *r = d->arg;
	r->feeds++;
	uint64_t v = (uint64_t)(uint32_t)rc << 32 | (uint64_t)ev->kind << 24 | f->len;
	mix(&r->hash, v);
	/* where a run of rows is skipped depends on how the bytes arrived */
	if (rc != RT_MORE || ev->kind != RT_PKT_ROW) {
		r->other_feeds++;
		mix(&r->hash_other, v);
	}
	if (rc == RT_INFILE)
		FUZZ_CHECK(d->tr->state == RT_LOCAL_INFILE);
}

static size_t next_piece(uint32_t *seed)
{
	*seed = *seed * 1103515245u + 12345u;
	uint32_t v = (*seed >> 16) & 0x7fff;
	return v % 4 == 0 ? 1 : 1 + v % 23; /* often a single byte */
}

static void drive(struct run *r, uint64_t caps, const uint8_t *cmd, size_t cmd_len,
		  const uint8_t *s, size_t len, uint32_t seed, bool skip_rows)
{
	struct proto_tracker t;
	struct rtdrive d;
	memset(r, 0, sizeof(*r));
	r->hash = r->hash_other = 0xcbf29ce484222325ULL;
	proto_tracker_init(&t, caps);
	int rc = proto_tracker_start(&t, cmd, cmd_len);
	r->last_rc = rc;
	if (rc != RT_MORE)
		return;
	rtdrive_init(&d, &t, on_feed, r);
	d.skip_rows = skip_rows;
	size_t arrived = 0, consumed = 0;
	for (;;) {
		if (arrived < len) {
			size_t p = seed ? next_piece(&seed) : len;
			arrived += p < len - arrived ? p : len - arrived;
		}
		size_t used = 0;
		rc = rtdrive_scan(&d, s + consumed, arrived - consumed, &used);
		FUZZ_CHECK(used <= arrived - consumed);
		consumed += used;
		if (rc == RT_INFILE) {
			proto_tracker_infile_done(&t);
			continue;
		}
		if (rc == RT_DONE) {
			FUZZ_CHECK(!proto_tracker_busy(&t));
			r->responses++;
			if (consumed == len)
				break;
			/* the next command of the session, same bytes */
			FUZZ_CHECK(proto_tracker_start(&t, cmd, cmd_len) == RT_MORE);
			rtdrive_init(&d, &t, on_feed, r);
			d.skip_rows = skip_rows;
			continue;
		}
		if (rc < 0 || arrived == len)
			break;
	}
	r->last_rc = rc;
	r->used = consumed;
	r->status = t.status;
	r->state = t.state;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t flags = (uint8_t)fuzz_take_le(&data, &size, 1);
	size_t n = (size_t)fuzz_take_le(&data, &size, 1);
	if (n > size)
		n = size;
	const uint8_t *cmd = data;
	data += n;
	size -= n;
	uint64_t caps =
		CLIENT_PROTOCOL_41 | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |
		CLIENT_LOCAL_FILES | ((flags & 1) ? CLIENT_DEPRECATE_EOF : 0) |
		((flags & 2) ? CLIENT_SESSION_TRACK : 0) |
		((flags & 4) ? MARIADB_CLIENT_CACHE_METADATA : 0) |
		((flags & 8) ? MARIADB_CLIENT_PROGRESS | MARIADB_CLIENT_STMT_BULK_OPERATIONS : 0);
	/* the command as the proxy has it: a copy of exactly its bytes */
	uint8_t *c = malloc(n ? n : 1);
	if (!c)
		return 0;
	memcpy(c, cmd, n);

	struct run whole, split, skip_whole, skip_split;
	uint32_t seed = (uint32_t)(flags >> 2) + 1;
	drive(&whole, caps, c, n, data, size, 0, false);
	drive(&split, caps, c, n, data, size, seed, false);
	drive(&skip_whole, caps, c, n, data, size, 0, true);
	drive(&skip_split, caps, c, n, data, size, seed, true);
	FUZZ_CHECK(whole.hash == split.hash && whole.feeds == split.feeds);
	const struct run *other[] = {&split, &skip_whole, &skip_split};
	for (size_t i = 0; i < 3; i++) {
		FUZZ_CHECK(whole.hash_other == other[i]->hash_other &&
			   whole.other_feeds == other[i]->other_feeds);
		FUZZ_CHECK(whole.responses == other[i]->responses && whole.used == other[i]->used);
		FUZZ_CHECK(whole.last_rc == other[i]->last_rc);
		FUZZ_CHECK(whole.status == other[i]->status && whole.state == other[i]->state);
	}
	free(c);
	return 0;
}
