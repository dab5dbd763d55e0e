/* flush: delivers one worker's tally to Redis in batches. */
#include "flush.h"

#include <event2/event.h>
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "rconn.h"
#include "tally.h"
#include "util.h"

#define FLUSH_DRAIN_MS 50

/* Adds every field/increment pair to the hash KEYS[1] atomically: one call
 * per counter key keeps each key's update whole, and works unchanged when
 * keys live on different cluster nodes. */
static const char flush_script[] =
    "for i = 1, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end "
    "return #ARGV / 2";

struct flush {
    struct event_base *base;
    const struct conf *conf;
    struct rconn *rc;
    struct tally *t;
    struct metrics *m;
    struct event *timer;
    size_t inflight;           /* commands sent, not answered */
    uint64_t inflight_follows; /* follows in those commands */
    uint64_t round_started_ms;
    void (*drain_done)(void *arg);
    void *drain_arg;
    bool draining;
};

/* One entry in flight; the entry itself is owned by the command. */
struct flush_cmd {
    struct flush *f;
    struct tally_entry *e;
    uint64_t sent_ms;
};

static void check_drained(struct flush *f)
{
    if (f->draining && f->inflight == 0 && tally_keys(f->t) == 0) {
        f->draining = false;
        event_del(f->timer);
        f->drain_done(f->drain_arg);
    }
}

/* Errors that a retry cannot fix: the key holds another type, or a counter
 * would overflow. Retrying them forever would block nothing but would never
 * deliver either; they are logged and dropped. */
static bool permanent_error(const char *s)
{
    return strncmp(s, "WRONGTYPE", 9) == 0 || strncmp(s, "ERR", 3) == 0;
}

static void on_flush_reply(struct rconn *rc, redisReply *r, void *arg)
{
    struct flush_cmd *cmd = arg;
    struct flush *f = cmd->f;
    struct tally_entry *e = cmd->e;
    uint64_t n = e->human + e->bot;
    (void)rc;

    f->inflight--;
    f->inflight_follows -= n;
    if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
        metric_add(&f->m->flushes, 1);
        uint64_t us = (util_now_ms() - cmd->sent_ms) * 1000u;
        metric_add(&f->m->flush_latency_us_sum, us);
        metric_add(&f->m->flush_latency_count, 1);
        free(e);
    } else if (r != NULL && r->type == REDIS_REPLY_ERROR && permanent_error(r->str)) {
        metric_add(&f->m->flush_errors, 1);
        metric_add(&f->m->follows_dropped, n);
        log_error(
            "event=flush_rejected key_kind=%s name=%s follows=%llu reason=\"%.120s\"",
            e->kind == TALLY_LINK ? "link" : "campaign", e->name, (unsigned long long)n,
            r->str);
        free(e);
    } else {
        /* Not delivered (or not known to be): keep it for the next round. */
        metric_add(&f->m->flush_errors, 1);
        if (r != NULL && r->type == REDIS_REPLY_ERROR)
            log_warn("event=flush_retry reason=\"%.120s\"", r->str);
        tally_merge(f->t, e);
    }
    free(cmd);
    metric_set(&f->m->pending_keys, tally_keys(f->t));
    check_drained(f);
}

static int send_entry(struct flush *f, struct tally_entry *e)
{
    char key[KEYS_MAX];
    char fields[5][KEYS_FIELD_MAX];
    char nums[2][24];
    const char *argv[4 + 10];
    size_t len[4 + 10];
    int argc = 0;
    int klen = e->kind == TALLY_LINK
                   ? keys_clicks(key, f->conf->key_prefix, e->name, e->len)
                   : keys_campaign_clicks(key, f->conf->key_prefix, e->name, e->len);
    if (klen < 0)
        return -1;

#define ARG(s, l)                                                                        \
    do {                                                                                 \
        argv[argc] = (s);                                                                \
        len[argc] = (l);                                                                 \
        argc++;                                                                          \
    } while (0)
    ARG("EVAL", 4);
    ARG(flush_script, sizeof(flush_script) - 1);
    ARG("1", 1);
    ARG(key, (size_t)klen);
    if (e->human > 0) {
        int nl = snprintf(nums[0], sizeof(nums[0]), "%llu", (unsigned long long)e->human);
        ARG(KEYS_FIELD_TOTAL, strlen(KEYS_FIELD_TOTAL));
        ARG(nums[0], (size_t)nl);
        ARG(fields[0], (size_t)keys_field_day(fields[0], e->hour));
        ARG(nums[0], (size_t)nl);
        ARG(fields[1], (size_t)keys_field_hour(fields[1], e->hour));
        ARG(nums[0], (size_t)nl);
    }
    if (e->bot > 0) {
        int nl = snprintf(nums[1], sizeof(nums[1]), "%llu", (unsigned long long)e->bot);
        ARG(KEYS_FIELD_BOT, strlen(KEYS_FIELD_BOT));
        ARG(nums[1], (size_t)nl);
        ARG(fields[2], (size_t)keys_field_bot_day(fields[2], e->hour));
        ARG(nums[1], (size_t)nl);
    }
#undef ARG
    struct flush_cmd *cmd = xmalloc(sizeof(*cmd));
    cmd->f = f;
    cmd->e = e;
    cmd->sent_ms = util_now_ms();
    if (rconn_command(f->rc, on_flush_reply, cmd, argc, argv, len) != 0) {
        free(cmd);
        return -1;
    }
    f->inflight++;
    f->inflight_follows += e->human + e->bot;
    return 0;
}

void flush_round(struct flush *f)
{
    if (f->inflight > 0 || !rconn_ready(f->rc) || tally_keys(f->t) == 0)
        return;
    metric_add(&f->m->flush_batches, 1);
    f->round_started_ms = util_now_ms();
    struct tally_entry *list = tally_take(f->t);
    while (list != NULL) {
        struct tally_entry *e = list;
        list = e->next;
        e->next = NULL;
        if (send_entry(f, e) != 0)
            tally_merge(f->t, e); /* connection went away: next round */
    }
    metric_set(&f->m->pending_keys, tally_keys(f->t));
}

static void on_timer(evutil_socket_t fd, short what, void *arg)
{
    struct flush *f = arg;
    (void)fd;
    (void)what;
    flush_round(f);
    check_drained(f);
}

struct flush *flush_new(struct event_base *base, const struct conf *conf,
                        struct rconn *rc, struct tally *t, struct metrics *m)
{
    struct flush *f = xcalloc(1, sizeof(*f));
    f->base = base;
    f->conf = conf;
    f->rc = rc;
    f->t = t;
    f->m = m;
    f->timer = event_new(base, -1, EV_PERSIST, on_timer, f);
    if (f->timer == NULL) {
        log_error("event=fatal reason=\"cannot create the flush timer\"");
        abort();
    }
    struct timeval tv = {.tv_sec = conf->flush_interval_ms / 1000,
                         .tv_usec = (conf->flush_interval_ms % 1000) * 1000};
    event_add(f->timer, &tv);
    return f;
}

void flush_free(struct flush *f)
{
    if (f == NULL)
        return;
    event_free(f->timer);
    free(f);
}

void flush_drain(struct flush *f, void (*done)(void *arg), void *arg)
{
    f->drain_done = done;
    f->drain_arg = arg;
    f->draining = true;
    event_del(f->timer);
    struct timeval tv = {.tv_sec = 0, .tv_usec = FLUSH_DRAIN_MS * 1000};
    event_add(f->timer, &tv);
    flush_round(f);
    check_drained(f);
}

uint64_t flush_inflight_follows(const struct flush *f)
{
    return f->inflight_follows;
}
