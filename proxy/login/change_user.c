/*
 * change_user.c — COM_CHANGE_USER: a login in the middle of a session.
 *
 * States handled: SESS_CHANGE_USER_AUTH (entered from SESS_IDLE through
 * SESS_CHANGE_USER_START; the client conversation itself, from the
 * command's auth data on, is client_auth.c's, shared with a login),
 * the enters of the transient SESS_CHANGE_USER_START (read the command),
 * SESS_CHANGE_USER_WANTED (send the backend its COM_CHANGE_USER) and
 * SESS_CHANGE_USER_DENIED (answer 1045, reset the backend), and
 * SESS_CHANGE_USER_BACKEND (the auth conversation is backend_reply.c's,
 * the reset's answer the queue's, own.c). The new user is verified against the tenant's users
 * exactly like a login, with the session's scramble (a client computes its
 * COM_CHANGE_USER reply from the scramble of the greeting, as MySQL
 * servers expect). Then tandem sends its own COM_CHANGE_USER to the
 * backend, computed from what the client's reply revealed (SHA1(pw) or the
 * password), answers the backend's auth switch if any, and hands the
 * backend's OK to the client with the client's sequence ids.
 *
 * As the server does (sql_parse.cc, COM_CHANGE_USER), wrong credentials
 * get 1045 and the session goes on as the previous user, with the
 * previous database and character set; after three failures a
 * COM_CHANGE_USER gets 1047 "Unknown command" at once (MDEV-3915, the
 * brute-force guard). tandem verifies the client side first; a change it
 * refuses costs the backend a COM_RESET_CONNECTION, the reset the server
 * runs before its own check (user variables, temporary tables go), and the
 * client gets the ERR after it. The
 * backend's own refusal (an account tandem accepted, the server not) is
 * passed on as it is, and the session goes on as the previous user, as the
 * server keeps it; the server reset it, so tandem's facts start afresh. A
 * backend gone during the change ends the session. The server side of a
 * successful change starts afresh (user variables, temporary tables,
 * prepared statements, session variables), and so must everything tandem
 * knows of it.
 * Must not: keep any secret of the previous user once the change is
 * decided (cu_prev lives only while it runs).
 */
#include "proxy/io/io.h"
#include "proxy/session/session.h"
#include "proxy/login/login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/okerr.h"
#include "proxy/process/worker_types.h"

/* MariaDB refuses a 4th failed COM_CHANGE_USER on one connection. */
#define CU_MAX_FAILED 3

/* The user a COM_CHANGE_USER replaces, until the change is decided. */
struct sess_prev_login {
	char user[sizeof(((struct session *)0)->user)];
	char db[sizeof(((struct session *)0)->db)];
	uint16_t charset;
	char *password;
	uint8_t stage1[20];
	bool have_stage1;
	uint32_t old_hash[2];
	bool have_old;
	bool sha2_fast_auth;
	/* the refusal, sent once the backend's reset is done */
	uint16_t err_code;
	char err_state[6];
	char err_msg[300];
};

void sess_change_user_forget(struct session *s)
{
	struct sess_prev_login *p = s->cu_prev;
	if (!p)
		return;
	if (p->password) {
		proto_wipe(p->password, strlen(p->password));
		free(p->password);
	}
	proto_wipe(p, sizeof(*p));
	free(p);
	s->cu_prev = NULL;
}

/* Move the current user's login aside (its secrets included). */
static bool prev_save(struct session *s)
{
	sess_change_user_forget(s);
	struct sess_prev_login *p = calloc(1, sizeof(*p));
	if (!p)
		return false;
	memcpy(p->user, s->user, sizeof(p->user));
	memcpy(p->db, s->db, sizeof(p->db));
	p->charset = s->charset;
	p->password = s->password;
	s->password = NULL;
	memcpy(p->stage1, s->stage1, sizeof(p->stage1));
	p->have_stage1 = s->have_stage1;
	memcpy(p->old_hash, s->old_hash, sizeof(p->old_hash));
	p->have_old = s->have_old;
	p->sha2_fast_auth = s->sha2_fast_auth;
	s->cu_prev = p;
	return true;
}

static void prev_restore(struct session *s)
{
	struct sess_prev_login *p = s->cu_prev;
	sess_auth_forget(s);
	if (!p)
		return;
	memcpy(s->user, p->user, sizeof(s->user));
	memcpy(s->db, p->db, sizeof(s->db));
	s->charset = p->charset;
	s->password = p->password;
	p->password = NULL;
	memcpy(s->stage1, p->stage1, sizeof(s->stage1));
	s->have_stage1 = p->have_stage1;
	memcpy(s->old_hash, p->old_hash, sizeof(s->old_hash));
	s->have_old = p->have_old;
	s->sha2_fast_auth = p->sha2_fast_auth;
	sess_change_user_forget(s);
}

/* An ERR as the whole answer, the session staying as it is. */
static bool send_err(struct session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		     const char *msg)
{
	return sess_send_err(s, seq, code, sqlstate, msg) >= 0 && conn_flush(&s->client) >= 0;
}

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

/* The COM_CHANGE_USER at the head of s->client.in (whole: forward.c
 * checked). True when the session moved to SESS_CHANGE_USER_AUTH, whose
 * enter (client_auth.c) reads the auth data and drains the packet. */
static bool start(struct session *s, const uint8_t *payload, uint32_t len);

void sess_change_user_start(struct session *s)
{
	uint8_t hdr[PROTO_HEADER_LEN];
	evbuffer_copyout(s->client.in, hdr, sizeof(hdr));
	uint32_t len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16;
	const uint8_t *p = evbuffer_pullup(s->client.in, (ssize_t)(PROTO_HEADER_LEN + len));
	if (!p) {
		sess_close(s, "out of memory");
		return;
	}
	if (!start(s, p + PROTO_HEADER_LEN, len))
		evbuffer_drain(s->client.in, PROTO_HEADER_LEN + len);
}

static bool start(struct session *s, const uint8_t *payload, uint32_t len)
{
	struct proto_change_user cu;
	s->client_seq = 1;
	if (s->cu_failed >= CU_MAX_FAILED) {
		/* checked before anything else, the session untouched */
		if (!send_err(s, 1, ER_UNKNOWN_COM_ERROR, "08S01", "Unknown command"))
			sess_close(s, "client gone");
		else
			sess_set_state(s, SESS_IDLE);
		return false;
	}
	if (!prev_save(s)) {
		sess_close(s, "out of memory");
		return false;
	}
	if (proto_change_user_parse(payload, len, s->client_caps, &cu) < 0 ||
	    !copy_name(s->user, sizeof(s->user), cu.user) ||
	    !copy_name(s->db, sizeof(s->db), cu.database)) {
		stat_add(&s->wt->stats->client_errors, 1);
		sess_login_failed(s);
		sess_fail(s, ER_HANDSHAKE_ERROR, "08S01",
			  "Bad handshake (malformed COM_CHANGE_USER)");
		return false;
	}
	/* The previous user's secrets are in cu_prev now, none in the session. */
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
			return false;
		}
		memcpy(s->attrs, cu.attrs.p, cu.attrs.len);
		s->attrs_len = cu.attrs.len;
	}
	log_debug("session %llu: COM_CHANGE_USER to '%s'", (unsigned long long)s->id, s->user);
	sess_timer_set(s, s->wt->snap->limits.auth_timeout_ms);
	sess_set_state(s, SESS_CHANGE_USER_AUTH);
	return s->state == SESS_CHANGE_USER_AUTH;
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

static void backend_done(struct session *s, const uint8_t *p, uint32_t len, int span)
{
	struct proto_ok ok;
	if (proto_ok_parse(p, len, s->backend_caps, &ok) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01",
			  "tandem: the database server %s sent a malformed OK", s->backend_addr);
		return;
	}
	sess_sha2_fast_ok(s);
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
	sess_change_user_forget(s);
	log_debug("session %llu: now user '%s'", (unsigned long long)s->id, s->user);
	sess_timer_clear(s);
	sess_set_state(s, SESS_IDLE);
}

/* server_reset: the backend ran the change (and its reset) and refused. */
static void finish_refused(struct session *s, uint16_t code, const char *sqlstate, const char *msg,
			   bool server_reset, uint16_t status)
{
	log_info("session %llu (%s, tenant %s): COM_CHANGE_USER to '%s' refused: error %u: %s",
		 (unsigned long long)s->id, s->peer_text, s->wt->name, s->user, code, msg);
	bool sent = send_err(s, s->client_seq, code, sqlstate, msg);
	prev_restore(s);
	if (server_reset)
		reset_session_facts(s, status);
	if (s->cu_failed < UINT8_MAX)
		s->cu_failed++;
	if (!sent) {
		sess_close(s, "client gone during COM_CHANGE_USER");
		return;
	}
	sess_timer_clear(s);
	sess_set_state(s, SESS_IDLE);
}

/* The server resets the session (thd->change_user) before it checks the
 * new user, and keeps it reset when the check fails: the backend gets
 * COM_RESET_CONNECTION, the same reset, before the client gets the ERR. */
static bool reset_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			 uint32_t len, const struct proto_rt_event *ev, bool last);

/* The client gets the ERR and the session goes on as the previous user:
 * after the backend's reset when it has run the change (as the server
 * does), at once otherwise. */
static void refuse(struct session *s, uint16_t code, const char *sqlstate, const char *msg)
{
	struct sess_prev_login *p = s->cu_prev;
	static const uint8_t reset[] = {1, 0, 0, 0, COM_RESET_CONNECTION};
	if (p && conn_is_open(&s->backend) && !(s->flags & SESS_F_BACKEND_GONE) &&
	    conn_write(&s->backend, reset, sizeof(reset)) >= 0) {
		if (!own_push(s, OWN_RESET, reset + PROTO_HEADER_LEN, 1, 0, 0, reset_answer)) {
			sess_close(s, "out of memory");
			return;
		}
		p->err_code = code;
		snprintf(p->err_state, sizeof(p->err_state), "%s", sqlstate);
		snprintf(p->err_msg, sizeof(p->err_msg), "%s", msg);
		sess_set_state(s, SESS_CHANGE_USER_BACKEND);
		sess_timer_set(s, s->wt->snap->limits.connect_timeout_ms);
		return;
	}
	finish_refused(s, code, sqlstate, msg, false, 0);
}

/* The backend's answer to that COM_RESET_CONNECTION (own.c): its OK, and
 * the client gets the ERR; a refusal ends the session. */
static bool reset_answer(struct session *s, const struct own_entry *e, const uint8_t *p,
			 uint32_t len, const struct proto_rt_event *ev, bool last)
{
	(void)e;
	if (!p || ev->kind == RT_PKT_ERR) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s refused COM_RESET_CONNECTION",
			  s->backend_addr);
		return false;
	}
	if (!last)
		return true;
	struct proto_ok ok;
	uint16_t status = s->status;
	if (proto_ok_parse(p, len, s->backend_caps, &ok) == 0)
		status = ok.status;
	char msg[sizeof(s->cu_prev->err_msg)], state[6];
	memcpy(msg, s->cu_prev->err_msg, sizeof(msg));
	memcpy(state, s->cu_prev->err_state, sizeof(state));
	finish_refused(s, s->cu_prev->err_code, state, msg, true, status);
	return false;
}

static void backend_refused(struct session *s, const uint8_t *p, uint32_t len, int span)
{
	struct proto_err_pkt e;
	stat_add(&s->wt->stats->auth_failures, 1);
	if (proto_err_parse(p, len, CLIENT_PROTOCOL_41, &e) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s refused COM_CHANGE_USER",
			  s->backend_addr);
		return;
	}
	char msg[300], state[6];
	size_t n = e.message.len < sizeof(msg) - 1 ? e.message.len : sizeof(msg) - 1;
	memcpy(msg, e.message.p, n);
	msg[n] = 0;
	memcpy(state, e.sqlstate, 5);
	state[5] = 0;
	uint16_t code = e.code;
	evbuffer_drain(s->backend.in, (size_t)span);
	sess_login_failed(s);
	/* The server ran its reset (thd->change_user) before the check: it
	 * rolled back, dropped variables and tracking; the user is the old one. */
	uint16_t status =
		(uint16_t)((s->status | SERVER_STATUS_AUTOCOMMIT) & ~SERVER_STATUS_IN_TRANS);
	finish_refused(s, code, state, msg, true, status);
}

void sess_change_user_denied(struct session *s)
{
	refuse(s, ER_ACCESS_DENIED_ERROR, "28000", s->cu_denied);
}

void sess_change_user_backend_read(struct session *s)
{
	sess_backend_replies(s, backend_done, backend_refused);
}
