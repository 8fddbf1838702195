/*
 * fuzz_client_handshake.c — the first packet a client sends: SSLRequest or
 * HandshakeResponse41, with its connect attributes.
 *
 * Input: 8 bytes of server capabilities (little endian: what tandem
 * offered), then the packet's payload. Invariant: a response that parses
 * rebuilds into bytes that parse to the same fields.
 */
#include "fuzz.h"

#include "protocol/handshake.h"

static void same_str(struct proto_str a, struct proto_str b)
{
	FUZZ_CHECK(a.len == b.len);
	FUZZ_CHECK(a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void walk_attrs(struct proto_str attrs)
{
	struct proto_rd r;
	struct proto_str k, v;
	int rc, n = 0;
	proto_rd_init(&r, attrs.p, attrs.len);
	while ((rc = proto_attrs_next(&r, &k, &v)) > 0) {
		FUZZ_CHECK(k.len + v.len < attrs.len);
		n++;
	}
	FUZZ_CHECK(rc <= 0 && n <= (int)attrs.len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint64_t server_caps = fuzz_take_le(&data, &size, 8);
	struct proto_handshake_response r, back;

	if (proto_is_ssl_request(data, size)) {
		int rc = proto_ssl_request_parse(data, size, &r);
		FUZZ_CHECK(rc == (int)size);
		uint8_t buf[64];
		struct proto_wr w;
		proto_wr_init(&w, buf, sizeof(buf));
		FUZZ_CHECK(proto_ssl_request_build(&w, 1, &r) == PROTO_OK);
		FUZZ_CHECK(proto_ssl_request_parse(buf + 4, w.len - 4, &back) == 32);
		FUZZ_CHECK(back.caps == r.caps && back.max_packet == r.max_packet);
	} else {
		(void)proto_ssl_request_parse(data, size, &r);
	}

	int rc = proto_handshake_response_parse(data, size, server_caps, &r);
	FUZZ_CHECK(rc < 0 || rc == (int)size);
	if (rc < 0)
		return 0;
	walk_attrs(r.attrs);

	size_t cap = size + 64;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return 0;
	struct proto_wr w;
	proto_wr_init(&w, buf, cap);
	int brc = proto_handshake_response_build(&w, 1, &r);
	FUZZ_CHECK(brc == PROTO_OK);
	rc = proto_handshake_response_parse(buf + 4, w.len - 4, server_caps, &back);
	FUZZ_CHECK(rc == (int)(w.len - 4));
	FUZZ_CHECK(back.caps == r.caps);
	FUZZ_CHECK(back.max_packet == r.max_packet && back.charset == r.charset);
	same_str(back.user, r.user);
	same_str(back.auth, r.auth);
	same_str(back.database, r.database);
	same_str(back.auth_plugin, r.auth_plugin);
	same_str(back.attrs, r.attrs);
	free(buf);
	return 0;
}
