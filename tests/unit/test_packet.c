/*
 * test_packet.c — protocol/packet.h: frame headers, the framer (sequence
 * ids, the size limit from the header alone, 16 MiB+ packets), and
 * proto_packet_scan/join over whole and partial buffers.
 */
#include <sys/mman.h>

#include "unit.h"

#include "protocol/packet.h"

START_TEST(frame_round_trip)
{
	static const uint32_t lens[] = {0, 1, 0xfe, 0x100, 0xffff, 0x10000, 0xfffffe, 0xffffff};
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint8_t h[PROTO_HEADER_LEN];
		proto_frame_build(h, lens[i], (uint8_t)(i * 37));
		struct proto_frame f;
		ck_assert_int_eq(proto_frame_parse(h, sizeof(h), &f), PROTO_HEADER_LEN);
		ck_assert_uint_eq(f.len, lens[i]);
		ck_assert_uint_eq(f.seq, (uint8_t)(i * 37));
	}
	uint8_t h[PROTO_HEADER_LEN];
	proto_frame_build(h, 0x123456, 0xab);
	ck_assert_hex(h, 4, "563412ab");
}
END_TEST

START_TEST(frame_parse_needs_four_bytes)
{
	const uint8_t h[] = {0x01, 0x00, 0x00, 0x00};
	struct proto_frame f;
	for (size_t n = 0; n < 4; n++)
		ck_assert_int_eq(proto_frame_parse(h, n, &f), 0);
}
END_TEST

START_TEST(framer_sequence_ids)
{
	struct proto_framer fr;
	bool starts, ends;
	proto_framer_init(&fr, 1000, true);
	for (int i = 0; i < 300; i++) { /* wraps 255 -> 0 */
		struct proto_frame f = {10, (uint8_t)i};
		ck_assert_int_eq(proto_framer_next(&fr, &f, &starts, &ends), PROTO_OK);
		ck_assert(starts && ends);
	}
	struct proto_frame skip = {10, (uint8_t)(300 + 1)};
	ck_assert_int_eq(proto_framer_next(&fr, &skip, &starts, &ends), PROTO_E_SEQUENCE);
	/* a new command restarts at 0 */
	proto_framer_reset_seq(&fr, 0);
	struct proto_frame zero = {1, 0};
	ck_assert_int_eq(proto_framer_next(&fr, &zero, &starts, &ends), PROTO_OK);
	/* without check_seq any id passes */
	proto_framer_init(&fr, 1000, false);
	struct proto_frame any = {1, 77};
	ck_assert_int_eq(proto_framer_next(&fr, &any, &starts, &ends), PROTO_OK);
	ck_assert_uint_eq(fr.next_seq, 78);
}
END_TEST

START_TEST(framer_limit_from_header)
{
	struct proto_framer fr;
	bool starts, ends;
	proto_framer_init(&fr, 100, true);
	struct proto_frame f = {100, 0};
	ck_assert_int_eq(proto_framer_next(&fr, &f, &starts, &ends), PROTO_OK);
	struct proto_frame big = {101, 1};
	ck_assert_int_eq(proto_framer_next(&fr, &big, &starts, &ends), PROTO_E_TOO_LARGE);

	/* a split packet whose frames together pass the limit */
	proto_framer_init(&fr, PROTO_MAX_FRAME + 10ULL, true);
	struct proto_frame a = {PROTO_MAX_FRAME, 0}, b = {11, 1}, c = {10, 1};
	ck_assert_int_eq(proto_framer_next(&fr, &a, &starts, &ends), PROTO_OK);
	ck_assert(starts && !ends);
	struct proto_framer copy = fr;
	ck_assert_int_eq(proto_framer_next(&fr, &b, &starts, &ends), PROTO_E_TOO_LARGE);
	ck_assert_int_eq(proto_framer_next(&copy, &c, &starts, &ends), PROTO_OK);
	ck_assert(!starts && ends);
	ck_assert_uint_eq(copy.total, PROTO_MAX_FRAME + 10ULL);

	/* a limit below one full frame */
	proto_framer_init(&fr, 0, true);
	struct proto_frame empty = {0, 0}, one = {1, 1};
	ck_assert_int_eq(proto_framer_next(&fr, &empty, &starts, &ends), PROTO_OK);
	ck_assert_int_eq(proto_framer_next(&fr, &one, &starts, &ends), PROTO_E_TOO_LARGE);
}
END_TEST

/* A packet of exactly 0xFFFFFF bytes ends with an empty frame. */
START_TEST(framer_exact_frame_then_empty)
{
	struct proto_framer fr;
	bool starts, ends;
	proto_framer_init(&fr, UINT64_MAX, true);
	struct proto_frame a = {PROTO_MAX_FRAME, 3}, b = {0, 4}, next = {5, 5};
	proto_framer_reset_seq(&fr, 3);
	ck_assert_int_eq(proto_framer_next(&fr, &a, &starts, &ends), PROTO_OK);
	ck_assert(starts && !ends);
	ck_assert_int_eq(proto_framer_next(&fr, &b, &starts, &ends), PROTO_OK);
	ck_assert(!starts && ends);
	ck_assert_uint_eq(fr.total, PROTO_MAX_FRAME);
	ck_assert_int_eq(proto_framer_next(&fr, &next, &starts, &ends), PROTO_OK);
	ck_assert(starts && ends);
	ck_assert_uint_eq(fr.total, 5);
}
END_TEST

START_TEST(scan_small_packet)
{
	const uint8_t b[] = {0x03, 0x00, 0x00, 0x07, 'a', 'b', 'c', 0x01, 0x00};
	uint64_t len = 0;
	uint8_t first = 0, last = 0;
	ck_assert_int_eq(proto_packet_scan(b, sizeof(b), 100, &len, &first, &last), 7);
	ck_assert_uint_eq(len, 3);
	ck_assert_uint_eq(first, 7);
	ck_assert_uint_eq(last, 7);
	uint8_t out[3];
	proto_packet_join(b, 7, out);
	ck_assert_mem_eq(out, "abc", 3);
	/* every shorter prefix is incomplete */
	for (size_t n = 0; n < 7; n++)
		ck_assert_int_eq(proto_packet_scan(b, n, 100, &len, &first, &last), 0);
	/* an empty payload is a complete packet */
	const uint8_t e[] = {0x00, 0x00, 0x00, 0x02};
	ck_assert_int_eq(proto_packet_scan(e, sizeof(e), 100, &len, &first, &last), 4);
	ck_assert_uint_eq(len, 0);
}
END_TEST

/* max_payload is enforced from the 4 header bytes alone. */
START_TEST(scan_limit_from_header)
{
	const uint8_t h[] = {0x65, 0x00, 0x00, 0x00}; /* says 101 bytes; none present */
	uint64_t len;
	uint8_t first, last;
	ck_assert_int_eq(proto_packet_scan(h, sizeof(h), 100, &len, &first, &last),
			 PROTO_E_TOO_LARGE);
	ck_assert_int_eq(proto_packet_scan(h, sizeof(h), 101, &len, &first, &last), 0);
}
END_TEST

/* A 16 MiB+ payload in two frames, a payload of exactly 0xFFFFFF bytes
 * (with its empty frame), and a limit that only the second frame passes. */
START_TEST(scan_split_payloads)
{
	size_t n = PROTO_MAX_FRAME + 1000;
	uint8_t *payload = malloc(n);
	ck_assert_ptr_nonnull(payload);
	for (size_t i = 0; i < n; i++)
		payload[i] = (uint8_t)(i * 7 + 1);
	struct vbuf b = {0};
	ck_assert_uint_eq(vbuf_packet(&b, payload, n, 250), 252);
	ck_assert_uint_eq(b.len, n + 8);
	vbuf_add(&b, "\x01\x00\x00\x00\x0e", 5); /* the next packet */
	uint64_t len;
	uint8_t first, last;
	ck_assert_int_eq(proto_packet_scan(b.p, b.len, UINT64_MAX, &len, &first, &last),
			 (int)(n + 8));
	ck_assert_uint_eq(len, n);
	ck_assert_uint_eq(first, 250);
	ck_assert_uint_eq(last, 251);
	uint8_t *joined = malloc(n);
	ck_assert_ptr_nonnull(joined);
	proto_packet_join(b.p, n + 8, joined);
	ck_assert_mem_eq(joined, payload, n);
	/* incomplete: the whole first frame, part of the second */
	ck_assert_int_eq(
		proto_packet_scan(b.p, PROTO_MAX_FRAME + 4 + 6, UINT64_MAX, &len, &first, &last),
		0);
	ck_assert_int_eq(
		proto_packet_scan(b.p, PROTO_MAX_FRAME + 4 + 2, UINT64_MAX, &len, &first, &last),
		0);
	/* the limit is passed by the second frame's header */
	ck_assert_int_eq(
		proto_packet_scan(b.p, PROTO_MAX_FRAME + 4 + 4, n - 1, &len, &first, &last),
		PROTO_E_TOO_LARGE);
	ck_assert_int_eq(proto_packet_scan(b.p, PROTO_MAX_FRAME + 4 + 4, n, &len, &first, &last),
			 0);
	vbuf_free(&b);

	/* exactly one full frame: an empty frame ends it */
	ck_assert_uint_eq(vbuf_packet(&b, payload, PROTO_MAX_FRAME, 0), 2);
	ck_assert_uint_eq(b.len, PROTO_MAX_FRAME + 8ULL);
	ck_assert_int_eq(proto_packet_scan(b.p, b.len - 4, UINT64_MAX, &len, &first, &last), 0);
	ck_assert_int_eq(proto_packet_scan(b.p, b.len, UINT64_MAX, &len, &first, &last),
			 (int)b.len);
	ck_assert_uint_eq(len, PROTO_MAX_FRAME);
	ck_assert_uint_eq(last, 1);
	proto_packet_join(b.p, b.len, joined);
	ck_assert_mem_eq(joined, payload, PROTO_MAX_FRAME);
	vbuf_free(&b);
	free(joined);
	free(payload);
}
END_TEST

/* A packet whose frames span more than INT32_MAX bytes cannot be reported
 * through an int: TOO_LARGE. Built in sparse memory: only headers touched. */
START_TEST(scan_span_past_int_max)
{
	size_t frames = (size_t)INT32_MAX / (PROTO_MAX_FRAME + 4) + 2;
	size_t span = frames * (PROTO_MAX_FRAME + 4) + 4;
	uint8_t *buf = mmap(NULL, span, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ck_assert_ptr_ne(buf, MAP_FAILED);
	for (size_t i = 0; i < frames; i++)
		proto_frame_build(buf + i * (PROTO_MAX_FRAME + 4), PROTO_MAX_FRAME, (uint8_t)i);
	proto_frame_build(buf + frames * (PROTO_MAX_FRAME + 4), 0, (uint8_t)frames);
	uint64_t len;
	uint8_t first, last;
	ck_assert_int_eq(proto_packet_scan(buf, span, UINT64_MAX, &len, &first, &last),
			 PROTO_E_TOO_LARGE);
	munmap(buf, span);
}
END_TEST

static Suite *packet_suite(void)
{
	Suite *s = suite_create("packet");
	TCase *tc = tcase_create("packet");
	tcase_add_test(tc, frame_round_trip);
	tcase_add_test(tc, frame_parse_needs_four_bytes);
	tcase_add_test(tc, framer_sequence_ids);
	tcase_add_test(tc, framer_limit_from_header);
	tcase_add_test(tc, framer_exact_frame_then_empty);
	tcase_add_test(tc, scan_small_packet);
	tcase_add_test(tc, scan_limit_from_header);
	tcase_add_test(tc, scan_split_payloads);
	tcase_add_test(tc, scan_span_past_int_max);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(packet_suite)
