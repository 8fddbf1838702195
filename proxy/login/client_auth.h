/*
 * client_auth.h — the client side of a login (client_auth.c): the
 * greeting, TLS with the client, checking the client's credentials, and
 * the client conversation of a COM_CHANGE_USER. Its handlers are rows of
 * the driver's table (machine.c).
 */
#ifndef TANDEM_PROXY_CLIENT_AUTH_H
#define TANDEM_PROXY_CLIENT_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "protocol/handshake.h"
#include "proxy/session/session_types.h"

/* SESS_GREETING_WANTED's enter: send the client its greeting, the
 * primary's (backend_held: just read on the session's backend connection
 * and remembered, login.h), or without one the last greeting this
 * tenant's primary gave on this worker (synthetic connection id), or
 * tandem's defaults; then SESS_CLIENT_HANDSHAKE. Capabilities are masked
 * by session_caps.h. */
void sess_client_greet(struct session *s);
void sess_client_handshake_read(struct session *s);
void sess_client_tls_ready(struct session *s);
void sess_client_auth_read(struct session *s);
/* The accounts-reload wait's poll (acct_timer fired: the driver's
 * MACH_ACCOUNTS news): answer the login once the accounts reloaded or the
 * wait is over, else poll on. */
void sess_accounts_read(struct session *s);

/* SESS_CHANGE_USER_AUTH's enter: the COM_CHANGE_USER change_user.c read
 * still heads s->client.in; check its auth data for the new s->user and
 * carry the conversation on, as for a login (the auth switch the server
 * sends unless it names caching_sha2_password first), then drain it. The
 * verified change moves to SESS_CHANGE_USER_WANTED, a refused one to
 * SESS_CHANGE_USER_DENIED (the message in cu_denied). */
void sess_change_user_auth_begin(struct session *s);

#endif
