/*
 * change_user.h — COM_CHANGE_USER (change_user.c): the command's start,
 * switching the backend once the client side is verified, the backend's
 * answer, and going on as the previous user when the change is refused.
 * Its handlers are rows of the driver's table (machine.c).
 */
#ifndef TANDEM_PROXY_CHANGE_USER_H
#define TANDEM_PROXY_CHANGE_USER_H

#include <stdint.h>

#include "proxy/session/session_types.h"

/* COM_CHANGE_USER from SESS_IDLE: payload is the whole packet (0x11 first),
 * valid during the call only; the caller drains it afterwards. */
void sess_change_user_start(struct session *s, const uint8_t *payload, uint32_t len);
/* SESS_CHANGE_USER_WANTED's enter: the client side verified; switch the
 * backend. */
void sess_change_user_backend(struct session *s);
/* SESS_CHANGE_USER_DENIED's enter: the client side refused the new user
 * (1045, the message in s->cu_denied): the client gets the ERR and the
 * session goes on as the previous user, as the server does. */
void sess_change_user_denied(struct session *s);
/* The backend's OK to our COM_CHANGE_USER (p/len: payload; span: bytes to drain). */
void sess_change_user_done(struct session *s, const uint8_t *p, uint32_t len, int span);
/* The backend's ERR to our COM_CHANGE_USER: the server reset the session
 * and kept it as the previous user; so does tandem (p/len: payload). */
void sess_change_user_backend_refused(struct session *s, const uint8_t *p, uint32_t len, int span);
/* Wipe and free what was kept of the previous user (at close). */
void sess_change_user_forget(struct session *s);

#endif
