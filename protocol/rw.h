/*
 * rw.h — bounds-checked little-endian readers and writers over byte buffers.
 *
 * Owns: the only code in tandem that turns wire bytes into integers and
 * strings. Every read checks the remaining length first; a failed read sets
 * a sticky error and returns zero/empty, so a parser can read a whole
 * packet and test `rd->err` once at the end. Writers never write past `cap`;
 * they set `overflow` instead, and the caller checks it once.
 * Must not: allocate, log, or touch anything but the buffers it is given.
 */
#ifndef TANDEM_PROTOCOL_RW_H
#define TANDEM_PROTOCOL_RW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

/* A byte string that points into someone else's buffer. Not NUL-terminated. */
struct proto_str {
	const char *p;
	size_t len;
};

static inline bool proto_str_eq(struct proto_str s, const char *c)
{
	size_t n = strlen(c);
	return s.len == n && (n == 0 || memcmp(s.p, c, n) == 0);
}

/* ------------------------------------------------------------------ reader */

struct proto_rd {
	const uint8_t *p;   /* next byte to read */
	const uint8_t *end; /* one past the last readable byte */
	int err;            /* 0, or the first PROTO_E_* error met */
};

static inline void proto_rd_init(struct proto_rd *r, const void *buf, size_t len)
{
	r->p = buf;
	r->end = r->p + len;
	r->err = 0;
}

static inline size_t proto_rd_left(const struct proto_rd *r)
{
	return (size_t)(r->end - r->p);
}

/* Returns a pointer to the next n bytes and skips them, or NULL (and sets err). */
const uint8_t *proto_rd_bytes(struct proto_rd *r, size_t n);
uint8_t proto_rd_u8(struct proto_rd *r);
uint16_t proto_rd_u16(struct proto_rd *r);
uint32_t proto_rd_u24(struct proto_rd *r);
uint32_t proto_rd_u32(struct proto_rd *r);
uint64_t proto_rd_u48(struct proto_rd *r);
uint64_t proto_rd_u64(struct proto_rd *r);
/* Length-encoded integer. 0xFB (NULL) sets *is_null when is_null is given,
 * otherwise it is an error; 0xFF is always an error. */
uint64_t proto_rd_lenenc(struct proto_rd *r, bool *is_null);
/* Length-encoded string; the length is checked against the bytes left. */
struct proto_str proto_rd_lenenc_str(struct proto_rd *r);
/* NUL-terminated string (the NUL is consumed, not included). */
struct proto_str proto_rd_nul_str(struct proto_rd *r);
/* Everything that is left. */
struct proto_str proto_rd_rest(struct proto_rd *r);

/* ------------------------------------------------------------------ writer */

struct proto_wr {
	uint8_t *buf;  /* caller's buffer */
	size_t cap;    /* its size */
	size_t len;    /* bytes written so far */
	bool overflow; /* a write did not fit; buf holds a prefix only */
};

static inline void proto_wr_init(struct proto_wr *w, void *buf, size_t cap)
{
	w->buf = buf;
	w->cap = cap;
	w->len = 0;
	w->overflow = false;
}

void proto_wr_bytes(struct proto_wr *w, const void *p, size_t n);
void proto_wr_zero(struct proto_wr *w, size_t n);
void proto_wr_u8(struct proto_wr *w, uint8_t v);
void proto_wr_u16(struct proto_wr *w, uint16_t v);
void proto_wr_u24(struct proto_wr *w, uint32_t v);
void proto_wr_u32(struct proto_wr *w, uint32_t v);
void proto_wr_u64(struct proto_wr *w, uint64_t v);
void proto_wr_lenenc(struct proto_wr *w, uint64_t v);
void proto_wr_lenenc_str(struct proto_wr *w, const void *p, size_t n);
/* Writes the bytes and a terminating NUL. */
void proto_wr_nul_str(struct proto_wr *w, const void *p, size_t n);
/* Bytes needed to length-encode v. */
size_t proto_lenenc_size(uint64_t v);

/*
 * Packet framing for packets tandem builds itself (control packets, all far
 * below 16 MiB). begin reserves the 4-byte header and returns its offset;
 * end fills in the payload length. end fails (returns PROTO_E_TOO_LARGE) if
 * the payload would need a continuation frame; use proto_frame_* for those.
 */
size_t proto_wr_packet_begin(struct proto_wr *w, uint8_t seq);
int proto_wr_packet_end(struct proto_wr *w, size_t begin);

#endif
