/*
 * machine.h — the session machine's driver: one table that says, per
 * state, what runs on entering it and on each kind of news, and the one
 * loop that runs it.
 *
 * The rule: a phase may change a session's state (sess_set_state); only
 * the driver calls a phase. After every handler the driver runs the enter
 * of each state the session moved into, until the state holds still or the
 * session is closing. So "what happens next" for any state is one row of
 * the table in machine.c.
 *
 * Must not: hold a phase's logic; declare what other files define.
 */
#ifndef TANDEM_PROXY_MACHINE_H
#define TANDEM_PROXY_MACHINE_H

#include <sys/socket.h>

#include "proxy/io/io.h"
#include "proxy/session/session_types.h"

struct worker;
struct wtenant;
struct hc_topology;

/* One row per state. NULL: that news does nothing in this state (the
 * driver buffers the bytes, and stops reading a client that floods). */
struct mach_state {
	void (*enter)(struct session *s);        /* runs once the state is entered */
	void (*client_read)(struct session *s);  /* new bytes in s->client.in */
	void (*backend_read)(struct session *s); /* new bytes in s->backend.in */
	void (*timer)(struct session *s);        /* s->timer fired */
	/* a connection closed or failed (leg MACH_CLIENT / MACH_BACKEND, ev
	 * CONN_EOF / CONN_ERROR), or the lookup answered (MACH_LOOKUP, ev 0) */
	void (*event)(struct session *s, enum mach_leg leg, enum conn_event ev);
	unsigned waits; /* enum mach_leg bits: what the state waits for */
};

/* The table, SESS_NSTATES rows (for tests). */
const struct mach_state *mach_table(void);

/* Create a session for an accepted socket and start it (the primary's
 * greeting, or tandem's). Returns NULL (socket closed) when it cannot. */
struct session *mach_accept(struct worker *w, struct wtenant *wt, int fd,
			    const struct sockaddr *peer, socklen_t peerlen);
/* Free a session marked SESS_CLOSED (the worker's reaper only). */
void mach_free(struct session *s);

/* News from outside the session's own connections (the worker's loop):
 * each runs its handler, then settles the session. */
/* A new topology of the session's cluster: it moves, parks, or starts its
 * login over where sessions go now (sess_migrate_topology). */
void mach_topology(struct session *s, const struct hc_topology *t);
/* SESS_F_VERDICT_WAIT: a snapshot of the session's cluster arrived; the
 * session closes (the server lives) or moves (it does not), or waits on. */
void mach_verdict(struct session *s, const struct hc_topology *t);
/* SESS_BACKEND_WAIT: something is new; try the primary again. */
void mach_retry(struct session *s);
/* A client not logged in yet gives up the backend connection it holds. */
void mach_unhold(struct session *s);

/* Run the enter of every state the session moved into until it holds
 * still. Called after every handler; safe on a closed session. */
void mach_settle(struct session *s);

#endif
