/*
 * session.c — what every phase shares: the transition table and its single
 * setter, closing, failing with an ERR, waiting for a primary, the timer,
 * telling the monitor a backend is suspect, and small wire helpers.
 *
 * Must not: call a phase. The driver (machine.c) dispatches news to the
 * phases: client_auth.c (greeting, TLS and client login), backend_auth.c
 * (backend connect, TLS and login), change_user.c (COM_CHANGE_USER),
 * forward.c (commands and results), migrate.c / restore.c (moves).
 */
#include "proxy/io/io.h"
#include "proxy/session/session.h"


#include <arpa/inet.h>
#include <errno.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/clock.h"
#include "common/log.h"
#include "protocol/auth.h"
#include "health/monitor.h"
#include "protocol/okerr.h"
#include "proxy/process/worker_types.h"

/* How long a session may take to flush its final ERR before it is cut. */
#define SESS_LINGER_MS 2000

const char *sess_state_name(enum sess_state st)
{
	static const char *const names[SESS_NSTATES] = {
		[SESS_GREETING_WANTED] = "greeting_wanted",
		[SESS_CLIENT_HANDSHAKE] = "client_handshake",
		[SESS_CLIENT_TLS] = "client_tls",
		[SESS_CLIENT_AUTH] = "client_auth",
		[SESS_BACKEND_WANTED] = "backend_wanted",
		[SESS_BACKEND_WAIT] = "backend_wait",
		[SESS_BACKEND_CONNECT] = "backend_connect",
		[SESS_BACKEND_HANDSHAKE] = "backend_handshake",
		[SESS_BACKEND_TLS] = "backend_tls",
		[SESS_BACKEND_AUTH] = "backend_auth",
		[SESS_IDLE] = "idle",
		[SESS_CHANGE_USER_START] = "change_user_start",
		[SESS_CHANGE_USER_AUTH] = "change_user_auth",
		[SESS_CHANGE_USER_WANTED] = "change_user_wanted",
		[SESS_CHANGE_USER_DENIED] = "change_user_denied",
		[SESS_CHANGE_USER_BACKEND] = "change_user_backend",
		[SESS_COMMAND] = "command",
		[SESS_RESULT] = "result",
		[SESS_LOCAL_INFILE] = "local_infile",
		[SESS_RESTORE] = "restore",
		[SESS_CLOSING] = "closing",
		[SESS_CLOSED] = "closed",
	};
	return (unsigned)st < SESS_NSTATES ? names[st] : "?";
}

#define T(s) (1u << (s))
/* allowed[from] = set of states it may move to. CLOSING and CLOSED are
 * reachable from everywhere and are not listed. */
/* A move (migrate.c) leaves an attached state for BACKEND_CONNECT or
 * BACKEND_WAIT; a move that gives up ends IDLE with SESS_F_BACKEND_GONE. */
#define MOVE    (T(SESS_BACKEND_WANTED) | T(SESS_BACKEND_CONNECT) | T(SESS_BACKEND_WAIT))
#define GIVE_UP T(SESS_IDLE)
/* The greeting comes from the primary: the login runs in BACKEND_* states
 * before the client's (pre_greeting), whose backend connection then waits
 * for the client's login and goes on with it (backend_held). */
#define HELD (T(SESS_BACKEND_TLS) | T(SESS_BACKEND_AUTH))
static const unsigned allowed[SESS_NSTATES] = {
	[SESS_GREETING_WANTED] = T(SESS_CLIENT_HANDSHAKE),
	[SESS_CLIENT_HANDSHAKE] = T(SESS_CLIENT_TLS) | T(SESS_CLIENT_AUTH) | T(SESS_BACKEND_WANTED),
	[SESS_CLIENT_TLS] = T(SESS_CLIENT_HANDSHAKE),
	[SESS_CLIENT_AUTH] = T(SESS_BACKEND_WANTED),
	/* the held greeting connection goes on with the login, or the
	 * primary is picked afresh */
	[SESS_BACKEND_WANTED] = T(SESS_BACKEND_CONNECT) | T(SESS_BACKEND_WAIT) | HELD | GIVE_UP,
	[SESS_BACKEND_WAIT] = T(SESS_BACKEND_WANTED) | GIVE_UP,
	/* (GREETING_WANTED: the primary greeted, or tandem greets for it) */
	[SESS_BACKEND_CONNECT] =
		T(SESS_BACKEND_HANDSHAKE) | MOVE | GIVE_UP | T(SESS_GREETING_WANTED),
	[SESS_BACKEND_HANDSHAKE] = T(SESS_BACKEND_TLS) | T(SESS_BACKEND_AUTH) | MOVE | GIVE_UP |
				   T(SESS_GREETING_WANTED),
	[SESS_BACKEND_TLS] = T(SESS_BACKEND_AUTH) | MOVE | GIVE_UP,
	[SESS_BACKEND_AUTH] = T(SESS_IDLE) | T(SESS_RESTORE) | MOVE,
	[SESS_IDLE] = T(SESS_COMMAND) | T(SESS_RESULT) | T(SESS_CHANGE_USER_START) | MOVE,
	/* the client side of the change starts, or it is refused at once */
	[SESS_CHANGE_USER_START] = T(SESS_CHANGE_USER_AUTH) | T(SESS_IDLE),
	[SESS_CHANGE_USER_AUTH] =
		T(SESS_CHANGE_USER_WANTED) | T(SESS_CHANGE_USER_DENIED) | T(SESS_IDLE) | MOVE,
	/* the COM_CHANGE_USER goes to the backend */
	[SESS_CHANGE_USER_WANTED] = T(SESS_CHANGE_USER_BACKEND),
	/* the backend's reset runs, or the session is idle as the previous user */
	[SESS_CHANGE_USER_DENIED] = T(SESS_CHANGE_USER_BACKEND) | T(SESS_IDLE),
	[SESS_CHANGE_USER_BACKEND] = T(SESS_IDLE) | MOVE,
	[SESS_COMMAND] = T(SESS_RESULT) | T(SESS_IDLE) | MOVE,
	[SESS_RESULT] = T(SESS_IDLE) | T(SESS_LOCAL_INFILE) | MOVE,
	[SESS_LOCAL_INFILE] = T(SESS_RESULT) | MOVE,
	[SESS_RESTORE] = T(SESS_IDLE) | T(SESS_RESULT) | MOVE,
	[SESS_CLOSING] = 0,
	[SESS_CLOSED] = 0,
};
#undef MOVE
#undef GIVE_UP
#undef HELD
#undef T

/* Inlined into sess_set_state: it runs on every state change. */
static inline bool transition_allowed(enum sess_state from, enum sess_state to)
{
	if ((unsigned)from >= SESS_NSTATES || (unsigned)to >= SESS_NSTATES)
		return false;
	return to == SESS_CLOSED || (to == SESS_CLOSING && from != SESS_CLOSED) ||
	       (allowed[from] & (1u << to));
}

bool sess_transition_allowed(enum sess_state from, enum sess_state to)
{
	return transition_allowed(from, to);
}

void sess_set_state(struct session *s, enum sess_state to)
{
	enum sess_state from = s->state;
	if (from == to)
		return;
	if (!transition_allowed(from, to)) {
		log_error("session %llu: illegal transition %s -> %s", (unsigned long long)s->id,
			  sess_state_name(from), sess_state_name(to));
		sess_close(s, "internal state error");
		return;
	}
	log_debug("session %llu: %s -> %s", (unsigned long long)s->id, sess_state_name(from),
		  sess_state_name(to));
	s->state = to;
	s->moved = true;
	s->flags &= ~(unsigned)SESS_F_VERDICT_WAIT; /* decided, or moving anyway */
}

/* ------------------------------------------------------------- shared */

void sess_timer_set(struct session *s, int ms)
{
	struct timeval tv = {ms / 1000, (ms % 1000) * 1000};
	evtimer_add(&s->timer, &tv);
}

void sess_timer_clear(struct session *s)
{
	evtimer_del(&s->timer);
}

/* ------------------------------------------------------- create / close */

void sess_close(struct session *s, const char *why)
{
	if (s->state == SESS_CLOSED)
		return;
	log_debug("session %llu: closing in state %s: %s", (unsigned long long)s->id,
		  sess_state_name(s->state), why);
	sess_set_state(s, SESS_CLOSED);
	sess_timer_clear(s);
	/* Stop all I/O now; memory goes when the loop is back at the top. */
	conn_read_disable(&s->client);
	conn_read_disable(&s->backend);
	env_backend_release(s);
	env_preauth_release(s);
	evtimer_del(&s->acct_timer);
	env_reap_later(s->w, s);
}

/* sess_fail() during a move: the failure is the move's. True when it was
 * handled here (nothing more to do); false to send the ERR as owed, with
 * *seq the sequence id the client expects. */
static bool move_failed(struct session *s, uint16_t code, const char *msg, uint8_t *seq)
{
	struct sess_migrate *mg = &s->mg;
	mg->active = false;
	if (mg->inflight != MIG_NONE) {
		/* the client waits for an answer: the ERR is it */
		*seq = 1;
		return false;
	}
	/* Idle: the client is told at its next command, then the session ends. */
	char why[400];
	snprintf(why, sizeof(why), "%s", msg);
	if (s->state != SESS_IDLE)
		sess_set_state(s, SESS_IDLE);
	sess_backend_gone(s, code, why);
	return true;
}

void sess_fail(struct session *s, uint16_t code, const char *sqlstate, const char *fmt, ...)
{
	if (s->state == SESS_CLOSED || s->state == SESS_CLOSING)
		return;
	char msg[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	log_info("session %llu (%s, tenant %s, user '%s'): error %u: %s", (unsigned long long)s->id,
		 s->peer_text, s->wt->name, s->user, code, msg);
	if (conn_tls_handshaking(&s->client)) {
		/* An ERR cannot travel inside a TLS handshake. */
		sess_close(s, "error during the client's TLS handshake");
		return;
	}

	/* The ERR carries the sequence id the client expects next. */
	uint8_t seq = s->client_seq;
	if (s->state == SESS_RESULT || s->state == SESS_LOCAL_INFILE)
		seq = s->bfr.next_seq;
	else if (s->state == SESS_COMMAND)
		seq = s->cfr.next_seq; /* after the client's last frame (stream_command) */
	else if (s->state == SESS_IDLE)
		seq = 1;
	/* A failed move: the client is owed an answer, or nothing yet. */
	if (s->mg.active && move_failed(s, code, msg, &seq))
		return;
	uint8_t buf[512];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	proto_err_build(&wr, seq, code, sqlstate, msg);

	conn_shutdown(&s->backend);
	env_backend_release(s);
	sess_set_state(s, SESS_CLOSING);
	conn_read_disable(&s->client);
	if (!conn_is_open(&s->client) || conn_write(&s->client, buf, wr.len) < 0 ||
	    conn_pending(&s->client) == 0) {
		sess_close(s, "error sent");
		return;
	}
	s->client.want_drain = true;
	s->client.low_mark = 0;
	sess_timer_set(s, SESS_LINGER_MS);
}

void sess_drain(struct session *s)
{
	s->flags |= SESS_F_DRAINING;
	if (s->state == SESS_IDLE || s->state == SESS_CLIENT_HANDSHAKE || s->pre_greeting ||
	    s->state == SESS_CLIENT_TLS || s->state == SESS_CLIENT_AUTH)
		sess_close(s, "draining");
}

int sess_wait_budget_ms(const struct session *s)
{
	int ms = s->wt->snap->limits.connect_timeout_ms;
	/* a client without a greeting waits for a failover as a moved session does */
	if (s->pre_greeting && s->wt->cfg->cluster &&
	    s->wt->cfg->cluster->failover.session_wait_ms > ms)
		ms = s->wt->cfg->cluster->failover.session_wait_ms;
	return ms;
}

void sess_backend_wait(struct session *s, const char *why)
{
	own_clear(s); /* that connection's answers will never come */
	conn_shutdown(&s->backend);
	env_backend_release(s);
	if (s->backend_conn_id)
		conn_ids_set_backend(s, 0);
	int64_t left = s->backend_deadline_us - clock_mono_us();
	if (left <= 0) {
		stat_add(&s->wt->stats->backend_errors, 1);
		sess_fail(s, TANDEM_ER_BACKEND_UNAVAILABLE, TANDEM_SQLSTATE_BACKEND_UNAVAILABLE,
			  "tandem: no writable database server for tenant '%s' within %d ms: %s",
			  s->wt->name, sess_wait_budget_ms(s), why);
		return;
	}
	snprintf(s->why, sizeof(s->why), "%s", why);
	if (s->state != SESS_BACKEND_WAIT) {
		log_debug("session %llu: waiting for a usable primary: %s",
			  (unsigned long long)s->id, why);
		sess_set_state(s, SESS_BACKEND_WAIT);
	}
	sess_timer_set(s, (int)((left + 999) / 1000));
}

void sess_backend_gone(struct session *s, uint16_t code, const char *why)
{
	own_clear(s);
	conn_shutdown(&s->backend);
	env_backend_release(s);
	if (s->backend_conn_id)
		conn_ids_set_backend(s, 0);
	s->flags |= SESS_F_BACKEND_GONE;
	s->gone_code = code;
	snprintf(s->why, sizeof(s->why), "%s", why);
	/* A command may already be waiting in the buffer. */
	if (evbuffer_get_length(s->client.in) > 0)
		sess_fail(s, code, "08S01", "%s", why);
}

void sess_backend_unhold(struct session *s)
{
	if (!s->backend_held)
		return;
	s->backend_held = false;
	conn_shutdown(&s->backend);
	env_backend_release(s);
	env_preauth_release(s);
}

uint64_t sess_suspect_backend(struct session *s)
{
	if (!s->env->mon || !s->wt->cfg || !s->wt->cfg->cluster)
		return 0;
	return hc_monitor_suspect(s->env->mon, s->wt->cfg->cluster->name,
				  (const struct sockaddr *)&s->backend_sa);
}

int sess_send_client(struct session *s, const void *pkt, size_t len)
{
	stat_add(&s->wt->stats->bytes_to_clients, len);
	return conn_write(&s->client, pkt, len);
}

int sess_send_err(struct session *s, uint8_t seq, uint16_t code, const char *sqlstate,
		  const char *msg)
{
	uint8_t buf[512];
	struct proto_wr wr;
	proto_wr_init(&wr, buf, sizeof(buf));
	proto_err_build(&wr, seq, code, sqlstate, msg);
	return sess_send_client(s, buf, wr.len);
}
