/*
 * packet.c — frame headers, the per-direction framer, and joining split
 * payloads (see packet.h). Limits are checked from headers alone.
 */
#include "protocol/packet.h"

int proto_frame_parse(const uint8_t *buf, size_t avail, struct proto_frame *f)
{
	if (avail < PROTO_HEADER_LEN)
		return 0;
	f->len = (uint32_t)buf[0] | (uint32_t)buf[1] << 8 | (uint32_t)buf[2] << 16;
	f->seq = buf[3];
	return PROTO_HEADER_LEN;
}

void proto_frame_build(uint8_t out[PROTO_HEADER_LEN], uint32_t len, uint8_t seq)
{
	out[0] = (uint8_t)len;
	out[1] = (uint8_t)(len >> 8);
	out[2] = (uint8_t)(len >> 16);
	out[3] = seq;
}

void proto_framer_init(struct proto_framer *fr, uint64_t max_payload, bool check_seq)
{
	fr->max_payload = max_payload;
	fr->total = 0;
	fr->next_seq = 0;
	fr->continued = false;
	fr->check_seq = check_seq;
}

int proto_framer_next(struct proto_framer *fr, const struct proto_frame *f, bool *starts,
		      bool *ends)
{
	if (fr->check_seq && f->seq != fr->next_seq)
		return PROTO_E_SEQUENCE;
	*starts = !fr->continued;
	if (*starts)
		fr->total = 0;
	if (f->len > fr->max_payload || fr->total > fr->max_payload - f->len)
		return PROTO_E_TOO_LARGE;
	fr->total += f->len;
	fr->next_seq = (uint8_t)(f->seq + 1);
	fr->continued = f->len == PROTO_FRAME_CONTINUED;
	*ends = !fr->continued;
	return PROTO_OK;
}

int proto_packet_scan(const uint8_t *buf, size_t avail, uint64_t max_payload, uint64_t *payload_len,
		      uint8_t *first_seq, uint8_t *last_seq)
{
	size_t off = 0;
	uint64_t total = 0;
	for (;;) {
		struct proto_frame f;
		if (proto_frame_parse(buf + off, avail - off, &f) == 0)
			return 0;
		if (off == 0)
			*first_seq = f.seq;
		if (f.len > max_payload || total > max_payload - f.len)
			return PROTO_E_TOO_LARGE;
		total += f.len;
		if (avail - off - PROTO_HEADER_LEN < f.len)
			return 0;
		off += PROTO_HEADER_LEN + f.len;
		if (off > INT32_MAX)
			return PROTO_E_TOO_LARGE;
		if (f.len < PROTO_FRAME_CONTINUED) {
			*last_seq = f.seq;
			*payload_len = total;
			return (int)off;
		}
	}
}

void proto_packet_join(const uint8_t *buf, size_t span, uint8_t *out)
{
	size_t off = 0;
	while (off + PROTO_HEADER_LEN <= span) {
		struct proto_frame f;
		proto_frame_parse(buf + off, span - off, &f);
		off += PROTO_HEADER_LEN;
		memcpy(out, buf + off, f.len);
		out += f.len;
		off += f.len;
	}
}
