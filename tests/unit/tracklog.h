/*
 * tracklog.h — run the response tracker over one recorded exchange the way
 * the proxy does (tests/common/rtdrive.c), in any split of its bytes, and
 * keep a log of what it said, for test_recorded.c.
 */
#ifndef TANDEM_TESTS_TRACKLOG_H
#define TANDEM_TESTS_TRACKLOG_H

#include "rtdrive.h"
#include "vec.h"

#define TRACKLOG_MAX 256

struct tracklog {
	const struct vec *v;
	int k;             /* exchange */
	int start_rc;      /* proto_tracker_start */
	int end_rc;        /* final result: RT_DONE, or the error */
	size_t used;       /* stream bytes scanned when the response completed */
	size_t stream_len; /* server bytes in the exchange */
	size_t n;          /* events logged (frames fed) */
	int rc[TRACKLOG_MAX];
	enum proto_rt_kind kind[TRACKLOG_MAX];
	uint16_t ev_status[TRACKLOG_MAX]; /* status of OK/EOF events */
	size_t infile_requests;
	size_t rows, defs, oks, eofs, errs;
	uint16_t err_code;               /* of the last ERR */
	struct proto_prepare_ok prepare; /* of the last prepare OK */
	uint64_t affected_rows;          /* of the last OK */
	uint16_t terminator_status[8];   /* of each result's end (OK/EOF that ends it) */
	size_t terminators;
	struct proto_tracker tr; /* state after the response */
	bool rebuild_checked;    /* OK/ERR/EOF packets were rebuilt byte-identically */
};

/* Run exchange k of v. chunk(i) gives the size of the i-th arrival of
 * bytes (NULL: all at once). */
void tracklog_run(struct tracklog *log, const struct vec *v, int k,
		  size_t (*chunk)(void *arg, size_t i), void *arg);

/* True when both runs saw the same events and completed at the same byte. */
bool tracklog_same(const struct tracklog *a, const struct tracklog *b);

#endif
