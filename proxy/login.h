/*
 * login.h — the pieces of a login that client_auth.c, backend_auth.c and
 * change_user.c share: a COM_CHANGE_USER is a login in the middle of a
 * session, with the same conversation on each leg and a different ending.
 *
 * Must not: grow into a second session API; handlers of states stay in
 * session.h.
 */
#ifndef TANDEM_PROXY_LOGIN_H
#define TANDEM_PROXY_LOGIN_H

#include "proxy/session.h"

/* client_auth.c: check the first auth data of a login or COM_CHANGE_USER
 * for s->user and carry the conversation on (auth switch, caching_sha2
 * full authentication) in SESS_CLIENT_AUTH / SESS_CHANGE_USER_AUTH. On
 * success the login goes on to the backend (sess_backend_start, or
 * sess_change_user_backend); on failure the client gets 1045 and the
 * session closes (a login) or goes on as the previous user (a
 * COM_CHANGE_USER, sess_change_user_refused). A COM_CHANGE_USER that does
 * not name caching_sha2_password gets an auth switch (the greeting's scramble)
 * first, as the server sends. */
void sess_auth_begin(struct session *s, struct proto_str plugin, const uint8_t *data, size_t len);
/* A login (or COM_CHANGE_USER) failed for a reason the client controls:
 * wrong credentials, garbage, a timeout, TLS refused or broken. Counts
 * against the source in the failed-login throttle (throttle.h). */
void sess_login_failed(struct session *s);
/* Forget every secret of the session's current user. */
void sess_auth_forget(struct session *s);

/* backend_auth.c: the scramble reply for a backend's plugin ("" or NULL
 * means mysql_native_password) from what the session knows. Returns its
 * length, 0 when only an empty reply is possible, -1 for a plugin tandem
 * cannot answer. out holds PROTO_SHA256_LEN bytes. */
int sess_backend_auth_reply(const struct session *s, const char *plugin, const uint8_t *scramble,
			    uint8_t *out);
/* Connect attributes for the backend: the client's plus where it came from. */
size_t sess_backend_attrs(const struct session *s, uint8_t *buf, size_t cap);

/* change_user.c: the client side verified; switch the backend. */
void sess_change_user_backend(struct session *s);
/* The backend's OK to our COM_CHANGE_USER (p/len: payload; span: bytes to drain). */
void sess_change_user_done(struct session *s, const uint8_t *p, uint32_t len, int span);
/* The client side refused the new user: the client gets the ERR and the
 * session goes on as the previous user, as the server does. */
void sess_change_user_refused(struct session *s, uint16_t code, const char *sqlstate,
			      const char *msg);
/* The backend's ERR to our COM_CHANGE_USER: the server reset the session
 * and kept it as the previous user; so does tandem (p/len: payload). */
void sess_change_user_backend_refused(struct session *s, const uint8_t *p, uint32_t len, int span);
/* Wipe and free what was kept of the previous user (at close). */
void sess_change_user_forget(struct session *s);

#endif
