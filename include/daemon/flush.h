/* flush: delivers one worker's tally to Redis exactly once: sealed batches
 * (writer id + sequence) per stream (one, or one per cluster slot), each
 * stream's sent in order with up to 8 on the wire, retried unchanged until
 * answered, applied by a script that checks and moves the stream's marker in
 * the same atomic step, confirmed after a WAIT when wait_replicas asks. See
 * docs/delivery.md. */
#ifndef HOPCOUNT_FLUSH_H
#define HOPCOUNT_FLUSH_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct conf;
struct route;
struct tally;
struct metrics;
struct batch;
struct flush;
struct spool_queue;

/* All arguments are borrowed and must outlive the flusher; worker numbers
 * the writer id; max_pending bounds the keys sealed and not confirmed.
 * Starts the interval timer. NULL with a reason in err when no random
 * writer id can be drawn. */
struct flush *flush_new(struct event_base *base, const struct conf *conf, struct route *r,
                        struct tally *t, struct metrics *m, int worker,
                        size_t max_pending, char *err, size_t errsz);

/* Free, releasing undelivered batches (their spool files stay on disk). */
void flush_free(struct flush *f);

/* After a reload: a new bound on pending keys, and the timer re-armed with
 * conf->flush_interval_ms (conf is the same object, changed in place). */
void flush_reconfigure(struct flush *f, size_t max_pending);

/* Seal the tally into batches (unless max_pending keys are pending already)
 * and send what the pacing allows. */
void flush_round(struct flush *f);

/* Deliver what earlier runs spooled (the queue is owned from now on): the
 * oldest files, up to max_pending keys, are read now; the rest as pending
 * has room, on the spool thread (corrupt files are set aside, logged). */
void flush_replay(struct flush *f, struct spool_queue *q);

/* The tally is full: seal it under a writer id of its own and have the
 * spool thread write it to a spool file, so the tally takes new keys at
 * once. A write that fails keeps the batches in memory (tried again each
 * second, or delivered when pending has room). -1 with a reason in err when
 * a spill is still in hand: the tally stays full (the caller drops the
 * follow, counts and logs it), so memory stays bounded. */
int flush_spill(struct flush *f, char *err, size_t errsz);

/* At shutdown, with Redis unable to take the rest: wait for the spool
 * thread, then write every pending batch not read from a spool file (those
 * files stay), the spill in hand and the tally to one spool file. Returns
 * the follows in it; *rc is 0, or -1 with a reason in err (then they are
 * lost when the process ends). Nothing is sent afterwards. */
uint64_t flush_spool_all(struct flush *f, char *err, size_t errsz, int *rc);

/* Drain: keep sending until the tally is empty and nothing is pending,
 * then call done(arg) once. Rounds then run every 50 ms, unpaced. */
void flush_drain(struct flush *f, void (*done)(void *arg), void *arg);

/* Everything this writer sealed is confirmed (after flush_drain): delete its
 * markers, then call done(arg) once (at once when none can be sent). */
void flush_retire(struct flush *f, void (*done)(void *arg), void *arg);

/* Follows sealed into batches and not yet confirmed. */
uint64_t flush_inflight_follows(const struct flush *f);

#endif
