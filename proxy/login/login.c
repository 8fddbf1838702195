/*
 * login.c — what every login shares: scramble replies from what tandem
 * knows of the user (SHA1(password) or the password), the connect
 * attributes passed on, forgetting the user's secrets, counting a failed
 * login against its source, naming the client's host as the server
 * does, and remembering the primary's greeting.
 *
 * Must not: call a phase or change a session's state.
 */
#include "proxy/login/login.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/auth.h"
#include "protocol/handshake.h"
#include "protocol/packet.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

int sess_backend_auth_reply(const struct session *s, const char *plugin, const uint8_t *scramble,
			    uint8_t *out)
{
	if (!plugin || !plugin[0] || strcmp(plugin, PROTO_PLUGIN_NATIVE) == 0) {
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
	if (strcmp(plugin, PROTO_PLUGIN_OLD) == 0) {
		if (!s->have_old)
			return -1;
		proto_old_reply(out, scramble, s->old_hash);
		out[PROTO_OLD_REPLY_LEN] = 0; /* NUL-terminated, as Connector/C sends it */
		return PROTO_OLD_REPLY_LEN + 1;
	}
	if (strcmp(plugin, PROTO_PLUGIN_SHA2) == 0) {
		if (!s->password)
			return -1; /* only SHA1(pw) known: no caching_sha2 reply exists */
		if (!s->password[0])
			return 0;
		proto_sha2_reply(out, s->password, strlen(s->password), scramble);
		return PROTO_SHA256_LEN;
	}
	return -1;
}

size_t sess_backend_attrs(const struct session *s, uint8_t *buf, size_t cap)
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

void sess_sha2_fast_ok(struct session *s)
{
	if (!s->sha2_fast_auth)
		return;
	uint8_t more[16];
	uint8_t fast_ok = PROTO_SHA2_FAST_AUTH_OK;
	struct proto_wr w;
	proto_wr_init(&w, more, sizeof(more));
	proto_auth_more_build(&w, s->client_seq++, &fast_ok, 1);
	sess_send_client(s, more, w.len);
}

void sess_auth_forget(struct session *s)
{
	if (s->password) {
		proto_wipe(s->password, strlen(s->password));
		free(s->password);
		s->password = NULL;
	}
	proto_wipe(s->stage1, sizeof(s->stage1));
	s->have_stage1 = false;
	proto_wipe(s->old_hash, sizeof(s->old_hash));
	s->have_old = false;
	s->sha2_fast_auth = false;
}

/* The client's address without the port, as MySQL shows it in 1045: a
 * client at 127.0.0.1 or ::1 is 'localhost' to a server that resolves
 * names. */
void sess_peer_host(struct session *s, char *out, size_t outlen)
{
	if (sess_peer_is_localhost(s)) {
		snprintf(out, outlen, "localhost");
		return;
	}
	snprintf(out, outlen, "%s", s->peer_text);
	char *colon = strrchr(out, ':');
	if (colon)
		*colon = 0;
}

void sess_login_failed(struct session *s)
{
	const struct cfg_limits *cl = &s->wt->snap->limits;
	struct throttle_limits l = throttle_limits_of(cl);
	unsigned n;
	if (!throttle_failed(s->env->throttle, &l, s->wt->name, (const struct sockaddr *)&s->peer,
			     clock_mono_us(), &n))
		return;
	char host[64];
	sess_peer_host(s, host, sizeof(host));
	log_warn("tenant %s: source %s blocked for %d ms after %u failed logins within %d ms",
		 s->wt->name, host, cl->auth_block_ms, n, cl->auth_failure_window_ms);
}

void sess_greeting_remember(struct wtenant *wt, const struct proto_handshake *hs)
{
	struct wgreeting *g = &wt->greet;
	size_t n = hs->server_version.len < sizeof(g->version) - 1 ? hs->server_version.len
								   : sizeof(g->version) - 1;
	memcpy(g->version, hs->server_version.p, n);
	g->version[n] = 0;
	g->caps = hs->caps;
	g->charset = hs->charset;
	g->status = hs->status;
	n = hs->auth_plugin.len < sizeof(g->plugin) - 1 ? hs->auth_plugin.len
							: sizeof(g->plugin) - 1;
	memcpy(g->plugin, hs->auth_plugin.p, n);
	g->plugin[n] = 0;
	g->known = true;
}
