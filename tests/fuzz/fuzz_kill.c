/*
 * fuzz_kill.c — the KILL recogniser, on the text of a client's COM_QUERY.
 *
 * Input: the SQL text. Invariants: a recognised KILL names digits inside
 * the text whose value is the id; the text is never read past its end
 * (ASan); the same text gives the same answer.
 */
#include "fuzz.h"

#include "protocol/kill.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct proto_kill k, again;
	int rc = proto_kill_parse((const char *)data, size, &k);
	FUZZ_CHECK(rc == 0 || rc == (int)size);
	if (rc > 0) {
		FUZZ_CHECK(k.id_len >= 1 && k.id_at + k.id_len <= size);
		uint64_t v = 0;
		for (size_t i = 0; i < k.id_len; i++) {
			FUZZ_CHECK(data[k.id_at + i] >= '0' && data[k.id_at + i] <= '9');
			v = v * 10 + (uint64_t)(data[k.id_at + i] - '0');
		}
		FUZZ_CHECK(v == k.id);
	}
	int rc2 = proto_kill_parse((const char *)data, size, &again);
	FUZZ_CHECK(rc2 == rc && (rc == 0 || memcmp(&k, &again, sizeof(k)) == 0));
	return 0;
}
