/*
 * wire.h — the few MySQL protocol bytes the bench programs (fakedb,
 * loadgen) need, written out by hand.
 *
 * Why not protocol/: a measuring tool must not share the code it measures,
 * or a codec bug would hide itself on both ends of the wire. These helpers
 * are deliberately minimal: little-endian integers, length-encoded
 * integers, packet headers, and the capability bits both programs use.
 * Must not: allocate, or know anything of sockets.
 */
#ifndef TANDEM_BENCH_WIRE_H
#define TANDEM_BENCH_WIRE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define W_HDR         4         /* 3-byte length + 1-byte sequence id */
#define W_MAX_PAYLOAD 0xffffffu /* a frame of this length continues */

/* Capability bits (the protocol's low 32). */
#define W_CLIENT_LONG_PASSWORD      (1u << 0)
#define W_CLIENT_LONG_FLAG          (1u << 2)
#define W_CLIENT_CONNECT_WITH_DB    (1u << 3)
#define W_CLIENT_LOCAL_FILES        (1u << 7)
#define W_CLIENT_PROTOCOL_41        (1u << 9)
#define W_CLIENT_SSL                (1u << 11)
#define W_CLIENT_TRANSACTIONS       (1u << 13)
#define W_CLIENT_SECURE_CONNECTION  (1u << 15)
#define W_CLIENT_MULTI_STATEMENTS   (1u << 16)
#define W_CLIENT_MULTI_RESULTS      (1u << 17)
#define W_CLIENT_PS_MULTI_RESULTS   (1u << 18)
#define W_CLIENT_PLUGIN_AUTH        (1u << 19)
#define W_CLIENT_CONNECT_ATTRS      (1u << 20)
#define W_CLIENT_PLUGIN_AUTH_LENENC (1u << 21)
#define W_CLIENT_SESSION_TRACK      (1u << 23)
#define W_CLIENT_DEPRECATE_EOF      (1u << 24)

#define W_STATUS_AUTOCOMMIT 0x0002

#define W_COM_QUIT    0x01
#define W_COM_INIT_DB 0x02
#define W_COM_QUERY   0x03
#define W_COM_PING    0x0e

static inline uint32_t w_u24(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static inline uint16_t w_u16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t w_u32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* A writer over a caller's buffer; callers size buffers so it cannot overflow. */
struct w_buf {
	uint8_t *p;
	size_t len;
};

static inline void w_put(struct w_buf *b, const void *src, size_t n)
{
	memcpy(b->p + b->len, src, n);
	b->len += n;
}

static inline void w_u8put(struct w_buf *b, uint8_t v)
{
	b->p[b->len++] = v;
}

static inline void w_u16put(struct w_buf *b, uint16_t v)
{
	w_u8put(b, (uint8_t)v);
	w_u8put(b, (uint8_t)(v >> 8));
}

static inline void w_u24put(struct w_buf *b, uint32_t v)
{
	w_u16put(b, (uint16_t)v);
	w_u8put(b, (uint8_t)(v >> 16));
}

static inline void w_u32put(struct w_buf *b, uint32_t v)
{
	w_u16put(b, (uint16_t)v);
	w_u16put(b, (uint16_t)(v >> 16));
}

static inline void w_lenenc(struct w_buf *b, uint64_t v)
{
	if (v < 251) {
		w_u8put(b, (uint8_t)v);
	} else if (v < 65536) {
		w_u8put(b, 0xfc);
		w_u16put(b, (uint16_t)v);
	} else if (v < (1u << 24)) {
		w_u8put(b, 0xfd);
		w_u24put(b, (uint32_t)v);
	} else {
		w_u8put(b, 0xfe);
		w_u32put(b, (uint32_t)v);
		w_u32put(b, (uint32_t)(v >> 32));
	}
}

static inline void w_lenenc_str(struct w_buf *b, const char *s, size_t n)
{
	w_lenenc(b, n);
	w_put(b, s, n);
}

/* Start a packet: reserve its header, return where it starts. */
static inline size_t w_begin(struct w_buf *b)
{
	size_t at = b->len;
	b->len += W_HDR;
	return at;
}

/* Finish the packet begun at `at` with sequence id seq. */
static inline void w_end(struct w_buf *b, size_t at, uint8_t seq)
{
	uint32_t n = (uint32_t)(b->len - at - W_HDR);
	b->p[at] = (uint8_t)n;
	b->p[at + 1] = (uint8_t)(n >> 8);
	b->p[at + 2] = (uint8_t)(n >> 16);
	b->p[at + 3] = seq;
}

#endif
