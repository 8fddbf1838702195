/*
 * session.h — one client session: its state machine, its two connections,
 * and what it knows about itself.
 *
 * A session lives on one worker from accept to close. Its life is the
 * enum in session_types.h; sess_set_state() is the only place the state
 * changes, checks the transition against the table in session.c, and
 * traces it. What each state does on entering and on news is one row of
 * the driver's table (machine.c): a phase changes state and returns, and
 * only the driver calls the next phase.
 *
 * Only the worker's event loop frees a session: code that wants a session
 * gone calls sess_close(), which marks it SESS_CLOSED and queues it; the
 * worker reaps it after the current callback has unwound.
 */
#ifndef TANDEM_PROXY_SESSION_H
#define TANDEM_PROXY_SESSION_H

#include "proxy/session/session_types.h"

const char *sess_state_name(enum sess_state st);
/* Whether the table allows from -> to (CLOSING and CLOSED always are). */
bool sess_transition_allowed(enum sess_state from, enum sess_state to);

/* Change state; logs at debug level, and refuses (logs an error, closes the
 * session) a transition the table does not allow. Marks the session moved:
 * the driver runs the new state's enter once the handler returns. */
void sess_set_state(struct session *s, enum sess_state to);

/* Queue the session for freeing; safe to call repeatedly. */
void sess_close(struct session *s, const char *why);
/* Send an ERR to the client, then close once it is flushed (bounded). */
void sess_fail(struct session *s, uint16_t code, const char *sqlstate, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Close-when-idle (shutdown, tenant removed); idle sessions go at once. */
void sess_drain(struct session *s);

/* No usable primary now: drop any backend connection and wait in
 * SESS_BACKEND_WAIT for the worker's next topology (mach_retry: the
 * primary is picked again), or fail with why once backend_deadline_us has
 * passed. Safe inside the backend connection's callbacks. */
void sess_backend_wait(struct session *s, const char *why);
/* How long a login may wait for a usable primary: limits.connect_timeout_ms,
 * or failover.session_wait_ms if longer for a client without a greeting. */
int sess_wait_budget_ms(const struct session *s);
/* An idle session's backend is unusable: close it now and answer the
 * client's next command with this ERR (then close), so the client sees an
 * error rather than a dropped connection. */
void sess_backend_gone(struct session *s, uint16_t code, const char *why);

/* The backend did not answer or closed: tell the monitor (a probe soon).
 * Returns the probe request's number, 0 without a monitor. */
uint64_t sess_suspect_backend(struct session *s);
/* Drop the backend connection held for a client not logged in yet; its
 * login will connect afresh. Safe inside the backend's callbacks. */
void sess_backend_unhold(struct session *s);

/* Arm / disarm the session timer. */
void sess_timer_set(struct session *s, int ms);
void sess_timer_clear(struct session *s);

/* Send a packet built by a proto_*_build function. */
int sess_send_client(struct session *s, const void *pkt, size_t len);
/* Send the client an ERR (sequence id seq; msg cut to what one 512-byte
 * packet holds) as an answer, the session staying as it is: the caller
 * says what comes next. <0 when it could not be queued. */
int sess_send_err(struct session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		  const char *msg);


#endif
