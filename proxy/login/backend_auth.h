/*
 * backend_auth.h — the backend side of a login (backend_auth.c): connect
 * to the picked primary, its greeting, TLS, the login and its auth
 * conversation, for a first login and a move. Its
 * handlers are rows of the driver's table (machine.c).
 */
#ifndef TANDEM_PROXY_BACKEND_AUTH_H
#define TANDEM_PROXY_BACKEND_AUTH_H

#include "proxy/session/session_types.h"

/* SESS_BACKEND_WANTED's enter: pick the primary and connect (or wait, or
 * fail). */
void sess_backend_start(struct session *s);
void sess_backend_connected(struct session *s);
void sess_backend_handshake_read(struct session *s);
void sess_backend_tls_ready(struct session *s);
/* SESS_BACKEND_AUTH: the backend's answers to the login. */
void sess_backend_auth_read(struct session *s);

#endif
