/*
 * packet.h — framing: the 4-byte header (3-byte length, 1-byte sequence id)
 * and logical packets of 16 MiB and more split into 0xFFFFFF-byte frames.
 *
 * Owns: frame header parse/build, the per-direction framer that checks
 * sequence ids and the size limit from the header alone (before any payload
 * is buffered), and joining a split payload for callers that need it whole.
 * Must not: allocate or look inside payloads.
 */
#ifndef TANDEM_PROTOCOL_PACKET_H
#define TANDEM_PROTOCOL_PACKET_H

#include "protocol/protocol.h"

#define PROTO_HEADER_LEN 4

struct proto_frame {
	uint32_t len; /* payload bytes in this frame, 0..0xFFFFFF */
	uint8_t seq;
};

/* Stream parser: >0 (4) header read, 0 fewer than 4 bytes available. */
int proto_frame_parse(const uint8_t *buf, size_t avail, struct proto_frame *f);
void proto_frame_build(uint8_t out[PROTO_HEADER_LEN], uint32_t len, uint8_t seq);

/*
 * One direction of one connection. Feed it every frame header in order; it
 * says whether the frame starts and/or ends a logical packet and rejects a
 * logical packet above max_payload as soon as its header shows it, and a
 * sequence id that does not follow the previous one when check_seq is set.
 */
struct proto_framer {
	uint64_t max_payload; /* limit on one logical payload, in bytes */
	uint64_t total;       /* payload bytes of the current logical packet */
	uint8_t next_seq;     /* sequence id the next frame must carry */
	bool continued;       /* the previous frame was full: this one continues it */
	bool check_seq;
};

void proto_framer_init(struct proto_framer *fr, uint64_t max_payload, bool check_seq);
/* Restart sequence numbering (a new command starts at 0). */
static inline void proto_framer_reset_seq(struct proto_framer *fr, uint8_t seq)
{
	fr->next_seq = seq;
}
/* PROTO_OK, PROTO_E_TOO_LARGE or PROTO_E_SEQUENCE. starts and ends describe the
 * frame's place in its logical packet. */
int proto_framer_next(struct proto_framer *fr, const struct proto_frame *f, bool *starts,
		      bool *ends);

/*
 * Find one complete logical packet at the start of buf (all its frames).
 * Returns >0 bytes it spans (headers included), 0 if incomplete, <0 on
 * error (PROTO_E_TOO_LARGE when its length passes max_payload). On success
 * *payload_len is the joined payload length and *first_seq its first frame's
 * sequence id, *last_seq its last.
 */
int proto_packet_scan(const uint8_t *buf, size_t avail, uint64_t max_payload, uint64_t *payload_len,
		      uint8_t *first_seq, uint8_t *last_seq);
/* Copy the payload of a packet found by proto_packet_scan (span bytes) into
 * out, which holds at least payload_len bytes. */
void proto_packet_join(const uint8_t *buf, size_t span, uint8_t *out);

#endif
