/*
 * client_auth.c — tandem as the server: the greeting, the client's
 * HandshakeResponse41, and authentication against the tenant's users.
 *
 * States handled: SESS_CLIENT_HANDSHAKE, SESS_CLIENT_AUTH.
 * mysql_native_password is verified against SHA1(SHA1(pw)), which also
 * recovers SHA1(pw) for the backend login. caching_sha2_password fast auth
 * is verified when the config holds the plaintext; any other plugin (or
 * sha2 for a hash-only user) is switched to mysql_native_password.
 * Must not: log or copy secrets anywhere but the session's own fields.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/log.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/okerr.h"
#include "proxy/backend_users.h"
#include "proxy/session.h"
#include "proxy/session_caps.h"
#include "proxy/worker.h"

#define DEFAULT_SERVER_VERSION "5.5.5-10.11.0-MariaDB-tandem"
#define DEFAULT_CHARSET 45 /* utf8mb4_general_ci */

enum auth_verdict { AUTH_OK, AUTH_DENIED, AUTH_SWITCH };

void sess_client_greet(struct session *s)
{
	/* Scramble bytes are printable ASCII: the greeting NUL-terminates them. */
	uint8_t rnd[PROTO_SCRAMBLE_LEN];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1) {
		sess_close(s, "no randomness for the scramble");
		return;
	}
	for (size_t i = 0; i < sizeof(rnd); i++)
		s->scramble[i] = (uint8_t)(33 + rnd[i] % 94);

	const char *version = s->wt->snap->server_version ? s->wt->snap->server_version
							   : DEFAULT_SERVER_VERSION;
	struct proto_handshake hs = {0};
	hs.protocol_version = 10;
	hs.server_version.p = version;
	hs.server_version.len = strlen(version);
	hs.connection_id = (uint32_t)s->id ^ (uint32_t)(s->id >> 32);
	memcpy(hs.scramble, s->scramble, PROTO_SCRAMBLE_LEN);
	hs.scramble_len = PROTO_SCRAMBLE_LEN;
	hs.caps = sess_caps_offered(s->wt->cfg);
	hs.charset = DEFAULT_CHARSET;
	hs.status = SERVER_STATUS_AUTOCOMMIT;
	hs.auth_plugin.p = PROTO_PLUGIN_NATIVE;
	hs.auth_plugin.len = strlen(PROTO_PLUGIN_NATIVE);

	uint8_t buf[256];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	if (proto_handshake_build(&wr, 0, &hs) != PROTO_OK ||
	    sess_send_client(s, buf, wr.len) < 0) {
		sess_close(s, "cannot send the greeting");
		return;
	}
	s->client_seq = 1;
}

/* The client's address without the port, as MySQL shows it in 1045. */
static void peer_host(const struct session *s, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s", s->peer_text);
	char *colon = strrchr(out, ':');
	if (colon)
		*colon = 0;
}

static void deny(struct session *s, bool used_password)
{
	char host[64];
	peer_host(s, host, sizeof(host));
	stat_add(&s->wt->stats->auth_failures, 1);
	sess_fail(s, ER_ACCESS_DENIED_ERROR, "28000",
		  "Access denied for user '%s'@'%s' (using password: %s)", s->user, host,
		  used_password ? "YES" : "NO");
}

static void bad_handshake(struct session *s, const char *why)
{
	stat_add(&s->wt->stats->client_errors, 1);
	sess_fail(s, ER_HANDSHAKE_ERROR, "08S01", "Bad handshake (%s)", why);
}

/* Check auth data sent for plugin. Fills the session's secrets on success. */
static enum auth_verdict verify(struct session *s, const struct cfg_user *u,
				struct proto_str plugin, const uint8_t *data, size_t len)
{
	bool native = plugin.len == 0 || proto_str_eq(plugin, PROTO_PLUGIN_NATIVE);
	bool sha2 = proto_str_eq(plugin, PROTO_PLUGIN_SHA2);
	if (!u)
		return native || sha2 ? AUTH_DENIED : AUTH_SWITCH;
	if (native) {
		if (len == 0)
			return u->password && u->password[0] == 0 ? AUTH_OK : AUTH_DENIED;
		if (!proto_native_check(data, len, s->scramble, u->stage2, s->stage1))
			return AUTH_DENIED;
		s->have_stage1 = true;
		return AUTH_OK;
	}
	if (sha2 && u->password) {
		if (len == 0)
			return u->password[0] == 0 ? AUTH_OK : AUTH_DENIED;
		if (!proto_sha2_check(data, len, s->scramble, u->sha2))
			return AUTH_DENIED;
		s->sha2_fast_auth = true;
		return AUTH_OK;
	}
	return AUTH_SWITCH;
}

/* Authenticated: keep what the backend login needs, then go there. */
static void login_ok(struct session *s, const struct cfg_user *u)
{
	if (u->password) {
		s->password = strdup(u->password);
		if (!s->password) {
			sess_close(s, "out of memory");
			return;
		}
	}
	log_debug("session %llu: %s logged in as '%s' on tenant %s", (unsigned long long)s->id,
		  s->peer_text, s->user, s->wt->name);
	sess_backend_start(s);
}

static void auth_switch(struct session *s)
{
	uint8_t buf[128];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	proto_auth_switch_build(&wr, s->client_seq, PROTO_PLUGIN_NATIVE, s->scramble,
				PROTO_SCRAMBLE_LEN);
	if (sess_send_client(s, buf, wr.len) < 0) {
		sess_close(s, "cannot send auth switch");
		return;
	}
	s->client_seq++;
	sess_set_state(s, SESS_CLIENT_AUTH);
}

static bool copy_str(char *dst, size_t cap, struct proto_str src)
{
	if (src.len >= cap || memchr(src.p, 0, src.len))
		return false;
	memcpy(dst, src.p, src.len);
	dst[src.len] = 0;
	return true;
}

void sess_client_handshake_read(struct session *s)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	int span = sess_packet_peek(s->client.in, s->wt->snap->limits.preauth_max_packet, &p, &len,
				    &seq);
	if (span == 0)
		return;
	if (span < 0) {
		bad_handshake(s, "login packet too large");
		return;
	}
	if (seq != s->client_seq) {
		bad_handshake(s, "packets out of order");
		return;
	}
	if (proto_is_ssl_request(p, len)) {
		bad_handshake(s, "TLS is not enabled on this port");
		return;
	}
	uint64_t offered = sess_caps_offered(s->wt->cfg);
	struct proto_handshake_response r;
	int rc = proto_handshake_response_parse(p, len, offered, &r);
	if (rc < 0) {
		bad_handshake(s, rc == PROTO_E_UNSUPPORTED ? "client too old" : proto_strerror(rc));
		return;
	}
	if (!copy_str(s->user, sizeof(s->user), r.user) ||
	    !copy_str(s->db, sizeof(s->db), r.database)) {
		bad_handshake(s, "user or database name too long");
		return;
	}
	s->client_caps = r.caps & offered;
	s->charset = r.charset;
	if (r.attrs.len) {
		s->attrs = malloc(r.attrs.len);
		if (!s->attrs) {
			sess_close(s, "out of memory");
			return;
		}
		memcpy(s->attrs, r.attrs.p, r.attrs.len);
		s->attrs_len = r.attrs.len;
	}
	s->client_seq = (uint8_t)(seq + 1);

	const struct cfg_user *u = sess_find_user(s);
	enum auth_verdict v = verify(s, u, r.auth_plugin, (const uint8_t *)r.auth.p, r.auth.len);
	bool used_password = r.auth.len > 0;
	evbuffer_drain(s->client.in, (size_t)span);
	switch (v) {
	case AUTH_OK:
		login_ok(s, u);
		break;
	case AUTH_DENIED:
		deny(s, used_password);
		break;
	case AUTH_SWITCH:
		auth_switch(s);
		break;
	}
}

void sess_client_auth_read(struct session *s)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	int span = sess_packet_peek(s->client.in, s->wt->snap->limits.preauth_max_packet, &p, &len,
				    &seq);
	if (span == 0)
		return;
	if (span < 0 || seq != s->client_seq) {
		bad_handshake(s, span < 0 ? "auth packet too large" : "packets out of order");
		return;
	}
	const struct cfg_user *u = sess_find_user(s);
	struct proto_str native = {PROTO_PLUGIN_NATIVE, strlen(PROTO_PLUGIN_NATIVE)};
	enum auth_verdict v = verify(s, u, native, p, len);
	bool used_password = len > 0;
	evbuffer_drain(s->client.in, (size_t)span);
	s->client_seq = (uint8_t)(seq + 1);
	if (v == AUTH_OK)
		login_ok(s, u);
	else
		deny(s, used_password);
}
