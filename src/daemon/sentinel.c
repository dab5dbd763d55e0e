/* sentinel: the primary's address from Redis Sentinel, per the Sentinel
 * client guidelines: ask the sentinels in turn, trust the answer only
 * after ROLE (rconn checks it), ask again on every failure. */
#include "sentinel.h"

#include <event2/event.h>
#include <hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "rconn.h"
#include "util.h"

#define SENTINEL_ASK_MIN_MS 100 /* asks no more often than this */
#define SENTINEL_POLL_MS 250    /* while the primary is lost */

struct sentinel {
    const struct conf *conf;
    struct conf_addr *addrs;
    int naddrs;
    int next;         /* the sentinel the next connect goes to */
    struct rconn *rc; /* to one sentinel at a time */
    bool asking;      /* a query is on the wire */
    uint64_t asked_ms;
    char host[64];
    int port;           /* 0 until a sentinel answered */
    struct rconn *sub;  /* subscribed to +switch-master on one sentinel */
    struct event *poll; /* asks again while the primary is lost */
    bool polling;
    sentinel_change_fn *on_change;
    void *change_arg;
};

static int sentinel_addr(void *arg, const char **host, int *port)
{
    struct sentinel *s = arg;
    if (s->naddrs == 0)
        return -1;
    const struct conf_addr *a = &s->addrs[s->next++ % s->naddrs];
    *host = a->host;
    *port = a->port;
    return 0;
}

/* The primary is host[0..hostlen):port now: when that is news, log it and
 * tell the router. */
static void set_primary(struct sentinel *s, const char *host, size_t hostlen,
                        const char *port_s)
{
    long port = strtol(port_s, NULL, 10);
    if (hostlen >= sizeof(s->host) || port < 1 || port > 65535)
        return;
    bool changed = s->port != (int)port || strlen(s->host) != hostlen ||
                   memcmp(s->host, host, hostlen) != 0;
    if (changed)
        log_info("event=sentinel_primary master_name=%s primary=%.*s:%ld",
                 s->conf->redis_master_name, (int)hostlen, host, port);
    memcpy(s->host, host, hostlen);
    s->host[hostlen] = '\0';
    s->port = (int)port;
    if (changed && s->on_change != NULL)
        s->on_change(s->change_arg);
}

/* "+switch-master NAME OLDIP OLDPORT NEWIP NEWPORT": a failover ended. It
 * also reaches a hopcount whose connection to the old primary stays up
 * (a primary cut off from the sentinels, not from hopcount). */
static void on_switch(struct rconn *rc, const char *msg, size_t len, void *arg)
{
    struct sentinel *s = arg;
    (void)rc;
    char buf[512], name[128], oldip[64], oldport[8], newip[64], newport[8];
    if (len >= sizeof(buf))
        return;
    memcpy(buf, msg, len);
    buf[len] = '\0';
    if (sscanf(buf, "%127s %63s %7s %63s %7s", name, oldip, oldport, newip, newport) !=
            5 ||
        strcmp(name, s->conf->redis_master_name) != 0)
        return;
    log_info("event=sentinel_switch_master master_name=%s from=%s:%s to=%s:%s", name,
             oldip, oldport, newip, newport);
    set_primary(s, newip, strlen(newip), newport);
}

static void on_answer(struct rconn *rc, redisReply *r, void *arg)
{
    struct sentinel *s = arg;
    (void)rc;
    s->asking = false;
    if (r == NULL)
        return; /* the connection drops and moves to the next sentinel */
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
        r->element[0]->type != REDIS_REPLY_STRING ||
        r->element[1]->type != REDIS_REPLY_STRING) {
        log_warn("event=sentinel_unknown_master conn=%s master_name=%s reason=\"%.120s\"",
                 rconn_name(s->rc), s->conf->redis_master_name,
                 r->type == REDIS_REPLY_ERROR ? r->str : "the sentinel does not know it");
        return;
    }
    set_primary(s, r->element[0]->str, r->element[0]->len, r->element[1]->str);
}

static void ask(struct sentinel *s)
{
    if (s->asking || !rconn_ready(s->rc))
        return;
    const char *argv[] = {"SENTINEL", "get-master-addr-by-name",
                          s->conf->redis_master_name};
    size_t len[] = {8, 23, strlen(s->conf->redis_master_name)};
    if (rconn_command(s->rc, on_answer, s, 3, argv, len) == 0) {
        s->asking = true;
        s->asked_ms = util_now_ms();
    }
}

static void on_state(struct rconn *rc, enum rconn_state st, void *arg)
{
    (void)rc;
    if (st == RCONN_READY)
        ask(arg);
}

static void on_poll(evutil_socket_t fd, short what, void *arg)
{
    struct sentinel *s = arg;
    (void)fd;
    (void)what;
    if (!s->polling)
        return;
    ask(s);
    struct timeval tv = util_ms_timeval(SENTINEL_POLL_MS);
    evtimer_add(s->poll, &tv);
}

struct sentinel *sentinel_new(struct event_base *base, const struct conf *conf,
                              const char *name, sentinel_change_fn *on_change, void *arg)
{
    struct sentinel *s = xcalloc(1, sizeof(*s));
    s->conf = conf;
    s->on_change = on_change;
    s->change_arg = arg;
    s->poll = evtimer_new(base, on_poll, s);
    if (s->poll == NULL) {
        log_error("event=fatal reason=\"cannot create the sentinel timer\"");
        abort();
    }
    s->naddrs = conf_addrs_parse(conf->redis_sentinels, &s->addrs);
    if (s->naddrs < 0)
        s->naddrs = 0; /* conf_load checked it */
    char label[64];
    snprintf(label, sizeof(label), "%s-sentinel", name);
    s->rc = rconn_new_at(base, conf, label, sentinel_addr, s, on_state, s);
    rconn_plain(s->rc);
    snprintf(label, sizeof(label), "%s-sentinel-events", name);
    s->sub = rconn_new_at(base, conf, label, sentinel_addr, s, NULL, NULL);
    rconn_plain(s->sub);
    rconn_subscribe(s->sub, "+switch-master", on_switch, s);
    return s;
}

void sentinel_free(struct sentinel *s)
{
    if (s == NULL)
        return;
    rconn_free(s->sub);
    rconn_free(s->rc);
    event_free(s->poll);
    conf_addrs_free(s->addrs, s->naddrs);
    free(s);
}

int sentinel_primary(struct sentinel *s, const char **host, int *port)
{
    if (util_now_ms() - s->asked_ms >= SENTINEL_ASK_MIN_MS)
        ask(s);
    if (s->port == 0)
        return -1;
    *host = s->host;
    *port = s->port;
    return 0;
}

void sentinel_rediscover(struct sentinel *s)
{
    ask(s);
    if (!s->polling) {
        s->polling = true;
        struct timeval tv = util_ms_timeval(SENTINEL_POLL_MS);
        evtimer_add(s->poll, &tv);
    }
}

void sentinel_settled(struct sentinel *s)
{
    s->polling = false;
    evtimer_del(s->poll);
}
