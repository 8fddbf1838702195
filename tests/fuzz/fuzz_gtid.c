/*
 * fuzz_gtid.c — GTID positions as servers report them (health/gtid.c).
 *
 * Input: one byte n, then n bytes of a first position and the rest as a
 * second one (applied: the first half of the second). Invariants: a parsed
 * position has at most HC_GTID_MAX entries with distinct domains; a
 * position lacks nothing of itself; what one lacks of the other, written
 * out, parses again to exactly that many entries; the rejoin check of a
 * position against itself is never DIVERGED.
 */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "fuzz.h"
#include "health/gtid.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t n = (size_t)fuzz_take_le(&data, &size, 1);
	if (n > size)
		n = size;
	struct hc_gtid_pos a, b, ap;
	int ra = hc_gtid_parse((const char *)data, n, &a);
	int rb = hc_gtid_parse((const char *)data + n, size - n, &b);
	if (hc_gtid_parse((const char *)data + n, (size - n) / 2, &ap) != 0)
		ap.n = 0;
	FUZZ_CHECK(a.n <= HC_GTID_MAX && b.n <= HC_GTID_MAX);
	FUZZ_CHECK(ra == 0 || a.n == 0);
	for (size_t i = 0; i < a.n; i++)
		for (size_t j = i + 1; j < a.n; j++)
			FUZZ_CHECK(a.g[i].domain != a.g[j].domain);
	char out[HC_GTID_MAX * 64];
	FUZZ_CHECK(hc_gtid_missing(&a, &a, out, sizeof(out)) == 0);
	size_t miss = hc_gtid_missing(&a, &b, out, sizeof(out));
	if (rb == 0) {
		struct hc_gtid_pos m;
		FUZZ_CHECK(hc_gtid_parse(out, strlen(out), &m) == 0);
		FUZZ_CHECK(m.n == miss);
	}
	char why[200];
	FUZZ_CHECK(hc_gtid_rejoin_check(&a, &a, NULL, why, sizeof(why)) != HC_REJOIN_DIVERGED);
	hc_gtid_rejoin_check(&a, &b, &ap, why, sizeof(why));
	return 0;
}
