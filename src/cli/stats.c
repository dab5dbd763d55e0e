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
    long long follows, bot;
};

/* HMGET total, bot and the day fields of the last ndays UTC days from key.
 * 0, or -1 with a message printed. */
static int read_counts(struct store *st, const char *key, struct day *days, int ndays,
                       long long *total, long long *bot, bool *any)
{
    redisContext *rc = store_redis(st);
    int argc = 4 + 2 * ndays;
    const char **argv = xcalloc((size_t)argc, sizeof(*argv));
    char(*fields)[KEYS_FIELD_MAX] = xcalloc((size_t)ndays * 2, KEYS_FIELD_MAX);
    int64_t today = (int64_t)(util_wall_ms() / 1000 / 86400);
    int rv = -1;

    argv[0] = "HMGET";
    argv[1] = key;
    argv[2] = KEYS_FIELD_TOTAL;
    argv[3] = KEYS_FIELD_BOT;
    for (int i = 0; i < ndays; i++) {
        int64_t hour = (today - (ndays - 1 - i)) * 24;
        keys_field_day(fields[2 * i], hour);
        keys_field_bot_day(fields[2 * i + 1], hour);
        argv[4 + 2 * i] = fields[2 * i];
        argv[5 + 2 * i] = fields[2 * i + 1];
        util_strlcpy(days[i].date, fields[2 * i] + 2, sizeof(days[i].date));
    }
    redisReply *r = redisCommandArgv(rc, argc, argv, NULL);
    if (r == NULL) {
        ctl_fail("redis: %s", store_conn_error(st));
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)argc - 2) {
        ctl_fail("%s: %s", key,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
        goto out_reply;
    }
    *any = false;
    for (size_t i = 0; i < r->elements; i++) {
        redisReply *e = r->element[i];
        long long v = 0;
        if (e->type == REDIS_REPLY_STRING) {
            *any = true;
            if (util_parse_ll(e->str, &v) != 0 || v < 0) {
                char s[200];
                ctl_fail("%s: field %s holds \"%s\", not a count", key, argv[2 + i],
                         ctl_shown(e->str, e->len, s, sizeof(s)));
                goto out_reply;
            }
        }
        if (i == 0)
            *total = v;
        else if (i == 1)
            *bot = v;
        else if (i % 2 == 0)
            days[(i - 2) / 2].follows = v;
        else
            days[(i - 2) / 2].bot = v;
    }
    rv = 0;
out_reply:
    freeReplyObject(r);
out:
    free(fields);
    free(argv);
    return rv;
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

static void print_series_table(const struct day *days, int ndays)
{
    long long max = 0;
    int fw = 7, bw = 4; /* "follows", "bots" */
    for (int i = 0; i < ndays; i++) {
        max = days[i].follows > max ? days[i].follows : max;
        fw = digits(days[i].follows) > fw ? digits(days[i].follows) : fw;
        bw = digits(days[i].bot) > bw ? digits(days[i].bot) : bw;
    }
    printf("\n%-10s  %*s  %*s\n", "day (UTC)", fw, "follows", bw, "bots");
    for (int i = 0; i < ndays; i++) {
        int bar = 0;
        if (max > 0 && days[i].follows > 0) {
            bar = (int)((days[i].follows * STATS_BAR_WIDTH + max - 1) / max);
        }
        printf("%-10s  %*lld  %*lld%s", days[i].date, fw, days[i].follows, bw,
               days[i].bot, bar ? "  " : "");
        for (int b = 0; b < bar; b++)
            putchar('#');
        putchar('\n');
    }
}

static void print_series_csv(const struct day *days, int ndays)
{
    printf("day,follows,bot\n");
    for (int i = 0; i < ndays; i++)
        printf("%s,%lld,%lld\n", days[i].date, days[i].follows, days[i].bot);
}

static void print_series_json(const struct day *days, int ndays, long long total,
                              long long bot)
{
    printf(", \"total\": %lld, \"bot\": %lld, \"days\": [", total, bot);
    for (int i = 0; i < ndays; i++)
        printf("%s{\"day\": \"%s\", \"follows\": %lld, \"bot\": %lld}", i ? ", " : "",
               days[i].date, days[i].follows, days[i].bot);
    printf("]}\n");
}

/* After the caller's own lines (table) or leading members (JSON): the
 * totals and the per-day series, in the format asked for. */
static void print_counts(enum format format, const struct day *days, int ndays,
                         long long total, long long bot)
{
    switch (format) {
    case FORMAT_TABLE:
        printf("follows   %lld (all time), %lld by bots\n", total, bot);
        print_series_table(days, ndays);
        break;
    case FORMAT_CSV:
        print_series_csv(days, ndays);
        break;
    case FORMAT_JSON:
        print_series_json(days, ndays, total, bot);
        break;
    }
}

static int stats_link(struct ctl *ctl, const char *code, struct day *days, int ndays)
{
    redisContext *rc = store_redis(ctl->store);
    const char *prefix = store_prefix(ctl->store);
    char link[KEYS_MAX], clicks[KEYS_MAX];
    long long total = 0, bot = 0;
    bool any;
    int rv = EXIT_BAD;

    keys_link(link, prefix, code, strlen(code));
    keys_clicks(clicks, prefix, code, strlen(code));
    if (read_counts(ctl->store, clicks, days, ndays, &total, &bot, &any) != 0)
        return EXIT_BAD;
    redisReply *r =
        redisCommand(rc, "HMGET %s %s %s", link, KEYS_FIELD_URL, KEYS_FIELD_CAMPAIGN);
    if (r == NULL)
        return ctl_fail("redis: %s", store_conn_error(ctl->store));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        ctl_fail("%s: %s", link,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
        goto out;
    }
    redisReply *url = r->element[0], *camp = r->element[1];
    bool has_url = url->type == REDIS_REPLY_STRING;
    bool has_camp = camp->type == REDIS_REPLY_STRING && camp->len > 0;
    if (!has_url && !any) {
        ctl_fail("no such link: %s", code);
        goto out;
    }
    if (ctl->o.format == FORMAT_TABLE) {
        char su[400], sc[400];
        printf("link      %s\n", code);
        printf("target    %s\n", has_url
                                     ? ctl_shown_url(url->str, url->len, su, sizeof(su))
                                     : "(removed; its counts remain)");
        printf("campaign  %s\n",
               has_camp ? ctl_shown_campaign(camp->str, camp->len, sc, sizeof(sc)) : "-");
    } else if (ctl->o.format == FORMAT_JSON) {
        printf("{\"code\": ");
        json_string(stdout, code, strlen(code));
        printf(", \"url\": ");
        json_string_or_null(stdout, has_url ? url->str : NULL, url->len);
        printf(", \"campaign\": ");
        json_string_or_null(stdout, has_camp ? camp->str : NULL, camp->len);
    }
    print_counts(ctl->o.format, days, ndays, total, bot);
    rv = EXIT_OK;
out:
    freeReplyObject(r);
    return rv;
}

static int stats_campaign(struct ctl *ctl, const char *name, struct day *days, int ndays)
{
    redisContext *rc = store_redis(ctl->store);
    const char *prefix = store_prefix(ctl->store);
    char set[KEYS_MAX], clicks[KEYS_MAX];
    long long total = 0, bot = 0;
    bool any;

    keys_campaign_links(set, prefix, name, strlen(name));
    keys_campaign_clicks(clicks, prefix, name, strlen(name));
    if (read_counts(ctl->store, clicks, days, ndays, &total, &bot, &any) != 0)
        return EXIT_BAD;
    redisReply *r = redisCommand(rc, "SCARD %s", set);
    if (r == NULL)
        return ctl_fail("redis: %s", store_conn_error(ctl->store));
    if (r->type != REDIS_REPLY_INTEGER) {
        ctl_fail("%s: %s", set,
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
        freeReplyObject(r);
        return EXIT_BAD;
    }
    long long links = r->integer;
    freeReplyObject(r);
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
    print_counts(ctl->o.format, days, ndays, total, bot);
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
