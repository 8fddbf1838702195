/*
 * fuzz.h — what the libFuzzer targets in tests/fuzz share: taking fixed
 * fields off the front of an input, and a check that aborts (so libFuzzer
 * records the input as a crash) when an invariant does not hold.
 */
#ifndef TANDEM_FUZZ_H
#define TANDEM_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond)                                                                     \
	do {                                                                                 \
		if (!(cond)) {                                                               \
			fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, \
				#cond);                                                      \
			abort();                                                             \
		}                                                                            \
	} while (0)

/* Take n bytes off the front of the input as a little-endian number
 * (missing bytes read as zero). */
static inline uint64_t fuzz_take_le(const uint8_t **data, size_t *size, size_t n)
{
	uint64_t v = 0;
	for (size_t i = 0; i < n; i++) {
		if (*size > 0) {
			v |= (uint64_t)(*data)[0] << (8 * i);
			(*data)++;
			(*size)--;
		}
	}
	return v;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#endif
