/* http: the public HTTP/1.x listener of one worker, on libevent's core with
 * http-parser doing the parsing. One allocation per connection, none per
 * request; responses are written from preformatted blocks with one send(). */
#include "http.h"

#include <errno.h>
#include <event2/event.h>
#include <stdatomic.h>
#include <strings.h>
#include <event2/event_struct.h>
#include <event2/listener.h>
#include <event2/util.h>
#include <http_parser.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "access.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "hash.h"
#include "lists.h"
#include "privacy.h"
#include "proxyproto.h"
#include "realip.h"
#include "util.h"

#define HTTP_IN_SIZE 4096    /* read buffer per connection */
#define HTTP_NAME_MAX 24     /* longer header names are never interesting */
#define HTTP_MAX_HEADERS 100 /* more is answered with 431 (documented) */
#define HTTP_LINGER_MS 2000  /* reading what a closed client still sends */
#define HTTP_FREE_MAX 256    /* connection structs kept for reuse */
#define HTTP_ACCEPT_RETRY_MS 100
#define HTTP_ACCEPT_BURST                                                                \
    16 /* accepts per loop iteration, so timers and Redis get turns */

/* Headers the http layer itself looks at (by name, case-insensitive). */
enum http_hdr {
    HDR_OTHER = 0,  /* not looked at here */
    HDR_HOST = 1,   /* counted: HTTP/1.1 needs exactly one */
    HDR_EXPECT = 2, /* 100-continue is fine without a body; others are 417 */
    HDR_XFF = 3,    /* X-Forwarded-For: read only from a trusted proxy */
};

/* Where a connection is in its life. */
enum conn_phase {
    PHASE_ACTIVE = 0, /* reading requests, writing answers */
    PHASE_LINGER = 1, /* answered and shut down for writing; draining input */
};

struct http_conn {
    struct http_server *s;
    struct http_conn *prev, *next; /* the server's list */
    int fd;
    enum conn_phase phase;
    struct event ev_read;
    struct event ev_write;
    struct event ev_timer;
    struct event ev_hup; /* while waiting: the client closed (EPOLLRDHUP) */
    http_parser parser;
    bool reading;    /* ev_read is added */
    bool in_message; /* a request has begun and is not complete */
    bool waiting;    /* the handler has not answered yet */
    bool answered;   /* the current request has its answer */
    bool closing;    /* close once the output is written */
    bool keep;       /* the current request allows keep-alive */
    bool http10;
    bool in_value;
    bool name_long;
    bool linger;     /* drain input before closing: an error, or unread bytes */
    bool nodelay;    /* TCP_NODELAY is set */
    bool write_wait; /* blocked on a slow reader: the write deadline is armed */
    bool expect_bad; /* an Expect other than 100-continue */
    bool proxy_pending; /* proxy_protocol: the PROXY header is still to come */
    bool peer_known;    /* peer holds an address (not for a unix socket) */
    bool peer_trusted;  /* peer is in trusted_proxies: its X-Forwarded-For counts */
    bool xff_long;      /* X-Forwarded-For beyond xff[]: not believed */
    int err_status;  /* 400, 413, 414, 417 or 431 found by a callback, else 0 */
    enum privacy_header hkind;
    enum http_hdr hdr; /* of the header being read */
    unsigned nhost;
    unsigned privacy;
    unsigned nheaders;
    size_t header_bytes;
    size_t name_len, val_len;
    char name[HTTP_NAME_MAX];
    char val[PRIVACY_VALUE_MAX]; /* an interesting header value (privacy.h) */
    /* The client's address: the TCP peer, or what a trusted proxy's PROXY
     * header said. In memory for the connection's life, never written. */
    struct cidr_addr peer;
    uint64_t ua_hash; /* of this request's user agent (for the burst rule) */
    size_t xff_len;
    char xff[PRIVACY_VALUE_MAX]; /* X-Forwarded-For values, from trusted peers only */
    char *url;
    size_t url_len, url_cap;
    struct http_request req;
    struct reply_buf out;
    size_t in_len, in_pos;
    char *in;   /* HTTP_IN_SIZE bytes, allocated with the struct */
    void *slot; /* the handler's storage, allocated with the struct */
};

struct http_server {
    struct event_base *base;
    const struct conf *conf;
    struct metrics *m;
    struct lists *lists;
    struct evconnlistener *listener;
    struct event *accept_retry;
    struct event *accept_resume;
    bool listener_on;
    bool accept_paused; /* a burst ended: the listener waits for the next turn */
    int accept_burst;
    size_t nconns;
    size_t slot_size;
    http_request_fn *on_request;
    http_abort_fn *on_abort;
    void *arg;
    http_parser_settings settings;
    struct reply_date date;
    const struct timeval *read_timeout; /* a common timeout */
    struct http_conn *conns;
    struct http_conn *free_list;
    size_t nfree;
    struct http_limit *limit; /* shared by every worker's server */
    bool stopping;
    http_drained_fn *drained;
    void *drained_arg;
};

static int flush_out(struct http_conn *c);
static void process(struct http_conn *c);

static void count_status(struct http_server *s, int status)
{
    metric_add(&s->m->responses[metrics_status_index(status)], 1);
}

static void listener_update(struct http_server *s)
{
    if (s->listener == NULL)
        return;
    bool full =
        atomic_load_explicit(&s->limit->conns, memory_order_relaxed) >= s->limit->max;
    bool want = !s->stopping && !s->accept_paused && !full;
    if (want && !s->listener_on && !event_pending(s->accept_retry, EV_TIMEOUT, NULL)) {
        evconnlistener_enable(s->listener);
        s->listener_on = true;
    } else if (!want && s->listener_on) {
        evconnlistener_disable(s->listener);
        s->listener_on = false;
    }
    if (full && !s->stopping && !event_pending(s->accept_retry, EV_TIMEOUT, NULL)) {
        /* Another worker's connection may be the one that closes next:
         * look again soon, as that worker cannot wake this one. */
        struct timeval tv = util_ms_timeval(HTTP_ACCEPT_RETRY_MS);
        event_add(s->accept_retry, &tv);
    }
}

/* Release a connection; c is gone when this returns. */
static void conn_free(struct http_conn *c)
{
    struct http_server *s = c->s;

    if (c->waiting && s->on_abort != NULL)
        s->on_abort(c, c->slot, s->arg);
    c->waiting = false;
    event_del(&c->ev_read);
    event_del(&c->ev_write);
    event_del(&c->ev_timer);
    event_del(&c->ev_hup);
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    if (c->prev)
        c->prev->next = c->next;
    else
        s->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    s->nconns--;
    atomic_fetch_sub_explicit(&s->limit->conns, 1, memory_order_relaxed);
    metric_set(&s->m->connections, s->nconns);

    /* Request bytes (cookies, agents) and the client's address must not
     * outlive their connection in memory a core dump or a later reader could
     * see. */
    memset(c->in, 0, HTTP_IN_SIZE);
    if (c->url != NULL)
        memset(c->url, 0, c->url_cap);
    memset(c->val, 0, sizeof(c->val));
    memset(c->name, 0, sizeof(c->name));
    memset(c->xff, 0, sizeof(c->xff));
    memset(&c->peer, 0, sizeof(c->peer)); /* the client's address goes with it */
    memset(&c->req.client, 0, sizeof(c->req.client));
    c->ua_hash = 0;
    if (c->out.p != NULL)
        memset(c->out.p, 0, c->out.cap);
    if (s->nfree < HTTP_FREE_MAX && c->out.cap <= 16384) {
        c->out.len = c->out.off = 0;
        c->next = s->free_list;
        s->free_list = c;
        s->nfree++;
    } else {
        reply_buf_free(&c->out);
        free(c->url);
        free(c);
    }
    listener_update(s);
    if (s->stopping && s->nconns == 0 && s->drained != NULL) {
        http_drained_fn *fn = s->drained;
        s->drained = NULL;
        fn(s->drained_arg);
    }
}

static void arm_read_timeout(struct http_conn *c)
{
    event_add(&c->ev_timer, c->s->read_timeout);
}

static void start_reading(struct http_conn *c)
{
    event_del(&c->ev_hup);
    if (!c->reading) {
        event_add(&c->ev_read, NULL);
        c->reading = true;
    }
}

static void stop_reading(struct http_conn *c)
{
    if (c->reading) {
        event_del(&c->ev_read);
        c->reading = false;
    }
}

/* The answer is written and the client may still be sending: shut our side
 * and drain theirs for a while, so a close never turns into a reset that
 * destroys the answer in flight. Returns -1 when c was freed instead. */
static int begin_linger(struct http_conn *c)
{
    int ms = c->s->conf->read_timeout_ms < HTTP_LINGER_MS ? c->s->conf->read_timeout_ms
                                                          : HTTP_LINGER_MS;

    if (shutdown(c->fd, SHUT_WR) != 0) {
        conn_free(c);
        return -1;
    }
    c->phase = PHASE_LINGER;
    struct timeval tv = util_ms_timeval((uint64_t)ms);
    event_add(&c->ev_timer, &tv);
    start_reading(c);
    return 0;
}

/* Write what is buffered. Returns -1 when the connection was freed. */
static int flush_out(struct http_conn *c)
{
    while (c->out.off < c->out.len) {
        ssize_t n =
            send(c->fd, c->out.p + c->out.off, c->out.len - c->out.off, MSG_NOSIGNAL);
        if (n > 0) {
            c->out.off += (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* The client is slow to read: wait, bounded by read_timeout_ms
             * for the whole of what is buffered. Armed once, not at every
             * partial write, so a client reading a trickle cannot hold the
             * connection for ever. */
            stop_reading(c);
            event_add(&c->ev_write, NULL);
            if (!c->write_wait) {
                c->write_wait = true;
                arm_read_timeout(c);
            }
            return 0;
        }
        conn_free(c);
        return -1;
    }
    c->out.off = c->out.len = 0;
    c->write_wait = false;
    if (c->closing) {
        /* Like nginx: linger only when the client may still be sending. */
        if (c->linger || c->in_pos < c->in_len)
            return begin_linger(c);
        conn_free(c);
        return -1;
    }
    if (c->waiting) {
        /* Nothing more is read while a request waits (pipelined ones wait
         * their turn), but a client that closes is noticed, as nginx's 499:
         * its request is dropped, never answered nor counted. */
        stop_reading(c);
        event_add(&c->ev_hup, NULL);
    } else {
        start_reading(c);
    }
    return 0;
}

static enum reply_conn conn_mode(struct http_conn *c)
{
    if (c->s->stopping)
        c->keep = false; /* an answer late for a stop is the connection's last */
    if (!c->keep)
        return REPLY_CLOSE;
    return c->http10 ? REPLY_KEEP_10 : REPLY_KEEP;
}

/* Common tail of every answer to a parsed request. */
static void answered(struct http_conn *c, int status)
{
    count_status(c->s, status);
    c->answered = true;
    if (!c->keep)
        c->closing = true;
    if (c->waiting) {
        /* A late answer: resume from the loop, not from inside the caller. */
        c->waiting = false;
        if (!c->closing)
            http_parser_pause(&c->parser, 0);
        arm_read_timeout(c);
        event_active(&c->ev_write, EV_WRITE, 1);
    }
}

void http_answer_redirect(struct http_conn *c, int status, const char *loc, size_t len,
                          bool tk_n)
{
    unsigned flags = (c->req.head ? REPLY_HEAD : 0) | (tk_n ? REPLY_TK_N : 0);
    int st = reply_redirect(&c->out, &c->s->date, status, loc, len, flags, conn_mode(c));
    if (st < 0) {
        log_error("event=unsafe_location_refused");
        st = reply_kind_status(REPLY_NOT_FOUND);
    }
    answered(c, st);
}

const struct http_request *http_conn_request(const struct http_conn *c)
{
    return &c->req;
}

void http_answer_fixed(struct http_conn *c, enum reply_kind kind)
{
    answered(c, reply_fixed(&c->out, &c->s->date, kind, c->req.head, conn_mode(c)));
}

/* An answer the http layer gives itself, closing the connection: a current
 * Date, no body to HEAD, and an access line like every other request's. */
static void reply_error(struct http_conn *c, enum reply_kind kind)
{
    struct http_server *s = c->s;
    struct timeval tv;
    bool known = c->in_message && c->url_len > 0; /* the method was read whole */
    bool head = known && c->parser.method == HTTP_HEAD;

    c->keep = false;
    c->closing = true;
    c->linger = true;
    c->waiting = false;
    event_base_gettimeofday_cached(s->base, &tv);
    reply_date_update(&s->date, tv.tv_sec);
    metric_add(&s->m->outcomes[OUTCOME_INVALID], 1);
    int status = reply_fixed(&c->out, &s->date, kind, head, REPLY_CLOSE);
    count_status(s, status);
    if (s->conf->access_log)
        access_record(s->conf->access_log,
                      known ? http_method_str(c->parser.method) : "-", NULL, 0, status,
                      metrics_outcome_name(OUTCOME_INVALID), 0);
}

/* http-parser callbacks. */

static int on_message_begin(http_parser *p)
{
    struct http_conn *c = p->data;
    c->in_message = true;
    c->url_len = 0;
    c->header_bytes = 0;
    c->nheaders = 0;
    c->privacy = 0;
    c->in_value = false;
    c->name_len = 0;
    c->name_long = false;
    c->val_len = 0;
    c->err_status = 0;
    c->hkind = PRIVACY_H_OTHER;
    c->hdr = HDR_OTHER;
    c->nhost = 0;
    c->expect_bad = false;
    c->answered = false;
    c->ua_hash = 0;
    c->xff_len = 0;
    c->xff_long = false;
    return 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;
    size_t max = (size_t)c->s->conf->max_uri_bytes;

    if (c->url_len + len > max) {
        c->err_status = 414;
        return -1;
    }
    if (c->url_len + len + 1 > c->url_cap) {
        size_t cap = c->url_cap ? c->url_cap : 256;
        while (cap < c->url_len + len + 1)
            cap *= 2;
        c->url = xrealloc(c->url, cap);
        c->url_cap = cap;
    }
    memcpy(c->url + c->url_len, at, len);
    c->url_len += len;
    return 0;
}

static int count_header_bytes(struct http_conn *c, size_t len)
{
    c->header_bytes += len;
    if (c->header_bytes > (size_t)c->s->conf->max_header_bytes) {
        c->err_status = 431;
        return -1;
    }
    return 0;
}

static enum http_hdr header_kind(const char *name, size_t len)
{
    if (len == 4 && strncasecmp(name, "host", 4) == 0)
        return HDR_HOST;
    if (len == 6 && strncasecmp(name, "expect", 6) == 0)
        return HDR_EXPECT;
    if (len == 15 && strncasecmp(name, "x-forwarded-for", 15) == 0)
        return HDR_XFF;
    return HDR_OTHER;
}

static void finish_header(struct http_conn *c)
{
    if (c->hkind != PRIVACY_H_OTHER)
        c->privacy |=
            privacy_header_flags(c->hkind, c->val, c->val_len, c->s->lists->bots);
    if (c->hkind == PRIVACY_H_USER_AGENT &&
        (c->s->conf->scanner_burst || c->s->conf->uniques))
        c->ua_hash = hash_bytes(c->val, c->val_len);
    if (c->hdr == HDR_EXPECT &&
        !(c->val_len == 12 && strncasecmp(c->val, "100-continue", 12) == 0))
        c->expect_bad = true;
    c->hkind = PRIVACY_H_OTHER;
    c->hdr = HDR_OTHER;
}

static int on_header_field(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;

    if (count_header_bytes(c, len + 4) != 0)
        return -1;
    /* RFC 9112 5.1: no whitespace between a field name and its colon. The
     * lenient http-parser build takes it into the name, which would let
     * "Content-Length : 5" or "DNT : 1" slip past their meaning. */
    if (memchr(at, ' ', len) != NULL) {
        c->err_status = 400;
        return -1;
    }
    if (c->in_value || c->nheaders == 0) {
        if (c->in_value)
            finish_header(c);
        c->in_value = false;
        c->name_len = 0;
        c->name_long = false;
        if (++c->nheaders > HTTP_MAX_HEADERS) {
            c->err_status = 431;
            return -1;
        }
    }
    if (c->name_len + len > sizeof(c->name)) {
        c->name_long = true;
        return 0;
    }
    memcpy(c->name + c->name_len, at, len);
    c->name_len += len;
    return 0;
}

static void xff_append(struct http_conn *c, const char *at, size_t len)
{
    if (c->xff_long || len > sizeof(c->xff) - c->xff_len) {
        c->xff_long = true;
        return;
    }
    memcpy(c->xff + c->xff_len, at, len);
    c->xff_len += len;
}

static int on_header_value(http_parser *p, const char *at, size_t len)
{
    struct http_conn *c = p->data;

    if (count_header_bytes(c, len) != 0)
        return -1;
    if (!c->in_value) {
        c->in_value = true;
        c->hkind =
            c->name_long ? PRIVACY_H_OTHER : privacy_header_kind(c->name, c->name_len);
        c->hdr = c->name_long ? HDR_OTHER : header_kind(c->name, c->name_len);
        if (c->hdr == HDR_HOST)
            c->nhost++;
        c->val_len = 0;
        if (c->hdr == HDR_XFF && c->peer_trusted && c->xff_len > 0)
            xff_append(c, ",", 1); /* headers repeated: one list (RFC 9110 5.3) */
    }
    if (c->hdr == HDR_XFF && c->peer_trusted)
        xff_append(c, at, len);
    if (c->hkind != PRIVACY_H_OTHER || c->hdr == HDR_EXPECT) {
        size_t n = sizeof(c->val) - c->val_len;
        if (n > len)
            n = len;
        memcpy(c->val + c->val_len, at, n);
        c->val_len += n;
    }
    return 0;
}

static int on_headers_complete(http_parser *p)
{
    struct http_conn *c = p->data;

    if (c->in_value)
        finish_header(c);
    c->in_value = false;
    if (p->http_major != 1) {
        c->err_status = 400; /* HTTP/0.9 and 2.x are not spoken here */
        return -1;
    }
    /* RFC 9112 3.2: HTTP/1.1 has exactly one Host; none may have two. */
    if (c->nhost > 1 || (p->http_minor >= 1 && c->nhost == 0)) {
        c->err_status = 400;
        return -1;
    }
    /* No request here has a body: refuse one at once rather than read it
     * (or make an Expect: 100-continue client wait for a go-ahead). */
    if ((p->flags & F_CHUNKED) ||
        (p->content_length > 0 && p->content_length != ULLONG_MAX)) {
        c->err_status = 413;
        return -1;
    }
    if (c->expect_bad) {
        c->err_status = 417;
        return -1;
    }
    return 0;
}

/* Where the path starts in a request target: 0 for origin-form ("/x"); past
 * the authority for absolute-form ("http://host/x", RFC 9112 3.2.2, which a
 * server must accept); SIZE_MAX for anything else. An absolute-form target
 * with no path stands for "/", kept in the buffer's spare byte. */
static size_t origin_form_start(char *url, size_t len)
{
    if (len > 0 && url[0] == '/')
        return 0;
    size_t skip = len >= 7 && strncasecmp(url, "http://", 7) == 0    ? 7
                  : len >= 8 && strncasecmp(url, "https://", 8) == 0 ? 8
                                                                     : 0;
    if (skip == 0)
        return SIZE_MAX;
    char *slash = memchr(url + skip, '/', len - skip);
    if (slash != NULL)
        return (size_t)(slash - url);
    char *q = memchr(url + skip, '?', len - skip);
    if (q != NULL || len == skip)
        return SIZE_MAX; /* "http://host?x" or no host at all */
    url[len - 1] = '/';  /* "http://host": the last authority byte becomes "/" */
    return len - 1;
}

/* The request's client address and what it says: behind a trusted proxy,
 * X-Forwarded-For's rightmost untrusted hop; a scanner network's member. */
static void classify_client(struct http_conn *c)
{
    const struct lists *l = c->s->lists;
    c->req.privacy = c->privacy;
    c->req.client_known = c->peer_known;
    c->req.ua_hash = c->ua_hash;
    if (!c->peer_known)
        return;
    c->req.client = c->peer;
    if (c->peer_trusted && c->xff_len > 0 && !c->xff_long)
        realip_from_xff(c->xff, c->xff_len, l->trusted, &c->req.client);
    if (cidr_set_has(l->scanners, &c->req.client))
        c->req.privacy |= PRIVACY_SCAN_NET;
}

static void dispatch(struct http_conn *c)
{
    struct http_server *s = c->s;
    struct timeval tv;
    http_parser *p = &c->parser;

    event_base_gettimeofday_cached(s->base, &tv);
    reply_date_update(&s->date, tv.tv_sec);
    c->keep = http_should_keep_alive(p) && !s->stopping && !p->upgrade;
    if (c->keep && !c->nodelay) {
        /* Set lazily, as nginx does: a connection that closes after one
         * answer (one send) never needs it. */
        int one = 1;
        c->nodelay = true;
        if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
            log_debug("event=setsockopt_failed option=TCP_NODELAY errno=%d", errno);
    }
    c->http10 = p->http_minor == 0;
    c->req.head = p->method == HTTP_HEAD;
    if (p->method != HTTP_GET && p->method != HTTP_HEAD) {
        reply_error(c, REPLY_BAD_METHOD);
        return;
    }
    c->url[c->url_len] = '\0';
    size_t start = origin_form_start(c->url, c->url_len);
    if (start == SIZE_MAX) {
        reply_error(c, REPLY_BAD_REQUEST); /* '*', authority-form or empty */
        return;
    }
    char *url = c->url + start;
    size_t end = c->url_len - start;
    char *hash = memchr(url, '#', end);
    if (hash != NULL)
        end = (size_t)(hash - url);
    char *q = memchr(url, '?', end);
    c->req.path = url;
    c->req.path_len = q ? (size_t)(q - url) : end;
    c->req.query = q ? q + 1 : NULL;
    c->req.query_len = q ? end - (size_t)(q + 1 - url) : 0;
    classify_client(c);
    c->req.now_ms = (uint64_t)tv.tv_sec * 1000u + (uint64_t)tv.tv_usec / 1000u;
    c->req.start_us = s->conf->access_log ? util_now_us() : 0;
    c->answered = false;
    c->waiting = false;

    s->on_request(c, &c->req, c->slot, s->arg);
    if (!c->answered) {
        c->waiting = true;
        event_del(&c->ev_timer); /* the handler's wait is bounded by its own timer */
    }
}

static int on_message_complete(http_parser *p)
{
    struct http_conn *c = p->data;

    c->in_message = false;
    dispatch(c);
    if (c->waiting || c->closing)
        http_parser_pause(p, 1);
    else
        arm_read_timeout(c);
    return 0;
}

static enum reply_kind error_kind(struct http_conn *c, enum http_errno err)
{
    if (c->err_status == 414)
        return REPLY_URI_TOO_LONG;
    if (c->err_status == 413)
        return REPLY_BODY_REFUSED;
    if (c->err_status == 417)
        return REPLY_EXPECT_FAILED;
    if (c->err_status == 400)
        return REPLY_BAD_REQUEST;
    if (c->err_status == 431 || err == HPE_HEADER_OVERFLOW)
        return REPLY_HEADERS_TOO_LARGE;
    if (err == HPE_INVALID_METHOD) {
        /* A well-formed token we do not know ("BREW /x") is a method we do
         * not allow; anything else is garbage. The parser stopped inside the
         * token, at c->in_pos. */
        size_t start = c->in_pos < c->in_len ? c->in_pos : c->in_len;
        while (start > 0 && c->in[start - 1] >= 'A' && c->in[start - 1] <= 'Z')
            start--;
        size_t end = start;
        while (end < c->in_len && c->in[end] >= 'A' && c->in[end] <= 'Z')
            end++;
        bool line_start = start == 0 || c->in[start - 1] == '\n';
        if (line_start && end > start && end < c->in_len && c->in[end] == ' ')
            return REPLY_BAD_METHOD;
    }
    return REPLY_BAD_REQUEST;
}

/* The client's address is now a (believed or not); whether its
 * X-Forwarded-For is believed follows. */
static void set_peer(struct http_conn *c, const struct cidr_addr *a)
{
    c->peer = *a;
    c->peer_known = true;
    c->peer_trusted = cidr_set_has(c->s->lists->trusted, a);
}

/* proxy_protocol: take the PROXY header off the front of the input. Its
 * address replaces the peer's only when the peer is a trusted proxy. 0 when
 * done, 1 when more bytes are needed, -1 when the input is not one (the
 * connection is closed: a listener that expects the header speaks to the
 * balancer only). */
static int take_proxy_header(struct http_conn *c)
{
    struct cidr_addr src;
    bool has_src = false;
    int n = proxyproto_parse((const unsigned char *)c->in + c->in_pos,
                             c->in_len - c->in_pos, &src, &has_src);
    if (n == 0)
        return c->in_len - c->in_pos >= PROXYPROTO_MAX ? -1 : 1;
    if (n < 0)
        return -1;
    c->in_pos += (size_t)n;
    c->proxy_pending = false;
    if (has_src && c->peer_trusted)
        set_peer(c, &src);
    return 0;
}

/* Parse what is buffered, answering as far as the handler allows. */
static void process(struct http_conn *c)
{
    struct http_server *s = c->s;

    if (c->proxy_pending) {
        int rc = take_proxy_header(c);
        if (rc < 0) {
            log_debug("event=bad_proxy_header");
            conn_free(c);
            return;
        }
        if (rc > 0)
            return;
    }

    while (c->in_pos < c->in_len && !c->waiting && !c->closing) {
        size_t avail = c->in_len - c->in_pos;
        size_t n =
            http_parser_execute(&c->parser, &s->settings, c->in + c->in_pos, avail);
        c->in_pos += n;
        enum http_errno err = HTTP_PARSER_ERRNO(&c->parser);
        if (err == HPE_PAUSED) {
            if (!c->waiting && !c->closing)
                http_parser_pause(&c->parser, 0);
            continue;
        }
        if (err != HPE_OK) {
            log_debug("event=bad_request reason=%s", http_errno_name(err));
            reply_error(c, error_kind(c, err));
            break;
        }
        if (n < avail) {
            /* http-parser stops after an Upgrade request: close after it. */
            c->closing = true;
            break;
        }
    }
    if (c->in_pos >= c->in_len)
        c->in_pos = c->in_len = 0;
    flush_out(c);
}

static void on_read(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    (void)what;

    if (c->phase == PHASE_LINGER) {
        char sink[4096];
        ssize_t n;
        while ((n = recv(fd, sink, sizeof(sink), 0)) > 0)
            ;
        if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR))
            conn_free(c);
        return;
    }
    if (c->in_len == HTTP_IN_SIZE) {
        /* The parser consumes all it is given: there is room at the front. */
        memmove(c->in, c->in + c->in_pos, c->in_len - c->in_pos);
        c->in_len -= c->in_pos;
        c->in_pos = 0;
    }
    ssize_t n = recv(fd, c->in + c->in_len, HTTP_IN_SIZE - c->in_len, 0);
    if (n > 0) {
        c->in_len += (size_t)n;
        process(c);
        return;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
        return;
    /* EOF or error: the client is gone; a half-sent request is dropped. */
    conn_free(c);
}

static void on_write(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    (void)fd;
    (void)what;

    if (flush_out(c) != 0 || c->out.len != 0 || c->phase != PHASE_ACTIVE)
        return;
    if (!c->waiting && !c->closing && c->in_pos < c->in_len)
        process(c); /* pipelined requests that arrived while we waited */
}

static void on_hup(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    (void)fd;
    (void)what;
    if (!c->waiting) {
        event_del(&c->ev_hup); /* answered meanwhile: level-triggered, so stop it */
        return;
    }
    log_debug("event=client_closed reason=\"before its answer; not counted\"");
    conn_free(c);
}

static void on_timeout(evutil_socket_t fd, short what, void *arg)
{
    struct http_conn *c = arg;
    (void)fd;
    (void)what;
    if (c->phase == PHASE_ACTIVE)
        log_debug("event=client_timeout in_request=%d", c->in_message ? 1 : 0);
    conn_free(c);
}

static void conn_new(struct http_server *s, evutil_socket_t fd, const struct sockaddr *sa)
{
    struct http_conn *c = s->free_list;

    if (c != NULL) {
        s->free_list = c->next;
        s->nfree--;
    } else {
        size_t base = (sizeof(*c) + 15) & ~(size_t)15;
        size_t slot = (s->slot_size + 15) & ~(size_t)15;
        c = xcalloc(1, base + slot + HTTP_IN_SIZE);
        c->slot = (char *)c + base;
        c->in = (char *)c + base + slot;
    }
    /* Reset whole: nothing of the last connection's state survives (its
     * error status once answered a new client's garbage with 431). Only the
     * buffers, already zeroed at release, are kept. */
    void *slot = c->slot;
    char *in = c->in, *url = c->url;
    size_t url_cap = c->url_cap;
    struct reply_buf out = c->out;
    *c = (struct http_conn){0};
    c->slot = slot;
    c->in = in;
    c->url = url;
    c->url_cap = url_cap;
    c->out = out;
    c->out.len = c->out.off = 0;
    c->s = s;
    c->fd = fd;
    c->phase = PHASE_ACTIVE;
    struct cidr_addr peer;
    if (cidr_addr_from_sockaddr(&peer, sa))
        set_peer(c, &peer);
    c->proxy_pending = s->conf->proxy_protocol;
    memset(c->slot, 0, s->slot_size);
    http_parser_init(&c->parser, HTTP_REQUEST);
    c->parser.data = c;
    event_assign(&c->ev_read, s->base, fd, EV_READ | EV_PERSIST, on_read, c);
    event_assign(&c->ev_write, s->base, fd, EV_WRITE, on_write, c);
    evtimer_assign(&c->ev_timer, s->base, on_timeout, c);
    event_assign(&c->ev_hup, s->base, fd, EV_CLOSED | EV_PERSIST, on_hup, c);
    c->prev = NULL;
    c->next = s->conns;
    if (s->conns)
        s->conns->prev = c;
    s->conns = c;
    s->nconns++;
    metric_set(&s->m->connections, s->nconns);
    start_reading(c);
    arm_read_timeout(c);
    /* The listener defers accept until data arrives (TCP_DEFER_ACCEPT), so
     * the request is usually here already: read it now. A connection answered
     * and closed within this callback never costs an epoll_ctl (the
     * changelist cancels the add with the delete). c may be gone after. */
    on_read(fd, EV_READ, c);
}

/* Take a slot under the cap. The cap is over all workers: one worker full
 * while others have room would leave its SO_REUSEPORT share of clients
 * waiting. Two workers may race for the last slot; the loser gives it back. */
static bool admit(struct http_server *s)
{
    if (s->stopping)
        return false;
    if (atomic_fetch_add_explicit(&s->limit->conns, 1, memory_order_relaxed) >=
        s->limit->max) {
        atomic_fetch_sub_explicit(&s->limit->conns, 1, memory_order_relaxed);
        return false;
    }
    return true;
}

int http_server_adopt(struct http_server *s, int fd)
{
    if (!admit(s)) {
        close(fd);
        return -1;
    }
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0)
        ss.ss_family = AF_UNSPEC;
    conn_new(s, fd, (struct sockaddr *)&ss);
    return 0;
}

static void on_accept(struct evconnlistener *l, evutil_socket_t fd, struct sockaddr *addr,
                      int socklen, void *arg)
{
    struct http_server *s = arg;
    (void)l;
    (void)socklen; /* the address classifies requests and is kept nowhere */

    if (!admit(s)) {
        close(fd);
        listener_update(s);
        return;
    }
    conn_new(s, fd, addr);
    /* libevent accepts until EAGAIN; under a storm of new connections that
     * would starve the flush timer and Redis replies. Take a turn. */
    if (++s->accept_burst >= HTTP_ACCEPT_BURST && !s->accept_paused) {
        s->accept_paused = true;
        listener_update(s);
        event_active(s->accept_resume, EV_TIMEOUT, 1);
        return;
    }
    listener_update(s);
}

static void on_accept_resume(evutil_socket_t fd, short what, void *arg)
{
    struct http_server *s = arg;
    (void)fd;
    (void)what;
    s->accept_burst = 0;
    s->accept_paused = false;
    listener_update(s);
}

static void on_accept_retry(evutil_socket_t fd, short what, void *arg)
{
    (void)fd;
    (void)what;
    listener_update(arg);
}

static void on_accept_error(struct evconnlistener *l, void *arg)
{
    struct http_server *s = arg;
    int err = EVUTIL_SOCKET_ERROR();
    struct timeval tv = util_ms_timeval(HTTP_ACCEPT_RETRY_MS);
    (void)l;

    /* EMFILE and friends: pause accepting instead of spinning. */
    log_error("event=accept_failed reason=\"%s\"", evutil_socket_error_to_string(err));
    if (s->listener_on) {
        evconnlistener_disable(s->listener);
        s->listener_on = false;
    }
    event_add(s->accept_retry, &tv);
}

struct http_server *http_server_new(struct event_base *base, const struct conf *conf,
                                    struct metrics *m, struct lists *lists,
                                    struct http_limit *limit, size_t slot_size,
                                    http_request_fn *on_request, http_abort_fn *on_abort,
                                    void *arg, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    int sslen = sizeof(ss);

    if (evutil_parse_sockaddr_port(conf->listen, (struct sockaddr *)&ss, &sslen) != 0) {
        snprintf(err, errsz, "cannot parse listen address %s", conf->listen);
        return NULL;
    }
    struct http_server *s = xcalloc(1, sizeof(*s));
    s->base = base;
    s->conf = conf;
    s->m = m;
    s->lists = lists;
    s->limit = limit;
    s->slot_size = slot_size;
    s->on_request = on_request;
    s->on_abort = on_abort;
    s->arg = arg;
    s->settings.on_message_begin = on_message_begin;
    s->settings.on_url = on_url;
    s->settings.on_header_field = on_header_field;
    s->settings.on_header_value = on_header_value;
    s->settings.on_headers_complete = on_headers_complete;
    s->settings.on_message_complete = on_message_complete;
    struct timeval tv = util_ms_timeval((uint64_t)conf->read_timeout_ms);
    s->read_timeout = event_base_init_common_timeout(base, &tv);
    s->accept_retry = evtimer_new(base, on_accept_retry, s);
    s->accept_resume = evtimer_new(base, on_accept_resume, s);
    s->listener =
        evconnlistener_new_bind(base, on_accept, s,
                                LEV_OPT_REUSEABLE | LEV_OPT_REUSEABLE_PORT |
                                    LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC,
                                1024, (struct sockaddr *)&ss, sslen);
    if (s->listener == NULL || s->read_timeout == NULL || s->accept_retry == NULL ||
        s->accept_resume == NULL) {
        snprintf(err, errsz, "cannot listen on %s: %s", conf->listen,
                 evutil_socket_error_to_string(EVUTIL_SOCKET_ERROR()));
        http_server_free(s);
        return NULL;
    }
    evconnlistener_set_error_cb(s->listener, on_accept_error);
    /* Wake accept only once the client has sent something (Linux): an idle
     * connect costs no connection slot, and the first read rarely waits. */
    int defer = (conf->read_timeout_ms + 999) / 1000;
    if (setsockopt(evconnlistener_get_fd(s->listener), IPPROTO_TCP, TCP_DEFER_ACCEPT,
                   &defer, sizeof(defer)) != 0)
        log_debug("event=setsockopt_failed option=TCP_DEFER_ACCEPT errno=%d", errno);
    s->listener_on = true;
    return s;
}

void http_server_stop(struct http_server *s, http_drained_fn *drained, void *arg)
{
    s->stopping = true;
    s->drained = drained;
    s->drained_arg = arg;
    if (s->listener != NULL) {
        evconnlistener_free(s->listener);
        s->listener = NULL;
        s->listener_on = false;
    }
    event_del(s->accept_retry);
    event_del(s->accept_resume);
    /* Idle connections go now; busy ones close after their answer. */
    struct http_conn *c = s->conns, *next;
    for (; c != NULL; c = next) {
        next = c->next;
        bool idle = c->phase == PHASE_ACTIVE && !c->in_message && !c->waiting &&
                    c->out.len == 0 && c->in_len == c->in_pos;
        if (idle || c->phase == PHASE_LINGER)
            conn_free(c);
    }
    if (s->nconns == 0 && s->drained != NULL) {
        s->drained = NULL;
        drained(arg);
    }
}

void http_server_set_lists(struct http_server *s, struct lists *lists)
{
    s->lists = lists;
}

void http_server_close_all(struct http_server *s)
{
    s->drained = NULL;
    while (s->conns != NULL)
        conn_free(s->conns);
}

void http_server_free(struct http_server *s)
{
    if (s == NULL)
        return;
    http_server_close_all(s);
    if (s->listener != NULL)
        evconnlistener_free(s->listener);
    if (s->accept_retry != NULL)
        event_free(s->accept_retry);
    if (s->accept_resume != NULL)
        event_free(s->accept_resume);
    while (s->free_list != NULL) {
        struct http_conn *c = s->free_list;
        s->free_list = c->next;
        reply_buf_free(&c->out);
        free(c->url);
        free(c);
    }
    free(s);
}
