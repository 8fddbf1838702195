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

#include <stdio.h>
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

/* ---- a real conversation: tests/data/cli_compress.zhex ---- */

struct zconv {
	char dir[64];
	uint8_t *data[64];
	size_t len[64];
	size_t n;
};

static void zconv_load(struct zconv *z, const char *path)
{
	FILE *fp = fopen(path, "r");
	ck_assert_ptr_nonnull(fp);
	char *line = NULL;
	size_t cap = 0;
	ssize_t got;
	z->n = 0;
	while ((got = getline(&line, &cap, fp)) > 0) {
		if (line[0] == '#' || got < 3)
			continue;
		ck_assert_uint_lt(z->n, 64);
		size_t hexlen = (size_t)got - 2;
		z->data[z->n] = malloc(hexlen / 2 + 1);
		z->dir[z->n] = line[0];
		z->len[z->n] = vec_unhex(line + 2, z->data[z->n], hexlen / 2 + 1);
		z->n++;
	}
	free(line);
	fclose(fp);
}

/* One direction's bytes so far, how far frames were read, its plain bytes. */
struct zdir {
	uint8_t buf[1 << 20];
	size_t have, off, plain_frames;
	uint8_t plain[1 << 21];
	size_t plain_len;
};

/* MariaDB 10.11 and the mariadb CLI (Connector/C 3.3) with --compress:
 * after the plain login, every frame inflates to exactly its length; the
 * server's frames follow the previous frame's id (n+1), the client's do
 * too or start a command at 0; nothing under 50 bytes is deflated; the
 * inflated streams are whole MySQL packets; the LOCAL INFILE data frames
 * continue the server's request frame. */
START_TEST(real_conversation)
{
	static struct zconv z;
	static struct zdir d[2]; /* 0 client, 1 server */
	memset(d, 0, sizeof(d));
	zconv_load(&z, "cli_compress.zhex");
	ck_assert_uint_ge(z.n, 10);
	int plain_left[2] = {1, 2}; /* the login; the greeting and the OK */
	int last_seq = -1;
	size_t stored = 0, deflated = 0, commands = 0, continuing_client = 0;
	for (size_t i = 0; i < z.n; i++) {
		struct zdir *w = &d[z.dir[i] == 'S'];
		int side = z.dir[i] == 'S';
		ck_assert_uint_le(w->have + z.len[i], sizeof(w->buf));
		memcpy(w->buf + w->have, z.data[i], z.len[i]);
		w->have += z.len[i];
		for (;;) {
			if (plain_left[side] > 0) {
				struct proto_frame pf;
				if (proto_frame_parse(w->buf + w->off, w->have - w->off, &pf) ==
					    0 ||
				    w->have - w->off < PROTO_HEADER_LEN + pf.len)
					break;
				if (side && plain_left[side] == 1)
					ck_assert_uint_eq(w->buf[w->off + PROTO_HEADER_LEN],
							  0); /* OK */
				w->off += PROTO_HEADER_LEN + pf.len;
				plain_left[side]--;
				continue;
			}
			struct proto_zframe f;
			if (proto_zframe_parse(w->buf + w->off, w->have - w->off, &f) == 0 ||
			    w->have - w->off < PROTO_ZHEADER_LEN + f.clen)
				break;
			if (side) {
				ck_assert_int_eq(f.seq, (uint8_t)(last_seq + 1));
			} else if (f.seq == 0) {
				commands++;
			} else {
				ck_assert_int_eq(f.seq, (uint8_t)(last_seq + 1));
				continuing_client++;
			}
			last_seq = f.seq;
			if (f.ulen) {
				ck_assert_uint_ge(f.ulen, PROTO_ZMIN_DEFLATE);
				deflated++;
			} else {
				stored++;
			}
			uint32_t plain = proto_zframe_plain_len(&f);
			ck_assert_uint_le(w->plain_len + plain, sizeof(w->plain));
			ck_assert_int_eq(proto_zframe_inflate(&f,
							      w->buf + w->off + PROTO_ZHEADER_LEN,
							      w->plain + w->plain_len),
					 (long)plain);
			w->plain_len += plain;
			w->off += PROTO_ZHEADER_LEN + f.clen;
			w->plain_frames++;
		}
	}
	for (int side = 0; side < 2; side++) {
		ck_assert_uint_eq(d[side].off, d[side].have); /* nothing left over */
		size_t q = 0, pkts = 0;
		while (q < d[side].plain_len) {
			uint64_t plen;
			uint8_t s1, s2;
			int span = proto_packet_scan(d[side].plain + q, d[side].plain_len - q,
						     UINT64_MAX, &plen, &s1, &s2);
			ck_assert_int_gt(span, 0);
			q += (size_t)span;
			pkts++;
		}
		ck_assert_uint_ge(pkts, side ? 2000 : 7);
	}
	ck_assert_uint_ge(commands, 6);          /* 5 statements and COM_QUIT */
	ck_assert_uint_ge(continuing_client, 1); /* the LOCAL INFILE data */
	ck_assert_uint_ge(stored, 1);
	ck_assert_uint_ge(deflated, 1);
	ck_assert_uint_ge(d[1].plain_frames, 5);
	for (size_t i = 0; i < z.n; i++)
		free(z.data[i]);
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
	tcase_add_test(tc, real_conversation);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(compress_suite)
