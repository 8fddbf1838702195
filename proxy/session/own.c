/*
 * own.c — the queue of statements tandem sends on its own on a session's
 * backend connection, and the one place their answers are swallowed.
 *
 * Every statement tandem writes to the backend for itself (setup, restore,
 * replay, reset) is pushed here with its purpose and its reader, in the
 * order sent. The backend answers in that order, before any answer to a
 * client statement written after them, so the head of the queue always
 * names whose answer the next packet is. The tracker finds where each
 * answer ends, whatever its shape (an OK, an ERR, a result set).
 *
 * Must not: call a phase, forward a byte to the client.
 */
#include "proxy/session/session.h"

#include <stdlib.h>
#include <string.h>

#include "proxy/session/session_types.h"

/* Largest packet of an answer tandem reads itself whole (a replayed
 * statement's row may be large); larger is a broken server. */
#define OWN_PACKET_MAX (16u << 20)

bool own_push(struct session *s, enum own_purpose purpose, const uint8_t *cmd, size_t len,
	      uint32_t ref, uint32_t arg, own_reader read)
{
	struct own_queue *q = &s->own;
	if (q->head == q->n)
		q->head = q->n = 0;
	if (q->n == q->cap) {
		size_t cap = q->cap ? q->cap * 2 : 8;
		struct own_entry *e = realloc(q->e, cap * sizeof(*e));
		if (!e)
			return false;
		q->e = e;
		q->cap = cap;
	}
	struct own_entry *e = &q->e[q->n++];
	*e = (struct own_entry){.purpose = (uint8_t)purpose, .ref = ref, .arg = arg, .read = read};
	e->cmd_len = (uint8_t)(len < sizeof(e->cmd) ? len : sizeof(e->cmd));
	memcpy(e->cmd, cmd, e->cmd_len);
	return true;
}

size_t own_pending_for(const struct session *s, enum own_purpose purpose)
{
	size_t n = 0;
	for (size_t i = s->own.head; i < s->own.n; i++)
		n += s->own.e[i].purpose == purpose;
	return n;
}

void own_clear(struct session *s)
{
	s->own.head = s->own.n = 0;
	s->own.started = false;
}

bool own_read(struct session *s)
{
	struct own_queue *q = &s->own;
	while (q->head < q->n) {
		const uint8_t *p;
		uint32_t len;
		uint8_t seq;
		int span = sess_packet_peek(s->backend.in, OWN_PACKET_MAX, &p, &len, &seq);
		if (span == 0)
			return false;
		/* a copy: the reader may push (and so move) entries */
		struct own_entry e = q->e[q->head];
		if (!q->started) {
			proto_tracker_init(&q->tr, s->backend_caps);
			proto_tracker_start(&q->tr, e.cmd, e.cmd_len);
			q->started = true;
		}
		struct proto_rt_event ev;
		int rc = span < 0 || len == 0 ? PROTO_E_MALFORMED
					      : proto_tracker_feed(&q->tr, p, len, len, &ev);
		if (rc < 0) {
			own_clear(s);
			e.read(s, &e, NULL, 0, NULL, true);
			return false;
		}
		bool last = rc == RT_DONE || rc == RT_INFILE;
		if (last) {
			q->head++;
			q->started = false;
		}
		bool go_on = e.read(s, &e, p, len, &ev, last);
		/* after the reader: p points into the buffer until then (a
		 * reader that closed the connection left no buffer) */
		if (s->backend.in)
			evbuffer_drain(s->backend.in, (size_t)span);
		if (!go_on)
			return false;
	}
	return true;
}

void own_free(struct session *s)
{
	free(s->own.e);
	s->own.e = NULL;
	s->own.head = s->own.n = s->own.cap = 0;
}
