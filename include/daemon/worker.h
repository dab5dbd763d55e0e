/* worker: one thread with its own event_base, listener (SO_REUSEPORT), Redis
 * connections, link cache, tally and flusher. Nothing on its request path is
 * shared with another thread. */
#ifndef HOPCOUNT_WORKER_H
#define HOPCOUNT_WORKER_H

#include <stdbool.h>
#include <stddef.h>

#include "metrics.h"

struct conf;
struct http_limit;
struct worker;

/* Build worker `id` (binding its listener now, so errors surface before any
 * thread starts). conf is copied: the worker owns its copy. limit, the
 * connection cap shared by all workers, and burst, the node's burst table,
 * are borrowed. NULL with a reason in err on failure. */
struct burst;
struct worker *worker_new(int id, int nworkers, const struct conf *conf,
                          struct http_limit *limit, struct burst *burst, char *err,
                          size_t errsz);

/* Run the worker's loop on a new thread. 0 or -1. */
int worker_start(struct worker *w);

/* Ask the worker to stop: stop accepting, answer what is in flight, flush
 * its counts (bounded by shutdown_timeout_ms), then leave its loop. Safe to
 * call from another thread. */
void worker_stop(struct worker *w);

/* Hand the worker a reloaded conf and lists (both owned by it from now on).
 * It applies the live keys on its own thread, soon. Safe to call from
 * another thread. */
struct lists;
void worker_reload(struct worker *w, struct conf *fresh, struct lists *lists);

/* Wait for the thread to end. */
void worker_join(struct worker *w);

/* Its metrics, for the admin thread to read. */
struct metrics *worker_metrics(struct worker *w);

/* Follows counted but not delivered when it stopped. */
unsigned long long worker_unflushed(const struct worker *w);

void worker_free(struct worker *w);

#endif
