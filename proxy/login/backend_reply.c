/*
 * backend_reply.c — the backend's replies to tandem's login or
 * COM_CHANGE_USER (SESS_BACKEND_AUTH, SESS_CHANGE_USER_BACKEND): auth
 * switches and caching_sha2 AuthMoreData are answered here from what
 * tandem knows of the user (SHA1(pw), the password, the server's RSA key);
 * the final OK or ERR goes to the phase that sent the login.
 *
 * Must not: call a phase by name (the final reply goes to the caller's
 * function), or change a session's state except by failing it.
 */
#include "proxy/io/io.h"
#include "proxy/login/login.h"

#include <openssl/evp.h>
#include <string.h>

#include "protocol/auth.h"
#include "protocol/auth_rsa.h"
#include "protocol/handshake.h"
#include "protocol/okerr.h"
#include "proxy/session/session.h"

/* Largest auth packet accepted from a backend. */
#define BACKEND_AUTH_MAX 65536

void sess_backend_send(struct session *s, const void *buf, size_t len)
{
	if (conn_write(&s->backend, buf, len) < 0)
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: cannot send the login to %s", s->backend_addr);
}

static void send_raw(struct session *s, uint8_t seq, const void *data, size_t len)
{
	uint8_t stack[PROTO_RSA_MAX_CIPHERTEXT + 16];
	struct proto_wr wr;
	proto_wr_init(&wr, stack, sizeof(stack));
	if (proto_raw_build(&wr, seq, data, len) != PROTO_OK) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: cannot build the login for %s", s->backend_addr);
		return;
	}
	s->backend_seq = (uint8_t)(seq + 1);
	sess_backend_send(s, stack, wr.len);
	proto_wipe(stack, wr.len);
}

static void auth_switch(struct session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	struct proto_auth_switch as;
	if (len == 1) {
		/* The 4.0 "short scramble" request (a lone 0xFE): the server
		 * wants a mysql_old_password reply to the scramble it already
		 * sent (sql_acl.cc, switch_from_long_to_short_scramble). */
		as.plugin.p = PROTO_PLUGIN_OLD;
		as.plugin.len = strlen(PROTO_PLUGIN_OLD);
		as.data.p = (const char *)s->backend_scramble;
		as.data.len = PROTO_SCRAMBLE_LEN;
	} else if (proto_auth_switch_parse(p, len, &as) < 0 ||
		   as.data.len < (proto_str_eq(as.plugin, PROTO_PLUGIN_OLD) ? PROTO_OLD_REPLY_LEN
									    : PROTO_SCRAMBLE_LEN) ||
		   as.plugin.len >= sizeof(s->backend_plugin)) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s sent a malformed auth switch",
			  s->backend_addr);
		return;
	}
	memcpy(s->backend_plugin, as.plugin.p, as.plugin.len);
	s->backend_plugin[as.plugin.len] = 0;
	if (as.data.p != (const char *)s->backend_scramble) {
		size_t n = as.data.len < PROTO_SCRAMBLE_LEN ? as.data.len : PROTO_SCRAMBLE_LEN;
		memmove(s->backend_scramble, as.data.p, n);
		memset(s->backend_scramble + n, 0, PROTO_SCRAMBLE_LEN - n);
	}
	s->backend_key_requested = false;
	uint8_t reply[PROTO_SHA256_LEN];
	int rlen = sess_backend_auth_reply(s, s->backend_plugin, s->backend_scramble, reply);
	if (rlen < 0 && strcmp(s->backend_plugin, PROTO_PLUGIN_SHA2) == 0) {
		sess_fail(
			s, ER_NOT_SUPPORTED_AUTH_MODE, "08004",
			"tandem: the account '%s' on %s uses caching_sha2_password, which needs its "
			"password; tandem knows only its mysql_native_password hash",
			s->user, s->backend_addr);
		return;
	}
	if (rlen < 0) {
		sess_fail(s, ER_NOT_SUPPORTED_AUTH_MODE, "08004",
			  "tandem: the account '%s' uses the authentication plugin '%s', which "
			  "tandem cannot answer for",
			  s->user, s->backend_plugin);
		return;
	}
	send_raw(s, (uint8_t)(seq + 1), reply, (size_t)rlen);
	proto_wipe(reply, sizeof(reply));
}

/* caching_sha2 AuthMoreData: fast-auth result, or the RSA key we asked for. */
static void more_data(struct session *s, const uint8_t *p, uint32_t len, uint8_t seq)
{
	if (s->backend_key_requested) {
		s->backend_key_requested = false;
		EVP_PKEY *key = proto_rsa_public_key_parse(p + 1, len - 1);
		uint8_t blob[PROTO_RSA_MAX_CIPHERTEXT];
		size_t blen = 0;
		int rc = key ? proto_rsa_encrypt_password(key, s->password, strlen(s->password),
							  s->backend_scramble, blob, sizeof(blob),
							  &blen)
			     : PROTO_E_MALFORMED;
		EVP_PKEY_free(key);
		if (rc != PROTO_OK) {
			sess_fail(s, ER_NOT_SUPPORTED_AUTH_MODE, "08004",
				  "tandem: cannot use the RSA public key of the database server %s "
				  "(%s)",
				  s->backend_addr, proto_strerror(rc));
			return;
		}
		send_raw(s, (uint8_t)(seq + 1), blob, blen);
		return;
	}
	if (len == 2 && p[1] == PROTO_SHA2_FAST_AUTH_OK)
		return; /* the OK follows */
	if (len != 2 || p[1] != PROTO_SHA2_PERFORM_FULL_AUTH) {
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: the database server %s sent an unexpected login reply",
			  s->backend_addr);
		return;
	}
	if (!s->password) {
		sess_fail(s, ER_NOT_SUPPORTED_AUTH_MODE, "08004",
			  "tandem: the database server %s asks for caching_sha2_password full "
			  "authentication of '%s', which needs the password; tandem knows only its "
			  "mysql_native_password hash",
			  s->backend_addr, s->user);
		return;
	}
	if (conn_is_tls(&s->backend)) {
		/* the password and its NUL, in clear: the channel is encrypted */
		send_raw(s, (uint8_t)(seq + 1), s->password, strlen(s->password) + 1);
		return;
	}
	uint8_t req = PROTO_SHA2_REQUEST_PUBLIC_KEY;
	s->backend_key_requested = true;
	send_raw(s, (uint8_t)(seq + 1), &req, 1);
}

void sess_backend_replies(struct session *s, sess_backend_final_fn ok, sess_backend_final_fn err)
{
	enum sess_state st = s->state;
	/* Answers to tandem's setup statement come before the COM_CHANGE_USER's. */
	if (own_pending(s) && !own_read(s))
		return;
	for (;;) {
		const uint8_t *p;
		uint32_t len;
		uint8_t seq;
		int span = sess_packet_peek(s->backend.in, BACKEND_AUTH_MAX, &p, &len, &seq);
		if (span == 0 || s->state != st)
			return;
		if (span < 0 || len == 0) {
			sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE,
				  TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
				  "tandem: the database server %s sent a malformed login reply",
				  s->backend_addr);
			return;
		}
		switch (p[0]) {
		case PROTO_OK_HEADER:
			ok(s, p, len, span);
			return;
		case PROTO_ERR_HEADER:
			err(s, p, len, span);
			return;
		case PROTO_AUTH_SWITCH:
			auth_switch(s, p, len, seq);
			break;
		case PROTO_AUTH_MORE_DATA:
			more_data(s, p, len, seq);
			break;
		default:
			sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE,
				  TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
				  "tandem: the database server %s sent an unexpected login reply",
				  s->backend_addr);
			return;
		}
		if (s->state != st)
			return;
		evbuffer_drain(s->backend.in, (size_t)span);
	}
}
