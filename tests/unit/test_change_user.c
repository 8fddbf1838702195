/*
 * test_change_user.c — COM_CHANGE_USER parse and build (protocol/handshake.c):
 * round trips under the capability sets clients use, the layout
 * Connector/C sends (checked byte by byte), old clients that end the packet
 * early, and truncated or malformed input giving an error, never a read
 * past the end.
 */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/handshake.h"
#include "protocol/packet.h"

#define CAPS_MODERN \
	(CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_ATTRS)

static struct proto_str S(const char *c) {
	struct proto_str s = {c, strlen(c)};
	return s;
}

static bool
str_is(struct proto_str s, const char *c)
{
	return proto_str_eq(s, c);
}

/* Build, check the frame header, parse the payload back. */
static void round_trip(uint64_t caps, const struct proto_change_user *in,
		       struct proto_change_user *out, uint8_t *buf, size_t cap)
{
	struct proto_wr w;
	proto_wr_init(&w, buf, cap);
	ck_assert_int_eq(proto_change_user_build(&w, 0, caps, in), PROTO_OK);
	ck_assert(!w.overflow);
	struct proto_frame f;
	ck_assert_int_eq(proto_frame_parse(buf, w.len, &f), 4);
	ck_assert_uint_eq(f.len, w.len - 4);
	ck_assert_uint_eq(f.seq, 0);
	ck_assert_int_eq(proto_change_user_parse(buf + 4, f.len, caps, out), (int)f.len);
}

START_TEST(modern_round_trip)
{
	uint8_t auth[20];
	for (int i = 0; i < 20; i++)
		auth[i] = (uint8_t)(i * 13);
	uint8_t attrs[] = {4, '_', 'p', 'i', 'd', 3, '4', '2', '1'};
	struct proto_change_user in = {0}, out;
	in.user = S("app2");
	in.auth.p = (const char *)auth;
	in.auth.len = sizeof(auth);
	in.database = S("test");
	in.charset = 224;
	in.auth_plugin = S("mysql_native_password");
	in.attrs.p = (const char *)attrs;
	in.attrs.len = sizeof(attrs);
	uint8_t buf[512];
	round_trip(CAPS_MODERN, &in, &out, buf, sizeof(buf));
	ck_assert(str_is(out.user, "app2"));
	ck_assert_uint_eq(out.auth.len, 20);
	ck_assert_mem_eq(out.auth.p, auth, 20);
	ck_assert(str_is(out.database, "test"));
	ck_assert_uint_eq(out.charset, 224);
	ck_assert(str_is(out.auth_plugin, "mysql_native_password"));
	ck_assert_uint_eq(out.attrs.len, sizeof(attrs));
	ck_assert_mem_eq(out.attrs.p, attrs, sizeof(attrs));
}
END_TEST

/* The exact bytes Connector/C's send_change_user_packet writes: user NUL,
 * one length byte and the scramble reply, db NUL, charset (2), plugin NUL,
 * then the attributes with their length. A charset above 255 (MariaDB's
 * uca1400 collations) takes both bytes. */
START_TEST(connector_c_layout)
{
	static const uint8_t pkt[] = {
		0x11, 'b',  'o',  'b',  0, /* command, user */
		3,    0xaa, 0xbb, 0xcc,    /* auth: 3 bytes */
		'd',  'b',  0,             /* database */
		0x36, 0x01,                /* charset 310 */
		'c',  'a',  'c',  'h',  'i', 'n', 'g', '_', 's', 'h', 'a',
		'2',  '_',  'p',  'a',  's', 's', 'w', 'o', 'r', 'd', 0, /* plugin */
		5,    2,    'k',  '1',  1,   'v',                        /* attrs: k1=v */
	};
	struct proto_change_user cu;
	ck_assert_int_eq(proto_change_user_parse(pkt, sizeof(pkt), CAPS_MODERN, &cu),
			 (int)sizeof(pkt));
	ck_assert(str_is(cu.user, "bob"));
	ck_assert_uint_eq(cu.auth.len, 3);
	ck_assert_uint_eq((uint8_t)cu.auth.p[2], 0xcc);
	ck_assert(str_is(cu.database, "db"));
	ck_assert_uint_eq(cu.charset, 310);
	ck_assert(str_is(cu.auth_plugin, "caching_sha2_password"));
	ck_assert_uint_eq(cu.attrs.len, 5);
	struct proto_rd r;
	proto_rd_init(&r, cu.attrs.p, cu.attrs.len);
	struct proto_str k, v;
	ck_assert_int_gt(proto_attrs_next(&r, &k, &v), 0);
	ck_assert(str_is(k, "k1"));
	ck_assert(str_is(v, "v"));
	ck_assert_int_eq(proto_attrs_next(&r, &k, &v), 0);

	/* and building it from the parsed fields gives the same bytes */
	uint8_t buf[128];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_change_user_build(&w, 0, CAPS_MODERN, &cu), PROTO_OK);
	ck_assert_uint_eq(w.len, 4 + sizeof(pkt));
	ck_assert_mem_eq(buf + 4, pkt, sizeof(pkt));
}
END_TEST

/* An empty password: a zero length byte. An empty database still has its NUL. */
START_TEST(empty_fields)
{
	struct proto_change_user in = {0}, out;
	in.user = S("u");
	in.auth = S("");
	in.database = S("");
	in.auth_plugin = S("mysql_native_password");
	in.attrs = S("");
	uint8_t buf[128];
	round_trip(CAPS_MODERN, &in, &out, buf, sizeof(buf));
	ck_assert(str_is(out.user, "u"));
	ck_assert_uint_eq(out.auth.len, 0);
	ck_assert_uint_eq(out.database.len, 0);
	ck_assert_uint_eq(out.charset, 0);
	ck_assert(str_is(out.auth_plugin, "mysql_native_password"));
}
END_TEST

/* Without CLIENT_SECURE_CONNECTION the auth data is NUL-terminated; without
 * PLUGIN_AUTH / CONNECT_ATTRS those fields are absent. */
START_TEST(old_capabilities)
{
	struct proto_change_user in = {0}, out;
	in.user = S("old");
	in.auth = S("scrambled");
	in.database = S("d");
	in.charset = 8;
	uint8_t buf[128];
	round_trip(CLIENT_PROTOCOL_41, &in, &out, buf, sizeof(buf));
	ck_assert(str_is(out.auth, "scrambled"));
	ck_assert(str_is(out.database, "d"));
	ck_assert_uint_eq(out.charset, 8);
	ck_assert_uint_eq(out.auth_plugin.len, 0);
	ck_assert_uint_eq(out.attrs.len, 0);

	/* a very old client ends right after the auth data */
	static const uint8_t short_pkt[] = {0x11, 'u', 0, 2, 'a', 'b'};
	ck_assert_int_eq(proto_change_user_parse(short_pkt, sizeof(short_pkt), CAPS_MODERN, &out),
			 (int)sizeof(short_pkt));
	ck_assert(str_is(out.user, "u"));
	ck_assert_uint_eq(out.auth.len, 2);
	ck_assert_uint_eq(out.database.len, 0);
	ck_assert_uint_eq(out.charset, 0);
}
END_TEST

START_TEST(auth_too_long_for_length_byte)
{
	char big[300];
	memset(big, 'x', sizeof(big));
	struct proto_change_user in = {0};
	in.user = S("u");
	in.auth.p = big;
	in.auth.len = 256;
	uint8_t buf[600];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_change_user_build(&w, 0, CAPS_MODERN, &in), PROTO_E_TOO_LARGE);
	/* without SECURE_CONNECTION (NUL-terminated) it fits */
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_change_user_build(&w, 0, CLIENT_PROTOCOL_41, &in), PROTO_OK);
	/* a buffer that is too small overflows, and says so */
	proto_wr_init(&w, buf, 10);
	in.auth.len = 20;
	ck_assert_int_ne(proto_change_user_build(&w, 0, CAPS_MODERN, &in), PROTO_OK);
}
END_TEST

/* Every prefix of a valid packet either parses (the optional tail
 * missing) or fails with an error code; none reads past its end. */
START_TEST(truncated_and_malformed)
{
	uint8_t auth[20] = {1, 2, 3};
	uint8_t attrs[] = {1, 'k', 1, 'v'};
	struct proto_change_user in = {0}, out;
	in.user = S("someone");
	in.auth.p = (const char *)auth;
	in.auth.len = sizeof(auth);
	in.database = S("demo");
	in.charset = 45;
	in.auth_plugin = S("mysql_native_password");
	in.attrs.p = (const char *)attrs;
	in.attrs.len = sizeof(attrs);
	uint8_t buf[256];
	round_trip(CAPS_MODERN, &in, &out, buf, sizeof(buf));
	size_t full = 4 + 1 + 8 + 21 + 5 + 2 + 22 + 5;
	for (size_t n = 0; n < full - 4; n++) {
		/* copy to an exact-size heap block so ASan sees any overread */
		uint8_t *p = malloc(n ? n : 1);
		memcpy(p, buf + 4, n);
		int rc = proto_change_user_parse(p, n, CAPS_MODERN, &out);
		if (n < 1 + 8 + 1 + 20) /* command, user, auth: mandatory */
			ck_assert_int_lt(rc, 0);
		else if (rc >= 0)
			ck_assert_int_eq(rc, (int)n);
		free(p);
	}
	/* an attribute length past the end */
	uint8_t bad_attrs[] = {0x11, 'u', 0, 0, 0, 0, 0, 'p', 0, 9, 1};
	ck_assert_int_lt(proto_change_user_parse(bad_attrs, sizeof(bad_attrs), CAPS_MODERN, &out),
			 0);
	/* not a COM_CHANGE_USER at all */
	uint8_t query[] = {0x03, 'S', 'E', 'L'};
	ck_assert_int_eq(proto_change_user_parse(query, sizeof(query), CAPS_MODERN, &out),
			 PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_change_user_parse(query, 0, CAPS_MODERN, &out), PROTO_E_TRUNCATED);
	/* user without its NUL */
	uint8_t no_nul[] = {0x11, 'a', 'b'};
	ck_assert_int_lt(proto_change_user_parse(no_nul, sizeof(no_nul), CAPS_MODERN, &out), 0);
	/* auth length byte larger than what follows */
	uint8_t auth_long[] = {0x11, 'a', 0, 30, 1, 2};
	ck_assert_int_eq(proto_change_user_parse(auth_long, sizeof(auth_long), CAPS_MODERN, &out),
			 PROTO_E_TRUNCATED);
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("change_user");
	TCase *tc = tcase_create("change_user");
	tcase_add_test(tc, modern_round_trip);
	tcase_add_test(tc, connector_c_layout);
	tcase_add_test(tc, empty_fields);
	tcase_add_test(tc, old_capabilities);
	tcase_add_test(tc, auth_too_long_for_length_byte);
	tcase_add_test(tc, truncated_and_malformed);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	srunner_run_all(sr, CK_NORMAL);
	int failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
