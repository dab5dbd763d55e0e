/* metrics: per-worker counters (one writer each, read by the admin thread),
 * process-wide ones (main thread), and their Prometheus text rendering.
 * Names and meanings: docs/metrics.md. */
#ifndef HOPCOUNT_METRICS_H
#define HOPCOUNT_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

/* Response statuses counted one by one; anything else counts as other. */
#define METRICS_STATUSES                                                                 \
    {                                                                                    \
        200, 301, 302, 303, 307, 308, 400, 404, 405, 413, 414, 417, 431, 503             \
    }
#define METRICS_NSTATUS 15 /* the list above plus "other" */

/* What became of a request: each request has exactly one outcome. */
enum metrics_outcome {
    OUTCOME_TRACKED = 0,          /* redirected, counted as a human follow */
    OUTCOME_BOT = 1,              /* redirected, counted as a bot follow */
    OUTCOME_OPTED_OUT = 2,        /* redirected, DNT/GPC: nothing recorded */
    OUTCOME_PREFETCH_REFUSED = 3, /* 503 to a prefetch: not counted */
    OUTCOME_NOT_FOUND = 4,        /* a well-formed code no link has (404 or fallback) */
    OUTCOME_INVALID = 5,          /* not a code, or a request refused (400/405/414/431) */
    OUTCOME_UNAVAILABLE = 6,      /* 503: Redis away and the code not cached */
    OUTCOME_OTHER = 7,            /* "/", robots.txt, the GPC and DNT resources */
    OUTCOME_SCANNER = 8,          /* redirected, counted as a mail-security scanner */
    OUTCOME_UNTRACKED = 9,        /* redirected, a --no-track link: nothing recorded */
    METRICS_NOUTCOME = 10,
};

/* Upper bounds (µs) of the flush duration histogram's buckets, +Inf last. */
#define METRICS_FLUSH_BUCKETS_US                                                         \
    {                                                                                    \
        500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,     \
            2500000                                                                      \
    }
#define METRICS_NFLUSH_BUCKETS 13 /* the list above plus +Inf */

typedef _Atomic uint64_t metric_t;

struct metrics {
    metric_t responses[METRICS_NSTATUS];
    metric_t outcomes[METRICS_NOUTCOME];
    metric_t follows_dropped; /* redirected but not counted: pending keys full */
    metric_t cache_hits;
    metric_t cache_misses;
    metric_t cache_evictions;
    metric_t redis_lookups;
    metric_t redis_lookup_errors;
    metric_t redis_reconnects;
    metric_t bad_targets;
    metric_t flushes;          /* flush script calls answered OK */
    metric_t flush_errors;     /* flush calls failed (the batch is sent again) */
    metric_t flush_duplicates; /* batches Redis had applied already (reply lost) */
    metric_t spooled;          /* follows written to spool files */
    metric_t delivered;        /* follows in batches Redis acknowledged */
    metric_t replayed;         /* follows read back from spool files */
    metric_t flush_rounds;     /* flush rounds started */
    metric_t flush_us_sum;
    metric_t flush_buckets[METRICS_NFLUSH_BUCKETS]; /* not cumulative */
    metric_t redis_moved;                           /* MOVED redirects followed */
    metric_t redis_ask;                             /* ASK redirects followed */
    metric_t slot_map_refreshes; /* slot maps read (CLUSTER SLOTS answered) */
    metric_t wait_shortfalls;    /* WAITs that saw fewer replicas than wait_replicas */
    metric_t burst_human;        /* held follows decided human (burst rule) */
    metric_t burst_scan;         /* follows found a scanner's by the burst rule */
    metric_t burst_untracked;    /* human follows the burst table had no slot for */
    metric_t uniques_unkeyed;    /* human follows with no cell: the day's key unknown */
    metric_t uniques_dropped;    /* cells the full tally could not take */
    /* Gauges. */
    metric_t pending_keys;
    metric_t burst_held; /* follows awaiting the burst rule's verdict */
    metric_t uniques_keyed; /* 1 while the worker holds the UTC day's key */
    metric_t cache_entries;
    metric_t connections;
    metric_t redis_up;
    metric_t redis_subscribed; /* the P:events subscription is confirmed */
    metric_t redis_primaries;  /* primaries this worker knows (rendered: the max) */
    metric_t redis_primaries_up; /* of them, connected (rendered: the min) */
};

/* Process-wide, written by the main thread. */
struct metrics_process {
    const char *version;
    const char *spool_dir;
    const char *redis_mode; /* single, sentinel or cluster */
    uint64_t start_time_s;
    metric_t reloads_ok;
    metric_t reloads_failed;
    metric_t last_reload_ok;     /* 1 when the last reload (or the start) applied */
    metric_t last_reload_time_s; /* when the conf last applied */
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

/* Index of status in responses[]. */
int metrics_status_index(int status);

/* The label of an outcome ("tracked", ...), as /metrics and the access log
 * spell it. */
const char *metrics_outcome_name(enum metrics_outcome outcome);

/* One flush call that took us microseconds. */
void metrics_observe_flush(struct metrics *m, uint64_t us);

struct evbuffer;

/* The primaries the workers know (the most any knows) and the ones every
 * worker is connected to. */
void metrics_primaries(struct metrics *const *w, size_t n, uint64_t *known,
                       uint64_t *connected);

/* Render the sum of n workers' metrics and the process's in Prometheus text
 * format (version 0.0.4). */
void metrics_render(struct metrics *const *w, size_t n, const struct metrics_process *p,
                    struct evbuffer *out);

#endif
