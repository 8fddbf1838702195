/*
 * replay.c — recording an open transaction and running it again after a
 * move (see move.h).
 */
#include "proxy/move/move.h"

#include "proxy/session/session.h"

#include <event2/buffer.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/command.h"
#include "protocol/packet.h"
#include "protocol/sqlclass.h"
#include "proxy/process/worker_types.h"

/* Largest answer packet read while replaying (a row). */

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME  0x100000001b3ULL

static uint64_t hash_bytes(uint64_t h, const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= FNV_PRIME;
	}
	return h;
}

static uint64_t hash_u64(uint64_t h, uint64_t v)
{
	uint8_t b[8];
	for (int i = 0; i < 8; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	return hash_bytes(h, b, sizeof(b));
}

/* What of one answer packet goes into the checksum (the parts a second
 * server must reproduce; never session-state data). */
static uint64_t hash_event(uint64_t h, const struct proto_rt_event *ev)
{
	switch (ev->kind) {
	case RT_PKT_OK:
		h = hash_u64(h, ev->ok.affected_rows);
		return hash_u64(h, ev->ok.last_insert_id);
	case RT_PKT_ERR:
		return hash_u64(h, 0xe000u + ev->err.code);
	case RT_PKT_EOF:
		return hash_u64(h, 0xe0f);
	default:
		return h;
	}
}

static bool hashed_kind(enum proto_rt_kind k)
{
	return k == RT_PKT_ROW || k == RT_PKT_COLUMN_DEF || k == RT_PKT_COLUMN_COUNT ||
	       k == RT_PKT_STRING || k == RT_PKT_CONTINUATION;
}

void sess_replay_clear(struct session *s)
{
	struct sess_replay *r = &s->rp;
	for (size_t i = 0; i < r->n; i++)
		free(r->e[i].cmd);
	r->n = 0;
	r->bytes = 0;
	r->broken = false;
	r->recording = false;
	r->hash_rest = false;
}

void sess_replay_free(struct session *s)
{
	sess_replay_clear(s);
	free(s->rp.e);
	s->rp.e = NULL;
	s->rp.cap = 0;
}

static bool enabled(const struct session *s)
{
	return s->wt->cfg->transaction_replay;
}

void sess_replay_command(struct session *s, const uint8_t *payload, size_t have, uint32_t len,
			 uint32_t client_stmt)
{
	struct sess_replay *r = &s->rp;
	r->recording = false;
	r->hash_rest = false;
	if (!enabled(s))
		return;
	/* Outside a transaction the record starts afresh: what was kept
	 * belonged to one that ended. */
	if (!proto_facts_in_trans(&s->sf.f))
		sess_replay_clear(s);
	if (r->broken)
		return;
	uint8_t cmd = payload[0];
	bool keepable =
		have == len && len <= 64 * 1024 && (cmd == COM_QUERY || cmd == COM_STMT_EXECUTE);
	if (keepable && cmd == COM_QUERY) {
		/* USE and SET inside a transaction change how what follows runs:
		 * the restored session has their final effect, not the order.
		 * The kind is the one sess_facts_command() just found (a
		 * statement's kind does not depend on the backslash mode: it is
		 * decided by the words before any quote). */
		enum proto_sql_kind kind = s->sf.cmd_class.kind;
		if (kind == PROTO_SQL_KIND_USE || kind == PROTO_SQL_KIND_SET)
			keepable = false;
	}
	if (keepable && cmd == COM_STMT_EXECUTE && have >= 6 && (payload[5] & 0x07))
		keepable = false; /* a cursor's rows come by COM_STMT_FETCH, not replayed */
	if (cmd == COM_STMT_CLOSE || cmd == COM_STMT_SEND_LONG_DATA || cmd == COM_STMT_PREPARE ||
	    cmd == COM_PING || cmd == COM_STATISTICS || cmd == COM_FIELD_LIST)
		return; /* no effect on the transaction's data */
	if (!keepable || r->n >= REPLAY_MAX_STATEMENTS || r->bytes + len > REPLAY_MAX_BYTES) {
		if (proto_facts_in_trans(&s->sf.f) || cmd == COM_QUERY || cmd == COM_STMT_EXECUTE)
			r->broken = true;
		return;
	}
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;
		struct replay_entry *e = realloc(r->e, cap * sizeof(*e));
		if (!e) {
			r->broken = true;
			return;
		}
		r->e = e;
		r->cap = cap;
	}
	uint8_t *copy = malloc(len);
	if (!copy) {
		r->broken = true;
		return;
	}
	memcpy(copy, payload, len);
	if (cmd == COM_STMT_EXECUTE)
		proto_stmt_id_patch(copy, client_stmt);
	r->e[r->n] = (struct replay_entry){copy, len, cmd == COM_STMT_EXECUTE ? client_stmt : 0,
					   FNV_OFFSET};
	r->n++;
	r->bytes += len;
	r->recording = true;
}

/* Hash bytes [start, start + n) of the backend's input into the entry. */
static void hash_input(struct session *s, size_t start, size_t n)
{
	struct sess_replay *r = &s->rp;
	struct evbuffer_ptr pos;
	if (n == 0 || evbuffer_ptr_set(s->backend.in, &pos, start, EVBUFFER_PTR_SET) < 0)
		return;
	struct evbuffer_iovec v[8];
	while (n > 0) {
		int k = evbuffer_peek(s->backend.in, (ssize_t)n, &pos, v, 8);
		if (k <= 0)
			return;
		size_t done = 0;
		for (int i = 0; i < k && i < 8 && done < n; i++) {
			size_t take = v[i].iov_len < n - done ? v[i].iov_len : n - done;
			r->e[r->n - 1].sum = hash_bytes(r->e[r->n - 1].sum, v[i].iov_base, take);
			done += take;
		}
		if (done == 0)
			return;
		n -= done;
		if (n && evbuffer_ptr_set(s->backend.in, &pos, done, EVBUFFER_PTR_ADD) < 0)
			return;
	}
}

void sess_replay_frame(struct session *s, const struct proto_rt_event *ev, size_t start,
		       uint32_t len)
{
	struct sess_replay *r = &s->rp;
	if (!r->recording)
		return;
	struct replay_entry *e = &r->e[r->n - 1];
	r->hash_rest = false;
	if (!hashed_kind(ev->kind)) {
		e->sum = hash_event(e->sum, ev);
		return;
	}
	size_t avail = evbuffer_get_length(s->backend.in);
	size_t from = start + PROTO_HEADER_LEN;
	size_t n = from < avail ? avail - from : 0;
	if (n > len)
		n = len;
	hash_input(s, from, n);
	r->hash_rest = n < len;
}

void sess_replay_more(struct session *s, size_t start, size_t n)
{
	if (s->rp.recording && s->rp.hash_rest)
		hash_input(s, start, n);
}

void sess_replay_result(struct session *s)
{
	struct sess_replay *r = &s->rp;
	if (!r->recording)
		return;
	r->recording = false;
	r->hash_rest = false;
	/* The statement ended the transaction (COMMIT, ROLLBACK, DDL) or ran
	 * outside one: nothing to keep. */
	if (!proto_facts_in_trans(&s->sf.f))
		sess_replay_clear(s);
}

void sess_replay_rerun(struct session *s)
{
	struct sess_replay *r = &s->rp;
	if (r->recording)
		r->e[r->n - 1].sum = FNV_OFFSET;
	r->hash_rest = false;
}

/* ------------------------------------------------------------ replaying */

bool sess_replay_possible(const struct session *s)
{
	const struct sess_replay *r = &s->rp;
	return enabled(s) && !r->broken && (r->n > (r->recording ? 1u : 0u) || r->recording);
}

/* The entries that are complete (the one in flight runs again later). */
static size_t complete(const struct sess_replay *r)
{
	return r->recording ? r->n - 1 : r->n;
}

static bool answer(struct session *s, const struct own_entry *e, const uint8_t *p, uint32_t len,
		   const struct proto_rt_event *ev, bool last);

/* Queue the answer of entry i (own.c). */
static bool owe(struct session *s, size_t i)
{
	struct replay_entry *e = &s->rp.e[i];
	return own_push(s, OWN_REPLAY, e->cmd, e->len, (uint32_t)i, 0, answer);
}

void sess_replay_send(struct session *s)
{
	struct sess_replay *r = &s->rp;
	r->active = true;
	r->mismatch = false;
	r->sum = FNV_OFFSET;
	size_t n = complete(r);
	for (size_t i = 0; i < n; i++) {
		struct replay_entry *e = &r->e[i];
		uint8_t hdr[PROTO_HEADER_LEN];
		proto_frame_build(hdr, e->len, 0);
		if (e->client_stmt) {
			const struct proto_facts_stmt *st =
				proto_facts_stmt_find(&s->sf.f, e->client_stmt);
			if (!st) {
				r->mismatch = true; /* the statement could not be prepared again */
				continue;
			}
			proto_stmt_id_patch(e->cmd, st->backend_id);
			size_t tlen = 0;
			uint8_t *typed = !st->bound ? sess_facts_exec_types(s, e->client_stmt,
									    e->cmd, e->len, &tlen)
						    : NULL;
			if (typed) {
				proto_frame_build(hdr, (uint32_t)tlen, 0);
				evbuffer_add(s->backend.out, hdr, sizeof(hdr));
				evbuffer_add(s->backend.out, typed, tlen);
				free(typed);
			} else {
				evbuffer_add(s->backend.out, hdr, sizeof(hdr));
				evbuffer_add(s->backend.out, e->cmd, e->len);
			}
			proto_stmt_id_patch(e->cmd, e->client_stmt);
			if (!owe(s, i))
				r->mismatch = true;
			continue;
		}
		evbuffer_add(s->backend.out, hdr, sizeof(hdr));
		evbuffer_add(s->backend.out, e->cmd, e->len);
		if (!owe(s, i))
			r->mismatch = true;
	}
	/* Skipped entries owe no answer; answers come for the rest, in order. */
}

/* One packet of the answer to replayed entry e->ref: checksummed as the
 * original was; at its end, compared. */
static bool answer(struct session *s, const struct own_entry *e, const uint8_t *p, uint32_t len,
		   const struct proto_rt_event *ev, bool last)
{
	struct sess_replay *r = &s->rp;
	if (!p) {
		sess_backend_wait(s, "malformed answer to a replayed statement");
		return false;
	}
	if (hashed_kind(ev->kind))
		r->sum = hash_bytes(r->sum, p, len);
	else
		r->sum = hash_event(r->sum, ev);
	if (!last)
		return true;
	if (ev->kind == RT_PKT_LOCAL_INFILE || e->ref >= r->n || r->sum != r->e[e->ref].sum) {
		r->mismatch = true;
		log_info("session %llu: replayed statement %u of %zu answered differently on the "
			 "new primary",
			 (unsigned long long)s->id, e->ref + 1, complete(r));
	}
	r->sum = FNV_OFFSET;
	return true;
}

int sess_replay_outcome(struct session *s)
{
	struct sess_replay *r = &s->rp;
	r->active = false;
	return r->mismatch ? -1 : 1;
}
