/*
 * commit_guard.c — commit markers (see commit_guard.h): which commands are
 * guarded, the statements tandem adds around them, their answers, and the
 * answer to a guarded command cut off by a failover.
 */
#include "proxy/commit_guard.h"

#include <event2/buffer.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/command.h"
#include "protocol/okerr.h"
#include "protocol/packet.h"
#include "protocol/sqlclass.h"
#include "proxy/session.h"
#include "proxy/worker.h"

/* Largest answer to one of tandem's guard statements (an OK or an ERR). */
#define GUARD_REPLY_MAX 65536

void sess_guard_free(struct session *s)
{
	if (s->cg.held)
		evbuffer_free(s->cg.held);
	s->cg.held = NULL;
	free(s->cg.commit_state);
	s->cg.commit_state = NULL;
}

struct evbuffer *sess_guard_out(struct session *s)
{
	return s->cg.holding ? s->cg.held : s->client.out;
}

static const char *schema(const struct session *s)
{
	return s->wt->cfg->cluster->monitor.heartbeat_schema;
}

static void send_query(struct session *s, const char *sql, size_t len)
{
	uint8_t hdr[PROTO_HEADER_LEN + 1];
	proto_frame_build(hdr, (uint32_t)(len + 1), 0);
	hdr[PROTO_HEADER_LEN] = COM_QUERY;
	evbuffer_add(s->backend.out, hdr, sizeof(hdr));
	evbuffer_add(s->backend.out, sql, len);
}

/* The marker row of this commit: seq, and for an autocommit write what the
 * write did, so its OK can be rebuilt if only the marker survives. */
static void send_marker(struct session *s, bool with_counts)
{
	struct sess_guard *g = &s->cg;
	char sql[400];
	int n = snprintf(sql, sizeof(sql),
			 "INSERT INTO `%s`.`commit_marker` (id, seq, affected, insert_id) VALUES "
			 "(%llu, %llu, %s) ON DUPLICATE KEY UPDATE seq = VALUES(seq), "
			 "affected = VALUES(affected), insert_id = VALUES(insert_id)",
			 schema(s), (unsigned long long)g->id, (unsigned long long)g->seq,
			 with_counts ? "ROW_COUNT(), LAST_INSERT_ID()" : "0, 0");
	send_query(s, sql, (size_t)n);
}

static bool wrote(const struct proto_facts *f)
{
	return strpbrk(f->trx_state, "wW") != NULL;
}

/* The SQL class (flags and kind) of a whole command: a COM_QUERY's is
 * the one sess_facts_command() just gave its text (the same call: the
 * session's backslash mode, not partial), a prepared statement's the one
 * its text got at prepare time. Classified once, not again here: every
 * query comes by. */
static bool classify(const struct session *s, const uint8_t *p, size_t have,
		     struct proto_sql_class *c)
{
	if (p[0] == COM_QUERY) {
		*c = s->sf.cmd_class;
		return true;
	}
	if (p[0] == COM_STMT_EXECUTE && have >= 10 && !(p[5] & 0x07)) {
		const struct proto_facts_stmt *st =
			proto_facts_stmt_find(&s->sf.f, s->mg.cmd_client_id);
		if (!st || !st->sql)
			return false;
		memset(c, 0, sizeof(*c));
		c->flags = st->sql_flags;
		c->kind = (enum proto_sql_kind)st->sql_kind;
		return true;
	}
	return false;
}

void sess_guard_command(struct session *s, const uint8_t *payload, size_t have, bool whole)
{
	struct sess_guard *g = &s->cg;
	g->mode = CG_NONE;
	g->before = g->after = 0;
	g->poisoned = g->holding = g->held_err = false;
	g->commit_err = 0;
	g->outcome = CG_UNKNOWN;
	const struct proto_facts *f = &s->sf.f;
	/* Tracking still being set up (the session's first command travels
	 * right behind tandem's setup statement) will be on, or refused, by
	 * the time this command runs: it does not make the command unguarded. */
	if (!s->wt->cfg->commit_guard || g->off || !whole || (!f->tracking && !s->sf.setup_pending))
		return;
	struct proto_sql_class c;
	if (!classify(s, payload, have, &c) || (c.flags & (PROTO_SQL_MULTI | PROTO_SQL_PARTIAL)))
		return;
	bool in_trans = proto_facts_in_trans(f);
	if (c.kind == PROTO_SQL_KIND_COMMIT && in_trans && wrote(f)) {
		g->mode = CG_COMMIT;
	} else if (c.kind == PROTO_SQL_KIND_WRITE && !in_trans && proto_facts_autocommit(f) &&
		   !(c.flags & PROTO_SQL_RETURNING)) {
		g->mode = CG_WRAP;
	} else {
		return;
	}
	while (!g->id)
		if (RAND_bytes((unsigned char *)&g->id, sizeof(g->id)) != 1)
			g->id = (uint64_t)s->id * 0x9e3779b97f4a7c15ULL;
	g->id &= 0x7fffffffffffffffULL; /* fits BIGINT */
	if (g->mode == CG_WRAP && !g->held && !(g->held = evbuffer_new())) {
		g->mode = CG_NONE; /* no memory to hold the answer: go unguarded */
		return;
	}
	g->seq++;
	if (g->mode == CG_COMMIT) {
		send_marker(s, false);
	} else {
		send_query(s, "BEGIN", 5);
		g->holding = true;
	}
	g->before = 1;
}

void sess_guard_after_command(struct session *s)
{
	struct sess_guard *g = &s->cg;
	if (g->mode != CG_WRAP)
		return;
	send_marker(s, true);
	send_query(s, "COMMIT", 6);
	g->after = 2;
}

/* One answer to a guard statement: 1 read (ok says whether it was an OK),
 * 0 waiting, -1 the session failed. *e is set for an ERR. ok and e point
 * into the input, which is drained here: they are only good for their
 * scalar fields afterwards; copy (when given) receives the OK's session
 * state, which is also applied to the facts (tandem's COMMIT ends the
 * client's write). */
static int read_answer(struct session *s, struct proto_ok *ok, struct proto_err_pkt *e, bool *is_ok,
		       uint8_t **copy, size_t *copy_len)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	int span = sess_packet_peek(s->backend.in, GUARD_REPLY_MAX, &p, &len, &seq);
	if (span == 0)
		return 0;
	if (span > 0 && len > 0 && p[0] == PROTO_OK_HEADER &&
	    proto_ok_parse(p, len, s->backend_caps, ok) > 0) {
		*is_ok = true;
		if (copy) {
			if (ok->session_state.len) {
				*copy = malloc(ok->session_state.len);
				if (*copy) {
					memcpy(*copy, ok->session_state.p, ok->session_state.len);
					*copy_len = ok->session_state.len;
				}
			}
			sess_facts_ok(s, ok);
		}
	} else if (span > 0 && len > 0 && p[0] == PROTO_ERR_HEADER &&
		   proto_err_parse(p, len, s->backend_caps, e) > 0) {
		*is_ok = false;
		snprintf(s->cg.commit_err_msg, sizeof(s->cg.commit_err_msg), "%.*s",
			 (int)e->message.len, e->message.p);
	} else {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
			  "tandem: the database server sent a malformed answer to a commit marker");
		return -1;
	}
	evbuffer_drain(s->backend.in, (size_t)span);
	return 1;
}

/* A marker was refused. A deadlock rolled the transaction back (the COMMIT
 * behind it then commits nothing); anything else (no table, no
 * privilege) just leaves this session unguarded from now on. */
static void marker_refused(struct session *s, const struct proto_err_pkt *e)
{
	struct sess_guard *g = &s->cg;
	if (e->code == ER_LOCK_DEADLOCK) {
		g->poisoned = true;
		return;
	}
	if (!g->off)
		log_warn(
			"session %llu (tenant %s): commit marker refused (error %u: %s); commits of "
			"this session cut off by a failover will be reported as of unknown outcome. "
			"Grant SELECT, INSERT, UPDATE on %s.commit_marker to '%s'",
			(unsigned long long)s->id, s->wt->name, e->code, g->commit_err_msg,
			schema(s), s->user);
	g->off = true;
}

bool sess_guard_read_before(struct session *s)
{
	struct sess_guard *g = &s->cg;
	while (g->before > 0) {
		struct proto_ok ok;
		struct proto_err_pkt e;
		bool is_ok;
		int rc = read_answer(s, &ok, &e, &is_ok, NULL, NULL);
		if (rc <= 0)
			return false;
		g->before--;
		if (!is_ok && g->mode == CG_COMMIT)
			marker_refused(s, &e);
	}
	return true;
}

/* Send the client's OK (held, backend shape) with the status of tandem's
 * COMMIT: the transaction tandem opened around it is closed. */
static void release_ok(struct session *s, const uint8_t *pkt, size_t n)
{
	struct sess_guard *g = &s->cg;
	struct proto_ok ok;
	if (n < PROTO_HEADER_LEN || proto_ok_parse(pkt + PROTO_HEADER_LEN, n - PROTO_HEADER_LEN,
						   s->backend_caps, &ok) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: a malformed OK");
		return;
	}
	ok.status = g->commit_status;
	ok.session_state.p = g->commit_state ? g->commit_state : "";
	ok.session_state.len = g->commit_state ? g->commit_state_len : 0;
	if (ok.session_state.len)
		ok.status |= SERVER_SESSION_STATE_CHANGED;
	size_t cap = 64 + ok.info.len + ok.session_state.len;
	uint8_t *buf = malloc(cap);
	if (!buf) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
		return;
	}
	struct proto_wr w;
	proto_wr_init(&w, buf, cap);
	proto_ok_build(&w, pkt[3], &ok, s->backend_caps);
	sess_send_ok(s, buf + PROTO_HEADER_LEN, (uint32_t)(w.len - PROTO_HEADER_LEN), pkt[3]);
	free(buf);
}

bool sess_guard_read_after(struct session *s)
{
	struct sess_guard *g = &s->cg;
	while (g->after > 0) {
		struct proto_ok ok;
		struct proto_err_pkt e;
		bool is_ok;
		uint8_t *state = NULL;
		size_t state_len = 0;
		int rc = read_answer(s, &ok, &e, &is_ok, g->after == 1 ? &state : NULL, &state_len);
		if (rc <= 0)
			return false;
		if (g->after == 2 && !is_ok) {
			marker_refused(s, &e);
		} else if (g->after == 1) {
			if (is_ok) {
				g->commit_status = ok.status;
				free(g->commit_state);
				g->commit_state = (char *)state;
				g->commit_state_len = state_len;
			} else {
				g->commit_err = e.code;
				memcpy(g->commit_err_state, e.sqlstate, 6);
			}
		}
		g->after--;
	}
	/* Everything is in: the client's answer goes out now. */
	g->holding = false;
	size_t n = evbuffer_get_length(g->held);
	uint8_t *pkt = evbuffer_pullup(g->held, -1);
	uint8_t seq = n >= PROTO_HEADER_LEN ? pkt[3] : 1;
	if (g->commit_err || g->poisoned) {
		/* tandem's COMMIT failed: the write is not there, whatever it said */
		uint8_t buf[512];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		if (g->commit_err)
			proto_err_build(&w, seq, g->commit_err, g->commit_err_state,
					g->commit_err_msg);
		else
			proto_err_build(
				&w, seq, ER_LOCK_DEADLOCK, "40001",
				"Deadlock found when trying to get lock; try restarting transaction");
		sess_send_client(s, buf, w.len);
		s->tr.status = (uint16_t)(s->tr.status & ~SERVER_STATUS_IN_TRANS);
	} else if (g->held_err) {
		evbuffer_add_buffer(s->client.out, g->held);
		s->tr.status = g->commit_status;
	} else {
		release_ok(s, pkt, n);
		s->tr.status = g->commit_status;
	}
	evbuffer_drain(g->held, evbuffer_get_length(g->held));
	g->mode = CG_NONE;
	return s->state != SESS_CLOSING && s->state != SESS_CLOSED;
}

/* ---------------------------------------------------------- resolution */

bool sess_guard_in_doubt(const struct session *s)
{
	const struct sess_guard *g = &s->cg;
	return g->mode != CG_NONE && !(g->holding && g->held_err && s->result_done);
}

bool sess_guard_release_error(struct session *s)
{
	struct sess_guard *g = &s->cg;
	if (g->mode != CG_WRAP || !g->holding || !g->held_err || !s->result_done)
		return false;
	g->holding = false;
	evbuffer_add_buffer(s->client.out, g->held);
	g->mode = CG_NONE;
	return true;
}

void sess_guard_send_lookup(struct session *s)
{
	char sql[200];
	int n = snprintf(
		sql, sizeof(sql),
		"SELECT seq, affected, insert_id FROM `%s`.`commit_marker` WHERE id = %llu",
		schema(s), (unsigned long long)s->cg.id);
	send_query(s, sql, (size_t)n);
	s->cg.outcome = CG_LOST; /* unless a row says otherwise (or an ERR: unknown) */
}

static uint64_t lenenc_number(struct proto_rd *r)
{
	bool null;
	uint64_t n = proto_rd_lenenc(r, &null);
	if (r->err || null || n > 20)
		return 0;
	const uint8_t *p = proto_rd_bytes(r, (size_t)n);
	uint64_t v = 0;
	for (size_t i = 0; p && i < n; i++)
		if (p[i] >= '0' && p[i] <= '9')
			v = v * 10 + (uint64_t)(p[i] - '0');
	return v;
}

void sess_guard_lookup_row(struct session *s, const uint8_t *payload, size_t len)
{
	struct proto_rd r;
	proto_rd_init(&r, payload, len);
	uint64_t seq = lenenc_number(&r);
	s->cg.found_affected = lenenc_number(&r);
	s->cg.found_insert_id = lenenc_number(&r);
	s->cg.outcome = !r.err && seq == s->cg.seq ? CG_LANDED : CG_LOST;
}

void sess_guard_answer(struct session *s)
{
	struct sess_guard *g = &s->cg;
	uint8_t buf[512];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	uint16_t status = (uint16_t)(s->sf.f.status &
				     ~(SERVER_STATUS_IN_TRANS | SERVER_SESSION_STATE_CHANGED |
				       SERVER_MORE_RESULTS_EXISTS));
	log_info("session %llu (tenant %s): the %s cut off by the failover %s",
		 (unsigned long long)s->id, s->wt->name,
		 g->mode == CG_COMMIT ? "COMMIT" : "autocommit write",
		 g->outcome == CG_LANDED ? "landed on the new primary: the client gets its OK"
		 : g->outcome == CG_LOST
			 ? "did not reach the new primary: the client is told it was "
			   "rolled back"
			 : "cannot be resolved (no commit marker): outcome unknown");
	if (g->outcome == CG_LANDED && g->mode == CG_WRAP && g->holding && !g->held_err &&
	    evbuffer_get_length(g->held) > PROTO_HEADER_LEN) {
		/* the write's own OK arrived before the cut: it is exact */
		g->holding = false;
		g->commit_status = status;
		size_t n = evbuffer_get_length(g->held);
		release_ok(s, evbuffer_pullup(g->held, -1), n);
		evbuffer_drain(g->held, n);
	} else if (g->outcome == CG_LANDED) {
		struct proto_ok ok = {0};
		ok.header = PROTO_OK_HEADER;
		ok.status = status;
		ok.info.p = ok.session_state.p = "";
		if (g->mode == CG_WRAP) {
			ok.affected_rows = g->found_affected;
			ok.last_insert_id = g->found_insert_id;
		}
		proto_ok_build(&w, 1, &ok, s->backend_caps);
		sess_send_ok(s, buf + PROTO_HEADER_LEN, (uint32_t)(w.len - PROTO_HEADER_LEN), 1);
	} else if (g->outcome == CG_LOST) {
		proto_err_build(
			&w, 1, TANDEM_ER_FAILOVER_ROLLED_BACK, "40001",
			"tandem: the primary failed before this commit reached the new primary; "
			"the transaction was rolled back and can be retried");
		sess_send_client(s, buf, w.len);
		stat_add(&s->wt->stats->failover_errors, 1);
	} else {
		proto_err_build(
			&w, 1, TANDEM_ER_BACKEND_LOST, "08S01",
			"tandem: the primary failed during this commit and its outcome cannot be "
			"determined");
		sess_send_client(s, buf, w.len);
		stat_add(&s->wt->stats->failover_errors, 1);
	}
	proto_facts_status(&s->sf.f, status);
	g->holding = false;
	if (g->held)
		evbuffer_drain(g->held, evbuffer_get_length(g->held));
	g->mode = CG_NONE;
}
