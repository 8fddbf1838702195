/*
 * fuzz_compress.c — the compressed protocol's frames (protocol/compress.h)
 * as a client sends them: a stream of 7-byte headers and payloads.
 *
 * Input: the stream. Each whole frame whose plain length is at most 1 MiB
 * is inflated. Invariants: an inflate succeeds with exactly the header's
 * plain length or fails with PROTO_E_MALFORMED/NOMEM; a frame that
 * inflates, built again from its plain bytes, inflates to the same bytes;
 * a frame's payload is never read past clen (ASan: it is copied alone).
 */
#include "fuzz.h"

#include "protocol/compress.h"

#define FUZZ_ZMAX (1u << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t off = 0;
	while (size - off >= PROTO_ZHEADER_LEN) {
		struct proto_zframe f;
		FUZZ_CHECK(proto_zframe_parse(data + off, size - off, &f) == PROTO_ZHEADER_LEN);
		off += PROTO_ZHEADER_LEN;
		if (f.clen > size - off)
			break;
		uint32_t plain = proto_zframe_plain_len(&f);
		if (plain > FUZZ_ZMAX) {
			off += f.clen;
			continue;
		}
		uint8_t *payload = malloc(f.clen ? f.clen : 1);
		uint8_t *out = malloc(plain ? plain : 1);
		if (!payload || !out) {
			free(payload);
			free(out);
			return 0;
		}
		memcpy(payload, data + off, f.clen);
		long n = proto_zframe_inflate(&f, payload, out);
		FUZZ_CHECK(n == (long)plain || n == PROTO_E_MALFORMED || n == PROTO_E_NOMEM);
		if (n >= 0) {
			size_t cap = proto_zframe_bound(plain);
			uint8_t *again = malloc(cap);
			uint8_t *back = malloc(plain ? plain : 1);
			if (again && back) {
				long m = proto_zframe_build(out, plain, f.seq, 1, again, cap);
				FUZZ_CHECK(m >= PROTO_ZHEADER_LEN);
				struct proto_zframe g;
				FUZZ_CHECK(proto_zframe_parse(again, (size_t)m, &g) == 7);
				FUZZ_CHECK(g.seq == f.seq && g.clen == (size_t)m - 7);
				FUZZ_CHECK(proto_zframe_plain_len(&g) == plain);
				FUZZ_CHECK(proto_zframe_inflate(&g, again + 7, back) ==
					   (long)plain);
				FUZZ_CHECK(plain == 0 || memcmp(back, out, plain) == 0);
			}
			free(again);
			free(back);
		}
		free(payload);
		free(out);
		off += f.clen;
	}
	return 0;
}
