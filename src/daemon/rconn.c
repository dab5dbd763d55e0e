/* rconn: one asynchronous Redis connection on a libevent loop, with its own
 * timers, handshake and capped-backoff reconnects. The only file that
 * includes the hiredis libevent adapter. */
#include "rconn.h"

#include <event2/event.h>
#include <hiredis.h>
#include <async.h>
#include <adapters/libevent.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "util.h"

#define RCONN_BACKOFF_MIN_MS 100
#define RCONN_BACKOFF_MAX_MS 5000
#define RCONN_HEARTBEAT_MS 1000  /* a subscriber proves itself alive this often */
#define RCONN_WARN_EVERY_MS 30000 /* an unchanged connect failure, at warn */

/* A command in flight; Redis answers in order, so they form a FIFO. */
struct rcmd {
    struct rcmd *next;
    struct rconn *rc;
    rconn_reply_fn *fn;
    void *arg;
    uint64_t deadline_ms;
};

struct rconn {
    struct event_base *base;
    const struct conf *conf;
    char *name;
    redisAsyncContext *ac; /* NULL unless CONNECTING or READY */
    enum rconn_state state;
    bool was_ready; /* for logging a loss once */
    int failures;   /* consecutive failed attempts, for backoff and logging */
    char last_why[160];   /* the last failure logged at warn */
    uint64_t last_warn_ms; /* when (monotonic) */
    struct event *reconnect_timer;
    struct event *connect_timer;
    struct event *command_timer;
    struct event *heartbeat_timer; /* subscriber: SUBSCRIBE again, await its answer */
    bool hb_waiting;               /* a heartbeat SUBSCRIBE is unanswered */
    uint64_t hb_sent_ms;
    struct rcmd *head, *tail;
    rconn_state_fn *on_state;
    void *state_arg;
    unsigned long epoch; /* READY transitions */
    rconn_addr_fn *addr; /* NULL: conf's host/port or unix_socket */
    void *addr_arg;
    bool require_primary; /* ROLE must say master before READY */
    bool plain;           /* no AUTH or SELECT */
    /* Subscriber mode. */
    char *channel;
    rconn_message_fn *on_message;
    void *message_arg;
};

static void start_connect(struct rconn *rc);

static void notify(struct rconn *rc, enum rconn_state state)
{
    if (rc->on_state != NULL)
        rc->on_state(rc, state, rc->state_arg);
}

static void arm_ms(struct event *ev, uint64_t ms)
{
    struct timeval tv = util_ms_timeval((uint64_t)ms);
    event_add(ev, &tv);
}

/* Enter DOWN and schedule the next attempt. The context is already gone. */
static void go_down(struct rconn *rc, const char *why)
{
    bool was_ready = rc->state == RCONN_READY;

    event_del(rc->connect_timer);
    event_del(rc->command_timer);
    event_del(rc->heartbeat_timer);
    rc->hb_waiting = false;
    if (rc->state == RCONN_CLOSED)
        return;
    rc->state = RCONN_DOWN;
    rc->failures++;
    uint64_t backoff = RCONN_BACKOFF_MIN_MS;
    for (int i = 1; i < rc->failures && backoff < RCONN_BACKOFF_MAX_MS; i++)
        backoff *= 2;
    if (backoff > RCONN_BACKOFF_MAX_MS)
        backoff = RCONN_BACKOFF_MAX_MS;
    /* A failure is a warning the first time, whenever its reason changes
     * (Redis's own words: "NOPERM ...", "max number of clients reached")
     * and every 30 s while it lasts; the retries in between are debug. */
    uint64_t now = util_now_ms();
    bool news = was_ready || strcmp(why, rc->last_why) != 0 ||
                now - rc->last_warn_ms >= RCONN_WARN_EVERY_MS;
    if (news) {
        util_strlcpy(rc->last_why, why, sizeof(rc->last_why));
        rc->last_warn_ms = now;
    }
    if (was_ready)
        log_warn("event=redis_down conn=%s reason=\"%s\" retry_ms=%llu", rc->name, why,
                 (unsigned long long)backoff);
    else if (news)
        log_warn("event=redis_connect_failed conn=%s reason=\"%s\" retry_ms=%llu "
                 "failures=%d",
                 rc->name, why, (unsigned long long)backoff, rc->failures);
    else
        log_debug("event=redis_connect_failed conn=%s reason=\"%s\" retry_ms=%llu "
                  "failures=%d",
                  rc->name, why, (unsigned long long)backoff, rc->failures);
    arm_ms(rc->reconnect_timer, backoff);
    if (was_ready)
        notify(rc, RCONN_DOWN);
}

/* Drop the context: every pending callback runs with a NULL reply. */
static void teardown(struct rconn *rc, const char *why)
{
    redisAsyncContext *ac = rc->ac;
    char reason[128];

    util_strlcpy(reason, why, sizeof(reason));
    rc->ac = NULL;
    if (ac != NULL)
        redisAsyncFree(ac); /* deferred by hiredis when inside its callback */
    go_down(rc, reason);
}

static void on_reconnect_timer(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    start_connect(arg);
}

static void on_connect_timer(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;
    (void)fd;
    (void)what;
    if (rc->state == RCONN_CONNECTING)
        teardown(rc, "connect timeout");
}

static void on_command_timer(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;
    (void)fd;
    (void)what;
    if (rc->head == NULL)
        return;
    uint64_t now = util_now_ms();
    if (now >= rc->head->deadline_ms) {
        teardown(rc, "command timeout");
        return;
    }
    arm_ms(rc->command_timer, rc->head->deadline_ms - now);
}

/* hiredis callback for every FIFO command. */
static void on_reply(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rcmd *cmd = privdata;
    struct rconn *rc = cmd->rc;
    (void)ac;

    /* Unlink: normally the head, since replies come in order. */
    struct rcmd **pp = &rc->head, *prev = NULL;
    while (*pp != NULL && *pp != cmd) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (*pp == cmd) {
        *pp = cmd->next;
        if (rc->tail == cmd)
            rc->tail = prev;
    }
    cmd->fn(rc, r, cmd->arg);
    free(cmd);
    if (rc->head == NULL)
        event_del(rc->command_timer);
}

/* Queue a command: argv form when fmt is NULL, else the formatted one. */
static int send_cmd(struct rconn *rc, rconn_reply_fn *fn, void *arg, int argc,
                    const char **argv, const size_t *argvlen, const char *fmt,
                    size_t fmtlen)
{
    struct rcmd *cmd = xmalloc(sizeof(*cmd));
    cmd->next = NULL;
    cmd->rc = rc;
    cmd->fn = fn;
    cmd->arg = arg;
    cmd->deadline_ms = util_now_ms() + (uint64_t)rc->conf->command_timeout_ms;
    int ok = fmt != NULL
                 ? redisAsyncFormattedCommand(rc->ac, on_reply, cmd, fmt, fmtlen)
                 : redisAsyncCommandArgv(rc->ac, on_reply, cmd, argc, argv, argvlen);
    if (ok != REDIS_OK) {
        free(cmd);
        return -1;
    }
    if (rc->tail != NULL)
        rc->tail->next = cmd;
    else
        rc->head = cmd;
    rc->tail = cmd;
    if (!event_pending(rc->command_timer, EV_TIMEOUT, NULL))
        arm_ms(rc->command_timer, (uint64_t)rc->conf->command_timeout_ms);
    return 0;
}

static int send_argv(struct rconn *rc, rconn_reply_fn *fn, void *arg, int argc,
                     const char **argv, const size_t *argvlen)
{
    return send_cmd(rc, fn, arg, argc, argv, argvlen, NULL, 0);
}

static void become_ready(struct rconn *rc)
{
    event_del(rc->connect_timer);
    rc->state = RCONN_READY;
    rc->epoch++;
    rc->last_why[0] = '\0';
    if (rc->channel != NULL)
        arm_ms(rc->heartbeat_timer, RCONN_HEARTBEAT_MS);
    if (rc->was_ready || rc->failures > 0)
        log_info("event=redis_up conn=%s", rc->name);
    else
        log_debug("event=redis_up conn=%s", rc->name);
    rc->was_ready = true;
    rc->failures = 0;
    notify(rc, RCONN_READY);
}

/* Persistent callback of the SUBSCRIBE command. */
static void on_subscription(redisAsyncContext *ac, void *r, void *privdata)
{
    struct rconn *rc = privdata;
    redisReply *reply = r;
    (void)ac;

    if (reply == NULL || rc->state == RCONN_CLOSED)
        return;
    if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 3 ||
        reply->element[0]->type != REDIS_REPLY_STRING)
        return;
    const char *kind = reply->element[0]->str;
    if (strcmp(kind, "subscribe") == 0) {
        rc->hb_waiting = false; /* the first confirmation, or a heartbeat's */
        if (rc->state == RCONN_CONNECTING)
            become_ready(rc);
    } else if (strcmp(kind, "message") == 0 &&
               reply->element[2]->type == REDIS_REPLY_STRING) {
        rc->on_message(rc, reply->element[2]->str, reply->element[2]->len,
                       rc->message_arg);
    }
}

static int send_subscribe(struct rconn *rc)
{
    const char *argv[] = {"SUBSCRIBE", rc->channel};
    size_t len[] = {9, strlen(rc->channel)};
    return redisAsyncCommandArgv(rc->ac, on_subscription, rc, 2, argv, len) == REDIS_OK
               ? 0
               : -1;
}

/* A subscriber sends no commands of its own, so a dead peer (a half-open
 * connection, a client killed while the reconnect cannot get through)
 * would go unnoticed: every second it subscribes again, which Redis
 * confirms, and a confirmation late by command_timeout_ms drops the
 * connection. (hiredis 0.14 cannot route a PING's answer in subscribed
 * mode; a repeated SUBSCRIBE is idempotent and routed like the first.) */
static void on_heartbeat_timer(evutil_socket_t fd, short what, void *arg)
{
    struct rconn *rc = arg;
    (void)fd;
    (void)what;
    if (rc->state != RCONN_READY || rc->ac == NULL)
        return;
    uint64_t now = util_now_ms();
    if (rc->hb_waiting) {
        if (now - rc->hb_sent_ms >= (uint64_t)rc->conf->command_timeout_ms) {
            teardown(rc, "subscription heartbeat unanswered");
            return;
        }
    } else if (send_subscribe(rc) != 0) {
        teardown(rc, "cannot send SUBSCRIBE");
        return;
    } else {
        rc->hb_waiting = true;
        rc->hb_sent_ms = now;
    }
    arm_ms(rc->heartbeat_timer, rc->hb_waiting ? 100 : RCONN_HEARTBEAT_MS);
}

/* Handshake replies: AUTH and SELECT must say OK; PING ends the handshake. */
static void on_handshake(struct rconn *rc, redisReply *reply, void *arg)
{
    bool last = arg != NULL;

    if (reply == NULL || rc->state != RCONN_CONNECTING)
        return;
    if (reply->type == REDIS_REPLY_ERROR) {
        char why[160];
        snprintf(why, sizeof(why), "handshake: %.120s", reply->str);
        teardown(rc, why);
        return;
    }
    if (arg == &rc->require_primary) {
        /* ROLE: the first element says master, slave or sentinel. */
        if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 1 ||
            reply->element[0]->type != REDIS_REPLY_STRING ||
            strcmp(reply->element[0]->str, "master") != 0) {
            teardown(rc, "ROLE: not a primary (a replica, or demoted): asking again");
            return;
        }
        return;
    }
    if (!last)
        return;
    if (rc->channel != NULL) {
        /* A refusal (an ACL's NOPERM) reaches on_disconnect with Redis's
         * words: hiredis drops a context on an error no callback awaits. */
        if (send_subscribe(rc) != 0)
            teardown(rc, "cannot send SUBSCRIBE");
        return; /* READY when the subscription is confirmed */
    }
    become_ready(rc);
}

static void on_connect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;

    if (rc == NULL || rc->ac != ac)
        return;
    if (status != REDIS_OK) {
        char why[160];
        snprintf(why, sizeof(why), "%.150s", ac->errstr);
        rc->ac = NULL; /* hiredis frees the context after this returns */
        go_down(rc, why);
        return;
    }
    /* Keepalive probes find a peer that vanished without a FIN: TCP only (on
     * a unix socket SO_KEEPALIVE fails, and hiredis would then mark the
     * context as failed: no unix-socket connection could ever be used). */
    if (rc->ac->c.connection_type == REDIS_CONN_TCP &&
        redisEnableKeepAlive(&rc->ac->c) != REDIS_OK)
        log_debug("event=redis_keepalive_failed conn=%s", rc->name);
    /* AUTH and SELECT pipelined with a PING whose answer ends the handshake. */
    char db[16];
    int ok = 0;
    if (rc->conf->redis_password != NULL && !rc->plain) {
        const char *argv[] = {"AUTH", rc->conf->redis_password};
        size_t len[] = {4, strlen(rc->conf->redis_password)};
        ok |= send_argv(rc, on_handshake, NULL, 2, argv, len);
    }
    if (rc->conf->redis_db != 0 && !rc->plain) {
        snprintf(db, sizeof(db), "%d", rc->conf->redis_db);
        const char *argv[] = {"SELECT", db};
        size_t len[] = {6, strlen(db)};
        ok |= send_argv(rc, on_handshake, NULL, 2, argv, len);
    }
    if (rc->require_primary) {
        const char *argv[] = {"ROLE"};
        size_t len[] = {4};
        ok |= send_argv(rc, on_handshake, &rc->require_primary, 1, argv, len);
    }
    const char *argv[] = {"PING"};
    size_t len[] = {4};
    ok |= send_argv(rc, on_handshake, rc, 1, argv, len);
    if (ok != 0)
        teardown(rc, "cannot send handshake");
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
    struct rconn *rc = ac->data;
    char why[160];

    if (rc == NULL || rc->ac != ac)
        return; /* a context we dropped ourselves */
    snprintf(why, sizeof(why), "%.150s",
             status == REDIS_OK ? "closed"
                                : (ac->errstr[0] ? ac->errstr : "connection lost"));
    rc->ac = NULL;
    go_down(rc, why);
}

static void start_connect(struct rconn *rc)
{
    const struct conf *c = rc->conf;
    redisAsyncContext *ac;

    if (rc->state == RCONN_CLOSED)
        return;
    if (rc->addr != NULL) {
        const char *host;
        int port;
        if (rc->addr(rc->addr_arg, &host, &port) != 0) {
            go_down(rc, "no address known yet");
            return;
        }
        ac = redisAsyncConnect(host, port);
    } else if (c->redis_unix_socket[0] != '\0') {
        ac = redisAsyncConnectUnix(c->redis_unix_socket);
    } else {
        ac = redisAsyncConnect(c->redis_host, c->redis_port);
    }
    if (ac == NULL) {
        go_down(rc, "cannot allocate a context");
        return;
    }
    if (ac->err) {
        char why[160];
        snprintf(why, sizeof(why), "%.150s", ac->errstr);
        redisAsyncFree(ac);
        go_down(rc, why);
        return;
    }
    ac->data = rc;
    if (redisLibeventAttach(ac, rc->base) != REDIS_OK) {
        redisAsyncFree(ac);
        go_down(rc, "cannot attach to the event loop");
        return;
    }
    redisAsyncSetConnectCallback(ac, on_connect);
    redisAsyncSetDisconnectCallback(ac, on_disconnect);
    rc->ac = ac;
    rc->state = RCONN_CONNECTING;
    arm_ms(rc->connect_timer,
           (uint64_t)c->connect_timeout_ms + (uint64_t)c->command_timeout_ms);
}

struct rconn *rconn_new_at(struct event_base *base, const struct conf *conf,
                           const char *name, rconn_addr_fn *addr, void *addr_arg,
                           rconn_state_fn *on_state, void *arg)
{
    struct rconn *rc = rconn_new(base, conf, name, on_state, arg);
    rc->addr = addr;
    rc->addr_arg = addr_arg;
    return rc;
}

void rconn_plain(struct rconn *rc)
{
    rc->plain = true;
}

void rconn_require_primary(struct rconn *rc)
{
    rc->require_primary = true;
}

struct rconn *rconn_new(struct event_base *base, const struct conf *conf,
                        const char *name, rconn_state_fn *on_state, void *arg)
{
    struct rconn *rc = xcalloc(1, sizeof(*rc));
    rc->base = base;
    rc->conf = conf;
    rc->name = xstrdup(name);
    rc->on_state = on_state;
    rc->state_arg = arg;
    rc->state = RCONN_DOWN;
    rc->reconnect_timer = evtimer_new(base, on_reconnect_timer, rc);
    rc->connect_timer = evtimer_new(base, on_connect_timer, rc);
    rc->command_timer = evtimer_new(base, on_command_timer, rc);
    rc->heartbeat_timer = evtimer_new(base, on_heartbeat_timer, rc);
    if (rc->reconnect_timer == NULL || rc->connect_timer == NULL ||
        rc->command_timer == NULL || rc->heartbeat_timer == NULL) {
        log_error("event=fatal reason=\"cannot create timers\"");
        abort();
    }
    /* Connect from the loop, so callbacks never run inside rconn_new. */
    arm_ms(rc->reconnect_timer, 0);
    return rc;
}

void rconn_subscribe(struct rconn *rc, const char *channel, rconn_message_fn *fn,
                     void *arg)
{
    free(rc->channel);
    rc->channel = xstrdup(channel);
    rc->on_message = fn;
    rc->message_arg = arg;
}

int rconn_command(struct rconn *rc, rconn_reply_fn *fn, void *arg, int argc,
                  const char **argv, const size_t *argvlen)
{
    if (rc->state != RCONN_READY || rc->ac == NULL || rc->channel != NULL)
        return -1;
    return send_argv(rc, fn, arg, argc, argv, argvlen);
}

int rconn_formatted(struct rconn *rc, rconn_reply_fn *fn, void *arg, const char *cmd,
                    size_t len)
{
    if (rc->state != RCONN_READY || rc->ac == NULL || rc->channel != NULL)
        return -1;
    return send_cmd(rc, fn, arg, 0, NULL, NULL, cmd, len);
}

void rconn_restart(struct rconn *rc, const char *why)
{
    if (rc->state == RCONN_READY || rc->state == RCONN_CONNECTING)
        teardown(rc, why); /* fails what is in flight; retried at once below */
    if (rc->state == RCONN_DOWN) {
        rc->failures = 0;
        arm_ms(rc->reconnect_timer, 0);
    }
}

unsigned long rconn_epoch(const struct rconn *rc)
{
    return rc->epoch;
}

const char *rconn_name(const struct rconn *rc)
{
    return rc->name;
}

bool rconn_ready(const struct rconn *rc)
{
    return rc->state == RCONN_READY;
}

void rconn_close(struct rconn *rc)
{
    if (rc->state == RCONN_CLOSED)
        return;
    rc->state = RCONN_CLOSED;
    event_del(rc->reconnect_timer);
    event_del(rc->connect_timer);
    event_del(rc->command_timer);
    event_del(rc->heartbeat_timer);
    redisAsyncContext *ac = rc->ac;
    rc->ac = NULL;
    if (ac != NULL)
        redisAsyncFree(ac);
    /* hiredis ran every pending callback; anything left was never sent. */
    while (rc->head != NULL) {
        struct rcmd *cmd = rc->head;
        rc->head = cmd->next;
        cmd->fn(rc, NULL, cmd->arg);
        free(cmd);
    }
    rc->tail = NULL;
}

void rconn_free(struct rconn *rc)
{
    if (rc == NULL)
        return;
    rconn_close(rc);
    event_free(rc->reconnect_timer);
    event_free(rc->connect_timer);
    event_free(rc->command_timer);
    event_free(rc->heartbeat_timer);
    free(rc->channel);
    free(rc->name);
    free(rc);
}
