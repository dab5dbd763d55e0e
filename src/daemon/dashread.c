/* dashread: a link's or a campaign's counts, read from Redis for the
 * dashboard: every command sent at once, answers gathered as they come. */
#include "dashread.h"

#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "keys.h"
#include "route.h"
#include "util.h"

enum part_kind {
    PART_LINK,       /* HMGET P:link:CODE url campaign created notrack */
    PART_COUNTS,     /* HMGET the counter hash: totals, then each day's fields */
    PART_UNIQUES,    /* PFCOUNT of one day */
    PART_MEMBERS,    /* SMEMBERS P:campaign:NAME:links */
    PART_ROW_LINK,   /* HGET P:link:CODE url, of one of the campaign's links */
    PART_ROW_COUNTS, /* HMGET P:clicks:CODE total bot scan, of one of them */
    PART_ROW_SERIES, /* HMGET a listed campaign's counters: totals and days */
    PART_ROW_SIZE,   /* SCARD a listed campaign's links */
    PART_HOURS,      /* HMGET a link's h: fields of its last hours */
};

/* One command's answer: which part of the read it fills. */
struct part {
    struct dash_read *rd;
    enum part_kind kind;
    size_t i; /* the day, or the row */
};

static void fail(struct dash_read *rd, const char *why)
{
    if (rd->failed[0] == '\0')
        snprintf(rd->failed, sizeof(rd->failed), "%s", why);
}

/* A reply that is not the shape asked for: fail with Redis's words. */
static void unexpected(struct dash_read *rd, const redisReply *r)
{
    fail(rd, r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer from Redis");
}

/* A count field: absent is 0; anything but an integer fails the read. */
static long long count_of(struct dash_read *rd, const redisReply *r)
{
    long long v = 0;
    if (r->type == REDIS_REPLY_STRING && util_parse_ll(r->str, &v) != 0)
        fail(rd, "a counter field is not a count");
    return v;
}

static void finish(struct dash_read *rd);

static void on_part(redisReply *reply, const struct route_via *via, void *arg);

/* A command waiting for room on the wire: its part and its words, copied
 * into the same allocation, after it. */
struct dash_cmd {
    struct dash_cmd *next;
    struct part *p;
    int argc;
    const char **argv; /* argv[1] is the key */
};

static void cmd_free(struct dash_cmd *c)
{
    free(c->p);
    free(c);
}

/* Put queued commands on the wire while fewer than DASHREAD_INFLIGHT are;
 * once one cannot be sent the read fails, and what waits is dropped. */
static void pump(struct dash_read *rd)
{
    while (rd->queue != NULL && (rd->inflight < DASHREAD_INFLIGHT || rd->failed[0])) {
        struct dash_cmd *c = rd->queue;
        rd->queue = c->next;
        if (rd->queue == NULL)
            rd->queue_tail = &rd->queue;
        bool sent = rd->failed[0] == '\0' &&
                    route_command(rd->r, c->argv[1], strlen(c->argv[1]), NULL, 0, on_part,
                                  c->p, c->argc, c->argv, NULL) == 0;
        if (sent) {
            c->p = NULL; /* the answer frees it */
            rd->inflight++;
        } else {
            fail(rd, "Redis is not reachable");
            rd->pending--;
        }
        cmd_free(c);
    }
}

/* Queue argv (argv[1] the key) for part (kind, i) and send what the wire
 * has room for; false once the read has failed. */
static bool ask(struct dash_read *rd, enum part_kind kind, size_t i, int argc,
                const char **argv)
{
    size_t words = 0;
    for (int k = 0; k < argc; k++)
        words += strlen(argv[k]) + 1;
    struct dash_cmd *c = xmalloc(sizeof(*c) + (size_t)argc * sizeof(*c->argv) + words);
    c->next = NULL;
    c->p = xmalloc(sizeof(*c->p));
    *c->p = (struct part){rd, kind, i};
    c->argc = argc;
    c->argv = (const char **)(c + 1);
    char *w = (char *)(c->argv + argc);
    for (int k = 0; k < argc; k++) {
        size_t n = strlen(argv[k]) + 1;
        c->argv[k] = memcpy(w, argv[k], n);
        w += n;
    }
    *rd->queue_tail = c;
    rd->queue_tail = &c->next;
    rd->pending++;
    pump(rd);
    return rd->failed[0] == '\0';
}

static void read_link(struct dash_read *rd, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 4) {
        unexpected(rd, r);
        return;
    }
    const redisReply *u = r->element[0], *c = r->element[1], *t = r->element[2],
                     *n = r->element[3];
    if (u->type == REDIS_REPLY_STRING) {
        rd->url = xstrndup(u->str, u->len);
        rd->found = true;
    }
    if (c->type == REDIS_REPLY_STRING && c->len > 0)
        rd->campaign = xstrndup(c->str, c->len);
    if (t->type == REDIS_REPLY_STRING && util_parse_ll(t->str, &rd->created) != 0)
        rd->created = 0;
    rd->notrack = n->type == REDIS_REPLY_STRING && n->len == 1 && n->str[0] == '1';
}

/* A counter hash's totals and days (ask_counts's fields) into t and days;
 * whether any field was there. */
static bool read_series(struct dash_read *rd, const redisReply *r, struct dash_totals *t,
                        struct dash_day *days)
{
    bool any = false;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 + 3 * (size_t)rd->ndays) {
        unexpected(rd, r);
        return false;
    }
    long long v[3];
    for (size_t i = 0; i < r->elements; i++) {
        any |= r->element[i]->type == REDIS_REPLY_STRING;
        v[i % 3] = count_of(rd, r->element[i]);
        if (i % 3 != 2)
            continue;
        if (i == 2)
            *t = (struct dash_totals){v[0], v[1], v[2]};
        else {
            struct dash_day *d = &days[i / 3 - 1];
            d->follows = v[0];
            d->bot = v[1];
            d->scan = v[2];
        }
    }
    return any;
}

/* The campaign's links: read each one's target and totals (the first
 * DASHREAD_LINKS_MAX, by code). */
static int by_code(const void *a, const void *b)
{
    return strcmp(((const struct dash_row *)a)->code, ((const struct dash_row *)b)->code);
}

static void ask_counts(struct dash_read *rd, const char *key, enum part_kind kind,
                       size_t i);

/* Each listed campaign's counters and size. */
static void ask_campaign_rows(struct dash_read *rd)
{
    for (size_t i = 0; i < rd->nrows; i++) {
        const char *name = rd->rows[i].code;
        char clicks[KEYS_MAX], set[KEYS_MAX];
        keys_campaign_clicks(clicks, rd->prefix, name, strlen(name));
        keys_campaign_links(set, rd->prefix, name, strlen(name));
        rd->rows[i].days = xcalloc((size_t)rd->ndays, sizeof(*rd->rows[i].days));
        const char *scard[] = {"SCARD", set};
        ask_counts(rd, clicks, PART_ROW_SERIES, i);
        if (rd->failed[0] != '\0' || !ask(rd, PART_ROW_SIZE, i, 2, scard))
            return;
    }
}

static void read_members(struct dash_read *rd, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY) {
        unexpected(rd, r);
        return;
    }
    bool campaigns = rd->kind == DASH_CAMPAIGNS;
    rd->nlinks = (long long)r->elements;
    rd->found |= r->elements > 0 || campaigns; /* an empty list is a list */
    rd->rows = xcalloc(r->elements ? r->elements : 1, sizeof(*rd->rows));
    for (size_t i = 0; i < r->elements; i++) {
        const redisReply *m = r->element[i];
        bool ok = m->type == REDIS_REPLY_STRING &&
                  (campaigns ? code_campaign_valid(m->str, m->len)
                             : code_valid(m->str, m->len));
        if (ok)
            memcpy(rd->rows[rd->nrows++].code, m->str, m->len); /* zeroed: terminated */
    }
    qsort(rd->rows, rd->nrows, sizeof(*rd->rows), by_code);
    size_t max = campaigns ? DASHREAD_CAMPAIGNS_MAX : DASHREAD_LINKS_MAX;
    if (rd->nrows > max)
        rd->nrows = max;
    if (campaigns) {
        ask_campaign_rows(rd);
        return;
    }
    for (size_t i = 0; i < rd->nrows; i++) {
        const char *code = rd->rows[i].code;
        char link[KEYS_MAX], clicks[KEYS_MAX];
        keys_link(link, rd->prefix, code, strlen(code));
        keys_clicks(clicks, rd->prefix, code, strlen(code));
        const char *hget[] = {"HGET", link, KEYS_FIELD_URL};
        const char *hmget[] = {"HMGET", clicks, KEYS_FIELD_TOTAL, KEYS_FIELD_BOT,
                               KEYS_FIELD_SCAN};
        if (!ask(rd, PART_ROW_LINK, i, 3, hget) || !ask(rd, PART_ROW_COUNTS, i, 5, hmget))
            return;
    }
}

static void read_row(struct dash_read *rd, const struct part *p, const redisReply *r)
{
    struct dash_row *row = &rd->rows[p->i];
    if (p->kind == PART_ROW_SERIES) {
        read_series(rd, r, &row->t, row->days);
        for (int d = 0; d < rd->ndays; d++)
            row->period += row->days[d].follows;
    } else if (p->kind == PART_ROW_SIZE) {
        if (r->type == REDIS_REPLY_INTEGER)
            row->nlinks = r->integer;
        else
            unexpected(rd, r);
    } else if (p->kind == PART_ROW_LINK) {
        if (r->type == REDIS_REPLY_STRING)
            row->url = xstrndup(r->str, r->len);
        else if (r->type != REDIS_REPLY_NIL)
            unexpected(rd, r);
    } else if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        row->t =
            (struct dash_totals){count_of(rd, r->element[0]), count_of(rd, r->element[1]),
                                 count_of(rd, r->element[2])};
    } else {
        unexpected(rd, r);
    }
}

static void on_part(redisReply *reply, const struct route_via *via, void *arg)
{
    struct part *p = arg;
    struct dash_read *rd = p->rd;
    (void)via;
    if (reply == NULL)
        fail(rd, "Redis did not answer");
    else if (p->kind == PART_LINK)
        read_link(rd, reply);
    else if (p->kind == PART_COUNTS)
        rd->found |= read_series(rd, reply, &rd->t, rd->days);
    else if (p->kind == PART_HOURS && reply->type == REDIS_REPLY_ARRAY &&
             reply->elements == DASHREAD_HOURS)
        for (size_t h = 0; h < DASHREAD_HOURS; h++)
            rd->hours[h] = count_of(rd, reply->element[h]);
    else if (p->kind == PART_HOURS)
        unexpected(rd, reply);
    else if (p->kind == PART_UNIQUES && reply->type == REDIS_REPLY_INTEGER)
        rd->days[p->i].uniques = reply->integer;
    else if (p->kind == PART_UNIQUES)
        unexpected(rd, reply);
    else if (p->kind == PART_MEMBERS)
        read_members(rd, reply);
    else
        read_row(rd, p, reply);
    free(p);
    rd->inflight--;
    rd->pending--;
    pump(rd);
    if (rd->pending == 0)
        finish(rd);
}

/* Most followed first; ties by code. */
static int by_total(const void *a, const void *b)
{
    const struct dash_row *x = a, *y = b;
    if (x->t.total != y->t.total)
        return x->t.total < y->t.total ? 1 : -1;
    return strcmp(x->code, y->code);
}

/* Most followed over the days read first; ties by all time, then name. */
static int by_period(const void *a, const void *b)
{
    const struct dash_row *x = a, *y = b;
    if (x->period != y->period)
        return x->period < y->period ? 1 : -1;
    return by_total(a, b);
}

static void finish(struct dash_read *rd)
{
    if (rd->kind != DASH_LINK)
        qsort(rd->rows, rd->nrows, sizeof(*rd->rows),
              rd->kind == DASH_CAMPAIGN ? by_total : by_period);
    rd->done(rd, rd->arg);
}

/* The counter hash's fields asked for, as part (kind, i): totals, then
 * d:, bot:d:, scan:d: of each day. */
static void ask_counts(struct dash_read *rd, const char *key, enum part_kind kind,
                       size_t i)
{
    size_t nf = 5 + 3 * (size_t)rd->ndays;
    const char **argv = xcalloc(nf, sizeof(*argv));
    char(*names)[KEYS_FIELD_MAX] = xcalloc(3 * (size_t)rd->ndays, KEYS_FIELD_MAX);
    argv[0] = "HMGET";
    argv[1] = key;
    argv[2] = KEYS_FIELD_TOTAL;
    argv[3] = KEYS_FIELD_BOT;
    argv[4] = KEYS_FIELD_SCAN;
    for (int d = 0; d < rd->ndays; d++) {
        int64_t hour = (rd->first_day + d) * 24;
        keys_field_day(names[3 * d], hour);
        keys_field_class_day(names[3 * d + 1], KEYS_FIELD_BOT, hour);
        keys_field_class_day(names[3 * d + 2], KEYS_FIELD_SCAN, hour);
        for (int k = 0; k < 3; k++)
            argv[5 + 3 * d + k] = names[3 * d + k];
    }
    ask(rd, kind, i, (int)nf, argv);
    free(names);
    free(argv);
}

/* A link's human follows of each of its last DASHREAD_HOURS hours. */
static void ask_hours(struct dash_read *rd, const char *key)
{
    const char *argv[2 + DASHREAD_HOURS];
    char names[DASHREAD_HOURS][KEYS_FIELD_MAX];
    rd->first_hour = (int64_t)(util_wall_ms() / 3600000u) - (DASHREAD_HOURS - 1);
    argv[0] = "HMGET";
    argv[1] = key;
    for (int h = 0; h < DASHREAD_HOURS; h++) {
        keys_field_hour(names[h], rd->first_hour + h);
        argv[2 + h] = names[h];
    }
    ask(rd, PART_HOURS, 0, 2 + DASHREAD_HOURS, argv);
}

static void ask_uniques(struct dash_read *rd)
{
    bool link = rd->kind == DASH_LINK;
    for (int i = 0; i < rd->ndays; i++) {
        char key[KEYS_MAX], date[KEYS_DATE_MAX];
        keys_date(date, (rd->first_day + i) * 24);
        if (link)
            keys_uniq(key, rd->prefix, rd->name, strlen(rd->name), date);
        else
            keys_campaign_uniq(key, rd->prefix, rd->name, strlen(rd->name), date);
        const char *argv[] = {"PFCOUNT", key};
        if (!ask(rd, PART_UNIQUES, (size_t)i, 2, argv))
            return;
    }
}

void dash_read_start(struct route *r, const char *prefix, bool uniques,
                     enum dash_kind kind, const char *name, int64_t first_day, int ndays,
                     void (*done)(struct dash_read *rd, void *arg), void *arg)
{
    struct dash_read *rd = xcalloc(1, sizeof(*rd));
    rd->queue_tail = &rd->queue;
    rd->uniques = uniques;
    rd->kind = kind;
    util_strlcpy(rd->name, name, sizeof(rd->name));
    rd->first_day = first_day;
    rd->ndays = ndays;
    rd->days = xcalloc((size_t)ndays, sizeof(*rd->days));
    rd->r = r;
    rd->prefix = prefix;
    rd->done = done;
    rd->arg = arg;
    /* One more than the parts, so that no answer finishes the read while
     * the rest are still being sent. */
    rd->pending = 1;
    size_t len = strlen(name);
    char key[KEYS_MAX];
    if (kind == DASH_CAMPAIGNS) {
        keys_campaigns(key, prefix);
        const char *argv[] = {"SMEMBERS", key};
        ask(rd, PART_MEMBERS, 0, 2, argv);
        if (--rd->pending == 0)
            finish(rd);
        return;
    }
    if (kind == DASH_LINK) {
        char link[KEYS_MAX];
        keys_link(link, prefix, name, len);
        const char *argv[] = {"HMGET",
                              link,
                              KEYS_FIELD_URL,
                              KEYS_FIELD_CAMPAIGN,
                              KEYS_FIELD_CREATED,
                              KEYS_FIELD_NOTRACK};
        ask(rd, PART_LINK, 0, 6, argv);
        keys_clicks(key, prefix, name, len);
    } else {
        char set[KEYS_MAX];
        keys_campaign_links(set, prefix, name, len);
        const char *argv[] = {"SMEMBERS", set};
        ask(rd, PART_MEMBERS, 0, 2, argv);
        keys_campaign_clicks(key, prefix, name, len);
    }
    if (rd->failed[0] == '\0')
        ask_counts(rd, key, PART_COUNTS, 0);
    if (rd->failed[0] == '\0' && kind == DASH_LINK)
        ask_hours(rd, key);
    if (rd->failed[0] == '\0' && rd->uniques)
        ask_uniques(rd);
    if (--rd->pending == 0)
        finish(rd);
}

void dash_read_free(struct dash_read *rd)
{
    if (rd == NULL)
        return;
    for (size_t i = 0; i < rd->nrows; i++) {
        free(rd->rows[i].url);
        free(rd->rows[i].days);
    }
    free(rd->rows);
    free(rd->days);
    free(rd->url);
    free(rd->campaign);
    free(rd);
}
