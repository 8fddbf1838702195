/*
 * wire.h — reading whole packets of the connection phase and of tandem's
 * own statements off an input buffer (wire.c). Calls nothing of the
 * session.
 */
#ifndef TANDEM_PROXY_SESSION_WIRE_H
#define TANDEM_PROXY_SESSION_WIRE_H

#include <event2/buffer.h>
#include <stdint.h>

/* Peek at one whole single-frame packet (connection phase) in an input
 * buffer: >0 bytes it spans (header included) with *payload pointing at
 * contiguous bytes, valid until the buffer changes; 0 need more; <0 a
 * PROTO_E_* error (PROTO_E_TOO_LARGE above max), decided from the header
 * alone, with *seq set (an ERR follows the refused packet). Drain the span
 * after use. */
int sess_packet_peek(struct evbuffer *in, uint32_t max, const uint8_t **payload, uint32_t *len,
		     uint8_t *seq);

#endif
