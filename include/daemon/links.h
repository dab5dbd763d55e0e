/* links: one worker's link cache (bounded, LRU, XXH3-keyed) in front of
 * P:link:CODE, with negative caching and invalidation from P:events. */
#ifndef HOPCOUNT_LINKS_H
#define HOPCOUNT_LINKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct conf;
struct route;
struct metrics;
struct links;
struct links_entry;
struct tally_hint;

/* A resolved link. Borrowed, and shared by the lookups of one worker: valid
 * until the next call into links on that worker (another request's lookup
 * may come before the caller returns to the loop), so use it, or copy what
 * is needed, first. */
struct link {
    const char *code;
    size_t code_len;
    uint64_t code_hash;
    const char *url; /* already checked by url_target_ok */
    size_t url_len;
    const char *campaign; /* NULL when the link has none */
    size_t campaign_len;
    uint64_t campaign_hash;
    struct tally_hint *code_hint;     /* the entry's own hints for counting it */
    struct tally_hint *campaign_hint; /* (see tally_add_hinted) */
    struct tally_hint *code_uniq_hint, *campaign_uniq_hint; /* tally_add_cell's */
    bool notrack;                     /* the link is never counted (hopctl --no-track) */
};

/* Outcome of a lookup. */
enum links_status {
    LINKS_FOUND = 0,       /* *link is set */
    LINKS_UNKNOWN = 1,     /* no such link, or its target is not emitted */
    LINKS_UNAVAILABLE = 2, /* Redis cannot be asked and nothing is cached */
    LINKS_PENDING = 3,     /* the waiter's function will run exactly once */
};

typedef void links_fn(enum links_status st, const struct link *link, void *arg);

/* A request waiting on a lookup. Owned and embedded by the caller; the links
 * module only links it into its lists. */
struct links_waiter {
    struct links_waiter *next, *prev;
    struct links_entry *entry; /* NULL when not waiting */
    links_fn *fn;
    void *arg;
};

/* A cache of at most max_entries links, asking Redis through r. conf, r and
 * m are borrowed and must outlive it. */
struct links *links_new(const struct conf *conf, struct route *r, size_t max_entries,
                        struct metrics *m);
void links_free(struct links *l);

/* A new bound on cached entries; the least recently used go at once. */
void links_set_max_entries(struct links *l, size_t max_entries);

/* Resolve code[0..len), which must already be valid (code_valid), at
 * monotonic now_ms (a coarse clock read once per request). On FOUND, *out
 * points to the link. On PENDING, w is queued and fn(arg) runs later,
 * exactly once, unless links_cancel(w) comes first. quiet: the request
 * opted out, so nothing it causes may log its code (bad data found by its
 * lookup is counted in the metrics only).
 *
 * An entry past its TTL is served while one refetch runs, as long as the
 * P:events subscription is live (a change would have invalidated it). While
 * it is not (links_set_live), entries older than 1 s are refetched and
 * waited for, so a change is live within about a second in every state. */
enum links_status links_lookup(struct links *l, const char *code, size_t len,
                               uint64_t now_ms, bool quiet, const struct link **out,
                               struct links_waiter *w, links_fn *fn, void *arg);

/* Whether the P:events subscription is up (see links_lookup). */
void links_set_live(struct links *l, bool live);

/* Withdraw a queued waiter; harmless when it is not queued. */
void links_cancel(struct links_waiter *w);

/* Forget code[0..len) so the next lookup asks Redis (a P:events message). */
void links_invalidate(struct links *l, const char *code, size_t len);

/* Treat every entry as stale (the subscription was re-established and
 * messages may have been missed). Stale entries are still served while Redis
 * cannot be reached. */
void links_invalidate_all(struct links *l);

#endif
