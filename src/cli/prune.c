/* prune: hopctl prune, the retention pass. Every counter hash of this
 * prefix (P:clicks:*, P:campaign:*:clicks, found with SCAN on every
 * primary) loses its hour fields older than [retention] hourly_days and
 * its day fields older than daily_days, one key per script call. Totals
 * are kept forever; keys of another prefix are never matched.
 *
 * Unique followers' HyperLogLogs (P:uniq:CODE:DAY,
 * P:campaign:NAME:uniq:DAY) are kept as long as day fields: the keys of
 * days before the daily window are deleted whole.
 *
 * A daily pass removes, by name, only the fields that left their windows
 * since the last completed pass (P:prune:done says where it cut): a few
 * dozen names per key. A full pass reads every field of every key: the
 * first pass, --full, a window that grew or moved by more than a month, a
 * state that cannot be read, and every 30 days (fields written late, from
 * an old spool file, are caught then). */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "ctl.h"
#include "keys.h"
#include "util.h"

#define PRUNE_STEP_MAX_HOURS (31 * 24) /* beyond it, a full pass */
#define PRUNE_STEP_MAX_DAYS 31
#define PRUNE_FULL_EVERY_DAYS 30

/* Where a pass cuts: hours since the epoch of the oldest hour kept, days of
 * the oldest day kept (-1: every day kept), and the day of the last full
 * pass. */
struct cut {
    int64_t hour, day, full_day;
};

/* Whether a pass from last to now may go by name. */
static bool stepwise(const struct cut *last, const struct cut *now)
{
    int64_t dh = now->hour - last->hour, dd = now->day - last->day;
    /* now->full_day is today: the last full pass is too old after a month. */
    if (dh < 0 || dh > PRUNE_STEP_MAX_HOURS ||
        now->full_day - last->full_day >= PRUNE_FULL_EVERY_DAYS)
        return false;
    if (now->day < 0)
        return true; /* days kept forever: none to remove */
    return last->day >= 0 && dd >= 0 && dd <= PRUNE_STEP_MAX_DAYS;
}

/* The script's arguments for a pass by name: the hour fields of [last, now)
 * and the day fields of each kind of [last day, now day). */
static size_t step_names(const struct cut *last, const struct cut *now, char ***out)
{
    static const char *const kinds[] = {"d", KEYS_FIELD_BOT ":d", KEYS_FIELD_SCAN ":d"};
    size_t nh = (size_t)(now->hour - last->hour), nd = 0;
    if (now->day >= 0)
        nd = (size_t)(now->day - last->day);
    char **a = xcalloc(2 + nh + 3 * nd, sizeof(*a));
    size_t n = 0;
    a[n++] = xstrdup("names");
    char num[24];
    snprintf(num, sizeof(num), "%zu", nh);
    a[n++] = xstrdup(num);
    for (int64_t h = last->hour; h < now->hour; h++) {
        a[n] = xmalloc(KEYS_FIELD_MAX);
        keys_field_hour(a[n++], h);
    }
    for (int k = 0; k < 3; k++)
        for (size_t d = 0; d < nd; d++) {
            char day[KEYS_FIELD_MAX];
            keys_field_day(day, (last->day + (int64_t)d) * 24);
            a[n] = xmalloc(KEYS_FIELD_MAX + 8);
            snprintf(a[n++], KEYS_FIELD_MAX + 8, "%s%s", kinds[k], day + 1);
        }
    *out = a;
    return n;
}

/* The script's arguments for a full pass. */
static size_t scan_args(const struct cut *now, char ***out)
{
    char **a = xcalloc(3, sizeof(*a));
    a[0] = xstrdup("scan");
    a[1] = xmalloc(KEYS_FIELD_MAX);
    keys_field_hour(a[1], now->hour);
    a[2] = xcalloc(1, KEYS_FIELD_MAX);
    if (now->day >= 0) {
        char d[KEYS_FIELD_MAX];
        keys_field_day(d, now->day * 24);
        util_strlcpy(a[2], d + 2, KEYS_FIELD_MAX); /* without "d:" */
    }
    *out = a;
    return 3;
}

/* The last completed pass's cut, from P:prune:done; false when there is
 * none (or it cannot be read: a full pass then). */
static bool read_state(struct store *st, const char *key, struct cut *c, char *err,
                       size_t errsz)
{
    char buf[96];
    long long h, d, f;
    char extra;
    return store_get_string(st, key, buf, sizeof(buf), err, errsz) == 1 &&
           sscanf(buf, "%lld %lld %lld%c", &h, &d, &f, &extra) == 3 &&
           (*c = (struct cut){h, d, f}, true);
}

/* Delete (unless dry) the unique followers' keys of days before
 * before_day; their number in *gone. 0, or -1 with err. */
static int prune_uniques(struct ctl *ctl, int64_t before_day, bool dry, long long *gone,
                         char *err, size_t errsz)
{
    const char *prefix = store_prefix(ctl->store);
    char links[KEYS_MAX + 16], camps[KEYS_MAX + 16];
    snprintf(links, sizeof(links), "%s:uniq:*", prefix);
    snprintf(camps, sizeof(camps), "%s:campaign:*:uniq:*", prefix);
    const char *match[] = {links, camps};
    struct store_keys k = {0};
    *gone = 0;
    if (store_list_keys(ctl->store, match, 2, &k, err, errsz) != 0)
        return -1;
    size_t n = 0;
    for (size_t i = 0; i < k.n; i++) { /* the old ones first in the array */
        int64_t day = keys_uniq_day(k.v[i], strlen(k.v[i]), prefix);
        if (day >= 0 && day < before_day) {
            char *t = k.v[n];
            k.v[n++] = k.v[i];
            k.v[i] = t;
        }
    }
    int rv = 0;
    if (dry)
        *gone = (long long)n;
    else
        rv = store_del_keys(ctl->store, k.v, n, gone, err, errsz);
    store_keys_free(&k);
    return rv;
}

/* Put every campaign with counters (P:campaign:NAME:clicks among keys)
 * in P:campaigns, the dashboard's list: campaigns of links other tools
 * wrote, or written before the list existed, are in it after a pass. */
static int index_campaigns(struct ctl *ctl, const struct store_keys *k, char *err,
                           size_t errsz)
{
    const char *prefix = store_prefix(ctl->store);
    char head[KEYS_MAX];
    int hl = keys_campaign_clicks(head, prefix, "", 0) - (int)strlen(":clicks");
    char **names = xcalloc(k->n ? k->n : 1, sizeof(*names));
    size_t n = 0;
    for (size_t i = 0; i < k->n; i++) {
        const char *key = k->v[i];
        size_t len = strlen(key);
        if (hl <= 0 || len <= (size_t)hl + 7 || strncmp(key, head, (size_t)hl) != 0 ||
            strcmp(key + len - 7, ":clicks") != 0)
            continue;
        size_t nl = len - (size_t)hl - 7;
        if (code_campaign_valid(key + hl, nl))
            names[n++] = xstrndup(key + hl, nl);
    }
    int rv = store_index_campaigns(ctl->store, names, n, err, errsz);
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rv;
}

int cmd_prune(struct ctl *ctl)
{
    struct store_keys k = {0};
    char clicks[KEYS_MAX + 16], camps[KEYS_MAX + 16], state[KEYS_MAX], err[600];
    bool dry = ctl->o.dry_run;
    long long hours = 0, days = 0, pruned = 0, skipped = 0, uniq_days = 0;
    char **args = NULL;
    size_t nargs = 0;
    int rv = EXIT_OK;

    if (ctl_connect(ctl) != EXIT_OK)
        return EXIT_BAD;
    const char *prefix = store_prefix(ctl->store);
    int64_t now_h = (int64_t)(util_wall_ms() / 3600000u);
    struct cut now = {now_h - (int64_t)ctl->conf->hourly_days * 24,
                      ctl->conf->daily_days > 0 ? now_h / 24 - ctl->conf->daily_days : -1,
                      now_h / 24};
    struct cut last;
    keys_prune_state(state, prefix);
    bool by_name = !(ctl->o.given & OPT_FULL) &&
                   read_state(ctl->store, state, &last, err, sizeof(err)) &&
                   stepwise(&last, &now);
    if (by_name) {
        now.full_day = last.full_day;
        nargs = step_names(&last, &now, &args);
    } else {
        nargs = scan_args(&now, &args);
    }
    snprintf(clicks, sizeof(clicks), "%s:clicks:*", prefix);
    snprintf(camps, sizeof(camps), "%s:campaign:*:clicks", prefix);
    const char *match[] = {clicks, camps};
    if (store_list_keys(ctl->store, match, 2, &k, err, sizeof(err)) != 0)
        goto fail;
    for (size_t i = 0; i < k.n; i++) {
        long long h, d;
        int r = store_prune(ctl->store, k.v[i], dry, (const char *const *)args, nargs, &h,
                            &d, err, sizeof(err));
        if (r < 0)
            goto fail;
        skipped += r == 1;
        hours += h;
        days += d;
        pruned += h + d > 0;
    }
    if (now.day >= 0 &&
        prune_uniques(ctl, now.day, dry, &uniq_days, err, sizeof(err)) != 0)
        goto fail;
    if (!dry && index_campaigns(ctl, &k, err, sizeof(err)) != 0)
        goto fail;
    char sv[96];
    snprintf(sv, sizeof(sv), "%lld %lld %lld", (long long)now.hour, (long long)now.day,
             (long long)now.full_day);
    if (!dry && store_put_string(ctl->store, state, sv, err, sizeof(err)) != 0)
        goto fail;
    char hour[KEYS_FIELD_MAX], day[KEYS_FIELD_MAX] = "";
    keys_field_hour(hour, now.hour);
    if (now.day >= 0)
        keys_field_day(day, now.day * 24);
    printf("%s (%s): %zu counter keys, %lld of them with fields %s: %lld hour fields "
           "before %s, %lld day fields before %s; %lld unique followers' days%s\n",
           dry ? "prune --dry-run" : "prune",
           by_name ? "daily: the fields that left their windows since the last pass"
                   : "full: every field read",
           k.n, pruned, dry ? "that would go" : "removed", hours, hour + 2, days,
           day[0] ? day + 2 : "(daily_days = 0: every day kept)", uniq_days,
           skipped ? "; keys that are not hashes were left alone" : "");
    goto out;
fail:
    rv = ctl_fail("%s", err);
out:
    for (size_t i = 0; i < nargs; i++)
        free(args[i]);
    free(args);
    store_keys_free(&k);
    return rv;
}
