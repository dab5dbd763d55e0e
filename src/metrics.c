/* metrics: per-worker counters and their Prometheus text rendering. */
#include "metrics.h"

#include <event2/buffer.h>

static const int statuses[] = METRICS_STATUSES;

int metrics_status_index(int status)
{
    for (int i = 0; i < METRICS_NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return METRICS_NSTATUS - 1;
}

static uint64_t sum(struct metrics *const *w, size_t n, size_t offset)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += metric_get((const metric_t *)((const char *)w[i] + offset));
    return s;
}

#define SUM(field) sum(w, n, offsetof(struct metrics, field))

static void one(struct evbuffer *out, const char *name, const char *type,
                const char *help, uint64_t v)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n%s %llu\n", name, help, name,
                        type, name, (unsigned long long)v);
}

void metrics_render(struct metrics *const *w, size_t n, struct evbuffer *out)
{
    evbuffer_add_printf(out, "# HELP hopcount_requests_total HTTP responses by status.\n"
                             "# TYPE hopcount_requests_total counter\n");
    for (int i = 0; i < METRICS_NSTATUS; i++) {
        uint64_t v =
            sum(w, n, offsetof(struct metrics, requests) + (size_t)i * sizeof(metric_t));
        if (i < METRICS_NSTATUS - 1)
            evbuffer_add_printf(out, "hopcount_requests_total{status=\"%d\"} %llu\n",
                                statuses[i], (unsigned long long)v);
        else
            evbuffer_add_printf(out, "hopcount_requests_total{status=\"other\"} %llu\n",
                                (unsigned long long)v);
    }
    evbuffer_add_printf(out,
                        "# HELP hopcount_follows_total Redirected follows by outcome.\n"
                        "# TYPE hopcount_follows_total counter\n");
    evbuffer_add_printf(out, "hopcount_follows_total{outcome=\"tracked\"} %llu\n",
                        (unsigned long long)SUM(follows_tracked));
    evbuffer_add_printf(out, "hopcount_follows_total{outcome=\"bot\"} %llu\n",
                        (unsigned long long)SUM(follows_bot));
    evbuffer_add_printf(out, "hopcount_follows_total{outcome=\"opted_out\"} %llu\n",
                        (unsigned long long)SUM(follows_opted_out));
    evbuffer_add_printf(out, "hopcount_follows_total{outcome=\"dropped\"} %llu\n",
                        (unsigned long long)SUM(follows_dropped));
    one(out, "hopcount_prefetch_refused_total", "counter", "Prefetches answered 503.",
        SUM(prefetch_refused));
    one(out, "hopcount_cache_hits_total", "counter", "Link lookups served from memory.",
        SUM(cache_hits));
    one(out, "hopcount_cache_misses_total", "counter",
        "Link lookups not fresh in memory.", SUM(cache_misses));
    one(out, "hopcount_redis_lookups_total", "counter", "HMGETs sent for links.",
        SUM(redis_lookups));
    one(out, "hopcount_redis_lookup_errors_total", "counter", "Link lookups that failed.",
        SUM(redis_lookup_errors));
    one(out, "hopcount_bad_targets_total", "counter",
        "Links in Redis whose target is refused.", SUM(bad_targets));
    one(out, "hopcount_flush_batches_total", "counter", "Flush rounds started.",
        SUM(flush_batches));
    one(out, "hopcount_flush_commands_total", "counter",
        "Counter keys delivered to Redis.", SUM(flushes));
    one(out, "hopcount_flush_errors_total", "counter",
        "Flush script calls that failed (their keys kept for retry) or keys Redis "
        "refused.",
        SUM(flush_errors));
    one(out, "hopcount_flush_duplicates_total", "counter",
        "Batches Redis had applied before (a lost reply): not applied again.",
        SUM(flush_duplicates));
    one(out, "hopcount_delivered_follows_total", "counter",
        "Follows Redis acknowledged (applied now or before), counted once each.",
        SUM(delivered));
    one(out, "hopcount_spooled_follows_total", "counter",
        "Follows written to spool files (Redis could not take them).", SUM(spooled));
    one(out, "hopcount_replayed_follows_total", "counter",
        "Follows read back from spool files at start.", SUM(replayed));
    uint64_t cnt = SUM(flush_latency_count);
    evbuffer_add_printf(
        out,
        "# HELP hopcount_flush_latency_seconds Time from sending a counter "
        "key to its reply.\n# TYPE hopcount_flush_latency_seconds summary\n"
        "hopcount_flush_latency_seconds_sum %.6f\n"
        "hopcount_flush_latency_seconds_count %llu\n",
        (double)SUM(flush_latency_us_sum) / 1e6, (unsigned long long)cnt);
    one(out, "hopcount_pending_keys", "gauge", "Counter keys waiting for a flush.",
        SUM(pending_keys));
    one(out, "hopcount_cache_entries", "gauge", "Links held in memory.",
        SUM(cache_entries));
    one(out, "hopcount_connections", "gauge", "Open client connections.",
        SUM(connections));
    one(out, "hopcount_redis_connected", "gauge",
        "Workers whose Redis connection is ready.", SUM(redis_up));
    one(out, "hopcount_workers", "gauge", "Worker threads.", n);
}
