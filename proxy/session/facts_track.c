/*
 * facts_track.c — keeps a session's facts current from the commands and
 * responses forward.c passes through: what a command is (its SQL class,
 * the text a prepare or COM_INIT_DB will make current), the statement-id
 * translation of COM_STMT_*, every OK's session state, prepares, and what
 * a completed command changed (see session.h).
 *
 * Owns: struct sess_facts' command-in-flight fields. Must not: read or
 * write the session's connections (forward.c moves the bytes).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/log.h"
#include "protocol/command.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

/* Classifier flags that name a change the facts record as a marker: an OK
 * saying "state changed" is then explained. */
#define ER_MALFORMED_PACKET 1835 /* HY000 */

#define SQL_MARKING                                                                               \
	(PROTO_SQL_TEMP_TABLE | PROTO_SQL_GET_LOCK | PROTO_SQL_LOCK_TABLES | PROTO_SQL_USER_VAR | \
	 PROTO_SQL_PREPARE | PROTO_SQL_SESSION_TRACK)

static void clear_pending(struct sess_facts *sf)
{
	if (sf->pending_text) { /* only prepares and COM_INIT_DB keep one */
		free(sf->pending_text);
		sf->pending_text = NULL;
	}
	sf->pending_len = 0;
	sf->pending_known = false;
	sf->collate[0] = 0;
}

/* Keep the text of a prepare or COM_INIT_DB until its answer. */
static void keep_text(struct sess_facts *sf, const uint8_t *p, size_t len, bool whole)
{
	if (!whole)
		return; /* too large to buffer: the statement's SQL stays unknown */
	sf->pending_text = malloc(len + 1);
	if (!sf->pending_text) {
		sf->f.markers |= PROTO_FACTS_INCOMPLETE;
		return;
	}
	memcpy(sf->pending_text, p, len);
	sf->pending_text[len] = 0;
	sf->pending_len = len;
	sf->pending_known = true;
}

void sess_facts_command(struct session *s, const uint8_t *payload, size_t have, bool whole)
{
	struct sess_facts *sf = &s->sf;
	clear_pending(sf);
	memset(&sf->cmd_class, 0, sizeof(sf->cmd_class));
	sf->infile_left = 0;
	sf->cmd_failed = false;
	sf->discard = false;
	switch (payload[0]) {
	case COM_STMT_EXECUTE:
	case COM_STMT_BULK_EXECUTE:
		sf->cmd_class.flags = sf->stmt_flags;
		break;
	case COM_QUERY:
		proto_sql_classify((const char *)payload + 1, have - 1,
				   (s->status & SERVER_STATUS_NO_BACKSLASH_ESCAPES) != 0, !whole,
				   &sf->cmd_class);
		/* The text goes on to the backend: keep the collation name, which
		 * the server will not report. */
		if (sf->cmd_class.collate) {
			memcpy(sf->collate, sf->cmd_class.collate, sf->cmd_class.collate_len);
			sf->collate[sf->cmd_class.collate_len] = 0;
			sf->cmd_class.collate = NULL;
		}
		/* A file request is forwarded only for a LOAD DATA LOCAL the client
		 * sent, on a tenant that allows it, to a client that offered files. */
		if (s->wt->cfg->local_infile && (s->client_caps & CLIENT_LOCAL_FILES))
			sf->infile_left = sf->cmd_class.load_local;
		break;
	case COM_STMT_PREPARE:
	case COM_INIT_DB:
		keep_text(sf, payload + 1, have - 1, whole);
		break;
	}
}

/* The server's name for the command in its "Unknown prepared statement
 * handler" error (sql_prepare.cc: a bulk execute shares execute's path). */
static const char *stmt_handler_name(uint8_t cmd)
{
	switch (cmd) {
	case COM_STMT_FETCH:
		return "mysqld_stmt_fetch";
	case COM_STMT_RESET:
		return "mysqld_stmt_reset";
	case COM_STMT_CLOSE:
		return "mysqld_stmt_close";
	case COM_STMT_SEND_LONG_DATA:
		return "mysql_stmt_send_long_data";
	default:
		return "mysqld_stmt_execute";
	}
}

int sess_facts_stmt_id(struct session *s, uint8_t *payload, size_t have, uint16_t *code, char *msg,
		       size_t msglen)
{
	uint8_t cmd = payload[0];
	bool answered = cmd != COM_STMT_CLOSE && cmd != COM_STMT_SEND_LONG_DATA;
	uint32_t id;
	s->sf.stmt_flags = 0;
	if (proto_stmt_id_parse(payload, have, &id) < 0) {
		*code = answered ? ER_MALFORMED_PACKET : 0;
		snprintf(msg, msglen, "Malformed communication packet");
		return -1;
	}
	/* MariaDB's "the statement prepared last" (direct execution): the
	 * server resolves it on its own connection. */
	if (id == UINT32_MAX) {
		const struct proto_facts_stmt *last =
			proto_facts_stmt_find(&s->sf.f, s->sf.f.last_stmt_id);
		s->sf.stmt_flags = last ? last->sql_flags : 0;
		return 0;
	}
	const struct proto_facts_stmt *st = proto_facts_stmt_find(&s->sf.f, id);
	if (!st) {
		/* Commands without a response are dropped, as a server drops them. */
		*code = answered ? ER_UNKNOWN_STMT_HANDLER : 0;
		snprintf(msg, msglen, "Unknown prepared statement handler (%u) given to %s", id,
			 stmt_handler_name(cmd));
		return -1;
	}
	proto_stmt_id_patch(payload, st->backend_id);
	/* What an execution may change, from the SQL seen at prepare time;
	 * sess_facts_command() keeps it for the response. */
	s->sf.stmt_flags = st->sql_flags;
	s->sf.exec_types_for = 0;
	if (cmd == COM_STMT_EXECUTE && st->params > 0) {
		/* Parameter types travel with the first execution only. Keep
		 * them: after a move the new backend needs them again, and the
		 * client will not send them (it does not know it moved). */
		size_t off = 10 + ((size_t)st->params + 7) / 8;
		size_t tlen = 2 * (size_t)st->params;
		if (have > off && payload[off] == 1 && have >= off + 1 + tlen) {
			if (proto_facts_stmt_types(&s->sf.f, id, payload + off + 1, tlen) < 0)
				s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		} else if (have > off && payload[off] == 0 && !st->bound && st->types) {
			s->sf.exec_types_for = id;
		}
	}
	if (cmd == COM_STMT_CLOSE)
		proto_facts_stmt_remove(&s->sf.f, id);
	return 0;
}

uint8_t *sess_facts_exec_types(struct session *s, uint32_t client_id, const uint8_t *payload,
			       size_t len, size_t *newlen)
{
	const struct proto_facts_stmt *st = proto_facts_stmt_find(&s->sf.f, client_id);
	if (!st || !st->types || st->params == 0)
		return NULL;
	size_t off = 10 + ((size_t)st->params + 7) / 8;
	size_t tlen = 2 * (size_t)st->params;
	if (len <= off || payload[off] != 0)
		return NULL;
	uint8_t *p = malloc(len + tlen);
	if (!p)
		return NULL;
	memcpy(p, payload, off);
	p[off] = 1;
	memcpy(p + off + 1, st->types, tlen);
	memcpy(p + off + 1 + tlen, payload + off + 1, len - off - 1);
	*newlen = len + tlen;
	proto_facts_stmt_bound(&s->sf.f, client_id); /* the backend holds them from now on */
	return p;
}

/* The client's own SET of a session_track_* variable, as the backend
 * reported it: the items of this very OK follow the new setting. */
static void view_from_ok(struct session *s, const struct proto_ok *ok)
{
	if (!(ok->status & SERVER_SESSION_STATE_CHANGED) || ok->session_state.len == 0)
		return;
	struct proto_rd r;
	proto_rd_init(&r, ok->session_state.p, ok->session_state.len);
	struct proto_track_item it;
	while (proto_track_next(&r, &it) > 0)
		if (it.type == SESSION_TRACK_SYSTEM_VARIABLES && it.name.len > 14 &&
		    strncasecmp(it.name.p, "session_track_", 14) == 0)
			sess_track_view_set(s, it.name.p, it.name.len, it.value.p, it.value.len);
}

void sess_facts_ok(struct session *s, const struct proto_ok *ok)
{
	if (s->sf.cmd_class.flags & PROTO_SQL_SESSION_TRACK) {
		sess_track_changing(s);
		view_from_ok(s, ok);
	}
	unsigned origin = PROTO_FACTS_BY_CLIENT;
	if (s->sf.cmd_class.flags & SQL_MARKING)
		origin |= PROTO_FACTS_EXPLAINED;
	if (proto_facts_apply_ok(&s->sf.f, ok, origin) < 0) {
		s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		log_debug("session %llu: unreadable session state from %s",
			  (unsigned long long)s->id, s->backend_addr);
	}
}

uint32_t sess_facts_prepared(struct session *s, const struct proto_prepare_ok *p)
{
	struct sess_facts *sf = &s->sf;
	uint32_t id = 0;
	if (proto_facts_stmt_add(&sf->f, p->stmt_id, sf->pending_known ? sf->pending_text : NULL,
				 sf->pending_len, p->params, p->columns, &id) < 0)
		return 0;
	return id;
}

/* The client id of the statement the command in flight names (MariaDB's
 * "the last one prepared" resolved). */
static uint32_t cmd_stmt(const struct session *s)
{
	uint32_t id = s->mg.cmd_client_id;
	return id == UINT32_MAX ? s->sf.f.last_stmt_id : id;
}

void sess_facts_done(struct session *s)
{
	struct sess_facts *sf = &s->sf;
	proto_facts_status(&sf->f, s->tr.status);
	if (!sf->cmd_failed) {
		switch (s->tr.cmd) {
		case COM_QUERY:
			if (sf->collate[0] && (sf->cmd_class.flags & PROTO_SQL_MULTI))
				sf->f.markers |= PROTO_FACTS_INCOMPLETE; /* which statement won? */
			else if (sf->collate[0] &&
				 proto_facts_set_var(&sf->f, "collation_connection", sf->collate,
						     strlen(sf->collate)) < 0)
				sf->f.markers |= PROTO_FACTS_INCOMPLETE;
			proto_facts_apply_sql(&sf->f, &sf->cmd_class);
			break;
		case COM_STMT_BULK_EXECUTE:
			proto_facts_apply_sql(&sf->f, &sf->cmd_class);
			break;
		case COM_STMT_EXECUTE:
			proto_facts_apply_sql(&sf->f, &sf->cmd_class);
			proto_facts_stmt_cursor(&sf->f, cmd_stmt(s),
						(s->tr.status & SERVER_STATUS_CURSOR_EXISTS) != 0);
			break;
		case COM_STMT_FETCH:
			if (s->tr.status & SERVER_STATUS_LAST_ROW_SENT)
				proto_facts_stmt_cursor(&sf->f, cmd_stmt(s), false);
			break;
		case COM_STMT_RESET:
			proto_facts_stmt_cursor(&sf->f, cmd_stmt(s), false);
			break;
		case COM_INIT_DB:
			if (sf->pending_known)
				proto_facts_init_db(&sf->f, sf->pending_text, sf->pending_len);
			break;
		case COM_RESET_CONNECTION:
			/* The server kept the schema and dropped everything else,
			 * session tracking included. */
			sess_facts_reset(s, s->charset, sf->f.schema,
					 sf->f.schema ? strlen(sf->f.schema) : 0);
			break;
		}
	}
	/* The client changed what the server tracks, for itself and for
	 * tandem: read its settings back, and track everything again. One
	 * statement's changes cannot hide in that; a multi-statement's may. */
	if ((sf->cmd_class.flags & PROTO_SQL_SESSION_TRACK) &&
	    (s->tr.cmd == COM_QUERY || s->tr.cmd == COM_STMT_EXECUTE)) {
		if (!(sf->cmd_class.flags & PROTO_SQL_MULTI))
			sf->f.markers &= ~(unsigned)PROTO_FACTS_TRACKING_OFF;
		sess_setup_relearn(s);
	}
	sess_track_settled(s);
	clear_pending(sf);
	memset(&sf->cmd_class, 0, sizeof(sf->cmd_class));
	sf->infile_left = 0;
	sf->cmd_failed = false;
	sf->discard = false;
}
