/* hopctl: create and manage tracked links and read their counts (SPEC §5).
 * Shares hopcount's conf file and its validation: code, url, keys. */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "code.h"
#include "conf.h"
#include "csv.h"
#include "hash.h"
#include "keys.h"
#include "paths.h"
#include "store.h"
#include "url.h"
#include "util.h"

/* Exit statuses (SPEC §5). */
#define EXIT_OK 0
#define EXIT_BAD 1   /* bad input or a failure, with a one-line reason */
#define EXIT_USAGE 2 /* the command line itself is wrong */

#define STATS_DAYS_DEFAULT 14
#define STATS_DAYS_MAX 3660
#define STATS_BAR_WIDTH 40
/* Pipelined writes and reads in flight at once. */
#define CTL_PIPELINE 1024
/* Longest CSV line accepted, line ending included. */
#define CTL_LINE_MAX 8192

enum format {
    FORMAT_TABLE = 0,
    FORMAT_CSV = 1,
    FORMAT_JSON = 2,
};

/* Options, as bits: which a command accepts. */
enum {
    OPT_CAMPAIGN = 1 << 0,
    OPT_FORCE = 1 << 1,
    OPT_PURGE = 1 << 2,
    OPT_LENGTH = 1 << 3,
    OPT_DAYS = 1 << 4,
    OPT_FORMAT = 1 << 5,
};

struct opts {
    unsigned given; /* OPT_* bits seen */
    const char *campaign;
    bool force;
    bool purge;
    int length;
    int days;
    enum format format;
};

struct ctl {
    const char *conf_path;
    struct conf *conf;
    struct store *store;
    struct opts o;
    char **args; /* positional arguments after the command */
    int nargs;
};

struct command {
    const char *name;
    int (*run)(struct ctl *ctl);
    unsigned allowed; /* OPT_* bits */
    int min_args, max_args;
    const char *synopsis;
    const char *help;
};

static const struct command *current;

static void usage(FILE *out);

/* Copy s[0..len) into out for a message: at most 80 bytes, anything outside
 * printable ASCII as \xNN, so no input can forge a line of output. */
static const char *shown(const char *s, size_t len, char *out, size_t outsz)
{
    size_t w = 0;
    for (size_t i = 0; i < len && w + 8 < outsz; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == 80) {
            w += (size_t)snprintf(out + w, outsz - w, "...");
            break;
        }
        if (c >= 0x20 && c < 0x7f && c != '\\')
            out[w++] = (char)c;
        else
            w += (size_t)snprintf(out + w, outsz - w, "\\x%02x", c);
    }
    out[w] = '\0';
    return out;
}

/* One line on stderr: "hopctl: " and the message. */
static void say(const char *fmt, va_list ap)
{
    fputs("hopctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

/* A target read from Redis, for a table: as is when it is a valid target,
 * else escaped by shown() (other tools may have written anything). */
static const char *shown_url(const char *s, size_t len, char *out, size_t outsz)
{
    if (url_target_ok(s, len, NULL))
        return s;
    return shown(s, len, out, outsz);
}

/* The same for a campaign name. */
static const char *shown_campaign(const char *s, size_t len, char *out, size_t outsz)
{
    if (code_campaign_valid(s, len))
        return s;
    return shown(s, len, out, outsz);
}

static int fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
    return EXIT_BAD;
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    say(fmt, ap);
    va_end(ap);
    if (current != NULL)
        fprintf(stderr, "usage: hopctl [-c FILE] %s\n", current->synopsis);
    else
        usage(stderr);
    return EXIT_USAGE;
}

/* Why code, url and campaign cannot make a link, or NULL when they can. The
 * same rules the daemon re-checks when it reads the link back. */
static const char *link_invalid(const struct store_link *l, char *buf, size_t bufsz)
{
    char s[400];
    const char *why = NULL;
    if (!code_valid(l->code, l->code_len))
        snprintf(buf, bufsz, "code \"%s\" is not [A-Za-z0-9_-]{1,64}",
                 shown(l->code, l->code_len, s, sizeof(s)));
    else if (!url_target_ok(l->url, l->url_len, &why))
        snprintf(buf, bufsz, "target \"%s\": %s", shown(l->url, l->url_len, s, sizeof(s)),
                 why);
    else if (l->campaign_len > 0 && !code_campaign_valid(l->campaign, l->campaign_len))
        snprintf(buf, bufsz, "campaign \"%s\" is not [A-Za-z0-9_.-]{1,64}",
                 shown(l->campaign, l->campaign_len, s, sizeof(s)));
    else
        return NULL;
    return buf;
}

static int connect_store(struct ctl *ctl)
{
    char err[512];
    ctl->store = store_open(ctl->conf, err, sizeof(err));
    if (ctl->store == NULL)
        return fail("%s", err);
    return EXIT_OK;
}

static void link_from_args(struct store_link *l, const char *code, const char *url,
                           const char *campaign)
{
    l->code = code;
    l->code_len = strlen(code);
    l->url = url;
    l->url_len = strlen(url);
    l->campaign = campaign ? campaign : "";
    l->campaign_len = campaign ? strlen(campaign) : 0;
}

/* ---- add, new, rm ------------------------------------------------------ */

static int cmd_add(struct ctl *ctl)
{
    struct store_link l;
    char why[512], err[512];
    enum store_result res;

    link_from_args(&l, ctl->args[0], ctl->args[1], ctl->o.campaign);
    if (link_invalid(&l, why, sizeof(why)))
        return fail("%s", why);
    if (connect_store(ctl) != EXIT_OK)
        return EXIT_BAD;
    if (store_set(ctl->store, &l, ctl->o.force, &res, err, sizeof(err)) != 0)
        return fail("%s", err);
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
        return fail(
            "link %s exists with another target or campaign (--force replaces it)",
            l.code);
    default:
        return fail("link %s: %s", l.code, err);
    }
}

static int cmd_new(struct ctl *ctl)
{
    struct store_link l;
    char code[CODE_MAX_LEN + 1], why[512], err[512];
    enum store_result res;

    link_from_args(&l, "x", ctl->args[0], ctl->o.campaign);
    if (link_invalid(&l, why, sizeof(why)))
        return fail("%s", why);
    if (connect_store(ctl) != EXIT_OK)
        return EXIT_BAD;
    size_t len =
        ctl->o.given & OPT_LENGTH ? (size_t)ctl->o.length : CODE_RANDOM_DEFAULT_LEN;
    /* A fresh code is one no link has: any answer but "added" is a collision. */
    for (int attempt = 0; attempt < 10; attempt++) {
        if (code_random(code, len) != 0)
            return fail("no randomness: getrandom failed");
        l.code = code;
        l.code_len = len;
        if (store_set_append(ctl->store, &l, false, NULL,
                             (int64_t)(util_wall_ms() / 1000), err, sizeof(err)) != 0 ||
            store_set_reply(ctl->store, &res, err, sizeof(err)) != 0)
            return fail("%s", err);
        if (res == STORE_ADDED) {
            printf("%s\n", code);
            return EXIT_OK;
        }
    }
    return fail("no free code of length %zu after 10 tries (use a longer --length)", len);
}

static int cmd_rm(struct ctl *ctl)
{
    const char *code = ctl->args[0];
    char s[400], err[512];
    int removed;

    if (!code_valid(code, strlen(code)))
        return fail("code \"%s\" is not [A-Za-z0-9_-]{1,64}",
                    shown(code, strlen(code), s, sizeof(s)));
    if (connect_store(ctl) != EXIT_OK)
        return EXIT_BAD;
    if (store_rm(ctl->store, code, ctl->o.purge, &removed, err, sizeof(err)) != 0)
        return fail("%s", err);
    if (removed == 0)
        return fail("no such link: %s", code);
    if (removed == 1)
        printf("%s: removed (its counts are kept; --purge deletes them)\n", code);
    else if (removed == 2)
        printf("%s: counts purged (the link was already gone)\n", code);
    else
        printf("%s: removed, counts purged\n", code);
    return EXIT_OK;
}

/* ---- output helpers ------------------------------------------------------ */

static void json_string(FILE *out, const char *s, size_t len)
{
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            putc(c, out);
    }
    putc('"', out);
}

/* s[0..len) as a JSON string, or null when s is NULL. */
static void json_string_or_null(FILE *out, const char *s, size_t len)
{
    if (s == NULL)
        fputs("null", out);
    else
        json_string(out, s, len);
}

static void utc_date(int64_t unix_s, char *buf, size_t sz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sz, "%Y-%m-%d", &tm);
}

/* ---- list ---------------------------------------------------------------- */

struct listed {
    char *code;
    char *url;      /* NULL: the link was gone by the time it was read */
    char *campaign; /* NULL: none */
    long long created;
};

struct list {
    struct listed *v;
    size_t n, cap;
};

static void list_push(struct list *l, const char *code, size_t len)
{
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 256;
        l->v = xrealloc(l->v, l->cap * sizeof(*l->v));
    }
    memset(&l->v[l->n], 0, sizeof(l->v[0]));
    l->v[l->n++].code = xstrndup(code, len);
}

static void list_free(struct list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].code);
        free(l->v[i].url);
        free(l->v[i].campaign);
    }
    free(l->v);
}

static int by_code(const void *a, const void *b)
{
    return strcmp(((const struct listed *)a)->code, ((const struct listed *)b)->code);
}

/* SCAN (or SSCAN) with cursor until it comes back to 0; every element that
 * is a valid code after skipping `skip` bytes goes into l. */
static int scan_codes(struct store *st, const char *cmd, const char *key,
                      const char *match, size_t skip, struct list *l, char *err,
                      size_t errsz)
{
    redisContext *rc = store_redis(st);
    char cursor[32] = "0";
    do {
        redisReply *r;
        if (key != NULL)
            r = redisCommand(rc, "%s %s %s COUNT 1000", cmd, key, cursor);
        else
            r = redisCommand(rc, "%s %s MATCH %s COUNT 1000", cmd, cursor, match);
        if (r == NULL) {
            snprintf(err, errsz, "redis: %s", store_conn_error(st));
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            snprintf(err, errsz, "%s: %s", cmd,
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected answer from redis");
            freeReplyObject(r);
            return -1;
        }
        util_strlcpy(cursor, r->element[0]->str, sizeof(cursor));
        redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            redisReply *k = keys->element[i];
            if (k->type == REDIS_REPLY_STRING && k->len > skip &&
                code_valid(k->str + skip, k->len - skip))
                list_push(l, k->str + skip, k->len - skip);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

/* HMGET url campaign created for every listed code, pipelined. */
static int fetch_links(struct store *st, struct list *l, char *err, size_t errsz)
{
    redisContext *rc = store_redis(st);
    const char *prefix = store_prefix(st);
    for (size_t base = 0; base < l->n; base += CTL_PIPELINE) {
        size_t end = base + CTL_PIPELINE < l->n ? base + CTL_PIPELINE : l->n;
        for (size_t i = base; i < end; i++) {
            char key[KEYS_MAX];
            keys_link(key, prefix, l->v[i].code, strlen(l->v[i].code));
            redisAppendCommand(rc, "HMGET %s %s %s %s", key, KEYS_FIELD_URL,
                               KEYS_FIELD_CAMPAIGN, KEYS_FIELD_CREATED);
        }
        for (size_t i = base; i < end; i++) {
            redisReply *r = NULL;
            if (redisGetReply(rc, (void **)&r) != REDIS_OK || r == NULL) {
                snprintf(err, errsz, "redis: %s", store_conn_error(st));
                return -1;
            }
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
                redisReply *u = r->element[0], *c = r->element[1], *t = r->element[2];
                if (u->type == REDIS_REPLY_STRING)
                    l->v[i].url = xstrndup(u->str, u->len);
                if (c->type == REDIS_REPLY_STRING && c->len > 0)
                    l->v[i].campaign = xstrndup(c->str, c->len);
                if (t->type == REDIS_REPLY_STRING)
                    util_parse_ll(t->str, &l->v[i].created);
            }
            freeReplyObject(r);
        }
    }
    return 0;
}

static int cmd_list(struct ctl *ctl)
{
    struct list l = {0};
    char key[KEYS_MAX], match[KEYS_MAX + 1], err[512];
    const char *camp = ctl->o.campaign;
    int rv = EXIT_BAD;

    if (camp != NULL && !code_campaign_valid(camp, strlen(camp)))
        return fail("campaign \"%s\" is not [A-Za-z0-9_.-]{1,64}",
                    shown(camp, strlen(camp), err, sizeof(err)));
    if (connect_store(ctl) != EXIT_OK)
        return EXIT_BAD;
    const char *prefix = store_prefix(ctl->store);
    if (camp != NULL) {
        keys_campaign_links(key, prefix, camp, strlen(camp));
        if (scan_codes(ctl->store, "SSCAN", key, NULL, 0, &l, err, sizeof(err)) != 0)
            goto out;
    } else {
        /* The prefix is [A-Za-z0-9_.-]: nothing in it is a glob character. */
        int n = keys_link(match, prefix, "", 0);
        memcpy(match + n, "*", 2);
        if (scan_codes(ctl->store, "SCAN", NULL, match, (size_t)n, &l, err,
                       sizeof(err)) != 0)
            goto out;
    }
    /* SCAN may return a key more than once: sort, then drop repeats. (No
     * links: l.v is NULL, which qsort must not be given.) */
    if (l.n > 1)
        qsort(l.v, l.n, sizeof(*l.v), by_code);
    size_t w = 0;
    for (size_t i = 0; i < l.n; i++) {
        if (w > 0 && strcmp(l.v[w - 1].code, l.v[i].code) == 0) {
            free(l.v[i].code);
            continue;
        }
        l.v[w++] = l.v[i];
    }
    l.n = w;
    if (fetch_links(ctl->store, &l, err, sizeof(err)) != 0)
        goto out;

    size_t cw = 4, kw = 8;
    for (size_t i = 0; i < l.n; i++) {
        if (l.v[i].url == NULL)
            continue;
        size_t a = strlen(l.v[i].code), b = l.v[i].campaign ? strlen(l.v[i].campaign) : 1;
        cw = a > cw ? a : cw;
        kw = b > kw ? b : kw;
    }
    if (ctl->o.format == FORMAT_TABLE)
        printf("%-*s  %-*s  %-10s  %s\n", (int)cw, "CODE", (int)kw, "CAMPAIGN", "CREATED",
               "URL");
    else if (ctl->o.format == FORMAT_CSV)
        printf("code,url,campaign\n");
    else
        printf("[");
    bool first = true;
    for (size_t i = 0; i < l.n; i++) {
        struct listed *e = &l.v[i];
        if (e->url == NULL)
            continue; /* removed since the scan, or a set member without a link */
        if (ctl->o.format == FORMAT_TABLE) {
            char day[16] = "-";
            if (e->created > 0)
                utc_date(e->created, day, sizeof(day));
            char su[400], sc[400];
            printf("%-*s  %-*s  %-10s  %s\n", (int)cw, e->code, (int)kw,
                   e->campaign
                       ? shown_campaign(e->campaign, strlen(e->campaign), sc, sizeof(sc))
                       : "-",
                   day, shown_url(e->url, strlen(e->url), su, sizeof(su)));
        } else if (ctl->o.format == FORMAT_CSV) {
            printf("%s,", e->code);
            csv_write_field(stdout, e->url, strlen(e->url));
            putchar(',');
            if (e->campaign)
                csv_write_field(stdout, e->campaign, strlen(e->campaign));
            putchar('\n');
        } else {
            printf("%s\n  {\"code\": ", first ? "" : ",");
            json_string(stdout, e->code, strlen(e->code));
            printf(", \"url\": ");
            json_string(stdout, e->url, strlen(e->url));
            printf(", \"campaign\": ");
            json_string_or_null(stdout, e->campaign,
                                e->campaign ? strlen(e->campaign) : 0);
            printf(", \"created\": %lld}", e->created);
        }
        first = false;
    }
    if (ctl->o.format == FORMAT_JSON)
        printf("%s]\n", first ? "" : "\n");
    rv = EXIT_OK;
out:
    if (rv != EXIT_OK)
        fail("%s", err);
    list_free(&l);
    return rv;
}

/* ---- import -------------------------------------------------------------- */

/* The codes seen so far in the file, with their line: open addressing over
 * XXH3, the strings in one arena, compared in full. */
struct seen {
    struct seen_slot {
        uint64_t hash;
        long line; /* 0: empty */
        long count; /* occurrences */
        size_t off;
    } * slots;
    size_t cap, n;
    char *arena;
    size_t used, size;
};

/* The line of an earlier occurrence of code (counting this one), or 0 after
 * recording it. */
static long seen_add(struct seen *s, const char *code, size_t len, long line)
{
    if (s->n * 2 >= s->cap) {
        size_t ncap = s->cap ? s->cap * 2 : 4096;
        struct seen_slot *ns = xcalloc(ncap, sizeof(*ns));
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slots[i].line == 0)
                continue;
            size_t j = s->slots[i].hash & (ncap - 1);
            while (ns[j].line != 0)
                j = (j + 1) & (ncap - 1);
            ns[j] = s->slots[i];
        }
        free(s->slots);
        s->slots = ns;
        s->cap = ncap;
    }
    uint64_t h = hash_bytes(code, len);
    size_t j = h & (s->cap - 1);
    for (; s->slots[j].line != 0; j = (j + 1) & (s->cap - 1)) {
        const char *c = s->arena + s->slots[j].off;
        if (s->slots[j].hash == h && strlen(c) == len && memcmp(c, code, len) == 0) {
            s->slots[j].count++;
            return s->slots[j].line;
        }
    }
    if (s->used + len + 1 > s->size) {
        while (s->used + len + 1 > s->size)
            s->size = s->size ? s->size * 2 : 65536;
        s->arena = xrealloc(s->arena, s->size);
    }
    memcpy(s->arena + s->used, code, len);
    s->arena[s->used + len] = '\0';
    s->slots[j] = (struct seen_slot){.hash = h, .line = line, .count = 1, .off = s->used};
    s->used += len + 1;
    s->n++;
    return 0;
}

static void seen_free(struct seen *s)
{
    free(s->slots);
    free(s->arena);
}

/* One row of the batch in flight: its fields copied out of the line. */
struct row {
    long line;
    bool queued; /* sent to Redis; otherwise msg says why it is bad */
    enum store_result res; /* Redis's answer, once read */
    char *msg;
    char code[CODE_MAX_LEN + 1];
    char *url;
    char *campaign; /* "" for none */
};

struct import {
    struct ctl *ctl;
    const char *name; /* for messages: the path, or "stdin" */
    struct row rows[CTL_PIPELINE];
    int nrows;
    struct seen seen;
    struct seen targets; /* "campaign\nurl" of the good rows */
    long added, replaced, unchanged, bad;
    int64_t now;
};

/* Codes per target within one campaign beyond which import warns: a few
 * per newsletter (a logo, a button and a text link to one page) is normal;
 * hundreds look like one code per recipient. */
#define IMPORT_SAME_TARGET_WARN 100
#define IMPORT_WARNINGS_MAX 5

/* Review item 19: one code per subscriber turns aggregate counters into
 * per-person data. Say so for every target that many codes share. */
static void import_warn_targets(const struct import *im)
{
    long shown = 0, more = 0;
    for (size_t i = 0; i < im->targets.cap; i++) {
        const struct seen_slot *t = &im->targets.slots[i];
        if (t->line == 0 || t->count <= IMPORT_SAME_TARGET_WARN)
            continue;
        if (shown++ == IMPORT_WARNINGS_MAX) {
            more++;
            shown--;
            continue;
        }
        const char *key = im->targets.arena + t->off, *url = strchr(key, '\n') + 1;
        int clen = (int)(url - 1 - key);
        char label[96] = "without a campaign";
        if (clen > 0)
            snprintf(label, sizeof(label), "of campaign %.*s", clen, key);
        fprintf(stderr,
                "%s:%ld: warning: %ld codes %s point to %s: one code per recipient makes "
                "the counts per-person data (see docs/privacy.md)\n",
                im->name, t->line, t->count, label, url);
    }
    if (more > 0)
        fprintf(stderr, "%s: warning: %ld more targets shared by over %d codes each\n",
                im->name, more, IMPORT_SAME_TARGET_WARN);
}

static void row_bad(struct import *im, long line, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void row_bad(struct import *im, long line, const char *fmt, ...)
{
    char buf[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    struct row *r = &im->rows[im->nrows++];
    memset(r, 0, sizeof(*r));
    r->line = line;
    r->msg = xstrdup(buf);
}

/* Read every answer of the batch, then retry the rows that moved campaign
 * (their retry is synchronous, so it must wait until no pipelined answer is
 * left unread), then report the bad rows in line order. */
static int import_drain(struct import *im)
{
    char err[512];
    int rv = 0;
    for (int i = 0; i < im->nrows && rv == 0; i++) {
        struct row *r = &im->rows[i];
        if (!r->queued)
            continue;
        if (store_set_reply(im->ctl->store, &r->res, err, sizeof(err)) != 0) {
            fail("%s", err);
            rv = -1;
        } else if (r->res == STORE_REFUSED)
            r->msg = xstrdup(err);
    }
    for (int i = 0; i < im->nrows && rv == 0; i++) {
        struct row *r = &im->rows[i];
        if (!r->queued || r->res != STORE_MOVED)
            continue;
        /* Already in another campaign (and --force): look it up, retry. */
        struct store_link l;
        link_from_args(&l, r->code, r->url, r->campaign[0] ? r->campaign : NULL);
        if (store_set(im->ctl->store, &l, true, &r->res, err, sizeof(err)) != 0) {
            fail("%s", err);
            rv = -1;
        } else if (r->res == STORE_REFUSED)
            r->msg = xstrdup(err);
    }
    for (int i = 0; i < im->nrows; i++) {
        struct row *r = &im->rows[i];
        if (rv == 0 && r->queued) {
            if (r->res == STORE_ADDED)
                im->added++;
            else if (r->res == STORE_REPLACED)
                im->replaced++;
            else if (r->res == STORE_UNCHANGED)
                im->unchanged++;
            else if (r->res == STORE_EXISTS)
                r->msg = xstrdup(
                    "link exists with another target or campaign (--force replaces it)");
        }
        if (r->msg != NULL && rv == 0) {
            fprintf(stderr, "%s:%ld: %s%s%s\n", im->name, r->line, r->code,
                    r->code[0] ? ": " : "", r->msg);
            im->bad++;
        }
        free(r->msg);
        free(r->url);
        free(r->campaign);
    }
    im->nrows = 0;
    return rv;
}

/* Parse one CSV line (without its ending) and queue its write. */
static void import_line(struct import *im, char *line, size_t len, long lineno,
                        bool *header)
{
    struct csv_field f[3];
    const char *why;
    char msg[512];

    int n = csv_split(line, len, f, 3, &why);
    bool first = *header;
    *header = false;
    if (n < 0) {
        row_bad(im, lineno, "%s (expected code,url[,campaign])", why);
        return;
    }
    if (n < 2) {
        row_bad(im, lineno, "1 field (expected code,url[,campaign])");
        return;
    }
    if (first && f[0].len == 4 && strncasecmp(f[0].s, "code", 4) == 0 && f[1].len == 3 &&
        strncasecmp(f[1].s, "url", 3) == 0)
        return; /* the header */
    struct store_link l = {
        f[0].s, f[0].len, f[1].s, f[1].len, n == 3 ? f[2].s : "", n == 3 ? f[2].len : 0};
    if (link_invalid(&l, msg, sizeof(msg))) {
        row_bad(im, lineno, "%s", msg);
        return;
    }
    long earlier = seen_add(&im->seen, l.code, l.code_len, lineno);
    if (earlier != 0) {
        row_bad(im, lineno, "duplicate code (first on line %ld)", earlier);
        memcpy(im->rows[im->nrows - 1].code, l.code, l.code_len);
        return;
    }
    char *target = xmalloc(l.campaign_len + 1 + l.url_len);
    memcpy(target, l.campaign, l.campaign_len);
    target[l.campaign_len] = '\n';
    memcpy(target + l.campaign_len + 1, l.url, l.url_len);
    seen_add(&im->targets, target, l.campaign_len + 1 + l.url_len, lineno);
    free(target);
    struct row *r = &im->rows[im->nrows++];
    memset(r, 0, sizeof(*r));
    r->line = lineno;
    memcpy(r->code, l.code, l.code_len);
    r->url = xstrndup(l.url, l.url_len);
    r->campaign = xstrndup(l.campaign, l.campaign_len);
    l.code = r->code;
    l.url = r->url;
    l.campaign = r->campaign;
    if (store_set_append(im->ctl->store, &l, im->ctl->o.force, NULL, im->now, msg,
                         sizeof(msg)) != 0) {
        r->msg = xstrdup(msg);
        return;
    }
    r->queued = true;
}

static int cmd_import(struct ctl *ctl)
{
    const char *path = ctl->args[0];
    bool from_stdin = strcmp(path, "-") == 0;
    FILE *in = from_stdin ? stdin : fopen(path, "r");
    char buf[CTL_LINE_MAX];
    int rv = EXIT_BAD;

    if (in == NULL)
        return fail("%s: %s", path, strerror(errno));
    struct import *im = xcalloc(1, sizeof(*im));
    im->ctl = ctl;
    im->name = from_stdin ? "stdin" : path;
    im->now = (int64_t)(util_wall_ms() / 1000);
    if (connect_store(ctl) != EXIT_OK)
        goto out;

    long lineno = 0;
    bool header = true;
    while (fgets(buf, sizeof(buf), in) != NULL) {
        size_t len = strlen(buf);
        lineno++;
        if (len == sizeof(buf) - 1 && buf[len - 1] != '\n' && !feof(in)) {
            /* Too long: skip to the end of this line. */
            int c;
            while ((c = getc(in)) != EOF && c != '\n')
                ;
            row_bad(im, lineno, "line longer than %d bytes", CTL_LINE_MAX - 2);
            header = false;
        } else {
            if (len > 0 && buf[len - 1] == '\n')
                len--;
            if (len > 0 && buf[len - 1] == '\r')
                len--;
            char *line = buf;
            /* A UTF-8 byte order mark, as spreadsheets write. */
            if (lineno == 1 && len >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
                line += 3;
                len -= 3;
            }
            size_t i = 0;
            while (i < len && (line[i] == ' ' || line[i] == '\t'))
                i++;
            if (i == len)
                continue; /* blank lines are not rows */
            if (memchr(line, '\0', len) != NULL) {
                row_bad(im, lineno, "NUL byte in line");
                header = false;
            } else
                import_line(im, line, len, lineno, &header);
        }
        if (im->nrows == CTL_PIPELINE && import_drain(im) != 0)
            goto out;
    }
    if (ferror(in)) {
        fail("%s: read error: %s", im->name, strerror(errno));
        import_drain(im);
        goto out;
    }
    if (import_drain(im) != 0)
        goto out;
    import_warn_targets(im);
    printf("%s: %ld added, %ld replaced, %ld unchanged, %ld bad rows\n", im->name,
           im->added, im->replaced, im->unchanged, im->bad);
    rv = im->bad > 0 ? EXIT_BAD : EXIT_OK;
out:
    for (int i = 0; i < im->nrows; i++) {
        free(im->rows[i].msg);
        free(im->rows[i].url);
        free(im->rows[i].campaign);
    }
    seen_free(&im->seen);
    seen_free(&im->targets);
    free(im);
    if (!from_stdin)
        fclose(in);
    return rv;
}

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
        fail("redis: %s", store_conn_error(st));
        goto out;
    }
    if (r->type != REDIS_REPLY_ARRAY || r->elements != (size_t)argc - 2) {
        fail("%s: %s", key, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
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
                fail("%s: field %s holds \"%s\", not a count", key, argv[2 + i],
                     shown(e->str, e->len, s, sizeof(s)));
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
        return fail("redis: %s", store_conn_error(ctl->store));
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2) {
        fail("%s: %s", link, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
        goto out;
    }
    redisReply *url = r->element[0], *camp = r->element[1];
    bool has_url = url->type == REDIS_REPLY_STRING;
    bool has_camp = camp->type == REDIS_REPLY_STRING && camp->len > 0;
    if (!has_url && !any) {
        fail("no such link: %s", code);
        goto out;
    }
    switch (ctl->o.format) {
    case FORMAT_TABLE:
        printf("link      %s\n", code);
        char su[400], sc[400];
        printf("target    %s\n", has_url ? shown_url(url->str, url->len, su, sizeof(su))
                                         : "(removed; its counts remain)");
        printf("campaign  %s\n",
               has_camp ? shown_campaign(camp->str, camp->len, sc, sizeof(sc)) : "-");
        printf("follows   %lld (all time), %lld by bots\n", total, bot);
        print_series_table(days, ndays);
        break;
    case FORMAT_CSV:
        print_series_csv(days, ndays);
        break;
    case FORMAT_JSON:
        printf("{\"code\": ");
        json_string(stdout, code, strlen(code));
        printf(", \"url\": ");
        json_string_or_null(stdout, has_url ? url->str : NULL, url->len);
        printf(", \"campaign\": ");
        json_string_or_null(stdout, has_camp ? camp->str : NULL, camp->len);
        print_series_json(days, ndays, total, bot);
        break;
    }
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
        return fail("redis: %s", store_conn_error(ctl->store));
    if (r->type != REDIS_REPLY_INTEGER) {
        fail("%s: %s", set, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer");
        freeReplyObject(r);
        return EXIT_BAD;
    }
    long long links = r->integer;
    freeReplyObject(r);
    if (links == 0 && !any)
        return fail("no such campaign: %s", name);
    switch (ctl->o.format) {
    case FORMAT_TABLE:
        printf("campaign  %s\n", name);
        printf("links     %lld\n", links);
        printf("follows   %lld (all time), %lld by bots\n", total, bot);
        print_series_table(days, ndays);
        break;
    case FORMAT_CSV:
        print_series_csv(days, ndays);
        break;
    case FORMAT_JSON:
        printf("{\"campaign\": ");
        json_string(stdout, name, strlen(name));
        printf(", \"links\": %lld", links);
        print_series_json(days, ndays, total, bot);
        break;
    }
    return EXIT_OK;
}

static int cmd_stats(struct ctl *ctl)
{
    const char *camp = ctl->o.campaign;
    const char *code = ctl->nargs > 0 ? ctl->args[0] : NULL;
    char s[400];

    if ((camp == NULL) == (code == NULL))
        return usage_error("stats takes a CODE or --campaign NAME (one of them)");
    if (code != NULL && !code_valid(code, strlen(code)))
        return fail("code \"%s\" is not [A-Za-z0-9_-]{1,64}",
                    shown(code, strlen(code), s, sizeof(s)));
    if (camp != NULL && !code_campaign_valid(camp, strlen(camp)))
        return fail("campaign \"%s\" is not [A-Za-z0-9_.-]{1,64}",
                    shown(camp, strlen(camp), s, sizeof(s)));
    if (connect_store(ctl) != EXIT_OK)
        return EXIT_BAD;
    int ndays = ctl->o.given & OPT_DAYS ? ctl->o.days : STATS_DAYS_DEFAULT;
    struct day *days = xcalloc((size_t)ndays, sizeof(*days));
    int rv = code ? stats_link(ctl, code, days, ndays)
                  : stats_campaign(ctl, camp, days, ndays);
    free(days);
    return rv;
}

/* ---- command line -------------------------------------------------------- */

static const struct command commands[] = {
    {"add", cmd_add, OPT_CAMPAIGN | OPT_FORCE, 2, 2,
     "add CODE URL [--campaign NAME] [--force]",
     "Create the link CODE to URL, in campaign NAME. An existing CODE with another\n"
     "target or campaign is kept unless --force (which keeps its counts and created "
     "time).\n"
     "Running hopcount servers serve the change within a second.\n"},
    {"new", cmd_new, OPT_CAMPAIGN | OPT_LENGTH, 1, 1,
     "new URL [--campaign NAME] [--length N]",
     "Create a link to URL under a fresh random code and print the code. Codes are\n"
     "N characters (default 8, 4 to 64) of 2-9 a-z A-Z without look-alikes (0 O o 1 l "
     "I).\n"},
    {"rm", cmd_rm, OPT_PURGE, 1, 1, "rm CODE [--purge]",
     "Remove the link CODE (and from its campaign). Its counts stay for the record\n"
     "unless --purge; campaign totals keep the follows they counted.\n"},
    {"list", cmd_list, OPT_CAMPAIGN | OPT_FORMAT, 0, 0,
     "list [--campaign NAME] [--format table|csv|json]",
     "List links sorted by code (SCAN, never KEYS). --format csv writes\n"
     "code,url,campaign rows that hopctl import reads back.\n"},
    {"import", cmd_import, OPT_FORCE, 1, 1, "import FILE|- [--force]",
     "Create links from CSV rows code,url[,campaign] (a header row is optional,\n"
     "fields may be quoted). Every good row is written, pipelined; each bad row is\n"
     "reported as FILE:LINE: reason and the exit status is then 1. Rows whose code\n"
     "exists with another target are bad unless --force. - reads stdin.\n"},
    {"stats", cmd_stats, OPT_CAMPAIGN | OPT_DAYS | OPT_FORMAT, 0, 1,
     "stats CODE | --campaign NAME [--days N] [--format table|csv|json]",
     "Show all-time follows and bot follows and a per-day series (UTC) of the last\n"
     "N days (default 14, zero-filled) for a link or a campaign.\n"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hopctl [-c FILE] COMMAND [ARGS]\n"
            "  -c FILE   hopcount's configuration file, for the Redis connection\n"
            "            (default %s)\n",
            paths_conf_default);
    fputs("  -h, --help    this help; hopctl COMMAND --help for one command\n"
          "  -V, --version the version\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %s\n", commands[i].synopsis);
    fprintf(out, "exit status: 0 done, 1 bad input or failure, 2 usage error\n");
}

static int parse_int_opt(const char *name, const char *val, int min, int max, int *out)
{
    long long v;
    if (util_parse_ll(val, &v) != 0 || v < min || v > max)
        return usage_error("--%s: \"%s\" is not a number from %d to %d", name, val, min,
                           max);
    *out = (int)v;
    return EXIT_OK;
}

static int parse_command(struct ctl *ctl, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, 'C'},
        {"force", no_argument, NULL, 'f'},
        {"purge", no_argument, NULL, 'p'},
        {"length", required_argument, NULL, 'l'},
        {"days", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'F'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    struct opts *o = &ctl->o;
    int opt;

    optind = 0; /* GNU: start over, argv[0] being the command */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        unsigned bit = 0;
        switch (opt) {
        case 'h':
            printf("usage: hopctl [-c FILE] %s\n\n%s", current->synopsis, current->help);
            return -1;
        case 'C':
            bit = OPT_CAMPAIGN;
            o->campaign = optarg;
            break;
        case 'f':
            bit = OPT_FORCE;
            o->force = true;
            break;
        case 'p':
            bit = OPT_PURGE;
            o->purge = true;
            break;
        case 'l':
            bit = OPT_LENGTH;
            if (parse_int_opt("length", optarg, CODE_RANDOM_MIN_LEN, CODE_MAX_LEN,
                              &o->length) != EXIT_OK)
                return EXIT_USAGE;
            break;
        case 'd':
            bit = OPT_DAYS;
            if (parse_int_opt("days", optarg, 1, STATS_DAYS_MAX, &o->days) != EXIT_OK)
                return EXIT_USAGE;
            break;
        case 'F':
            bit = OPT_FORMAT;
            if (strcmp(optarg, "table") == 0)
                o->format = FORMAT_TABLE;
            else if (strcmp(optarg, "csv") == 0)
                o->format = FORMAT_CSV;
            else if (strcmp(optarg, "json") == 0)
                o->format = FORMAT_JSON;
            else
                return usage_error("--format: \"%s\" is not table, csv or json", optarg);
            break;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option %s", argv[optind - 1]);
        }
        if (!(current->allowed & bit))
            return usage_error("%s does not take %s", current->name, argv[optind - 1]);
        o->given |= bit;
    }
    ctl->args = argv + optind;
    ctl->nargs = argc - optind;
    if (ctl->nargs < current->min_args)
        return usage_error("%s: missing argument", current->name);
    if (ctl->nargs > current->max_args)
        return usage_error("%s: unexpected argument \"%s\"", current->name,
                           argv[optind + current->max_args]);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ctl ctl = {.conf_path = paths_conf_default};
    int opt, rv;

    opterr = 0;
    /* "+": stop at the command; its options are parsed with it. */
    while ((opt = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            ctl.conf_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("hopctl %s\n", paths_version);
            return EXIT_OK;
        case ':':
            return usage_error("%s needs a value", argv[optind - 1]);
        default:
            return usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind == argc)
        return usage_error("no command");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            current = &commands[i];
    if (current == NULL)
        return usage_error("unknown command \"%s\"", argv[optind]);
    rv = parse_command(&ctl, argc - optind, argv + optind);
    if (rv != EXIT_OK)
        return rv < 0 ? EXIT_OK : rv;

    /* conf_load names each error as FILE:LINE: reason, like hopcount -t. */
    ctl.conf = conf_load(ctl.conf_path, stderr);
    if (ctl.conf == NULL)
        return EXIT_BAD;
    rv = current->run(&ctl);
    store_free(ctl.store);
    conf_free(ctl.conf);
    return rv;
}
