/* prune: hopctl prune, the retention pass. Every counter hash of this
 * prefix (P:clicks:*, P:campaign:*:clicks, found with SCAN on every
 * primary) loses its hour fields older than [retention] hourly_days and
 * its day fields older than daily_days, one key per script call. Totals
 * are kept forever; keys of another prefix are never matched. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ctl.h"
#include "keys.h"
#include "util.h"

struct prune_keys {
    char **v;
    size_t n, cap;
};

static void on_key(const char *key, size_t len, void *arg)
{
    struct prune_keys *k = arg;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
    }
    k->v[k->n++] = xstrndup(key, len);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* SCAN may hand a key over twice: keep each once. */
static void unique(struct prune_keys *k)
{
    if (k->n < 2)
        return;
    qsort(k->v, k->n, sizeof(*k->v), by_key);
    size_t kept = 1;
    for (size_t i = 1; i < k->n; i++) {
        if (strcmp(k->v[i], k->v[kept - 1]) == 0)
            free(k->v[i]);
        else
            k->v[kept++] = k->v[i];
    }
    k->n = kept;
}

/* The oldest hour and day a field may have and stay, from now. */
static void cutoffs(const struct conf *c, int64_t now_s, char *hour, char *day)
{
    int64_t now_h = now_s / 3600;
    keys_field_hour(hour, now_h - (int64_t)c->hourly_days * 24);
    day[0] = '\0';
    if (c->daily_days > 0) {
        char d[KEYS_FIELD_MAX];
        keys_field_day(d, (now_h / 24 - c->daily_days) * 24);
        util_strlcpy(day, d + 2, KEYS_FIELD_MAX); /* without "d:" */
    }
}

int cmd_prune(struct ctl *ctl)
{
    struct prune_keys k = {0};
    char hour[KEYS_FIELD_MAX], day[KEYS_FIELD_MAX], match[KEYS_MAX + 16], err[600];
    const char *prefix;
    bool dry = ctl->o.dry_run;
    long long hours = 0, days = 0, pruned = 0, skipped = 0;
    int rv = EXIT_OK;

    if (ctl_connect(ctl) != EXIT_OK)
        return EXIT_BAD;
    prefix = store_prefix(ctl->store);
    cutoffs(ctl->conf, (int64_t)(util_wall_ms() / 1000), hour, day);
    snprintf(match, sizeof(match), "%s:clicks:*", prefix);
    if (store_scan_keys(ctl->store, match, on_key, &k, err, sizeof(err)) != 0)
        goto fail;
    snprintf(match, sizeof(match), "%s:campaign:*:clicks", prefix);
    if (store_scan_keys(ctl->store, match, on_key, &k, err, sizeof(err)) != 0)
        goto fail;
    unique(&k);
    for (size_t i = 0; i < k.n; i++) {
        long long h, d;
        int r = store_prune(ctl->store, k.v[i], hour, day, dry, &h, &d, err, sizeof(err));
        if (r < 0)
            goto fail;
        skipped += r == 1;
        hours += h;
        days += d;
        pruned += h + d > 0;
    }
    printf(
        "%s: %zu counter keys, %lld of them with fields %s: %lld hour fields before %s, "
        "%lld day fields before %s%s\n",
        dry ? "prune --dry-run" : "prune", k.n, pruned, dry ? "that would go" : "removed",
        hours, hour + 2, days, day[0] ? day : "(daily_days = 0: every day kept)",
        skipped ? "; keys that are not hashes were left alone" : "");
    goto out;
fail:
    rv = ctl_fail("%s", err);
out:
    for (size_t i = 0; i < k.n; i++)
        free(k.v[i]);
    free(k.v);
    return rv;
}
