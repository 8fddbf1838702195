/*
 * compress.h — the frames of the compressed protocol (CLIENT_COMPRESS,
 * zlib): a 7-byte header (3-byte compressed length, 1-byte compressed
 * sequence id, 3-byte uncompressed length; 0 means "stored as is"), then
 * the payload. A frame's bytes are a slice of the plain MySQL packet
 * stream: it may hold several packets, or part of one.
 *
 * Owns: header parse/build and the inflate/deflate of one frame. Must not:
 * know packets inside a frame, keep state between frames, or allocate
 * (zlib's own working memory aside). Sequence ids are the caller's: they
 * count frames, restart with each command, and follow the peer's last.
 */
#ifndef TANDEM_PROTOCOL_COMPRESS_H
#define TANDEM_PROTOCOL_COMPRESS_H

#include "protocol/protocol.h"

#define PROTO_ZHEADER_LEN 7
/* Largest payload (either length) one frame carries. */
#define PROTO_ZMAX 0xffffffu
/* MariaDB sends payloads shorter than this stored, not deflated
 * (net_serv.cc MIN_COMPRESS_LENGTH); tandem does the same. */
#define PROTO_ZMIN_DEFLATE 50

struct proto_zframe {
	uint32_t clen; /* payload bytes after the header */
	uint8_t seq;
	uint32_t ulen; /* bytes once inflated; 0: the payload is stored plain */
};

/* Header parser: 7 consumed, 0 fewer than 7 bytes available. */
int proto_zframe_parse(const uint8_t *buf, size_t avail, struct proto_zframe *f);
void proto_zframe_header(uint8_t out[PROTO_ZHEADER_LEN], uint32_t clen, uint8_t seq, uint32_t ulen);

/* Plain bytes a frame stands for (ulen, or clen when stored). */
static inline uint32_t proto_zframe_plain_len(const struct proto_zframe *f)
{
	return f->ulen ? f->ulen : f->clen;
}

/*
 * Inflate one frame's payload (clen bytes) into out, which has room for
 * proto_zframe_plain_len(f). Returns that length, or PROTO_E_MALFORMED when
 * the payload is not a zlib stream that inflates to exactly ulen bytes and
 * ends where the payload ends (garbage, over-long, short or trailing
 * bytes), PROTO_E_NOMEM when zlib cannot get memory.
 */
long proto_zframe_inflate(const struct proto_zframe *f, const uint8_t *payload, uint8_t *out);

/* Room proto_zframe_build needs for len plain bytes (header included). */
size_t proto_zframe_bound(size_t len);
/*
 * One frame for len (<= PROTO_ZMAX) plain bytes, header included, into out
 * (cap >= proto_zframe_bound(len)). Deflated at level when len is at least
 * PROTO_ZMIN_DEFLATE and deflating makes it smaller, else stored. Returns
 * the frame's length, or PROTO_E_TOO_LARGE / PROTO_E_NOSPACE /
 * PROTO_E_NOMEM.
 */
long proto_zframe_build(const uint8_t *in, size_t len, uint8_t seq, int level, uint8_t *out,
			size_t cap);

#endif
