/*
 * test_conn_read.c — plain reads of proxy/io/conn.c through the worker's read
 * blocks (proxy/io/conn_pool.c), on a socketpair and a real event loop: a
 * short read is copied and the block stays the pool's; a long one is lent
 * to the evbuffer and comes back when whatever holds it frees it; a stream
 * longer than a block arrives whole and in order with the free list
 * bounded; the pool, released with blocks still lent, is freed by the last
 * one's return (ASan checks the lifetimes); EOF is reported as before.
 */
#include <check.h>
#include <event2/buffer.h>
#include <event2/event.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "proxy/io/io.h"

struct seen {
	int reads;
	int eof;
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
	struct seen *s = arg;
	(void)c;
	if (ev == CONN_EOF)
		s->eof++;
	if (ev == CONN_ERROR)
		s->error++;
}

static const struct conn_cbs cbs = {on_read, on_drain, on_event};

struct rig {
	struct event_base *base;
	struct conn_pool *pool;
	struct conn c;
	struct seen seen;
	int peer; /* the other end of the socketpair: the test writes here */
};

static void rig_open(struct rig *r)
{
	int sv[2];
	memset(r, 0, sizeof(*r));
	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
	r->base = event_base_new();
	r->pool = conn_pool_new();
	ck_assert_ptr_nonnull(r->base);
	ck_assert_ptr_nonnull(r->pool);
	ck_assert_int_eq(conn_open_fd(&r->c, r->base, r->pool, sv[0], &cbs, &r->seen), 0);
	r->peer = sv[1];
	fcntl(r->peer, F_SETFL, fcntl(r->peer, F_GETFL) | O_NONBLOCK);
}

static void rig_close(struct rig *r)
{
	conn_close(&r->c);
	conn_pool_release(r->pool);
	if (r->peer >= 0)
		close(r->peer);
	event_base_free(r->base);
}

static uint8_t pattern(size_t i)
{
	return (uint8_t)(i * 7 + i / 251);
}

static void fill(uint8_t *p, size_t from, size_t len)
{
	for (size_t i = 0; i < len; i++)
		p[i] = pattern(from + i);
}

/* Whether buf holds pattern bytes from..from+len. */
static int holds_pattern(struct evbuffer *buf, size_t from, size_t len)
{
	if (evbuffer_get_length(buf) != len)
		return 0;
	uint8_t *p = evbuffer_pullup(buf, -1);
	for (size_t i = 0; i < len; i++)
		if (p[i] != pattern(from + i))
			return 0;
	return 1;
}

/* Send len pattern bytes (from the start) and run the loop until the conn
 * has read them all. */
static void send_and_read(struct rig *r, size_t len)
{
	uint8_t *data = malloc(len);
	ck_assert_ptr_nonnull(data);
	fill(data, 0, len);
	ck_assert_int_eq(write(r->peer, data, len), (ssize_t)len);
	free(data);
	for (int i = 0; i < 100 && evbuffer_get_length(r->c.in) < len; i++)
		event_base_loop(r->base, EVLOOP_ONCE);
	ck_assert_uint_eq(evbuffer_get_length(r->c.in), len);
}

START_TEST(short_read_is_copied)
{
	struct rig r;
	rig_open(&r);
	send_and_read(&r, 300);
	ck_assert_int_eq(r.seen.reads, 1);
	ck_assert(holds_pattern(r.c.in, 0, 300));
	/* Copied: no block is lent, the one read into stays current. */
	ck_assert_uint_eq(r.pool->out, 0);
	ck_assert_ptr_nonnull(r.pool->cur);
	rig_close(&r);
}
END_TEST

START_TEST(long_read_is_lent_and_comes_back)
{
	struct rig r;
	rig_open(&r);
	send_and_read(&r, 40000);
	ck_assert_int_eq(r.seen.reads, 1);
	ck_assert_uint_eq(r.pool->out, 1);
	ck_assert_ptr_null(r.pool->cur);
	/* Moved on whole (as forward.c moves a response), the block goes with
	 * the bytes and returns to the free list when they are freed. */
	struct evbuffer *other = evbuffer_new();
	ck_assert_int_eq(evbuffer_remove_buffer(r.c.in, other, 40000), 40000);
	ck_assert_uint_eq(r.pool->out, 1);
	ck_assert(holds_pattern(other, 0, 40000));
	evbuffer_free(other);
	ck_assert_uint_eq(r.pool->out, 0);
	ck_assert_uint_eq(r.pool->nfree, 1);
	/* The next read reuses it. */
	send_and_read(&r, 100);
	ck_assert_uint_eq(r.pool->nfree, 0);
	rig_close(&r);
}
END_TEST

START_TEST(stream_longer_than_a_block_arrives_in_order)
{
	struct rig r;
	rig_open(&r);
	const size_t total = 1000000;
	uint8_t *data = malloc(total);
	ck_assert_ptr_nonnull(data);
	fill(data, 0, total);
	struct evbuffer *got = evbuffer_new();
	size_t sent = 0;
	for (int turns = 0; evbuffer_get_length(got) < total && turns < 100000; turns++) {
		if (sent < total) {
			ssize_t n = write(r.peer, data + sent, total - sent);
			if (n > 0)
				sent += (size_t)n;
		}
		event_base_loop(r.base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
		/* Hand on all but a few bytes, leaving part of a block behind as
		 * an incomplete frame would be. */
		size_t avail = evbuffer_get_length(r.c.in);
		if (avail > 10)
			evbuffer_remove_buffer(r.c.in, got, avail - 10);
		if (sent == total && avail <= 10)
			evbuffer_remove_buffer(r.c.in, got, avail);
		ck_assert_uint_le(r.pool->nfree, 4);
	}
	ck_assert(holds_pattern(got, 0, total));
	evbuffer_free(got);
	ck_assert_uint_eq(r.pool->out, 0);
	ck_assert_uint_le(r.pool->nfree, 4);
	free(data);
	rig_close(&r);
}
END_TEST

START_TEST(released_pool_waits_for_lent_blocks)
{
	struct rig r;
	rig_open(&r);
	send_and_read(&r, 30000);
	ck_assert_uint_eq(r.pool->out, 1);
	struct evbuffer *held = evbuffer_new();
	evbuffer_add_buffer(held, r.c.in);
	/* The worker goes first; the bytes it lent are still readable. */
	conn_close(&r.c);
	conn_pool_release(r.pool);
	r.pool = NULL;
	ck_assert(holds_pattern(held, 0, 30000));
	evbuffer_free(held); /* the last block back frees the pool */
	close(r.peer);
	event_base_free(r.base);
}
END_TEST

START_TEST(eof_is_reported_after_the_data)
{
	struct rig r;
	rig_open(&r);
	send_and_read(&r, 5000);
	close(r.peer);
	r.peer = -1;
	for (int i = 0; i < 100 && !r.seen.eof; i++)
		event_base_loop(r.base, EVLOOP_ONCE);
	ck_assert_int_eq(r.seen.eof, 1);
	ck_assert_int_eq(r.seen.error, 0);
	ck_assert(holds_pattern(r.c.in, 0, 5000));
	rig_close(&r);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("conn_read");
	TCase *tc = tcase_create("core");
	tcase_add_test(tc, short_read_is_copied);
	tcase_add_test(tc, long_read_is_lent_and_comes_back);
	tcase_add_test(tc, stream_longer_than_a_block_arrives_in_order);
	tcase_add_test(tc, released_pool_waits_for_lent_blocks);
	tcase_add_test(tc, eof_is_reported_after_the_data);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
