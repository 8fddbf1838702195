/*
 * client_auth.h — the client side of a login (client_auth.c): the
 * greeting, TLS with the client, checking the client's credentials, and
 * the client conversation of a COM_CHANGE_USER. Its handlers are rows of
 * the driver's table (machine.c).
 */
#ifndef TANDEM_PROXY_CLIENT_AUTH_H
#define TANDEM_PROXY_CLIENT_AUTH_H

#include <event2/util.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/handshake.h"
#include "proxy/session/session_types.h"

/* Send the client its greeting: the primary's (primary: its greeting, just
 * read on the session's backend connection), or without one the last
 * greeting this tenant's primary gave on this worker (synthetic connection
 * id), or tandem's defaults. Capabilities are masked by session_caps.h. */
void sess_client_greet(struct session *s, const struct proto_handshake *primary);
void sess_client_handshake_read(struct session *s);
void sess_client_tls_ready(struct session *s);
void sess_client_auth_read(struct session *s);
/* The accounts-reload wait's timer (acct_timer). */
void sess_accounts_timer(evutil_socket_t fd, short what, void *arg);

/* Check the first auth data of a login or COM_CHANGE_USER for s->user and
 * carry the conversation on (auth switch, caching_sha2 full
 * authentication) in SESS_CLIENT_AUTH / SESS_CHANGE_USER_AUTH. On success
 * the session moves to SESS_BACKEND_WANTED (a login) or
 * SESS_CHANGE_USER_WANTED; on failure the client gets 1045 and the session
 * closes (a login) or moves to SESS_CHANGE_USER_DENIED (the message in
 * cu_denied). A COM_CHANGE_USER that does not name caching_sha2_password
 * gets an auth switch (the greeting's scramble) first, as the server
 * sends. */
void sess_auth_begin(struct session *s, struct proto_str plugin, const uint8_t *data, size_t len);

#endif
