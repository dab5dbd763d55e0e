/* stats: hopctl stats, a link's or a campaign's counts per UTC day. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "ctl.h"
#include "keys.h"
#include "output.h"
#include "util.h"

#define STATS_BAR_WIDTH 40

/* ---- stats --------------------------------------------------------------- */

struct day {
    char date[12];
    long long follows, bot, scan;
    long long uniques; /* distinct human followers (uniques = on), about */
};

/* A counter hash's all-time fields (SPEC §4): human follows, bots, scanners. */
struct totals {
    long long total, bot, scan;
};

/* The all-time fields and the day fields of each class for the last ndays UTC
 * days from key. 0, or -1 with the reason said. */
static int read_counts(struct store *st, const char *key, struct day *days, int ndays,
                       struct totals *t, bool *any)
{
    static const char *const classes[] = {KEYS_FIELD_BOT, KEYS_FIELD_SCAN};
    size_t n = 3 + 3 * (size_t)ndays;
    const char **fields = xcalloc(n, sizeof(*fields));
    char(*names)[KEYS_FIELD_MAX] = xcalloc((size_t)ndays * 3, KEYS_FIELD_MAX);
    long long *v = xcalloc(n, sizeof(*v));
    int64_t today = (int64_t)(util_wall_ms() / 1000 / 86400);
    char err[600];

    fields[0] = KEYS_FIELD_TOTAL;
    fields[1] = classes[0];
    fields[2] = classes[1];
    for (int i = 0; i < ndays; i++) {
        int64_t hour = (today - (ndays - 1 - i)) * 24;
        keys_field_day(names[3 * i], hour);
        for (int c = 0; c < 2; c++)
            keys_field_class_day(names[3 * i + 1 + c], classes[c], hour);
        for (int c = 0; c < 3; c++)
            fields[3 + 3 * i + c] = names[3 * i + c];
        util_strlcpy(days[i].date, names[3 * i] + 2, sizeof(days[i].date));
    }
    int rv = store_read_counts(st, key, fields, n, v, any, err, sizeof(err));
    if (rv != 0) {
        ctl_fail("%s", err);
    } else {
        *t = (struct totals){v[0], v[1], v[2]};
        for (int i = 0; i < ndays; i++) {
            days[i].follows = v[3 + 3 * i];
            days[i].bot = v[4 + 3 * i];
            days[i].scan = v[5 + 3 * i];
        }
    }
    free(v);
    free(names);
    free(fields);
    return rv;
}

/* Each day's unique followers: the PFCOUNT of uniq_key(day). 0, or -1
 * with the reason said. */
static int read_uniques(struct ctl *ctl, const char *name,
                        int (*uniq_key)(char *, const char *, const char *, size_t,
                                        const char *),
                        struct day *days, int ndays)
{
    char key[KEYS_MAX], err[600] = "key too long";
    for (int i = 0; i < ndays; i++) {
        if (uniq_key(key, store_prefix(ctl->store), name, strlen(name), days[i].date) <
                0 ||
            store_uniques(ctl->store, key, &days[i].uniques, err, sizeof(err)) != 0)
            return ctl_fail("%s", err);
    }
    return 0;
}

/* Whether the table shows unique followers: counted now, or once. */
static bool show_uniques(const struct ctl *ctl, const struct day *days, int ndays)
{
    for (int i = 0; i < ndays && !ctl->conf->uniques; i++)
        if (days[i].uniques > 0)
            return true;
    return ctl->conf->uniques;
}

static int digits(long long v)
{
    int n = 1;
    while (v >= 10) {
        v /= 10;
        n++;
    }
    return n;
}

static int widest(int w, long long v)
{
    return digits(v) > w ? digits(v) : w;
}

static void print_series_table(const struct day *days, int ndays, bool uniques)
{
    long long max = 0;
    int fw = 7, bw = 4, sw = 5, uw = 6; /* "follows", "bots", "scans", "people" */
    for (int i = 0; i < ndays; i++) {
        max = days[i].follows > max ? days[i].follows : max;
        fw = widest(fw, days[i].follows);
        bw = widest(bw, days[i].bot);
        sw = widest(sw, days[i].scan);
        uw = widest(uw, days[i].uniques);
    }
    printf("\n%-10s  %*s  %*s  %*s", "day (UTC)", fw, "follows", bw, "bots", sw, "scans");
    if (uniques)
        printf("  %*s", uw, "people");
    putchar('\n');
    for (int i = 0; i < ndays; i++) {
        int bar = 0;
        if (max > 0 && days[i].follows > 0) {
            bar = (int)((days[i].follows * STATS_BAR_WIDTH + max - 1) / max);
        }
        printf("%-10s  %*lld  %*lld  %*lld", days[i].date, fw, days[i].follows, bw,
               days[i].bot, sw, days[i].scan);
        if (uniques)
            printf("  %*lld", uw, days[i].uniques);
        printf("%s", bar ? "  " : "");
        for (int b = 0; b < bar; b++)
            putchar('#');
        putchar('\n');
    }
}

static void print_series_csv(const struct day *days, int ndays)
{
    printf("day,follows,bot,scan,uniques\n");
    for (int i = 0; i < ndays; i++)
        printf("%s,%lld,%lld,%lld,%lld\n", days[i].date, days[i].follows, days[i].bot,
               days[i].scan, days[i].uniques);
}

static void print_series_json(const struct day *days, int ndays, const struct totals *t)
{
    printf(", \"total\": %lld, \"bot\": %lld, \"scan\": %lld, \"days\": [", t->total,
           t->bot, t->scan);
    for (int i = 0; i < ndays; i++)
        printf("%s{\"day\": \"%s\", \"follows\": %lld, \"bot\": %lld, \"scan\": %lld, "
               "\"uniques\": %lld}",
               i ? ", " : "", days[i].date, days[i].follows, days[i].bot, days[i].scan,
               days[i].uniques);
    printf("]}\n");
}

/* After the caller's own lines (table) or leading members (JSON): the
 * totals and the per-day series, in the format asked for. */
static void print_counts(const struct ctl *ctl, const struct day *days, int ndays,
                         const struct totals *t)
{
    switch (ctl->o.format) {
    case FORMAT_TABLE:
        printf("follows   %lld (all time), %lld by bots, %lld by scanners\n", t->total,
               t->bot, t->scan);
        print_series_table(days, ndays, show_uniques(ctl, days, ndays));
        break;
    case FORMAT_CSV:
        print_series_csv(days, ndays);
        break;
    case FORMAT_JSON:
        print_series_json(days, ndays, t);
        break;
    }
}

static int stats_link(struct ctl *ctl, const char *code, struct day *days, int ndays)
{
    char clicks[KEYS_MAX], err[600];
    struct totals t = {0};
    bool any;

    keys_clicks(clicks, store_prefix(ctl->store), code, strlen(code));
    if (read_counts(ctl->store, clicks, days, ndays, &t, &any) != 0 ||
        read_uniques(ctl, code, keys_uniq, days, ndays) != 0)
        return EXIT_BAD;
    struct store_read link = {.code = (char *)code};
    if (store_read_links(ctl->store, &link, 1, err, sizeof(err)) != 0)
        return ctl_fail("%s", err);
    if (link.error != NULL || (link.url == NULL && !any)) {
        char key[KEYS_MAX];
        keys_link(key, store_prefix(ctl->store), code, strlen(code));
        if (link.error != NULL)
            ctl_fail("%s: %s", key, link.error);
        else
            ctl_fail("no such link: %s", code);
        free(link.error);
        return EXIT_BAD;
    }
    if (ctl->o.format == FORMAT_TABLE) {
        char su[400], sc[400];
        printf("link      %s\n", code);
        printf("target    %s\n",
               link.url ? ctl_shown_url(link.url, strlen(link.url), su, sizeof(su))
                        : "(removed; its counts remain)");
        printf("campaign  %s\n",
               link.campaign ? ctl_shown_campaign(link.campaign, strlen(link.campaign),
                                                  sc, sizeof(sc))
                             : "-");
        if (link.notrack)
            printf(
                "tracking  off (--no-track): followers are redirected, never counted\n");
    } else if (ctl->o.format == FORMAT_JSON) {
        printf("{\"code\": ");
        json_string(stdout, code, strlen(code));
        printf(", \"url\": ");
        json_string_or_null(stdout, link.url, link.url ? strlen(link.url) : 0);
        printf(", \"campaign\": ");
        json_string_or_null(stdout, link.campaign,
                            link.campaign ? strlen(link.campaign) : 0);
        printf(", \"track\": %s", link.notrack ? "false" : "true");
    }
    print_counts(ctl, days, ndays, &t);
    free(link.url);
    free(link.campaign);
    return EXIT_OK;
}

static int stats_campaign(struct ctl *ctl, const char *name, struct day *days, int ndays)
{
    const char *prefix = store_prefix(ctl->store);
    char set[KEYS_MAX], clicks[KEYS_MAX], err[600];
    struct totals t = {0};
    long long links;
    bool any;

    keys_campaign_links(set, prefix, name, strlen(name));
    keys_campaign_clicks(clicks, prefix, name, strlen(name));
    if (read_counts(ctl->store, clicks, days, ndays, &t, &any) != 0 ||
        read_uniques(ctl, name, keys_campaign_uniq, days, ndays) != 0)
        return EXIT_BAD;
    if (store_set_size(ctl->store, set, &links, err, sizeof(err)) != 0)
        return ctl_fail("%s", err);
    if (links == 0 && !any)
        return ctl_fail("no such campaign: %s", name);
    if (ctl->o.format == FORMAT_TABLE) {
        printf("campaign  %s\n", name);
        printf("links     %lld\n", links);
    } else if (ctl->o.format == FORMAT_JSON) {
        printf("{\"campaign\": ");
        json_string(stdout, name, strlen(name));
        printf(", \"links\": %lld", links);
    }
    print_counts(ctl, days, ndays, &t);
    return EXIT_OK;
}

int cmd_stats(struct ctl *ctl)
{
    const char *camp = ctl->o.campaign;
    const char *code = ctl->nargs > 0 ? ctl->args[0] : NULL;
    char s[400];

    if ((camp == NULL) == (code == NULL))
        return ctl_usage_error("stats takes a CODE or --campaign NAME (one of them)");
    if ((code != NULL && ctl_bad_code(code, strlen(code), s, sizeof(s)) != NULL) ||
        (camp != NULL && ctl_bad_campaign(camp, strlen(camp), s, sizeof(s)) != NULL))
        return ctl_fail("%s", s);
    if (ctl_connect(ctl) != EXIT_OK)
        return EXIT_BAD;
    int ndays = ctl->o.given & OPT_DAYS ? ctl->o.days : STATS_DAYS_DEFAULT;
    struct day *days = xcalloc((size_t)ndays, sizeof(*days));
    int rv = code ? stats_link(ctl, code, days, ndays)
                  : stats_campaign(ctl, camp, days, ndays);
    free(days);
    return rv;
}
