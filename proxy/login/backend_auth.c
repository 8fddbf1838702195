/*
 * backend_auth.c — tandem as the client: connect to the cluster's primary,
 * read its greeting, start TLS when the cluster asks for it, log in as the
 * session's user, and hand the result (OK or ERR) to the client.
 *
 * States handled: SESS_BACKEND_CONNECT, SESS_BACKEND_HANDSHAKE,
 * SESS_BACKEND_TLS, SESS_BACKEND_AUTH. The auth conversation (switches,
 * caching_sha2 fast and full authentication) is backend_reply.c's, shared
 * with COM_CHANGE_USER. With "tls" on the cluster
 * the connection never goes on in plaintext: a server that offers no TLS,
 * or whose certificate does not verify, fails the login.
 * Must not: forward any backend byte to the client before the login ends.
 * The enter of the transient SESS_BACKEND_WANTED (sess_backend_start)
 * picks the primary for a login, a move and a retry alike. Where the
 * login goes next is a state: GREETING_WANTED (the primary greeted before
 * the client logged in), IDLE (logged in), RESTORE (the login of a move).
 * Must not: call another phase (the driver runs the next state's enter).
 */
#include "proxy/io/io.h"
#include "proxy/session/session.h"
#include "proxy/login/login.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "health/monitor.h"
#include "protocol/auth.h"
#include "protocol/auth_rsa.h"
#include "protocol/handshake.h"
#include "protocol/okerr.h"
#include "proxy/process/worker_types.h"

/* Largest greeting accepted from a backend. */
#define BACKEND_AUTH_MAX 65536

static void send_login(struct session *s);
static void start_tls(struct session *s);

/* The client logged in on the connection its greeting came from: go on
 * with the login there, if that member is still where sessions go. */
static bool held_login(struct session *s)
{
	bool usable = conn_is_open(&s->backend) && env_backend_current(s->w, s);
	s->backend_held = false;
	env_preauth_release(s);
	if (!usable) {
		conn_close(&s->backend);
		env_backend_release(s);
		return false;
	}
	s->backend_deadline_us =
		clock_mono_us() + (int64_t)s->wt->snap->limits.connect_timeout_ms * 1000;
	sess_timer_set(s, s->wt->snap->limits.connect_timeout_ms);
	if (s->wt->cfg->cluster->tls)
		start_tls(s);
	else
		send_login(s);
	return true;
}

void sess_backend_start(struct session *s)
{
	if (s->backend_held && held_login(s))
		return;
	if (!s->backend_deadline_us)
		s->backend_deadline_us = clock_mono_us() + (int64_t)sess_wait_budget_ms(s) * 1000;
	const struct hc_member *m = NULL;
	char why[200];
	switch (env_backend_pick(s->w, s, &m, why, sizeof(why))) {
	case ENV_PICK_GO:
		break;
	case ENV_PICK_WAIT:
		sess_backend_wait(s, why);
		return;
	case ENV_PICK_FAIL:
		stat_add(&s->wt->stats->backend_errors, 1);
		/* (a move that finds no primary gives up in sess_fail) */
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: no writable database server is available for tenant '%s': %s",
			  s->wt->name, why);
		return;
	}
	conn_close(&s->backend); /* a retry: free the last attempt's buffers */
	if (s->backend_conn_id)
		conn_ids_set_backend(s, 0); /* a KILL must not name the old server's id */
	snprintf(s->backend_addr, sizeof(s->backend_addr), "%s", m->addr.text);
	snprintf(s->backend_host, sizeof(s->backend_host), "%s", m->addr.host);
	memcpy(&s->backend_sa, &m->addr.sa, m->addr.salen);
	s->backend_salen = m->addr.salen;
	sess_set_state(s, SESS_BACKEND_CONNECT);
	if (conn_connect(&s->backend, s->env->base, s->env->read_pool,
			 (const struct sockaddr *)&s->backend_sa, s->backend_salen, s->backend_cbs,
			 s) < 0) {
		int err = s->backend.error;
		if ((err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) &&
		    s->pre_greeting && s->wt->greet.known) {
			/* no descriptor for the greeting's connection: greet from
			 * what the primary said last; the login tries again */
			s->pre_greeting = false;
			s->backend_deadline_us = 0;
			env_backend_release(s);
			env_preauth_release(s);
			sess_set_state(s, SESS_GREETING_WANTED);
			return;
		}
		if (err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM) {
			/* tandem's own shortage, not the server's: no waiting for a
			 * failover, no suspicion on the server; the client may retry */
			sess_fail(s, ER_CON_COUNT_ERROR, "08004",
				  "Too many connections: tandem has no descriptor left for a "
				  "connection to the database server (%s)",
				  strerror(err));
			return;
		}
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_suspect_backend(s);
		snprintf(why, sizeof(why), "cannot reach the database server %s (%s)",
			 s->backend_addr, strerror(s->backend.error));
		sess_backend_wait(s, why);
		return;
	}
	int ms = (int)((s->backend_deadline_us - clock_mono_us() + 999) / 1000);
	/* one attempt gets connect_timeout_ms, however long the wait may be */
	if (ms > s->wt->snap->limits.connect_timeout_ms)
		ms = s->wt->snap->limits.connect_timeout_ms;
	sess_timer_set(s, ms > 0 ? ms : 1);
}

void sess_backend_connected(struct session *s)
{
	sess_set_state(s, SESS_BACKEND_HANDSHAKE);
}

/* ------------------------------------------------------------ replies */


static void backend_refused(struct session *s, const uint8_t *p, uint32_t len)
{
	struct proto_err_pkt e;
	stat_add(&s->wt->stats->backend_errors, 1);
	if (proto_err_parse(p, len, CLIENT_PROTOCOL_41, &e) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s refused the login", s->backend_addr);
		return;
	}
	char msg[300];
	size_t n = e.message.len < sizeof(msg) - 1 ? e.message.len : sizeof(msg) - 1;
	memcpy(msg, e.message.p, n);
	msg[n] = 0;
	sess_fail(s, e.code, e.sqlstate, "%s", msg);
}

/* ----------------------------------------------------------- greeting */

/* Capabilities of our login: the client's, as far as the server has them. */
static uint64_t login_caps(const struct session *s)
{
	uint64_t srv = s->backend_server_caps;
	uint64_t caps = (s->client_caps & srv & (0xffffffffULL | SESS_CAPS_MARIADB)) |
			CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	caps &= ~(CLIENT_SSL | CLIENT_COMPRESS | CLIENT_CONNECT_WITH_DB | CLIENT_CONNECT_ATTRS);
	/* A compressing client's backend leg compresses too: the server's
	 * Compression status is the one the client asked for. */
	if (s->client_caps & srv & CLIENT_COMPRESS)
		caps |= CLIENT_COMPRESS;
	if (srv & CLIENT_MYSQL)
		caps |= CLIENT_MYSQL;
	if (s->db[0])
		caps |= CLIENT_CONNECT_WITH_DB;
	if (srv & CLIENT_CONNECT_ATTRS)
		caps |= CLIENT_CONNECT_ATTRS;
	if (srv & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
		caps |= CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
	caps |= srv & SESS_CAPS_BACKEND_ALWAYS;
	if (conn_is_tls(&s->backend))
		caps |= CLIENT_SSL;
	return caps;
}

/* HandshakeResponse41, from what the greeting said (kept in the session). */
static void send_login(struct session *s)
{
	struct proto_handshake_response r = {0};
	r.caps = login_caps(s);
	r.max_packet = s->wt->snap->limits.max_packet;
	r.charset = (uint8_t)s->charset;
	r.user.p = s->user;
	r.user.len = strlen(s->user);
	r.database.p = s->db;
	r.database.len = strlen(s->db);

	uint8_t reply[PROTO_SHA256_LEN];
	int rlen = sess_backend_auth_reply(s, s->backend_plugin, s->backend_scramble, reply);
	if (rlen < 0) {
		/* A default plugin tandem cannot answer (unknown, or caching_sha2
		 * without the password): answer natively; the server switches us
		 * to the account's plugin if it differs. */
		snprintf(s->backend_plugin, sizeof(s->backend_plugin), "%s", PROTO_PLUGIN_NATIVE);
		rlen = sess_backend_auth_reply(s, s->backend_plugin, s->backend_scramble, reply);
	}
	r.auth.p = (const char *)reply;
	r.auth.len = rlen > 0 ? (size_t)rlen : 0;
	r.auth_plugin.p = s->backend_plugin[0] ? s->backend_plugin : PROTO_PLUGIN_NATIVE;
	r.auth_plugin.len = strlen(r.auth_plugin.p);
	uint8_t attrs[4096];
	size_t alen = sess_backend_attrs(s, attrs, sizeof(attrs));
	r.attrs.p = (const char *)attrs;
	r.attrs.len = alen;

	uint8_t buf[8192];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	int rc = proto_handshake_response_build(&wr, s->backend_seq, &r);
	proto_wipe(reply, sizeof(reply));
	s->backend_caps = r.caps;
	if (rc != PROTO_OK) {
		proto_wipe(buf, sizeof(buf));
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: cannot build the login for %s", s->backend_addr);
		return;
	}
	sess_set_state(s, SESS_BACKEND_AUTH);
	s->backend_seq++;
	sess_backend_send(s, buf, wr.len);
	proto_wipe(buf, sizeof(buf));
}

/* The cluster wants TLS: SSLRequest, then the handshake (never plaintext). */
static void start_tls(struct session *s)
{
	const struct cfg_tls_client *tls = s->wt->cfg->cluster->tls;
	if (!(s->backend_server_caps & CLIENT_SSL)) {
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_fail(s, TANDEM_ER_BACKEND_TLS, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s does not offer TLS, which cluster '%s' "
			  "requires",
			  s->backend_addr, s->wt->cfg->cluster->name);
		return;
	}
	struct proto_handshake_response r = {0};
	r.caps = login_caps(s) | CLIENT_SSL;
	r.max_packet = s->wt->snap->limits.max_packet;
	r.charset = (uint8_t)s->charset;
	uint8_t buf[64];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	proto_ssl_request_build(&wr, s->backend_seq++, &r);
	sess_set_state(s, SESS_BACKEND_TLS);
	if (conn_write(&s->backend, buf, wr.len) < 0 ||
	    conn_tls_start(&s->backend, tls->ctx, false,
			   tls->verify_identity ? s->backend_host : NULL) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_TLS, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: cannot start TLS to the database server %s", s->backend_addr);
		return;
	}
}

void sess_backend_tls_ready(struct session *s)
{
	if (s->state != SESS_BACKEND_TLS)
		return;
	char desc[96];
	conn_tls_describe(&s->backend, desc, sizeof(desc));
	log_debug("session %llu: TLS with %s: %s", (unsigned long long)s->id, s->backend_addr,
		  desc);
	send_login(s);
}

void sess_backend_handshake_read(struct session *s)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	int span = sess_packet_peek(s->backend.in, BACKEND_AUTH_MAX, &p, &len, &seq);
	if (span == 0)
		return;
	if (span < 0 || len == 0) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s sent a malformed greeting",
			  s->backend_addr);
		return;
	}
	if (p[0] == PROTO_ERR_HEADER) {
		backend_refused(s, p, len);
		return;
	}
	struct proto_handshake hs;
	int rc = proto_handshake_parse(p, len, &hs);
	if (rc < 0 || hs.scramble_len < PROTO_SCRAMBLE_LEN) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s sent an unusable greeting (%s)",
			  s->backend_addr, proto_strerror(rc < 0 ? rc : PROTO_E_MALFORMED));
		return;
	}
	uint64_t missing = (s->client_caps & SESS_CAPS_SHAPE) & ~hs.caps;
	if (missing) {
		sess_fail(
			s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			"tandem: the database server %s lacks capabilities 0x%llx the client uses",
			s->backend_addr, (unsigned long long)missing);
		return;
	}
	memcpy(s->backend_scramble, hs.scramble, PROTO_SCRAMBLE_LEN);
	s->backend_server_caps = hs.caps;
	conn_ids_set_backend(s, hs.connection_id);
	size_t pl = hs.auth_plugin.len < sizeof(s->backend_plugin) ? hs.auth_plugin.len : 0;
	memcpy(s->backend_plugin, hs.auth_plugin.p, pl);
	s->backend_plugin[pl] = 0;
	s->backend_seq = (uint8_t)(seq + 1);
	s->backend_key_requested = false;
	if (s->pre_greeting) {
		/* The client's greeting is this one (GREETING_WANTED's enter
		 * sends it); the login waits for the client's (held_login). */
		s->pre_greeting = false;
		s->backend_held = true;
		s->backend_deadline_us = 0;
		sess_greeting_remember(s->wt, &hs);
		evbuffer_drain(s->backend.in, (size_t)span);
		sess_set_state(s, SESS_GREETING_WANTED);
		return;
	}
	evbuffer_drain(s->backend.in, (size_t)span);
	if (s->wt->cfg->cluster->tls)
		start_tls(s);
	else
		send_login(s);
}

/* ------------------------------------------------------------- login */

/* The backend accepted the login: tell the client, and start serving. */
static void login_done(struct session *s, const uint8_t *p, uint32_t len, int span)
{
	struct proto_ok ok;
	if (proto_ok_parse(p, len, s->backend_caps, &ok) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s sent a malformed OK", s->backend_addr);
		return;
	}
	/* What follows the OK, tandem's setup first, is in frames. */
	if ((s->backend_caps & CLIENT_COMPRESS) && conn_zip_start(&s->backend, -1, true) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_LOST, "08S01", "tandem: out of memory");
		return;
	}
	if (s->mg.active) {
		/* A move: this OK is tandem's, the client logged in long ago;
		 * RESTORE's enter rebuilds the session on this backend. */
		evbuffer_drain(s->backend.in, (size_t)span);
		sess_set_state(s, SESS_RESTORE);
		return;
	}
	sess_sha2_fast_ok(s);
	/* tandem's session setup goes out first; the client's first command
	 * follows it on the wire (backend_setup.c). */
	sess_setup_begin(s, &ok);
	/* The OK in the client's shape, with the client's sequence id. */
	int sent = sess_send_ok(s, p, len, s->client_seq);
	evbuffer_drain(s->backend.in, (size_t)span);
	if (sent < 0 || conn_flush(&s->client) < 0) {
		sess_close(s, "client gone at login");
		return;
	}
	/* Frames from here on (the OK went out plain, as a server's does). */
	if ((s->client_caps & CLIENT_COMPRESS) && conn_zip_start(&s->client, -1, false) < 0) {
		sess_close(s, "out of memory");
		return;
	}

	s->status = ok.status;
	proto_framer_init(&s->cfr, s->wt->snap->limits.max_packet, true);
	proto_framer_init(&s->bfr, UINT64_MAX, false);
	proto_tracker_init(&s->tr, s->backend_caps);
	sess_timer_clear(s);
	sess_set_state(s, SESS_IDLE);
}

/* The final reply to the login (backend_reply.c). */
static void login_refused(struct session *s, const uint8_t *p, uint32_t len, int span)
{
	(void)span;
	backend_refused(s, p, len);
}

void sess_backend_auth_read(struct session *s)
{
	sess_backend_replies(s, login_done, login_refused);
}
