/* links: one worker's link cache in front of P:link:CODE. */
#include "links.h"

#include <hiredis.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "conf.h"
#include "hash.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "tally.h"
#include "url.h"
#include "util.h"

#define LINKS_MIN_BUCKETS 1024
#define LINKS_UNWATCHED_MS 1000 /* the age limit while no subscription watches */

/* One code's cache entry; kept small (a million of them must fit in a few
 * hundred MB): the code inline, target and campaign in one allocation. */
struct links_entry {
    struct links_entry *hnext;               /* hash chain */
    struct links_entry *lru_prev, *lru_next; /* in the LRU list when idle with data */
    struct links_waiter *waiters;
    struct links *owner;
    uint64_t code_hash;
    uint64_t campaign_hash;
    uint64_t fetched_ms; /* monotonic: when Redis answered */
    char *strs;          /* "url\0campaign\0" when found, else NULL */
    struct tally_hint code_hint, campaign_hint, code_uniq_hint, campaign_uniq_hint;
    uint32_t gen;
    uint16_t url_len;
    uint8_t code_len;
    uint8_t campaign_len;   /* 0: no campaign */
    unsigned has_data : 1;  /* a Redis answer is held (found or unknown) */
    unsigned found : 1;     /* has_data and the link exists with a good target */
    unsigned fetching : 1;  /* an HMGET is in flight */
    unsigned refetch : 1;   /* invalidated while fetching: the answer is stale at once */
    unsigned notifying : 1; /* waiters are being called: must not be freed */
    unsigned in_lru : 1;
    unsigned bad_logged : 1;
    unsigned stale : 1; /* must be fetched again before it is served as fresh */
    unsigned quiet : 1; /* the fetch in flight was started by an opted-out request */
    unsigned notrack : 1; /* the link says notrack = 1: redirected, never counted */
    char code[]; /* code_len + 1 bytes */
};

struct links {
    const struct conf *conf;
    struct route *r;
    struct metrics *m;
    struct links_entry **buckets;
    size_t nbuckets;
    size_t count;
    size_t max_entries;
    uint32_t gen;
    bool live; /* the P:events subscription is up */
    struct links_entry *lru_head, *lru_tail; /* head is most recent */
    struct link scratch;                     /* what a hit returns */
};

/* The public view of a found entry, in out. */
static const struct link *view(struct links_entry *e, struct link *out)
{
    out->code = e->code;
    out->code_len = e->code_len;
    out->code_hash = e->code_hash;
    out->url = e->strs;
    out->url_len = e->url_len;
    out->campaign = e->campaign_len ? e->strs + e->url_len + 1 : NULL;
    out->campaign_len = e->campaign_len;
    out->campaign_hash = e->campaign_hash;
    out->code_hint = &e->code_hint;
    out->campaign_hint = &e->campaign_hint;
    out->code_uniq_hint = &e->code_uniq_hint;
    out->campaign_uniq_hint = &e->campaign_uniq_hint;
    out->notrack = e->notrack;
    return out;
}

static void lru_unlink(struct links *l, struct links_entry *e)
{
    if (!e->in_lru)
        return;
    if (e->lru_prev)
        e->lru_prev->lru_next = e->lru_next;
    else
        l->lru_head = e->lru_next;
    if (e->lru_next)
        e->lru_next->lru_prev = e->lru_prev;
    else
        l->lru_tail = e->lru_prev;
    e->lru_prev = e->lru_next = NULL;
    e->in_lru = false;
}

static void lru_push(struct links *l, struct links_entry *e)
{
    e->lru_prev = NULL;
    e->lru_next = l->lru_head;
    if (l->lru_head)
        l->lru_head->lru_prev = e;
    else
        l->lru_tail = e;
    l->lru_head = e;
    e->in_lru = true;
}

static struct links_entry **find(struct links *l, uint64_t h, const char *code,
                                 size_t len)
{
    struct links_entry **pp = &l->buckets[h & (l->nbuckets - 1)];
    for (; *pp != NULL; pp = &(*pp)->hnext) {
        struct links_entry *e = *pp;
        if (e->code_hash == h && e->code_len == len && memcmp(e->code, code, len) == 0)
            break;
    }
    return pp;
}

static void entry_free(struct links_entry *e)
{
    free(e->strs);
    free(e);
}

/* Remove an entry that nobody waits on and that is not fetching. */
static void entry_remove(struct links *l, struct links_entry *e)
{
    struct links_entry **pp = find(l, e->code_hash, e->code, e->code_len);
    if (*pp == e)
        *pp = e->hnext;
    lru_unlink(l, e);
    l->count--;
    metric_set(&l->m->cache_entries, l->count);
    entry_free(e);
}

static void grow(struct links *l)
{
    size_t n = l->nbuckets * 2;
    struct links_entry **b = xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < l->nbuckets; i++) {
        struct links_entry *e = l->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->hnext;
            size_t j = e->code_hash & (n - 1);
            e->hnext = b[j];
            b[j] = e;
        }
    }
    free(l->buckets);
    l->buckets = b;
    l->nbuckets = n;
}

struct links *links_new(const struct conf *conf, struct route *r, size_t max_entries,
                        struct metrics *m)
{
    struct links *l = xcalloc(1, sizeof(*l));
    l->conf = conf;
    l->r = r;
    l->m = m;
    l->max_entries = max_entries;
    l->nbuckets = LINKS_MIN_BUCKETS;
    l->buckets = xcalloc(l->nbuckets, sizeof(*l->buckets));
    return l;
}

void links_free(struct links *l)
{
    if (l == NULL)
        return;
    for (size_t i = 0; i < l->nbuckets; i++) {
        struct links_entry *e = l->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->hnext;
            /* Waiters belong to connections that are already gone. */
            for (struct links_waiter *w = e->waiters; w != NULL; w = w->next)
                w->entry = NULL;
            entry_free(e);
        }
    }
    free(l->buckets);
    free(l);
}

/* Not invalidated: what the entry holds is what Redis held when no
 * subscription message said otherwise. */
static bool current(const struct links *l, const struct links_entry *e)
{
    return e->has_data && e->gen == l->gen && !e->stale && !e->refetch;
}

static bool fresh(const struct links *l, const struct links_entry *e, uint64_t now)
{
    uint64_t ttl =
        1000u * (uint64_t)(e->found ? l->conf->cache_ttl_s : l->conf->negative_ttl_s);
    if (!l->live && ttl > LINKS_UNWATCHED_MS)
        ttl = LINKS_UNWATCHED_MS;
    return current(l, e) && now - e->fetched_ms < ttl;
}

static enum links_status answer(struct links *l, struct links_entry *e,
                                const struct link **out)
{
    if (e->found) {
        *out = view(e, &l->scratch);
        return LINKS_FOUND;
    }
    return LINKS_UNKNOWN;
}

/* Drop what e knew about its link. */
static void forget(struct links_entry *e)
{
    free(e->strs);
    e->strs = NULL;
    e->found = false;
    e->url_len = 0;
    e->campaign_len = 0;
    e->notrack = false;
    e->campaign_hint.e = NULL; /* the campaign may change */
    e->campaign_uniq_hint.e = NULL;
}

/* e holds a fresh answer now (found or not): set its lifetime. An entry
 * invalidated while its fetch was in flight expires at once. */
static void settle(struct links *l, struct links_entry *e)
{
    e->has_data = true;
    e->gen = l->gen;
    e->fetched_ms = util_coarse_ms();
    e->stale = e->refetch;
    e->refetch = false;
}

/* Store Redis's answer to HMGET P:link:CODE url campaign notrack in e. */
static void store(struct links *l, struct links_entry *e, redisReply *r)
{
    const char *why = NULL;
    redisReply *url = r->element[0], *camp = r->element[1], *nt = r->element[2];

    forget(e);
    if (url->type == REDIS_REPLY_STRING) {
        if (url_target_ok(url->str, url->len, &why)) {
            e->found = true;
            e->bad_logged = false;
        } else {
            metric_add(&l->m->bad_targets, 1);
            if (!e->bad_logged && !e->quiet) {
                log_warn("event=bad_target code=%s reason=\"%s\"", e->code, why);
                e->bad_logged = true;
            }
        }
    }
    if (!e->found) {
        settle(l, e);
        return;
    }
    size_t clen = 0;
    if (camp->type == REDIS_REPLY_STRING) {
        if (code_campaign_valid(camp->str, camp->len))
            clen = camp->len;
        else if (!e->quiet)
            log_warn("event=bad_campaign code=%s reason=\"campaign name not "
                     "[A-Za-z0-9_.-]{1,64}; counted without campaign\"",
                     e->code);
    }
    /* url_target_ok bounds the URL to 2048 bytes: it fits url_len. */
    e->strs = xmalloc(url->len + 1 + clen + 1);
    memcpy(e->strs, url->str, url->len);
    e->strs[url->len] = '\0';
    e->url_len = (uint16_t)url->len;
    if (clen > 0) {
        memcpy(e->strs + url->len + 1, camp->str, clen);
        e->campaign_hash = hash_bytes(camp->str, clen);
    }
    e->strs[url->len + 1 + clen] = '\0';
    e->campaign_len = (uint8_t)clen;
    e->notrack = nt->type == REDIS_REPLY_STRING && nt->len == 1 && nt->str[0] == '1';
    settle(l, e);
}

static void on_fetch(redisReply *r, const struct route_via *via, void *arg)
{
    struct links_entry *e = arg;
    struct links *l = e->owner;
    enum links_status st;
    (void)via;

    e->fetching = false;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
        store(l, e, r);
        st = e->found ? LINKS_FOUND : LINKS_UNKNOWN;
    } else if (r != NULL && r->type == REDIS_REPLY_ERROR &&
               strncmp(r->str, "WRONGTYPE", 9) == 0) {
        /* P:link:CODE is not a hash: bad data, answered like an unknown code. */
        metric_add(&l->m->bad_targets, 1);
        if (!e->bad_logged && !e->quiet) {
            log_warn("event=bad_link code=%s reason=\"key is not a hash\"", e->code);
            e->bad_logged = true;
        }
        forget(e);
        settle(l, e);
        st = LINKS_UNKNOWN;
    } else {
        metric_add(&l->m->redis_lookup_errors, 1);
        if (r != NULL && r->type == REDIS_REPLY_ERROR && !e->quiet)
            log_warn("event=lookup_error code=%s reason=\"%.120s\"", e->code, r->str);
        /* Serve what we had, if anything, rather than fail the request. */
        st = e->has_data ? (e->found ? LINKS_FOUND : LINKS_UNKNOWN) : LINKS_UNAVAILABLE;
        e->refetch = false;
    }

    /* Detach the waiters first: their functions may look up again. */
    struct link link;
    if (st == LINKS_FOUND)
        view(e, &link);
    struct links_waiter *w = e->waiters;
    e->waiters = NULL;
    e->notifying = true;
    while (w != NULL) {
        struct links_waiter *next = w->next;
        w->entry = NULL;
        w->next = w->prev = NULL;
        w->fn(st, st == LINKS_FOUND ? &link : NULL, w->arg);
        w = next;
    }
    e->notifying = false;
    if (e->fetching)
        return; /* a waiter started a new fetch */
    if (!e->has_data) {
        entry_remove(l, e);
        return;
    }
    lru_push(l, e);
}

/* Make room for one more entry. */
static void evict(struct links *l)
{
    while (l->count >= l->max_entries && l->lru_tail != NULL) {
        entry_remove(l, l->lru_tail);
        metric_add(&l->m->cache_evictions, 1);
    }
}

void links_set_max_entries(struct links *l, size_t max_entries)
{
    l->max_entries = max_entries;
    while (l->count > l->max_entries && l->lru_tail != NULL) {
        entry_remove(l, l->lru_tail);
        metric_add(&l->m->cache_evictions, 1);
    }
}

void links_set_live(struct links *l, bool live)
{
    l->live = live;
}

static void touch(struct links *l, struct links_entry *e)
{
    if (e->in_lru && l->lru_head != e) {
        lru_unlink(l, e);
        lru_push(l, e);
    }
}

/* Ask Redis for e's link. 0, or -1 when the command cannot be sent. */
static int fetch(struct links *l, struct links_entry *e, bool quiet)
{
    char key[KEYS_MAX];
    int klen = keys_link(key, l->conf->key_prefix, e->code, e->code_len);
    const char *argv[] = {"HMGET", key, KEYS_FIELD_URL, KEYS_FIELD_CAMPAIGN,
                          KEYS_FIELD_NOTRACK};
    size_t argvlen[] = {5, (size_t)klen, strlen(KEYS_FIELD_URL),
                        strlen(KEYS_FIELD_CAMPAIGN), strlen(KEYS_FIELD_NOTRACK)};
    if (klen < 0 || route_command(l->r, key, (size_t)klen, NULL, 0, on_fetch, e, 5, argv,
                                  argvlen) != 0)
        return -1;
    metric_add(&l->m->redis_lookups, 1);
    e->fetching = true;
    e->quiet = quiet;
    return 0;
}

enum links_status links_lookup(struct links *l, const char *code, size_t len,
                               uint64_t now, bool quiet, const struct link **out,
                               struct links_waiter *w, links_fn *fn, void *arg)
{
    uint64_t h = hash_bytes(code, len);
    struct links_entry *e = *find(l, h, code, len);

    if (e != NULL && !e->fetching && fresh(l, e, now)) {
        metric_add(&l->m->cache_hits, 1);
        touch(l, e);
        return answer(l, e, out);
    }
    if (e != NULL && l->live && current(l, e) && route_ready(l->r)) {
        /* Past its TTL only, and the subscription would have told of a
         * change: serve it while one refetch (at most) runs behind it, so a
         * hot link never makes its requests wait on Redis. */
        metric_add(&l->m->cache_hits, 1);
        if (!e->fetching && fetch(l, e, quiet) == 0)
            lru_unlink(l, e);
        else
            touch(l, e);
        return answer(l, e, out);
    }
    metric_add(&l->m->cache_misses, 1);
    if (e == NULL || !e->fetching) {
        if (!route_ready(l->r))
            return e != NULL && e->has_data ? answer(l, e, out) : LINKS_UNAVAILABLE;
        if (e == NULL) {
            evict(l);
            e = xcalloc(1, sizeof(*e) + len + 1);
            e->owner = l;
            memcpy(e->code, code, len);
            e->code[len] = '\0';
            e->code_len = (uint8_t)len;
            e->code_hash = h;
            if (l->count >= l->nbuckets)
                grow(l);
            struct links_entry **pp = &l->buckets[h & (l->nbuckets - 1)];
            e->hnext = *pp;
            *pp = e;
            l->count++;
            metric_set(&l->m->cache_entries, l->count);
        }
        if (fetch(l, e, quiet) != 0) {
            if (e->has_data)
                return answer(l, e, out);
            if (e->waiters == NULL && !e->notifying)
                entry_remove(l, e);
            return LINKS_UNAVAILABLE;
        }
        lru_unlink(l, e);
    }
    w->entry = e;
    w->fn = fn;
    w->arg = arg;
    w->prev = NULL;
    w->next = e->waiters;
    if (e->waiters)
        e->waiters->prev = w;
    e->waiters = w;
    return LINKS_PENDING;
}

void links_cancel(struct links_waiter *w)
{
    struct links_entry *e = w->entry;
    if (e == NULL)
        return;
    if (w->prev)
        w->prev->next = w->next;
    else
        e->waiters = w->next;
    if (w->next)
        w->next->prev = w->prev;
    w->next = w->prev = NULL;
    w->entry = NULL;
}

void links_invalidate(struct links *l, const char *code, size_t len)
{
    struct links_entry *e = *find(l, hash_bytes(code, len), code, len);
    if (e == NULL)
        return;
    if (e->fetching)
        e->refetch = true;
    else if (e->notifying || e->waiters != NULL)
        e->stale = true;
    else
        entry_remove(l, e);
}

void links_invalidate_all(struct links *l)
{
    l->gen++;
    for (size_t i = 0; i < l->nbuckets; i++)
        for (struct links_entry *e = l->buckets[i]; e != NULL; e = e->hnext)
            if (e->fetching)
                e->refetch = true;
}
