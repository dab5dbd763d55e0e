/* store: hopctl's reads and link writes, in every Redis mode (rnodes). A
 * link write is one single-key Lua script, so the link and the P:events
 * message change together or not at all; its campaign sets follow (SADD,
 * SREM), idempotent and repaired by any later write of the link. The
 * daemons count by the link's own campaign field, never by the sets. */
#ifndef HOPCOUNT_STORE_H
#define HOPCOUNT_STORE_H

#include <hiredis.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "conf.h"

/* What a link write did. */
enum store_result {
    STORE_UNCHANGED = 0, /* the link already had this target and campaign */
    STORE_EXISTS = 1,    /* it has another target or campaign; kept (no force) */
    STORE_MOVED = 2,     /* its campaign was not the one named: nothing done */
    STORE_ADDED = 3,     /* written: a new link */
    STORE_REPLACED = 4,  /* written over an existing link (force) */
    STORE_REFUSED = 5,   /* Redis answered with an error (e.g. a non-hash key) */
};

/* A link to write; the fields are validated by the caller. campaign_len 0
 * means none. */
struct store_link {
    const char *code;
    size_t code_len;
    const char *url;
    size_t url_len;
    const char *campaign;
    size_t campaign_len;
    bool notrack; /* redirected, never counted (hopctl --no-track) */
};

struct store;

/* Connect as conf c says (mode single: unix_socket, else host:port; mode
 * sentinel: the primary the sentinels name; mode cluster: the slot map;
 * connect and command timeouts; AUTH; SELECT) and load the scripts. c is borrowed and
 * must outlive the store. NULL with a one-line reason in err on failure. */
struct store *store_open(const struct conf *c, char *err, size_t errsz);
void store_free(struct store *s);

const char *store_prefix(const struct store *s);

/* Reads. A link as read back: the caller sets code; url is NULL when the
 * link is gone, campaign NULL when it has none, error Redis's answer when it
 * refused the read (a key of another type); all three the caller's to free. */
struct store_read {
    char *code;
    char *url;
    char *campaign;
    char *error;
    long long created;
    bool notrack;
};

/* fn(code, len, arg) for each valid code among all links (SCAN of
 * P:link:*, never KEYS) or, with campaign, among its set's members (SSCAN);
 * a code may come more than once. 0, or -1 with err. */
int store_scan_codes(struct store *s, const char *campaign,
                     void (*fn)(const char *code, size_t len, void *arg), void *arg,
                     char *err, size_t errsz);

/* fn(key, len, arg) for each key matching the glob match on every primary
 * (SCAN; a key may come more than once). 0, or -1 with err. */
int store_scan_keys(struct store *s, const char *match,
                    void (*fn)(const char *key, size_t len, void *arg), void *arg,
                    char *err, size_t errsz);

/* Keys, each once, sorted. */
struct store_keys {
    char **v;
    size_t n, cap;
};

/* Add to out every key matching each glob of match[0..nmatch) on every
 * primary (SCAN), sorted, each once. 0, or -1 with err. */
int store_list_keys(struct store *s, const char *const *match, size_t nmatch,
                    struct store_keys *out, char *err, size_t errsz);
void store_keys_free(struct store_keys *k);

/* DEL each of keys[0..n) where it lives; *deleted counts those that were
 * there. 0, or -1 with err. */
int store_del_keys(struct store *s, char *const *keys, size_t n, long long *deleted,
                   char *err, size_t errsz);

/* Read the links of v[0..n) (HMGET url campaign created notrack), pipelined. 0, or
 * -1 with err. */
int store_read_links(struct store *s, struct store_read *v, size_t n, char *err,
                     size_t errsz);

/* HMGET key fields[0..n) as counts into out (0 for an absent field); *any
 * says whether one was there. 0, or -1 with err (Redis failed, or a field
 * holds something that is not a count: named, its value shown safely). */
int store_read_counts(struct store *s, const char *key, const char *const *fields,
                      size_t n, long long *out, bool *any, char *err, size_t errsz);

/* SADD the campaign names[0..n) to P:campaigns (the dashboard's list of
 * campaigns). 0, or -1 with err. */
int store_index_campaigns(struct store *s, char *const *names, size_t n, char *err,
                          size_t errsz);

/* SCARD key into *n. 0, or -1 with err. */
int store_set_size(struct store *s, const char *key, long long *n, char *err,
                   size_t errsz);

/* PFCOUNT key (a HyperLogLog of unique followers; 0 when absent) into *n.
 * 0, or -1 with err. */
int store_uniques(struct store *s, const char *key, long long *n, char *err,
                  size_t errsz);

/* Queue the write of l without waiting (pipelining). believed is the campaign
 * the caller thinks the link is in now (NULL or "" for none or no link): when
 * it is not, the write does nothing and answers STORE_MOVED. With force, an
 * existing link with another target or campaign is replaced, keeping its
 * created time. created: unix seconds for a new link. 0 or -1 (err). */
int store_set_append(struct store *s, const struct store_link *l, bool force,
                     const char *believed, int64_t created, char *err, size_t errsz);
/* The answer to the oldest queued write. -1 only when the connection failed
 * (err); a Redis error reply is STORE_REFUSED with its text in err. */
int store_set_reply(struct store *s, enum store_result *res, char *err, size_t errsz);

/* One write, start to end: looks up the link's campaign first and retries
 * while another writer moves it. Never answers STORE_MOVED. */
int store_set(struct store *s, const struct store_link *l, bool force,
              enum store_result *res, char *err, size_t errsz);

/* Run the prune script on key (src/cli/lua/prune.lua: args are its ARGV
 * after the dry flag, "scan" HOUR DAY or "names" NHOURS NAME...; dry: count
 * only); *hours and *days say how many fields went. 0, 1 when key is not a
 * hash (left alone), or -1 with err. */
int store_prune(struct store *s, const char *key, bool dry, const char *const *args,
                size_t nargs, long long *hours, long long *days, char *err, size_t errsz);

/* GET key into buf: 1 found, 0 absent, -1 with err. SET key value: 0 or -1. */
int store_get_string(struct store *s, const char *key, char *buf, size_t cap, char *err,
                     size_t errsz);
int store_put_string(struct store *s, const char *key, const char *value, char *err,
                     size_t errsz);

/* Remove the link code (and its code from its campaign's set) and publish;
 * with purge, delete its counters too. *removed: bit 0 the link was there,
 * bit 1 counters were deleted. 0 or -1 (err). */
int store_rm(struct store *s, const char *code, bool purge, int *removed, char *err,
             size_t errsz);

#endif
