/*
 * fuzz_server_handshake.c — what a server sends during login: the
 * HandshakeV10 greeting, an AuthSwitchRequest, AuthMoreData.
 *
 * Input: one payload, parsed as each of them. Invariants: a greeting that
 * parses rebuilds into bytes that parse to the same fields; so does an
 * auth switch.
 */
#include "fuzz.h"

#include "protocol/handshake.h"

static void same_str(struct proto_str a, struct proto_str b)
{
	FUZZ_CHECK(a.len == b.len);
	FUZZ_CHECK(a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

static void greeting(const uint8_t *data, size_t size)
{
	struct proto_handshake hs, back;
	int rc = proto_handshake_parse(data, size, &hs);
	FUZZ_CHECK(rc < 0 || rc == (int)size);
	if (rc < 0)
		return;
	FUZZ_CHECK(hs.scramble_len == 8 || hs.scramble_len == PROTO_SCRAMBLE_LEN);
	uint8_t buf[512];
	struct proto_wr w;
	proto_wr_init(&w, buf, sizeof(buf));
	if (proto_handshake_build(&w, 0, &hs) != PROTO_OK)
		return; /* a server version too long for buf */
	rc = proto_handshake_parse(buf + 4, w.len - 4, &back);
	FUZZ_CHECK(rc == (int)(w.len - 4));
	same_str(back.server_version, hs.server_version);
	FUZZ_CHECK(back.connection_id == hs.connection_id);
	FUZZ_CHECK(back.caps == hs.caps);
	FUZZ_CHECK(back.charset == hs.charset && back.status == hs.status);
	FUZZ_CHECK(memcmp(back.scramble, hs.scramble, hs.scramble_len) == 0);
	if (hs.caps & CLIENT_PLUGIN_AUTH)
		same_str(back.auth_plugin, hs.auth_plugin);
}

static void auth_switch(const uint8_t *data, size_t size)
{
	struct proto_auth_switch as, back;
	int rc = proto_auth_switch_parse(data, size, &as);
	FUZZ_CHECK(rc < 0 || rc == (int)size);
	if (rc < 0)
		return;
	char plugin[256];
	if (as.plugin.len >= sizeof(plugin))
		return;
	memcpy(plugin, as.plugin.p, as.plugin.len);
	plugin[as.plugin.len] = 0;
	size_t cap = size + 16;
	uint8_t *buf = malloc(cap);
	if (!buf)
		return;
	struct proto_wr w;
	proto_wr_init(&w, buf, cap);
	FUZZ_CHECK(proto_auth_switch_build(&w, 2, plugin, (const uint8_t *)as.data.p,
					   as.data.len) == PROTO_OK);
	FUZZ_CHECK(proto_auth_switch_parse(buf + 4, w.len - 4, &back) == (int)(w.len - 4));
	same_str(back.plugin, as.plugin);
	same_str(back.data, as.data);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	greeting(data, size);
	auth_switch(data, size);
	struct proto_str more;
	int rc = proto_auth_more_parse(data, size, &more);
	FUZZ_CHECK(rc < 0 || (rc == (int)size && more.len == size - 1));
	return 0;
}
