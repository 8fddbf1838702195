/*
 * fuzz_command.c — what a client sends after login: a command payload
 * (command byte, statement id, the COM_STMT_EXECUTE flags the tracker
 * reads, a COM_CHANGE_USER), and the raw reply to an auth switch.
 *
 * Input: a command payload. The same bytes are also checked as an auth
 * switch reply against a fixed scramble and password hashes. Invariant: a
 * COM_CHANGE_USER that parses rebuilds into bytes that parse to the same
 * fields.
 */
#include "fuzz.h"

#include <strings.h>

#include "protocol/auth.h"
#include "protocol/command.h"
#include "protocol/handshake.h"
#include "protocol/tracker.h"

static void same_str(struct proto_str a, struct proto_str b)
{
	FUZZ_CHECK(a.len == b.len);
	FUZZ_CHECK(a.len == 0 || memcmp(a.p, b.p, a.len) == 0);
}

/* With the capabilities of a modern client, and of one without
 * CLIENT_SECURE_CONNECTION (NUL-terminated auth data). */
static void change_user(const uint8_t *data, size_t size)
{
	static const uint64_t caps[] = {
		CLIENT_PROTOCOL_41 | CLIENT_SECURE_CONNECTION | CLIENT_PLUGIN_AUTH |
			CLIENT_CONNECT_ATTRS,
		CLIENT_PROTOCOL_41,
	};
	for (size_t i = 0; i < 2; i++) {
		struct proto_change_user cu, back;
		int rc = proto_change_user_parse(data, size, caps[i], &cu);
		FUZZ_CHECK(rc < 0 || rc == (int)size);
		if (rc < 0)
			continue;
		size_t cap = size + 16;
		uint8_t *buf = malloc(cap);
		if (!buf)
			return;
		struct proto_wr w;
		proto_wr_init(&w, buf, cap);
		FUZZ_CHECK(proto_change_user_build(&w, 0, caps[i], &cu) == PROTO_OK);
		FUZZ_CHECK(proto_change_user_parse(buf + 4, w.len - 4, caps[i], &back) ==
			   (int)(w.len - 4));
		same_str(back.user, cu.user);
		same_str(back.auth, cu.auth);
		same_str(back.database, cu.database);
		FUZZ_CHECK(back.charset == cu.charset);
		same_str(back.auth_plugin, cu.auth_plugin);
		same_str(back.attrs, cu.attrs);
		free(buf);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_tracker t;
	proto_tracker_init(&t, CLIENT_PROTOCOL_41 | CLIENT_DEPRECATE_EOF);
	int rc = proto_tracker_start(&t, data, size);
	FUZZ_CHECK(rc == RT_MORE || rc == RT_DONE || rc == PROTO_E_UNSUPPORTED ||
		   rc == PROTO_E_TRUNCATED);
	FUZZ_CHECK((rc == RT_MORE) == proto_tracker_busy(&t));
	FUZZ_CHECK(proto_rt_state_name(t.state)[0] != '?');
	if (size > 0)
		FUZZ_CHECK(proto_cmd_name(data[0]) != NULL);

	change_user(data, size);

	uint32_t id = 0;
	rc = proto_stmt_id_parse(data, size, &id);
	if (rc == 5) {
		FUZZ_CHECK(size >= 5 && proto_cmd_has_stmt_id(data[0]));
		uint8_t *copy = malloc(size);
		if (!copy)
			return 0;
		memcpy(copy, data, size);
		proto_stmt_id_patch(copy, ~id);
		uint32_t back = 0;
		FUZZ_CHECK(proto_stmt_id_parse(copy, size, &back) == 5 && back == ~id);
		FUZZ_CHECK(memcmp(copy + 5, data + 5, size - 5) == 0);
		free(copy);
	} else {
		FUZZ_CHECK(rc == PROTO_E_TRUNCATED || rc == PROTO_E_UNEXPECTED);
	}

	/* an auth switch reply: never accepted unless it is the right one */
	static const uint8_t scramble[20] = "0123456789abcdefghij";
	uint8_t s1[PROTO_SHA1_LEN], s2[PROTO_SHA1_LEN], d2[PROTO_SHA256_LEN], rec[PROTO_SHA1_LEN];
	proto_native_stages("app-pass", 8, s1, s2);
	proto_sha2_digest2("app-pass", 8, d2);
	if (proto_native_check(data, size, scramble, s2, rec)) {
		uint8_t good[PROTO_SHA1_LEN];
		proto_native_reply(good, scramble, s1);
		FUZZ_CHECK(size == PROTO_SHA1_LEN && memcmp(good, data, size) == 0);
	}
	if (proto_sha2_check(data, size, scramble, d2)) {
		uint8_t good[PROTO_SHA256_LEN];
		proto_sha2_reply(good, "app-pass", 8, scramble);
		FUZZ_CHECK(size == PROTO_SHA256_LEN && memcmp(good, data, size) == 0);
	}
	char text[64];
	size_t n = size < sizeof(text) ? size : sizeof(text);
	memcpy(text, data, n);
	uint8_t stage2[PROTO_SHA1_LEN];
	if (proto_native_hash_parse(text, n, stage2) == PROTO_OK) {
		char out[42];
		proto_native_hash_format(stage2, out);
		FUZZ_CHECK(n == 41 && strncasecmp(out, text, 41) == 0);
	}
	return 0;
}
