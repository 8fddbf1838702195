/*
 * fuzz_etcd — bytes from etcd: its v3 gateway's JSON answers, the watch
 * stream's newline framing (health/etcd.c), and the record and
 * observation values tandem stores there, which another process may have
 * written (health/coord_rec.c).
 *
 * Input: one byte selecting the parser, then the bytes.
 *   0: one response (etcd_parse_response);
 *   1: a watch stream, framed with etcd_line_next (limit 4096) line by line;
 *   2: a record (coord_rec_parse), which must survive a round trip;
 *   3: an observation, asked about one member;
 *   4: base64: decode, encode, decode again.
 * Invariants: a response's key-values stay within ETCD_KVS_MAX and their
 * lengths; framing consumes exactly the bytes up to each '\n'; a parsed
 * record rebuilds into text that parses to the same record; base64 round
 * trips.
 */
#include "fuzz.h"

#include "health/coord.h"
#include "health/etcd.h"

static void response(const uint8_t *d, size_t n)
{
	struct etcd_resp r;
	if (etcd_parse_response((const char *)d, n, &r) < 0)
		return;
	FUZZ_CHECK(r.nkvs <= ETCD_KVS_MAX);
	for (size_t i = 0; i < r.nkvs; i++) {
		FUZZ_CHECK(strlen(r.kvs[i].key) <= ETCD_KEY_MAX);
		FUZZ_CHECK(r.kvs[i].value && r.kvs[i].vlen <= ETCD_VALUE_MAX);
	}
	etcd_resp_free(&r);
}

static void stream(const uint8_t *d, size_t n)
{
	size_t off = 0;
	while (off < n) {
		long k = etcd_line_next((const char *)d + off, n - off, 4096);
		if (k <= 0) {
			FUZZ_CHECK(k == 0 ? memchr(d + off, '\n', n - off) == NULL
					  : n - off > 4096);
			return;
		}
		FUZZ_CHECK((size_t)k <= n - off && d[off + (size_t)k - 1] == '\n');
		FUZZ_CHECK(memchr(d + off, '\n', (size_t)k - 1) == NULL);
		response(d + off, (size_t)k - 1);
		off += (size_t)k;
	}
}

static void record(const uint8_t *d, size_t n)
{
	struct coord_rec r, back;
	if (coord_rec_parse((const char *)d, n, &r) < 0)
		return;
	char *text = coord_rec_text(&r);
	if (!text)
		return;
	FUZZ_CHECK(coord_rec_parse(text, strlen(text), &back) == 0);
	FUZZ_CHECK(memcmp(&r, &back, sizeof(r)) == 0);
	free(text);
}

static void b64(const uint8_t *d, size_t n)
{
	unsigned char out[4096], again[4096];
	char enc[8192];
	long k = etcd_b64_decode((const char *)d, n, out, sizeof(out));
	if (k < 0)
		return;
	FUZZ_CHECK(etcd_b64_encode(out, (size_t)k, enc, sizeof(enc)) == 0);
	long k2 = etcd_b64_decode(enc, strlen(enc), again, sizeof(again));
	FUZZ_CHECK(k2 == k && memcmp(out, again, (size_t)k) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t which = (uint8_t)fuzz_take_le(&data, &size, 1);
	switch (which % 5) {
	case 0:
		response(data, size);
		break;
	case 1:
		stream(data, size);
		break;
	case 2:
		record(data, size);
		break;
	case 3:
		(void)coord_obs_member_up((const char *)data, size, "127.0.0.1:3306");
		(void)coord_obs_epoch((const char *)data, size);
		break;
	case 4:
		b64(data, size);
		break;
	}
	return 0;
}
