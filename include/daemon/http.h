/* http: the public HTTP/1.x listener of one worker: accepting under a
 * connection cap, parsing with http-parser, keep-alive and pipelining in
 * order, timeouts, and writing responses. It knows nothing of links. */
#ifndef HOPCOUNT_HTTP_H
#define HOPCOUNT_HTTP_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"
#include "reply.h"

struct event_base;
struct conf;
struct metrics;
struct lists;
struct http_server;
struct http_conn;

/* The connection cap over all workers' servers: each counts its
 * connections in conns (atomically) and stops accepting at max. */
struct http_limit {
    atomic_int conns;
    int max;
};

/* One parsed request; borrowed, valid until it is answered. */
struct http_request {
    bool head;        /* HEAD rather than GET */
    const char *path; /* starts with '/', without query or fragment */
    size_t path_len;
    const char *query; /* after '?', without it; NULL when absent */
    size_t query_len;
    unsigned privacy; /* PRIVACY_* flags from the headers and the address */
    /* The client's address (behind trusted proxies, the one they name) and a
     * hash of its user agent: for classifying this request only, never
     * stored, logged, counted or sent. */
    struct cidr_addr client;
    bool client_known;
    uint64_t ua_hash;
    uint64_t now_ms;   /* wall-clock ms when it was parsed (the loop's cached time) */
    uint64_t start_us; /* monotonic µs when it was handed over (access_log only) */
};

/* Called for each GET or HEAD request. It must answer with http_answer_*
 * exactly once, now or later (while it has not, the connection reads
 * nothing more, so pipelined requests keep their order). slot is the
 * connection's handler storage (slot_size bytes, zeroed at accept). */
typedef void http_request_fn(struct http_conn *c, const struct http_request *req,
                             void *slot, void *arg);

/* Called when a connection closes with a request still unanswered, so the
 * handler can withdraw what it waits on. */
typedef void http_abort_fn(struct http_conn *c, void *slot, void *arg);

/* Called once when a stopped server has no connection left. */
typedef void http_drained_fn(void *arg);

/* A listener on conf->listen (SO_REUSEPORT, so every worker binds its own)
 * taking connections while limit (shared by every worker) has room. conf,
 * m, lists and limit are borrowed. NULL with a reason in err when it
 * cannot listen. */
struct http_server *http_server_new(struct event_base *base, const struct conf *conf,
                                    struct metrics *m, struct lists *lists,
                                    struct http_limit *limit, size_t slot_size,
                                    http_request_fn *on_request, http_abort_fn *on_abort,
                                    void *arg, char *err, size_t errsz);

/* Serve fd, a connected non-blocking stream socket, as if just accepted
 * (under the same cap; closed and -1 when there is no room). The fuzzer feeds
 * the real input path through a socketpair this way. */
int http_server_adopt(struct http_server *s, int fd);

/* Stop accepting, close idle connections, answer the rest with
 * "Connection: close"; drained(arg) runs once no connection is left (maybe
 * before this returns). */
void http_server_stop(struct http_server *s, http_drained_fn *drained, void *arg);

/* Close every connection at once (shutdown deadline). */
void http_server_close_all(struct http_server *s);

/* Classify requests with these lists from now on (borrowed). */
void http_server_set_lists(struct http_server *s, struct lists *lists);

void http_server_free(struct http_server *s);

/* The request c is answering now (valid until answered). */
const struct http_request *http_conn_request(const struct http_conn *c);

/* Answers. Each is the one answer to c's current request. */
void http_answer_redirect(struct http_conn *c, int status, const char *loc, size_t len,
                          bool tk_n);
void http_answer_fixed(struct http_conn *c, enum reply_kind kind);

#endif
