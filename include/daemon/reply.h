/* reply: every response hopcount writes, from preformatted header blocks, and
 * the last check on a Location before it is written. Pure apart from the
 * output buffer it appends to. */
#ifndef HOPCOUNT_REPLY_H
#define HOPCOUNT_REPLY_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

/* A growable output buffer; owned by its connection. */
struct reply_buf {
    char *p;
    size_t len; /* bytes held */
    size_t off; /* bytes already sent */
    size_t cap;
};

void reply_buf_free(struct reply_buf *b);

/* The cached "Date: ...\r\n" line, reformatted once a second. */
struct reply_date {
    time_t sec;
    size_t len;
    char line[48];
};

/* Refresh d for the wall-clock second now. */
void reply_date_update(struct reply_date *d, time_t now);

/* Fixed responses. */
enum reply_kind {
    REPLY_NOT_FOUND = 0,     /* 404 small HTML page */
    REPLY_ROBOTS,            /* 200 robots.txt: Disallow: / */
    REPLY_GPC,               /* 200 /.well-known/gpc.json */
    REPLY_DNT,               /* 200 /.well-known/dnt/ tracking status */
    REPLY_BAD_METHOD,        /* 405 with Allow: GET, HEAD */
    REPLY_BAD_REQUEST,       /* 400 */
    REPLY_URI_TOO_LONG,      /* 414 */
    REPLY_HEADERS_TOO_LARGE, /* 431 */
    REPLY_BODY_REFUSED,      /* 413: a request with a body (none is ever read) */
    REPLY_EXPECT_FAILED,     /* 417: an Expect other than 100-continue */
    REPLY_UNAVAILABLE,       /* 503 with Retry-After: Redis cannot be asked */
    REPLY_PREFETCH_REFUSED,  /* 503 no-store: a refused prefetch */
    REPLY_NKINDS
};

/* How the connection goes on after this response. */
enum reply_conn {
    REPLY_KEEP = 0,    /* HTTP/1.1 keep-alive: no header */
    REPLY_KEEP_10 = 1, /* HTTP/1.0 keep-alive: "Connection: keep-alive" */
    REPLY_CLOSE = 2,   /* "Connection: close" */
};

/* Flags of reply_redirect. */
#define REPLY_HEAD 0x1u /* headers only */
#define REPLY_TK_N 0x2u /* add "Tk: N": the request was not tracked */

/* The status of a fixed response. */
int reply_kind_status(enum reply_kind kind);

/* True when loc[0..len) may be written into a Location header: printable
 * ASCII without space, 1..2048 bytes. (url_target_ok is the full check, made
 * when a target enters the cache; this is the last line of defence.) */
bool reply_location_safe(const char *loc, size_t len);

/* Append a redirect with status (301/302/303/307/308) to loc, which must pass
 * reply_location_safe (if not, a 404 is appended instead and -1 returned).
 * Returns the status written. */
int reply_redirect(struct reply_buf *b, const struct reply_date *d, int status,
                   const char *loc, size_t len, unsigned flags, enum reply_conn conn);

/* Append a fixed response; head leaves the body out. Returns its status. */
int reply_fixed(struct reply_buf *b, const struct reply_date *d, enum reply_kind kind,
                bool head, enum reply_conn conn);

#endif
