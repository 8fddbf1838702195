/*
 * rtdrive.c — proxy/command/forward.c's scanning loop over a byte array (see
 * rtdrive.h). Kept line for line close to sess_result_read().
 */
#include "rtdrive.h"

#include <stdlib.h>
#include <string.h>

#define SCAN_STACK 512

void rtdrive_init(struct rtdrive *d, struct proto_tracker *tr, rtdrive_cb cb, void *arg)
{
	memset(d, 0, sizeof(*d));
	d->tr = tr;
	d->skip_rows = true;
	d->cb = cb;
	d->arg = arg;
}

int rtdrive_scan(struct rtdrive *d, const uint8_t *buf, size_t avail, size_t *used)
{
	size_t off = 0;
	uint8_t stack[SCAN_STACK];

	while (off < avail && (d->resp_left > 0 || !d->result_done)) {
		if (d->resp_left > 0) {
			size_t take =
				avail - off < d->resp_left ? avail - off : (size_t)d->resp_left;
			off += take;
			d->resp_left -= take;
			continue;
		}
		if (d->skip_rows) {
			uint8_t seq;
			size_t rows = proto_tracker_skip_rows(d->tr, buf + off, avail - off, &seq);
			if (rows > 0) {
				off += rows;
				continue;
			}
		}
		if (avail - off < PROTO_HEADER_LEN)
			break;
		uint8_t head[PROTO_HEADER_LEN + 1] = {0};
		memcpy(head, buf + off, PROTO_HEADER_LEN);
		struct proto_frame f;
		proto_frame_parse(head, PROTO_HEADER_LEN, &f);
		/* An empty frame has no first byte to wait for (and the byte
		 * after its header belongs to the next frame). */
		if (f.len > 0) {
			if (avail - off < PROTO_HEADER_LEN + 1)
				break;
			memcpy(head, buf + off, sizeof(head));
		}
		uint32_t want = proto_tracker_want(d->tr, f.len, head[PROTO_HEADER_LEN]);
		/* forward.c renumbers a prepare OK, so it waits for all of it */
		size_t need = want;
		if (d->tr->state == RT_PREPARE_FIRST && head[PROTO_HEADER_LEN] == PROTO_OK_HEADER)
			need = f.len;
		if (avail - off < PROTO_HEADER_LEN + need)
			break;
		const uint8_t *payload = head + PROTO_HEADER_LEN;
		uint8_t *heap = NULL;
		if (want > 1) {
			uint8_t *dst = want <= sizeof(stack) ? stack : (heap = malloc(want));
			if (!dst)
				abort();
			memcpy(dst, buf + off + PROTO_HEADER_LEN, want);
			payload = dst;
		}
		struct proto_rt_event ev;
		int rc = proto_tracker_feed(d->tr, payload, want ? want : (f.len ? 1 : 0), f.len,
					    &ev);
		d->fed++;
		if (d->cb)
			d->cb(d, rc, &ev, &f); /* before free: ev may point into heap */
		free(heap);
		if (rc < 0) {
			*used = off;
			return rc;
		}
		size_t pkt = PROTO_HEADER_LEN + (size_t)f.len;
		if (avail - off >= pkt) {
			off += pkt;
		} else {
			d->resp_left = pkt - (avail - off);
			off = avail;
		}
		if (rc == RT_DONE) {
			d->result_done = true;
		} else if (rc == RT_INFILE) {
			*used = off;
			return RT_INFILE;
		}
	}
	*used = off;
	return d->result_done && d->resp_left == 0 ? RT_DONE : RT_MORE;
}
