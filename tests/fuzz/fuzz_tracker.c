/*
 * fuzz_tracker.c — the response tracker driven over a server byte stream
 * exactly as proxy/forward.c drives it (tests/common/rtdrive.c: header
 * plus first byte, want(), copy of the wanted bytes, feed, pass the frame
 * on), with any command first.
 *
 * Input: 1 byte of flags (bit 0 CLIENT_DEPRECATE_EOF, bit 1
 * CLIENT_SESSION_TRACK, bits 2-7 seed the split), 1 byte n, n bytes of
 * command payload, then the server's bytes. After each complete response
 * the same command is started again on the rest of the stream, as a
 * session's next command would be.
 *
 * Invariant: the bytes arriving all at once or in small pieces give the
 * same events, the same completion points and the same final state.
 */
#include "fuzz.h"

#include "rtdrive.h"

struct run {
	uint64_t hash;     /* FNV-1a over (rc, kind, frame length) of every feed */
	size_t feeds;
	size_t responses;  /* completed */
	size_t used;       /* bytes scanned when the run stopped */
	int last_rc;
	uint16_t status;
	enum proto_rt_state state;
};

static void mix(struct run *r, uint64_t v)
{
	for (int i = 0; i < 8; i++) {
		r->hash ^= (uint8_t)(v >> (8 * i));
		r->hash *= 0x100000001b3ULL;
	}
}

static void on_feed(struct rtdrive *d, int rc, const struct proto_rt_event *ev,
		    const struct proto_frame *f)
{
	struct run *r = d->arg;
	r->feeds++;
	mix(r, (uint64_t)(uint32_t)rc << 32 | (uint64_t)ev->kind << 24 | f->len);
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
		  const uint8_t *s, size_t len, uint32_t seed)
{
	struct proto_tracker t;
	struct rtdrive d;
	memset(r, 0, sizeof(*r));
	r->hash = 0xcbf29ce484222325ULL;
	proto_tracker_init(&t, caps);
	int rc = proto_tracker_start(&t, cmd, cmd_len);
	r->last_rc = rc;
	if (rc != RT_MORE)
		return;
	rtdrive_init(&d, &t, on_feed, r);
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
	uint64_t caps = CLIENT_PROTOCOL_41 | CLIENT_MULTI_RESULTS | CLIENT_PS_MULTI_RESULTS |
			CLIENT_LOCAL_FILES | ((flags & 1) ? CLIENT_DEPRECATE_EOF : 0) |
			((flags & 2) ? CLIENT_SESSION_TRACK : 0);
	/* the command as the proxy has it: a copy of exactly its bytes */
	uint8_t *c = malloc(n ? n : 1);
	if (!c)
		return 0;
	memcpy(c, cmd, n);

	struct run whole, split;
	drive(&whole, caps, c, n, data, size, 0);
	drive(&split, caps, c, n, data, size, (uint32_t)(flags >> 2) + 1);
	FUZZ_CHECK(whole.hash == split.hash && whole.feeds == split.feeds);
	FUZZ_CHECK(whole.responses == split.responses && whole.used == split.used);
	FUZZ_CHECK(whole.last_rc == split.last_rc);
	FUZZ_CHECK(whole.status == split.status && whole.state == split.state);
	free(c);
	return 0;
}
