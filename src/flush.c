/* flush: delivers one worker's tally to Redis every flush_interval_ms, in
 * batches of counter keys (one script call each), one batch in flight at a
 * time, and puts back what was not delivered. */
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
#define FLUSH_PACE_MAX_MS 20 /* the widest gap between two ticks of a round */
#define FLUSH_BATCH_MAX 1024 /* the largest flush_batch_keys */
#define FLUSH_FIELDS_MAX 5   /* total, d:, h:, bot, bot:d: */

/* KEYS are counter hashes; ARGV holds, for each key in turn, its number of
 * fields and then field/increment pairs. Every HINCRBY runs under pcall, so
 * one bad key (another type, an overflow) cannot abort the script halfway
 * through the batch: the script is applied whole, and it answers with the
 * 1-based indexes of the keys it could not update. */
static const char flush_script[] =
    "local bad, a = {}, 1 "
    "for k = 1, #KEYS do "
    "local n, failed = tonumber(ARGV[a]), false "
    "a = a + 1 "
    "for i = 1, n do "
    "local r = redis.pcall('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1]) "
    "if type(r) == 'table' and r.err and not failed then failed = true bad[#bad + 1] = k "
    "end "
    "a = a + 2 "
    "end "
    "end "
    "return bad";

/* One script call in flight: its entries, owned by the batch. */
struct flush_batch {
    struct tally_entry *entries[FLUSH_BATCH_MAX];
    size_t n;
    uint64_t follows;
    uint64_t sent_ms;
};

/* The field names of one UTC hour, formatted once per hour, not per key. */
struct flush_fields {
    int64_t hour;
    int day_len, hour_len, botday_len;
    char day[KEYS_FIELD_MAX], hourf[KEYS_FIELD_MAX], botday[KEYS_FIELD_MAX];
};

struct flush {
    struct event_base *base;
    struct flush_fields fields;
    const struct conf *conf;
    struct rconn *rc;
    struct tally *t;
    struct metrics *m;
    struct event *timer;
    struct event *pace; /* spaces the batches of a round */
    unsigned pace_ms;   /* gap between two ticks of this round; 0: no pacing */
    size_t per_tick;    /* batches sent back to back per tick */
    size_t sent_this_tick;
    struct tally_entry *queue; /* taken for this round, not sent yet */
    uint64_t queue_follows;
    struct flush_batch *batch; /* in flight, or NULL */
    void (*drain_done)(void *arg);
    void *drain_arg;
    bool draining;
};

static void send_next(struct flush *f);

static uint64_t entry_follows(const struct tally_entry *e)
{
    return e->human + e->bot;
}

static void check_drained(struct flush *f)
{
    if (f->draining && f->batch == NULL && f->queue == NULL && tally_keys(f->t) == 0) {
        f->draining = false;
        event_del(f->timer);
        f->drain_done(f->drain_arg);
    }
}

/* Give the rest of the round back to the tally: Redis went away. */
static void requeue(struct flush *f)
{
    while (f->queue != NULL) {
        struct tally_entry *e = f->queue;
        f->queue = e->next;
        e->next = NULL;
        tally_merge(f->t, e);
    }
    f->queue_follows = 0;
}

static void on_batch_reply(struct rconn *rc, redisReply *r, void *arg)
{
    struct flush *f = arg;
    struct flush_batch *b = f->batch;
    (void)rc;

    f->batch = NULL;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY) {
        /* Applied; the keys listed could not be (wrong type, overflow). */
        for (size_t i = 0; i < r->elements; i++) {
            long long k =
                r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
            if (k < 1 || (size_t)k > b->n || b->entries[k - 1] == NULL)
                continue;
            struct tally_entry *e = b->entries[k - 1];
            metric_add(&f->m->follows_dropped, entry_follows(e));
            metric_add(&f->m->flush_errors, 1);
            log_error("event=flush_rejected key_kind=%s name=%s follows=%llu "
                      "reason=\"Redis refused the update (is the key a hash?)\"",
                      e->kind == TALLY_LINK ? "link" : "campaign", e->name,
                      (unsigned long long)entry_follows(e));
            free(e);
            b->entries[k - 1] = NULL;
        }
        for (size_t i = 0; i < b->n; i++)
            free(b->entries[i]);
        metric_add(&f->m->flushes, 1);
        metric_add(&f->m->flush_latency_us_sum, (util_now_ms() - b->sent_ms) * 1000u);
        metric_add(&f->m->flush_latency_count, 1);
        free(b);
        /* Spread the round over a quarter of an interval (leaving slack for
         * timer rounding, so rounds keep the interval): Redis often shares a core
         * with hopcount, and a burst of back-to-back calls would stall the
         * requests queued behind it. */
        if (f->queue != NULL && f->pace_ms > 0 && !f->draining &&
            f->sent_this_tick >= f->per_tick) {
            struct timeval tv = {.tv_sec = (time_t)(f->pace_ms / 1000u),
                                 .tv_usec = (suseconds_t)(f->pace_ms % 1000u) * 1000};
            event_add(f->pace, &tv);
        } else {
            send_next(f);
        }
    } else {
        /* Not delivered, or not known to be: keep it all for the next round. */
        metric_add(&f->m->flush_errors, 1);
        if (r != NULL && r->type == REDIS_REPLY_ERROR)
            log_warn("event=flush_retry reason=\"%.120s\"", r->str);
        for (size_t i = 0; i < b->n; i++)
            tally_merge(f->t, b->entries[i]);
        free(b);
        requeue(f);
    }
    metric_set(&f->m->pending_keys, tally_keys(f->t));
    check_drained(f);
}

/* The argv of one batch: strings live in `text`, which must outlive the
 * call (hiredis copies them when it formats the command). */
struct argv_buf {
    const char **argv;
    size_t *len;
    int argc;
    char *text;
    size_t used, cap;
};

static void arg(struct argv_buf *a, const char *s, size_t len)
{
    a->argv[a->argc] = s;
    a->len[a->argc] = len;
    a->argc++;
}

/* Copy into the batch's text and add as an argument. */
static void arg_copy(struct argv_buf *a, const char *s, int len)
{
    char *p = a->text + a->used;
    memcpy(p, s, (size_t)len);
    a->used += (size_t)len;
    arg(a, p, (size_t)len);
}

static void arg_num(struct argv_buf *a, uint64_t v)
{
    char num[24];
    int n = 0;
    do { /* digits backwards, then in place: no snprintf per number */
        num[sizeof(num) - 1 - n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    arg_copy(a, num + sizeof(num) - n, n);
}

static const struct flush_fields *fields_of(struct flush *f, int64_t hour)
{
    struct flush_fields *ff = &f->fields;
    if (ff->day_len == 0 || ff->hour != hour) {
        ff->hour = hour;
        ff->day_len = keys_field_day(ff->day, hour);
        ff->hour_len = keys_field_hour(ff->hourf, hour);
        ff->botday_len = keys_field_bot_day(ff->botday, hour);
    }
    return ff;
}

/* Send the next batch of the round, if any. */
static void send_next(struct flush *f)
{
    if (f->queue == NULL || f->batch != NULL)
        return;
    if (!rconn_ready(f->rc)) {
        requeue(f);
        return;
    }
    struct flush_batch *b = xcalloc(1, sizeof(*b));
    while (f->queue != NULL && b->n < (size_t)f->conf->flush_batch_keys) {
        struct tally_entry *e = f->queue;
        f->queue = e->next;
        e->next = NULL;
        b->entries[b->n++] = e;
        b->follows += entry_follows(e);
    }
    f->queue_follows -= b->follows;

    enum { PER_KEY = 1 + 2 * FLUSH_FIELDS_MAX };
    struct argv_buf a = {0};
    a.argv = xmalloc((3 + b->n * (1 + PER_KEY)) * sizeof(*a.argv));
    a.len = xmalloc((3 + b->n * (1 + PER_KEY)) * sizeof(*a.len));
    a.cap = b->n *
            (KEYS_MAX + FLUSH_FIELDS_MAX * KEYS_FIELD_MAX + (2 + FLUSH_FIELDS_MAX) * 24);
    a.text = xmalloc(a.cap);
    char nkeys[16];
    arg(&a, "EVAL", 4);
    arg(&a, flush_script, sizeof(flush_script) - 1);
    arg(&a, nkeys, (size_t)snprintf(nkeys, sizeof(nkeys), "%zu", b->n));
    for (size_t i = 0; i < b->n; i++) {
        const struct tally_entry *e = b->entries[i];
        char key[KEYS_MAX];
        int klen = e->kind == TALLY_LINK
                       ? keys_clicks(key, f->conf->key_prefix, e->name, e->len)
                       : keys_campaign_clicks(key, f->conf->key_prefix, e->name, e->len);
        arg_copy(&a, key, klen); /* names are at most 64 bytes: always fits */
    }
    for (size_t i = 0; i < b->n; i++) {
        const struct tally_entry *e = b->entries[i];
        const struct flush_fields *ff = fields_of(f, e->hour);
        arg_num(&a, (e->human > 0 ? 3 : 0) + (e->bot > 0 ? 2 : 0));
        if (e->human > 0) {
            arg(&a, KEYS_FIELD_TOTAL, strlen(KEYS_FIELD_TOTAL));
            arg_num(&a, e->human);
            arg_copy(&a, ff->day, ff->day_len);
            arg_num(&a, e->human);
            arg_copy(&a, ff->hourf, ff->hour_len);
            arg_num(&a, e->human);
        }
        if (e->bot > 0) {
            arg(&a, KEYS_FIELD_BOT, strlen(KEYS_FIELD_BOT));
            arg_num(&a, e->bot);
            arg_copy(&a, ff->botday, ff->botday_len);
            arg_num(&a, e->bot);
        }
    }
    f->sent_this_tick++;
    b->sent_ms = util_now_ms();
    f->batch = b;
    int rc = rconn_command(f->rc, on_batch_reply, f, a.argc, a.argv, a.len);
    free(a.argv);
    free(a.len);
    free(a.text);
    if (rc != 0) {
        f->batch = NULL;
        for (size_t i = 0; i < b->n; i++)
            tally_merge(f->t, b->entries[i]);
        free(b);
        requeue(f);
    }
}

void flush_round(struct flush *f)
{
    if (f->batch != NULL || f->queue != NULL || !rconn_ready(f->rc) ||
        tally_keys(f->t) == 0)
        return;
    metric_add(&f->m->flush_batches, 1);
    size_t batches = (tally_keys(f->t) + (size_t)f->conf->flush_batch_keys - 1) /
                     (size_t)f->conf->flush_batch_keys;
    /* Ticks are whole milliseconds (epoll's resolution): with more batches
     * than milliseconds in a quarter interval, several go per tick. */
    size_t window_ms = (size_t)f->conf->flush_interval_ms / 4;
    f->per_tick = 1;
    f->pace_ms = 0;
    if (batches > 1 && window_ms >= 1) {
        f->per_tick = (batches + window_ms - 1) / window_ms;
        size_t ticks = (batches + f->per_tick - 1) / f->per_tick;
        f->pace_ms = (unsigned)(window_ms / ticks);
        if (f->pace_ms > FLUSH_PACE_MAX_MS)
            f->pace_ms = FLUSH_PACE_MAX_MS;
    }
    f->sent_this_tick = 0;
    f->queue_follows = tally_follows(f->t);
    f->queue = tally_take(f->t);
    metric_set(&f->m->pending_keys, 0);
    send_next(f);
    metric_set(&f->m->pending_keys, tally_keys(f->t));
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    struct flush *f = arg;
    (void)fd;
    (void)what;
    f->sent_this_tick = 0;
    send_next(f);
    check_drained(f);
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
    f->pace = evtimer_new(base, on_pace, f);
    if (f->timer == NULL || f->pace == NULL) {
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
    /* The connection is closed first, so no batch is in flight here. */
    requeue(f);
    event_free(f->pace);
    event_free(f->timer);
    free(f);
}

void flush_drain(struct flush *f, void (*done)(void *arg), void *arg)
{
    f->drain_done = done;
    f->drain_arg = arg;
    f->draining = true;
    event_del(f->timer);
    if (event_pending(f->pace, EV_TIMEOUT, NULL)) {
        event_del(f->pace); /* no more pacing: send the rest now */
        send_next(f);
    }
    struct timeval tv = {.tv_sec = 0, .tv_usec = FLUSH_DRAIN_MS * 1000};
    event_add(f->timer, &tv);
    flush_round(f);
    check_drained(f);
}

uint64_t flush_inflight_follows(const struct flush *f)
{
    return f->queue_follows + (f->batch != NULL ? f->batch->follows : 0);
}
