/* worker: one thread with its own event_base and everything on its path. */
#include "worker.h"

#include <errno.h>
#include <event2/event.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "code.h"
#include "access.h"
#include "conf.h"
#include "flush.h"
#include "handler.h"
#include "http.h"
#include "keys.h"
#include "links.h"
#include "lists.h"
#include "log.h"
#include "rconn.h"
#include "route.h"
#include "spool.h"
#include "tally.h"
#include "uniq.h"
#include "util.h"

struct worker {
    int id;
    int nworkers;
    struct conf *conf; /* this thread's own copy: a reload changes it here */
    struct event_base *base;
    pthread_t thread;
    bool started;
    struct metrics metrics;
    struct lists *lists;       /* this thread's copy: the bots memo is not shared */
    struct route *r;           /* commands: link lookups and flushes */
    struct rconn *sub;         /* P:events subscriber */
    struct links *links;
    struct tally *tally;
    struct flush *flush;
    struct handler *handler;
    struct burst *burst; /* the node's burst table (borrowed) */
    struct uniq *uniq;   /* the day's key for unique followers */
    struct http_server *http;
    int stop_pipe[2]; /* wakes the loop for a stop or a reload */
    struct event *stop_ev;
    atomic_bool stop_requested;
    pthread_mutex_t mbox_lock; /* guards the reload mailbox */
    struct conf *mbox_conf;    /* a reload not yet applied, or NULL */
    struct lists *mbox_lists;
    struct event *deadline;
    struct event *tick; /* once a second: the access log's minute summaries */
    bool stopping;
    bool finished; /* finish() ran: the loop is ending */
    bool rc_was_up, sub_was_up; /* for counting reconnects */
    unsigned long long unflushed;
};

static void finish(struct worker *w)
{
    if (w->finished)
        return; /* the deadline came first; a late retire answer changes nothing */
    w->finished = true;
    access_tick(util_wall_ms(), true);
    handler_decide(w->handler, true); /* the deadline came first: none is lost */
    uint64_t left = tally_follows(w->tally) + flush_inflight_follows(w->flush);
    if (left > 0) {
        /* Redis did not take everything in time: spool it for the next start. */
        char err[256];
        int rc;
        uint64_t n = flush_spool_all(w->flush, err, sizeof(err), &rc);
        if (rc == 0) {
            metric_add(&w->metrics.spooled, n);
            log_warn("event=spooled worker=%d follows=%llu dir=%s reason=\"Redis did not "
                     "take them within shutdown_timeout_ms; replayed at the next start\"",
                     w->id, (unsigned long long)n, w->conf->spool_dir);
            left = 0;
        } else {
            log_error("event=spool_failed worker=%d follows=%llu reason=\"%s\"", w->id,
                      (unsigned long long)n, err);
        }
    }
    w->unflushed = left;
    event_base_loopexit(w->base, NULL);
}

static void on_retired(void *arg)
{
    struct worker *w = arg;
    event_del(w->deadline);
    finish(w);
}

static void on_flushed(void *arg)
{
    struct worker *w = arg;
    log_debug("event=worker_flushed worker=%d", w->id);
    flush_retire(w->flush, on_retired, w);
}

static void on_drained(void *arg)
{
    struct worker *w = arg;
    /* No request is in flight any more: the follows held for the burst
     * rule are decided now, and what is tallied is final. */
    handler_decide(w->handler, true);
    flush_drain(w->flush, on_flushed, w);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    http_server_close_all(w->http);
    finish(w);
}

static void on_tick(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    (void)fd;
    (void)what;
    access_tick(util_wall_ms(), false);
    handler_decide(w->handler, false);
    uniq_tick(w->uniq);
}

/* Per-worker shares of the limits given across all workers. */
static size_t share(int total, int n, size_t floor)
{
    size_t v = (size_t)total / (size_t)n;
    return v < floor ? floor : v;
}

/* Apply a reload on this worker's thread: its conf copy takes the live keys,
 * the lists are swapped, and the limits and flush timer follow. */
static void apply_reload(struct worker *w, struct conf *fresh, struct lists *lists)
{
    conf_apply_reloadable(w->conf, fresh);
    conf_free(fresh);
    struct lists *old = w->lists;
    w->lists = lists;
    http_server_set_lists(w->http, lists);
    lists_free(old);
    links_set_max_entries(w->links, share(w->conf->cache_max_entries, w->nworkers, 100));
    size_t pending = share(w->conf->max_pending_keys, w->nworkers, 1000);
    tally_set_max_keys(w->tally, pending);
    flush_reconfigure(w->flush, pending);
    log_info("event=worker_reloaded worker=%d", w->id);
}

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
    struct worker *w = arg;
    char b[16];
    (void)what;

    while (read(fd, b, sizeof(b)) > 0)
        ;
    pthread_mutex_lock(&w->mbox_lock);
    struct conf *fresh = w->mbox_conf;
    struct lists *lists = w->mbox_lists;
    w->mbox_conf = NULL;
    w->mbox_lists = NULL;
    pthread_mutex_unlock(&w->mbox_lock);
    if (fresh != NULL && w->stopping) {
        conf_free(fresh); /* too late to matter: this worker is on its way out */
        lists_free(lists);
    } else if (fresh != NULL)
        apply_reload(w, fresh, lists);
    if (w->stopping || !atomic_load(&w->stop_requested))
        return;
    w->stopping = true;
    struct timeval tv = util_ms_timeval((uint64_t)w->conf->shutdown_timeout_ms);
    event_add(w->deadline, &tv);
    http_server_stop(w->http, on_drained, w);
}

static void on_route_state(struct route *r, bool up, void *arg)
{
    struct worker *w = arg;
    int known, connected;
    route_primaries(r, &known, &connected);
    metric_set(&w->metrics.redis_up, route_ready(r));
    metric_set(&w->metrics.redis_primaries, (uint64_t)known);
    metric_set(&w->metrics.redis_primaries_up, (uint64_t)connected);
    if (up && w->rc_was_up)
        metric_add(&w->metrics.redis_reconnects, 1);
    if (up)
        w->rc_was_up = true;
    if (up && w->flush != NULL)
        flush_round(w->flush); /* deliver what piled up while Redis was away */
    if (up && w->uniq != NULL)
        uniq_tick(w->uniq); /* the day's key, at once */
}

static void on_sub_state(struct rconn *rc, enum rconn_state st, void *arg)
{
    struct worker *w = arg;
    (void)rc;
    /* Messages may have been missed while the subscription was down; and
     * while it is, cached links are only trusted for a second. */
    if (st == RCONN_READY)
        links_invalidate_all(w->links);
    links_set_live(w->links, st == RCONN_READY);
    metric_set(&w->metrics.redis_subscribed, st == RCONN_READY);
    if (st == RCONN_READY && w->sub_was_up)
        metric_add(&w->metrics.redis_reconnects, 1);
    if (st == RCONN_READY)
        w->sub_was_up = true;
}

static void on_event(struct rconn *rc, const char *msg, size_t len, void *arg)
{
    struct worker *w = arg;
    (void)rc;
    if (code_valid(msg, len))
        links_invalidate(w->links, msg, len);
}

/* The worker's own event base: one thread per base, so no locks; the
 * changelist merges epoll_ctl calls. 0, or -1 with err. */
static int create_base(struct worker *w, char *err, size_t errsz)
{
    struct event_config *cfg = event_config_new();
    if (cfg == NULL) {
        snprintf(err, errsz, "cannot create an event config");
        return -1;
    }
    event_config_set_flag(cfg, EVENT_BASE_FLAG_NOLOCK |
                                   EVENT_BASE_FLAG_EPOLL_USE_CHANGELIST |
                                   EVENT_BASE_FLAG_IGNORE_ENV);
    w->base = event_base_new_with_config(cfg);
    event_config_free(cfg);
    if (w->base == NULL) {
        snprintf(err, errsz, "cannot create an event base");
        return -1;
    }
    return 0;
}

/* The stop/reload pipe, the shutdown deadline and the one-second tick. */
static int create_events(struct worker *w, char *err, size_t errsz)
{
    if (pipe2(w->stop_pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
        snprintf(err, errsz, "pipe: %s", strerror(errno));
        return -1;
    }
    w->stop_ev = event_new(w->base, w->stop_pipe[0], EV_READ | EV_PERSIST, on_stop, w);
    w->deadline = evtimer_new(w->base, on_deadline, w);
    w->tick = event_new(w->base, -1, EV_PERSIST, on_tick, w);
    struct timeval second = util_ms_timeval(1000);
    if (w->stop_ev == NULL || w->deadline == NULL || w->tick == NULL ||
        event_add(w->stop_ev, NULL) != 0 || event_add(w->tick, &second) != 0) {
        snprintf(err, errsz, "cannot create worker events");
        return -1;
    }
    return 0;
}

/* Everything on a request's and a follow's path: the two Redis
 * connections, the link cache, the tally, the flusher (and, for worker 0,
 * the replay of earlier runs' spool, oldest first, a bounded part at a
 * time), the handler. 0, or -1 with err. */
static int create_path(struct worker *w, char *err, size_t errsz)
{
    const struct conf *conf = w->conf;
    char name[32], chan[KEYS_MAX];
    size_t cache = share(conf->cache_max_entries, w->nworkers, 100);
    size_t pending = share(conf->max_pending_keys, w->nworkers, 1000);

    snprintf(name, sizeof(name), "w%d", w->id);
    w->r = route_new(w->base, conf, &w->metrics, name, on_route_state, w);
    if (w->id == 0)
        route_check_policy(w->r);
    snprintf(name, sizeof(name), "w%d-events", w->id);
    if (conf->redis_mode == CONF_MODE_SINGLE)
        w->sub = rconn_new(w->base, conf, name, on_sub_state, w);
    else /* a cluster node in turn, or the primary the sentinels name */
        w->sub = rconn_new_at(w->base, conf, name, route_subscriber_addr, w->r,
                              on_sub_state, w);
    if (conf->redis_mode != CONF_MODE_SINGLE)
        route_follow(w->r, w->sub);
    keys_events(chan, conf->key_prefix);
    rconn_subscribe(w->sub, chan, on_event, w);
    w->links = links_new(conf, w->r, cache, &w->metrics);
    w->tally = tally_new(pending);
    w->flush =
        flush_new(w->base, conf, w->r, w->tally, &w->metrics, w->id, pending, err, errsz);
    if (w->flush == NULL)
        return -1;
    w->uniq = uniq_new(conf, w->r, &w->metrics);
    w->handler = handler_new(conf, w->links, w->tally, w->flush, &w->metrics, w->burst,
                             w->uniq, share(conf->scanner_clients, w->nworkers, 1024));
    if (w->id == 0) {
        struct spool_queue *q = spool_queue_open(conf->spool_dir);
        if (q == NULL) {
            snprintf(err, errsz, "cannot read spool_dir %s: %s", conf->spool_dir,
                     strerror(errno));
            return -1;
        }
        flush_replay(w->flush, q);
    }
    return 0;
}

struct worker *worker_new(int id, int nworkers, const struct conf *conf,
                          struct http_limit *limit, struct burst *burst, char *err,
                          size_t errsz)
{
    struct worker *w = xcalloc(1, sizeof(*w));
    w->id = id;
    w->burst = burst;
    w->nworkers = nworkers;
    w->conf = conf_dup(conf);
    w->stop_pipe[0] = w->stop_pipe[1] = -1;
    pthread_mutex_init(&w->mbox_lock, NULL);

    if (create_base(w, err, errsz) != 0)
        goto err;
    err[0] = '\0';
    FILE *errs = fmemopen(err, errsz, "w");
    w->lists = errs != NULL ? lists_load(w->conf, errs) : NULL;
    if (errs != NULL)
        fclose(errs);
    if (w->lists == NULL) {
        err[strcspn(err, "\n")] = '\0'; /* the first error */
        goto err;
    }
    if (create_events(w, err, errsz) != 0 || create_path(w, err, errsz) != 0)
        goto err;
    w->http = http_server_new(w->base, w->conf, &w->metrics, w->lists, limit,
                              handler_slot_size(), handler_on_request, handler_on_abort,
                              w->handler, err, errsz);
    if (w->http == NULL)
        goto err;
    return w;
err:
    worker_free(w);
    return NULL;
}

static void *run(void *arg)
{
    struct worker *w = arg;
    event_base_dispatch(w->base);
    return NULL;
}

int worker_start(struct worker *w)
{
    int rc = pthread_create(&w->thread, NULL, run, w);
    if (rc != 0) {
        log_error("event=thread_create_failed reason=\"%s\"", strerror(rc));
        return -1;
    }
    w->started = true;
    return 0;
}

static void wake(struct worker *w)
{
    ssize_t n;
    do {
        n = write(w->stop_pipe[1], "w", 1);
    } while (n < 0 && errno == EINTR);
}

void worker_stop(struct worker *w)
{
    atomic_store(&w->stop_requested, true);
    wake(w);
}

void worker_reload(struct worker *w, struct conf *fresh, struct lists *lists)
{
    pthread_mutex_lock(&w->mbox_lock);
    /* A reload the worker has not picked up yet is superseded. */
    struct conf *old_conf = w->mbox_conf;
    struct lists *old_lists = w->mbox_lists;
    w->mbox_conf = fresh;
    w->mbox_lists = lists;
    pthread_mutex_unlock(&w->mbox_lock);
    conf_free(old_conf);
    lists_free(old_lists);
    wake(w);
}

void worker_join(struct worker *w)
{
    if (w->started)
        pthread_join(w->thread, NULL);
    w->started = false;
}

struct metrics *worker_metrics(struct worker *w)
{
    return &w->metrics;
}

unsigned long long worker_unflushed(const struct worker *w)
{
    return w->unflushed;
}

void worker_free(struct worker *w)
{
    if (w == NULL)
        return;
    /* Reverse order of creation. Connections go first so that no request
     * waits on a lookup when the Redis connections fail their callbacks. */
    http_server_free(w->http);
    handler_free(w->handler);
    rconn_free(w->sub);
    route_free(w->r); /* a batch in flight stays pending (or was spooled) */
    uniq_free(w->uniq); /* after the route: a key asked for answers as it goes */
    flush_free(w->flush);
    tally_free(w->tally);
    links_free(w->links);
    if (w->deadline)
        event_free(w->deadline);
    if (w->tick)
        event_free(w->tick);
    if (w->stop_ev)
        event_free(w->stop_ev);
    if (w->stop_pipe[0] >= 0)
        close(w->stop_pipe[0]);
    if (w->stop_pipe[1] >= 0)
        close(w->stop_pipe[1]);
    lists_free(w->lists);
    conf_free(w->mbox_conf);
    lists_free(w->mbox_lists);
    pthread_mutex_destroy(&w->mbox_lock);
    if (w->base)
        event_base_free(w->base);
    conf_free(w->conf);
    free(w);
}
