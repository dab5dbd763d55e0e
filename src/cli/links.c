/* links: hopctl add, new, rm and list. */
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "csv.h"
#include "ctl.h"
#include "keys.h"
#include "output.h"
#include "util.h"

/* ---- add, new, rm ------------------------------------------------------ */

int cmd_add(struct ctl *ctl)
{
    struct store_link l;
    char why[512], err[512];
    enum store_result res;

    ctl_link_from_args(&l, ctl->args[0], ctl->args[1], ctl->o.campaign);
    l.notrack = ctl->o.notrack;
    if (ctl_link_invalid(&l, why, sizeof(why)))
        return ctl_fail("%s", why);
    if (ctl_connect(ctl) != EXIT_OK)
        return EXIT_BAD;
    if (store_set(ctl->store, &l, ctl->o.force, &res, err, sizeof(err)) != 0)
        return ctl_fail("%s", err);
    switch (res) {
    case STORE_ADDED:
        printf("%s: added\n", l.code);
        return EXIT_OK;
    case STORE_REPLACED:
        printf("%s: replaced\n", l.code);
        return EXIT_OK;
    case STORE_UNCHANGED:
        printf("%s: unchanged\n", l.code);
        return EXIT_OK;
    case STORE_EXISTS:
        return ctl_fail(
            "link %s exists with another target, campaign or tracking (--force replaces "
            "it)",
            l.code);
    default:
        return ctl_fail("link %s: %s", l.code, err);
    }
}

int cmd_new(struct ctl *ctl)
{
    struct store_link l;
    char code[CODE_MAX_LEN + 1], why[512], err[512];
    enum store_result res;

    ctl_link_from_args(&l, "x", ctl->args[0], ctl->o.campaign);
    l.notrack = ctl->o.notrack;
    if (ctl_link_invalid(&l, why, sizeof(why)))
        return ctl_fail("%s", why);
    if (ctl_connect(ctl) != EXIT_OK)
        return EXIT_BAD;
    size_t len =
        ctl->o.given & OPT_LENGTH ? (size_t)ctl->o.length : CODE_RANDOM_DEFAULT_LEN;
    /* A fresh code is one no link has: any answer but "added" is a collision. */
    for (int attempt = 0; attempt < 10; attempt++) {
        if (code_random(code, len) != 0)
            return ctl_fail("no randomness: getrandom failed");
        l.code = code;
        l.code_len = len;
        if (store_set_append(ctl->store, &l, false, NULL,
                             (int64_t)(util_wall_ms() / 1000), err, sizeof(err)) != 0 ||
            store_set_reply(ctl->store, &res, err, sizeof(err)) != 0)
            return ctl_fail("%s", err);
        if (res == STORE_ADDED) {
            printf("%s\n", code);
            return EXIT_OK;
        }
    }
    return ctl_fail("no free code of length %zu after 10 tries (use a longer --length)",
                    len);
}

int cmd_rm(struct ctl *ctl)
{
    const char *code = ctl->args[0];
    char s[400], err[512];
    int removed;

    if (ctl_bad_code(code, strlen(code), s, sizeof(s)) != NULL)
        return ctl_fail("%s", s);
    if (ctl_connect(ctl) != EXIT_OK)
        return EXIT_BAD;
    if (store_rm(ctl->store, code, ctl->o.purge, &removed, err, sizeof(err)) != 0)
        return ctl_fail("%s", err);
    if (removed == 0)
        return ctl_fail("no such link: %s", code);
    if (removed == 1)
        printf("%s: removed (its counts are kept; --purge deletes them)\n", code);
    else if (removed == 2)
        printf("%s: counts purged (the link was already gone)\n", code);
    else
        printf("%s: removed, counts purged\n", code);
    return EXIT_OK;
}

/* ---- list ---------------------------------------------------------------- */

/* The links as a table whose columns fit the longest code and campaign. */
static void print_table(const struct ctl_links *l)
{
    size_t cw = 4, kw = 8;
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i].url == NULL)
            continue;
        size_t a = strlen(l->v[i].code),
               b = l->v[i].campaign ? strlen(l->v[i].campaign) : 1;
        cw = a > cw ? a : cw;
        kw = b > kw ? b : kw;
    }
    printf("%-*s  %-*s  %-10s  %-5s  %s\n", (int)cw, "CODE", (int)kw, "CAMPAIGN",
           "CREATED", "TRACK", "URL");
    for (size_t i = 0; i < l->n; i++) {
        const struct store_read *e = &l->v[i];
        if (e->url == NULL)
            continue; /* removed since the scan, or a set member without a link */
        char day[16] = "-", su[400], sc[400];
        if (e->created > 0)
            utc_date(e->created, day, sizeof(day));
        printf("%-*s  %-*s  %-10s  %-5s  %s\n", (int)cw, e->code, (int)kw,
               e->campaign
                   ? ctl_shown_campaign(e->campaign, strlen(e->campaign), sc, sizeof(sc))
                   : "-",
               day, e->notrack ? "off" : "on",
               ctl_shown_url(e->url, strlen(e->url), su, sizeof(su)));
    }
}

/* code,url,campaign,track rows that hopctl import reads back. */
static void print_csv(const struct ctl_links *l)
{
    printf("code,url,campaign,track\n");
    for (size_t i = 0; i < l->n; i++) {
        const struct store_read *e = &l->v[i];
        if (e->url == NULL)
            continue;
        printf("%s,", e->code);
        csv_write_field(stdout, e->url, strlen(e->url));
        putchar(',');
        if (e->campaign)
            csv_write_field(stdout, e->campaign, strlen(e->campaign));
        printf(",%s\n", e->notrack ? "off" : "on");
    }
}

static void print_json(const struct ctl_links *l)
{
    bool first = true;
    printf("[");
    for (size_t i = 0; i < l->n; i++) {
        const struct store_read *e = &l->v[i];
        if (e->url == NULL)
            continue;
        printf("%s\n  {\"code\": ", first ? "" : ",");
        json_string(stdout, e->code, strlen(e->code));
        printf(", \"url\": ");
        json_string(stdout, e->url, strlen(e->url));
        printf(", \"campaign\": ");
        json_string_or_null(stdout, e->campaign, e->campaign ? strlen(e->campaign) : 0);
        printf(", \"created\": %lld, \"track\": %s}", e->created,
               e->notrack ? "false" : "true");
        first = false;
    }
    printf("%s]\n", first ? "" : "\n");
}

int cmd_list(struct ctl *ctl)
{
    struct ctl_links l = {0};
    char err[512];
    const char *camp = ctl->o.campaign;

    if (camp != NULL && ctl_bad_campaign(camp, strlen(camp), err, sizeof(err)) != NULL)
        return ctl_fail("%s", err);
    if (ctl_connect(ctl) != EXIT_OK)
        return EXIT_BAD;
    if (ctl_links_read(ctl->store, camp, &l, err, sizeof(err)) != 0) {
        ctl_links_free(&l);
        return ctl_fail("%s", err);
    }
    if (ctl->o.format == FORMAT_TABLE)
        print_table(&l);
    else if (ctl->o.format == FORMAT_CSV)
        print_csv(&l);
    else
        print_json(&l);
    ctl_links_free(&l);
    return EXIT_OK;
}
