/*
 * ok_shape.h — an OK in the client's shape (ok_shape.c): the session-state
 * items the client did not ask for are cut.
 */
#ifndef TANDEM_PROXY_OK_SHAPE_H
#define TANDEM_PROXY_OK_SHAPE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/okerr.h"
#include "proxy/session/session_types.h"

/* Packets tandem builds in place of a backend one fit here; larger ones
 * go to the heap. */
#define SESS_OK_STACK 512

/* Whether ok carries session state this client must not see as it is. */
bool sess_ok_carries_state(const struct session *s, const struct proto_ok *ok);
/* Build ok as a server would for this client, framed with seq; *out is
 * buf or a heap block the caller frees. Returns the length; 0 when the
 * backend's bytes are already the client's (*out untouched), or when
 * memory ran out (*out NULL). */
size_t sess_ok_build(const struct session *s, const struct proto_ok *ok, uint8_t seq, uint8_t *buf,
		     size_t cap, uint8_t **out);
/* Append an OK from the backend (payload, len) to the client's output with
 * sequence id seq, in the client's shape: an OK that carries session state
 * is rebuilt without it for a client that did not ask for tracking
 * (tandem always asks backends for it; many clients do not). 0, or -1 when
 * the OK is malformed or memory ran out. */
int sess_send_ok(struct session *s, const uint8_t *payload, uint32_t len, uint8_t seq);

#endif
