/* store: hopctl's synchronous Redis connection and its link writes. */
#include "store.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "code.h"
#include "keys.h"
#include "lua_links.h"
#include "util.h"

struct store {
    redisContext *rc;
    const struct conf *conf;
    char events[KEYS_MAX];
    char set_sha[41];
    char rm_sha[41];
};

static const char *where(const struct conf *c, char *buf, size_t sz)
{
    if (c->redis_unix_socket[0] != '\0')
        snprintf(buf, sz, "%s", c->redis_unix_socket);
    else if (strchr(c->redis_host, ':') != NULL)
        snprintf(buf, sz, "[%s]:%d", c->redis_host, c->redis_port);
    else
        snprintf(buf, sz, "%s:%d", c->redis_host, c->redis_port);
    return buf;
}

/* A reply that must be status OK (or a string, for SCRIPT LOAD into out). */
static int expect(struct store *s, redisReply *r, const char *what, char *out,
                  size_t outsz, char *err, size_t errsz)
{
    char addr[300];
    int rv = -1;
    if (r == NULL) {
        snprintf(err, errsz, "redis %s: %s: %s", where(s->conf, addr, sizeof(addr)), what,
                 store_conn_error(s));
        return -1;
    }
    if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errsz, "redis %s: %s: %s", where(s->conf, addr, sizeof(addr)), what,
                 r->str);
    else if (out != NULL && r->type == REDIS_REPLY_STRING && r->len < outsz) {
        memcpy(out, r->str, r->len);
        out[r->len] = '\0';
        rv = 0;
    } else if (out == NULL && r->type == REDIS_REPLY_STATUS)
        rv = 0;
    else
        snprintf(err, errsz, "redis %s: %s: unexpected answer",
                 where(s->conf, addr, sizeof(addr)), what);
    freeReplyObject(r);
    return rv;
}

const char *store_conn_error(const struct store *s)
{
    /* hiredis reports a read timeout as EAGAIN's text: say what it is. */
    static char timeout[96];
    if (s->rc->err == REDIS_ERR_IO && strstr(s->rc->errstr, "temporarily unavailable")) {
        snprintf(timeout, sizeof(timeout), "no answer within command_timeout_ms (%d ms)",
                 s->conf->command_timeout_ms);
        return timeout;
    }
    return s->rc->errstr[0] ? s->rc->errstr : "no answer";
}

struct store *store_open(const struct conf *c, char *err, size_t errsz)
{
    struct store *s = xcalloc(1, sizeof(*s));
    char addr[300];
    struct timeval ct = util_ms_timeval((uint64_t)c->connect_timeout_ms);
    struct timeval cmd = util_ms_timeval((uint64_t)c->command_timeout_ms);

    s->conf = c;
    if (c->redis_unix_socket[0] != '\0')
        s->rc = redisConnectUnixWithTimeout(c->redis_unix_socket, ct);
    else
        s->rc = redisConnectWithTimeout(c->redis_host, c->redis_port, ct);
    if (s->rc == NULL || s->rc->err) {
        snprintf(err, errsz, "redis %s: cannot connect: %s", where(c, addr, sizeof(addr)),
                 s->rc ? s->rc->errstr : "out of memory");
        goto err;
    }
    if (redisSetTimeout(s->rc, cmd) != REDIS_OK) {
        snprintf(err, errsz, "redis %s: cannot set a timeout",
                 where(c, addr, sizeof(addr)));
        goto err;
    }
    if (c->redis_password != NULL &&
        expect(s, redisCommand(s->rc, "AUTH %s", c->redis_password), "AUTH", NULL, 0, err,
               errsz) != 0)
        goto err;
    if (c->redis_db != 0 && expect(s, redisCommand(s->rc, "SELECT %d", c->redis_db),
                                   "SELECT", NULL, 0, err, errsz) != 0)
        goto err;
    if (expect(s, redisCommand(s->rc, "SCRIPT LOAD %b", lua_link_set, lua_link_set_len),
               "SCRIPT LOAD", s->set_sha, sizeof(s->set_sha), err, errsz) != 0 ||
        expect(s, redisCommand(s->rc, "SCRIPT LOAD %b", lua_link_rm, lua_link_rm_len),
               "SCRIPT LOAD", s->rm_sha, sizeof(s->rm_sha), err, errsz) != 0)
        goto err;
    keys_events(s->events, c->key_prefix);
    return s;
err:
    store_free(s);
    return NULL;
}

void store_free(struct store *s)
{
    if (s == NULL)
        return;
    if (s->rc != NULL)
        redisFree(s->rc);
    free(s);
}

#define STORE_READ_BATCH 1024 /* pipelined reads in flight at once */

/* err = "WHAT: Redis's error" or "WHAT: unexpected answer from redis". */
static void bad_answer(const redisReply *r, const char *what, char *err, size_t errsz)
{
    snprintf(err, errsz, "%s: %s", what,
             r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer from redis");
}

int store_scan_codes(struct store *s, const char *campaign,
                     void (*fn)(const char *code, size_t len, void *arg), void *arg,
                     char *err, size_t errsz)
{
    char key[KEYS_MAX], match[KEYS_MAX + 1], cursor[32] = "0";
    const char *prefix = s->conf->key_prefix;
    size_t skip = 0;
    if (campaign != NULL) {
        keys_campaign_links(key, prefix, campaign, strlen(campaign));
    } else {
        /* The prefix is [A-Za-z0-9_.-]: nothing in it is a glob character. */
        int n = keys_link(match, prefix, "", 0);
        memcpy(match + n, "*", 2);
        skip = (size_t)n;
    }
    const char *cmd = campaign != NULL ? "SSCAN" : "SCAN";
    do {
        redisReply *r =
            campaign != NULL
                ? redisCommand(s->rc, "SSCAN %s %s COUNT 1000", key, cursor)
                : redisCommand(s->rc, "SCAN %s MATCH %s COUNT 1000", cursor, match);
        if (r == NULL) {
            snprintf(err, errsz, "redis: %s", store_conn_error(s));
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
                code_valid(k->str + skip, k->len - skip))
                fn(k->str + skip, k->len - skip, arg);
        }
        freeReplyObject(r);
    } while (strcmp(cursor, "0") != 0);
    return 0;
}

int store_read_links(struct store *s, struct store_read *v, size_t n, char *err,
                     size_t errsz)
{
    const char *prefix = s->conf->key_prefix;
    for (size_t base = 0; base < n; base += STORE_READ_BATCH) {
        size_t end = base + STORE_READ_BATCH < n ? base + STORE_READ_BATCH : n;
        for (size_t i = base; i < end; i++) {
            char key[KEYS_MAX];
            keys_link(key, prefix, v[i].code, strlen(v[i].code));
            redisAppendCommand(s->rc, "HMGET %s %s %s %s", key, KEYS_FIELD_URL,
                               KEYS_FIELD_CAMPAIGN, KEYS_FIELD_CREATED);
        }
        for (size_t i = base; i < end; i++) {
            redisReply *r = NULL;
            if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || r == NULL) {
                snprintf(err, errsz, "redis: %s", store_conn_error(s));
                return -1;
            }
            if (r->type == REDIS_REPLY_ARRAY && r->elements == 3) {
                const redisReply *u = r->element[0], *c = r->element[1],
                                 *t = r->element[2];
                if (u->type == REDIS_REPLY_STRING)
                    v[i].url = xstrndup(u->str, u->len);
                if (c->type == REDIS_REPLY_STRING && c->len > 0)
                    v[i].campaign = xstrndup(c->str, c->len);
                if (t->type == REDIS_REPLY_STRING)
                    util_parse_ll(t->str, &v[i].created);
            } else if (r->type == REDIS_REPLY_ERROR) {
                v[i].error = xstrndup(r->str, r->len);
            }
            freeReplyObject(r);
        }
    }
    return 0;
}

int store_read_counts(struct store *s, const char *key, const char *const *fields,
                      size_t n, long long *out, bool *any, char *err, size_t errsz)
{
    const char **argv = xcalloc(n + 2, sizeof(*argv));
    argv[0] = "HMGET";
    argv[1] = key;
    memcpy(argv + 2, fields, n * sizeof(*argv));
    redisReply *r = redisCommandArgv(s->rc, (int)n + 2, argv, NULL);
    free(argv);
    if (r == NULL) {
        snprintf(err, errsz, "redis: %s", store_conn_error(s));
        return -1;
    }
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

int store_set_size(struct store *s, const char *key, long long *n, char *err,
                   size_t errsz)
{
    redisReply *r = redisCommand(s->rc, "SCARD %s", key);
    if (r == NULL) {
        snprintf(err, errsz, "redis: %s", store_conn_error(s));
        return -1;
    }
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

const char *store_prefix(const struct store *s)
{
    return s->conf->key_prefix;
}

int store_set_append(struct store *s, const struct store_link *l, bool force,
                     const char *believed, int64_t created, char *err, size_t errsz)
{
    const char *prefix = s->conf->key_prefix;
    char link[KEYS_MAX], oldset[KEYS_MAX], newset[KEYS_MAX], when[24];
    size_t blen = believed ? strlen(believed) : 0;
    bool oldnamed = false;

    if (keys_link(link, prefix, l->code, l->code_len) < 0) {
        snprintf(err, errsz, "code too long for a key");
        return -1;
    }
    /* A campaign the daemon would not accept has no set to leave. */
    if (blen > 0 && code_campaign_valid(believed, blen) &&
        keys_campaign_links(oldset, prefix, believed, blen) >= 0)
        oldnamed = true;
    else
        memcpy(oldset, link, sizeof(link));
    if (l->campaign_len == 0)
        memcpy(newset, link, sizeof(link));
    else if (keys_campaign_links(newset, prefix, l->campaign, l->campaign_len) < 0) {
        snprintf(err, errsz, "campaign too long for a key");
        return -1;
    }
    snprintf(when, sizeof(when), "%" PRId64, created);

    const char *argv[] = {"EVALSHA",
                          s->set_sha,
                          "3",
                          link,
                          oldset,
                          newset,
                          l->url,
                          l->campaign_len ? l->campaign : "",
                          when,
                          force ? "1" : "0",
                          blen ? believed : "",
                          s->events,
                          l->code,
                          oldnamed ? "1" : "0"};
    size_t lens[] = {7,
                     40,
                     1,
                     strlen(link),
                     strlen(oldset),
                     strlen(newset),
                     l->url_len,
                     l->campaign_len,
                     strlen(when),
                     1,
                     blen,
                     strlen(s->events),
                     l->code_len,
                     1};
    if (redisAppendCommandArgv(s->rc, 14, argv, lens) != REDIS_OK) {
        snprintf(err, errsz, "redis: %s", s->rc->errstr);
        return -1;
    }
    return 0;
}

int store_set_reply(struct store *s, enum store_result *res, char *err, size_t errsz)
{
    char addr[300];
    redisReply *r = NULL;
    if (redisGetReply(s->rc, (void **)&r) != REDIS_OK || r == NULL) {
        snprintf(err, errsz, "redis %s: %s", where(s->conf, addr, sizeof(addr)),
                 store_conn_error(s));
        return -1;
    }
    if (r->type == REDIS_REPLY_INTEGER && r->integer >= STORE_UNCHANGED &&
        r->integer <= STORE_REPLACED)
        *res = (enum store_result)r->integer;
    else {
        *res = STORE_REFUSED;
        snprintf(err, errsz, "%s",
                 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected answer from redis");
    }
    freeReplyObject(r);
    return 0;
}

/* HGET P:link:code campaign, whole, into *camp (caller frees; "" when none or
 * no link): the scripts compare it byte for byte. 1 when the link exists, 0
 * when not, -1 on error (err). */
static int link_campaign(struct store *s, const char *code, char **camp, char *err,
                         size_t errsz)
{
    char link[KEYS_MAX], addr[300];
    *camp = NULL;
    if (keys_link(link, s->conf->key_prefix, code, strlen(code)) < 0) {
        snprintf(err, errsz, "code too long for a key");
        return -1;
    }
    redisReply *r = redisCommand(s->rc, "HGET %s %s", link, KEYS_FIELD_CAMPAIGN);
    redisReply *e = r ? redisCommand(s->rc, "EXISTS %s", link) : NULL;
    int rv = -1;
    if (r == NULL || e == NULL)
        snprintf(err, errsz, "redis %s: %s", where(s->conf, addr, sizeof(addr)),
                 store_conn_error(s));
    else if (r->type == REDIS_REPLY_ERROR)
        snprintf(err, errsz, "%s: %s", link, r->str);
    else if (e->type != REDIS_REPLY_INTEGER)
        snprintf(err, errsz, "%s: unexpected answer from redis", link);
    else {
        *camp = r->type == REDIS_REPLY_STRING ? xstrndup(r->str, r->len) : xstrdup("");
        rv = e->integer == 1;
    }
    if (r != NULL)
        freeReplyObject(r);
    if (e != NULL)
        freeReplyObject(e);
    return rv;
}

int store_set(struct store *s, const struct store_link *l, bool force,
              enum store_result *res, char *err, size_t errsz)
{
    char code[CODE_MAX_LEN + 1], *camp;
    memcpy(code, l->code, l->code_len);
    code[l->code_len] = '\0';
    for (int attempt = 0; attempt < 5; attempt++) {
        if (link_campaign(s, code, &camp, err, errsz) < 0)
            return -1;
        int rv = store_set_append(s, l, force, camp, (int64_t)(util_wall_ms() / 1000),
                                  err, errsz);
        free(camp);
        if (rv != 0 || store_set_reply(s, res, err, errsz) != 0)
            return -1;
        if (*res != STORE_MOVED)
            return 0;
    }
    snprintf(err, errsz, "link %s keeps changing under another writer; try again", code);
    return -1;
}

int store_rm(struct store *s, const char *code, bool purge, int *removed, char *err,
             size_t errsz)
{
    const char *prefix = s->conf->key_prefix;
    char link[KEYS_MAX], set[KEYS_MAX], clicks[KEYS_MAX], *camp, addr[300];
    size_t clen = strlen(code);

    if (keys_link(link, prefix, code, clen) < 0 ||
        keys_clicks(clicks, prefix, code, clen) < 0) {
        snprintf(err, errsz, "code too long for a key");
        return -1;
    }
    for (int attempt = 0; attempt < 5; attempt++) {
        if (link_campaign(s, code, &camp, err, errsz) < 0)
            return -1;
        size_t blen = strlen(camp);
        bool named = blen > 0 && code_campaign_valid(camp, blen) &&
                     keys_campaign_links(set, prefix, camp, blen) >= 0;
        if (!named)
            memcpy(set, link, sizeof(link));
        const char *argv[] = {"EVALSHA",
                              s->rm_sha,
                              "3",
                              link,
                              set,
                              clicks,
                              camp,
                              purge ? "1" : "0",
                              s->events,
                              code,
                              named ? "1" : "0"};
        size_t lens[] = {7,
                         40,
                         1,
                         strlen(link),
                         strlen(set),
                         strlen(clicks),
                         blen,
                         1,
                         strlen(s->events),
                         clen,
                         1};
        redisReply *r = redisCommandArgv(s->rc, 11, argv, lens);
        free(camp);
        if (r == NULL) {
            snprintf(err, errsz, "redis %s: %s", where(s->conf, addr, sizeof(addr)),
                     store_conn_error(s));
            return -1;
        }
        if (r->type != REDIS_REPLY_INTEGER) {
            snprintf(err, errsz, "%s: %s", link,
                     r->type == REDIS_REPLY_ERROR ? r->str
                                                  : "unexpected answer from redis");
            freeReplyObject(r);
            return -1;
        }
        long long n = r->integer;
        freeReplyObject(r);
        if (n >= 0) {
            *removed = (int)n;
            return 0;
        }
    }
    snprintf(err, errsz, "link %s keeps changing under another writer; try again", code);
    return -1;
}
