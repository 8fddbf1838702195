/*
 * backend_setup.c — what tandem does on a fresh backend connection once
 * the login succeeded (and again after COM_RESET_CONNECTION or
 * COM_CHANGE_USER, which reset it): turn on session-state tracking, so
 * every OK tells tandem which variables, schema and transaction state the
 * session now has (see docs/sessions.md).
 *
 * The setup statement is written to the backend before the login OK goes
 * to the client, and the client's first command is pipelined behind it:
 * the client waits for no extra round trip. Its answer is consumed here,
 * before any byte of the client's response, and never reaches the client.
 * A server that refuses the statement (an old one) leaves the session
 * working, with incomplete facts.
 *
 * Owns: the setup statement and its answers. Must not: forward anything
 * to the client.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/okerr.h"
#include "proxy/session.h"

/* Largest answer to the setup statement accepted (an OK of ~200 bytes). */
#define SETUP_REPLY_MAX 65536

/*
 * Every variable the session changes is reported ('*'), with the schema,
 * a state-change flag for changes no item names (user variables,
 * temporary tables), and the transaction state and characteristics.
 * MariaDB reports each commit's GTID as the tracked variable last_gtid;
 * MySQL needs session_track_gtids for it and lacks last_gtid. MariaDB 10.11
 * has no session_track_gtids: asking for it would fail the whole SET.
 */
static const char setup_common[] =
	"SET SESSION session_track_system_variables='*', session_track_schema=ON, "
	"session_track_state_change=ON, session_track_transaction_info='CHARACTERISTICS'";
static const char setup_mysql_extra[] = ", session_track_gtids='OWN_GTID'";

void sess_facts_free(struct session *s)
{
	proto_facts_free(&s->sf.f);
	free(s->sf.pending_text);
	s->sf.pending_text = NULL;
}

/* Write the setup statement to the backend, if the backend can track. */
static void setup_send(struct session *s)
{
	if (!(s->backend_caps & CLIENT_SESSION_TRACK)) {
		s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		return;
	}
	/* A MariaDB 10.2+ server clears CLIENT_MYSQL to talk extended
	 * capabilities; a MySQL server keeps it. */
	bool mysql = (s->backend_caps & CLIENT_MYSQL) != 0;
	size_t len = 1 + sizeof(setup_common) - 1 + (mysql ? sizeof(setup_mysql_extra) - 1 : 0);
	uint8_t pkt[PROTO_HEADER_LEN + 256];
	proto_frame_build(pkt, (uint32_t)len, 0);
	pkt[PROTO_HEADER_LEN] = COM_QUERY;
	memcpy(pkt + PROTO_HEADER_LEN + 1, setup_common, sizeof(setup_common) - 1);
	if (mysql)
		memcpy(pkt + PROTO_HEADER_LEN + sizeof(setup_common), setup_mysql_extra,
		       sizeof(setup_mysql_extra) - 1);
	if (conn_write(&s->backend, pkt, PROTO_HEADER_LEN + len) < 0) {
		/* The socket error surfaces on the next read or write. */
		s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		return;
	}
	s->sf.setup_pending++;
}

void sess_setup_begin(struct session *s, const struct proto_ok *login_ok)
{
	proto_facts_free(&s->sf.f);
	if (proto_facts_init(&s->sf.f, s->charset, s->db, strlen(s->db)) < 0)
		log_warn("session %llu: out of memory for session facts",
			 (unsigned long long)s->id);
	proto_facts_apply_ok(&s->sf.f, login_ok, PROTO_FACTS_BY_TANDEM);
	setup_send(s);
}

void sess_setup_resend(struct session *s)
{
	setup_send(s);
}

void sess_facts_reset(struct session *s, uint8_t charset, const char *schema, size_t len)
{
	if (proto_facts_reset(&s->sf.f, charset, schema, len) < 0)
		log_warn("session %llu: out of memory for session facts",
			 (unsigned long long)s->id);
	setup_send(s);
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

bool sess_setup_read(struct session *s)
{
	while (s->sf.setup_pending > 0) {
		const uint8_t *p;
		uint32_t len;
		uint8_t seq;
		int span = sess_packet_peek(s->backend.in, SETUP_REPLY_MAX, &p, &len, &seq);
		if (span == 0)
			return false;
		struct proto_ok ok;
		if (span > 0 && len > 0 && p[0] == PROTO_OK_HEADER &&
		    proto_ok_parse(p, len, s->backend_caps, &ok) > 0) {
			s->sf.f.tracking = true;
			if (proto_facts_apply_ok(&s->sf.f, &ok, PROTO_FACTS_BY_TANDEM) < 0)
				s->sf.f.markers |= PROTO_FACTS_INCOMPLETE;
		} else if (span > 0 && len > 0 && p[0] == PROTO_ERR_HEADER) {
			setup_refused(s, p, len);
		} else {
			log_warn("session %llu: backend %s answered tandem's session setup with a "
				 "malformed packet",
				 (unsigned long long)s->id, s->backend_addr);
			sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
				  "tandem: the database server sent a malformed response");
			return false;
		}
		evbuffer_drain(s->backend.in, (size_t)span);
		s->sf.setup_pending--;
	}
	return true;
}
