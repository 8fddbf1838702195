/*
 * client_auth.c — tandem as the server: the greeting, TLS on request, the
 * client's HandshakeResponse41, and authentication against the tenant's
 * users (for a login and, through login.h, for COM_CHANGE_USER).
 *
 * States handled: the enter of the transient SESS_GREETING_WANTED (the
 * greeting), SESS_CLIENT_HANDSHAKE, SESS_CLIENT_TLS, SESS_CLIENT_AUTH, and
 * the client conversation of SESS_CHANGE_USER_AUTH (its enter checks the
 * command's auth data); a login waiting for an accounts reload hears of
 * it through the driver (MACH_ACCOUNTS, sess_accounts_read).
 *
 * Plugins: mysql_native_password is verified against SHA1(SHA1(pw)), which
 * recovers SHA1(pw) for the backend. caching_sha2_password fast auth is
 * verified against SHA256(SHA256(pw)) when the config has the password;
 * otherwise (a hash-only user, or a fast-auth miss) tandem asks for full
 * authentication, as a MySQL 8 server with a cold cache does: the client
 * sends its password over TLS, or RSA-encrypted without TLS (fetching
 * tandem's public key first if it has none). The password is checked
 * against the config (plaintext, or SHA1(SHA1(pw)) for a hash-only user)
 * and, once known, reaches backends of any plugin. Every other plugin is
 * switched to mysql_native_password. Wrong credentials get 1045 / 28000
 * on every path, and the session closes (a login) or goes on as the
 * previous user (a COM_CHANGE_USER: SESS_CHANGE_USER_DENIED, whose enter
 * is change_user.c's). A verified login moves to SESS_BACKEND_WANTED, a
 * verified COM_CHANGE_USER to SESS_CHANGE_USER_WANTED: the driver
 * (machine.c) calls what comes next. A client at 127.0.0.1
 * or ::1 is 'localhost' to a server that resolves names, in account
 * matching (health/account_list.c) and in 1045.
 *
 * Must not: log or copy secrets anywhere but the session's own fields.
 */
#include "proxy/io/io.h"
#include "proxy/login/login.h"

#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/auth.h"
#include "protocol/auth_rsa.h"
#include "protocol/handshake.h"
#include "protocol/okerr.h"
#include "health/accounts.h"
#include "proxy/session/session.h"
#include "proxy/process/worker_types.h"

#define DEFAULT_SERVER_VERSION "5.5.5-10.11.0-MariaDB-tandem"
#define DEFAULT_CHARSET        45 /* utf8mb4_general_ci */
/* Connection ids of greetings made without a backend connection (the
 * pre-login backend limit was reached): far above any server's ids. */
#define SYNTHETIC_ID_BASE 0xC0000000u

enum auth_verdict {
	AUTH_OK,
	AUTH_DENIED,
	AUTH_SWITCH,
	AUTH_SWITCH_SHA2,
	AUTH_SHA2_FULL,
	AUTH_SWITCH_OLD
};

static bool random_scramble(uint8_t *out)
{
	/* Scramble bytes are printable ASCII: the greeting NUL-terminates them. */
	uint8_t rnd[PROTO_SCRAMBLE_LEN];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		return false;
	for (size_t i = 0; i < sizeof(rnd); i++)
		out[i] = (uint8_t)(33 + rnd[i] % 94);
	return true;
}

/* The plugin a greeting may name: the two tandem verifies itself. */
static bool plugin_mirrorable(struct proto_str p)
{
	return proto_str_eq(p, PROTO_PLUGIN_NATIVE) || proto_str_eq(p, PROTO_PLUGIN_SHA2);
}

void sess_client_greet(struct session *s)
{
	struct proto_handshake hs = {0};
	const struct wgreeting *g = &s->wt->greet;
	/* backend_held: the greeting is the one just read on this session's
	 * backend connection (remembered in wt->greet by backend_auth.c) */
	bool primary = s->backend_held && g->known;
	if (g->known) {
		hs.server_version.p = g->version;
		hs.server_version.len = strlen(g->version);
		hs.caps = g->caps;
		hs.charset = g->charset;
		hs.status = g->status;
		hs.auth_plugin.p = g->plugin;
		hs.auth_plugin.len = strlen(g->plugin);
	} else {
		hs.server_version.p = DEFAULT_SERVER_VERSION;
		hs.server_version.len = strlen(DEFAULT_SERVER_VERSION);
		hs.caps = ~0ULL & ~CLIENT_MYSQL;
		hs.charset = DEFAULT_CHARSET;
		hs.status = SERVER_STATUS_AUTOCOMMIT;
	}
	/* The backend's own scramble, when the client's reply may be reused as
	 * it is: tandem computes the same reply for the backend login. */
	if (primary && !memchr(s->backend_scramble, 0, PROTO_SCRAMBLE_LEN))
		memcpy(s->scramble, s->backend_scramble, PROTO_SCRAMBLE_LEN);
	else if (!random_scramble(s->scramble)) {
		sess_close(s, "no randomness for the scramble");
		return;
	}
	if (s->wt->snap->server_version) {
		hs.server_version.p = s->wt->snap->server_version;
		hs.server_version.len = strlen(s->wt->snap->server_version);
	}
	hs.protocol_version = 10;
	if (primary) {
		s->greeting_id = s->backend_conn_id;
	} else {
		uint32_t n = (uint32_t)s->id & 0xffffff;
		s->greeting_id = SYNTHETIC_ID_BASE | ((uint32_t)(s->w->id & 0x3f) << 24) | n;
	}
	hs.connection_id = s->greeting_id;
	memcpy(hs.scramble, s->scramble, PROTO_SCRAMBLE_LEN);
	hs.scramble_len = PROTO_SCRAMBLE_LEN;
	hs.caps = sess_caps_greeting(s->wt->cfg, hs.caps);
	if (!plugin_mirrorable(hs.auth_plugin)) {
		hs.auth_plugin.p = PROTO_PLUGIN_NATIVE;
		hs.auth_plugin.len = strlen(PROTO_PLUGIN_NATIVE);
	}
	s->greeting_caps = hs.caps;
	s->greeting_sha2 = proto_str_eq(hs.auth_plugin, PROTO_PLUGIN_SHA2);

	uint8_t buf[256];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	if (proto_handshake_build(&wr, 0, &hs) != PROTO_OK ||
	    sess_send_client(s, buf, wr.len) < 0) {
		sess_close(s, "cannot send the greeting");
		return;
	}
	sess_set_state(s, SESS_CLIENT_HANDSHAKE);
	s->client_seq = 1;
	conn_ids_add(s);
	/* The login time counts from the greeting. */
	sess_timer_set(s, s->wt->snap->limits.auth_timeout_ms);
}

/* ------------------------------------------------------------ outcomes */


static void deny(struct session *s, bool used_password)
{
	char host[64];
	sess_peer_host(s, host, sizeof(host));
	stat_add(&s->wt->stats->auth_failures, 1);
	sess_login_failed(s);
	char msg[256];
	snprintf(msg, sizeof(msg), "Access denied for user '%s'@'%s' (using password: %s)", s->user,
		 host, used_password ? "YES" : "NO");
	if (s->state == SESS_CHANGE_USER_AUTH) {
		/* the session goes on as the previous user (change_user.c) */
		snprintf(s->cu_denied, sizeof(s->cu_denied), "%s", msg);
		sess_set_state(s, SESS_CHANGE_USER_DENIED);
	} else
		sess_fail(s, ER_ACCESS_DENIED_ERROR, "28000", "%s", msg);
}

static void bad_handshake(struct session *s, const char *why)
{
	stat_add(&s->wt->stats->client_errors, 1);
	sess_login_failed(s);
	sess_fail(s, ER_HANDSHAKE_ERROR, "08S01", "Bad handshake (%s)", why);
}

/* The account to check against (configured, or loaded from the backend).
 * Looked up again at every step: a backend account's storage lasts until
 * the next lookup only, and a reload may have removed the user. */
static const struct cfg_user *find_user(struct session *s)
{
	return sess_find_user(s);
}


static bool keep_password(struct session *s, const char *pw, size_t len)
{
	char *copy = malloc(len + 1);
	if (!copy)
		return false;
	memcpy(copy, pw, len);
	copy[len] = 0;
	if (s->password) {
		proto_wipe(s->password, strlen(s->password));
		free(s->password);
	}
	s->password = copy;
	return true;
}

/* Authenticated: keep what the backend needs, then go there. how names
 * the method, for the debug log. */
static void auth_succeeded(struct session *s, const struct cfg_user *u, const char *how)
{
	if (u->password && !s->password && !keep_password(s, u->password, strlen(u->password))) {
		sess_close(s, "out of memory");
		return;
	}
	throttle_succeeded(s->env->throttle, s->wt->name, (const struct sockaddr *)&s->peer);
	log_debug("session %llu: %s authenticated as '%s' on tenant %s by %s%s",
		  (unsigned long long)s->id, s->peer_text, s->user, s->wt->name, how,
		  conn_is_tls(&s->client) ? " over TLS" : "");
	if (s->state == SESS_CHANGE_USER_AUTH) {
		sess_set_state(s, SESS_CHANGE_USER_WANTED);
		return;
	}
	sess_set_state(s, SESS_BACKEND_WANTED);
}

/* ------------------------------------------------------------- checks */

static bool empty_password(const struct cfg_user *u)
{
	return u->password && u->password[0] == 0;
}

static bool check_native(struct session *s, const struct cfg_user *u, const uint8_t *d, size_t n)
{
	if (n == 0)
		return empty_password(u);
	if (!proto_native_check(d, n, s->scramble, u->stage2, s->stage1))
		return false;
	s->have_stage1 = true;
	return true;
}

/* A password the client sent in clear (over TLS) or RSA-encrypted. */
static bool check_cleartext(struct session *s, const struct cfg_user *u, const char *pw, size_t n)
{
	if (memchr(pw, 0, n))
		return false;
	uint8_t stage1[PROTO_SHA1_LEN], stage2[PROTO_SHA1_LEN], d2[PROTO_SHA256_LEN];
	proto_native_stages(pw, n, stage1, stage2);
	bool ok;
	if (u->password) {
		proto_sha2_digest2(pw, n, d2);
		ok = proto_ct_equal(d2, u->sha2, sizeof(d2));
	} else {
		ok = proto_ct_equal(stage2, u->stage2, sizeof(stage2));
	}
	if (ok && keep_password(s, pw, n)) {
		memcpy(s->stage1, stage1, sizeof(stage1));
		s->have_stage1 = true;
	} else {
		ok = false;
	}
	proto_wipe(stage1, sizeof(stage1));
	proto_wipe(stage2, sizeof(stage2));
	proto_wipe(d2, sizeof(d2));
	return ok;
}

/* A caching_sha2 reply computed with our scramble (n > 0). An unknown
 * user (u NULL) takes the same steps as a wrong password, so the
 * conversation tells nobody which user names exist. */
static enum auth_verdict sha2_verdict(struct session *s, const struct cfg_user *u, const uint8_t *d,
				      size_t n)
{
	if (u && u->password && proto_sha2_check(d, n, s->scramble, u->sha2)) {
		s->sha2_fast_auth = true;
		return AUTH_OK;
	}
	/* Over TLS Connector/C sends the password in clear at once. A 32-byte
	 * reply that is not that is a fast-auth attempt: ask for the password. */
	if (conn_is_tls(&s->client) && d[n - 1] == 0) {
		if (u && check_cleartext(s, u, (const char *)d, n - 1))
			return AUTH_OK;
		return n == PROTO_SHA256_LEN ? AUTH_SHA2_FULL : AUTH_DENIED;
	}
	return AUTH_SHA2_FULL;
}

/* The first auth data of a login or COM_CHANGE_USER, sent for plugin. */
static enum auth_verdict first_verdict(struct session *s, const struct cfg_user *u,
				       struct proto_str plugin, const uint8_t *d, size_t n)
{
	bool native = plugin.len == 0 || proto_str_eq(plugin, PROTO_PLUGIN_NATIVE);
	bool sha2 = proto_str_eq(plugin, PROTO_PLUGIN_SHA2);
	/* An old-password account: the server switches to its plugin, whatever
	 * the client sent first. */
	if (u && u->old_password)
		return AUTH_SWITCH_OLD;
	/* Empty data for a plugin other than the greeting's is the client
	 * library's "let us talk" packet: switch to the plugin it names. */
	if (native && n == 0 && s->greeting_sha2 && s->state == SESS_CLIENT_HANDSHAKE)
		return AUTH_SWITCH;
	if (native)
		return u && check_native(s, u, d, n) ? AUTH_OK : AUTH_DENIED;
	if (!sha2)
		return AUTH_SWITCH;
	/* Empty caching_sha2 data answering a native greeting is the client
	 * library's "let us talk" packet, not an empty password: it had no
	 * scramble for its plugin. Switch to the plugin it prefers. */
	if (n == 0 && !s->greeting_sha2)
		return AUTH_SWITCH_SHA2;
	if (n == 0)
		return u && empty_password(u) ? AUTH_OK : AUTH_DENIED;
	return sha2_verdict(s, u, d, n);
}

/* ---------------------------------------------------- accounts reload */

/* How long a refused login waits for the accounts to be loaded again. */
#define ACCT_WAIT_MS 200
#define ACCT_POLL_MS 5

/*
 * A native reply the cached accounts refuse may be right for the server: a
 * user created, a password changed since the last load. Wait (bounded)
 * for one reload, then check once more. True when the wait started; the
 * answer comes from sess_accounts_read. Only for accounts loaded from
 * the backend, once per login.
 */
static bool accounts_retry(struct session *s, const uint8_t *d, size_t n)
{
	const struct cfg_tenant *t = s->wt->cfg;
	if (s->acct_ticket || (n != 0 && n != PROTO_SCRAMBLE_LEN) || !t->cluster ||
	    cfg_user_find(t, s->user, strlen(s->user)) || !cfg_tenant_backend_user_ok(t, s->user))
		return false;
	uint64_t ticket = hc_accounts_reload(s->env->accounts, t->cluster->name);
	if (!ticket)
		return false;
	s->acct_ticket = ticket;
	s->acct_until_us = clock_mono_us() + ACCT_WAIT_MS * 1000;
	memcpy(s->acct_reply, d, n);
	s->acct_reply_len = (uint8_t)n;
	log_debug("session %llu: '%s' refused by the cached accounts; waiting for a reload",
		  (unsigned long long)s->id, s->user);
	struct timeval tv = {0, ACCT_POLL_MS * 1000};
	evtimer_add(&s->acct_timer, &tv);
	return true;
}

/* COM_CHANGE_USER to a user the cached accounts lack: which switch the
 * server sends depends on its account (old password or not), so wait
 * (bounded) for one reload before choosing. True when the wait started. */
static bool switch_after_reload(struct session *s, bool first_native)
{
	const struct cfg_tenant *t = s->wt->cfg;
	if (s->acct_ticket || !t->cluster || !cfg_tenant_backend_user_ok(t, s->user))
		return false;
	uint64_t ticket = hc_accounts_reload(s->env->accounts, t->cluster->name);
	if (!ticket)
		return false;
	s->acct_ticket = ticket;
	s->acct_until_us = clock_mono_us() + ACCT_WAIT_MS * 1000;
	s->acct_reply_len = 0;
	s->acct_switch_pending = true;
	s->acct_first_native = first_native;
	struct timeval tv = {0, ACCT_POLL_MS * 1000};
	evtimer_add(&s->acct_timer, &tv);
	return true;
}

static void old_switch(struct session *s, struct proto_str first_plugin);
static void auth_switch(struct session *s, const char *plugin, enum sess_auth_step next);

void sess_accounts_read(struct session *s)
{
	if (s->state == SESS_CLOSED || s->state == SESS_CLOSING || !s->acct_ticket)
		return;
	const char *cluster = s->wt->cfg->cluster->name;
	if (!hc_accounts_reloaded(s->env->accounts, cluster, s->acct_ticket) &&
	    clock_mono_us() < s->acct_until_us) {
		struct timeval tv = {0, ACCT_POLL_MS * 1000};
		evtimer_add(&s->acct_timer, &tv);
		return;
	}
	uint8_t reply[PROTO_SCRAMBLE_LEN];
	size_t n = s->acct_reply_len;
	memcpy(reply, s->acct_reply, n);
	proto_wipe(s->acct_reply, sizeof(s->acct_reply));
	const struct cfg_user *u = find_user(s);
	if (s->acct_switch_pending) {
		s->acct_switch_pending = false;
		s->acct_ticket = 0;
		struct proto_str native = {PROTO_PLUGIN_NATIVE, strlen(PROTO_PLUGIN_NATIVE)};
		struct proto_str other = {PROTO_PLUGIN_SHA2, strlen(PROTO_PLUGIN_SHA2)};
		if (u && u->old_password)
			old_switch(s, s->acct_first_native ? native : other);
		else
			auth_switch(s, PROTO_PLUGIN_NATIVE, SESS_AUTH_NATIVE_SWITCH);
		return;
	}
	if (u && u->old_password) {
		/* known now: the server's answer to a native first reply */
		s->acct_ticket = 0;
		struct proto_str native = {PROTO_PLUGIN_NATIVE, strlen(PROTO_PLUGIN_NATIVE)};
		old_switch(s, native);
		proto_wipe(reply, sizeof(reply));
		return;
	}
	if (u && check_native(s, u, reply, n))
		auth_succeeded(s, u, PROTO_PLUGIN_NATIVE " (after reloading the accounts)");
	else
		deny(s, n > 0);
	proto_wipe(reply, sizeof(reply));
	if (s->state != SESS_CLOSED && s->state != SESS_CLOSING)
		s->acct_ticket = 0;
}

/* ------------------------------------------------------- conversation */

static bool send_client(struct session *s, const uint8_t *buf, size_t len)
{
	if (sess_send_client(s, buf, len) < 0) {
		sess_close(s, "client gone during login");
		return false;
	}
	s->client_seq++;
	return true;
}

/* Now waiting for the client's next auth packet. */
static void await(struct session *s, enum sess_auth_step step)
{
	s->auth_step = (uint8_t)step;
	if (s->state == SESS_CLIENT_HANDSHAKE)
		sess_set_state(s, SESS_CLIENT_AUTH);
}

/* The session's scramble again, for plugin: replies are computed with it. */
static void auth_switch(struct session *s, const char *plugin, enum sess_auth_step next)
{
	uint8_t buf[128];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	proto_auth_switch_build(&wr, s->client_seq, plugin, s->scramble, PROTO_SCRAMBLE_LEN);
	if (send_client(s, buf, wr.len))
		await(s, next);
}

/* An old-password account after a first reply for mysql_native_password:
 * what the server sends then (sql_acl.cc, switch_from_long_to_short_scramble)
 * is the 4.0 request, a lone 0xFE: "the short scramble of what you have". */
static void old_switch(struct session *s, struct proto_str first_plugin)
{
	if (!(first_plugin.len == 0 || proto_str_eq(first_plugin, PROTO_PLUGIN_NATIVE))) {
		auth_switch(s, PROTO_PLUGIN_OLD, SESS_AUTH_OLD_SWITCH);
		return;
	}
	uint8_t buf[PROTO_HEADER_LEN + 1];
	proto_frame_build(buf, 1, s->client_seq);
	buf[PROTO_HEADER_LEN] = PROTO_AUTH_SWITCH;
	if (send_client(s, buf, sizeof(buf)))
		await(s, SESS_AUTH_OLD_SWITCH);
}

static void more_data(struct session *s, const uint8_t *data, size_t len, enum sess_auth_step next)
{
	size_t cap = len + 16;
	uint8_t stack[64];
	uint8_t *buf = cap <= sizeof(stack) ? stack : malloc(cap);
	if (!buf) {
		sess_close(s, "out of memory");
		return;
	}
	struct proto_wr wr;
	proto_wr_init(&wr, buf, cap);
	bool ok = proto_auth_more_build(&wr, s->client_seq, data, len) == PROTO_OK &&
		  send_client(s, buf, wr.len);
	if (buf != stack)
		free(buf);
	if (ok)
		await(s, next);
}

static void send_public_key(struct session *s)
{
	const char *pem;
	size_t pem_len;
	EVP_PKEY *key = auth_keys_rsa(s->wt->snap, &pem, &pem_len);
	if (!key) {
		stat_add(&s->wt->stats->auth_failures, 1);
		sess_fail(s, ER_NOT_SUPPORTED_AUTH_MODE, "08004",
			  "tandem: no RSA key for caching_sha2_password; use TLS");
		return;
	}
	/* The blob that follows must be decrypted with this key, even if a
	 * reload changes the configured one meanwhile. */
	EVP_PKEY_free(s->rsa_key);
	EVP_PKEY_up_ref(key);
	s->rsa_key = key;
	log_debug("session %llu: tandem sent its RSA public key to %s", (unsigned long long)s->id,
		  s->peer_text);
	more_data(s, (const uint8_t *)pem, pem_len, SESS_AUTH_SHA2_RSA);
}

static void check_rsa_blob(struct session *s, const struct cfg_user *u, const uint8_t *p,
			   size_t len)
{
	const char *pem;
	size_t pem_len;
	EVP_PKEY *key = s->rsa_key ? s->rsa_key : auth_keys_rsa(s->wt->snap, &pem, &pem_len);
	char pw[PROTO_RSA_MAX_PASSWORD + 1];
	size_t n = 0;
	bool ok = key &&
		  proto_rsa_decrypt_password(key, p, len, s->scramble, pw, sizeof(pw), &n) ==
			  PROTO_OK &&
		  check_cleartext(s, u, pw, n);
	proto_wipe(pw, sizeof(pw));
	if (ok)
		auth_succeeded(s, u, "caching_sha2_password full authentication (RSA)");
	else
		deny(s, true);
}

static const char *sha2_how(const struct session *s)
{
	return s->sha2_fast_auth ? "caching_sha2_password fast authentication"
				 : "caching_sha2_password (password sent in clear)";
}

/* The reply to our switch to caching_sha2: fast auth (or the password in
 * clear, over TLS), an empty packet for no password. */
static void sha2_reply(struct session *s, const struct cfg_user *u, const uint8_t *d, size_t n)
{
	enum auth_verdict v = n == 0 ? (u && empty_password(u) ? AUTH_OK : AUTH_DENIED)
				     : sha2_verdict(s, u, d, n);
	if (v == AUTH_OK) {
		auth_succeeded(s, u, sha2_how(s));
	} else if (v == AUTH_SHA2_FULL) {
		uint8_t full = PROTO_SHA2_PERFORM_FULL_AUTH;
		more_data(s, &full, 1, SESS_AUTH_SHA2_FULL);
	} else {
		deny(s, n > 0);
	}
}

/* Check the first auth data of a login or COM_CHANGE_USER for s->user and
 * carry the conversation on (auth switch, caching_sha2 full
 * authentication). On success the session moves to SESS_BACKEND_WANTED (a
 * login) or SESS_CHANGE_USER_WANTED; on failure the client gets 1045 and
 * the session closes (a login) or moves to SESS_CHANGE_USER_DENIED. */
static void auth_begin(struct session *s, struct proto_str plugin, const uint8_t *data, size_t len)
{
	bool native = plugin.len == 0 || proto_str_eq(plugin, PROTO_PLUGIN_NATIVE);
	s->acct_ticket = 0;
	if (s->state == SESS_CHANGE_USER_AUTH && !proto_str_eq(plugin, PROTO_PLUGIN_SHA2)) {
		/* The server answers COM_CHANGE_USER with an auth switch, whatever
		 * reply came with the command: its native plugin writes the
		 * connection's scramble before it reads. That is the greeting's
		 * scramble (a fresh one only after it was used up), and libmariadb
		 * answers the switch of a change_user with the greeting's scramble
		 * whatever the switch carries: so tandem sends its greeting's. An
		 * old-password account is switched to its own plugin, as the
		 * server does. */
		const struct cfg_user *cu = find_user(s);
		if (!cu && switch_after_reload(s, native))
			return;
		if (cu && cu->old_password)
			old_switch(s, plugin);
		else
			auth_switch(s, PROTO_PLUGIN_NATIVE, SESS_AUTH_NATIVE_SWITCH);
		return;
	}
	const struct cfg_user *u = find_user(s);
	switch (first_verdict(s, u, plugin, data, len)) {
	case AUTH_OK:
		auth_succeeded(s, u,
			       s->sha2_fast_auth || proto_str_eq(plugin, PROTO_PLUGIN_SHA2)
				       ? sha2_how(s)
				       : PROTO_PLUGIN_NATIVE);
		break;
	case AUTH_DENIED:
		if (!native || !accounts_retry(s, data, len))
			deny(s, len > 0);
		break;
	case AUTH_SWITCH:
		auth_switch(s, PROTO_PLUGIN_NATIVE, SESS_AUTH_NATIVE_SWITCH);
		break;
	case AUTH_SWITCH_SHA2:
		auth_switch(s, PROTO_PLUGIN_SHA2, SESS_AUTH_SHA2_SWITCH);
		break;
	case AUTH_SWITCH_OLD:
		old_switch(s, plugin);
		break;
	case AUTH_SHA2_FULL: {
		uint8_t full = PROTO_SHA2_PERFORM_FULL_AUTH;
		more_data(s, &full, 1, SESS_AUTH_SHA2_FULL);
		break;
	}
	}
}

void sess_change_user_auth_begin(struct session *s)
{
	uint8_t hdr[PROTO_HEADER_LEN];
	struct proto_change_user cu;
	const uint8_t *p = NULL;
	uint32_t len = 0;
	if (evbuffer_copyout(s->client.in, hdr, sizeof(hdr)) == (ssize_t)sizeof(hdr)) {
		len = (uint32_t)hdr[0] | (uint32_t)hdr[1] << 8 | (uint32_t)hdr[2] << 16;
		p = evbuffer_pullup(s->client.in, (ssize_t)(PROTO_HEADER_LEN + len));
	}
	/* change_user.c parsed the same bytes a moment ago */
	if (!p || proto_change_user_parse(p + PROTO_HEADER_LEN, len, s->client_caps, &cu) < 0) {
		sess_close(s, "internal state error");
		return;
	}
	auth_begin(s, cu.auth_plugin, (const uint8_t *)cu.auth.p, cu.auth.len);
	evbuffer_drain(s->client.in, PROTO_HEADER_LEN + len);
}

/* The client's next packet of a login: >0 the bytes it spans (p/len/seq
 * valid until they are drained), 0 none yet or the answer to the last one
 * is not out (an accounts reload), <0 refused: too large (too_large says
 * so) or out of order, with the ERR, which follows it. */
static int next_packet(struct session *s, const char *too_large, const uint8_t **p, uint32_t *len,
		       uint8_t *seq)
{
	if (s->acct_ticket)
		return 0;
	int span =
		sess_packet_peek(s->client.in, s->wt->snap->limits.preauth_max_packet, p, len, seq);
	if (span == 0)
		return 0;
	if (span < 0 || *seq != s->client_seq) {
		s->client_seq = (uint8_t)(*seq + 1);
		bad_handshake(s, span < 0 ? too_large : "packets out of order");
		return -1;
	}
	return span;
}

/* The client's next auth packet (SESS_CLIENT_AUTH, SESS_CHANGE_USER_AUTH). */
void sess_client_auth_read(struct session *s)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	int span = next_packet(s, "auth packet too large", &p, &len, &seq);
	if (span <= 0)
		return;
	/* Copy out: the reply may be sent before the bytes are drained. */
	uint8_t data[PROTO_RSA_MAX_CIPHERTEXT];
	if (len > sizeof(data)) {
		deny(s, true);
		return;
	}
	memcpy(data, p, len);
	evbuffer_drain(s->client.in, (size_t)span);
	s->client_seq = (uint8_t)(seq + 1);

	/* An unknown user goes the same way as a wrong password (the key is
	 * sent on request either way) and is denied where that would be. */
	const struct cfg_user *u = find_user(s);
	bool tls = conn_is_tls(&s->client);
	if (s->auth_step == SESS_AUTH_NATIVE_SWITCH) {
		if (u && check_native(s, u, data, len))
			auth_succeeded(s, u, PROTO_PLUGIN_NATIVE " (after an auth switch)");
		else if (!accounts_retry(s, data, len))
			deny(s, len > 0);
	} else if (s->auth_step == SESS_AUTH_SHA2_SWITCH) {
		sha2_reply(s, u, data, len);
	} else if (s->auth_step == SESS_AUTH_OLD_SWITCH) {
		if (u && u->old_password && proto_old_check(data, len, s->scramble, u->old_hash)) {
			memcpy(s->old_hash, u->old_hash, sizeof(s->old_hash));
			s->have_old = true;
			auth_succeeded(s, u, PROTO_PLUGIN_OLD " (after an auth switch)");
		} else {
			deny(s, len > 0 && !(len == 1 && data[0] == 0));
		}
	} else if (s->auth_step == SESS_AUTH_SHA2_FULL && len == 1 &&
		   data[0] == PROTO_SHA2_REQUEST_PUBLIC_KEY && !tls) {
		send_public_key(s);
	} else if (!u) {
		deny(s, true);
	} else if (s->auth_step == SESS_AUTH_SHA2_FULL && tls) {
		/* the password and its NUL, in clear over TLS */
		if (len > 0 && data[len - 1] == 0 &&
		    check_cleartext(s, u, (const char *)data, len - 1))
			auth_succeeded(s, u, "caching_sha2_password full authentication");
		else
			deny(s, true);
	} else {
		check_rsa_blob(s, u, data, len);
	}
	proto_wipe(data, len);
}

/* --------------------------------------------------------- handshake */

static bool copy_str(char *dst, size_t cap, struct proto_str src)
{
	if (src.len >= cap || memchr(src.p, 0, src.len))
		return false;
	memcpy(dst, src.p, src.len);
	dst[src.len] = 0;
	return true;
}

/* SSLRequest: upgrade the socket; the real response follows over TLS. */
static void start_tls(struct session *s, const uint8_t *p, uint32_t len, uint8_t seq, int span)
{
	const struct cfg_tls_server *tls = s->wt->cfg->tls;
	struct proto_handshake_response r;
	if (!tls) {
		bad_handshake(s, "TLS is not enabled on this port");
		return;
	}
	if (conn_is_tls(&s->client)) {
		bad_handshake(s, "a second SSLRequest");
		return;
	}
	if (proto_ssl_request_parse(p, len, &r) < 0) {
		bad_handshake(s, "malformed SSLRequest");
		return;
	}
	evbuffer_drain(s->client.in, (size_t)span);
	if (conn_tls_start(&s->client, tls->ctx, true, NULL) < 0) {
		sess_close(s, "cannot start TLS (out of memory)");
		return;
	}
	sess_set_state(s, SESS_CLIENT_TLS);
}

void sess_client_tls_ready(struct session *s)
{
	if (s->state != SESS_CLIENT_TLS)
		return;
	char desc[96];
	conn_tls_describe(&s->client, desc, sizeof(desc));
	log_debug("session %llu: TLS with %s: %s", (unsigned long long)s->id, s->peer_text, desc);
	sess_set_state(s, SESS_CLIENT_HANDSHAKE);
}

void sess_client_handshake_read(struct session *s)
{
	const uint8_t *p;
	uint32_t len;
	uint8_t seq;
	int span = next_packet(s, "login packet too large", &p, &len, &seq);
	if (span <= 0)
		return;
	/* Every answer from here on, an ERR included, follows the client's packet. */
	s->client_seq = (uint8_t)(seq + 1);
	if (proto_is_ssl_request(p, len)) {
		start_tls(s, p, len, seq, span);
		return;
	}
	/* Decided on the first packet, before any credential is read: a
	 * stripped handshake never becomes a plaintext login. */
	const struct cfg_tls_server *tls = s->wt->cfg->tls;
	if (tls && tls->require && !conn_is_tls(&s->client)) {
		stat_add(&s->wt->stats->client_errors, 1);
		sess_login_failed(s);
		sess_fail(s, ER_SECURE_TRANSPORT_REQUIRED, "HY000",
			  "Connections using insecure transport are prohibited: tenant '%s' "
			  "requires TLS",
			  s->wt->name);
		return;
	}
	uint64_t offered = s->greeting_caps;
	struct proto_handshake_response r;
	int rc = proto_handshake_response_parse(p, len, offered, &r);
	if (rc < 0) {
		bad_handshake(s, rc == PROTO_E_UNSUPPORTED ? "client too old" : proto_strerror(rc));
		return;
	}
	if (!copy_str(s->user, sizeof(s->user), r.user)) {
		bad_handshake(s, "user or database name too long");
		return;
	}
	if (!copy_str(s->db, sizeof(s->db), r.database)) {
		/* What the server answers (check_db_name, "%-.100T": cut to 100
		 * bytes, the last three "..."); shorter ones reach it. */
		int n = (int)(r.database.len > 100 ? 97 : r.database.len);
		stat_add(&s->wt->stats->client_errors, 1);
		sess_login_failed(s);
		sess_fail(s, ER_WRONG_DB_NAME, "42000", "Incorrect database name '%.*s%s'", n,
			  r.database.p, r.database.len > 100 ? "..." : "");
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

	/* Copy the auth data out: replies may go out before the drain. */
	uint8_t auth[256];
	size_t alen = r.auth.len < sizeof(auth) ? r.auth.len : sizeof(auth);
	memcpy(auth, r.auth.p, alen);
	char plugin[64];
	struct proto_str pl = {plugin, 0};
	if (!copy_str(plugin, sizeof(plugin), r.auth_plugin))
		plugin[0] = 0; /* unknown, too long: switched to native */
	else
		pl.len = r.auth_plugin.len;
	if (r.auth_plugin.len && !pl.len) {
		/* a name tandem cannot hold is a plugin it does not speak */
		static const char unknown[] = "?";
		pl.p = unknown;
		pl.len = 1;
	}
	evbuffer_drain(s->client.in, (size_t)span);
	if (r.auth.len > sizeof(auth)) {
		deny(s, true);
		return;
	}
	auth_begin(s, pl, auth, alen);
	proto_wipe(auth, sizeof(auth));
}
