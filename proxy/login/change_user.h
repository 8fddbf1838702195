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

/* SESS_CHANGE_USER_START's enter: the whole COM_CHANGE_USER heads
 * s->client.in (forward.c saw it from SESS_IDLE); read and drain it, and
 * start the client side (SESS_CHANGE_USER_AUTH), or refuse it at once. */
void sess_change_user_start(struct session *s);
/* SESS_CHANGE_USER_WANTED's enter: the client side verified; switch the
 * backend. */
void sess_change_user_backend(struct session *s);
/* SESS_CHANGE_USER_DENIED's enter: the client side refused the new user
 * (1045, the message in s->cu_denied): the client gets the ERR and the
 * session goes on as the previous user, as the server does. */
void sess_change_user_denied(struct session *s);
/* SESS_CHANGE_USER_BACKEND: the backend's replies. Its OK goes to the
 * client; its ERR too, and the server reset the session and kept it as the
 * previous user, so does tandem. */
void sess_change_user_backend_read(struct session *s);
/* Wipe and free what was kept of the previous user (at close). */
void sess_change_user_forget(struct session *s);

#endif
