/* metrics: per-worker counters and their Prometheus text rendering. */
#include "metrics.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <string.h>
#include <sys/stat.h>

static const int statuses[] = METRICS_STATUSES;
static const uint64_t flush_bounds_us[] = METRICS_FLUSH_BUCKETS_US;
static const char *const outcome_names[METRICS_NOUTCOME] = {
    "tracked",   "bot",     "opted_out",   "prefetch_refused",
    "not_found", "invalid", "unavailable", "other"};

const char *metrics_outcome_name(enum metrics_outcome outcome)
{
    return (unsigned)outcome < METRICS_NOUTCOME ? outcome_names[outcome] : "other";
}

int metrics_status_index(int status)
{
    for (int i = 0; i < METRICS_NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return METRICS_NSTATUS - 1;
}

void metrics_observe_flush(struct metrics *m, uint64_t us)
{
    int i = 0;
    while (i < METRICS_NFLUSH_BUCKETS - 1 && us > flush_bounds_us[i])
        i++;
    metric_add(&m->flush_buckets[i], 1);
    metric_add(&m->flush_us_sum, us);
}

static uint64_t sum(struct metrics *const *w, size_t n, size_t offset)
{
    uint64_t s = 0;
    for (size_t i = 0; i < n; i++)
        s += metric_get((const metric_t *)((const char *)w[i] + offset));
    return s;
}

#define SUM(field) sum(w, n, offsetof(struct metrics, field))
#define SUM_AT(field, i)                                                                 \
    sum(w, n, offsetof(struct metrics, field) + (size_t)(i) * sizeof(metric_t))

static void head(struct evbuffer *out, const char *name, const char *type,
                 const char *help)
{
    evbuffer_add_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void one(struct evbuffer *out, const char *name, const char *type,
                const char *help, uint64_t v)
{
    head(out, name, type, help);
    evbuffer_add_printf(out, "%s %llu\n", name, (unsigned long long)v);
}

/* Bytes and files in the spool directory (read at each scrape). */
static void spool_size(const char *dir, uint64_t *bytes, uint64_t *files)
{
    *bytes = *files = 0;
    DIR *d = dir ? opendir(dir) : NULL;
    if (d == NULL)
        return;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        struct stat st;
        if (e->d_name[0] == '.' || fstatat(dirfd(d), e->d_name, &st, 0) != 0 ||
            !S_ISREG(st.st_mode))
            continue;
        *bytes += (uint64_t)st.st_size;
        *files += 1;
    }
    closedir(d);
}

void metrics_render(struct metrics *const *w, size_t n, const struct metrics_process *p,
                    struct evbuffer *out)
{
    head(out, "hopcount_build_info", "gauge", "Always 1; the version in a label.");
    evbuffer_add_printf(out, "hopcount_build_info{version=\"%s\"} 1\n", p->version);
    one(out, "hopcount_start_time_seconds", "gauge",
        "Start time, seconds since the epoch.", p->start_time_s);
    one(out, "hopcount_workers", "gauge", "Worker threads.", n);

    head(out, "hopcount_responses_total", "counter", "HTTP responses by status code.");
    for (int i = 0; i < METRICS_NSTATUS; i++) {
        unsigned long long v = SUM_AT(responses, i);
        if (i < METRICS_NSTATUS - 1)
            evbuffer_add_printf(out, "hopcount_responses_total{status=\"%d\"} %llu\n",
                                statuses[i], v);
        else
            evbuffer_add_printf(out, "hopcount_responses_total{status=\"other\"} %llu\n",
                                v);
    }
    head(out, "hopcount_requests_total", "counter",
         "Requests by outcome: tracked and bot follows were counted, opted_out ones "
         "redirected and not recorded.");
    for (int i = 0; i < METRICS_NOUTCOME; i++)
        evbuffer_add_printf(out, "hopcount_requests_total{outcome=\"%s\"} %llu\n",
                            outcome_names[i], (unsigned long long)SUM_AT(outcomes, i));
    one(out, "hopcount_follows_dropped_total", "counter",
        "Follows redirected but not counted (max_pending_keys reached and the spool "
        "failed).",
        SUM(follows_dropped));

    one(out, "hopcount_link_cache_hits_total", "counter",
        "Link lookups served from memory.", SUM(cache_hits));
    one(out, "hopcount_link_cache_misses_total", "counter",
        "Link lookups not fresh in memory.", SUM(cache_misses));
    one(out, "hopcount_link_cache_evictions_total", "counter",
        "Links dropped from memory to stay within cache_max_entries.",
        SUM(cache_evictions));
    one(out, "hopcount_link_cache_entries", "gauge",
        "Links (and unknown codes) held in memory.", SUM(cache_entries));
    one(out, "hopcount_redis_lookups_total", "counter", "Link reads sent to Redis.",
        SUM(redis_lookups));
    one(out, "hopcount_redis_lookup_errors_total", "counter", "Link reads that failed.",
        SUM(redis_lookup_errors));
    one(out, "hopcount_bad_targets_total", "counter",
        "Links read from Redis whose target is refused.", SUM(bad_targets));

    one(out, "hopcount_flush_rounds_total", "counter", "Flush rounds started.",
        SUM(flush_rounds));
    one(out, "hopcount_flush_batches_total", "counter",
        "Flush script calls Redis acknowledged.", SUM(flushes));
    one(out, "hopcount_flush_errors_total", "counter",
        "Flush calls that failed (the batch is sent again) or keys Redis refused.",
        SUM(flush_errors));
    one(out, "hopcount_flush_duplicates_total", "counter",
        "Batches Redis had applied before (a lost reply): not applied again.",
        SUM(flush_duplicates));
    head(out, "hopcount_flush_duration_seconds", "histogram",
         "Time from sending a flush call to its reply.");
    uint64_t cum = 0;
    for (int i = 0; i < METRICS_NFLUSH_BUCKETS; i++) {
        cum += SUM_AT(flush_buckets, i);
        if (i < METRICS_NFLUSH_BUCKETS - 1)
            evbuffer_add_printf(
                out, "hopcount_flush_duration_seconds_bucket{le=\"%g\"} %llu\n",
                (double)flush_bounds_us[i] / 1e6, (unsigned long long)cum);
        else
            evbuffer_add_printf(
                out, "hopcount_flush_duration_seconds_bucket{le=\"+Inf\"} %llu\n",
                (unsigned long long)cum);
    }
    evbuffer_add_printf(out,
                        "hopcount_flush_duration_seconds_sum %.6f\n"
                        "hopcount_flush_duration_seconds_count %llu\n",
                        (double)SUM(flush_us_sum) / 1e6, (unsigned long long)cum);
    one(out, "hopcount_follows_delivered_total", "counter",
        "Follows Redis acknowledged (applied now or before), counted once each.",
        SUM(delivered));
    one(out, "hopcount_follows_spooled_total", "counter",
        "Follows written to spool files (Redis could not take them).", SUM(spooled));
    one(out, "hopcount_follows_replayed_total", "counter",
        "Follows read back from spool files at start.", SUM(replayed));
    one(out, "hopcount_pending_keys", "gauge", "Counter keys waiting for Redis.",
        SUM(pending_keys));
    uint64_t bytes, files;
    spool_size(p->spool_dir, &bytes, &files);
    one(out, "hopcount_spool_bytes", "gauge",
        "Bytes of spool files waiting for a replay.", bytes);
    one(out, "hopcount_spool_files", "gauge", "Spool files waiting for a replay.", files);

    one(out, "hopcount_redis_connected", "gauge",
        "Workers whose Redis connection is ready.", SUM(redis_up));
    one(out, "hopcount_redis_subscribed", "gauge",
        "Workers whose P:events subscription is confirmed (and answers its heartbeat).",
        SUM(redis_subscribed));
    one(out, "hopcount_redis_reconnects_total", "counter",
        "Redis connections re-established after a loss.", SUM(redis_reconnects));
    one(out, "hopcount_connections", "gauge", "Open client connections.",
        SUM(connections));

    head(out, "hopcount_config_reloads_total", "counter", "SIGHUP reloads by result.");
    evbuffer_add_printf(out,
                        "hopcount_config_reloads_total{result=\"success\"} %llu\n"
                        "hopcount_config_reloads_total{result=\"failure\"} %llu\n",
                        (unsigned long long)metric_get(&p->reloads_ok),
                        (unsigned long long)metric_get(&p->reloads_failed));
    one(out, "hopcount_config_last_reload_successful", "gauge",
        "1 when the last reload applied (or none was tried), 0 when it was refused.",
        metric_get(&p->last_reload_ok));
    one(out, "hopcount_config_last_reload_success_timestamp_seconds", "gauge",
        "When the configuration last applied, seconds since the epoch.",
        metric_get(&p->last_reload_time_s));
}
