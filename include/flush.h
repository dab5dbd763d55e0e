/* flush: delivers one worker's tally to Redis in batches every
 * flush_interval_ms (one atomic script call per counter key), puts back
 * what failed, and drains everything at shutdown. */
#ifndef HOPCOUNT_FLUSH_H
#define HOPCOUNT_FLUSH_H

#include <stdint.h>

struct event_base;
struct conf;
struct rconn;
struct tally;
struct metrics;
struct flush;

/* All arguments are borrowed and must outlive the flusher. Starts the
 * interval timer. */
struct flush *flush_new(struct event_base *base, const struct conf *conf,
                        struct rconn *rc, struct tally *t, struct metrics *m);
void flush_free(struct flush *f);

/* Start a round now unless one is in flight. */
void flush_round(struct flush *f);

/* Drain: keep sending until the tally is empty and nothing is in flight,
 * then call done(arg) once. Rounds then run every 50 ms. */
void flush_drain(struct flush *f, void (*done)(void *arg), void *arg);

/* Follows sent and not yet confirmed. */
uint64_t flush_inflight_follows(const struct flush *f);

#endif
