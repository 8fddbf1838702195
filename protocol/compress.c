/*
 * compress.c — one frame of the compressed protocol at a time (see
 * compress.h). zlib's one-shot calls: a frame is at most 16 MiB and is
 * always inflated whole, so no stream state outlives a call.
 */
#include "protocol/compress.h"

#include <zlib.h>

static uint32_t get3(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16;
}

static void put3(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
}

int proto_zframe_parse(const uint8_t *buf, size_t avail, struct proto_zframe *f)
{
	if (avail < PROTO_ZHEADER_LEN)
		return 0;
	f->clen = get3(buf);
	f->seq = buf[3];
	f->ulen = get3(buf + 4);
	return PROTO_ZHEADER_LEN;
}

void proto_zframe_header(uint8_t out[PROTO_ZHEADER_LEN], uint32_t clen, uint8_t seq, uint32_t ulen)
{
	put3(out, clen);
	out[3] = seq;
	put3(out + 4, ulen);
}

long proto_zframe_inflate(const struct proto_zframe *f, const uint8_t *payload, uint8_t *out)
{
	if (f->ulen == 0) {
		memcpy(out, payload, f->clen);
		return (long)f->clen;
	}
	uLongf dlen = f->ulen;
	uLong slen = f->clen;
	int rc = uncompress2(out, &dlen, payload, &slen);
	if (rc == Z_MEM_ERROR)
		return PROTO_E_NOMEM;
	/* Z_BUF_ERROR: more than ulen bytes, or a stream cut short */
	if (rc != Z_OK || dlen != f->ulen || slen != f->clen)
		return PROTO_E_MALFORMED;
	return (long)dlen;
}

size_t proto_zframe_bound(size_t len)
{
	size_t z = compressBound((uLong)len);
	return PROTO_ZHEADER_LEN + (z > len ? z : len);
}

long proto_zframe_build(const uint8_t *in, size_t len, uint8_t seq, int level, uint8_t *out,
			size_t cap)
{
	if (len > PROTO_ZMAX)
		return PROTO_E_TOO_LARGE;
	if (cap < proto_zframe_bound(len))
		return PROTO_E_NOSPACE;
	if (len >= PROTO_ZMIN_DEFLATE) {
		uLongf zlen = (uLongf)(cap - PROTO_ZHEADER_LEN);
		int rc = compress2(out + PROTO_ZHEADER_LEN, &zlen, in, (uLong)len, level);
		if (rc == Z_MEM_ERROR)
			return PROTO_E_NOMEM;
		if (rc == Z_OK && zlen < len) {
			proto_zframe_header(out, (uint32_t)zlen, seq, (uint32_t)len);
			return (long)(PROTO_ZHEADER_LEN + zlen);
		}
	}
	proto_zframe_header(out, (uint32_t)len, seq, 0);
	memcpy(out + PROTO_ZHEADER_LEN, in, len);
	return (long)(PROTO_ZHEADER_LEN + len);
}
