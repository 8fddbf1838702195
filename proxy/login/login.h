/*
 * login.h — what every login shares (login.c): the scramble replies tandem
 * computes from what it knows of the user, the connect attributes it
 * passes on, forgetting the user's secrets, and counting a failed login.
 * A COM_CHANGE_USER is a login in the middle of a session: client_auth.c,
 * backend_auth.c and change_user.c all use these.
 *
 * Must not: call a phase or change a session's state.
 */
#ifndef TANDEM_PROXY_LOGIN_H
#define TANDEM_PROXY_LOGIN_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/session/session_types.h"

/* The scramble reply for a backend's plugin ("" or NULL means
 * mysql_native_password) from what the session knows. Returns its length,
 * 0 when only an empty reply is possible, -1 for a plugin tandem cannot
 * answer. out holds PROTO_SHA256_LEN bytes. */
int sess_backend_auth_reply(const struct session *s, const char *plugin, const uint8_t *scramble,
			    uint8_t *out);
/* Connect attributes for the backend: the client's plus where it came from. */
size_t sess_backend_attrs(const struct session *s, uint8_t *buf, size_t cap);
/* A caching_sha2 fast-auth login is told "fast auth OK" (0x01 0x03) before
 * the OK, as the server does; nothing for any other login. */
void sess_sha2_fast_ok(struct session *s);
/* Forget every secret of the session's current user. */
void sess_auth_forget(struct session *s);
/* A login (or COM_CHANGE_USER) failed for a reason the client controls:
 * wrong credentials, garbage, a timeout, TLS refused or broken. Counts
 * against the source in the failed-login throttle (throttle.h). */
void sess_login_failed(struct session *s);
/* The client's host as the server names it in an access-denied error
 * ("localhost" for a loopback client, the address without the port). */
void sess_peer_host(struct session *s, char *out, size_t outlen);
/* Remember what a primary's greeting said (wt->greet): the client's
 * greeting is made from it, now (backend_held) or later without a backend
 * connection (client_auth.c sess_client_greet). */
struct wtenant;
struct proto_handshake;
void sess_greeting_remember(struct wtenant *wt, const struct proto_handshake *hs);

#endif
