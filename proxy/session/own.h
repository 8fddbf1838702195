/*
 * own.h — the one queue of statements tandem sends on a session's backend
 * connection on its own (own.c): session setup, restore after a move, the
 * replayed transaction, the reset before a refused COM_CHANGE_USER. Each
 * entry names its purpose and the reader of its answer; own_read() is the
 * one place those answers are swallowed, so the client gets exactly the
 * server's answers to its own statements.
 *
 * Must not: call a phase (the readers are the phases' own, passed in).
 */
#ifndef TANDEM_PROXY_OWN_H
#define TANDEM_PROXY_OWN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proxy/session/own_types.h"
#include "proxy/session/session_types.h"

/* Record a statement just written to s->backend.out (cmd, len: the
 * command's payload, its command byte first; only its head is kept).
 * False when out of memory (the statement's answer would then be mistaken
 * for the client's: the caller fails the session or gives up the
 * statement's purpose). */
bool own_push(struct session *s, enum own_purpose purpose, const uint8_t *cmd, size_t len,
	      uint32_t ref, uint32_t arg, own_reader read);
/* Answers still owed (inline: the forwarding path asks on every read). */
static inline size_t own_pending(const struct session *s)
{
	return s->own.n - s->own.head;
}
/* Of those, the ones for this purpose. */
size_t own_pending_for(const struct session *s, enum own_purpose purpose);
/* The backend connection is gone: its answers will never come. */
void own_clear(struct session *s);
/* Swallow the answers owed, in order, handing each packet to its entry's
 * reader. True when none is owed any more (what follows is the client's);
 * false when more bytes are needed or a reader changed the session's
 * course (the caller returns). */
bool own_read(struct session *s);
/* Free the queue (mach_free). */
void own_free(struct session *s);

#endif
