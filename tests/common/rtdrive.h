/*
 * rtdrive.h — the response tracker driven exactly the way proxy/command/forward.c's
 * sess_result_read() drives it, for unit tests and fuzz targets.
 *
 * The proxy never buffers a whole response: it looks at a frame's 4-byte
 * header plus its first payload byte, asks proto_tracker_want() how many
 * payload bytes the tracker needs, waits until that many have arrived,
 * feeds them, and passes the frame on (even if its tail has not arrived
 * yet: resp_left counts the bytes still to pass). This file repeats that
 * loop over a plain byte array so tests can feed recorded streams in any
 * split. Runs of plain rows are passed by with proto_tracker_skip_rows()
 * when skip_rows is set (the default), as forward.c does. If forward.c changes how it feeds the tracker, change this too.
 *
 * Owns: nothing but the struct it is given. Must not: allocate beyond the
 * temporary copy forward.c also makes.
 */
#ifndef TANDEM_TESTS_RTDRIVE_H
#define TANDEM_TESTS_RTDRIVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "protocol/packet.h"
#include "protocol/tracker.h"

struct rtdrive;
/* Called after every proto_tracker_feed with its result and event. */
typedef void (*rtdrive_cb)(struct rtdrive *d, int rc, const struct proto_rt_event *ev,
			   const struct proto_frame *f);

struct rtdrive {
	struct proto_tracker *tr;
	uint64_t resp_left; /* bytes of a scanned frame not yet arrived */
	bool result_done;   /* the tracker said RT_DONE */
	size_t fed;         /* frames fed so far */
	bool skip_rows;     /* pass plain rows by with proto_tracker_skip_rows(), as
			      * forward.c does unless it records for replay; set by
			      * rtdrive_init(); skipped rows are not fed (no cb) */
	rtdrive_cb cb;      /* may be NULL */
	void *arg;          /* for cb */
};

void rtdrive_init(struct rtdrive *d, struct proto_tracker *tr, rtdrive_cb cb, void *arg);

/*
 * Scan buf[0..avail): backend bytes not yet passed to the client. *used is
 * set to how many of them the proxy passes on now. Returns:
 *   RT_MORE    more bytes are needed
 *   RT_DONE    the response is complete; it ends at buf + *used
 *   RT_INFILE  the server asked for a LOCAL INFILE file; its request ends at
 *              buf + *used (the caller sends the data, then calls
 *              proto_tracker_infile_done() and scans again)
 *   < 0        the tracker's error; *used bytes precede the bad frame
 */
int rtdrive_scan(struct rtdrive *d, const uint8_t *buf, size_t avail, size_t *used);

#endif
