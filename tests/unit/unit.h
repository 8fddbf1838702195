/*
 * unit.h — the little every Check test file shares: a main() that runs one
 * suite, and hex helpers for byte expectations.
 */
#ifndef TANDEM_TESTS_UNIT_H
#define TANDEM_TESTS_UNIT_H

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vec.h"

/* Compare n bytes with a hex string ("0a0b..."), failing with both shown. */
#define ck_assert_hex(bytes, n, hex)                               \
	do {                                                       \
		uint8_t exp_[4096];                                \
		size_t en_ = vec_unhex((hex), exp_, sizeof(exp_)); \
		ck_assert_uint_eq((size_t)(n), en_);               \
		ck_assert_mem_eq((bytes), exp_, en_);              \
	} while (0)

/* Check's default of 4 s per test case is too short for 16 MiB cases
 * under sanitizers or on a loaded machine; CK_DEFAULT_TIMEOUT still wins. */
#define UNIT_MAIN(make_suite)                                \
	int main(void)                                       \
	{                                                    \
		setenv("CK_DEFAULT_TIMEOUT", "240", 0);      \
		SRunner *sr = srunner_create(make_suite());  \
		srunner_run_all(sr, CK_NORMAL);              \
		int failed = srunner_ntests_failed(sr);      \
		srunner_free(sr);                            \
		return failed ? EXIT_FAILURE : EXIT_SUCCESS; \
	}

#endif
