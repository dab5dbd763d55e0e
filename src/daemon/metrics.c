/* metrics: per-worker counters and their Prometheus text rendering. */
#include "metrics.h"

#include <dirent.h>
#include <event2/buffer.h>
#include <string.h>
#include <sys/stat.h>

static const int statuses[] = METRICS_STATUSES;
static const uint64_t flush_bounds_us[] = METRICS_FLUSH_BUCKETS_US;
static const char *const outcome_names[METRICS_NOUTCOME] = {
    "tracked", "bot",         "opted_out", "prefetch_refused", "not_found",
    "invalid", "unavailable", "other",     "scanner",          "untracked"};

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

/* The per-worker counters and gauges that are plain sums over workers. */
static const struct summed {
    const char *name, *type, *help;
    size_t offset;
} summed[] = {
#define S(name, type, help, field)                                                       \
    {                                                                                    \
        name, type, help, offsetof(struct metrics, field)                                \
    }
    S("hopcount_follows_dropped_total", "counter",
      "Follows redirected but not counted (a worker's tally full while its last spill "
      "was still being written or could not be written).",
      follows_dropped),
    S("hopcount_link_cache_hits_total", "counter", "Link lookups served from memory.",
      cache_hits),
    S("hopcount_link_cache_misses_total", "counter", "Link lookups not fresh in memory.",
      cache_misses),
    S("hopcount_link_cache_evictions_total", "counter",
      "Links dropped from memory to stay within cache_max_entries.", cache_evictions),
    S("hopcount_link_cache_entries", "gauge", "Links (and unknown codes) held in memory.",
      cache_entries),
    S("hopcount_redis_lookups_total", "counter", "Link reads sent to Redis.",
      redis_lookups),
    S("hopcount_redis_lookup_errors_total", "counter", "Link reads that failed.",
      redis_lookup_errors),
    S("hopcount_bad_targets_total", "counter",
      "Links read from Redis whose target is refused.", bad_targets),
    S("hopcount_flush_rounds_total", "counter", "Flush rounds started.", flush_rounds),
    S("hopcount_flush_batches_total", "counter", "Flush script calls Redis acknowledged.",
      flushes),
    S("hopcount_flush_errors_total", "counter",
      "Flush calls that failed (the batch is sent again) or keys Redis refused.",
      flush_errors),
    S("hopcount_flush_duplicates_total", "counter",
      "Batches Redis had applied before (a lost reply): not applied again.",
      flush_duplicates),
    S("hopcount_follows_delivered_total", "counter",
      "Follows Redis acknowledged (applied now or before), counted once each.",
      delivered),
    S("hopcount_follows_spooled_total", "counter",
      "Follows written to spool files (Redis could not take them).", spooled),
    S("hopcount_follows_replayed_total", "counter",
      "Follows read back from earlier runs' spool files.", replayed),
    S("hopcount_pending_keys", "gauge", "Counter keys waiting for Redis.", pending_keys),
    S("hopcount_redis_connected", "gauge", "Workers whose Redis connection is ready.",
      redis_up),
    S("hopcount_redis_subscribed", "gauge",
      "Workers whose P:events subscription is confirmed (and answers its heartbeat).",
      redis_subscribed),
    S("hopcount_redis_reconnects_total", "counter",
      "Redis connections re-established after a loss.", redis_reconnects),
    S("hopcount_connections", "gauge", "Open client connections.", connections),
    S("hopcount_redis_moved_total", "counter",
      "MOVED redirects followed (mode cluster: a slot changed owner).", redis_moved),
    S("hopcount_redis_ask_total", "counter",
      "ASK redirects followed (mode cluster: a slot being migrated).", redis_ask),
    S("hopcount_redis_slot_map_refreshes_total", "counter",
      "Slot maps read from the cluster (CLUSTER SLOTS answered).", slot_map_refreshes),
    S("hopcount_flush_wait_shortfalls_total", "counter",
      "WAITs after a flush that saw fewer than wait_replicas replicas (or failed): "
      "their batches stay pending and are sent again.",
      wait_shortfalls),
    S("hopcount_burst_held", "gauge",
      "Follows awaiting the burst rule's verdict (counted when their window closes).",
      burst_held),
    S("hopcount_burst_human_total", "counter",
      "Held follows the burst rule counted as human once their window closed.",
      burst_human),
    S("hopcount_burst_scan_total", "counter",
      "Follows the burst rule counted as scan (held ones, and a burst's later ones).",
      burst_scan),
    S("hopcount_burst_untracked_total", "counter",
      "Follows counted as human at once: no burst table slot, or the hour's key was "
      "being "
      "made.",
      burst_untracked),
    S("hopcount_uniques_keyed_workers", "gauge",
      "Workers that hold the UTC day's key for unique followers (uniques = on): "
      "all of them, normally.",
      uniques_keyed),
    S("hopcount_uniques_unkeyed_total", "counter",
      "Human follows left out of unique followers: the day's key was not known yet "
      "(uniques = on; Redis unreachable since before the day began).",
      uniques_unkeyed),
    S("hopcount_uniques_dropped_total", "counter",
      "Unique followers' cells dropped: the tally was full and could not spill.",
      uniques_dropped),
#undef S
};

/* Responses by status and requests by outcome. */
static void render_labelled(struct metrics *const *w, size_t n, struct evbuffer *out)
{
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
         "Requests by outcome: tracked, bot and scanner follows were counted, opted_out "
         "ones redirected and not recorded.");
    for (int i = 0; i < METRICS_NOUTCOME; i++)
        evbuffer_add_printf(out, "hopcount_requests_total{outcome=\"%s\"} %llu\n",
                            outcome_names[i], (unsigned long long)SUM_AT(outcomes, i));
}

static void render_flush_histogram(struct metrics *const *w, size_t n,
                                   struct evbuffer *out)
{
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
}

/* What the main thread keeps: the process, the spool on disk, reloads. */
static void render_process(const struct metrics_process *p, size_t workers,
                           struct evbuffer *out)
{
    head(out, "hopcount_build_info", "gauge", "Always 1; the version in a label.");
    evbuffer_add_printf(out, "hopcount_build_info{version=\"%s\"} 1\n", p->version);
    head(out, "hopcount_redis_mode", "gauge", "Always 1; redis.mode in a label.");
    evbuffer_add_printf(out, "hopcount_redis_mode{mode=\"%s\"} 1\n",
                        p->redis_mode != NULL ? p->redis_mode : "single");
    one(out, "hopcount_start_time_seconds", "gauge",
        "Start time, seconds since the epoch.", p->start_time_s);
    one(out, "hopcount_workers", "gauge", "Worker threads.", workers);
    uint64_t bytes, files;
    spool_size(p->spool_dir, &bytes, &files);
    one(out, "hopcount_spool_bytes", "gauge",
        "Bytes of spool files waiting for a replay.", bytes);
    one(out, "hopcount_spool_files", "gauge", "Spool files waiting for a replay.", files);
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

void metrics_primaries(struct metrics *const *w, size_t n, uint64_t *known,
                       uint64_t *connected)
{
    *known = 0;
    *connected = n > 0 ? UINT64_MAX : 0;
    for (size_t i = 0; i < n; i++) {
        if (metric_get(&w[i]->redis_primaries) > *known)
            *known = metric_get(&w[i]->redis_primaries);
        if (metric_get(&w[i]->redis_primaries_up) < *connected)
            *connected = metric_get(&w[i]->redis_primaries_up);
    }
}

void metrics_render(struct metrics *const *w, size_t n, const struct metrics_process *p,
                    struct evbuffer *out)
{
    render_process(p, n, out);
    render_labelled(w, n, out);
    for (size_t i = 0; i < sizeof(summed) / sizeof(summed[0]); i++)
        one(out, summed[i].name, summed[i].type, summed[i].help,
            sum(w, n, summed[i].offset));
    render_flush_histogram(w, n, out);
    uint64_t primaries, up;
    metrics_primaries(w, n, &primaries, &up);
    one(out, "hopcount_redis_primaries", "gauge",
        "Redis primaries known (mode cluster: owning slots in the map; else 1).",
        primaries);
    one(out, "hopcount_redis_primaries_connected", "gauge",
        "Primaries every worker is connected to.", up);
}
