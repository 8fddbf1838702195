/*
 * backend_auth.c — tandem as the client: connect to the cluster's primary,
 * read its greeting, log in as the session's user, and hand the result
 * (OK or ERR) to the client.
 *
 * States handled: SESS_BACKEND_CONNECT, SESS_BACKEND_HANDSHAKE,
 * SESS_BACKEND_AUTH. The login answers mysql_native_password with
 * SHA1(pw) (recovered from the client's login or computed from the
 * configured password) and caching_sha2_password fast auth with the
 * plaintext when the config has it.
 * Must not: forward any backend byte to the client before the login ends.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/okerr.h"
#include "proxy/daemon.h"
#include "proxy/session.h"
#include "proxy/session_caps.h"
#include "proxy/worker.h"

/* Largest greeting or auth packet accepted from a backend. */
#define BACKEND_AUTH_MAX 65536

void sess_backend_start(struct session *s)
{
	struct hc_topology *topo = NULL;
	const struct cfg_cluster *cl = s->wt->cfg->cluster;
	const struct hc_member *m = worker_primary(s->w, cl->name, &topo);
	if (!m) {
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: no writable database server is available for tenant '%s'",
			  s->wt->name);
		return;
	}
	snprintf(s->backend_addr, sizeof(s->backend_addr), "%s", m->addr.text);
	memcpy(&s->backend_sa, &m->addr.sa, m->addr.salen);
	s->backend_salen = m->addr.salen;
	sess_set_state(s, SESS_BACKEND_CONNECT);
	if (conn_connect(&s->backend, s->w->base, (const struct sockaddr *)&s->backend_sa,
			 s->backend_salen, &sess_backend_cbs, s) < 0) {
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: cannot reach the database server %s for tenant '%s' (%s)",
			  s->backend_addr, s->wt->name, strerror(s->backend.error));
		return;
	}
	sess_timer_set(s, s->wt->snap->limits.connect_timeout_ms);
}

void sess_backend_connected(struct session *s)
{
	sess_set_state(s, SESS_BACKEND_HANDSHAKE);
}

/* The scramble reply for a plugin, from what the session knows. Returns its
 * length, 0 for "no reply possible", -1 for an unknown plugin. */
static int auth_reply(const struct session *s, struct proto_str plugin, const uint8_t *scramble,
		      uint8_t *out)
{
	if (plugin.len == 0 || proto_str_eq(plugin, PROTO_PLUGIN_NATIVE)) {
		uint8_t stage1[PROTO_SHA1_LEN], stage2[PROTO_SHA1_LEN];
		if (s->have_stage1)
			memcpy(stage1, s->stage1, sizeof(stage1));
		else if (s->password && s->password[0])
			proto_native_stages(s->password, strlen(s->password), stage1, stage2);
		else
			return 0;
		proto_native_reply(out, scramble, stage1);
		proto_wipe(stage1, sizeof(stage1));
		proto_wipe(stage2, sizeof(stage2));
		return PROTO_SHA1_LEN;
	}
	if (proto_str_eq(plugin, PROTO_PLUGIN_SHA2)) {
		if (!s->password || !s->password[0])
			return 0;
		proto_sha2_reply(out, s->password, strlen(s->password), scramble);
		return PROTO_SHA256_LEN;
	}
	return -1;
}

/* Connect attributes for the backend: the client's, plus where it came from. */
static size_t build_attrs(const struct session *s, uint8_t *buf, size_t cap)
{
	struct proto_wr w;
	proto_wr_init(&w, buf, cap);
	if (s->attrs_len)
		proto_wr_bytes(&w, s->attrs, s->attrs_len);
	static const char key[] = "_tandem_client";
	proto_wr_lenenc_str(&w, key, sizeof(key) - 1);
	proto_wr_lenenc_str(&w, s->peer_text, strlen(s->peer_text));
	return w.overflow ? 0 : w.len;
}

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
			  "tandem: the database server %s sent a malformed greeting", s->backend_addr);
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
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s lacks capabilities 0x%llx the client uses",
			  s->backend_addr, (unsigned long long)missing);
		return;
	}

	struct proto_handshake_response r = {0};
	r.caps = (s->client_caps & hs.caps & 0xffffffffULL) | CLIENT_PROTOCOL_41 |
		 CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH;
	r.caps &= ~(CLIENT_SSL | CLIENT_COMPRESS | CLIENT_CONNECT_WITH_DB | CLIENT_CONNECT_ATTRS);
	if (hs.caps & CLIENT_MYSQL)
		r.caps |= CLIENT_MYSQL;
	if (s->db[0])
		r.caps |= CLIENT_CONNECT_WITH_DB;
	if (hs.caps & CLIENT_CONNECT_ATTRS)
		r.caps |= CLIENT_CONNECT_ATTRS;
	if (hs.caps & CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA)
		r.caps |= CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
	r.caps |= hs.caps & SESS_CAPS_BACKEND_ALWAYS;
	r.max_packet = s->wt->snap->limits.max_packet;
	r.charset = s->charset;
	r.user.p = s->user;
	r.user.len = strlen(s->user);
	r.database.p = s->db;
	r.database.len = strlen(s->db);

	uint8_t reply[PROTO_SHA256_LEN];
	struct proto_str plugin = hs.auth_plugin;
	int rlen = auth_reply(s, plugin, hs.scramble, reply);
	if (rlen < 0) {
		/* Unknown default plugin: answer natively; the server switches us
		 * to the account's plugin if it differs. */
		plugin.p = PROTO_PLUGIN_NATIVE;
		plugin.len = strlen(PROTO_PLUGIN_NATIVE);
		rlen = auth_reply(s, plugin, hs.scramble, reply);
	}
	r.auth.p = (const char *)reply;
	r.auth.len = rlen > 0 ? (size_t)rlen : 0;
	r.auth_plugin = plugin;
	uint8_t attrs[4096];
	size_t alen = build_attrs(s, attrs, sizeof(attrs));
	r.attrs.p = (const char *)attrs;
	r.attrs.len = alen;

	uint8_t buf[8192];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	rc = proto_handshake_response_build(&wr, (uint8_t)(seq + 1), &r);
	proto_wipe(reply, sizeof(reply));
	s->backend_caps = r.caps;
	evbuffer_drain(s->backend.in, (size_t)span);
	if (rc != PROTO_OK || conn_write(&s->backend, buf, wr.len) < 0) {
		proto_wipe(buf, sizeof(buf));
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: cannot send the login to %s", s->backend_addr);
		return;
	}
	proto_wipe(buf, sizeof(buf));
	s->backend_seq = (uint8_t)(seq + 2);
	sess_set_state(s, SESS_BACKEND_AUTH);
}

/* The backend accepted the login: tell the client, and start serving. */
static void login_done(struct session *s, const uint8_t *p, uint32_t len, int span)
{
	struct proto_ok ok;
	if (proto_ok_parse(p, len, s->backend_caps, &ok) < 0) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
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

	s->status = ok.status;
	proto_framer_init(&s->cfr, s->wt->snap->limits.max_packet, true);
	proto_framer_init(&s->bfr, UINT64_MAX, false);
	proto_tracker_init(&s->tr, s->backend_caps);
	sess_timer_clear(s);
	sess_set_state(s, SESS_IDLE);
	sess_idle_enter(s);
}

static void auth_switch(struct session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	struct proto_auth_switch as;
	if (proto_auth_switch_parse(p, len, &as) < 0 || as.data.len < PROTO_SCRAMBLE_LEN) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s sent a malformed auth switch",
			  s->backend_addr);
		return;
	}
	uint8_t reply[PROTO_SHA256_LEN];
	int rlen = auth_reply(s, as.plugin, (const uint8_t *)as.data.p, reply);
	if (rlen < 0) {
		sess_fail(s, ER_NOT_SUPPORTED_AUTH_MODE, "08004",
			  "tandem: the account '%s' uses the authentication plugin '%.*s', which "
			  "tandem cannot answer for",
			  s->user, (int)as.plugin.len, as.plugin.p);
		return;
	}
	uint8_t buf[64];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	proto_raw_build(&wr, (uint8_t)(seq + 1), reply, (size_t)rlen);
	proto_wipe(reply, sizeof(reply));
	conn_write(&s->backend, buf, wr.len);
	proto_wipe(buf, sizeof(buf));
	s->backend_seq = (uint8_t)(seq + 2);
}

void sess_backend_auth_read(struct session *s)
{
	for (;;) {
		const uint8_t *p;
		uint32_t len;
		uint8_t seq;
		int span = sess_packet_peek(s->backend.in, BACKEND_AUTH_MAX, &p, &len, &seq);
		if (span == 0 || s->state != SESS_BACKEND_AUTH)
			return;
		if (span < 0 || len == 0) {
			sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
				  "tandem: the database server %s sent a malformed login reply",
				  s->backend_addr);
			return;
		}
		switch (p[0]) {
		case PROTO_OK_HEADER:
			login_done(s, p, len, span);
			return;
		case PROTO_ERR_HEADER:
			backend_refused(s, p, len);
			return;
		case PROTO_AUTH_SWITCH:
			auth_switch(s, p, len, seq);
			break;
		case PROTO_AUTH_MORE_DATA:
			if (len >= 2 && p[1] == PROTO_SHA2_FAST_AUTH_OK)
				break; /* the OK follows */
			sess_fail(s, ER_NOT_SUPPORTED_AUTH_MODE, "08004",
				  "tandem: the database server %s asks for caching_sha2_password full "
				  "authentication, which needs TLS to the backend",
				  s->backend_addr);
			return;
		default:
			sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
				  "tandem: the database server %s sent an unexpected login reply",
				  s->backend_addr);
			return;
		}
		if (s->state != SESS_BACKEND_AUTH)
			return;
		evbuffer_drain(s->backend.in, (size_t)span);
	}
}
