/*
 * wire.c — whole packets off an input buffer, for the login phases and
 * the queue of tandem's own statements: the header decides, the payload
 * is made contiguous in place.
 *
 * Must not: touch a session or a connection.
 */
#include "proxy/session/session.h"

#include "protocol/packet.h"

int sess_packet_peek(struct evbuffer *in, uint32_t max, const uint8_t **payload, uint32_t *len,
		     uint8_t *seq)
{
	uint8_t hdr[PROTO_HEADER_LEN];
	if (evbuffer_copyout(in, hdr, sizeof(hdr)) < (ssize_t)sizeof(hdr))
		return 0;
	struct proto_frame f;
	proto_frame_parse(hdr, sizeof(hdr), &f);
	*seq = f.seq; /* an ERR for a refused packet follows it too */
	/* Connection-phase packets are small; a full frame here is abuse. */
	if (f.len > max || f.len >= PROTO_MAX_FRAME)
		return PROTO_E_TOO_LARGE;
	size_t span = PROTO_HEADER_LEN + f.len;
	if (evbuffer_get_length(in) < span)
		return 0;
	const uint8_t *p = evbuffer_pullup(in, (ssize_t)span);
	if (!p)
		return PROTO_E_TOO_LARGE;
	*payload = p + PROTO_HEADER_LEN;
	*len = f.len;
	*seq = f.seq;
	return (int)span;
}
