/*
 * test_compress.c — protocol/compress.h: frame headers, one frame's
 * deflate/inflate (round trip, stored small payloads, truncated, over-long,
 * short and garbage payloads), and a packet stream cut into frames at
 * every place — several packets in one frame, one packet over several —
 * coming back byte for byte.
 */
#include "unit.h"

#include "protocol/compress.h"
#include "protocol/packet.h"

#include <zlib.h>

static uint8_t *build(const uint8_t *in, size_t len, uint8_t seq, long *n)
{
	size_t cap = proto_zframe_bound(len);
	uint8_t *out = malloc(cap);
	ck_assert_ptr_nonnull(out);
	*n = proto_zframe_build(in, len, seq, Z_DEFAULT_COMPRESSION, out, cap);
	ck_assert_int_gt(*n, 0);
	return out;
}

/* Inflate the one frame at buf; returns the plain bytes (malloc'd). */
static uint8_t *unbuild(const uint8_t *buf, size_t n, struct proto_zframe *f, long *plain)
{
	ck_assert_int_eq(proto_zframe_parse(buf, n, f), PROTO_ZHEADER_LEN);
	ck_assert_uint_eq(PROTO_ZHEADER_LEN + f->clen, n);
	uint8_t *out = malloc(proto_zframe_plain_len(f) + 1);
	ck_assert_ptr_nonnull(out);
	*plain = proto_zframe_inflate(f, buf + PROTO_ZHEADER_LEN, out);
	return out;
}

START_TEST(header_round_trip)
{
	uint8_t h[PROTO_ZHEADER_LEN];
	proto_zframe_header(h, 0x123456, 0xab, 0xfedcba);
	ck_assert_hex(h, sizeof(h), "563412abbadcfe");
	struct proto_zframe f;
	ck_assert_int_eq(proto_zframe_parse(h, sizeof(h), &f), PROTO_ZHEADER_LEN);
	ck_assert_uint_eq(f.clen, 0x123456);
	ck_assert_uint_eq(f.seq, 0xab);
	ck_assert_uint_eq(f.ulen, 0xfedcba);
	for (size_t n = 0; n < PROTO_ZHEADER_LEN; n++)
		ck_assert_int_eq(proto_zframe_parse(h, n, &f), 0);
}
END_TEST

START_TEST(small_payload_is_stored)
{
	/* COM_QUERY "select 1": 13 bytes, under MariaDB's 50-byte threshold */
	uint8_t in[13];
	vec_unhex("0900000003"
		  "73656c6563742031",
		  in, sizeof(in));
	long n;
	uint8_t *fr = build(in, sizeof(in), 0, &n);
	ck_assert_int_eq(n, PROTO_ZHEADER_LEN + 13);
	ck_assert_hex(fr, 7, "0d000000000000");
	struct proto_zframe f;
	long plain;
	uint8_t *out = unbuild(fr, (size_t)n, &f, &plain);
	ck_assert_int_eq(plain, 13);
	ck_assert_mem_eq(out, in, 13);
	free(out);
	free(fr);
}
END_TEST

START_TEST(round_trip_sizes)
{
	static const size_t lens[] = {0, 1, 49, 50, 51, 1000, 65536, 1 << 20, PROTO_ZMAX};
	uint8_t *in = malloc(PROTO_ZMAX);
	ck_assert_ptr_nonnull(in);
	/* half text-like (compresses), half pseudo-random (does not) */
	uint32_t x = 12345;
	for (size_t i = 0; i < PROTO_ZMAX; i++) {
		x = x * 1103515245u + 12345u;
		in[i] = i < PROTO_ZMAX / 2 ? (uint8_t)('a' + i % 7) : (uint8_t)(x >> 24);
	}
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		for (int where = 0; where < 2; where++) {
			const uint8_t *src = where ? in + PROTO_ZMAX - lens[k] : in;
			long n;
			uint8_t *fr = build(src, lens[k], (uint8_t)k, &n);
			struct proto_zframe f;
			long plain;
			uint8_t *out = unbuild(fr, (size_t)n, &f, &plain);
			ck_assert_int_eq(plain, (long)lens[k]);
			ck_assert_uint_eq(f.seq, (uint8_t)k);
			ck_assert(lens[k] == 0 || memcmp(out, src, lens[k]) == 0);
			/* compressible text is deflated, random bytes are stored */
			if (lens[k] >= 1000 && !where)
				ck_assert_uint_eq(f.ulen, lens[k]);
			if (lens[k] >= 1000 && lens[k] <= PROTO_ZMAX / 2 && where)
				ck_assert_uint_eq(f.ulen, 0);
			free(out);
			free(fr);
		}
	}
	ck_assert_int_eq(proto_zframe_build(in, (size_t)PROTO_ZMAX + 1, 0, 1, in, 0),
			 PROTO_E_TOO_LARGE);
	uint8_t small[8];
	ck_assert_int_eq(proto_zframe_build(in, 100, 0, 1, small, sizeof(small)), PROTO_E_NOSPACE);
	free(in);
}
END_TEST

/* A deflated frame of 200 'x's. */
static uint8_t *deflated(long *n)
{
	uint8_t in[200];
	memset(in, 'x', sizeof(in));
	uint8_t *fr = build(in, sizeof(in), 3, n);
	ck_assert_uint_eq(fr[4] | fr[5] << 8 | fr[6] << 16, 200); /* deflated */
	return fr;
}

START_TEST(bad_payloads)
{
	long n;
	uint8_t *fr = deflated(&n);
	uint8_t out[512];
	struct proto_zframe f;
	proto_zframe_parse(fr, (size_t)n, &f);
	ck_assert_int_eq(proto_zframe_inflate(&f, fr + 7, out), 200);

	/* truncated: the stream cut short */
	struct proto_zframe t = f;
	t.clen -= 3;
	ck_assert_int_eq(proto_zframe_inflate(&t, fr + 7, out), PROTO_E_MALFORMED);
	/* over-long: it inflates to more than the header says */
	struct proto_zframe o = f;
	o.ulen = 150;
	ck_assert_int_eq(proto_zframe_inflate(&o, fr + 7, out), PROTO_E_MALFORMED);
	/* short: it inflates to less than the header says */
	struct proto_zframe s = f;
	s.ulen = 201;
	ck_assert_int_eq(proto_zframe_inflate(&s, fr + 7, out), PROTO_E_MALFORMED);
	/* trailing bytes after the zlib stream */
	uint8_t *tail = malloc((size_t)n + 2);
	memcpy(tail, fr, (size_t)n);
	tail[n] = 0;
	tail[n + 1] = 0;
	struct proto_zframe tr = f;
	tr.clen += 2;
	ck_assert_int_eq(proto_zframe_inflate(&tr, tail + 7, out), PROTO_E_MALFORMED);
	free(tail);
	/* garbage: not zlib at all, or a flipped byte (the adler32 check) */
	uint8_t junk[40];
	memset(junk, 0x5a, sizeof(junk));
	struct proto_zframe g = {sizeof(junk), 0, 100};
	ck_assert_int_eq(proto_zframe_inflate(&g, junk, out), PROTO_E_MALFORMED);
	fr[n - 1] ^= 0x01;
	ck_assert_int_eq(proto_zframe_inflate(&f, fr + 7, out), PROTO_E_MALFORMED);
	free(fr);
}
END_TEST

/*
 * Three MySQL packets (a small OK-like one, a 300-byte one, a 70 000-byte
 * one) as one plain stream, cut into frames of `chunk` bytes: a frame holds
 * several packets or part of one. Inflating the frames in order gives the
 * stream back, and the MySQL packets in it are found whole.
 */
START_TEST(packets_across_frames)
{
	static const size_t sizes[] = {7, 300, 70000};
	size_t total = 0;
	for (size_t i = 0; i < 3; i++)
		total += PROTO_HEADER_LEN + sizes[i];
	uint8_t *stream = malloc(total);
	size_t off = 0;
	for (size_t i = 0; i < 3; i++) {
		proto_frame_build(stream + off, (uint32_t)sizes[i], (uint8_t)(i + 1));
		for (size_t j = 0; j < sizes[i]; j++)
			stream[off + PROTO_HEADER_LEN + j] = (uint8_t)(j % 13 + i);
		off += PROTO_HEADER_LEN + sizes[i];
	}
	static const size_t chunks[] = {1, 5, 11, 64, 304, 4096, 100000};
	for (size_t c = 0; c < sizeof(chunks) / sizeof(chunks[0]); c++) {
		size_t chunk = chunks[c];
		size_t wire_cap = proto_zframe_bound(chunk) * (total / chunk + 1);
		uint8_t *wire = malloc(wire_cap);
		size_t wl = 0;
		uint8_t seq = 0;
		for (size_t p = 0; p < total; p += chunk) {
			size_t len = total - p < chunk ? total - p : chunk;
			long n = proto_zframe_build(stream + p, len, seq++, 6, wire + wl,
						    wire_cap - wl);
			ck_assert_int_gt(n, 0);
			wl += (size_t)n;
		}
		uint8_t *back = malloc(total);
		size_t bl = 0, r = 0;
		uint8_t want_seq = 0;
		while (r < wl) {
			struct proto_zframe f;
			ck_assert_int_eq(proto_zframe_parse(wire + r, wl - r, &f), 7);
			ck_assert_uint_eq(f.seq, want_seq++);
			ck_assert_uint_le(bl + proto_zframe_plain_len(&f), total);
			long got = proto_zframe_inflate(&f, wire + r + 7, back + bl);
			ck_assert_int_eq(got, (long)proto_zframe_plain_len(&f));
			bl += (size_t)got;
			r += 7 + f.clen;
		}
		ck_assert_uint_eq(bl, total);
		ck_assert_mem_eq(back, stream, total);
		/* the MySQL packets are whole again */
		size_t q = 0;
		for (size_t i = 0; i < 3; i++) {
			uint64_t plen;
			uint8_t s1, s2;
			int span =
				proto_packet_scan(back + q, total - q, UINT64_MAX, &plen, &s1, &s2);
			ck_assert_int_eq(span, (int)(PROTO_HEADER_LEN + sizes[i]));
			ck_assert_uint_eq(plen, sizes[i]);
			ck_assert_uint_eq(s1, i + 1);
			q += (size_t)span;
		}
		free(back);
		free(wire);
	}
	free(stream);
}
END_TEST

static Suite *compress_suite(void)
{
	Suite *s = suite_create("compress");
	TCase *tc = tcase_create("compress");
	tcase_add_test(tc, header_round_trip);
	tcase_add_test(tc, small_payload_is_stored);
	tcase_add_test(tc, round_trip_sizes);
	tcase_add_test(tc, bad_payloads);
	tcase_add_test(tc, packets_across_frames);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(compress_suite)
