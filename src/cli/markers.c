/* markers: hopctl markers, the flush markers hopcount leaves in Redis. A
 * writer deletes its own at a clean stop; a run that was killed, or whose
 * batches were spooled, leaves its markers behind (one per slot it flushed
 * to, in a cluster). This command counts them by the writer's start and,
 * with --older-than, deletes those of writers started before then. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "keys.h"
#include "output.h"
#include "util.h"

struct marker_scan {
    const char *prefix;
    int64_t cutoff_s; /* writers started before it go (0: none) */
    char **old;       /* keys to delete */
    size_t nold, cap;
    long long total, undated;
    int64_t oldest_s; /* the oldest dated writer's start (0: none) */
};

static void on_key(const char *key, size_t len, void *arg)
{
    struct marker_scan *m = arg;
    int64_t start = 0;
    int dated = keys_marker_start(key, len, m->prefix, &start);
    if (dated < 0)
        return;
    m->total++;
    if (dated == 0) {
        m->undated++;
        return;
    }
    if (m->oldest_s == 0 || start < m->oldest_s)
        m->oldest_s = start;
    if (m->cutoff_s == 0 || start >= m->cutoff_s)
        return;
    if (m->nold == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 256;
        m->old = xrealloc(m->old, m->cap * sizeof(*m->old));
    }
    m->old[m->nold++] = xstrndup(key, len);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* SCAN may hand a key over twice: keep each once. */
static void unique(struct marker_scan *m)
{
    if (m->nold < 2)
        return;
    qsort(m->old, m->nold, sizeof(*m->old), by_key);
    size_t kept = 1;
    for (size_t i = 1; i < m->nold; i++) {
        if (strcmp(m->old[i], m->old[kept - 1]) == 0)
            free(m->old[i]);
        else
            m->old[kept++] = m->old[i];
    }
    m->nold = kept;
}

int cmd_markers(struct ctl *ctl)
{
    char err[512], match[KEYS_MAX + 1], day[16];
    if ((ctl->o.given & OPT_DRY_RUN) && !(ctl->o.given & OPT_OLDER))
        return ctl_usage_error("markers: --dry-run goes with --older-than");
    int rv = ctl_connect(ctl);
    if (rv != EXIT_OK)
        return rv;
    struct marker_scan m = {.prefix = store_prefix(ctl->store)};
    int64_t now = (int64_t)(util_wall_ms() / 1000);
    if (ctl->o.given & OPT_OLDER)
        m.cutoff_s = now - (int64_t)ctl->o.older_than * 86400;
    int n = keys_flush_marker(match, m.prefix, "");
    memcpy(match + n, "*", 2);
    if (store_scan_keys(ctl->store, match, on_key, &m, err, sizeof(err)) != 0) {
        rv = ctl_fail("%s", err);
        goto out;
    }
    unique(&m);
    printf("%lld markers", m.total);
    if (m.oldest_s > 0) {
        utc_date(m.oldest_s, day, sizeof(day));
        printf(", the oldest writer started %s (%" PRId64 " days ago)", day,
               (now - m.oldest_s) / 86400);
    }
    if (m.undated > 0)
        printf(", %lld from writers whose ids carry no start (kept)", m.undated);
    printf("\n");
    if (!(ctl->o.given & OPT_OLDER))
        goto out;
    utc_date(m.cutoff_s, day, sizeof(day));
    if (ctl->o.dry_run) {
        printf("would delete %zu markers of writers started before %s\n", m.nold, day);
        goto out;
    }
    long long deleted = 0;
    if (store_del_keys(ctl->store, m.old, m.nold, &deleted, err, sizeof(err)) != 0) {
        rv = ctl_fail("%s", err);
        goto out;
    }
    printf("deleted %lld markers of writers started before %s\n", deleted, day);
out:
    for (size_t i = 0; i < m.nold; i++)
        free(m.old[i]);
    free(m.old);
    return rv;
}
