/*
 * commit_guard.c — the commit guard (see move.h): which commands
 * are tagged and guarded, the tag itself, the binlog lookup after a move
 * and the answer to a guarded command cut off by a failover.
 */
#include "proxy/move/move.h"

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

static void recs_clear(struct sess_guard *g)
{
	for (unsigned i = 0; i < g->nrecs; i++)
		free(g->recs[i].text);
	g->nrecs = 0;
}

/* The guarded command is no longer in flight (answered, or resolved). */
static void doubt_end(struct session *s)
{
	struct sess_guard *g = &s->cg;
	if (g->doubt_counted && s->wt)
		gtid_acks_doubt_remove(s->wt->rt->acks, g->doubt_fp);
	g->doubt_counted = false;
}

void sess_guard_free(struct session *s)
{
	doubt_end(s);
	recs_clear(&s->cg);
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
	if (g->tag[0] || g->by_text)
		return true;
	if (g->id)
		return false; /* decided: off */
	g->id = 1;
	if (!s->wt->cfg->commit_guard) {
		set_off(s);
		return false;
	}
	if (!s->wt->cfg->commit_guard_tag) {
		g->by_text = true; /* nothing is added to the client's statements */
		return true;
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

/* Text mode: keep a write's text for the read-back; false when the
 * transaction has more writes than are kept (it goes unguarded). */
static bool record(struct session *s, const char *text, size_t len, bool tpl)
{
	struct sess_guard *g = &s->cg;
	if (g->nrecs == CG_RECS_MAX || len > UINT32_MAX)
		return false;
	char *t = malloc(len ? len : 1);
	if (!t)
		return false;
	memcpy(t, text, len);
	g->recs[g->nrecs++] = (struct cg_rec){
		.text = t,
		.len = (uint32_t)len,
		.tpl = tpl,
		.no_backslash = (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0,
	};
	return true;
}

/* Two in-flight commands with this fingerprint cannot be told apart. */
static uint64_t recs_fingerprint(const struct sess_guard *g)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (unsigned i = 0; i < g->nrecs; i++) {
		const unsigned char *p = (const unsigned char *)g->recs[i].text;
		for (uint32_t k = 0; k < g->recs[i].len; k++)
			h = (h ^ p[k]) * 0x100000001b3ULL;
		h = (h ^ (g->recs[i].tpl ? 0x1f : 0x1e)) * 0x100000001b3ULL;
	}
	return h;
}

/* The window of the read-back starts at the later of the session's last
 * GTID and the latest one any client of the tenant was told committed:
 * a commit sent after that acknowledgement comes after it in the binlog. */
static void window_start(struct session *s, const char *own)
{
	struct sess_guard *g = &s->cg;
	char latest[64];
	gtid_acks_latest(s->wt->rt->acks, latest, sizeof(latest));
	uint32_t d1, s1, d2, s2;
	uint64_t n1, n2;
	bool have_own = gtid_acks_parse(own, &d1, &s1, &n1);
	bool have_latest = gtid_acks_parse(latest, &d2, &s2, &n2);
	if (have_latest && (!have_own || (d1 == d2 && n2 > n1)))
		snprintf(g->after_gtid, sizeof(g->after_gtid), "%s", latest);
	else
		snprintf(g->after_gtid, sizeof(g->after_gtid), "%s", own ? own : "");
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
	if (g->doubt_counted)
		doubt_end(s); /* the previous command's answer came (or none will) */
	if (!in_trans) {
		g->trx_blind = g->trx_rows = false; /* a new transaction may start here */
		if (g->nrecs)
			recs_clear(g);
	}
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
		if (g->by_text) {
			if (cmd == COM_STMT_PREPARE)
				return; /* its executions are recorded */
			if (!whole || !record(s, (const char *)*p + 1, *have - 1, false)) {
				stat_add(&s->wt->stats->guard_untagged, 1);
				g->trx_blind = true;
				return;
			}
		} else if (!whole || !tag_frame(s, *len)) {
			/* too large to hold: sent as it is, unguarded */
			stat_add(&s->wt->stats->guard_untagged, 1);
			g->trx_blind = true;
			return;
		}
		if (!g->by_text) {
			*len += CG_TAG_LEN;
			*have = *len;
			*p = evbuffer_pullup(s->client.in, PROTO_HEADER_LEN + (ssize_t)*len) +
			     PROTO_HEADER_LEN;
			if (cmd == COM_STMT_PREPARE)
				return;
		}
	} else if (cmd == COM_STMT_EXECUTE && *have >= 10 && !((*p)[5] & 0x07)) {
		const struct proto_facts_stmt *st = proto_facts_stmt_find(&s->sf.f, client_stmt);
		if (!st || !st->sql || st->sql_kind != PROTO_SQL_KIND_WRITE) {
			if (!st || !st->sql || st->sql_kind == PROTO_SQL_KIND_OTHER)
				g->trx_blind = true;
			return;
		}
		c.flags = st->sql_flags;
		c.kind = (enum proto_sql_kind)st->sql_kind;
		if (g->by_text && !(c.flags & (PROTO_SQL_MULTI | PROTO_SQL_PARTIAL)) &&
		    !record(s, st->sql, st->sql_len, true)) {
			stat_add(&s->wt->stats->guard_untagged, 1);
			g->trx_blind = true;
			return;
		}
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
	if (!g->by_text) {
		snprintf(g->after_gtid, sizeof(g->after_gtid), "%s",
			 f->last_gtid ? f->last_gtid : "");
		return;
	}
	window_start(s, f->last_gtid);
	g->doubt_fp = recs_fingerprint(g);
	gtid_acks_doubt_add(s->wt->rt->acks, g->doubt_fp);
	g->doubt_counted = true;
}

void sess_guard_ok(struct session *s, const struct proto_ok *ok)
{
	struct sess_guard *g = &s->cg;
	if (g->cmd_tagged && ok->affected_rows > 0)
		g->trx_rows = true;
	if (!g->by_text)
		return;
	/* With CLIENT_FOUND_ROWS a count is of rows found, not changed: such a
	 * statement may have logged nothing. */
	if (g->cmd_tagged && g->nrecs && ok->affected_rows > 0 &&
	    !(s->backend_caps & CLIENT_FOUND_ROWS))
		g->recs[g->nrecs - 1].certain = true;
	/* last_gtid changes only with session state, which a read's OK lacks */
	const char *gtid = s->sf.f.last_gtid;
	if ((ok->status & SERVER_SESSION_STATE_CHANGED) && gtid && strcmp(gtid, g->acked) != 0) {
		gtid_acks_push(s->wt->rt->acks, gtid);
		snprintf(g->acked, sizeof(g->acked), "%s", gtid);
	}
	if (g->doubt_counted && !(ok->status & SERVER_MORE_RESULTS_EXISTS))
		doubt_end(s);
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

/* Text mode: of the transactions with this session's statements, rule
 * out those acknowledged to clients; the one left is the session's only
 * when no other session had the same statements in flight. A wrong
 * "landed" tells a client a lost write committed: when in doubt, the
 * answer is "cannot tell". */
static void decide_by_text(struct session *s, struct hc_guard_answer *a)
{
	struct sess_guard *g = &s->cg;
	struct gtid_acks *acks = s->wt->rt->acks;
	uint32_t d0 = 0, s0 = 0;
	uint64_t after = 0;
	if (!gtid_acks_parse(g->after_gtid, &d0, &s0, &after))
		after = 0;
	const struct hc_guard_cand *left = NULL;
	unsigned n = 0;
	for (unsigned i = 0; i < a->ncand; i++) {
		const struct hc_guard_cand *c = &a->cand[i];
		int acked = gtid_acks_has(acks, c->domain, c->server, c->seq, after);
		if (acked < 0) {
			a->result = HC_GUARD_UNKNOWN;
			snprintf(a->why, sizeof(a->why),
				 "too many commits since this one to tell them apart");
			return;
		}
		if (acked == 0) {
			left = c;
			n++;
		}
	}
	unsigned same = g->doubt_counted ? gtid_acks_doubt_count(acks, g->doubt_fp) : 1;
	if (n == 0) {
		a->result = HC_GUARD_ABSENT;
	} else if (n == 1 && same <= 1) {
		a->affected = left->affected;
		a->insert_id = left->insert_id;
		snprintf(a->gtid, sizeof(a->gtid), "%u-%u-%llu", left->domain, left->server,
			 (unsigned long long)left->seq);
	} else {
		a->result = HC_GUARD_UNKNOWN;
		snprintf(a->why, sizeof(a->why),
			 "%u unacknowledged transactions and %u cut-off sessions have the same "
			 "statements",
			 n, same);
	}
}

static void lookup_answered(void *arg, const struct hc_guard_answer *a)
{
	struct session *s = arg;
	struct sess_guard *g = &s->cg;
	g->lookup = NULL;
	g->resolved = true;
	struct hc_guard_answer text_a;
	if (g->by_text && a->result == HC_GUARD_FOUND) {
		text_a = *a;
		decide_by_text(s, &text_a);
		a = &text_a;
	}
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
	q.by_text = g->by_text;
	for (unsigned i = 0; g->by_text && i < g->nrecs && i < HC_GUARD_PATTERNS; i++) {
		q.pat[i] = (struct hc_guard_pattern){
			.text = g->recs[i].text,
			.len = g->recs[i].len,
			.tpl = g->recs[i].tpl,
			.certain = g->recs[i].certain,
			.no_backslash = g->recs[i].no_backslash,
		};
		q.npat = i + 1;
	}
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
	doubt_end(s);
	recs_clear(g); /* the transaction ended either way */
}
