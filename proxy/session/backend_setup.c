/*
 * backend_setup.c — what tandem does on a fresh backend connection once
 * the login succeeded (and again after COM_RESET_CONNECTION or
 * COM_CHANGE_USER, which reset it): turn on session-state tracking, so
 * every OK tells tandem which variables and schema the session now has
 * (see docs/sessions.md). Transaction tracking stays the client's own: a
 * server tracking it neither stores in nor serves from its query cache,
 * and tandem needs no more than the OK status flags and the classifier.
 *
 * The setup statement is written to the backend before the login OK goes
 * to the client, and the client's first command is pipelined behind it:
 * the client waits for no extra round trip. Its answer is swallowed by
 * the queue of tandem's own statements (own.c), before any byte of the
 * client's response, and read here; it never reaches the client.
 * A server that refuses the statement (an old one) leaves the session
 * working, with incomplete facts.
 *
 * Owns: the setup statement and its answers. Must not: forward anything
 * to the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "protocol/okerr.h"
#include "proxy/io/io.h"
#include "proxy/session/session.h"

/*
 * Every variable the session changes is reported ('*'), with the schema
 * and a state-change flag for changes no item names (user variables,
 * temporary tables). Not session_track_transaction_info: while it is not
 * OFF, MariaDB's Query_cache::store_query() and send_result_to_client()
 * return at once, so the session would lose the query cache. MariaDB
 * reports each commit's GTID as the tracked variable last_gtid;
 * MySQL needs session_track_gtids for it and lacks last_gtid. MariaDB 10.11
 * has no session_track_gtids: asking for it would fail the whole SET.
 */
static const char setup_common[] =
	"SET SESSION session_track_system_variables='*', session_track_schema=ON, "
	"session_track_state_change=ON";
static const char setup_mysql_extra[] = ", session_track_gtids='OWN_GTID'";
/* A moved session's new backend: the client's own transaction tracking. */
static const char *const trx_values[] = {
	[PROTO_TRACK_TRX_OFF] = "OFF",
	[PROTO_TRACK_TRX_STATE] = "STATE",
	[PROTO_TRACK_TRX_CHARACTERISTICS] = "CHARACTERISTICS",
};

/*
 * What the client would track directly: the session's values before
 * tandem's SET changes them (the server's defaults after a login or a
 * reset, the client's own after it set them). Read only for a client that
 * tracks: the answer decides which items its OKs carry.
 */
static const char select_view[] =
	"SELECT @@session_track_system_variables, @@session_track_schema, "
	"@@session_track_state_change, @@session_track_transaction_info";

/* MariaDB's query cache counts a SELECT it cannot cache (Qcache_not_cached)
 * unless the session tracks transaction info: for tandem's SELECT only. */
static const char select_view_prefix[] =
	"SET STATEMENT session_track_transaction_info='STATE' FOR ";

/*
 * SHOW PROFILES lists a statement only when profiling was on both when it
 * started and when it ended (sql_profile.cc), and a session starts with
 * @@global.profiling (nested_profiling: SET GLOBAL profiling=on, then a
 * new connection): so tandem's statements run between a SET that turns it
 * off (on at its start, off at its end) and one that puts it back (off at
 * its start). Neither is listed; the history is kept.
 */
static const char profiling_off[] = "SET SESSION profiling=0";
static const char profiling_back[] = "SET SESSION profiling=";

/* MariaDB 10.11's defaults, until the backend has said. */
static const char default_sysvars[] =
	"autocommit,character_set_client,character_set_connection,character_set_results,time_zone";

void sess_facts_free(struct session *s)
{
	proto_facts_free(&s->sf.f);
	free(s->sf.pending_text);
	s->sf.pending_text = NULL;
	free(s->sf.track_sysvars);
	s->sf.track_sysvars = NULL;
	s->sf.track.sysvars = NULL;
	free(s->sf.track_default_sysvars);
	s->sf.track_default_sysvars = NULL;
	s->sf.track_default_known = false;
	sess_track_settled(s);
}

void sess_track_settled(struct session *s)
{
	free(s->sf.track_before_sysvars);
	s->sf.track_before_sysvars = NULL;
	s->sf.track_before.sysvars = NULL;
	s->sf.track_changing = false;
}

void sess_track_changing(struct session *s)
{
	struct sess_facts *sf = &s->sf;
	if (sf->track_changing)
		return;
	sf->track_before = sf->track;
	sf->track_before_sysvars = sf->track_sysvars ? strdup(sf->track_sysvars) : NULL;
	sf->track_before.sysvars = sf->track_before_sysvars;
	sf->track_changing = true;
}

/* The server's defaults: as read at login, else MariaDB's. */
static void view_defaults(struct sess_facts *sf)
{
	free(sf->track_sysvars);
	if (sf->track_default_known) {
		sf->track = sf->track_default;
		sf->track_sysvars =
			sf->track_default_sysvars ? strdup(sf->track_default_sysvars) : NULL;
	} else {
		memset(&sf->track, 0, sizeof(sf->track));
		sf->track.schema = true;
		sf->track_sysvars = strdup(default_sysvars);
	}
	sf->track.sysvars = sf->track_sysvars;
}

/* The login's view is the server's defaults: keep them for resets. */
static void view_keep_defaults(struct sess_facts *sf)
{
	free(sf->track_default_sysvars);
	sf->track_default = sf->track;
	sf->track_default_sysvars = sf->track_sysvars ? strdup(sf->track_sysvars) : NULL;
	sf->track_default.sysvars = sf->track_default_sysvars;
	sf->track_default_known = true;
}

void sess_track_view_set(struct session *s, const char *name, size_t nlen, const char *value,
			 size_t vlen)
{
	struct sess_facts *sf = &s->sf;
	bool on = (vlen == 2 && strncasecmp(value, "ON", 2) == 0) || (vlen == 1 && value[0] == '1');
	if (nlen == 30 && strncasecmp(name, "session_track_system_variables", 30) == 0) {
		char *v = malloc(vlen + 1);
		if (!v)
			return;
		memcpy(v, value, vlen);
		v[vlen] = 0;
		free(sf->track_sysvars);
		sf->track_sysvars = v;
		sf->track.sysvars = v;
	} else if (nlen == 20 && strncasecmp(name, "session_track_schema", 20) == 0) {
		sf->track.schema = on;
	} else if (nlen == 26 && strncasecmp(name, "session_track_state_change", 26) == 0) {
		sf->track.state_change = on;
	} else if (nlen == 30 && strncasecmp(name, "session_track_transaction_info", 30) == 0) {
		sf->track.trx = vlen == 5 && strncasecmp(value, "STATE", 5) == 0
					? PROTO_TRACK_TRX_STATE
				: vlen == 15 && strncasecmp(value, "CHARACTERISTICS", 15) == 0
					? PROTO_TRACK_TRX_CHARACTERISTICS
					: PROTO_TRACK_TRX_OFF;
	} else if (nlen == 19 && strncasecmp(name, "session_track_gtids", 19) == 0) {
		sf->track.gtids = !(vlen == 3 && strncasecmp(value, "OFF", 3) == 0);
	}
}

static bool view_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			uint32_t len, const struct proto_rt_event *ev, bool last);
static bool set_answer(struct session *s, const struct own_entry *e, const uint8_t *p, uint32_t len,
		       const struct proto_rt_event *ev, bool last);
static bool quiet_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			 uint32_t len, const struct proto_rt_event *ev, bool last);

/* Queue one of tandem's statements on the backend (its answer: own.c). */
static bool setup_write(struct session *s, const char *sql, size_t sql_len, const char *extra,
			size_t extra_len, bool select, bool relearn, bool quiet)
{
	size_t len = 1 + sql_len + extra_len;
	uint8_t pkt[PROTO_HEADER_LEN + 256];
	proto_frame_build(pkt, (uint32_t)len, 0);
	pkt[PROTO_HEADER_LEN] = COM_QUERY;
	memcpy(pkt + PROTO_HEADER_LEN + 1, sql, sql_len);
	memcpy(pkt + PROTO_HEADER_LEN + 1 + sql_len, extra, extra_len);
	if (conn_write(&s->backend, pkt, PROTO_HEADER_LEN + len) < 0)
		return false; /* the socket error surfaces on the next read or write */
	if (!own_push(s, select ? OWN_TRACK_VIEW : OWN_TRACK_SET, pkt + PROTO_HEADER_LEN, len, 0,
		      relearn,
		      select  ? view_answer
		      : quiet ? quiet_answer
			      : set_answer)) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
		return false;
	}
	return true;
}

/* Write the setup statement to the backend, if the backend can track;
 * learn: read the client's tracking settings first; moved: the backend is
 * a fresh connection for a session whose transaction tracking is the
 * client's (set it as the client had it, unless both are OFF); reset:
 * after COM_RESET_CONNECTION / COM_CHANGE_USER (profiling left alone). */
static void setup_send(struct session *s, bool learn, bool relearn, bool moved, bool reset)
{
	if (!(s->backend_caps & CLIENT_SESSION_TRACK)) {
		s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		return;
	}
	if (own_pending_for(s, OWN_TRACK_SET) > 24) {
		s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		return;
	}
	/* A MariaDB 10.2+ server clears CLIENT_MYSQL to talk extended
	 * capabilities; a MySQL server keeps it. */
	bool mysql = (s->backend_caps & CLIENT_MYSQL) != 0;
	/* Profiling: a fresh or reset session has the global value (DEFAULT);
	 * later, the value tandem saw last (its tracking reports every SET). */
	const struct proto_facts_var *prof =
		relearn ? proto_facts_var_find(&s->sf.f, "profiling") : NULL;
	const char *prof_back = !prof || !prof->value ? "DEFAULT" : prof->value;
	bool around =
		!reset && (!prof || !prof->value ||
			   !(strcasecmp(prof->value, "OFF") == 0 || strcmp(prof->value, "0") == 0));
	if (strlen(prof_back) > 16)
		prof_back = "DEFAULT";
	if (around &&
	    !setup_write(s, profiling_off, sizeof(profiling_off) - 1, "", 0, false, false, true))
		around = false;
	/* The prefix only where it changes nothing the session tracks (OFF,
	 * as the client has it): turning it off again would forget the
	 * transaction characteristics it tracks. */
	bool prefix = !mysql && s->sf.track.trx == PROTO_TRACK_TRX_OFF;
	if (learn && (s->client_caps & CLIENT_SESSION_TRACK) &&
	    !setup_write(s, prefix ? select_view_prefix : "",
			 prefix ? sizeof(select_view_prefix) - 1 : 0, select_view,
			 sizeof(select_view) - 1, true, relearn, false)) {
		s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		return;
	}
	char extra[128];
	int n = snprintf(extra, sizeof(extra), "%s", mysql ? setup_mysql_extra : "");
	const struct sess_facts *sf = &s->sf;
	if (moved && sf->track.trx <= PROTO_TRACK_TRX_CHARACTERISTICS &&
	    (sf->track.trx != PROTO_TRACK_TRX_OFF ||
	     (sf->track_default_known && sf->track_default.trx != PROTO_TRACK_TRX_OFF)))
		n += snprintf(extra + n, sizeof(extra) - (size_t)n,
			      ", session_track_transaction_info='%s'", trx_values[sf->track.trx]);
	if (!setup_write(s, setup_common, sizeof(setup_common) - 1, extra, (size_t)n, false, false,
			 false))
		s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
	if (around)
		setup_write(s, profiling_back, sizeof(profiling_back) - 1, prof_back,
			    strlen(prof_back), false, false, true);
}

void sess_setup_begin(struct session *s, const struct proto_ok *login_ok)
{
	own_clear(s); /* a fresh connection: nothing of tandem's is owed on it yet */
	proto_facts_free(&s->sf.f);
	if (proto_facts_init(&s->sf.f, s->charset, s->db, strlen(s->db)) < 0)
		log_warn("session %llu: out of memory for session facts",
			 (unsigned long long)s->id);
	proto_facts_apply_ok(&s->sf.f, login_ok, PROTO_FACTS_BY_TANDEM);
	s->sf.track_default_known = false;
	view_defaults(&s->sf);
	setup_send(s, true, false, false, false);
}

void sess_setup_resend(struct session *s)
{
	setup_send(s, false, false, true, false);
}

void sess_setup_relearn(struct session *s)
{
	setup_send(s, true, true, false, false);
}

void sess_facts_reset(struct session *s, uint8_t charset, const char *schema, size_t len)
{
	if (proto_facts_reset(&s->sf.f, charset, schema, len) < 0)
		log_warn("session %llu: out of memory for session facts",
			 (unsigned long long)s->id);
	/* The session's settings are the server's globals again: those read
	 * at login (a SELECT here would show in the reset session's
	 * counters, which the server just emptied). */
	view_defaults(&s->sf);
	/* Not around it the SETs of profiling: after COM_RESET_CONNECTION
	 * MariaDB goes on listing statements in SHOW PROFILES while
	 * @@profiling reads 0; a SET would end that, which the client would
	 * see more than tandem's one statement listed. */
	setup_send(s, false, false, false, true);
}

static void setup_refused(struct session *s, const uint8_t *p, uint32_t len)
{
	struct proto_err_pkt e;
	s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
	if (s->sf.setup_refused_logged)
		return;
	s->sf.setup_refused_logged = true;
	if (proto_err_parse(p, len, s->backend_caps, &e) < 0)
		e.message.len = 0;
	log_warn("session %llu: backend %s refused session tracking (error %u: %.*s); the "
		 "session works, but tandem's view of its state is incomplete",
		 (unsigned long long)s->id, s->backend_addr, e.code, (int)e.message.len,
		 e.message.p);
}

/* The row of the SELECT: the client's settings. After the client's own
 * SET, a value still equal to tandem's is one the client did not change
 * (or set as the OK already said): only the others are news. */
static void select_row(struct session *s, const uint8_t *p, uint32_t len, bool relearn)
{
	static const char *const names[] = {"session_track_system_variables",
					    "session_track_schema", "session_track_state_change",
					    "session_track_transaction_info"};
	/* tandem's values; transaction info is never tandem's */
	static const char *const tandems[] = {"*", "1", "1", NULL};
	struct proto_rd r;
	proto_rd_init(&r, p, len);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (proto_rd_left(&r) > 0 && r.p[0] == 0xFB) { /* NULL: a server without it */
			proto_rd_u8(&r);
			continue;
		}
		struct proto_str v = proto_rd_lenenc_str(&r);
		if (r.err)
			return;
		if (relearn && tandems[i] && v.len == strlen(tandems[i]) &&
		    strncasecmp(v.p, tandems[i], v.len) == 0)
			continue;
		sess_track_view_set(s, names[i], strlen(names[i]), v.p, v.len);
	}
}

/* A broken answer to tandem's own statement: the session cannot go on. */
static bool setup_broken(struct session *s)
{
	log_warn("session %llu: backend %s answered tandem's session setup with a malformed packet",
		 (unsigned long long)s->id, s->backend_addr);
	sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
		  "tandem: the database server sent a malformed response");
	return false;
}

/* The answer to the SELECT of the client's tracking settings: its row (a
 * refusal keeps the defaults). */
static bool view_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			uint32_t len, const struct proto_rt_event *ev, bool last)
{
	(void)last;
	if (!p)
		return setup_broken(s);
	if (ev->kind != RT_PKT_ROW)
		return true;
	select_row(s, p, len, e->arg != 0);
	if (!e->arg)
		view_keep_defaults(&s->sf);
	return true;
}

/* The answer to the SET of tandem's tracking: the session's state as the
 * server now reports it, or a refusal (the facts are incomplete). */
static bool set_answer(struct session *s, const struct own_entry *e, const uint8_t *p, uint32_t len,
		       const struct proto_rt_event *ev, bool last)
{
	(void)e;
	(void)last;
	if (!p)
		return setup_broken(s);
	struct proto_ok ok;
	if (ev->kind == RT_PKT_OK && proto_ok_parse(p, len, s->backend_caps, &ok) > 0) {
		s->sf.f.tracking = true;
		if (proto_facts_apply_ok(&s->sf.f, &ok, PROTO_FACTS_BY_TANDEM) < 0)
			s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
	} else if (ev->kind == RT_PKT_ERR) {
		setup_refused(s, p, len);
	} else {
		return setup_broken(s);
	}
	return true;
}

/* The answer to a SET of profiling around the setup: like the SET's, but a
 * refusal (a server built without profiling) is no matter. */
static bool quiet_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			 uint32_t len, const struct proto_rt_event *ev, bool last)
{
	if (p && ev->kind == RT_PKT_ERR)
		return true;
	return set_answer(s, e, p, len, ev, last);
}
