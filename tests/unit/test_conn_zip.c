/*
 * test_conn_zip.c — proxy/io/conn.c's compressed-protocol layer on a
 * socketpair and a real event loop: frames arriving whole, several in one
 * read and one byte at a time become exactly their plain bytes in c->in
 * (a partial frame wakes no one); bytes read before conn_zip_start are
 * taken as frames; what c->out held before it goes out plain, what comes
 * after goes out in frames of at most 64 KiB plain whose sequence ids
 * follow the peer's last; a frame that does not inflate is a CONN_ERROR.
 */
#include <check.h>
#include <errno.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <zlib.h>

#include "protocol/compress.h"
#include "proxy/io/io.h"

struct seen {
	int reads;
	int error;
};

static void on_read(struct conn *c, void *arg)
{
	(void)c;
	((struct seen *)arg)->reads++;
}

static void on_drain(struct conn *c, void *arg)
{
	(void)c;
	(void)arg;
}

static void on_event(struct conn *c, enum conn_event ev, void *arg)
{
	(void)c;
	if (ev == CONN_ERROR)
		((struct seen *)arg)->error++;
}

static const struct conn_cbs cbs = {on_read, on_drain, on_event};

struct rig {
	struct event_base *base;
	struct conn_pool *pool;
	struct conn c;
	struct seen seen;
	int peer;
};

static void rig_open(struct rig *r)
{
	int sv[2];
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r->base = event_base_new();
	r->pool = conn_pool_new();
	ck_assert_int_eq(conn_open_fd(&r->c, r->base, r->pool, sv[0], &cbs, &r->seen), 0);
	r->peer = sv[1];
	fcntl(r->peer, F_SETFL, fcntl(r->peer, F_GETFL) | O_NONBLOCK);
}

static void rig_close(struct rig *r)
{
	conn_close(&r->c);
	conn_pool_release(r->pool);
	close(r->peer);
	event_base_free(r->base);
}

static void spin(struct rig *r, int turns)
{
	for (int i = 0; i < turns; i++)
		event_base_loop(r->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
}

/* One frame of len plain bytes of `text` (deflated when it pays). */
static size_t frame(uint8_t *out, const char *text, size_t len, uint8_t seq)
{
	long n = proto_zframe_build((const uint8_t *)text, len, seq, Z_DEFAULT_COMPRESSION, out,
				    proto_zframe_bound(len));
	ck_assert_int_gt(n, 0);
	return (size_t)n;
}

static const char TEXT[] = "\x21\x00\x00\x00\x03SELECT 'aaaaaaaaaaaaaaaaaaaaaaaaaaa'"
			   "\x05\x00\x00\x00\x03SELE" /* a packet cut by the frame's end */;

START_TEST(frames_in_become_plain_bytes)
{
	struct rig r;
	rig_open(&r);
	ck_assert_int_eq(conn_zip_start(&r.c, 1, false), 0);
	ck_assert(conn_is_compressed(&r.c));
	uint8_t buf[512];
	size_t len = sizeof(TEXT) - 1;
	size_t n1 = frame(buf, TEXT, len, 0);      /* deflated (>= 50 bytes) */
	size_t n2 = frame(buf + n1, "CT 1", 4, 1); /* stored */
	ck_assert_uint_ne(buf[4] | buf[5] << 8 | buf[6] << 16, 0);
	/* both frames in one write */
	ck_assert_int_eq(write(r.peer, buf, n1 + n2), (ssize_t)(n1 + n2));
	spin(&r, 5);
	ck_assert_int_eq(r.seen.reads, 1);
	ck_assert_uint_eq(evbuffer_get_length(r.c.in), len + 4);
	ck_assert_mem_eq(evbuffer_pullup(r.c.in, -1), TEXT, len);
	ck_assert_mem_eq(evbuffer_pullup(r.c.in, -1) + len, "CT 1", 4);
	evbuffer_drain(r.c.in, len + 4);
	/* one byte at a time: nothing until the frame is whole */
	for (size_t i = 0; i < n1; i++) {
		ck_assert_int_eq(write(r.peer, buf + i, 1), 1);
		spin(&r, 2);
		ck_assert_int_eq(r.seen.reads, i + 1 < n1 ? 1 : 2);
	}
	ck_assert_uint_eq(evbuffer_get_length(r.c.in), len);
	ck_assert_int_eq(r.seen.error, 0);
	rig_close(&r);
}
END_TEST

START_TEST(bytes_read_before_the_start_are_frames)
{
	struct rig r;
	rig_open(&r);
	uint8_t buf[64];
	size_t n = frame(buf, "\x01\x00\x00\x00\x0e", 5, 0);
	ck_assert_int_eq(write(r.peer, buf, n), (ssize_t)n);
	spin(&r, 5);
	ck_assert_uint_eq(evbuffer_get_length(r.c.in), n); /* plain so far */
	int reads = r.seen.reads;
	ck_assert_int_eq(conn_zip_start(&r.c, 1, false), 0);
	/* inflated at once, reported from the loop */
	ck_assert_uint_eq(evbuffer_get_length(r.c.in), 5);
	ck_assert_int_eq(r.seen.reads, reads);
	spin(&r, 5);
	ck_assert_int_eq(r.seen.reads, reads + 1);
	ck_assert_uint_eq(evbuffer_get_length(r.c.in), 5);
	ck_assert_mem_eq(evbuffer_pullup(r.c.in, -1), "\x01\x00\x00\x00\x0e", 5);
	rig_close(&r);
}
END_TEST

/* Read every frame the peer got; returns the plain bytes (malloc'd). */
static uint8_t *peer_frames(struct rig *r, size_t *plain_len, uint8_t *first_seq, size_t *frames,
			    size_t skip_plain)
{
	static uint8_t raw[1 << 21];
	size_t have = 0;
	for (int i = 0; i < 200; i++) {
		spin(r, 2);
		ssize_t got = read(r->peer, raw + have, sizeof(raw) - have);
		if (got > 0)
			have += (size_t)got;
		else if (conn_pending(&r->c) == 0)
			break;
	}
	ck_assert_uint_ge(have, skip_plain);
	uint8_t *out = malloc(1 << 21);
	size_t off = skip_plain, ol = 0;
	*frames = 0;
	while (off < have) {
		struct proto_zframe f;
		ck_assert_int_eq(proto_zframe_parse(raw + off, have - off, &f), 7);
		ck_assert_uint_le(proto_zframe_plain_len(&f), 64 * 1024);
		if (*frames == 0)
			*first_seq = f.seq;
		else
			ck_assert_uint_eq(f.seq, (uint8_t)(*first_seq + *frames));
		ck_assert_int_eq(proto_zframe_inflate(&f, raw + off + 7, out + ol),
				 (long)proto_zframe_plain_len(&f));
		ol += proto_zframe_plain_len(&f);
		off += 7 + f.clen;
		(*frames)++;
	}
	ck_assert_uint_eq(off, have);
	*plain_len = ol;
	return out;
}

START_TEST(writes_go_out_in_frames_after_the_peers)
{
	struct rig r;
	rig_open(&r);
	/* the login's OK, queued before the start, goes out plain */
	static const uint8_t ok[] = {7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0};
	evbuffer_add(r.c.out, ok, sizeof(ok));
	ck_assert_int_eq(conn_zip_start(&r.c, 6, false), 0);
	/* the peer's command comes in frame 0 */
	uint8_t buf[64];
	size_t n = frame(buf, "\x01\x00\x00\x00\x0e", 5, 0);
	ck_assert_int_eq(write(r.peer, buf, n), (ssize_t)n);
	spin(&r, 5);
	ck_assert_uint_eq(evbuffer_get_length(r.c.in), 5);
	/* a small answer and a 200 000-byte one */
	static uint8_t big[200000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i % 97);
	ck_assert_int_eq(conn_write(&r.c,
				    "\x03\x00\x00\x01"
				    "abc",
				    7),
			 0);
	ck_assert_int_eq(conn_write(&r.c, big, sizeof(big)), 0);
	uint8_t head[sizeof(ok)];
	ck_assert_int_eq(read(r.peer, head, sizeof(head)), (ssize_t)sizeof(head));
	ck_assert_mem_eq(head, ok, sizeof(ok));
	size_t plain, frames;
	uint8_t first;
	uint8_t *got = peer_frames(&r, &plain, &first, &frames, 0);
	ck_assert_uint_eq(first, 1); /* after the peer's frame 0 */
	ck_assert_uint_ge(frames, 4);
	ck_assert_uint_eq(plain, 7 + sizeof(big));
	ck_assert_mem_eq(got,
			 "\x03\x00\x00\x01"
			 "abc",
			 7);
	ck_assert_mem_eq(got + 7, big, sizeof(big));
	free(got);
	/* the next command restarts the count */
	ck_assert_int_eq(write(r.peer, buf, n), (ssize_t)n);
	spin(&r, 5);
	ck_assert_int_eq(conn_write(&r.c,
				    "\x01\x00\x00\x01"
				    "x",
				    5),
			 0);
	got = peer_frames(&r, &plain, &first, &frames, 0);
	ck_assert_uint_eq(first, 1);
	ck_assert_uint_eq(frames, 1);
	free(got);
	rig_close(&r);
}
END_TEST

START_TEST(a_bad_frame_is_an_error)
{
	struct rig r;
	rig_open(&r);
	ck_assert_int_eq(conn_zip_start(&r.c, 1, false), 0);
	/* claims 100 plain bytes; the payload is no zlib stream */
	static const uint8_t bad[] = {8, 0, 0, 0, 100, 0, 0, 0x78, 0x9c, 1, 2, 3, 4, 5, 6};
	ck_assert_int_eq(write(r.peer, bad, sizeof(bad)), (ssize_t)sizeof(bad));
	spin(&r, 5);
	ck_assert_int_eq(r.seen.error, 1);
	ck_assert_int_eq(r.c.error, EBADMSG);
	ck_assert_int_eq(r.seen.reads, 0);
	rig_close(&r);
}
END_TEST

/* As the client: each command's frames start at 0 (two pipelined commands
 * are two frames 0), data that answers the server (LOCAL INFILE) follows
 * its frame, and a packet 0 after a packet 255 with nothing heard is the
 * wrap of a long run, not a command. */
START_TEST(client_commands_start_at_zero)
{
	struct rig r;
	rig_open(&r);
	/* the server's OK is in c->in, plain, when the client role starts */
	static const uint8_t ok[] = {7, 0, 0, 2, 0, 0, 0, 2, 0, 0, 0};
	ck_assert_int_eq(write(r.peer, ok, sizeof(ok)), (ssize_t)sizeof(ok));
	for (int i = 0; i < 50 && evbuffer_get_length(r.c.in) < sizeof(ok); i++)
		spin(&r, 1);
	ck_assert_int_eq(conn_zip_start(&r.c, 1, true), 0);
	ck_assert_uint_eq(evbuffer_get_length(r.c.in), sizeof(ok));
	ck_assert_mem_eq(evbuffer_pullup(r.c.in, -1), ok, sizeof(ok));
	/* two commands in one flush */
	static const uint8_t two[] = {1, 0, 0, 0, 0x0e, 1, 0, 0, 0, 0x0e};
	size_t plain, frames;
	uint8_t first;
	uint8_t *got;
	ck_assert_int_eq(conn_write(&r.c, two, sizeof(two)), 0);
	uint8_t raw[64];
	spin(&r, 3);
	ssize_t n = read(r.peer, raw, sizeof(raw));
	ck_assert_int_eq(n, 2 * (7 + 5));
	ck_assert_uint_eq(raw[3], 0);
	ck_assert_uint_eq(raw[12 + 3], 0);
	/* the server answers LOAD DATA with frame 1 (a file request): the
	 * data packets 2..300 follow it as frames 2.., one frame each flush */
	uint8_t buf[64];
	size_t fl = frame(buf,
			  "\x05\x00\x00\x01\xfb"
			  "f.cs",
			  9, 1);
	ck_assert_int_eq(write(r.peer, buf, fl), (ssize_t)fl);
	spin(&r, 3);
	uint8_t seq_expect = 2;
	for (int k = 2; k <= 300; k++) {
		uint8_t pkt[5] = {1, 0, 0, (uint8_t)k, 'x'};
		ck_assert_int_eq(conn_write(&r.c, pkt, sizeof(pkt)), 0);
		spin(&r, 1);
		ck_assert_int_eq(read(r.peer, raw, sizeof(raw)), 12);
		ck_assert_uint_eq(raw[3], seq_expect); /* the wrap to 0 is no command */
		seq_expect++;
	}
	/* the server's OK, then the next command starts at 0 again */
	fl = frame(buf, "\x07\x00\x00\x2d\x00\x00\x00\x02\x00\x00\x00", 11, seq_expect);
	ck_assert_int_eq(write(r.peer, buf, fl), (ssize_t)fl);
	spin(&r, 3);
	ck_assert_int_eq(conn_write(&r.c, two, 5), 0);
	spin(&r, 1);
	ck_assert_int_eq(read(r.peer, raw, sizeof(raw)), 12);
	ck_assert_uint_eq(raw[3], 0);
	/* a command streamed in pieces, its header split: one frame 0 for the
	 * first piece, the rest continues it */
	static const uint8_t q[] = {6, 0, 0, 0, 3, 'S', 'E', 'L', 'E', 'C'};
	ck_assert_int_eq(conn_write(&r.c, q, 2), 0); /* half a header: waits */
	spin(&r, 1);
	ck_assert_int_eq(read(r.peer, raw, sizeof(raw)), -1);
	ck_assert_int_eq(conn_write(&r.c, q + 2, 5), 0);
	ck_assert_int_eq(conn_write(&r.c, q + 7, 3), 0);
	got = peer_frames(&r, &plain, &first, &frames, 0);
	ck_assert_uint_eq(first, 0);
	ck_assert_uint_eq(plain, sizeof(q));
	ck_assert_mem_eq(got, q, sizeof(q));
	free(got);
	rig_close(&r);
}
END_TEST

/* Frames that inflate to far more than they weigh (4 MiB of zeros each)
 * sent at once: c->in never holds much more than one frame beyond what the
 * session has not taken; the rest comes as it is taken, all of it, in
 * order, without a further byte from the socket. */
START_TEST(inflating_waits_for_the_session)
{
	struct rig r;
	rig_open(&r);
	ck_assert_int_eq(conn_zip_start(&r.c, 1, false), 0);
	enum { FRAMES = 8, PLAIN = 4 << 20 };
	uint8_t *zeros = calloc(1, PLAIN);
	size_t cap = proto_zframe_bound(PLAIN);
	uint8_t *wire = malloc(cap * FRAMES);
	size_t wl = 0;
	for (int i = 0; i < FRAMES; i++) {
		zeros[0] = (uint8_t)i; /* tells the frames apart */
		long n = proto_zframe_build(zeros, PLAIN, (uint8_t)i, 6, wire + wl, cap);
		ck_assert_int_gt(n, 0);
		wl += (size_t)n;
	}
	ck_assert_uint_lt(wl, 200000); /* a few KiB per frame: one write */
	ck_assert_int_eq(write(r.peer, wire, wl), (ssize_t)wl);
	size_t total = 0;
	for (int turn = 0; turn < 200 && total < (size_t)FRAMES * PLAIN; turn++) {
		spin(&r, 1);
		size_t have = evbuffer_get_length(r.c.in);
		ck_assert_uint_le(have, 256 * 1024 + PLAIN);
		uint8_t *p = have ? evbuffer_pullup(r.c.in, -1) : NULL;
		for (size_t k = 0; k < have; k += PLAIN)
			ck_assert_uint_eq(p[k], (total + k) / PLAIN);
		evbuffer_drain(r.c.in, have);
		total += have;
	}
	ck_assert_uint_eq(total, (size_t)FRAMES * PLAIN);
	ck_assert_int_eq(r.seen.error, 0);
	free(zeros);
	free(wire);
	rig_close(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("conn_zip");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, frames_in_become_plain_bytes);
	tcase_add_test(tc, bytes_read_before_the_start_are_frames);
	tcase_add_test(tc, writes_go_out_in_frames_after_the_peers);
	tcase_add_test(tc, a_bad_frame_is_an_error);
	tcase_add_test(tc, client_commands_start_at_zero);
	tcase_add_test(tc, inflating_waits_for_the_session);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
