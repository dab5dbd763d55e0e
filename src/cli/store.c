/* store: hopctl's reads and link writes, on rnodes (every Redis mode). A
 * link write is one single-key script on the link (the link and the
 * P:events message change together), then the campaign sets' SADD/SREM on
 * whichever node holds them: idempotent, and repaired by any later write of
 * the link. */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "code.h"
#include "keys.h"
#include "lua_links.h"
#include "rnodes.h"
#include "util.h"

#define STORE_READ_BATCH 1024 /* pipelined reads in flight at once */
#define STORE_ATTEMPTS 5      /* a command redirected (a slot moving) is tried again */
#define STORE_QUEUE_MAX 65536 /* link writes queued and unanswered */
#define STORE_INDEXED_MAX 1024 /* campaigns a run remembers having indexed */

enum { SCRIPT_SET = 0, SCRIPT_RM = 1, SCRIPT_PRUNE = 2, NSCRIPTS = 3 };

/* A queued link write: where its answer comes from, and the set updates
 * that follow it once it is answered. */
struct queued {
    redisContext *c;
    char code[CODE_MAX_LEN + 1];
    char newset[KEYS_MAX]; /* "" when the link has no campaign */
    char newcamp[CAMPAIGN_MAX_LEN + 1]; /* its campaign, for P:campaigns */
    char oldset[KEYS_MAX]; /* "" when no set is left */
};

/* A set update to send once every queued write is answered. */
struct followup {
    bool add;
    char set[KEYS_MAX];
    char code[CODE_MAX_LEN + 1];
};

struct store {
    struct rnodes *nodes;
    const struct conf *conf;
    char events[KEYS_MAX];
    struct rnodes_script scripts[NSCRIPTS];
    struct queued *queue; /* a FIFO: head .. head + count */
    size_t head, count, cap;
    struct followup *follow;
    size_t nfollow, follow_cap;
    char campaigns[KEYS_MAX]; /* P:campaigns */
    /* Campaigns put in P:campaigns by this run (the first STORE_INDEXED_MAX),
     * so that an import adds each once. */
    char (*indexed)[CAMPAIGN_MAX_LEN + 1];
    size_t nindexed;
};

struct store *store_open(const struct conf *c, char *err, size_t errsz)
{
    struct store *s = xcalloc(1, sizeof(*s));
    s->conf = c;
    s->scripts[SCRIPT_SET] = (struct rnodes_script){lua_link_set, lua_link_set_len, ""};
    s->scripts[SCRIPT_RM] = (struct rnodes_script){lua_link_rm, lua_link_rm_len, ""};
    s->scripts[SCRIPT_PRUNE] = (struct rnodes_script){lua_prune, lua_prune_len, ""};
    s->nodes = rnodes_open(c, s->scripts, NSCRIPTS, err, errsz);
    if (s->nodes == NULL) {
        free(s);
        return NULL;
    }
    keys_events(s->events, c->key_prefix);
    keys_campaigns(s->campaigns, c->key_prefix);
    s->indexed = xcalloc(STORE_INDEXED_MAX, sizeof(*s->indexed));
    return s;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    rnodes_free(s->nodes);
    free(s->queue);
    free(s->follow);
    free(s->indexed);
    free(s);
}

const char *store_prefix(const struct store *s)
{
    return s->conf->key_prefix;
}

/* err = "WHAT: Redis's error" or "WHAT: unexpected answer from redis". */
static void bad_answer(const redisReply *r, const char *what, char *err, size_t errsz)
{
    snprintf(err, errsz, "%s: %s", what,
             r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer from redis");
}

static void no_answer(struct store *s, redisContext *c, char *err, size_t errsz)
{
    char addr[300];
    snprintf(err, errsz, "redis %s: %s", rnodes_where(s->nodes, c, addr, sizeof(addr)),
             rnodes_conn_error(s->nodes, c));
}

/* One command on the node holding key, followed there if a slot moved
 * (MOVED, ASK, TRYAGAIN, CLUSTERDOWN: the map is read again, a moment
 * later). The reply (the caller frees it), or NULL with err. */
static redisReply *command(struct store *s, const char *key, int argc, const char **argv,
                           const size_t *lens, char *err, size_t errsz)
{
    for (int attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
        redisContext *c = rnodes_for(s->nodes, key, strlen(key), err, errsz);
        if (c == NULL)
            return NULL;
        redisReply *r = redisCommandArgv(c, argc, argv, lens);
        if (r == NULL) {
            no_answer(s, c, err, errsz);
            return NULL;
        }
        if (!rnodes_redirected(r))
            return r;
        snprintf(err, errsz, "%s: %s", key, r->str);
        freeReplyObject(r);
        usleep(50000u * (unsigned)attempt);
        if (rnodes_refresh(s->nodes, err, errsz) != 0)
            return NULL;
    }
    return NULL;
}

/* One SCAN (or SSCAN of set) cursor walk on c: each member or key, less
 * its first skip bytes, to fn; with codes, only those that are valid codes. */
static int scan_node(struct store *s, redisContext *c, const char *set, const char *match,
                     size_t skip, bool codes,
                     void (*fn)(const char *code, size_t len, void *arg), void *arg,
                     char *err, size_t errsz)
{
    char cursor[32] = "0";
    const char *cmd = set != NULL ? "SSCAN" : "SCAN";
    do {
        redisReply *r =
            set != NULL ? redisCommand(c, "SSCAN %s %s COUNT 1000", set, cursor)
                        : redisCommand(c, "SCAN %s MATCH %s COUNT 1000", cursor, match);
        if (r == NULL) {
            no_answer(s, c, err, errsz);
            return -1;
        }
        if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
            r->element[0]->type != REDIS_REPLY_STRING ||
            r->element[1]->type != REDIS_REPLY_ARRAY) {
            bad_answer(r, cmd, err, errsz);
            freeReplyObject(r);
            return -1;
        }
        util_strlcpy(cursor, r->element[0]->str, sizeof(cursor));
        const redisReply *keys = r->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            const redisReply *k = keys->element[i];
            if (k->type == REDIS_REPLY_STRING && k->len > skip &&
                (!codes || code_valid(k->str + skip, k->len - skip)))
                fn(k->str + skip, k->len - skip, arg);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int store_scan_codes(struct store *s, const char *campaign,
                     void (*fn)(const char *code, size_t len, void *arg), void *arg,
                     char *err, size_t errsz)
{
    const char *prefix = s->conf->key_prefix;
    if (campaign != NULL) {
        char key[KEYS_MAX];
        keys_campaign_links(key, prefix, campaign, strlen(campaign));
        redisContext *c = rnodes_for(s->nodes, key, strlen(key), err, errsz);
        return c != NULL ? scan_node(s, c, key, NULL, 0, true, fn, arg, err, errsz) : -1;
    }
    /* Every primary's share of the keys. The prefix is [A-Za-z0-9_.-]:
     * nothing in it is a glob character. */
    char match[KEYS_MAX + 1];
    int n = keys_link(match, prefix, "", 0);
    memcpy(match + n, "*", 2);
    for (int i = 0; i < rnodes_count(s->nodes); i++) {
        redisContext *c = rnodes_at(s->nodes, i, err, errsz);
        if (c == NULL ||
            scan_node(s, c, NULL, match, (size_t)n, true, fn, arg, err, errsz) != 0)
            return -1;
    }
    return 0;
}

int store_scan_keys(struct store *s, const char *match,
                    void (*fn)(const char *key, size_t len, void *arg), void *arg,
                    char *err, size_t errsz)
{
    for (int i = 0; i < rnodes_count(s->nodes); i++) {
        redisContext *c = rnodes_at(s->nodes, i, err, errsz);
        if (c == NULL || scan_node(s, c, NULL, match, 0, false, fn, arg, err, errsz) != 0)
            return -1;
    }
    return 0;
}

int store_del_keys(struct store *s, char *const *keys, size_t n, long long *deleted,
                   char *err, size_t errsz)
{
    *deleted = 0;
    for (size_t i = 0; i < n; i++) {
        const char *argv[] = {"DEL", keys[i]};
        redisReply *r = command(s, keys[i], 2, argv, NULL, err, errsz);
        if (r == NULL)
            return -1;
        if (r->type == REDIS_REPLY_INTEGER)
            *deleted += r->integer;
        freeReplyObject(r);
    }
    return 0;
}

/* Read one HMGET url campaign created notrack answer into v. */
static void read_link_reply(struct store_read *v, const redisReply *r)
{
    if (r->type == REDIS_REPLY_ARRAY && r->elements == 4) {
        const redisReply *u = r->element[0], *c = r->element[1], *t = r->element[2],
                         *nt = r->element[3];
        v->notrack = nt->type == REDIS_REPLY_STRING && nt->len == 1 && nt->str[0] == '1';
        if (u->type == REDIS_REPLY_STRING)
            v->url = xstrndup(u->str, u->len);
        if (c->type == REDIS_REPLY_STRING && c->len > 0)
            v->campaign = xstrndup(c->str, c->len);
        if (t->type == REDIS_REPLY_STRING)
            util_parse_ll(t->str, &v->created);
    } else if (r->type == REDIS_REPLY_ERROR) {
        v->error = xstrndup(r->str, r->len);
    }
}

int store_read_links(struct store *s, struct store_read *v, size_t n, char *err,
                     size_t errsz)
{
    const char *prefix = s->conf->key_prefix;
    redisContext **via = xcalloc(STORE_READ_BATCH, sizeof(*via));
    int rv = 0;
    for (size_t base = 0; base < n && rv == 0; base += STORE_READ_BATCH) {
        size_t end = base + STORE_READ_BATCH < n ? base + STORE_READ_BATCH : n;
        /* Pipelined on each key's node; each node answers in order. */
        for (size_t i = base; i < end; i++) {
            char key[KEYS_MAX];
            keys_link(key, prefix, v[i].code, strlen(v[i].code));
            via[i - base] = rnodes_for(s->nodes, key, strlen(key), err, errsz);
            if (via[i - base] == NULL) {
                rv = -1;
                break;
            }
            redisAppendCommand(via[i - base], "HMGET %s %s %s %s %s", key, KEYS_FIELD_URL,
                               KEYS_FIELD_CAMPAIGN, KEYS_FIELD_CREATED,
                               KEYS_FIELD_NOTRACK);
        }
        for (size_t i = base; i < end && rv == 0; i++) {
            redisReply *r = NULL;
            if (redisGetReply(via[i - base], (void **)&r) != REDIS_OK || r == NULL) {
                no_answer(s, via[i - base], err, errsz);
                rv = -1;
                break;
            }
            if (!rnodes_redirected(r))
                read_link_reply(&v[i], r);
            freeReplyObject(r);
        }
        /* A key whose slot moved meanwhile: read alone, where it is now. */
        for (size_t i = base; i < end && rv == 0; i++) {
            if (v[i].url != NULL || v[i].error != NULL)
                continue;
            char key[KEYS_MAX];
            keys_link(key, prefix, v[i].code, strlen(v[i].code));
            const char *argv[] = {"HMGET",
                                  key,
                                  KEYS_FIELD_URL,
                                  KEYS_FIELD_CAMPAIGN,
                                  KEYS_FIELD_CREATED,
                                  KEYS_FIELD_NOTRACK};
            redisReply *r = command(s, key, 6, argv, NULL, err, errsz);
            if (r == NULL)
                rv = -1;
            else
                read_link_reply(&v[i], r);
            freeReplyObject(r);
        }
    }
    free(via);
    return rv;
}

int store_read_counts(struct store *s, const char *key, const char *const *fields,
                      size_t n, long long *out, bool *any, char *err, size_t errsz)
{
    const char **argv = xcalloc(n + 2, sizeof(*argv));
    argv[0] = "HMGET";
    argv[1] = key;
    memcpy(argv + 2, fields, n * sizeof(*argv));
    redisReply *r = command(s, key, (int)n + 2, argv, NULL, err, errsz);
    free(argv);
    if (r == NULL)
        return -1;
    int rv = -1;
    if (r->type != REDIS_REPLY_ARRAY || r->elements != n) {
        bad_answer(r, key, err, errsz);
        goto out;
    }
    *any = false;
    for (size_t i = 0; i < n; i++) {
        const redisReply *e = r->element[i];
        out[i] = 0;
        if (e->type != REDIS_REPLY_STRING)
            continue;
        *any = true;
        if (util_parse_ll(e->str, &out[i]) != 0 || out[i] < 0) {
            char shown[200];
            snprintf(err, errsz, "%s: field %s holds \"%s\", not a count", key, fields[i],
                     util_shown(e->str, e->len, shown, sizeof(shown)));
            goto out;
        }
    }
    rv = 0;
out:
    freeReplyObject(r);
    return rv;
}

/* cmd key, whose answer is an integer, into *n. 0, or -1 with err. */
static int key_integer(struct store *s, const char *cmd, const char *key, long long *n,
                       char *err, size_t errsz)
{
    const char *argv[] = {cmd, key};
    redisReply *r = command(s, key, 2, argv, NULL, err, errsz);
    if (r == NULL)
        return -1;
    int rv = 0;
    if (r->type == REDIS_REPLY_INTEGER)
        *n = r->integer;
    else {
        bad_answer(r, key, err, errsz);
        rv = -1;
    }
    freeReplyObject(r);
    return rv;
}

int store_set_size(struct store *s, const char *key, long long *n, char *err,
                   size_t errsz)
{
    return key_integer(s, "SCARD", key, n, err, errsz);
}

int store_uniques(struct store *s, const char *key, long long *n, char *err, size_t errsz)
{
    return key_integer(s, "PFCOUNT", key, n, err, errsz);
}

int store_index_campaigns(struct store *s, char *const *names, size_t n, char *err,
                          size_t errsz)
{
    for (size_t base = 0; base < n; base += STORE_READ_BATCH) {
        size_t k = n - base < STORE_READ_BATCH ? n - base : STORE_READ_BATCH;
        const char **argv = xcalloc(k + 2, sizeof(*argv));
        argv[0] = "SADD";
        argv[1] = s->campaigns;
        for (size_t i = 0; i < k; i++)
            argv[2 + i] = names[base + i];
        redisReply *r = command(s, s->campaigns, (int)(k + 2), argv, NULL, err, errsz);
        free(argv);
        if (r == NULL)
            return -1;
        int rv = r->type == REDIS_REPLY_INTEGER ? 0 : -1;
        if (rv != 0)
            bad_answer(r, s->campaigns, err, errsz);
        freeReplyObject(r);
        if (rv != 0)
            return -1;
    }
    return 0;
}

/* The set key of campaign[0..len) into buf, or "" when it names no set the
 * daemon would accept (a link other tools wrote). */
static void set_key(const struct store *s, const char *campaign, size_t len, char *buf)
{
    buf[0] = '\0';
    if (len > 0 && code_campaign_valid(campaign, len))
        keys_campaign_links(buf, s->conf->key_prefix, campaign, len);
}

int store_set_append(struct store *s, const struct store_link *l, bool force,
                     const char *believed, int64_t created, char *err, size_t errsz)
{
    char link[KEYS_MAX], when[24];
    size_t blen = believed ? strlen(believed) : 0;

    if (keys_link(link, s->conf->key_prefix, l->code, l->code_len) < 0) {
        snprintf(err, errsz, "code too long for a key");
        return -1;
    }
    if (s->count == STORE_QUEUE_MAX) {
        snprintf(err, errsz, "too many link writes queued");
        return -1;
    }
    redisContext *c = rnodes_for(s->nodes, link, strlen(link), err, errsz);
    if (c == NULL)
        return -1;
    snprintf(when, sizeof(when), "%" PRId64, created);
    const char *argv[] = {"EVALSHA",
                          s->scripts[SCRIPT_SET].sha,
                          "1",
                          link,
                          l->url,
                          l->campaign_len ? l->campaign : "",
                          when,
                          force ? "1" : "0",
                          blen ? believed : "",
                          s->events,
                          l->code,
                          l->notrack ? "1" : ""};
    size_t lens[] = {7,
                     40,
                     1,
                     strlen(link),
                     l->url_len,
                     l->campaign_len,
                     strlen(when),
                     1,
                     blen,
                     strlen(s->events),
                     l->code_len,
                     l->notrack ? 1 : 0};
    if (redisAppendCommandArgv(c, 12, argv, lens) != REDIS_OK) {
        no_answer(s, c, err, errsz);
        return -1;
    }
    if (s->count == s->cap) { /* grow the ring, unrolled from head */
        size_t cap = s->cap ? s->cap * 2 : 64;
        struct queued *q = xcalloc(cap, sizeof(*q));
        for (size_t i = 0; i < s->count; i++)
            q[i] = s->queue[(s->head + i) % s->cap];
        free(s->queue);
        s->queue = q;
        s->cap = cap;
        s->head = 0;
    }
    struct queued *q = &s->queue[(s->head + s->count++) % s->cap];
    q->c = c;
    memcpy(q->code, l->code, l->code_len);
    q->code[l->code_len] = '\0';
    set_key(s, l->campaign, l->campaign_len, q->newset);
    q->newcamp[0] = '\0';
    if (q->newset[0] != '\0') {
        memcpy(q->newcamp, l->campaign, l->campaign_len);
        q->newcamp[l->campaign_len] = '\0';
    }
    /* The set it leaves: its believed campaign's, when that is another. */
    q->oldset[0] = '\0';
    if (blen > 0 && (blen != l->campaign_len || memcmp(believed, l->campaign, blen) != 0))
        set_key(s, believed, blen, q->oldset);
    return 0;
}

/* Whether this run put campaign in P:campaigns already; notes it if not
 * (while there is room to remember it). */
static bool indexed(struct store *s, const char *campaign)
{
    for (size_t i = 0; i < s->nindexed; i++)
        if (strcmp(s->indexed[i], campaign) == 0)
            return true;
    if (s->nindexed < STORE_INDEXED_MAX)
        util_strlcpy(s->indexed[s->nindexed++], campaign, sizeof(*s->indexed));
    return false;
}

static void follow(struct store *s, bool add, const char *set, const char *code)
{
    if (s->nfollow == s->follow_cap) {
        s->follow_cap = s->follow_cap ? s->follow_cap * 2 : 64;
        s->follow = xrealloc(s->follow, s->follow_cap * sizeof(*s->follow));
    }
    struct followup *f = &s->follow[s->nfollow++];
    f->add = add;
    util_strlcpy(f->set, set, sizeof(f->set));
    util_strlcpy(f->code, code, sizeof(f->code));
}

/* Send the set updates of the answered writes (every connection is idle:
 * nothing queued is unanswered), pipelined per node, and read them. */
static int send_followups(struct store *s, char *err, size_t errsz)
{
    int rv = 0;
    size_t n = s->nfollow;
    s->nfollow = 0;
    for (size_t base = 0; base < n && rv == 0; base += STORE_READ_BATCH) {
        size_t end = base + STORE_READ_BATCH < n ? base + STORE_READ_BATCH : n;
        redisContext *via[STORE_READ_BATCH];
        for (size_t i = base; i < end; i++) {
            const struct followup *f = &s->follow[i];
            via[i - base] = rnodes_for(s->nodes, f->set, strlen(f->set), err, errsz);
            if (via[i - base] == NULL)
                return -1;
            redisAppendCommand(via[i - base], f->add ? "SADD %s %s" : "SREM %s %s",
                               f->set, f->code);
        }
        for (size_t i = base; i < end; i++) {
            const struct followup *f = &s->follow[i];
            redisReply *r = NULL;
            if (redisGetReply(via[i - base], (void **)&r) != REDIS_OK || r == NULL) {
                no_answer(s, via[i - base], err, errsz);
                return -1;
            }
            bool moved = rnodes_redirected(r);
            if (r->type != REDIS_REPLY_INTEGER && !moved && rv == 0) {
                bad_answer(r, f->set, err, errsz);
                rv = -1;
            }
            freeReplyObject(r);
            if (moved && rv == 0) { /* the set's slot moved meanwhile: alone, again */
                const char *argv[] = {f->add ? "SADD" : "SREM", f->set, f->code};
                redisReply *again = command(s, f->set, 3, argv, NULL, err, errsz);
                if (again == NULL)
                    rv = -1;
                freeReplyObject(again);
            }
        }
    }
    return rv;
}

/* Every queued write answered: the set updates, then (wait_replicas) the
 * replicas' confirmation of all of it. */
static int settle(struct store *s, char *err, size_t errsz)
{
    if (s->nfollow > 0 && send_followups(s, err, errsz) != 0)
        return -1;
    if (s->conf->wait_replicas > 0)
        return rnodes_wait(s->nodes, s->conf->wait_replicas, s->conf->wait_timeout_ms,
                           err, errsz);
    return 0;
}

int store_set_reply(struct store *s, enum store_result *res, char *err, size_t errsz)
{
    struct queued q = s->queue[s->head];
    s->head = (s->head + 1) % s->cap;
    s->count--;
    redisReply *r = NULL;
    if (redisGetReply(q.c, (void **)&r) != REDIS_OK || r == NULL) {
        no_answer(s, q.c, err, errsz);
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= STORE_UNCHANGED &&
        r->integer <= STORE_REPLACED)
        *res = (enum store_result)r->integer;
    else if (rnodes_redirected(r))
        *res = STORE_MOVED; /* its slot moved: written again, synchronously */
    else {
        *res = STORE_REFUSED;
        snprintf(err, errsz, "%s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer from redis");
    }
    freeReplyObject(r);
    if (*res == STORE_UNCHANGED || *res == STORE_ADDED || *res == STORE_REPLACED) {
        /* In its campaign's set (again: repairs links other tools wrote),
         * out of the one it left. */
        if (q.newset[0] != '\0')
            follow(s, true, q.newset, q.code);
        if (q.newcamp[0] != '\0' && !indexed(s, q.newcamp))
            follow(s, true, s->campaigns, q.newcamp);
        if (q.oldset[0] != '\0' && *res != STORE_UNCHANGED)
            follow(s, false, q.oldset, q.code);
    }
    if (s->count == 0)
        return settle(s, err, errsz);
    return 0;
}

/* HGET P:link:code campaign, whole, into *camp (caller frees; "" when none or
 * no link): the scripts compare it byte for byte. 1 when the link exists, 0
 * when not, -1 on error (err). */
static int link_campaign(struct store *s, const char *code, char **camp, char *err,
                         size_t errsz)
{
    char link[KEYS_MAX];
    *camp = NULL;
    if (keys_link(link, s->conf->key_prefix, code, strlen(code)) < 0) {
        snprintf(err, errsz, "code too long for a key");
        return -1;
    }
    const char *argv[] = {"HMGET", link, KEYS_FIELD_CAMPAIGN, KEYS_FIELD_URL};
    redisReply *r = command(s, link, 4, argv, NULL, err, errsz);
    if (r == NULL)
        return -1;
    int rv = -1;
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errsz, "%s: %s", link, r->str);
    else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2)
        snprintf(err, errsz, "%s: unexpected answer from redis", link);
    else {
        const redisReply *c = r->element[0];
        *camp = c->type == REDIS_REPLY_STRING ? xstrndup(c->str, c->len) : xstrdup("");
        /* A link has a url (every writer sets it); "exists" means that. */
        rv = r->element[1]->type == REDIS_REPLY_STRING || c->type == REDIS_REPLY_STRING;
    }
    freeReplyObject(r);
    return rv;
}

int store_set(struct store *s, const struct store_link *l, bool force,
              enum store_result *res, char *err, size_t errsz)
{
    char code[CODE_MAX_LEN + 1], *camp;
    memcpy(code, l->code, l->code_len);
    code[l->code_len] = '\0';
    for (int attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
        if (link_campaign(s, code, &camp, err, errsz) < 0)
            return -1;
        int rv = store_set_append(s, l, force, camp, (int64_t)(util_wall_ms() / 1000),
                                  err, errsz);
        free(camp);
        if (rv != 0 || store_set_reply(s, res, err, errsz) != 0)
            return -1;
        if (*res != STORE_MOVED)
            return 0;
        if (rnodes_refresh(s->nodes, err, errsz) != 0)
            return -1;
    }
    snprintf(err, errsz, "link %s keeps changing under another writer; try again", code);
    return -1;
}

/* Delete code's unique followers' days (P:uniq:CODE:*, found on every
 * primary); *deleted says how many. 0, or -1 with err. */
static int purge_uniques(struct store *s, const char *code, long long *deleted, char *err,
                         size_t errsz)
{
    char match[KEYS_MAX + 8];
    snprintf(match, sizeof(match), "%s:uniq:%s:*", s->conf->key_prefix, code);
    const char *m[] = {match};
    struct store_keys k = {0};
    int rv = store_list_keys(s, m, 1, &k, err, errsz);
    if (rv == 0)
        rv = store_del_keys(s, k.v, k.n, deleted, err, errsz);
    store_keys_free(&k);
    return rv;
}

int store_rm(struct store *s, const char *code, bool purge, int *removed, char *err,
             size_t errsz)
{
    const char *prefix = s->conf->key_prefix;
    char link[KEYS_MAX], set[KEYS_MAX], clicks[KEYS_MAX], *camp;
    size_t clen = strlen(code);

    if (keys_link(link, prefix, code, clen) < 0 ||
        keys_clicks(clicks, prefix, code, clen) < 0) {
        snprintf(err, errsz, "code too long for a key");
        return -1;
    }
    for (int attempt = 0; attempt < STORE_ATTEMPTS; attempt++) {
        if (link_campaign(s, code, &camp, err, errsz) < 0)
            return -1;
        size_t blen = strlen(camp);
        set_key(s, camp, blen, set);
        const char *argv[] = {
            "EVALSHA", s->scripts[SCRIPT_RM].sha, "1", link, camp, s->events, code};
        size_t lens[] = {7, 40, 1, strlen(link), blen, strlen(s->events), clen};
        redisReply *r = command(s, link, 7, argv, lens, err, errsz);
        free(camp);
        if (r == NULL)
            return -1;
        if (r->type != REDIS_REPLY_INTEGER) {
            bad_answer(r, link, err, errsz);
            freeReplyObject(r);
            return -1;
        }
        long long n = r->integer;
        freeReplyObject(r);
        if (n < 0)
            continue; /* its campaign changed meanwhile: look again */
        *removed = (int)n;
        if (n == 1 && set[0] != '\0') {
            const char *srem[] = {"SREM", set, code};
            redisReply *x = command(s, set, 3, srem, NULL, err, errsz);
            if (x == NULL)
                return -1;
            freeReplyObject(x);
        }
        if (purge) {
            const char *del[] = {"DEL", clicks};
            redisReply *x = command(s, clicks, 2, del, NULL, err, errsz);
            if (x == NULL)
                return -1;
            if (x->type == REDIS_REPLY_INTEGER && x->integer > 0)
                *removed |= 2;
            freeReplyObject(x);
            long long days = 0;
            if (purge_uniques(s, code, &days, err, errsz) != 0)
                return -1;
            if (days > 0)
                *removed |= 2;
        }
        return settle(s, err, errsz);
    }
    snprintf(err, errsz, "link %s keeps changing under another writer; try again", code);
    return -1;
}

int store_prune(struct store *s, const char *key, bool dry, const char *const *args,
                size_t nargs, long long *hours, long long *days, char *err, size_t errsz)
{
    const char **argv = xcalloc(5 + nargs, sizeof(*argv));
    argv[0] = "EVALSHA";
    argv[1] = s->scripts[SCRIPT_PRUNE].sha;
    argv[2] = "1";
    argv[3] = key;
    argv[4] = dry ? "1" : "0";
    memcpy(argv + 5, args, nargs * sizeof(*argv));
    redisReply *r = command(s, key, (int)(5 + nargs), argv, NULL, err, errsz);
    free(argv);
    if (r == NULL)
        return -1;
    int rv = -1;
    *hours = *days = 0;
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errsz, "%s: %s", key, r->str);
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 1)
        rv = 1; /* not a hash: left alone */
    else if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
             r->element[0]->type == REDIS_REPLY_INTEGER &&
             r->element[1]->type == REDIS_REPLY_INTEGER) {
        *hours = r->element[0]->integer;
        *days = r->element[1]->integer;
        rv = 0;
    } else
        snprintf(err, errsz, "%s: unexpected answer from redis", key);
    freeReplyObject(r);
    return rv;
}

int store_get_string(struct store *s, const char *key, char *buf, size_t cap, char *err,
                     size_t errsz)
{
    const char *argv[] = {"GET", key};
    redisReply *r = command(s, key, 2, argv, NULL, err, errsz);
    if (r == NULL)
        return -1;
    int rv = 0;
    if (r->type == REDIS_REPLY_STRING) {
        snprintf(buf, cap, "%.*s", (int)r->len, r->str);
        rv = 1;
    } else if (r->type == REDIS_REPLY_ERROR) {
        snprintf(err, errsz, "%s: %s", key, r->str);
        rv = -1;
    }
    freeReplyObject(r);
    return rv;
}

int store_put_string(struct store *s, const char *key, const char *value, char *err,
                     size_t errsz)
{
    const char *argv[] = {"SET", key, value};
    redisReply *r = command(s, key, 3, argv, NULL, err, errsz);
    if (r == NULL)
        return -1;
    int rv = r->type == REDIS_REPLY_STATUS ? 0 : -1;
    if (rv != 0)
        snprintf(err, errsz, "%s: %s", key, r->type == REDIS_REPLY_ERROR ? r->str : "?");
    freeReplyObject(r);
    return rv;
}

static void keys_push(const char *key, size_t len, void *arg)
{
    struct store_keys *k = arg;
    if (k->n == k->cap) {
        k->cap = k->cap ? k->cap * 2 : 1024;
        k->v = xrealloc(k->v, k->cap * sizeof(*k->v));
    }
    k->v[k->n++] = xstrndup(key, len);
}

static int by_key(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int store_list_keys(struct store *s, const char *const *match, size_t nmatch,
                    struct store_keys *out, char *err, size_t errsz)
{
    for (size_t i = 0; i < nmatch; i++)
        if (store_scan_keys(s, match[i], keys_push, out, err, errsz) != 0)
            return -1;
    if (out->n < 2)
        return 0;
    /* SCAN may hand a key over twice: keep each once. */
    qsort(out->v, out->n, sizeof(*out->v), by_key);
    size_t kept = 1;
    for (size_t i = 1; i < out->n; i++) {
        if (strcmp(out->v[i], out->v[kept - 1]) == 0)
            free(out->v[i]);
        else
            out->v[kept++] = out->v[i];
    }
    out->n = kept;
    return 0;
}

void store_keys_free(struct store_keys *k)
{
    for (size_t i = 0; i < k->n; i++)
        free(k->v[i]);
    free(k->v);
    k->v = NULL;
    k->n = k->cap = 0;
}
