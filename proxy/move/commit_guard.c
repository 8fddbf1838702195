/*
 * commit_guard.c — the commit guard (see commit_guard.h): which commands
 * are tagged and guarded, the tag itself, the binlog lookup after a move
 * and the answer to a guarded command cut off by a failover.
 */
#include "proxy/move/commit_guard.h"

#include <event2/buffer.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "health/guard_lookup.h"
#include "protocol/command.h"
#include "protocol/okerr.h"
#include "protocol/packet.h"
#include "protocol/sqlclass.h"
#include "proxy/session/ok_shape.h"
#include "proxy/session/own.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

/* How long a lookup may take; the session waits for it like for the
 * rest of its move (failover.session_wait_ms bounds that too). */
#define GUARD_LOOKUP_MS 5000

/* Count the session in the tenant's unguarded gauge (once). */
static void set_off(struct session *s)
{
	if (!s->cg.counted_off)
		stat_add(&s->wt->stats->guard_off, 1);
	s->cg.counted_off = true;
}

void sess_guard_free(struct session *s)
{
	hc_guard_lookup_cancel(s->cg.lookup);
	s->cg.lookup = NULL;
	if (s->cg.counted_off && s->wt)
		stat_add(&s->wt->stats->guard_off, (uint64_t)-1);
	s->cg.counted_off = false;
}

/* Whether this session is guarded, decided once (a reload that flips
 * commit_guard applies to new sessions: a statement prepared untagged
 * must never be taken for a tagged one). */
static bool enabled(struct session *s)
{
	struct sess_guard *g = &s->cg;
	if (g->tag[0])
		return true;
	if (g->id)
		return false; /* decided: off */
	g->id = 1;
	if (!s->wt->cfg->commit_guard) {
		set_off(s);
		return false;
	}
	uint64_t id = 0;
	if (RAND_bytes((unsigned char *)&id, sizeof(id)) != 1)
		id = (uint64_t)s->id * 0x9e3779b97f4a7c15ULL ^ (uint64_t)(uintptr_t)s;
	g->id = id | 1;
	snprintf(g->tag, sizeof(g->tag), "/*tandem:%016llx*/ ", (unsigned long long)g->id);
	return true;
}

char *sess_guard_tag_text(struct session *s, const char *sql, size_t len, size_t *out_len)
{
	if (!s->cg.tag[0])
		return NULL;
	char *t = malloc(CG_TAG_LEN + len);
	if (!t)
		return NULL;
	memcpy(t, s->cg.tag, CG_TAG_LEN);
	memcpy(t + CG_TAG_LEN, sql, len);
	*out_len = CG_TAG_LEN + len;
	return t;
}

/* Put the tag after the command byte of the frame at the head of the
 * client's input (payload len). */
static bool tag_frame(struct session *s, uint32_t len)
{
	if ((uint64_t)len + CG_TAG_LEN >= PROTO_MAX_FRAME)
		return false;
	uint8_t head[PROTO_HEADER_LEN + 1 + CG_TAG_LEN];
	evbuffer_copyout(s->client.in, head, PROTO_HEADER_LEN + 1);
	uint8_t cmd = head[PROTO_HEADER_LEN];
	proto_frame_build(head, len + CG_TAG_LEN, 0);
	head[PROTO_HEADER_LEN] = cmd;
	memcpy(head + PROTO_HEADER_LEN + 1, s->cg.tag, CG_TAG_LEN);
	evbuffer_drain(s->client.in, PROTO_HEADER_LEN + 1);
	return evbuffer_prepend(s->client.in, head, sizeof(head)) == 0;
}

void sess_guard_command(struct session *s, uint8_t **p, size_t *have, uint32_t *len, bool whole,
			uint32_t client_stmt)
{
	struct sess_guard *g = &s->cg;
	g->mode = CG_NONE;
	g->outcome = CG_UNKNOWN;
	g->resolved = false;
	/* COMMIT, or anything that may commit on its own (DDL's implicit
	 * commit, a procedure's COMMIT, XA ...): cut off, its outcome is
	 * unknown, not "rolled back" (guard or not). */
	g->cmd_may_commit = false;
	if ((*p)[0] == COM_QUERY) {
		enum proto_sql_kind k = s->sf.cmd_class.kind;
		g->cmd_may_commit = k == PROTO_SQL_KIND_COMMIT || k == PROTO_SQL_KIND_OTHER;
	} else if ((*p)[0] == COM_STMT_EXECUTE) {
		const struct proto_facts_stmt *st = proto_facts_stmt_find(&s->sf.f, client_stmt);
		g->cmd_may_commit = !st || st->sql_kind == PROTO_SQL_KIND_COMMIT ||
				    st->sql_kind == PROTO_SQL_KIND_OTHER;
	}
	if (!enabled(s))
		return;
	const struct proto_facts *f = &s->sf.f;
	uint8_t cmd = (*p)[0];
	bool in_trans = proto_facts_in_trans(f);
	if (!in_trans)
		g->trx_blind = g->trx_rows = false; /* a new transaction may start here */
	struct proto_sql_class c = {0};
	g->cmd_tagged = false;
	if (cmd == COM_QUERY || cmd == COM_STMT_PREPARE) {
		/* Only writes are tagged (a prepared text once, at prepare time):
		 * the annotations that matter are those of row-writing
		 * statements, and a tag elsewhere would only show (processlist). */
		if (cmd == COM_QUERY)
			c = s->sf.cmd_class;
		else
			proto_sql_classify((const char *)*p + 1, *have - 1,
					   (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0,
					   !whole, &c);
		bool commit = cmd == COM_QUERY && c.kind == PROTO_SQL_KIND_COMMIT &&
			      !(c.flags & (PROTO_SQL_MULTI | PROTO_SQL_PARTIAL));
		if (commit)
			goto decide; /* its own text is not logged: nothing to tag */
		if (c.kind != PROTO_SQL_KIND_WRITE) {
			if (cmd == COM_QUERY && c.kind == PROTO_SQL_KIND_OTHER)
				g->trx_blind =
					true; /* CALL, EXECUTE, ...: rows under other texts */
			else if (cmd == COM_QUERY && (c.flags & PROTO_SQL_MULTI))
				g->trx_blind = true;
			return;
		}
		if (!whole || !tag_frame(s, *len)) {
			/* too large to hold: sent as it is, unguarded */
			stat_add(&s->wt->stats->guard_untagged, 1);
			g->trx_blind = true;
			return;
		}
		*len += CG_TAG_LEN;
		*have = *len;
		*p = evbuffer_pullup(s->client.in, PROTO_HEADER_LEN + (ssize_t)*len) +
		     PROTO_HEADER_LEN;
		if (cmd == COM_STMT_PREPARE)
			return;
	} else if (cmd == COM_STMT_EXECUTE && *have >= 10 && !((*p)[5] & 0x07)) {
		const struct proto_facts_stmt *st = proto_facts_stmt_find(&s->sf.f, client_stmt);
		if (!st || !st->sql || st->sql_kind != PROTO_SQL_KIND_WRITE) {
			if (!st || !st->sql || st->sql_kind == PROTO_SQL_KIND_OTHER)
				g->trx_blind = true;
			return;
		}
		c.flags = st->sql_flags;
		c.kind = (enum proto_sql_kind)st->sql_kind;
	} else {
		if (cmd == COM_STMT_EXECUTE)
			g->trx_blind = true; /* a cursor execution */
		return;
	}
	/* A write whose later statements (multi-statement text) would be
	 * logged under their own texts is no help. */
	if (c.flags & (PROTO_SQL_MULTI | PROTO_SQL_PARTIAL)) {
		g->trx_blind = true;
		return;
	}
	g->cmd_tagged = true;
decide:
	if (!f->tracking && own_pending_for(s, OWN_TRACK_SET) == 0) {
		set_off(s); /* no last_gtid: nothing to read the binlog from */
		return;
	}
	/* trx_rows (a tagged write changed rows) is what says the transaction
	 * wrote: tandem does not track the transaction state (it would cost
	 * the session the query cache, see backend_setup.c). */
	if (c.kind == PROTO_SQL_KIND_COMMIT && in_trans && !g->trx_blind && g->trx_rows) {
		g->mode = CG_COMMIT;
	} else if (c.kind == PROTO_SQL_KIND_WRITE && !in_trans && proto_facts_autocommit(f) &&
		   !(c.flags & PROTO_SQL_RETURNING)) {
		g->mode = CG_WRITE;
	} else {
		return;
	}
	snprintf(g->after_gtid, sizeof(g->after_gtid), "%s", f->last_gtid ? f->last_gtid : "");
}

void sess_guard_ok(struct session *s, const struct proto_ok *ok)
{
	if (s->cg.cmd_tagged && ok->affected_rows > 0)
		s->cg.trx_rows = true;
}

/* ---------------------------------------------------------- resolution */

bool sess_guard_may_commit(const struct session *s)
{
	return s->cg.cmd_may_commit;
}

bool sess_guard_in_doubt(const struct session *s)
{
	return s->cg.mode != CG_NONE;
}

static void lookup_answered(void *arg, const struct hc_guard_answer *a)
{
	struct session *s = arg;
	struct sess_guard *g = &s->cg;
	g->lookup = NULL;
	g->resolved = true;
	switch (a->result) {
	case HC_GUARD_FOUND:
		g->outcome = CG_LANDED;
		g->found_affected = a->affected;
		g->found_insert_id = a->insert_id;
		log_info("session %llu (tenant %s): the cut-off commit is %s on the new primary",
			 (unsigned long long)s->id, s->wt->name, a->gtid);
		break;
	case HC_GUARD_ABSENT:
		g->outcome = CG_LOST;
		break;
	default:
		g->outcome = CG_UNKNOWN;
		snprintf(g->why, sizeof(g->why), "%s", a->why);
		log_warn("session %llu (tenant %s): cannot resolve the cut-off commit: %s",
			 (unsigned long long)s->id, s->wt->name, a->why);
		break;
	}
	s->news(s, MACH_LOOKUP); /* the driver hands it to the state's event */
}

bool sess_guard_start_lookup(struct session *s)
{
	struct sess_guard *g = &s->cg;
	const struct cfg_cluster *cc = s->wt->cfg->cluster;
	struct hc_guard_query q;
	memset(&q, 0, sizeof(q));
	snprintf(q.host, sizeof(q.host), "%s", s->backend_host);
	const struct sockaddr_storage *sa = &s->backend_sa;
	q.port = sa->ss_family == AF_INET6 ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
					   : ntohs(((const struct sockaddr_in *)sa)->sin_port);
	snprintf(q.user, sizeof(q.user), "%s", cc->monitor.user ? cc->monitor.user : "");
	snprintf(q.password, sizeof(q.password), "%s",
		 cc->monitor.password ? cc->monitor.password : "");
	if (cc->tls) {
		/* the same files and checks as the monitor's connections */
		q.tls = true;
		snprintf(q.ca, sizeof(q.ca), "%s", cc->tls->ca_path ? cc->tls->ca_path : "");
		snprintf(q.cert, sizeof(q.cert), "%s",
			 cc->tls->cert_path ? cc->tls->cert_path : "");
		snprintf(q.key, sizeof(q.key), "%s", cc->tls->key_path ? cc->tls->key_path : "");
		q.verify_identity = cc->tls->verify_identity;
	}
	snprintf(q.tag, sizeof(q.tag), "%.*s", CG_TAG_LEN - 1, g->tag); /* without the space */
	snprintf(q.after_gtid, sizeof(q.after_gtid), "%s", g->after_gtid);
	q.timeout_ms = GUARD_LOOKUP_MS;
	g->outcome = CG_UNKNOWN;
	hc_guard_lookup_cancel(g->lookup);
	g->lookup = hc_guard_lookup_start(&q, s->env->base, lookup_answered, s);
	explicit_bzero(q.password, sizeof(q.password));
	if (!g->lookup)
		snprintf(g->why, sizeof(g->why), "no thread for the binlog lookup");
	return g->lookup != NULL;
}

void sess_guard_answer(struct session *s)
{
	struct sess_guard *g = &s->cg;
	uint8_t buf[512];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	/* The commit ended the transaction either way; the rest of the
	 * status is the session's as before (autocommit, no-backslash...). */
	uint16_t status = (uint16_t)(s->sf.f.status &
				     ~(SERVER_STATUS_IN_TRANS | SERVER_SESSION_STATE_CHANGED |
				       SERVER_MORE_RESULTS_EXISTS | SERVER_STATUS_LAST_ROW_SENT));
	log_info("session %llu (tenant %s): the %s cut off by the failover %s",
		 (unsigned long long)s->id, s->wt->name,
		 g->mode == CG_COMMIT ? "COMMIT" : "autocommit write",
		 g->outcome == CG_LANDED ? "landed on the new primary: the client gets its OK"
		 : g->outcome == CG_LOST
			 ? "did not reach the new primary: the client is told it was "
			   "rolled back"
			 : "cannot be resolved: outcome unknown");
	if (g->outcome == CG_LANDED) {
		struct proto_ok ok = {0};
		ok.header = PROTO_OK_HEADER;
		ok.status = status;
		ok.info.p = ok.session_state.p = "";
		if (g->mode == CG_WRITE) {
			ok.affected_rows = g->found_affected;
			ok.last_insert_id = g->found_insert_id;
		}
		proto_ok_build(&w, 1, &ok, s->backend_caps);
		sess_send_ok(s, buf + PROTO_HEADER_LEN, (uint32_t)(w.len - PROTO_HEADER_LEN), 1);
		stat_add(&s->wt->stats->guard_landed, 1);
	} else if (g->outcome == CG_LOST) {
		proto_err_build(
			&w, 1, TANDEM_ER_FAILOVER_ROLLED_BACK, "40001",
			"tandem: the primary failed before this commit reached the new primary; "
			"the transaction was rolled back and can be retried");
		sess_send_client(s, buf, w.len);
		stat_add(&s->wt->stats->failover_errors, 1);
		stat_add(&s->wt->stats->guard_lost, 1);
	} else {
		proto_err_build(
			&w, 1, TANDEM_ER_BACKEND_LOST, "08S01",
			"tandem: the primary failed during this commit and its outcome cannot be "
			"determined");
		sess_send_client(s, buf, w.len);
		stat_add(&s->wt->stats->failover_errors, 1);
		stat_add(&s->wt->stats->guard_unresolved, 1);
	}
	proto_facts_status(&s->sf.f, status);
	g->mode = CG_NONE;
}
