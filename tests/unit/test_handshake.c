/*
 * test_handshake.c — protocol/handshake.h on recorded MariaDB 10.11
 * greetings and on the login packets of the mariadb CLI, Connector/C and
 * PyMySQL: parse (fields asserted), build (byte-identical round trip),
 * every truncation, and malformed input.
 */
#include "unit.h"

#include "protocol/auth.h"
#include "protocol/command.h"
#include "protocol/handshake.h"

#define SERVER_VERSION "5.5.5-10.11.19-MariaDB-0+deb12u1-log"

static const struct vec_frame *frame(const struct vec *v, char dir, uint8_t seq, int nth)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->f[i].dir == dir && v->f[i].seq == seq && nth-- == 0)
			return &v->f[i];
	ck_abort_msg("%s: no %c frame with seq %u", v->name, dir, seq);
	return NULL;
}

START_TEST(greeting_recorded)
{
	struct vec *v = vec_load("cli_login");
	const struct vec_frame *g = &v->f[0];
	struct proto_handshake hs;
	ck_assert_int_eq(proto_handshake_parse(g->payload, g->payload_len, &hs),
			 (int)g->payload_len);
	ck_assert_uint_eq(hs.protocol_version, 10);
	ck_assert(proto_str_eq(hs.server_version, SERVER_VERSION));
	ck_assert_uint_eq(hs.connection_id, 0x0b);
	ck_assert_uint_eq(hs.scramble_len, PROTO_SCRAMBLE_LEN);
	ck_assert_hex(hs.scramble, 20,
		      "6a7b4a3f3c4f5a57"
		      "275761634e3e284d2b304d71");
	ck_assert_uint_eq(hs.charset, 45); /* utf8mb4_general_ci */
	ck_assert_uint_eq(hs.status, SERVER_STATUS_AUTOCOMMIT);
	/* MariaDB: CLIENT_MYSQL clear, extended capabilities in the filler */
	ck_assert_uint_eq(hs.caps, 0x1d81fffffeULL);
	ck_assert(!(hs.caps & CLIENT_MYSQL));
	ck_assert(hs.caps & CLIENT_DEPRECATE_EOF);
	ck_assert(hs.caps & CLIENT_SESSION_TRACK);
	ck_assert(hs.caps & MARIADB_CLIENT_CACHE_METADATA);
	ck_assert(hs.caps & CLIENT_SSL); /* the recorder's server has TLS */
	ck_assert(proto_str_eq(hs.auth_plugin, PROTO_PLUGIN_NATIVE));
	vec_free(v);
}
END_TEST

START_TEST(greeting_round_trip)
{
	static const char *const names[] = {"cli_login", "capi_sha2", "pymysql_login", "cli_ssl"};
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct vec *v = vec_load(names[i]);
		const struct vec_frame *g = &v->f[0];
		struct proto_handshake hs, hs2;
		ck_assert_int_gt(proto_handshake_parse(g->payload, g->payload_len, &hs), 0);
		uint8_t buf[256];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		ck_assert_int_eq(proto_handshake_build(&w, 0, &hs), PROTO_OK);
		ck_assert_uint_eq(w.len, g->len);
		ck_assert_mem_eq(buf, g->bytes, g->len); /* byte for byte what the server sent */
		ck_assert_int_gt(proto_handshake_parse(buf + 4, w.len - 4, &hs2), 0);
		ck_assert_uint_eq(hs2.caps, hs.caps);
		ck_assert_mem_eq(hs2.scramble, hs.scramble, PROTO_SCRAMBLE_LEN);
		vec_free(v);
	}
}
END_TEST

/* Cut the greeting everywhere. The fixed part must be complete; a greeting
 * that ends right after the low capability bytes is a valid pre-4.1-style
 * short greeting; the 12 scramble bytes of part 2 must all be there (its
 * trailing NUL may be missing); a plugin name without its NUL is taken
 * whole (MySQL 5.5.7-5.5.9 sent it so). */
START_TEST(greeting_truncated)
{
	struct vec *v = vec_load("cli_login");
	const uint8_t *p = v->f[0].payload;
	size_t len = v->f[0].payload_len;
	size_t ver_end = 1 + strlen(SERVER_VERSION) + 1;
	size_t short_end = ver_end + 4 + 8 + 1 + 2;
	size_t part2 = short_end + 1 + 2 + 2 + 1 + 10;
	size_t plugin = part2 + 13;
	for (size_t n = 0; n < len; n++) {
		struct proto_handshake hs;
		int rc = proto_handshake_parse(p, n, &hs);
		if (n == short_end) {
			ck_assert_int_eq(rc, (int)n);
			ck_assert_uint_eq(hs.scramble_len, 8);
		} else if (n < part2 + 12) {
			ck_assert_msg(rc == PROTO_E_TRUNCATED, "prefix %zu: rc %d", n, rc);
		} else {
			ck_assert_int_eq(rc, (int)n);
			ck_assert_uint_eq(hs.scramble_len, PROTO_SCRAMBLE_LEN);
			size_t name = n > plugin ? n - plugin : 0;
			ck_assert_uint_eq(hs.auth_plugin.len, name);
		}
	}
	vec_free(v);
}
END_TEST

/* Scramble part 2 is 12 bytes whatever they hold; the NUL after it may be
 * missing, with or without a plugin name following. */
START_TEST(greeting_part2_edges)
{
	struct vec *v = vec_load("cli_login");
	const uint8_t *p = v->f[0].payload;
	size_t len = v->f[0].payload_len;
	size_t part2 = 1 + strlen(SERVER_VERSION) + 1 + 4 + 8 + 1 + 2 + 1 + 2 + 2 + 1 + 10;
	ck_assert_uint_eq(p[part2 + 12], 0);
	uint8_t g[256];
	struct proto_handshake hs;

	/* no NUL, the plugin name right after the scramble */
	memcpy(g, p, part2 + 12);
	memcpy(g + part2 + 12, p + part2 + 13, len - part2 - 13);
	ck_assert_int_eq(proto_handshake_parse(g, len - 1, &hs), (int)(len - 1));
	ck_assert(proto_str_eq(hs.auth_plugin, "mysql_native_password"));
	ck_assert_uint_eq(hs.scramble_len, PROTO_SCRAMBLE_LEN);
	ck_assert_mem_eq(hs.scramble + 8, p + part2, 12);

	/* the last scramble byte is 0 and no NUL follows: still 20 bytes */
	memcpy(g, p, part2 + 12);
	g[part2 + 11] = 0;
	ck_assert_int_eq(proto_handshake_parse(g, part2 + 12, &hs), (int)(part2 + 12));
	ck_assert_uint_eq(hs.scramble_len, PROTO_SCRAMBLE_LEN);
	ck_assert_uint_eq(hs.scramble[19], 0);
	vec_free(v);
}
END_TEST

START_TEST(greeting_rejects)
{
	struct proto_handshake hs;
	ck_assert_int_eq(proto_handshake_parse((const uint8_t *)"", 0, &hs), PROTO_E_TRUNCATED);
	/* a server that refuses at once sends an ERR instead */
	const uint8_t err[] = {0xff, 0x69, 0x04, 'H', 'o', 's', 't'};
	ck_assert_int_eq(proto_handshake_parse(err, sizeof(err), &hs), PROTO_E_UNEXPECTED);
	struct vec *v = vec_load("cli_login");
	uint8_t g[256];
	size_t len = v->f[0].payload_len;
	memcpy(g, v->f[0].payload, len);
	g[0] = 9; /* protocol version 9 */
	ck_assert_int_eq(proto_handshake_parse(g, len, &hs), PROTO_E_UNSUPPORTED);
	g[0] = 10;
	size_t caps_at = 1 + strlen(SERVER_VERSION) + 1 + 4 + 8 + 1;
	g[caps_at + 1] &= (uint8_t) ~(CLIENT_PROTOCOL_41 >> 8); /* a pre-4.1 server */
	ck_assert_int_eq(proto_handshake_parse(g, len, &hs), PROTO_E_UNSUPPORTED);
	/* no NUL after the server version */
	memset(g, 'x', sizeof(g));
	g[0] = 10;
	ck_assert_int_eq(proto_handshake_parse(g, sizeof(g), &hs), PROTO_E_TRUNCATED);
	vec_free(v);
}
END_TEST

/* A MySQL-style server (CLIENT_MYSQL set) has no extended capabilities:
 * whatever is in the filler is ignored, and build writes zeros. */
START_TEST(greeting_mysql_style_caps)
{
	struct proto_handshake hs = {0};
	hs.server_version.p = "8.0.36";
	hs.server_version.len = 6;
	hs.caps = CLIENT_MYSQL | CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION |
		  CLIENT_PLUGIN_AUTH | (1ULL << 40);
	hs.scramble_len = 20;
	memcpy(hs.scramble, "abcdefghijklmnopqrst", 20);
	hs.auth_plugin.p = PROTO_PLUGIN_SHA2;
	hs.auth_plugin.len = strlen(PROTO_PLUGIN_SHA2);
	uint8_t buf[128];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_handshake_build(&w, 0, &hs), PROTO_OK);
	struct proto_handshake back;
	ck_assert_int_eq(proto_handshake_parse(buf + 4, w.len - 4, &back), (int)(w.len - 4));
	ck_assert_uint_eq(back.caps, hs.caps & 0xffffffffULL);
	ck_assert_mem_eq(back.scramble, "abcdefghijklmnopqrst", 20);
	ck_assert(proto_str_eq(back.auth_plugin, PROTO_PLUGIN_SHA2));
	ck_assert(proto_str_eq(back.server_version, "8.0.36"));
	/* without CLIENT_PLUGIN_AUTH the auth-data length is 0: part 2 is
	 * still 12 bytes and a NUL */
	hs.caps &= ~CLIENT_PLUGIN_AUTH;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_handshake_build(&w, 0, &hs), PROTO_OK);
	ck_assert_int_eq(proto_handshake_parse(buf + 4, w.len - 4, &back), (int)(w.len - 4));
	ck_assert_uint_eq(back.scramble_len, 20);
	ck_assert_mem_eq(back.scramble, "abcdefghijklmnopqrst", 20);
	ck_assert_uint_eq(back.auth_plugin.len, 0);
	hs.caps |= CLIENT_PLUGIN_AUTH;
	/* NOSPACE when the buffer is short */
	proto_wr_init(&w, buf, 20);
	ck_assert_int_eq(proto_handshake_build(&w, 0, &hs), PROTO_E_NOSPACE);
}
END_TEST

struct attr_expect {
	const char *key, *value;
};

static void assert_attr(struct proto_str attrs, const char *key, const char *value)
{
	struct proto_rd r;
	struct proto_str k, val;
	int rc;
	proto_rd_init(&r, attrs.p, attrs.len);
	while ((rc = proto_attrs_next(&r, &k, &val)) > 0)
		if (proto_str_eq(k, key)) {
			ck_assert_msg(proto_str_eq(val, value), "attr %s = '%.*s'", key,
				      (int)val.len, val.p);
			return;
		}
	ck_assert_int_eq(rc, 0);
	ck_abort_msg("attr %s missing", key);
}

/* Field boundaries at which a HandshakeResponse41 may end (trailing
 * optional fields absent). */
static void assert_response_prefixes(const struct vec_frame *f, uint64_t server_caps)
{
	struct proto_handshake_response r;
	ck_assert_int_eq(
		proto_handshake_response_parse(f->payload, f->payload_len, server_caps, &r),
		(int)f->payload_len);
	const char *base = (const char *)f->payload;
	size_t ends[4] = {(size_t)(r.auth.p - base) + r.auth.len, 0, 0, f->payload_len};
	if (r.caps & CLIENT_CONNECT_WITH_DB)
		ends[1] = (size_t)(r.database.p - base) + r.database.len + 1;
	if (r.caps & CLIENT_PLUGIN_AUTH)
		ends[2] = (size_t)(r.auth_plugin.p - base) + r.auth_plugin.len + 1;
	for (size_t n = 0; n < f->payload_len; n++) {
		bool boundary = n == ends[0] || n == ends[1] || n == ends[2];
		struct proto_handshake_response t;
		int rc = proto_handshake_response_parse(f->payload, n, server_caps, &t);
		if (boundary)
			ck_assert_msg(rc == (int)n, "prefix %zu: rc %d", n, rc);
		else
			ck_assert_msg(rc == PROTO_E_TRUNCATED, "prefix %zu: rc %d", n, rc);
	}
}

static void assert_response_round_trip(const struct vec_frame *f, uint64_t server_caps)
{
	struct proto_handshake_response r;
	ck_assert_int_gt(
		proto_handshake_response_parse(f->payload, f->payload_len, server_caps, &r), 0);
	uint8_t buf[1024];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_handshake_response_build(&w, f->seq, &r), PROTO_OK);
	ck_assert_uint_eq(w.len, f->len);
	ck_assert_mem_eq(buf, f->bytes, f->len);
}

START_TEST(response_mariadb_cli)
{
	struct vec *v = vec_load("cli_login");
	const struct vec_frame *f = frame(v, 'C', 1, 0);
	struct proto_handshake hs;
	proto_handshake_parse(v->f[0].payload, v->f[0].payload_len, &hs);
	struct proto_handshake_response r;
	ck_assert_int_eq(proto_handshake_response_parse(f->payload, f->payload_len, hs.caps, &r),
			 (int)f->payload_len);
	ck_assert_uint_eq(r.caps, 0x1d00bfa28cULL);
	ck_assert(r.caps & CLIENT_CONNECT_WITH_DB);
	ck_assert(!(r.caps & CLIENT_DEPRECATE_EOF)); /* Connector/C never sets it */
	ck_assert(r.caps & CLIENT_SESSION_TRACK);
	ck_assert_uint_eq(r.max_packet, 0x100000);
	ck_assert_uint_eq(r.charset, 33); /* utf8mb3_general_ci */
	ck_assert(proto_str_eq(r.user, "app"));
	ck_assert_uint_eq(r.auth.len, 20);
	ck_assert(proto_str_eq(r.database, "test"));
	ck_assert(proto_str_eq(r.auth_plugin, PROTO_PLUGIN_NATIVE));
	assert_attr(r.attrs, "_client_name", "libmariadb");
	assert_attr(r.attrs, "program_name", "mysql");
	/* the server accepted this reply (an OK follows): check it ourselves */
	uint8_t s1[PROTO_SHA1_LEN], s2[PROTO_SHA1_LEN], rec[PROTO_SHA1_LEN];
	proto_native_stages("app-pass", 8, s1, s2);
	ck_assert(proto_native_check((const uint8_t *)r.auth.p, r.auth.len, hs.scramble, s2, rec));
	ck_assert_mem_eq(rec, s1, PROTO_SHA1_LEN);
	assert_response_round_trip(f, hs.caps);
	assert_response_prefixes(f, hs.caps);
	vec_free(v);
}
END_TEST

START_TEST(response_connector_c)
{
	struct vec *v = vec_load("capi_login");
	const struct vec_frame *f = frame(v, 'C', 1, 0);
	struct proto_handshake_response r;
	ck_assert_int_gt(
		proto_handshake_response_parse(f->payload, f->payload_len, v->server_caps, &r), 0);
	ck_assert(proto_str_eq(r.user, "app"));
	ck_assert(proto_str_eq(r.database, "test"));
	assert_attr(r.attrs, "program_name", "record_capi");
	assert_attr(r.attrs, "_client_name", "libmariadb");
	ck_assert_uint_eq(v->caps & CLIENT_DEPRECATE_EOF, 0);
	assert_response_round_trip(f, v->server_caps);
	assert_response_prefixes(f, v->server_caps);
	vec_free(v);
}
END_TEST

START_TEST(response_pymysql)
{
	struct vec *v = vec_load("pymysql_login");
	const struct vec_frame *f = frame(v, 'C', 1, 0);
	struct proto_handshake_response r;
	ck_assert_int_gt(
		proto_handshake_response_parse(f->payload, f->payload_len, v->server_caps, &r), 0);
	/* PyMySQL sets CLIENT_MYSQL (LONG_PASSWORD): no extended capabilities */
	ck_assert_uint_eq(r.caps, 0x003aa20dULL);
	ck_assert_uint_eq(r.max_packet, 0xffffff);
	ck_assert_uint_eq(r.charset, 45);
	ck_assert(!(r.caps & CLIENT_SESSION_TRACK));
	ck_assert(proto_str_eq(r.user, "app"));
	ck_assert(proto_str_eq(r.database, "test"));
	ck_assert(proto_str_eq(r.auth_plugin, PROTO_PLUGIN_NATIVE));
	assert_attr(r.attrs, "_client_name", "pymysql");
	assert_response_round_trip(f, v->server_caps);
	assert_response_prefixes(f, v->server_caps);
	vec_free(v);
}
END_TEST

/* Connector/C with caching_sha2_password as its default plugin: an empty
 * first reply, the server's AuthSwitchRequest, the native reply. */
START_TEST(response_and_auth_switch_sha2_default)
{
	struct vec *v = vec_load("capi_sha2");
	const struct vec_frame *f = frame(v, 'C', 1, 0);
	struct proto_handshake_response r;
	ck_assert_int_gt(
		proto_handshake_response_parse(f->payload, f->payload_len, v->server_caps, &r), 0);
	ck_assert(proto_str_eq(r.auth_plugin, PROTO_PLUGIN_SHA2));
	ck_assert_uint_eq(r.auth.len, 0);
	assert_response_round_trip(f, v->server_caps);

	const struct vec_frame *sw = frame(v, 'S', 2, 0);
	struct proto_auth_switch as;
	ck_assert_int_eq(proto_auth_switch_parse(sw->payload, sw->payload_len, &as),
			 (int)sw->payload_len);
	ck_assert(proto_str_eq(as.plugin, PROTO_PLUGIN_NATIVE));
	ck_assert_uint_eq(as.data.len, PROTO_SCRAMBLE_LEN); /* trailing NUL stripped */
	/* MariaDB switches with the greeting's scramble */
	struct proto_handshake hs;
	proto_handshake_parse(v->f[0].payload, v->f[0].payload_len, &hs);
	ck_assert_mem_eq(as.data.p, hs.scramble, PROTO_SCRAMBLE_LEN);
	/* the client's raw reply to it is a native scramble the server accepted */
	const struct vec_frame *reply = frame(v, 'C', 3, 0);
	uint8_t s1[PROTO_SHA1_LEN], s2[PROTO_SHA1_LEN];
	proto_native_stages("app-pass", 8, s1, s2);
	ck_assert(proto_native_check(reply->payload, reply->payload_len, (const uint8_t *)as.data.p,
				     s2, NULL));
	ck_assert_uint_eq(frame(v, 'S', 4, 0)->payload[0], PROTO_OK_HEADER);

	/* build gives back the server's bytes */
	uint8_t buf[128];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_auth_switch_build(&w, 2, PROTO_PLUGIN_NATIVE,
						 (const uint8_t *)as.data.p, as.data.len),
			 PROTO_OK);
	ck_assert_uint_eq(w.len, sw->len);
	ck_assert_mem_eq(buf, sw->bytes, sw->len);
	/* and the raw reply packet */
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_raw_build(&w, 3, reply->payload, reply->payload_len), PROTO_OK);
	ck_assert_mem_eq(buf, reply->bytes, reply->len);
	vec_free(v);
}
END_TEST

START_TEST(ssl_requests)
{
	static const struct {
		const char *file;
		uint64_t caps;
		uint32_t max_packet;
		uint8_t charset;
	} cases[] = {
		{"cli_ssl", 0x1d00bfaa84ULL, 0x100000, 33},
		{"pymysql_ssl", 0x003aaa0dULL, 0xffffff, 45},
	};
	for (size_t i = 0; i < 2; i++) {
		struct vec *v = vec_load(cases[i].file);
		const struct vec_frame *f = &v->f[1];
		ck_assert_uint_eq(f->payload_len, PROTO_SSL_REQUEST_LEN);
		ck_assert(proto_is_ssl_request(f->payload, f->payload_len));
		struct proto_handshake_response r;
		ck_assert_int_eq(proto_ssl_request_parse(f->payload, f->payload_len, &r), 32);
		ck_assert_uint_eq(r.caps, cases[i].caps);
		ck_assert(r.caps & CLIENT_SSL);
		ck_assert_uint_eq(r.max_packet, cases[i].max_packet);
		ck_assert_uint_eq(r.charset, cases[i].charset);
		uint8_t buf[64];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		ck_assert_int_eq(proto_ssl_request_build(&w, 1, &r), PROTO_OK);
		ck_assert_mem_eq(buf, f->bytes, f->len);
		/* wrong sizes */
		ck_assert_int_eq(proto_ssl_request_parse(f->payload, 31, &r), PROTO_E_TRUNCATED);
		ck_assert(!proto_is_ssl_request(f->payload, 31));
		vec_free(v);
	}
	/* a full login response is not an SSLRequest, nor is a 32-byte packet
	 * without CLIENT_SSL */
	struct vec *v = vec_load("cli_login");
	ck_assert(!proto_is_ssl_request(v->f[1].payload, v->f[1].payload_len));
	uint8_t b[40] = {0};
	b[1] = (uint8_t)(CLIENT_PROTOCOL_41 >> 8);
	ck_assert(!proto_is_ssl_request(b, 32));
	struct proto_handshake_response r;
	ck_assert_int_eq(proto_ssl_request_parse(b, 32, &r), PROTO_E_MALFORMED);
	b[1] |= (uint8_t)(CLIENT_SSL >> 8);
	ck_assert_int_eq(proto_ssl_request_parse(b, 33, &r), PROTO_E_MALFORMED);
	vec_free(v);
}
END_TEST

START_TEST(response_build_variants)
{
	/* every auth-data encoding round-trips; SECURE_CONNECTION only up to
	 * 255 bytes */
	static const uint64_t auth_caps[] = {CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA,
					     CLIENT_SECURE_CONNECTION, 0};
	for (size_t i = 0; i < 3; i++) {
		struct proto_handshake_response r = {0}, back;
		r.caps = CLIENT_PROTOCOL_41 | CLIENT_PLUGIN_AUTH | CLIENT_CONNECT_WITH_DB |
			 CLIENT_CONNECT_ATTRS | auth_caps[i] | (1ULL << 34);
		r.max_packet = 1 << 24;
		r.charset = 8;
		r.user = (struct proto_str){"u", 1};
		r.auth = (struct proto_str){"secret-bytes", 12};
		r.database = (struct proto_str){"db", 2};
		r.auth_plugin = (struct proto_str){"p", 1};
		r.attrs = (struct proto_str){"\x01k\x01v", 4};
		uint8_t buf[128];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		ck_assert_int_eq(proto_handshake_response_build(&w, 1, &r), PROTO_OK);
		ck_assert_int_eq(proto_handshake_response_parse(buf + 4, w.len - 4, 0, &back),
				 (int)(w.len - 4));
		ck_assert_uint_eq(back.caps, r.caps);
		ck_assert(proto_str_eq(back.user, "u"));
		ck_assert(proto_str_eq(back.auth, "secret-bytes"));
		ck_assert(proto_str_eq(back.database, "db"));
		ck_assert(proto_str_eq(back.auth_plugin, "p"));
		ck_assert_uint_eq(back.attrs.len, 4);
		/* the server side set CLIENT_MYSQL: extended caps are not read */
		ck_assert_int_gt(
			proto_handshake_response_parse(buf + 4, w.len - 4, CLIENT_MYSQL, &back), 0);
		ck_assert_uint_eq(back.caps, r.caps & 0xffffffffULL);
	}
	struct proto_handshake_response r = {0};
	uint8_t big[300] = {0};
	r.caps = CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION;
	r.auth = (struct proto_str){(const char *)big, sizeof(big)};
	uint8_t buf[512];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_handshake_response_build(&w, 1, &r), PROTO_E_TOO_LARGE);
	r.caps |= CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_handshake_response_build(&w, 1, &r), PROTO_OK);
	proto_wr_init(&w, buf, 40);
	ck_assert_int_eq(proto_handshake_response_build(&w, 1, &r), PROTO_E_NOSPACE);
}
END_TEST

START_TEST(response_rejects)
{
	struct proto_handshake_response r;
	uint8_t b[64] = {0};
	/* pre-4.1 clients */
	memset(b + 32, 'a', 8);
	ck_assert_int_eq(proto_handshake_response_parse(b, sizeof(b), 0, &r), PROTO_E_UNSUPPORTED);
	ck_assert_int_eq(proto_handshake_response_parse(b, 3, 0, &r), PROTO_E_TRUNCATED);
	/* SECURE_CONNECTION auth length past the end */
	b[1] = (uint8_t)((CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION) >> 8);
	b[32] = 'u';
	b[33] = 0;
	b[34] = 200;
	ck_assert_int_eq(proto_handshake_response_parse(b, 40, 0, &r), PROTO_E_TRUNCATED);
	/* lenenc auth data with 0xFF */
	b[2] = (uint8_t)(CLIENT_PLUGIN_AUTH_LENENC_CLIENT_DATA >> 16);
	b[34] = 0xff;
	ck_assert_int_eq(proto_handshake_response_parse(b, 40, 0, &r), PROTO_E_MALFORMED);
	/* no NUL after the user name */
	memset(b + 32, 'u', 32);
	ck_assert_int_eq(proto_handshake_response_parse(b, 64, 0, &r), PROTO_E_TRUNCATED);
}
END_TEST

START_TEST(attrs_iteration)
{
	const uint8_t a[] = {0x02, 'k', '1', 0x02, 'v', '1', 0x01, 'k', 0x00};
	struct proto_rd r;
	struct proto_str k, v;
	proto_rd_init(&r, a, sizeof(a));
	ck_assert_int_eq(proto_attrs_next(&r, &k, &v), 6);
	ck_assert(proto_str_eq(k, "k1") && proto_str_eq(v, "v1"));
	ck_assert_int_eq(proto_attrs_next(&r, &k, &v), 3);
	ck_assert(proto_str_eq(k, "k") && proto_str_eq(v, ""));
	ck_assert_int_eq(proto_attrs_next(&r, &k, &v), 0);
	/* a key without its value, a value length past the end */
	proto_rd_init(&r, a, 3);
	ck_assert_int_eq(proto_attrs_next(&r, &k, &v), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_attrs_next(&r, &k, &v), PROTO_E_TRUNCATED); /* sticky */
	proto_rd_init(&r, a, 5);
	ck_assert_int_eq(proto_attrs_next(&r, &k, &v), PROTO_E_TRUNCATED);
}
END_TEST

/* Connector/C's mysql_change_user(): the packet, its rebuild, the reply. */
START_TEST(change_user_connector_c)
{
	struct vec *v = vec_load("capi_change_user");
	struct proto_handshake hs;
	ck_assert_int_gt(proto_handshake_parse(v->f[0].payload, v->f[0].payload_len, &hs), 0);
	uint8_t s1[PROTO_SHA1_LEN], s2[PROTO_SHA1_LEN];
	proto_native_stages("app-pass", 8, s1, s2);
	for (int skip = 0; skip < 2; skip++) {
		int k = vec_find(v, COM_CHANGE_USER, NULL, skip);
		const struct vec_frame *f = &v->f[vec_cmd(v, k)];
		struct proto_change_user cu;
		ck_assert_int_eq(proto_change_user_parse(f->payload, f->payload_len, v->caps, &cu),
				 (int)f->payload_len);
		ck_assert(proto_str_eq(cu.user, "app"));
		ck_assert_uint_eq(cu.auth.len, PROTO_SHA1_LEN);
		ck_assert(proto_str_eq(cu.database, "test"));
		ck_assert_uint_eq(cu.charset, 45);
		ck_assert(proto_str_eq(cu.auth_plugin, PROTO_PLUGIN_NATIVE));
		assert_attr(cu.attrs, "program_name", "record_capi");
		/* the first carries app-pass's reply to the greeting's scramble,
		 * the second a wrong password's */
		ck_assert_int_eq(proto_native_check((const uint8_t *)cu.auth.p, cu.auth.len,
						    hs.scramble, s2, NULL),
				 skip == 0);
		uint8_t buf[512];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		ck_assert_int_eq(proto_change_user_build(&w, 0, v->caps, &cu), PROTO_OK);
		ck_assert_uint_eq(w.len, f->len);
		ck_assert_mem_eq(buf, f->bytes, f->len);
		/* every cut: the optional tail may end early, nothing else */
		size_t db_end =
			(size_t)(cu.database.p - (const char *)f->payload) + cu.database.len + 1;
		size_t auth_end = (size_t)(cu.auth.p - (const char *)f->payload) + cu.auth.len;
		size_t plugin_end = db_end + 2 + cu.auth_plugin.len + 1;
		for (size_t n = 0; n < f->payload_len; n++) {
			int rc = proto_change_user_parse(f->payload, n, v->caps, &cu);
			bool boundary =
				n == auth_end || n == db_end || n == db_end + 2 || n == plugin_end;
			ck_assert_msg(boundary ? rc == (int)n : rc == PROTO_E_TRUNCATED,
				      "prefix %zu: %d", n, rc);
		}
	}
	vec_free(v);
}
END_TEST

START_TEST(auth_switch_and_more_data)
{
	struct proto_auth_switch as;
	ck_assert_int_eq(proto_auth_switch_parse((const uint8_t *)"", 0, &as), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_auth_switch_parse((const uint8_t *)"\x00x", 2, &as),
			 PROTO_E_MALFORMED);
	ck_assert_int_eq(proto_auth_switch_parse((const uint8_t *)"\xfeplugin", 7, &as),
			 PROTO_E_TRUNCATED);
	/* a bare 0xFE: the old-password switch; no plugin, no data */
	ck_assert_int_eq(proto_auth_switch_parse((const uint8_t *)"\xfe", 1, &as),
			 PROTO_E_TRUNCATED);
	/* data other than a 20-byte scramble is kept as it is */
	ck_assert_int_eq(proto_auth_switch_parse((const uint8_t *)"\xfep\0abc\0", 7, &as), 7);
	ck_assert(proto_str_eq(as.plugin, "p"));
	ck_assert_uint_eq(as.data.len, 4);
	uint8_t buf[64];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_auth_switch_build(&w, 2, "dialog", (const uint8_t *)"xy", 2),
			 PROTO_OK);
	ck_assert_hex(buf, w.len,
		      "0a000002"
		      "fe"
		      "6469616c6f6700"
		      "7879");

	struct proto_str d;
	proto_wr_init(&w, buf, sizeof(buf));
	ck_assert_int_eq(proto_auth_more_build(&w, 3, (const uint8_t *)"\x03", 1), PROTO_OK);
	ck_assert_hex(buf, w.len,
		      "02000003"
		      "0103");
	ck_assert_int_eq(proto_auth_more_parse(buf + 4, 2, &d), 2);
	ck_assert_uint_eq(d.len, 1);
	ck_assert_uint_eq((uint8_t)d.p[0], PROTO_SHA2_FAST_AUTH_OK);
	ck_assert_int_eq(proto_auth_more_parse(buf + 4, 1, &d), 1);
	ck_assert_uint_eq(d.len, 0);
	ck_assert_int_eq(proto_auth_more_parse(buf + 4, 0, &d), PROTO_E_TRUNCATED);
	ck_assert_int_eq(proto_auth_more_parse((const uint8_t *)"\x02", 1, &d), PROTO_E_MALFORMED);
	proto_wr_init(&w, buf, 4);
	ck_assert_int_eq(proto_raw_build(&w, 0, "x", 1), PROTO_E_NOSPACE);
}
END_TEST

static Suite *handshake_suite(void)
{
	Suite *s = suite_create("handshake");
	TCase *tc = tcase_create("handshake");
	tcase_add_test(tc, greeting_recorded);
	tcase_add_test(tc, greeting_round_trip);
	tcase_add_test(tc, greeting_truncated);
	tcase_add_test(tc, greeting_part2_edges);
	tcase_add_test(tc, greeting_rejects);
	tcase_add_test(tc, greeting_mysql_style_caps);
	tcase_add_test(tc, response_mariadb_cli);
	tcase_add_test(tc, response_connector_c);
	tcase_add_test(tc, response_pymysql);
	tcase_add_test(tc, response_and_auth_switch_sha2_default);
	tcase_add_test(tc, ssl_requests);
	tcase_add_test(tc, response_build_variants);
	tcase_add_test(tc, response_rejects);
	tcase_add_test(tc, attrs_iteration);
	tcase_add_test(tc, change_user_connector_c);
	tcase_add_test(tc, auth_switch_and_more_data);
	suite_add_tcase(s, tc);
	return s;
}

UNIT_MAIN(handshake_suite)
