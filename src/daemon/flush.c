/* flush: delivers one worker's tally to Redis exactly once. Every
 * flush_interval_ms the tally is sealed into batches (a writer id and a
 * sequence number each) per stream: one stream in modes single and
 * sentinel, one per slot in mode cluster. A stream's batches go in order, up
 * to FLUSH_INFLIGHT on the wire at once, and a batch that fails is sent
 * again unchanged, with those after it, until Redis answers it. The script
 * applies a batch only if the stream's marker shows the sequence before,
 * and moves the marker in the same atomic step, so a batch applied whose
 * reply was lost is not applied twice; with wait_replicas, a batch is
 * confirmed only once a WAIT on the connection that applied it says enough
 * replicas have it (docs/delivery.md). */
#include "flush.h"

#include <errno.h>
#include <event2/event.h>
#include <hiredis.h>
#include <nettle/sha1.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "batch.h"
#include "conf.h"
#include "hll.h"
#include "keys.h"
#include "log.h"
#include "lua_flush.h"
#include "metrics.h"
#include "offload.h"
#include "route.h"
#include "slot.h"
#include "spool.h"
#include "tally.h"
#include "util.h"

#define FLUSH_DRAIN_MS 50
#define FLUSH_PACE_MAX_MS 20       /* the widest gap between two ticks of a round */
#define FLUSH_FIELDS_MAX 7         /* total, d:, h:, bot, bot:d:, scan, scan:d: */
#define FLUSH_INFLIGHT 8           /* batches of one stream on the wire at once */
#define FLUSH_INFLIGHT_ALL 256     /* of all streams (mode cluster) */
#define FLUSH_WAIT_AGAIN_MS 100    /* a WAIT that fell short is sent again after */
#define FLUSH_SPILL_RETRY_MS 1000  /* a spill that could not be written is tried again */

/* The field names of one UTC hour, formatted once per hour, not per key. */
struct flush_fields {
    int64_t hour;
    int day_len, hour_len, botday_len, scanday_len;
    char day[KEYS_FIELD_MAX], hourf[KEYS_FIELD_MAX], botday[KEYS_FIELD_MAX],
        scanday[KEYS_FIELD_MAX];
};

/* The batches of one marker, delivered in order: in mode cluster one stream
 * per slot (a script's keys must share a slot, and the slot is what Redis
 * migrates and fails over, so the marker moves with its counters), else one
 * stream for everything. */
struct stream {
    unsigned slot;
    struct batch *head, **tail; /* sealed, not confirmed; the head goes first */
    struct batch *unsent;       /* no batch before it waits to be sent */
    size_t inflight;            /* batches of this stream on the wire */
    bool force_head;            /* the head met a gap: its writer's marker is gone */
    bool retry;                 /* a reply failed: send again from the head once clear */
    bool backoff;               /* ... not before the next tick (TRYAGAIN, a lost link) */
    bool active;                /* in the send list */
    struct stream *next_active;
    uint64_t next_seq;  /* this writer's next sequence in the stream */
    uint64_t spill_seq; /* sealing a spill: its next sequence here */
    struct batch *open; /* sealing: the stream's batch being filled */
};

struct flush {
    const struct conf *conf;
    struct route *r;
    struct tally *t;
    struct metrics *m;
    struct event *timer;
    struct event *pace; /* spaces the batches of a round */
    struct event *wait_ev; /* sends the WAITs that confirm applied batches */
    struct flush_fields fields;
    int64_t date_day; /* the day date holds, formatted once a day */
    char date[KEYS_DATE_MAX];
    char writer[BATCH_WRITER_MAX];
    char sha[41]; /* SHA1 of the flush script, for EVALSHA */
    bool cluster;
    struct stream **streams; /* by slot (mode cluster) or [0]; NULL until used */
    size_t nstreams;
    struct stream **used; /* the streams allocated, in order */
    size_t nused;
    struct stream *active, *active_tail; /* streams with a batch to send */
    unsigned spills;                     /* overflow spool files written */
    size_t pending_keys;                 /* keys sealed, not confirmed */
    size_t max_pending; /* pending_keys beyond which the tally is not sealed */
    size_t inflight;    /* batches on the wire, all streams */
    unsigned pace_ms;   /* gap between two ticks of this round; 0: no pacing */
    size_t per_tick;    /* batches sent back to back per tick */
    size_t sent_this_tick;
    /* Batches applied and waiting for a WAIT to confirm them. */
    struct batch **awaiting;
    size_t nawaiting, awaiting_cap;
    uint64_t next_wait_id;
    uint64_t short_logged_ms;
    void (*drain_done)(void *arg);
    void *drain_arg;
    bool draining;
    bool closing; /* spooling or freeing: no more spool jobs */
    size_t retiring; /* marker deletions unanswered */
    void (*retire_done)(void *arg);
    void *retire_arg;

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
    if (f->draining && f->pending_keys == 0 && tally_keys(f->t) == 0 &&
        f->spill == NULL && !offload_busy(f->io)) {
        f->draining = false;
        event_del(f->timer);
        f->drain_done(f->drain_arg);
    }
}

static struct stream *stream_get(struct flush *f, unsigned slot)
{
    size_t i = f->cluster ? slot : 0;
    if (f->streams[i] == NULL) {
        struct stream *s = xcalloc(1, sizeof(*s));
        s->slot = (unsigned)i;
        s->tail = &s->head;
        s->next_seq = 1;
        s->spill_seq = 1;
        f->streams[i] = s;
        f->used[f->nused++] = s;
    }
    return f->streams[i];
}

/* Put s in the send list, at its end (streams take turns). */
static void activate(struct flush *f, struct stream *s)
{
    if (s->active || s->unsent == NULL)
        return;
    s->active = true;
    s->next_active = NULL;
    if (f->active_tail != NULL)
        f->active_tail->next_active = s;
    else
        f->active = s;
    f->active_tail = s;
}

static struct stream *take_active(struct flush *f)
{
    struct stream *s = f->active;
    if (s != NULL) {
        f->active = s->next_active;
        if (f->active == NULL)
            f->active_tail = NULL;
        s->active = false;
    }
    return s;
}

static void push(struct flush *f, struct batch *b)
{
    struct stream *s = stream_get(f, b->slot);
    b->next = NULL;
    b->state = BATCH_UNSENT;
    *s->tail = b;
    s->tail = &b->next;
    f->pending_keys += b->room;
    if (s->unsent == NULL)
        s->unsent = b;
}

static struct batch *pop(struct flush *f, struct stream *s)
{
    struct batch *b = s->head;
    s->head = b->next;
    if (s->head == NULL)
        s->tail = &s->head;
    if (s->unsent == b)
        s->unsent = s->head;
    f->pending_keys -= b->room;
    b->next = NULL;
    return b;
}

static const char *date_of(struct flush *f, int64_t hour);

/* Build the key of e (a counter hash, or a day's HyperLogLog) into key
 * (KEYS_MAX); its length. */
static int entry_key(struct flush *f, const struct tally_entry *e, char *key)
{
    const char *p = f->conf->key_prefix;
    switch ((enum tally_kind)e->kind) {
    case TALLY_LINK:
        return keys_clicks(key, p, e->name, e->len);
    case TALLY_CAMPAIGN:
        return keys_campaign_clicks(key, p, e->name, e->len);
    case TALLY_LINK_UNIQ:
        return keys_uniq(key, p, e->name, e->len, date_of(f, e->hour));
    case TALLY_CAMPAIGN_UNIQ:
        return keys_campaign_uniq(key, p, e->name, e->len, date_of(f, e->hour));
    }
    return -1;
}

static const char *const kind_names[] = {
    [TALLY_LINK] = "link",
    [TALLY_CAMPAIGN] = "campaign",
    [TALLY_LINK_UNIQ] = "link_uniques",
    [TALLY_CAMPAIGN_UNIQ] = "campaign_uniques",
};

static unsigned entry_slot(struct flush *f, const struct tally_entry *e)
{
    if (!f->cluster)
        return 0;
    char key[KEYS_MAX];
    int len = entry_key(f, e, key);
    return len > 0 ? slot_of(key, (size_t)len) : 0;
}

/* The writer id of a batch of `writer` in slot: in mode cluster each slot's
 * batches are a writer of their own ("W.sSLOT"), so a spool file written in
 * one mode replays exactly once in the other. */
static void stream_writer(const struct flush *f, const char *writer, unsigned slot,
                          char *out)
{
    if (f->cluster)
        snprintf(out, BATCH_WRITER_MAX, "%.40s.s%u", writer, slot);
    else
        util_strlcpy(out, writer, BATCH_WRITER_MAX);
}

/* Seal everything in the tally into batches of writer: per stream, numbered
 * from the stream's next sequence (spill: from 1, a writer of its own). */
static struct batch *seal(struct flush *f, const char *writer, bool spill)
{
    struct batch *list = NULL, **tail = &list;
    size_t per = (size_t)f->conf->flush_batch_keys;
    for (size_t i = 0; i < f->nused; i++) {
        f->used[i]->open = NULL;
        f->used[i]->spill_seq = 1;
    }
    struct tally_entry *e = tally_take(f->t);
    while (e != NULL) {
        struct tally_entry *next = e->next;
        struct stream *s = stream_get(f, entry_slot(f, e));
        if (s->open == NULL || s->open->n == per) {
            char w[BATCH_WRITER_MAX];
            stream_writer(f, writer, s->slot, w);
            s->open = batch_new(w, spill ? s->spill_seq++ : s->next_seq++, per);
            s->open->slot = s->slot;
            *tail = s->open;
            tail = &s->open->next;
        }
        batch_add(s->open, e);
        e = next;
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
        metric_add(&f->m->follows_dropped, tally_entry_follows(e));
        metric_add(&f->m->flush_errors, 1);
        log_error("event=flush_rejected key_kind=%s name=%s follows=%" PRIu64
                  " reason=\"Redis refused the update (is the key a %s?)\"",
                  kind_names[e->kind], e->name, tally_entry_follows(e),
                  tally_entry_uniq(e) ? "HyperLogLog" : "hash");
    }
}

/* Confirmed batches leave from the head, in order; once the wire of a
 * stream is clear after a failure, it is sent again from its head (batches
 * already applied are skipped: the marker would answer "applied before"). */
static void settle(struct flush *f, struct stream *s)
{
    while (s->head != NULL && s->head->state == BATCH_DONE) {
        struct batch *b = pop(f, s);
        metric_add(&f->m->flushes, 1);
        for (size_t i = 0; i < b->n; i++) /* each follow once: its link's key */
            if (b->entries[i]->kind == TALLY_LINK)
                metric_add(&f->m->delivered, tally_entry_follows(b->entries[i]));
        spool_file_done(b->file);
        batch_free(b);
    }
    if (s->retry && s->inflight == 0) {
        s->retry = false;
        s->unsent = s->head;
    }
    /* A failure waits for the next tick (a pace tick, or the round's); a
     * head that met a gap goes at once, alone. */
    if (!s->backoff || s->force_head)
        activate(f, s);
    update_gauge(f);
}

static void wait_kick(struct flush *f, uint64_t after_ms)
{
    if (!evtimer_pending(f->wait_ev, NULL)) {
        struct timeval tv = util_ms_timeval(after_ms);
        evtimer_add(f->wait_ev, &tv);
    }
}

/* The batch was applied (now or before): confirmed at once, or once a WAIT
 * on the same connection says enough replicas have it. */
static void applied(struct flush *f, struct batch *b, const struct route_via *via)
{
    if (f->conf->wait_replicas == 0) {
        b->state = BATCH_DONE;
        return;
    }
    b->state = BATCH_APPLIED;
    b->via_rc = via->rc;
    b->via_epoch = via->epoch;
    b->wait_id = 0;
    if (f->nawaiting == f->awaiting_cap) {
        f->awaiting_cap = f->awaiting_cap ? f->awaiting_cap * 2 : 64;
        f->awaiting = xrealloc(f->awaiting, f->awaiting_cap * sizeof(*f->awaiting));
    }
    f->awaiting[f->nawaiting++] = b;
    wait_kick(f, 0);
}

/* A failed attempt: the batch goes again, in order, once its stream's wire
 * is clear. */
static void failed(struct stream *s, struct batch *b)
{
    b->state = BATCH_UNSENT;
    s->retry = true;
    s->backoff = true;
}

static void on_reply(redisReply *r, const struct route_via *via, void *arg)
{
    struct flush_cmd *cmd = arg;
    struct flush *f = cmd->f;
    struct batch *b = cmd->b;
    uint64_t sent_us = cmd->sent_us;

    free(cmd);
    if (f->closing)
        return; /* shutting down: the batches were spooled or freed */
    struct stream *s = stream_get(f, b->slot);
    s->inflight--;
    f->inflight--;
    long long status = -1;
    if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements >= 1 &&
        r->element[0]->type == REDIS_REPLY_INTEGER)
        status = r->element[0]->integer;
    if (status == 0 || status == 1) {
        if (b == s->head)
            s->force_head = false;
        if (status == 1) {
            /* Applied before; its reply had been lost. Nothing to do again. */
            metric_add(&f->m->flush_duplicates, 1);
            log_info("event=flush_duplicate writer=%s seq=%" PRIu64
                     " reason=\"applied before\"",
                     b->writer, b->seq);
        } else {
            report_refused(f, b, r);
        }
        metrics_observe_flush(f->m, util_now_us() - sent_us);
        applied(f, b, via);
    } else {
        if (b == s->head) {
            metric_add(&f->m->flush_errors, 1);
            if (status == 2) {
                /* Everything before the head is confirmed, so its writer's
                 * marker was lost (expired, deleted, Redis lost its data). */
                log_warn("event=flush_marker_gap writer=%s seq=%" PRIu64
                         " reason=\"marker missing or behind; applying anyway\"",
                         b->writer, b->seq);
                s->force_head = true;
            } else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
                log_warn("event=flush_retry writer=%s seq=%" PRIu64 " reason=\"%.120s\"",
                         b->writer, b->seq, r->str);
            }
        }
        failed(s, b); /* not applied, or not known to be: again */
    }
    settle(f, s);
    if (!event_pending(f->pace, EV_TIMEOUT, NULL))
        send_more(f);
    check_drained(f);
}

/* One WAIT on the wire: the batches it covers carry its id. */
struct flush_wait {
    struct flush *f;
    uint64_t id;
};

static void on_wait(redisReply *r, const struct route_via *via, void *arg)
{
    struct flush_wait *fw = arg;
    struct flush *f = fw->f;
    uint64_t id = fw->id;
    free(fw);
    if (f->closing)
        return;
    bool ok = r != NULL && r->type == REDIS_REPLY_INTEGER &&
              r->integer >= f->conf->wait_replicas;
    /* Short, on a connection still up: its writes may yet reach a replica,
     * so WAIT again. An error (UNBLOCKED: the primary was demoted) or a lost
     * connection: send the batches again, unchanged, wherever their slot is
     * now; the marker makes that exactly once. */
    bool again = !ok && r != NULL && r->type == REDIS_REPLY_INTEGER && via != NULL;
    if (!ok) {
        metric_add(&f->m->wait_shortfalls, 1);
        uint64_t now = util_coarse_ms();
        if (now - f->short_logged_ms >= 1000) {
            f->short_logged_ms = now;
            if (r != NULL && r->type == REDIS_REPLY_INTEGER)
                log_warn("event=flush_wait_short replicas=%lld wanted=%d "
                         "action=\"batches kept; waiting again\"",
                         r->integer, f->conf->wait_replicas);
            else
                log_warn("event=flush_wait_failed reason=\"%.120s\" "
                         "action=\"batches sent again\"",
                         r == NULL                      ? "no answer"
                         : r->type == REDIS_REPLY_ERROR ? r->str
                                                        : "?");
        }
    }
    size_t kept = 0;
    for (size_t i = 0; i < f->nawaiting; i++) {
        struct batch *b = f->awaiting[i];
        if (b->wait_id != id) {
            f->awaiting[kept++] = b;
            continue;
        }
        struct stream *s = stream_get(f, b->slot);
        if (ok) {
            b->state = BATCH_DONE;
        } else if (again) {
            b->wait_id = 0;
            f->awaiting[kept++] = b;
            continue;
        } else {
            failed(s, b);
        }
        settle(f, s);
    }
    f->nawaiting = kept;
    if (again)
        wait_kick(f, FLUSH_WAIT_AGAIN_MS);
    if (!event_pending(f->pace, EV_TIMEOUT, NULL))
        send_more(f);
    check_drained(f);
}

/* Send a WAIT on every connection that applied batches no WAIT covers yet. */
static void on_wait_ev(evutil_socket_t fd, short what, void *arg)
{
    struct flush *f = arg;
    (void)fd;
    (void)what;
    for (size_t i = 0; i < f->nawaiting;) {
        struct batch *b = f->awaiting[i];
        if (b->wait_id != 0) {
            i++;
            continue;
        }
        struct route_via via = {b->via_rc, b->via_epoch};
        struct flush_wait *fw = xmalloc(sizeof(*fw));
        fw->f = f;
        fw->id = ++f->next_wait_id;
        for (size_t j = i; j < f->nawaiting; j++) {
            struct batch *c = f->awaiting[j];
            if (c->wait_id == 0 && c->via_rc == via.rc && c->via_epoch == via.epoch)
                c->wait_id = fw->id;
        }
        if (route_wait(f->r, &via, f->conf->wait_replicas, f->conf->wait_timeout_ms,
                       on_wait, fw) != 0) {
            /* That connection is gone: as if the WAIT failed. This takes
             * its batches out of the array, so scan it again. */
            on_wait(NULL, NULL, fw);
            i = 0;
            continue;
        }
        i++;
    }
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
        ff->botday_len = keys_field_class_day(ff->botday, KEYS_FIELD_BOT, hour);
        ff->scanday_len = keys_field_class_day(ff->scanday, KEYS_FIELD_SCAN, hour);
    }
    return ff;
}

/* "YYYY-MM-DD" of hour's UTC day, for unique followers' keys. */
static const char *date_of(struct flush *f, int64_t hour)
{
    int64_t day = hour / 24;
    if (f->date[0] == '\0' || f->date_day != day) {
        f->date_day = day;
        keys_date(f->date, hour);
    }
    return f->date;
}

/* The batch's marker key: P:flush:WRITER, or in mode cluster
 * P:flush:{TAG}:WRITER with TAG hashing to the batch's slot. */
static int marker_key(const struct flush *f, const struct batch *b, char *key)
{
    if (!f->cluster)
        return keys_flush_marker(key, f->conf->key_prefix, b->writer);
    char tag[SLOT_TAG_MAX];
    slot_tag(b->slot, tag);
    return keys_flush_marker_tagged(key, f->conf->key_prefix, tag, b->writer);
}

/* A unique entry's arguments: minus the number of its cells, then their
 * PFADD elements (hll.h: 8 bytes each, made from the cell alone) end to end
 * in one argument: one argument per key, not per cell, for hiredis to
 * format and Redis to parse. */
static void uniq_args(struct argv_buf *a, const struct tally_entry *e)
{
    char num[24];
    arg_copy(a, num, snprintf(num, sizeof(num), "-%" PRIu32, e->cells.n));
    char *blob = a->text + a->used;
    size_t len = 0;
    for (uint32_t i = 0; i < e->cells.cap; i++) {
        hll_cell c = hll_set_slot(&e->cells, i);
        if (c != 0) {
            hll_element(c, (unsigned char *)blob + len);
            len += 8;
        }
    }
    a->used += len;
    arg(a, blob, len);
}

/* Send one batch; false when it could not be sent. */
static bool send_batch(struct flush *f, struct batch *b, bool force)
{
    enum { PER_KEY = 1 + 2 * FLUSH_FIELDS_MAX };
    size_t cells = 0;
    for (size_t i = 0; i < b->n; i++)
        cells += b->entries[i]->cells.n;
    /* EVALSHA sha numkeys marker seq force, then per key */
    size_t maxargs = 6 + b->n * (1 + PER_KEY);
    struct argv_buf a = {0};
    a.argv = xmalloc(maxargs * sizeof(*a.argv));
    a.len = xmalloc(maxargs * sizeof(*a.len));
    a.text = xmalloc(KEYS_TAGGED_MAX + 48 + cells * 8 +
                     b->n * (KEYS_MAX + FLUSH_FIELDS_MAX * KEYS_FIELD_MAX + 8 * 24));
    char marker[KEYS_TAGGED_MAX];
    int mlen = marker_key(f, b, marker);
    arg(&a, "EVALSHA", 7);
    arg(&a, f->sha, 40); /* src/daemon/lua/flush.lua */
    arg_num(&a, b->n + 1);
    arg_copy(&a, marker, mlen);
    for (size_t i = 0; i < b->n; i++) {
        char key[KEYS_MAX];
        arg_copy(&a, key, entry_key(f, b->entries[i], key)); /* names fit: ≤ 64 bytes */
    }
    arg_num(&a, b->seq);
    arg(&a, force ? "1" : "0", 1);
    for (size_t i = 0; i < b->n; i++) {
        const struct tally_entry *e = b->entries[i];
        if (tally_entry_uniq(e)) {
            uniq_args(&a, e);
            continue;
        }
        const struct flush_fields *ff = fields_of(f, e->hour);
        arg_num(&a,
                (e->human > 0 ? 3 : 0) + (e->bot > 0 ? 2 : 0) + (e->scan > 0 ? 2 : 0));
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
        if (e->scan > 0) {
            arg(&a, KEYS_FIELD_SCAN, strlen(KEYS_FIELD_SCAN));
            arg_num(&a, e->scan);
            arg_copy(&a, ff->scanday, ff->scanday_len);
            arg_num(&a, e->scan);
        }
    }
    struct flush_cmd *cmd = xmalloc(sizeof(*cmd));
    cmd->f = f;
    cmd->b = b;
    cmd->sent_us = util_now_us();
    bool ok =
        mlen > 0 && route_command(f->r, marker, (size_t)mlen, lua_flush, lua_flush_len,
                                  on_reply, cmd, a.argc, a.argv, a.len) == 0;
    if (!ok)
        free(cmd);
    free(a.argv);
    free(a.len);
    free(a.text);
    return ok;
}

/* The stream's next batch to send, or NULL when it has none or must wait:
 * at most FLUSH_INFLIGHT of a stream on the wire (one connection runs them
 * in order, and one fsync under appendfsync always serves all that arrive
 * together); a head that met a gap goes alone, once the wire is clear. */
static struct batch *next_to_send(struct stream *s)
{
    while (s->unsent != NULL && s->unsent->state != BATCH_UNSENT)
        s->unsent = s->unsent->next;
    struct batch *b = s->unsent;
    if (b == NULL || s->inflight >= FLUSH_INFLIGHT)
        return NULL;
    if (s->force_head && (b != s->head || s->inflight > 0))
        return NULL;
    return b;
}

/* Send what the streams have, taking turns, paced as a round asks. */
static void send_more(struct flush *f)
{
    size_t cap = f->cluster ? FLUSH_INFLIGHT_ALL : FLUSH_INFLIGHT;
    struct stream *s;
    while (f->inflight < cap && (s = take_active(f)) != NULL) {
        struct batch *b = next_to_send(s);
        if (b == NULL)
            continue; /* back in the list when a reply frees it */
        if (f->pace_ms > 0 && !f->draining && f->sent_this_tick >= f->per_tick) {
            /* Spread a round over 5/8 of an interval (leaving slack
             * for timer rounding): Redis often shares a core with hopcount,
             * and a burst of calls would stall the requests behind it. */
            activate(f, s);
            struct timeval tv = util_ms_timeval(f->pace_ms);
            event_add(f->pace, &tv);
            return;
        }
        bool force = s->force_head && b == s->head;
        if (!send_batch(f, b, force))
            continue; /* no server for its slot now: the next round tries */
        b->state = BATCH_SENT;
        f->sent_this_tick++;
        s->inflight++;
        f->inflight++;
        s->unsent = b->next;
        activate(f, s);
    }
}

struct flush_retire {
    struct flush *f;
};

static void on_retired(redisReply *r, const struct route_via *via, void *arg)
{
    struct flush *f = arg;
    (void)r; /* a marker left behind costs a key, never a count */
    (void)via;
    if (--f->retiring == 0)
        f->retire_done(f->retire_arg);
}

void flush_retire(struct flush *f, void (*done)(void *arg), void *arg)
{
    f->retire_done = done;
    f->retire_arg = arg;
    f->retiring = 1; /* held until every DEL is sent */
    bool clean = f->pending_keys == 0 && tally_keys(f->t) == 0;
    for (size_t i = 0; clean && i < f->nused; i++) {
        struct stream *s = f->used[i];
        if (s->next_seq == 1)
            continue; /* this writer never sealed a batch there */
        struct batch probe = {.slot = s->slot};
        stream_writer(f, f->writer, s->slot, probe.writer);
        char marker[KEYS_TAGGED_MAX];
        int len = marker_key(f, &probe, marker);
        const char *argv[] = {"DEL", marker};
        size_t argvlen[] = {3, (size_t)len};
        if (len > 0 && route_command(f->r, marker, (size_t)len, NULL, 0, on_retired, f, 2,
                                     argv, argvlen) == 0)
            f->retiring++;
    }
    if (--f->retiring == 0)
        done(arg);
}

/* Batches not sent yet, all streams. */
static size_t count_unsent(struct flush *f)
{
    size_t n = 0;
    for (size_t i = 0; i < f->nused; i++)
        for (const struct batch *b = f->used[i]->unsent; b != NULL; b = b->next)
            n += b->state == BATCH_UNSENT;
    return n;
}

void flush_round(struct flush *f)
{
    if (!route_ready(f->r)) {
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
        struct batch *list = seal(f, f->writer, false);
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
    size_t batches = count_unsent(f);
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
    for (size_t i = 0; i < f->nused; i++) {
        f->used[i]->backoff = false;
        activate(f, f->used[i]);
    }
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

/* The script's SHA1 in hex, for EVALSHA. */
static void script_sha(char *out)
{
    struct sha1_ctx ctx;
    uint8_t d[SHA1_DIGEST_SIZE];
    sha1_init(&ctx);
    sha1_update(&ctx, lua_flush_len, (const uint8_t *)lua_flush);
    sha1_digest(&ctx, sizeof(d), d);
    for (size_t i = 0; i < sizeof(d); i++)
        snprintf(out + 2 * i, 3, "%02x", d[i]);
}

struct flush *flush_new(struct event_base *base, const struct conf *conf, struct route *r,
                        struct tally *t, struct metrics *m, int worker,
                        size_t max_pending, char *err, size_t errsz)
{
    struct flush *f = xcalloc(1, sizeof(*f));
    f->conf = conf;
    f->r = r;
    f->t = t;
    f->m = m;
    f->max_pending = max_pending;
    f->cluster = conf->redis_mode == CONF_MODE_CLUSTER;
    f->nstreams = f->cluster ? SLOT_COUNT : 1;
    f->streams = xcalloc(f->nstreams, sizeof(*f->streams));
    f->used = xcalloc(f->nstreams, sizeof(*f->used));
    script_sha(f->sha);
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
        free(f->streams);
        free(f->used);
        free(f);
        return NULL;
    }
    /* Its start leads (hopctl markers prunes the markers of old writers);
     * the 64 random bits make it unique (docs/scaling.md). */
    snprintf(f->writer, sizeof(f->writer), "%08" PRIx32 "%016" PRIx64 "-%d",
             (uint32_t)(util_wall_ms() / 1000), id, worker);
    f->io = offload_new(base, err, errsz);
    if (f->io == NULL) {
        free(f->streams);
        free(f->used);
        free(f);
        return NULL;
    }
    f->timer = event_new(base, -1, EV_PERSIST, on_timer, f);
    f->pace = evtimer_new(base, on_pace, f);
    f->wait_ev = evtimer_new(base, on_wait_ev, f);
    if (f->timer == NULL || f->pace == NULL || f->wait_ev == NULL) {
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

/* Batches read from a spool file, given their stream. In mode cluster a
 * batch whose keys span slots (written in mode single) is split by slot,
 * each part a writer of its own, "WRITER.bSEQ.sSLOT" numbered 1: the split
 * is the same at every replay, so each part applies exactly once. */
static struct batch *assign_streams(struct flush *f, struct batch *list)
{
    struct batch *out = NULL, **tail = &out;
    while (list != NULL) {
        struct batch *b = list;
        list = b->next;
        b->next = NULL;
        b->slot = b->n > 0 ? entry_slot(f, b->entries[0]) : 0;
        bool one_slot = true;
        for (size_t i = 1; i < b->n && one_slot; i++)
            one_slot = entry_slot(f, b->entries[i]) == b->slot;
        if (one_slot) {
            *tail = b;
            tail = &b->next;
            continue;
        }
        size_t parts = 0;
        for (size_t i = 0; i < b->n; i++) {
            if (b->entries[i] == NULL)
                continue;
            parts++;
            unsigned slot = entry_slot(f, b->entries[i]);
            char w[BATCH_WRITER_MAX];
            snprintf(w, sizeof(w), "%.24s.b%" PRIu64 ".s%u", b->writer, b->seq, slot);
            struct batch *part = batch_new(w, 1, b->n);
            part->slot = slot;
            part->file = b->file;
            for (size_t j = i; j < b->n; j++)
                if (b->entries[j] != NULL && entry_slot(f, b->entries[j]) == slot) {
                    batch_add(part, b->entries[j]);
                    b->entries[j] = NULL;
                }
            *tail = part;
            tail = &part->next;
        }
        /* The parts stand for the batch in its file's count. */
        spool_file_split(b->file, parts - 1);
        b->n = 0;
        batch_free(b);
    }
    return out;
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
    push_list(f, assign_streams(f, list));
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
    push_list(f, assign_streams(f, f->read));
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
        route_ready(f->r) && f->pending_keys < f->max_pending / 2) {
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
    snprintf(f->spill_writer, sizeof(f->spill_writer), "%.40s-s%u", f->writer,
             ++f->spills);
    f->spill = seal(f, f->spill_writer, true);
    f->spill_keys = 0;
    for (const struct batch *b = f->spill; b != NULL; b = b->next)
        f->spill_keys += b->room;
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
    push_list(f, seal(f, f->writer, false));
    f->nawaiting = 0;
    struct batch *fresh = NULL, **tail = &fresh;
    for (size_t i = 0; i < f->nused; i++) {
        struct stream *s = f->used[i];
        while (s->head != NULL) {
            struct batch *b = pop(f, s);
            if (b->file != NULL) {
                spool_file_release(b->file);
                batch_free(b);
                continue;
            }
            *tail = b;
            tail = &b->next;
        }
    }
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
    for (size_t i = 0; i < f->nused; i++) {
        struct stream *s = f->used[i];
        while (s->head != NULL) {
            struct batch *b = pop(f, s);
            spool_file_release(b->file);
            batch_free(b);
        }
        free(s);
    }
    free(f->streams);
    free(f->used);
    free(f->awaiting);
    event_free(f->wait_ev);
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
    uint64_t n = f->spill_follows;
    for (size_t i = 0; i < f->nused; i++)
        n += spool_follows(f->used[i]->head);
    return n;
}
