/* flush: delivers one worker's tally to Redis exactly once. Every
 * flush_interval_ms the tally is sealed into batches (a writer id and a
 * sequence number each); batches go in order, up to FLUSH_INFLIGHT on the wire
 * at once on one connection (Redis runs them in that order), and a batch that
 * fails is sent again unchanged, with those after it, until Redis answers it. The script
 * applies a batch only if the writer's marker shows an older sequence, and moves the
 * marker in the same atomic step, so a batch applied whose reply was lost is
 * not applied twice (docs/delivery.md). */
#include "flush.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "batch.h"
#include "conf.h"
#include "keys.h"
#include "log.h"
#include "lua_flush.h"
#include "metrics.h"
#include "offload.h"
#include "rconn.h"
#include "spool.h"
#include "tally.h"
#include "util.h"

#define FLUSH_DRAIN_MS 50
#define FLUSH_PACE_MAX_MS 20       /* the widest gap between two ticks of a round */
#define FLUSH_FIELDS_MAX 5         /* total, d:, h:, bot, bot:d: */
#define FLUSH_INFLIGHT 8           /* batches on the wire at once */
#define FLUSH_SPILL_RETRY_MS 1000  /* a spill that could not be written is tried again */

/* The field names of one UTC hour, formatted once per hour, not per key. */
struct flush_fields {
    int64_t hour;
    int day_len, hour_len, botday_len;
    char day[KEYS_FIELD_MAX], hourf[KEYS_FIELD_MAX], botday[KEYS_FIELD_MAX];
};

struct flush {
    const struct conf *conf;
    struct rconn *rc;
    struct tally *t;
    struct metrics *m;
    struct event *timer;
    struct event *pace; /* spaces the batches of a round */
    struct flush_fields fields;
    char writer[BATCH_WRITER_MAX];
    uint64_t next_seq;
    unsigned spills;       /* overflow spool files written */
    struct batch *pending; /* sealed, not confirmed; the head goes first */
    struct batch **pending_tail;
    size_t pending_keys;
    size_t max_pending;   /* pending_keys beyond which the tally is not sealed */
    size_t inflight;      /* batches sent and unanswered: the first ones */
    struct batch *unsent; /* the first pending batch not sent yet */
    bool force_head;      /* the head met a gap: its writer's marker is gone */
    unsigned pace_ms;     /* gap between two ticks of this round; 0: no pacing */
    size_t per_tick;      /* batches sent back to back per tick */
    size_t sent_this_tick;
    void (*drain_done)(void *arg);
    void *drain_arg;
    bool draining;
    bool closing; /* spooling or freeing: no more spool jobs */

    /* Spool file I/O runs on a thread of its own, one job at a time. */
    struct offload *io;
    /* A spill: the tally sealed under a writer id of its own, to be written
     * to a spool file. Held in memory after a failed write until the write
     * is tried again or pending has room for it; while a spill is in hand
     * the tally cannot spill again (a follow of a new key is then dropped,
     * counted and logged), so memory stays bounded. */
    struct batch *spill;
    size_t spill_keys;
    uint64_t spill_follows;
    enum { SPILL_NONE, SPILL_SEALED, SPILL_WRITING, SPILL_HELD } spill_state;
    char spill_writer[BATCH_WRITER_MAX];
    int spill_rc;
    char spill_err[256];
    uint64_t spill_failed_ms;
    /* Earlier runs' spool files not read yet: read as pending has room. */
    struct spool_queue *queue;
    size_t read_bound;
    struct batch *read;
    long read_batches;
    int read_corrupt;
};

static void send_more(struct flush *f);
static void io_kick(struct flush *f);

static void update_gauge(struct flush *f)
{
    metric_set(&f->m->pending_keys, tally_keys(f->t) + f->pending_keys + f->spill_keys);
}

static void check_drained(struct flush *f)
{
    if (f->draining && f->pending == NULL && tally_keys(f->t) == 0 && f->spill == NULL &&
        !offload_busy(f->io)) {
        f->draining = false;
        event_del(f->timer);
        f->drain_done(f->drain_arg);
    }
}

static void push(struct flush *f, struct batch *b)
{
    b->next = NULL;
    *f->pending_tail = b;
    f->pending_tail = &b->next;
    f->pending_keys += b->n;
    if (f->unsent == NULL)
        f->unsent = b;
}

static struct batch *pop(struct flush *f)
{
    struct batch *b = f->pending;
    f->pending = b->next;
    if (f->pending == NULL)
        f->pending_tail = &f->pending;
    f->pending_keys -= b->n;
    b->next = NULL;
    return b;
}

/* Seal everything in the tally into batches of writer, numbered from *seq. */
static struct batch *seal(struct flush *f, const char *writer, uint64_t *seq)
{
    struct batch *list = NULL, **tail = &list;
    size_t per = (size_t)f->conf->flush_batch_keys;
    struct tally_entry *e = tally_take(f->t);
    while (e != NULL) {
        struct batch *b = batch_new(writer, (*seq)++, per);
        while (e != NULL && b->n < per) {
            struct tally_entry *next = e->next;
            batch_add(b, e);
            e = next;
        }
        *tail = b;
        tail = &b->next;
    }
    return list;
}

/* One batch on the wire. */
struct flush_cmd {
    struct flush *f;
    struct batch *b;
    uint64_t sent_us;
};

static void report_refused(struct flush *f, const struct batch *b, const redisReply *r)
{
    for (size_t i = 1; i < r->elements; i++) {
        long long k =
            r->element[i]->type == REDIS_REPLY_INTEGER ? r->element[i]->integer : 0;
        if (k < 1 || (size_t)k > b->n)
            continue;
        const struct tally_entry *e = b->entries[k - 1];
        metric_add(&f->m->follows_dropped, e->human + e->bot);
        metric_add(&f->m->flush_errors, 1);
        log_error("event=flush_rejected key_kind=%s name=%s follows=%" PRIu64
                  " reason=\"Redis refused the update (is the key a hash?)\"",
                  e->kind == TALLY_LINK ? "link" : "campaign", e->name,
                  e->human + e->bot);
    }
}

/* Replies come in the order batches were sent. Only the head of the pending
 * list can be confirmed: a reply to a later batch after the head failed is
 * a gap or a failure too (the script applies batches strictly in order),
 * and that batch will be sent again. */
static void on_reply(struct rconn *rc, redisReply *r, void *arg)
{
    struct flush_cmd *cmd = arg;
    struct flush *f = cmd->f;
    struct batch *b = cmd->b;
    uint64_t sent_us = cmd->sent_us;
    (void)rc;

    free(cmd);
    f->inflight--;
    if (f->pending == NULL)
        return; /* shutting down: the batches were spooled or freed */
    long long status = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_INTEGER)
        status = r->element[0]->integer;
    if (b != f->pending || (status != 0 && status != 1)) {
        if (b == f->pending) {
            metric_add(&f->m->flush_errors, 1);
            if (status == 2) {
                /* Everything before the head is confirmed, so its writer's
                 * marker was lost (expired, deleted, Redis lost its data). */
                log_warn("event=flush_marker_gap writer=%s seq=%" PRIu64
                         " reason=\"marker missing or behind; applying anyway\"",
                         b->writer, b->seq);
                f->force_head = true;
            } else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
                log_warn("event=flush_retry writer=%s seq=%" PRIu64 " reason=\"%.120s\"",
                         b->writer, b->seq, r->str);
            }
            f->unsent = f->pending; /* not applied, or not known to be: again */
        }
        if (f->inflight == 0 && f->force_head)
            send_more(f);
        check_drained(f);
        return;
    }
    pop(f);
    if (f->unsent == b)
        f->unsent = f->pending;
    f->force_head = false;
    if (status == 1) {
        /* Applied before; its reply had been lost. Nothing to do again. */
        metric_add(&f->m->flush_duplicates, 1);
        log_info("event=flush_duplicate writer=%s seq=%" PRIu64
                 " reason=\"applied before\"",
                 b->writer, b->seq);
    } else {
        report_refused(f, b, r);
    }
    metric_add(&f->m->flushes, 1);
    for (size_t i = 0; i < b->n; i++) /* each follow once: its link's key */
        if (b->entries[i]->kind == TALLY_LINK)
            metric_add(&f->m->delivered, b->entries[i]->human + b->entries[i]->bot);
    metrics_observe_flush(f->m, util_now_us() - sent_us);
    spool_file_done(b->file);
    batch_free(b);
    update_gauge(f);
    if (!event_pending(f->pace, EV_TIMEOUT, NULL))
        send_more(f);
    check_drained(f);
}

/* The argv of one batch: strings live in `text`, which must outlive the
 * call (hiredis copies them when it formats the command). */
struct argv_buf {
    const char **argv;
    size_t *len;
    int argc;
    char *text;
    size_t used;
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

/* Send one batch; false when it could not be sent. */
static bool send_batch(struct flush *f, struct batch *b, bool force)
{
    enum { PER_KEY = 1 + 2 * FLUSH_FIELDS_MAX };
    size_t maxargs =
        6 + b->n * (1 + PER_KEY); /* EVAL script numkeys marker seq force */
    struct argv_buf a = {0};
    a.argv = xmalloc(maxargs * sizeof(*a.argv));
    a.len = xmalloc(maxargs * sizeof(*a.len));
    a.text = xmalloc(KEYS_MAX + 48 +
                     b->n * (KEYS_MAX + FLUSH_FIELDS_MAX * KEYS_FIELD_MAX + 8 * 24));
    char marker[KEYS_MAX];
    arg(&a, "EVAL", 4);
    arg(&a, lua_flush, lua_flush_len); /* src/daemon/lua/flush.lua */
    arg_num(&a, b->n + 1);
    arg_copy(&a, marker, keys_flush_marker(marker, f->conf->key_prefix, b->writer));
    for (size_t i = 0; i < b->n; i++) {
        const struct tally_entry *e = b->entries[i];
        char key[KEYS_MAX];
        int klen = e->kind == TALLY_LINK
                       ? keys_clicks(key, f->conf->key_prefix, e->name, e->len)
                       : keys_campaign_clicks(key, f->conf->key_prefix, e->name, e->len);
        arg_copy(&a, key, klen); /* names are at most 64 bytes: always fits */
    }
    arg_num(&a, b->seq);
    arg(&a, force ? "1" : "0", 1);
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
    struct flush_cmd *cmd = xmalloc(sizeof(*cmd));
    cmd->f = f;
    cmd->b = b;
    cmd->sent_us = util_now_us();
    bool ok = rconn_command(f->rc, on_reply, cmd, a.argc, a.argv, a.len) == 0;
    if (!ok)
        free(cmd);
    free(a.argv);
    free(a.len);
    free(a.text);
    return ok;
}

/* Send pending batches in order, up to FLUSH_INFLIGHT of them on the wire:
 * Redis runs them in order on one connection, and one fsync (appendfsync
 * always) serves all that arrive together. Paced as a round asks. */
static void send_more(struct flush *f)
{
    if (f->unsent != f->pending && f->force_head)
        return; /* the head goes again alone, once the wire is clear */
    while (f->unsent != NULL && f->inflight < FLUSH_INFLIGHT && rconn_ready(f->rc)) {
        if (f->pace_ms > 0 && !f->draining && f->sent_this_tick >= f->per_tick) {
            /* Spread a round over 5/8 of an interval (leaving slack
             * for timer rounding): Redis often shares a core with hopcount,
             * and a burst of calls would stall the requests behind it. */
            struct timeval tv = util_ms_timeval(f->pace_ms);
            event_add(f->pace, &tv);
            return;
        }
        bool force = f->force_head && f->unsent == f->pending;
        if (force && f->inflight > 0)
            return;
        if (!send_batch(f, f->unsent, force))
            return;
        f->sent_this_tick++;
        f->inflight++;
        f->unsent = f->unsent->next;
        if (force)
            return;
    }
}

static void on_policy(struct rconn *rc, redisReply *r, void *arg)
{
    (void)rc;
    (void)arg;
    if (r == NULL || r->type != REDIS_REPLY_STRING)
        return; /* INFO not allowed (ACL) or no answer: nothing to tell */
    const char *p = strstr(r->str, "maxmemory_policy:");
    if (p == NULL)
        return;
    p += strlen("maxmemory_policy:");
    int n = (int)strcspn(p, "\r\n");
    if (n == 10 && strncmp(p, "noeviction", 10) == 0)
        return;
    log_error("event=redis_eviction_policy policy=%.*s reason=\"Redis may evict keys when "
              "full: counters (and the flush markers that keep retries from counting "
              "twice) can be lost; set maxmemory-policy noeviction\"",
              n, p);
}

void flush_check_policy(struct flush *f)
{
    const char *argv[] = {"INFO", "memory"};
    size_t len[] = {4, 6};
    rconn_command(f->rc, on_policy, NULL, 2, argv, len);
}

struct flush_retire {
    void (*done)(void *arg);
    void *arg;
};

static void on_retired(struct rconn *rc, redisReply *r, void *arg)
{
    struct flush_retire *fr = arg;
    (void)rc;
    (void)r; /* a marker left behind costs a key, never a count */
    fr->done(fr->arg);
    free(fr);
}

void flush_retire(struct flush *f, void (*done)(void *arg), void *arg)
{
    char marker[KEYS_MAX];
    int len = keys_flush_marker(marker, f->conf->key_prefix, f->writer);
    const char *argv[] = {"DEL", marker};
    size_t argvlen[] = {3, (size_t)len};
    struct flush_retire *fr = xmalloc(sizeof(*fr));
    fr->done = done;
    fr->arg = arg;
    if (f->pending != NULL || tally_keys(f->t) > 0 || len < 0 ||
        rconn_command(f->rc, on_retired, fr, 2, argv, argvlen) != 0) {
        free(fr);
        done(arg);
    }
}

void flush_round(struct flush *f)
{
    if (!rconn_ready(f->rc)) {
        io_kick(f); /* a held spill is tried again, even with Redis away */
        update_gauge(f); /* the tally grows meanwhile */
        return;
    }
    /* Seal every tick, even while earlier batches are still pending (they
     * stay ahead in the queue), so a round never waits for the last one to
     * drain; but not beyond the pending bound, past which keys wait in the
     * tally (and spill to the spool when it is full). */
    if (tally_keys(f->t) > 0 && f->pending_keys < f->max_pending) {
        metric_add(&f->m->flush_rounds, 1);
        struct batch *list = seal(f, f->writer, &f->next_seq);
        while (list != NULL) {
            struct batch *b = list;
            list = b->next;
            push(f, b);
        }
        update_gauge(f);
    }
    /* Pace what is unsent over 5/8 of an interval. Ticks are whole
     * milliseconds (epoll's resolution) and run late by up to one: with more
     * batches than ticks, several go per tick. */
    size_t batches = 0;
    for (const struct batch *b = f->unsent; b != NULL; b = b->next)
        batches++;
    size_t window_ms = (size_t)f->conf->flush_interval_ms * 5 / 8;
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
    event_del(f->pace);
    send_more(f);
    io_kick(f);
}

static void on_pace(evutil_socket_t fd, short what, void *arg)
{
    struct flush *f = arg;
    (void)fd;
    (void)what;
    f->sent_this_tick = 0;
    send_more(f);
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

void flush_reconfigure(struct flush *f, size_t max_pending)
{
    struct timeval tv = util_ms_timeval((uint64_t)f->conf->flush_interval_ms);
    f->max_pending = max_pending;
    event_add(f->timer, &tv);
}

struct flush *flush_new(struct event_base *base, const struct conf *conf,
                        struct rconn *rc, struct tally *t, struct metrics *m, int worker,
                        size_t max_pending, char *err, size_t errsz)
{
    struct flush *f = xcalloc(1, sizeof(*f));
    f->conf = conf;
    f->rc = rc;
    f->t = t;
    f->m = m;
    f->pending_tail = &f->pending;
    f->next_seq = 1;
    f->max_pending = max_pending;
    /* A new writer id per start: sequences never repeat under one id, and
     * ids of many nodes never collide. Only the kernel's randomness will do
     * (time and pid collide: containers all run as PID 1). */
    uint64_t id = 0;
    ssize_t got;
    do
        got = getrandom(&id, sizeof(id), 0);
    while (got < 0 && errno == EINTR);
    if (got != (ssize_t)sizeof(id)) {
        snprintf(err, errsz, "cannot draw a random writer id: getrandom: %s",
                 got < 0 ? strerror(errno) : "short read");
        free(f);
        return NULL;
    }
    snprintf(f->writer, sizeof(f->writer), "%016" PRIx64 "-%d", id, worker);
    f->io = offload_new(base, err, errsz);
    if (f->io == NULL) {
        free(f);
        return NULL;
    }
    f->timer = event_new(base, -1, EV_PERSIST, on_timer, f);
    f->pace = evtimer_new(base, on_pace, f);
    if (f->timer == NULL || f->pace == NULL) {
        log_error("event=fatal reason=\"cannot create the flush timers\"");
        abort();
    }
    struct timeval tv = util_ms_timeval((uint64_t)conf->flush_interval_ms);
    event_add(f->timer, &tv);
    return f;
}

/* Append batches to pending (after this writer's own: writers are
 * independent, only each one's order counts). */
static void push_list(struct flush *f, struct batch *list)
{
    while (list != NULL) {
        struct batch *b = list;
        list = b->next;
        push(f, b);
    }
}

static void log_read(struct flush *f, long batches, struct batch *list, int corrupt)
{
    (void)corrupt; /* each corrupt file was logged as it was set aside */
    if (batches <= 0)
        return;
    uint64_t follows = spool_follows(list);
    metric_add(&f->m->replayed, follows);
    log_info("event=spool_replay batches=%ld follows=%" PRIu64 " files_left=%zu dir=%s",
             batches, follows, spool_queue_left(f->queue), f->conf->spool_dir);
}

void flush_replay(struct flush *f, struct spool_queue *q)
{
    f->queue = q;
    struct batch *list = NULL;
    int corrupt;
    long n = spool_queue_read(q, f->max_pending, &list, &corrupt);
    log_read(f, n, list, corrupt);
    push_list(f, list);
    update_gauge(f);
}

static void read_work(void *arg)
{
    struct flush *f = arg;
    f->read = NULL;
    f->read_batches = spool_queue_read(f->queue, f->read_bound, &f->read, &f->read_corrupt);
}

static void read_done(void *arg)
{
    struct flush *f = arg;
    log_read(f, f->read_batches, f->read, f->read_corrupt);
    push_list(f, f->read);
    f->read = NULL;
    update_gauge(f);
    io_kick(f);
}

static void spill_work(void *arg)
{
    struct flush *f = arg;
    f->spill_rc = spool_write(f->conf->spool_dir, f->spill_writer, f->spill, f->spill_err,
                              sizeof(f->spill_err));
}

static void spill_done(void *arg)
{
    struct flush *f = arg;
    if (f->spill_rc == 0) {
        log_warn("event=spool_overflow writer=%s follows=%" PRIu64
                 " reason=\"max_pending_keys reached; replayed at the next start\"",
                 f->spill_writer, f->spill_follows);
        metric_add(&f->m->spooled, f->spill_follows);
        while (f->spill != NULL) {
            struct batch *b = f->spill;
            f->spill = b->next;
            batch_free(b);
        }
        f->spill_keys = 0;
        f->spill_follows = 0;
        f->spill_state = SPILL_NONE;
    } else {
        log_error("event=spool_failed writer=%s follows=%" PRIu64
                  " reason=\"%s\" action=\"kept in memory, tried again in %d ms\"",
                  f->spill_writer, f->spill_follows, f->spill_err, FLUSH_SPILL_RETRY_MS);
        f->spill_state = SPILL_HELD;
        f->spill_failed_ms = util_coarse_ms();
    }
    update_gauge(f);
    io_kick(f);
    check_drained(f);
}

/* Start the next spool job the state calls for, if the thread is free: a
 * sealed spill first; then a held one goes into pending if it has room, or
 * is written again once a second; then earlier runs' files, while Redis
 * takes batches and pending is less than half full. */
static void io_kick(struct flush *f)
{
    if (f->closing || offload_busy(f->io))
        return;
    if (f->spill_state == SPILL_HELD) {
        if (f->pending_keys + f->spill_keys <= f->max_pending) {
            push_list(f, f->spill);
            f->spill = NULL;
            f->spill_keys = 0;
            f->spill_follows = 0;
            f->spill_state = SPILL_NONE;
            update_gauge(f);
        } else if (util_coarse_ms() - f->spill_failed_ms >= FLUSH_SPILL_RETRY_MS) {
            f->spill_state = SPILL_SEALED;
        }
    }
    if (f->spill_state == SPILL_SEALED) {
        f->spill_state = SPILL_WRITING;
        offload_start(f->io, spill_work, spill_done, f);
        return;
    }
    if (f->queue != NULL && spool_queue_left(f->queue) > 0 && !f->draining &&
        rconn_ready(f->rc) && f->pending_keys < f->max_pending / 2) {
        f->read_bound = f->max_pending / 2;
        offload_start(f->io, read_work, read_done, f);
    }
}

int flush_spill(struct flush *f, char *err, size_t errsz)
{
    if (f->spill_state == SPILL_HELD) {
        snprintf(err, errsz, "max_pending_keys reached and the last spill could not be "
                 "written: %s", f->spill_err);
        return -1;
    }
    if (f->spill != NULL || f->closing) {
        snprintf(err, errsz, "max_pending_keys reached and the last spill is still being "
                 "written");
        return -1;
    }
    /* A writer of its own, so these sequences never interleave with the ones
     * this process still delivers itself. */
    uint64_t seq = 1;
    snprintf(f->spill_writer, sizeof(f->spill_writer), "%.24s-s%u", f->writer, ++f->spills);
    f->spill = seal(f, f->spill_writer, &seq);
    f->spill_keys = 0;
    for (const struct batch *b = f->spill; b != NULL; b = b->next)
        f->spill_keys += b->n;
    f->spill_follows = spool_follows(f->spill);
    f->spill_state = SPILL_SEALED;
    io_kick(f); /* or when the job in hand is done */
    update_gauge(f);
    return 0;
}

uint64_t flush_spool_all(struct flush *f, char *err, size_t errsz, int *rc)
{
    /* What is left: a spill not written, pending batches (the ones in
     * flight included: if Redis applied them, their markers make the replay
     * a no-op), then the tally. Batches read from a spool file are already
     * on disk: their files stay, and only the rest goes to a new one. */
    f->closing = true;
    f->draining = false; /* the drain is over: nothing may finish it from here */
    offload_wait(f->io);
    push_list(f, f->spill);
    f->spill = NULL;
    f->spill_keys = 0;
    f->spill_state = SPILL_NONE;
    push_list(f, seal(f, f->writer, &f->next_seq));
    struct batch *fresh = NULL, **tail = &fresh;
    while (f->pending != NULL) {
        struct batch *b = pop(f);
        if (b->file != NULL) {
            spool_file_release(b->file);
            batch_free(b);
            continue;
        }
        *tail = b;
        tail = &b->next;
    }
    f->unsent = NULL;
    uint64_t n = spool_follows(fresh);
    *rc = spool_write(f->conf->spool_dir, f->writer, fresh, err, errsz);
    while (fresh != NULL) { /* on disk now, or lost as the caller reports */
        struct batch *b = fresh;
        fresh = b->next;
        batch_free(b);
    }
    update_gauge(f);
    return n;
}

void flush_free(struct flush *f)
{
    if (f == NULL)
        return;
    f->closing = true;
    offload_free(f->io); /* a job in hand finishes first */
    while (f->spill != NULL) {
        struct batch *b = f->spill;
        f->spill = b->next;
        batch_free(b);
    }
    spool_queue_free(f->queue);
    while (f->pending != NULL) {
        struct batch *b = pop(f);
        spool_file_release(b->file);
        batch_free(b);
    }
    f->unsent = NULL;
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
    event_del(f->pace); /* no more pacing: send the rest now */
    struct timeval tv = util_ms_timeval(FLUSH_DRAIN_MS);
    event_add(f->timer, &tv);
    flush_round(f);
    check_drained(f);
}

uint64_t flush_inflight_follows(const struct flush *f)
{
    return spool_follows(f->pending) + f->spill_follows;
}
