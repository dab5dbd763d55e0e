/* uniq: the UTC day's hash key, agreed through Redis, and a follower's
 * cell under it. */
#include "uniq.h"

#include <hiredis.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "cidr.h"
#include "conf.h"
#include "hash.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "util.h"

#define DAY_MS 86400000ull

/* One day's key as this worker knows it. */
struct day_key {
    int64_t day;       /* days since the epoch; -1: none */
    uint64_t key;      /* agreed (Redis kept it); 0 until then */
    uint64_t proposal; /* sent with SET NX while asking */
    uint64_t asked_ms; /* when it was last asked (wall clock); 0: ask now */
    bool asking;       /* a SET ... NX GET is in flight */
};

struct uniq {
    const struct conf *conf;
    struct route *r;
    struct metrics *m;
    struct day_key days[2]; /* by day & 1: today's and tomorrow's */
    uint64_t failed_logged_ms;
};

/* A question in flight: it names its day, as the slot may have moved on. */
struct ask {
    struct uniq *u;
    int64_t day;
};

static void wipe(struct day_key *d)
{
    explicit_bzero(&d->key, sizeof(d->key));
    explicit_bzero(&d->proposal, sizeof(d->proposal));
    d->day = -1;
    d->asked_ms = 0;
    d->asking = false;
}

struct uniq *uniq_new(const struct conf *conf, struct route *r, struct metrics *m)
{
    struct uniq *u = xcalloc(1, sizeof(*u));
    u->conf = conf;
    u->r = r;
    u->m = m;
    wipe(&u->days[0]);
    wipe(&u->days[1]);
    return u;
}

void uniq_free(struct uniq *u)
{
    if (u == NULL)
        return;
    wipe(&u->days[0]);
    wipe(&u->days[1]);
    free(u);
}

static void failed(struct uniq *u, const char *why)
{
    uint64_t now = util_wall_ms();
    if (u->failed_logged_ms == 0 || now - u->failed_logged_ms >= 60000) {
        log_warn("event=uniques_key_failed reason=\"%s\"", why);
        u->failed_logged_ms = now;
    }
}

/* 16 lowercase hex digits, not all zero: the key. 0 otherwise. */
static uint64_t parse_key(const char *s, size_t len)
{
    uint64_t k = 0;
    if (len != 16)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (v < 0)
            return 0;
        k = k << 4 | (uint64_t)v;
    }
    return k;
}

/* The key a reply to SET NX GET names: nil, the proposal was kept; a
 * string, the key another proposed first. 0 (logged) for anything else. */
static uint64_t agreed(struct uniq *u, const redisReply *reply, uint64_t proposal)
{
    uint64_t k = 0;
    if (reply == NULL)
        failed(u, "Redis did not answer");
    else if (reply->type == REDIS_REPLY_NIL)
        k = proposal;
    else if (reply->type == REDIS_REPLY_STRING) {
        if ((k = parse_key(reply->str, reply->len)) == 0)
            failed(u, "the day's key in Redis is not 16 hex digits");
    } else if (reply->type == REDIS_REPLY_ERROR)
        failed(u, reply->str);
    else
        failed(u, "unexpected reply to SET NX GET");
    return k;
}

/* The gauge: whether this worker holds today's key. */
static void gauge(struct uniq *u)
{
    int64_t today = (int64_t)(util_wall_ms() / DAY_MS);
    const struct day_key *d = &u->days[today & 1];
    metric_set(&u->m->uniques_keyed, d->day == today && d->key != 0);
}

static void on_key(redisReply *reply, const struct route_via *via, void *arg)
{
    struct ask *q = arg;
    struct day_key *d = &q->u->days[q->day & 1];
    (void)via;
    if (d->day == q->day && d->asking) {
        uint64_t k = agreed(q->u, reply, d->proposal);
        if (k != 0)
            d->key = k; /* another's, if two proposals crossed: all converge */
        else
            d->asked_ms = 0; /* asked again at the next tick */
        explicit_bzero(&d->proposal, sizeof(d->proposal));
        explicit_bzero(&k, sizeof(k));
        d->asking = false;
        gauge(q->u);
    }
    free(q);
}

/* Propose d's day's key: the one agreed, or a new random one. Redis keeps
 * the first proposal (and so gets the agreed key back if it lost it). */
static void ask(struct uniq *u, struct day_key *d, uint64_t now_ms)
{
    d->proposal = d->key;
    while (d->proposal == 0)
        if (getrandom(&d->proposal, sizeof(d->proposal), 0) !=
            (ssize_t)sizeof(d->proposal))
            d->proposal = 0;
    char key[KEYS_MAX], value[17], exat[24];
    int klen = keys_uniq_key(key, u->conf->key_prefix, d->day * 24);
    snprintf(value, sizeof(value), "%016" PRIx64, d->proposal);
    snprintf(exat, sizeof(exat), "%" PRId64, (d->day + 1) * 86400 + UNIQ_GRACE_S);
    const char *argv[] = {"SET", key, value, "NX", "GET", "EXAT", exat};
    size_t lens[] = {3, (size_t)klen, 16, 2, 3, 4, strlen(exat)};
    struct ask *q = xmalloc(sizeof(*q));
    q->u = u;
    q->day = d->day;
    d->asked_ms = now_ms;
    d->asking = klen > 0 && route_command(u->r, key, (size_t)klen, NULL, 0, on_key, q, 7,
                                          argv, lens) == 0;
    if (!d->asking) {
        explicit_bzero(&d->proposal, sizeof(d->proposal));
        d->asked_ms = 0;
        free(q);
    }
    explicit_bzero(value, sizeof(value)); /* hiredis formatted its own copy */
}

/* The slot of day, claimed for it if it holds another (a day over). */
static struct day_key *slot_of(struct uniq *u, int64_t day)
{
    struct day_key *d = &u->days[day & 1];
    if (d->day != day && !d->asking) {
        wipe(d);
        d->day = day;
    }
    return d->day == day ? d : NULL;
}

static void keep(struct uniq *u, int64_t day, uint64_t now_ms)
{
    struct day_key *d = slot_of(u, day);
    if (d != NULL && !d->asking &&
        (d->key == 0 || d->asked_ms == 0 || now_ms - d->asked_ms >= UNIQ_RECHECK_MS))
        ask(u, d, now_ms);
}

void uniq_tick(struct uniq *u)
{
    uint64_t now = util_wall_ms();
    int64_t today = (int64_t)(now / DAY_MS);
    for (int i = 0; i < 2; i++) /* a day that is over: its key goes */
        if (u->days[i].day >= 0 && u->days[i].day < today && !u->days[i].asking)
            wipe(&u->days[i]);
    for (int i = 0; i < 2 && !u->conf->uniques; i++) /* turned off: none kept */
        if (!u->days[i].asking)
            wipe(&u->days[i]);
    if (u->conf->uniques) {
        keep(u, today, now);
        if (now >= (uint64_t)(today + 1) * DAY_MS - UNIQ_AHEAD_S * 1000ull)
            keep(u, today + 1, now);
    }
    gauge(u);
}

hll_cell uniq_cell(struct uniq *u, const struct cidr_addr *a, uint64_t ua_hash,
                   uint64_t now_ms)
{
    int64_t day = (int64_t)(now_ms / DAY_MS);
    const struct day_key *d = &u->days[day & 1];
    if (d->day != day || d->key == 0)
        return 0;
    unsigned char buf[24];
    memcpy(buf, a->b, 16);
    memcpy(buf + 16, &ua_hash, 8);
    hll_cell c = hll_cell_of(hash_bytes_keyed(buf, sizeof(buf), d->key));
    explicit_bzero(buf, sizeof(buf));
    return c;
}
