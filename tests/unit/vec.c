/*
 * vec.c — loading recorded conversations (see vec.h and tests/data/README.md
 * for the .hex format). Test-only code: aborts the test on any surprise.
 */
#include "vec.h"

#include <check.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "protocol/handshake.h"
#include "protocol/packet.h"

struct vec_stream {
	uint8_t *p;
	size_t len, frames;
	bool built;
};

void vbuf_add(struct vbuf *b, const void *data, size_t n)
{
	if (b->len + n > b->cap) {
		size_t cap = b->cap ? b->cap : 256;
		while (cap < b->len + n)
			cap *= 2;
		b->p = realloc(b->p, cap);
		ck_assert_ptr_nonnull(b->p);
		b->cap = cap;
	}
	if (n)
		memcpy(b->p + b->len, data, n);
	b->len += n;
}

void vbuf_frame(struct vbuf *b, const void *payload, uint32_t len, uint8_t seq)
{
	uint8_t hdr[PROTO_HEADER_LEN];
	proto_frame_build(hdr, len, seq);
	vbuf_add(b, hdr, sizeof(hdr));
	vbuf_add(b, payload, len);
}

uint8_t vbuf_packet(struct vbuf *b, const void *payload, size_t len, uint8_t seq)
{
	const uint8_t *p = payload;
	for (;;) {
		uint32_t n = len < PROTO_MAX_FRAME ? (uint32_t)len : PROTO_MAX_FRAME;
		vbuf_frame(b, p, n, seq++);
		p += n;
		len -= n;
		if (n < PROTO_MAX_FRAME)
			return seq;
	}
}

void vbuf_free(struct vbuf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

size_t vec_unhex(const char *hex, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (hex[0] && hex[1] && n < cap) {
		int hi = hexval(hex[0]), lo = hexval(hex[1]);
		ck_assert_msg(hi >= 0 && lo >= 0, "bad hex near '%.8s'", hex);
		out[n++] = (uint8_t)(hi << 4 | lo);
		hex += 2;
	}
	return n;
}

/* One token of a frame line: hex bytes, or N*xx (N bytes of value xx). */
static void add_token(struct vbuf *b, const char *tok, const char *file, int line)
{
	const char *star = strchr(tok, '*');
	if (star) {
		char *end;
		unsigned long long n = strtoull(tok, &end, 10);
		ck_assert_msg(end == star && strlen(star + 1) == 2, "%s:%d: bad run '%s'", file,
			      line, tok);
		uint8_t v;
		vec_unhex(star + 1, &v, 1);
		uint8_t chunk[4096];
		memset(chunk, v, sizeof(chunk));
		while (n > 0) {
			size_t k = n < sizeof(chunk) ? (size_t)n : sizeof(chunk);
			vbuf_add(b, chunk, k);
			n -= k;
		}
		return;
	}
	size_t len = strlen(tok);
	ck_assert_msg(len % 2 == 0, "%s:%d: odd hex token", file, line);
	uint8_t tmp[512];
	while (len > 0) {
		size_t k = len / 2 < sizeof(tmp) ? len / 2 : sizeof(tmp);
		vec_unhex(tok, tmp, k);
		vbuf_add(b, tmp, k);
		tok += 2 * k;
		len -= 2 * k;
	}
}

static void add_frame(struct vec *v, size_t *cap, char dir, struct vbuf *b, const char *file,
		      int line)
{
	ck_assert_msg(b->len >= PROTO_HEADER_LEN, "%s:%d: short frame", file, line);
	struct proto_frame fr;
	proto_frame_parse(b->p, b->len, &fr);
	ck_assert_msg(fr.len == b->len - PROTO_HEADER_LEN,
		      "%s:%d: header says %u payload bytes, line has %zu", file, line, fr.len,
		      b->len - PROTO_HEADER_LEN);
	if (v->n == *cap) {
		*cap = *cap ? *cap * 2 : 64;
		v->f = realloc(v->f, *cap * sizeof(*v->f));
		ck_assert_ptr_nonnull(v->f);
	}
	struct vec_frame *f = &v->f[v->n++];
	f->dir = dir;
	f->bytes = b->p;
	f->len = b->len;
	f->payload = b->p + PROTO_HEADER_LEN;
	f->payload_len = fr.len;
	f->seq = fr.seq;
	f->exchange = -1;
}

/* Connection phase, command exchanges and negotiated capabilities. */
static void vec_index(struct vec *v)
{
	bool logged_in = false;
	int k = -1;
	for (size_t i = 0; i < v->n; i++) {
		struct vec_frame *f = &v->f[i];
		if (logged_in && f->dir == 'C' && f->seq == 0)
			k++;
		f->exchange = k;
		if (!logged_in && f->dir == 'S' && i > 0 && f->payload_len > 0 &&
		    (f->payload[0] == 0x00 || f->payload[0] == 0xff))
			logged_in = true;
	}
	v->exchanges = k + 1;

	if (v->n < 2 || v->f[0].dir != 'S' || v->f[1].dir != 'C')
		return;
	struct proto_handshake hs;
	ck_assert_int_gt(proto_handshake_parse(v->f[0].payload, v->f[0].payload_len, &hs), 0);
	struct proto_handshake_response r;
	const struct vec_frame *c = &v->f[1];
	if (proto_is_ssl_request(c->payload, c->payload_len))
		ck_assert_int_gt(proto_ssl_request_parse(c->payload, c->payload_len, &r), 0);
	else
		ck_assert_int_gt(
			proto_handshake_response_parse(c->payload, c->payload_len, hs.caps, &r), 0);
	v->server_caps = hs.caps;
	v->client_caps = r.caps;
	v->caps = hs.caps & r.caps;
}

struct vec *vec_load(const char *name)
{
	char path[256];
	snprintf(path, sizeof(path), "%s.hex", name);
	FILE *fp = fopen(path, "r");
	ck_assert_msg(fp != NULL, "cannot open %s (run from tests/data)", path);
	struct vec *v = calloc(1, sizeof(*v));
	ck_assert_ptr_nonnull(v);
	snprintf(v->name, sizeof(v->name), "%s", name);
	size_t cap = 0;
	char *line = NULL;
	size_t line_cap = 0;
	int lineno = 0;
	while (getline(&line, &line_cap, fp) >= 0) {
		lineno++;
		char *save = NULL, *tok = strtok_r(line, " \t\r\n", &save);
		if (!tok || tok[0] == '#')
			continue;
		ck_assert_msg((tok[0] == 'C' || tok[0] == 'S') && tok[1] == 0,
			      "%s:%d: line must start with C or S", path, lineno);
		char dir = tok[0];
		struct vbuf b = {0};
		while ((tok = strtok_r(NULL, " \t\r\n", &save)))
			add_token(&b, tok, path, lineno);
		add_frame(v, &cap, dir, &b, path, lineno);
	}
	free(line);
	fclose(fp);
	vec_index(v);
	return v;
}

void vec_free(struct vec *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->f[i].bytes);
	if (v->streams)
		for (int k = 0; k <= v->exchanges; k++)
			free(v->streams[k].p);
	free(v->streams);
	free(v->f);
	free(v);
}

size_t vec_cmd(const struct vec *v, int k)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->f[i].exchange == k && v->f[i].dir == 'C' && v->f[i].seq == 0)
			return i;
	ck_abort_msg("%s: no exchange %d", v->name, k);
	return 0;
}

int vec_find(const struct vec *v, uint8_t cmd, const char *text, int skip)
{
	for (int k = 0; k < v->exchanges; k++) {
		const struct vec_frame *f = &v->f[vec_cmd(v, k)];
		if (f->payload_len < 1 || f->payload[0] != cmd)
			continue;
		if (text && (f->payload_len - 1 < strlen(text) ||
			     memcmp(f->payload + 1, text, strlen(text)) != 0))
			continue;
		if (skip-- == 0)
			return k;
	}
	ck_abort_msg("%s: no command 0x%02x '%s'", v->name, cmd, text ? text : "");
	return -1;
}

const uint8_t *vec_server_stream(const struct vec *cv, int k, size_t *len, size_t *nframes)
{
	struct vec *v = (struct vec *)cv; /* the cache is not part of the value */
	ck_assert_int_ge(k, -1);
	ck_assert_int_lt(k, v->exchanges);
	if (!v->streams) {
		v->streams = calloc((size_t)v->exchanges + 1, sizeof(*v->streams));
		ck_assert_ptr_nonnull(v->streams);
	}
	struct vec_stream *st = &v->streams[k + 1];
	if (!st->built) {
		struct vbuf b = {0};
		for (size_t i = 0; i < v->n; i++) {
			if (v->f[i].exchange != k || v->f[i].dir != 'S')
				continue;
			vbuf_add(&b, v->f[i].bytes, v->f[i].len);
			st->frames++;
		}
		st->p = b.p ? b.p : malloc(1);
		st->len = b.len;
		st->built = true;
	}
	*len = st->len;
	if (nframes)
		*nframes = st->frames;
	return st->p;
}

size_t vec_server_frame(const struct vec *v, int k, size_t i)
{
	for (size_t j = 0; j < v->n; j++) {
		if (v->f[j].exchange != k || v->f[j].dir != 'S')
			continue;
		if (i-- == 0)
			return j;
	}
	ck_abort_msg("%s: exchange %d has too few server frames", v->name, k);
	return 0;
}
