/*
 * worker.h — a proxy worker thread: one event_base, the listeners of every
 * tenant on this worker (one SO_REUSEPORT socket per tenant per worker, so
 * the kernel spreads connections), and every session accepted here.
 *
 * Other threads talk to a worker only through worker_post() (a locked
 * queue plus event_active on the worker's wake event) and
 * worker_topology_changed(); everything else in struct worker belongs to
 * the worker thread.
 */
#ifndef TANDEM_PROXY_WORKER_H
#define TANDEM_PROXY_WORKER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>


#include "proxy/process/worker_types.h"

/* exited(arg) is called on the worker's thread as its loop ends. */
int worker_init(struct worker *w, int id, void (*exited)(void *arg), void *arg);
/* Start the thread; shared: what its sessions are lent of the process
 * (monitor, accounts, throttle, session count; base and pool are the
 * worker's own). */
int worker_start(struct worker *w, const struct sess_env *shared);
/* Join the thread and free what the worker owns. */
void worker_join(struct worker *w);

/* Hand a message to the worker (takes ownership of msg). Any thread. */
void worker_post(struct worker *w, struct wmsg *msg);
/* Tell the worker a cluster topology changed. Any thread; coalesces. */
void worker_topology_changed(struct worker *w);

#endif
