/*
 * tracklog.c — one recorded exchange through the tracker, in any split
 * (see tracklog.h). Every OK, ERR and EOF the tracker reports is also
 * rebuilt with protocol/'s builders and compared with the recorded bytes.
 */
#include "tracklog.h"

#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/okerr.h"

static void rebuild(struct tracklog *log, const struct proto_rt_event *ev, size_t i)
{
	const struct vec_frame *f = &log->v->f[vec_server_frame(log->v, log->k, i)];
	uint8_t buf[1024];
	char msg[600];
	struct proto_wr w;
	int rc = PROTO_OK;
	proto_wr_init(&w, buf, sizeof(buf));
	switch (ev->kind) {
	case RT_PKT_OK:
		rc = proto_ok_build(&w, f->seq, &ev->ok, log->v->caps);
		break;
	case RT_PKT_ERR:
		ck_assert_uint_lt(ev->err.message.len, sizeof(msg));
		memcpy(msg, ev->err.message.p, ev->err.message.len);
		msg[ev->err.message.len] = 0;
		rc = proto_err_build(&w, f->seq, ev->err.code, ev->err.sqlstate, msg);
		break;
	case RT_PKT_EOF:
		rc = proto_eof_build(&w, f->seq, &ev->eof);
		break;
	default:
		return;
	}
	ck_assert_int_eq(rc, PROTO_OK);
	ck_assert_msg(w.len == f->len && memcmp(buf, f->bytes, f->len) == 0,
		      "%s exchange %d frame %zu: rebuilt packet differs", log->v->name, log->k, i);
}

static void on_feed(struct rtdrive *d, int rc, const struct proto_rt_event *ev,
		    const struct proto_frame *f)
{
	struct tracklog *log = d->arg;
	size_t i = d->fed - 1;
	ck_assert_uint_lt(i, TRACKLOG_MAX);
	log->rc[i] = rc;
	log->kind[i] = ev->kind;
	log->ev_status[i] = 0;
	log->n = d->fed;
	if (rc < 0)
		return;
	switch (ev->kind) {
	case RT_PKT_ROW:
		log->rows++;
		break;
	case RT_PKT_COLUMN_DEF:
		log->defs++;
		break;
	case RT_PKT_OK:
		log->oks++;
		log->ev_status[i] = ev->ok.status;
		log->affected_rows = ev->ok.affected_rows;
		break;
	case RT_PKT_EOF:
		log->eofs++;
		log->ev_status[i] = ev->eof.status;
		break;
	case RT_PKT_ERR:
		log->errs++;
		log->err_code = ev->err.code;
		break;
	case RT_PKT_PREPARE_OK:
		log->prepare = ev->prepare;
		break;
	case RT_PKT_LOCAL_INFILE:
		log->infile_requests++;
		break;
	default:
		break;
	}
	/* a result ended: results counts it */
	if (d->tr->results > log->terminators && log->terminators < 8)
		log->terminator_status[log->terminators++] = d->tr->status;
	rebuild(log, ev, i);
	(void)f;
}

void tracklog_run(struct tracklog *log, const struct vec *v, int k,
		  size_t (*chunk)(void *arg, size_t i), void *arg)
{
	memset(log, 0, sizeof(*log));
	log->v = v;
	log->k = k;
	const struct vec_frame *cmd = &v->f[vec_cmd(v, k)];
	proto_tracker_init(&log->tr, v->caps);
	log->start_rc = proto_tracker_start(&log->tr, cmd->payload, cmd->payload_len);
	size_t len, nframes;
	const uint8_t *stream = vec_server_stream(v, k, &len, &nframes);
	log->stream_len = len;
	if (log->start_rc != RT_MORE) {
		log->end_rc = log->start_rc;
		return;
	}
	struct rtdrive d;
	rtdrive_init(&d, &log->tr, on_feed, log);
	d.skip_rows = false; /* the log shows every row */
	size_t arrived = 0, consumed = 0, i = 0;
	for (;;) {
		if (arrived < len) {
			size_t c = chunk ? chunk(arg, i++) : len;
			if (c == 0)
				c = 1;
			arrived += c < len - arrived ? c : len - arrived;
		}
		size_t used = 0;
		int rc = rtdrive_scan(&d, stream + consumed, arrived - consumed, &used);
		consumed += used;
		if (rc == RT_INFILE) {
			proto_tracker_infile_done(&log->tr);
			continue;
		}
		if (rc == RT_DONE || rc < 0 || arrived == len) {
			log->end_rc = rc;
			break;
		}
	}
	log->used = consumed;
}

bool tracklog_same(const struct tracklog *a, const struct tracklog *b)
{
	return a->end_rc == b->end_rc && a->used == b->used && a->n == b->n &&
	       memcmp(a->rc, b->rc, a->n * sizeof(a->rc[0])) == 0 &&
	       memcmp(a->kind, b->kind, a->n * sizeof(a->kind[0])) == 0 &&
	       a->tr.status == b->tr.status && a->tr.state == b->tr.state &&
	       a->tr.results == b->tr.results;
}
