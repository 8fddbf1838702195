/*
 * rw.c — bounds-checked readers and writers (see rw.h for the contract).
 * Every read first checks what is left; nothing here allocates.
 */
#include "protocol/rw.h"

#include "protocol/protocol.h"

const uint8_t *proto_rd_bytes(struct proto_rd *r, size_t n)
{
	if (r->err || proto_rd_left(r) < n) {
		if (!r->err)
			r->err = PROTO_E_TRUNCATED;
		return NULL;
	}
	const uint8_t *p = r->p;
	r->p += n;
	return p;
}

static uint64_t rd_le(struct proto_rd *r, size_t n)
{
	const uint8_t *p = proto_rd_bytes(r, n);
	uint64_t v = 0;
	if (!p)
		return 0;
	for (size_t i = 0; i < n; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

uint8_t proto_rd_u8(struct proto_rd *r)
{
	return (uint8_t)rd_le(r, 1);
}
uint16_t proto_rd_u16(struct proto_rd *r)
{
	return (uint16_t)rd_le(r, 2);
}
uint32_t proto_rd_u24(struct proto_rd *r)
{
	return (uint32_t)rd_le(r, 3);
}
uint32_t proto_rd_u32(struct proto_rd *r)
{
	return (uint32_t)rd_le(r, 4);
}
uint64_t proto_rd_u48(struct proto_rd *r)
{
	return rd_le(r, 6);
}
uint64_t proto_rd_u64(struct proto_rd *r)
{
	return rd_le(r, 8);
}

uint64_t proto_rd_lenenc(struct proto_rd *r, bool *is_null)
{
	if (is_null)
		*is_null = false;
	uint8_t first = proto_rd_u8(r);
	if (r->err)
		return 0;
	if (first < 0xfb)
		return first;
	switch (first) {
	case 0xfb:
		if (is_null) {
			*is_null = true;
			return 0;
		}
		r->err = PROTO_E_MALFORMED;
		return 0;
	case 0xfc:
		return rd_le(r, 2);
	case 0xfd:
		return rd_le(r, 3);
	case 0xfe:
		return rd_le(r, 8);
	default:
		r->err = PROTO_E_MALFORMED;
		return 0;
	}
}

struct proto_str proto_rd_lenenc_str(struct proto_rd *r)
{
	struct proto_str s = {"", 0};
	uint64_t n = proto_rd_lenenc(r, NULL);
	if (r->err)
		return s;
	if (n > proto_rd_left(r)) {
		r->err = PROTO_E_TRUNCATED;
		return s;
	}
	s.p = (const char *)proto_rd_bytes(r, (size_t)n);
	s.len = (size_t)n;
	return s;
}

struct proto_str proto_rd_nul_str(struct proto_rd *r)
{
	struct proto_str s = {"", 0};
	if (r->err)
		return s;
	const uint8_t *nul = memchr(r->p, 0, proto_rd_left(r));
	if (!nul) {
		r->err = PROTO_E_TRUNCATED;
		return s;
	}
	s.p = (const char *)r->p;
	s.len = (size_t)(nul - r->p);
	r->p = nul + 1;
	return s;
}

struct proto_str proto_rd_rest(struct proto_rd *r)
{
	struct proto_str s = {"", 0};
	if (r->err)
		return s;
	s.p = (const char *)r->p;
	s.len = proto_rd_left(r);
	r->p = r->end;
	return s;
}

/* ------------------------------------------------------------------ writer */

void proto_wr_bytes(struct proto_wr *w, const void *p, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
}

void proto_wr_zero(struct proto_wr *w, size_t n)
{
	if (w->overflow || w->cap - w->len < n) {
		w->overflow = true;
		return;
	}
	memset(w->buf + w->len, 0, n);
	w->len += n;
}

static void wr_le(struct proto_wr *w, uint64_t v, size_t n)
{
	uint8_t b[8];
	for (size_t i = 0; i < n; i++)
		b[i] = (uint8_t)(v >> (8 * i));
	proto_wr_bytes(w, b, n);
}

void proto_wr_u8(struct proto_wr *w, uint8_t v)
{
	wr_le(w, v, 1);
}
void proto_wr_u16(struct proto_wr *w, uint16_t v)
{
	wr_le(w, v, 2);
}
void proto_wr_u24(struct proto_wr *w, uint32_t v)
{
	wr_le(w, v, 3);
}
void proto_wr_u32(struct proto_wr *w, uint32_t v)
{
	wr_le(w, v, 4);
}
void proto_wr_u64(struct proto_wr *w, uint64_t v)
{
	wr_le(w, v, 8);
}

size_t proto_lenenc_size(uint64_t v)
{
	if (v < 0xfb)
		return 1;
	if (v <= 0xffff)
		return 3;
	if (v <= 0xffffff)
		return 4;
	return 9;
}

void proto_wr_lenenc(struct proto_wr *w, uint64_t v)
{
	if (v < 0xfb) {
		wr_le(w, v, 1);
	} else if (v <= 0xffff) {
		proto_wr_u8(w, 0xfc);
		wr_le(w, v, 2);
	} else if (v <= 0xffffff) {
		proto_wr_u8(w, 0xfd);
		wr_le(w, v, 3);
	} else {
		proto_wr_u8(w, 0xfe);
		wr_le(w, v, 8);
	}
}

void proto_wr_lenenc_str(struct proto_wr *w, const void *p, size_t n)
{
	proto_wr_lenenc(w, n);
	proto_wr_bytes(w, p, n);
}

void proto_wr_nul_str(struct proto_wr *w, const void *p, size_t n)
{
	proto_wr_bytes(w, p, n);
	proto_wr_u8(w, 0);
}

size_t proto_wr_packet_begin(struct proto_wr *w, uint8_t seq)
{
	size_t at = w->len;
	proto_wr_zero(w, 3);
	proto_wr_u8(w, seq);
	return at;
}

int proto_wr_packet_end(struct proto_wr *w, size_t begin)
{
	if (w->overflow)
		return PROTO_E_NOSPACE;
	size_t payload = w->len - begin - 4;
	if (payload >= 0xffffff)
		return PROTO_E_TOO_LARGE;
	w->buf[begin] = (uint8_t)payload;
	w->buf[begin + 1] = (uint8_t)(payload >> 8);
	w->buf[begin + 2] = (uint8_t)(payload >> 16);
	return PROTO_OK;
}

const char *proto_strerror(int err)
{
	switch (err) {
	case PROTO_OK:
		return "ok";
	case PROTO_E_TRUNCATED:
		return "truncated packet";
	case PROTO_E_MALFORMED:
		return "malformed packet";
	case PROTO_E_TOO_LARGE:
		return "packet too large";
	case PROTO_E_UNSUPPORTED:
		return "unsupported";
	case PROTO_E_SEQUENCE:
		return "packets out of order";
	case PROTO_E_NOSPACE:
		return "output buffer too small";
	case PROTO_E_UNEXPECTED:
		return "unexpected packet";
	case PROTO_E_NOMEM:
		return "out of memory";
	}
	return "unknown protocol error";
}
