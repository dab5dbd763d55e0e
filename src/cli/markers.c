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
    char **old;       /* keys to delete (borrowed from the key list) */
    size_t nold;
    long long total, undated;
    int64_t oldest_s; /* the oldest dated writer's start (0: none) */
};

static void count_marker(struct marker_scan *m, char *key)
{
    int64_t start = 0;
    int dated = keys_marker_start(key, strlen(key), m->prefix, &start);
    if (dated < 0)
        return;
    m->total++;
    if (dated == 0) {
        m->undated++;
        return;
    }
    if (m->oldest_s == 0 || start < m->oldest_s)
        m->oldest_s = start;
    if (m->cutoff_s != 0 && start < m->cutoff_s)
        m->old[m->nold++] = key;
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
    struct store_keys k = {0};
    const char *globs[] = {match};
    if (store_list_keys(ctl->store, globs, 1, &k, err, sizeof(err)) != 0) {
        rv = ctl_fail("%s", err);
        goto out;
    }
    m.old = xcalloc(k.n ? k.n : 1, sizeof(*m.old));
    for (size_t i = 0; i < k.n; i++)
        count_marker(&m, k.v[i]);
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
    free(m.old);
    store_keys_free(&k);
    return rv;
}
