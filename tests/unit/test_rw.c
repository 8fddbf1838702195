/*
 * test_rw.c — protocol/rw.h: fixed-width and length-encoded readers and
 * writers, their sticky errors, packet begin/end, proto_strerror.
 */
#include "unit.h"

#include "protocol/packet.h"

START_TEST(fixed_width_read)
{
	const uint8_t b[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
			     0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10,
			     0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18};
	struct proto_rd r;
	proto_rd_init(&r, b, sizeof(b));
	ck_assert_uint_eq(proto_rd_u8(&r), 0x01);
	ck_assert_uint_eq(proto_rd_u16(&r), 0x0302);
	ck_assert_uint_eq(proto_rd_u24(&r), 0x060504);
	ck_assert_uint_eq(proto_rd_u32(&r), 0x0a090807);
	ck_assert_uint_eq(proto_rd_u48(&r), 0x100f0e0d0c0bULL);
	ck_assert_uint_eq(proto_rd_u64(&r), 0x1817161514131211ULL);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(proto_rd_left(&r), 0);
	/* reading past the end: zero and a sticky TRUNCATED */
	ck_assert_uint_eq(proto_rd_u8(&r), 0);
	ck_assert_int_eq(r.err, PROTO_E_TRUNCATED);
}
END_TEST

START_TEST(short_read_leaves_position)
{
	const uint8_t b[] = {0xaa, 0xbb, 0xcc};
	struct proto_rd r;
	proto_rd_init(&r, b, sizeof(b));
	ck_assert_uint_eq(proto_rd_u32(&r), 0);
	ck_assert_int_eq(r.err, PROTO_E_TRUNCATED);
	ck_assert_uint_eq(proto_rd_left(&r), 3); /* nothing consumed */
	/* once failed, every later read fails, even one that would fit */
	ck_assert_uint_eq(proto_rd_u8(&r), 0);
	ck_assert_ptr_null(proto_rd_bytes(&r, 1));
	struct proto_str s = proto_rd_rest(&r);
	ck_assert_uint_eq(s.len, 0);
	s = proto_rd_nul_str(&r);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(r.err, PROTO_E_TRUNCATED);
}
END_TEST

START_TEST(bytes_zero_and_empty)
{
	struct proto_rd r;
	proto_rd_init(&r, "", 0);
	ck_assert_ptr_nonnull(proto_rd_bytes(&r, 0));
	ck_assert_int_eq(r.err, 0);
	struct proto_str s = proto_rd_rest(&r);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(r.err, 0);
}
END_TEST

/* Every width of a length-encoded integer, at its boundaries. */
START_TEST(lenenc_every_width)
{
	static const struct {
		uint64_t v;
		const char *hex;
	} cases[] = {
		{0, "00"},
		{1, "01"},
		{250, "fa"},
		{251, "fcfb00"},
		{0xffff, "fcffff"},
		{0x10000, "fd000001"},
		{0xffffff, "fdffffff"},
		{0x1000000, "fe0000000100000000"},
		{0xffffffffffffffffULL, "feffffffffffffffff"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint8_t buf[16];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		proto_wr_lenenc(&w, cases[i].v);
		ck_assert(!w.overflow);
		ck_assert_hex(buf, w.len, cases[i].hex);
		ck_assert_uint_eq(proto_lenenc_size(cases[i].v), w.len);

		struct proto_rd r;
		bool is_null = true;
		proto_rd_init(&r, buf, w.len);
		ck_assert_uint_eq(proto_rd_lenenc(&r, &is_null), cases[i].v);
		ck_assert(!is_null);
		ck_assert_int_eq(r.err, 0);
		ck_assert_uint_eq(proto_rd_left(&r), 0);

		/* every prefix of the encoding is truncated */
		for (size_t n = 0; n < w.len; n++) {
			proto_rd_init(&r, buf, n);
			ck_assert_uint_eq(proto_rd_lenenc(&r, NULL), 0);
			ck_assert_int_eq(r.err, PROTO_E_TRUNCATED);
		}
	}
}
END_TEST

START_TEST(lenenc_null_and_ff)
{
	const uint8_t fb[] = {0xfb}, ff[] = {0xff, 0x01, 0x02};
	struct proto_rd r;
	bool is_null = false;

	proto_rd_init(&r, fb, sizeof(fb));
	ck_assert_uint_eq(proto_rd_lenenc(&r, &is_null), 0);
	ck_assert(is_null);
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(proto_rd_left(&r), 0);

	/* 0xFB where NULL is not allowed */
	proto_rd_init(&r, fb, sizeof(fb));
	proto_rd_lenenc(&r, NULL);
	ck_assert_int_eq(r.err, PROTO_E_MALFORMED);

	/* 0xFF is never a length */
	proto_rd_init(&r, ff, sizeof(ff));
	is_null = true;
	proto_rd_lenenc(&r, &is_null);
	ck_assert_int_eq(r.err, PROTO_E_MALFORMED);
	ck_assert(!is_null);
}
END_TEST

START_TEST(lenenc_str_bounds)
{
	const uint8_t ok[] = {0x03, 'a', 'b', 'c', 0x00};
	const uint8_t past[] = {0x05, 'a', 'b'};
	const uint8_t huge[] = {0xfe, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 'x'};
	const uint8_t null[] = {0xfb};
	const uint8_t wide[] = {0xfc, 0x02, 0x00, 'h', 'i'};
	struct proto_rd r;

	proto_rd_init(&r, ok, sizeof(ok));
	struct proto_str s = proto_rd_lenenc_str(&r);
	ck_assert(proto_str_eq(s, "abc"));
	ck_assert_uint_eq(proto_rd_left(&r), 1);
	s = proto_rd_lenenc_str(&r); /* 0x00: the empty string */
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(r.err, 0);

	proto_rd_init(&r, wide, sizeof(wide));
	ck_assert(proto_str_eq(proto_rd_lenenc_str(&r), "hi"));

	/* a length past the end of the bytes */
	proto_rd_init(&r, past, sizeof(past));
	s = proto_rd_lenenc_str(&r);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(r.err, PROTO_E_TRUNCATED);

	/* a length that would overflow a pointer sum */
	proto_rd_init(&r, huge, sizeof(huge));
	s = proto_rd_lenenc_str(&r);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(r.err, PROTO_E_TRUNCATED);

	/* NULL is not a string length */
	proto_rd_init(&r, null, sizeof(null));
	proto_rd_lenenc_str(&r);
	ck_assert_int_eq(r.err, PROTO_E_MALFORMED);
}
END_TEST

START_TEST(nul_str_and_rest)
{
	const uint8_t b[] = {'u', 's', 'e', 'r', 0, 0, 'x', 'y'};
	struct proto_rd r;
	proto_rd_init(&r, b, sizeof(b));
	ck_assert(proto_str_eq(proto_rd_nul_str(&r), "user"));
	ck_assert(proto_str_eq(proto_rd_nul_str(&r), ""));
	ck_assert(proto_str_eq(proto_rd_rest(&r), "xy"));
	ck_assert_int_eq(r.err, 0);
	ck_assert_uint_eq(proto_rd_left(&r), 0);

	/* no terminating NUL */
	proto_rd_init(&r, b + 6, 2);
	struct proto_str s = proto_rd_nul_str(&r);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(r.err, PROTO_E_TRUNCATED);
	ck_assert_uint_eq(proto_rd_left(&r), 2);
}
END_TEST

START_TEST(str_eq)
{
	struct proto_str s = {"abc", 3}, e = {"", 0};
	ck_assert(proto_str_eq(s, "abc"));
	ck_assert(!proto_str_eq(s, "ab"));
	ck_assert(!proto_str_eq(s, "abcd"));
	ck_assert(proto_str_eq(e, ""));
	ck_assert(!proto_str_eq(e, "a"));
}
END_TEST

START_TEST(writers)
{
	uint8_t buf[64];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	proto_wr_u8(&w, 0x01);
	proto_wr_u16(&w, 0x0302);
	proto_wr_u24(&w, 0x060504);
	proto_wr_u32(&w, 0x0a090807);
	proto_wr_u64(&w, 0x1211100f0e0d0c0bULL);
	proto_wr_zero(&w, 2);
	proto_wr_bytes(&w, "hi", 2);
	proto_wr_nul_str(&w, "ab", 2);
	proto_wr_lenenc_str(&w, "xyz", 3);
	proto_wr_bytes(&w, NULL, 0);
	ck_assert(!w.overflow);
	ck_assert_hex(buf, w.len,
		      "01"
		      "0203"
		      "040506"
		      "0708090a"
		      "0b0c0d0e0f101112"
		      "0000"
		      "6869"
		      "616200"
		      "0378797a");
}
END_TEST

START_TEST(writer_overflow_is_sticky)
{
	uint8_t buf[8];
	memset(buf, 0xee, sizeof(buf));
	struct proto_wr w;
	proto_wr_init(&w, buf, 4);
	proto_wr_u16(&w, 0x0201);
	proto_wr_u32(&w, 0x07060504); /* does not fit: nothing of it is written */
	ck_assert(w.overflow);
	ck_assert_uint_eq(w.len, 2);
	proto_wr_u8(&w, 0x09); /* would fit, but overflow is sticky */
	ck_assert_uint_eq(w.len, 2);
	proto_wr_zero(&w, 1);
	proto_wr_lenenc_str(&w, "a", 1);
	ck_assert_uint_eq(w.len, 2);
	ck_assert_uint_eq(buf[2], 0xee);
	ck_assert_uint_eq(buf[4], 0xee); /* never past cap */

	proto_wr_init(&w, buf, 2);
	proto_wr_zero(&w, 3);
	ck_assert(w.overflow);
	ck_assert_uint_eq(w.len, 0);
}
END_TEST

START_TEST(packet_begin_end)
{
	uint8_t buf[32];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	size_t at = proto_wr_packet_begin(&w, 7);
	proto_wr_bytes(&w, "\x0e", 1);
	ck_assert_int_eq(proto_wr_packet_end(&w, at), PROTO_OK);
	size_t at2 = proto_wr_packet_begin(&w, 8);
	ck_assert_int_eq(proto_wr_packet_end(&w, at2), PROTO_OK); /* empty payload */
	ck_assert_hex(buf, w.len,
		      "010000070e"
		      "00000008");

	/* overflow reported at the end */
	proto_wr_init(&w, buf, 6);
	at = proto_wr_packet_begin(&w, 0);
	proto_wr_bytes(&w, "abc", 3);
	ck_assert_int_eq(proto_wr_packet_end(&w, at), PROTO_E_NOSPACE);
}
END_TEST

START_TEST(packet_end_too_large)
{
	size_t cap = PROTO_HEADER_LEN + PROTO_MAX_FRAME + 1;
	uint8_t *buf = malloc(cap);
	ck_assert_ptr_nonnull(buf);
	struct proto_wr w;
	/* 0xFFFFFE bytes fit one frame */
	proto_wr_init(&w, buf, cap);
	size_t at = proto_wr_packet_begin(&w, 0);
	proto_wr_zero(&w, PROTO_MAX_FRAME - 1);
	ck_assert_int_eq(proto_wr_packet_end(&w, at), PROTO_OK);
	ck_assert_hex(buf, 4, "feffff00");
	/* 0xFFFFFF bytes would need an empty continuation frame */
	proto_wr_init(&w, buf, cap);
	at = proto_wr_packet_begin(&w, 0);
	proto_wr_zero(&w, PROTO_MAX_FRAME);
	ck_assert_int_eq(proto_wr_packet_end(&w, at), PROTO_E_TOO_LARGE);
	free(buf);
}
END_TEST

START_TEST(strerror_names_every_code)
{
	const int codes[] = {PROTO_OK,          PROTO_E_TRUNCATED,   PROTO_E_MALFORMED,
			     PROTO_E_TOO_LARGE, PROTO_E_UNSUPPORTED, PROTO_E_SEQUENCE,
			     PROTO_E_NOSPACE,   PROTO_E_UNEXPECTED,  PROTO_E_NOMEM};
	for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
		const char *s = proto_strerror(codes[i]);
		ck_assert_ptr_nonnull(s);
		ck_assert_str_ne(s, "unknown protocol error");
		for (size_t j = 0; j < i; j++)
			ck_assert_str_ne(s, proto_strerror(codes[j]));
	}
	ck_assert_str_eq(proto_strerror(-99), "unknown protocol error");
	ck_assert_str_eq(proto_strerror(PROTO_E_TRUNCATED), "truncated packet");
}
END_TEST

static Suite *rw_suite(void)
{
	Suite *s = suite_create("rw");
	TCase *tc = tcase_create("rw");
	tcase_add_test(tc, fixed_width_read);
	tcase_add_test(tc, short_read_leaves_position);
	tcase_add_test(tc, bytes_zero_and_empty);
	tcase_add_test(tc, lenenc_every_width);
	tcase_add_test(tc, lenenc_null_and_ff);
	tcase_add_test(tc, lenenc_str_bounds);
	tcase_add_test(tc, nul_str_and_rest);
	tcase_add_test(tc, str_eq);
	tcase_add_test(tc, writers);
	tcase_add_test(tc, writer_overflow_is_sticky);
	tcase_add_test(tc, packet_begin_end);
	tcase_add_test(tc, packet_end_too_large);
	tcase_add_test(tc, strerror_names_every_code);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(rw_suite)
