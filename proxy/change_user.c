/*
 * change_user.c — COM_CHANGE_USER: a login in the middle of a session.
 *
 * States handled: SESS_CHANGE_USER_AUTH (entered from SESS_IDLE; the
 * client conversation itself is client_auth.c's, shared with a login) and
 * the ending of SESS_CHANGE_USER_BACKEND (backend_auth.c reads the
 * backend's replies). The new user is verified against the tenant's users
 * exactly like a login, with the session's scramble (a client computes its
 * COM_CHANGE_USER reply from the scramble of the greeting, as MySQL
 * servers expect). Then tandem sends its own COM_CHANGE_USER to the
 * backend, computed from what the client's reply revealed (SHA1(pw) or the
 * password), answers the backend's auth switch if any, and hands the
 * backend's OK to the client with the client's sequence ids.
 *
 * A failure on either leg ends the session with the ERR (1045 for wrong
 * credentials), as MySQL does; the server side of a successful change
 * starts afresh (user variables, temporary tables, prepared statements,
 * session variables), and so must everything tandem knows of it.
 * Must not: keep any secret of the previous user.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/okerr.h"
#include "proxy/login.h"
#include "proxy/session.h"
#include "proxy/worker.h"

/* The backend's session was reset: forget what was known of it, and turn
 * session tracking on again (the server dropped tandem's setup with the
 * rest; sess_facts_reset sends it ahead of the client's next command). */
static void reset_session_facts(struct session *s, uint16_t status)
{
	sess_facts_reset(s, (uint8_t)s->charset, s->db[0] ? s->db : NULL, strlen(s->db));
	s->status = status;
	if (status & SERVER_STATUS_IN_TRANS)
		s->flags |= SESS_F_IN_TRANS;
	else
		s->flags &= ~(unsigned)SESS_F_IN_TRANS;
	if (status & SERVER_STATUS_AUTOCOMMIT)
		s->flags |= SESS_F_AUTOCOMMIT;
	else
		s->flags &= ~(unsigned)SESS_F_AUTOCOMMIT;
}

static bool copy_name(char *dst, size_t cap, struct proto_str src)
{
	if (src.len >= cap || memchr(src.p, 0, src.len))
		return false;
	memcpy(dst, src.p, src.len);
	dst[src.len] = 0;
	return true;
}

void sess_change_user_start(struct session *s, const uint8_t *payload, uint32_t len)
{
	struct proto_change_user cu;
	s->client_seq = 1;
	if (proto_change_user_parse(payload, len, s->client_caps, &cu) < 0 ||
	    !copy_name(s->user, sizeof(s->user), cu.user) ||
	    !copy_name(s->db, sizeof(s->db), cu.database)) {
		stat_add(&s->wt->stats->client_errors, 1);
		sess_login_failed(s);
		sess_fail(s, ER_HANDSHAKE_ERROR, "08S01",
			  "Bad handshake (malformed COM_CHANGE_USER)");
		return;
	}
	/* Whatever happens next, the previous user's secrets are of no use. */
	sess_auth_forget(s);
	if (cu.charset)
		s->charset = cu.charset;
	free(s->attrs);
	s->attrs = NULL;
	s->attrs_len = 0;
	if (cu.attrs.len) {
		s->attrs = malloc(cu.attrs.len);
		if (!s->attrs) {
			sess_close(s, "out of memory");
			return;
		}
		memcpy(s->attrs, cu.attrs.p, cu.attrs.len);
		s->attrs_len = cu.attrs.len;
	}
	log_debug("session %llu: COM_CHANGE_USER to '%s'", (unsigned long long)s->id, s->user);
	sess_set_state(s, SESS_CHANGE_USER_AUTH);
	sess_timer_set(s, s->wt->snap->limits.auth_timeout_ms);
	sess_auth_begin(s, cu.auth_plugin, (const uint8_t *)cu.auth.p, cu.auth.len);
}

void sess_change_user_backend(struct session *s)
{
	if (!conn_is_open(&s->backend)) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
			  "tandem: lost the connection to the database server");
		return;
	}
	sess_set_state(s, SESS_CHANGE_USER_BACKEND);
	uint8_t reply[PROTO_SHA256_LEN];
	int rlen = sess_backend_auth_reply(s, s->backend_plugin, s->backend_scramble, reply);
	if (rlen < 0) {
		snprintf(s->backend_plugin, sizeof(s->backend_plugin), "%s", PROTO_PLUGIN_NATIVE);
		rlen = sess_backend_auth_reply(s, s->backend_plugin, s->backend_scramble, reply);
	}
	struct proto_change_user cu = {0};
	cu.user.p = s->user;
	cu.user.len = strlen(s->user);
	cu.auth.p = (const char *)reply;
	cu.auth.len = rlen > 0 ? (size_t)rlen : 0;
	cu.database.p = s->db;
	cu.database.len = strlen(s->db);
	cu.charset = s->charset;
	cu.auth_plugin.p = s->backend_plugin[0] ? s->backend_plugin : PROTO_PLUGIN_NATIVE;
	cu.auth_plugin.len = strlen(cu.auth_plugin.p);
	uint8_t attrs[4096];
	cu.attrs.len = sess_backend_attrs(s, attrs, sizeof(attrs));
	cu.attrs.p = (const char *)attrs;

	uint8_t buf[8192];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	int rc = proto_change_user_build(&wr, 0, s->backend_caps, &cu);
	proto_wipe(reply, sizeof(reply));
	s->backend_seq = 1;
	s->backend_key_requested = false;
	if (rc != PROTO_OK || conn_write(&s->backend, buf, wr.len) < 0) {
		proto_wipe(buf, sizeof(buf));
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
			  "tandem: cannot send COM_CHANGE_USER to the database server %s",
			  s->backend_addr);
		return;
	}
	proto_wipe(buf, sizeof(buf));
	sess_timer_set(s, s->wt->snap->limits.connect_timeout_ms);
}

void sess_change_user_done(struct session *s, const uint8_t *p, uint32_t len, int span)
{
	struct proto_ok ok;
	if (proto_ok_parse(p, len, s->backend_caps, &ok) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
			  "tandem: the database server %s sent a malformed OK", s->backend_addr);
		return;
	}
	if (s->sha2_fast_auth) {
		uint8_t more[16];
		uint8_t fast_ok = PROTO_SHA2_FAST_AUTH_OK;
		struct proto_wr w;
		proto_wr_init(&w, more, sizeof(more));
		proto_auth_more_build(&w, s->client_seq++, &fast_ok, 1);
		sess_send_client(s, more, w.len);
	}
	uint16_t status = ok.status;
	/* before the OK: tandem's setup must reach the backend ahead of the
	 * client's next command */
	reset_session_facts(s, status);
	/* the OK in the client's shape, with the client's sequence id */
	int sent = sess_send_ok(s, p, len, s->client_seq);
	evbuffer_drain(s->backend.in, (size_t)span);
	if (sent < 0 || conn_flush(&s->client) < 0) {
		sess_close(s, "client gone during COM_CHANGE_USER");
		return;
	}
	log_debug("session %llu: now user '%s'", (unsigned long long)s->id, s->user);
	sess_timer_clear(s);
	sess_set_state(s, SESS_IDLE);
	sess_idle_enter(s);
}
