/*
 * own_types.h — the queue of statements tandem sends on a session's
 * backend connection on its own (own.c). Types only.
 */
#ifndef TANDEM_PROXY_OWN_TYPES_H
#define TANDEM_PROXY_OWN_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/tracker.h"

struct session;
struct own_entry;

/* Why tandem sent a statement of its own. */
enum own_purpose {
	OWN_TRACK_VIEW, /* SELECT of the client's session_track_* settings (backend_setup.c) */
	OWN_TRACK_SET,  /* SET SESSION session_track_* as tandem needs them (backend_setup.c) */
	OWN_RESTORE,    /* after a move: COM_INIT_DB, SET of a variable, a re-prepare, or the
			 * ROLLBACK of a replay that came out different (restore.c) */
	OWN_REPLAY,     /* one statement of the replayed transaction (replay.c) */
	OWN_RESET,      /* COM_RESET_CONNECTION before a refused COM_CHANGE_USER (change_user.c) */
};

/* The reader of an answer: called for each packet of it (p, len: the
 * payload; ev: the tracker's view; last: the answer is complete), or once
 * with p NULL when the backend broke the protocol. Returns false when it
 * changed the session's course (failed it, moved it, changed its state):
 * the queue stops reading then. */
typedef bool (*own_reader)(struct session *s, const struct own_entry *e, const uint8_t *p,
			   uint32_t len, const struct proto_rt_event *ev, bool last);

/* One statement sent, whose answer is owed. */
struct own_entry {
	uint8_t purpose; /* enum own_purpose */
	uint8_t cmd_len; /* the head of the command sent (its command byte first): */
	uint8_t cmd[15]; /* what the tracker needs to know where the answer ends */
	uint32_t ref;    /* the reader's: what the statement was for */
	uint32_t arg;    /* the reader's */
	own_reader read;
};

/* In the order sent; entries before head are answered. */
struct own_queue {
	struct own_entry *e;
	size_t head, n, cap;
	struct proto_tracker tr; /* reads the head's answer */
	bool started;            /* tr is on the head's answer */
};

#endif
