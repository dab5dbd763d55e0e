/* metrics: per-worker counters (one writer each, read by the admin thread)
 * and their Prometheus text rendering. */
#ifndef HOPCOUNT_METRICS_H
#define HOPCOUNT_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Response statuses counted one by one; anything else counts as other. */
#define METRICS_STATUSES                                                                 \
    {                                                                                    \
        200, 301, 302, 303, 307, 308, 400, 404, 405, 408, 414, 431, 503                  \
    }
#define METRICS_NSTATUS 14 /* the list above plus "other" */

typedef _Atomic uint64_t metric_t;

struct metrics {
    metric_t requests[METRICS_NSTATUS];
    metric_t follows_tracked;   /* human follows counted */
    metric_t follows_bot;       /* bot follows counted */
    metric_t follows_opted_out; /* DNT/GPC: redirected, not recorded */
    metric_t follows_dropped;   /* could not be counted: pending keys full */
    metric_t prefetch_refused;
    metric_t cache_hits;
    metric_t cache_misses;
    metric_t redis_lookups;
    metric_t redis_lookup_errors;
    metric_t bad_targets;
    metric_t flushes;          /* flush commands answered OK */
    metric_t flush_errors;     /* flush commands failed (the batch is sent again) */
    metric_t flush_duplicates; /* batches Redis had applied already (reply lost) */
    metric_t spooled;          /* follows written to spool files */
    metric_t delivered;        /* follows in batches Redis acknowledged */
    metric_t replayed;         /* follows read back from spool files */
    metric_t flush_batches;    /* flush rounds started */
    metric_t flush_latency_us_sum;
    metric_t flush_latency_count;
    /* Gauges. */
    metric_t pending_keys;
    metric_t cache_entries;
    metric_t connections;
    metric_t redis_up;
};

/* Single-writer increment: a plain load and store, no locked instruction. */
static inline void metric_add(metric_t *m, uint64_t n)
{
    atomic_store_explicit(m, atomic_load_explicit(m, memory_order_relaxed) + n,
                          memory_order_relaxed);
}

static inline void metric_set(metric_t *m, uint64_t v)
{
    atomic_store_explicit(m, v, memory_order_relaxed);
}

static inline uint64_t metric_get(const metric_t *m)
{
    return atomic_load_explicit((metric_t *)m, memory_order_relaxed);
}

/* Index of status in requests[]. */
int metrics_status_index(int status);

struct evbuffer;

/* Render the sum of n workers' metrics in Prometheus text format. */
void metrics_render(struct metrics *const *w, size_t n, struct evbuffer *out);

#endif
