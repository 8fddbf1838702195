/*
 * backend_reply.h — the backend's replies to tandem's login or
 * COM_CHANGE_USER (backend_reply.c), shared by backend_auth.c and
 * change_user.c.
 */
#ifndef TANDEM_PROXY_BACKEND_REPLY_H
#define TANDEM_PROXY_BACKEND_REPLY_H

#include <stddef.h>
#include <stdint.h>

#include "proxy/session/session_types.h"

/* The final reply (p/len: its payload, valid during the call; span: the
 * bytes to drain from s->backend.in once it is used). */
typedef void (*sess_backend_final_fn)(struct session *s, const uint8_t *p, uint32_t len, int span);

/* Read the backend's replies in s->backend.in: answers to tandem's own
 * statements first (own.h), then auth switches and AuthMoreData are
 * answered; the OK goes to ok, the ERR to err. Stops when the bytes run
 * out or the session's state changes. */
void sess_backend_replies(struct session *s, sess_backend_final_fn ok, sess_backend_final_fn err);

/* Write bytes of the login to the backend; a failed write fails the
 * session. */
void sess_backend_send(struct session *s, const void *buf, size_t len);

#endif
