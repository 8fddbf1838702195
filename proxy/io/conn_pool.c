/*
 * conn_pool.c — a worker's read blocks (see io.h for why).
 */
#include "proxy/io/io.h"

#include <event2/buffer.h>
#include <stdlib.h>

/* Blocks kept for reuse when evbuffers hand them back; more are freed. A
 * few cover the reads in flight of a worker's large results without
 * holding memory once they are done (256 KiB per worker at most). */
#define CONN_POOL_KEEP 4

struct conn_pool *conn_pool_new(void)
{
	return calloc(1, sizeof(struct conn_pool));
}

static void pool_free(struct conn_pool *p)
{
	while (p->free) {
		void *b = p->free;
		p->free = *(void **)b;
		free(b);
	}
	free(p->cur);
	free(p);
}

void conn_pool_release(struct conn_pool *p)
{
	if (!p)
		return;
	p->released = true;
	if (p->out == 0)
		pool_free(p);
}

void *conn_pool_current(struct conn_pool *p)
{
	if (p->cur)
		return p->cur;
	if (p->free) {
		p->cur = p->free;
		p->free = *(void **)p->cur;
		p->nfree--;
		return p->cur;
	}
	p->cur = malloc(CONN_POOL_BLOCK);
	return p->cur;
}

/* evbuffer cleanup of a given block: back on the free list, or freed. */
static void pool_take_back(const void *data, size_t len, void *arg)
{
	struct conn_pool *p = arg;
	void *b = (void *)data;
	(void)len;
	p->out--;
	if (p->released) {
		free(b);
		if (p->out == 0)
			pool_free(p);
		return;
	}
	if (p->nfree >= CONN_POOL_KEEP) {
		free(b);
		return;
	}
	*(void **)b = p->free;
	p->free = b;
	p->nfree++;
}

int conn_pool_give(struct conn_pool *p, struct evbuffer *buf, size_t len)
{
	if (evbuffer_add_reference(buf, p->cur, len, pool_take_back, p) < 0)
		return -1;
	p->cur = NULL;
	p->out++;
	return 0;
}
