/* reply: every response hopcount writes, from preformatted header blocks. */
#include "reply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "url.h"
#include "util.h"

#define S(s) s, sizeof(s) - 1

struct fixed {
    int status;
    const char *head; /* status line */
    size_t head_len;
    const char *hdrs; /* headers after Date, up to Content-Type */
    size_t hdrs_len;
    const char *body;
    size_t body_len;
};

#define HTML_404                                                                         \
    "<!DOCTYPE html>\n<html><head><title>404 Not Found</title></head>"                   \
    "<body><h1>Not Found</h1><p>This link does not exist.</p></body></html>\n"

static const struct fixed fixed[REPLY_NKINDS] = {
    [REPLY_NOT_FOUND] = {404, S("HTTP/1.1 404 Not Found\r\n"),
                         S("Cache-Control: no-store\r\nX-Robots-Tag: noindex\r\n"
                           "Content-Type: text/html; charset=utf-8\r\n"),
                         S(HTML_404)},
    [REPLY_ROBOTS] = {200, S("HTTP/1.1 200 OK\r\n"),
                      S("Content-Type: text/plain; charset=utf-8\r\n"),
                      S("User-agent: *\nDisallow: /\n")},
    [REPLY_GPC] = {200, S("HTTP/1.1 200 OK\r\n"), S("Content-Type: application/json\r\n"),
                   S("{\"gpc\": true, \"lastUpdate\": \"2026-11-29\"}\n")},
    [REPLY_DNT] = {200, S("HTTP/1.1 200 OK\r\n"),
                   S("Content-Type: application/tracking-status+json\r\n"),
                   S("{\"tracking\": \"N\"}\n")},
    [REPLY_BAD_METHOD] = {405, S("HTTP/1.1 405 Method Not Allowed\r\n"),
                          S("Allow: GET, HEAD\r\nContent-Type: text/plain\r\n"),
                          S("Method Not Allowed\n")},
    [REPLY_BAD_REQUEST] = {400, S("HTTP/1.1 400 Bad Request\r\n"),
                           S("Content-Type: text/plain\r\n"), S("Bad Request\n")},
    [REPLY_URI_TOO_LONG] = {414, S("HTTP/1.1 414 URI Too Long\r\n"),
                            S("Content-Type: text/plain\r\n"), S("URI Too Long\n")},
    [REPLY_HEADERS_TOO_LARGE] = {431,
                                 S("HTTP/1.1 431 Request Header Fields Too Large\r\n"),
                                 S("Content-Type: text/plain\r\n"),
                                 S("Request Header Fields Too Large\n")},
    [REPLY_BODY_REFUSED] = {413, S("HTTP/1.1 413 Content Too Large\r\n"),
                            S("Content-Type: text/plain\r\n"),
                            S("Requests with a body are not accepted\n")},
    [REPLY_EXPECT_FAILED] = {417, S("HTTP/1.1 417 Expectation Failed\r\n"),
                             S("Content-Type: text/plain\r\n"), S("Expectation Failed\n")},
    [REPLY_UNAVAILABLE] = {503, S("HTTP/1.1 503 Service Unavailable\r\n"),
                           S("Retry-After: 5\r\nCache-Control: no-store\r\n"
                             "Content-Type: text/plain\r\n"),
                           S("Service Unavailable\n")},
    [REPLY_PREFETCH_REFUSED] = {503, S("HTTP/1.1 503 Service Unavailable\r\n"),
                                S("Cache-Control: no-store\r\nX-Robots-Tag: noindex\r\n"
                                  "Content-Type: text/plain\r\n"),
                                S("Prefetch not served\n")},
};

static const struct {
    int status;
    const char *line;
    size_t len;
} redirect_lines[] = {
    {301, S("HTTP/1.1 301 Moved Permanently\r\nLocation: ")},
    {302, S("HTTP/1.1 302 Found\r\nLocation: ")},
    {303, S("HTTP/1.1 303 See Other\r\nLocation: ")},
    {307, S("HTTP/1.1 307 Temporary Redirect\r\nLocation: ")},
    {308, S("HTTP/1.1 308 Permanent Redirect\r\nLocation: ")},
};

static const char redirect_hdrs[] = "Cache-Control: private, no-store\r\n"
                                    "X-Robots-Tag: noindex\r\n"
                                    "Content-Length: 0\r\n";

static const struct {
    const char *s;
    size_t len;
} conn_lines[] = {
    [REPLY_KEEP] = {S("")},
    [REPLY_KEEP_10] = {S("Connection: keep-alive\r\n")},
    [REPLY_CLOSE] = {S("Connection: close\r\n")},
};

void reply_buf_free(struct reply_buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->off = b->cap = 0;
}

static char *reserve(struct reply_buf *b, size_t n)
{
    if (b->cap - b->len < n) {
        size_t cap = b->cap ? b->cap : 1024;
        while (cap - b->len < n)
            cap *= 2;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    return b->p + b->len;
}

static inline void put(char **w, const char *s, size_t n)
{
    memcpy(*w, s, n);
    *w += n;
}

void reply_date_update(struct reply_date *d, time_t now)
{
    static const char days[7][4] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char months[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                       "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    struct tm tm;

    if (d->len != 0 && d->sec == now)
        return;
    gmtime_r(&now, &tm);
    int n = snprintf(d->line, sizeof(d->line),
                     "Date: %s, %02d %s %04d %02d:%02d:%02d GMT\r\n", days[tm.tm_wday],
                     tm.tm_mday, months[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec);
    d->len = n > 0 && (size_t)n < sizeof(d->line) ? (size_t)n : 0;
    d->sec = now;
}

int reply_kind_status(enum reply_kind kind)
{
    return fixed[kind].status;
}

bool reply_location_safe(const char *loc, size_t len)
{
    if (len == 0 || len > URL_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)loc[i] <= 0x20 || (unsigned char)loc[i] >= 0x7f)
            return false;
    return true;
}

int reply_redirect(struct reply_buf *b, const struct reply_date *d, int status,
                   const char *loc, size_t len, unsigned flags, enum reply_conn conn)
{
    size_t i = 0;
    static const char tk[] = "Tk: N\r\n";

    if (!reply_location_safe(loc, len)) {
        reply_fixed(b, d, REPLY_NOT_FOUND, flags & REPLY_HEAD, conn);
        return -1;
    }
    while (i < sizeof(redirect_lines) / sizeof(redirect_lines[0]) - 1 &&
           redirect_lines[i].status != status)
        i++;
    if (redirect_lines[i].status != status)
        i = 1; /* 302; conf only admits the five above */
    char *w =
        reserve(b, redirect_lines[i].len + len + 2 + d->len + sizeof(redirect_hdrs) +
                       sizeof(tk) + conn_lines[conn].len + 2);
    char *start = w;
    put(&w, redirect_lines[i].line, redirect_lines[i].len);
    put(&w, loc, len);
    put(&w, "\r\n", 2);
    put(&w, d->line, d->len);
    put(&w, redirect_hdrs, sizeof(redirect_hdrs) - 1);
    if (flags & REPLY_TK_N)
        put(&w, tk, sizeof(tk) - 1);
    put(&w, conn_lines[conn].s, conn_lines[conn].len);
    put(&w, "\r\n", 2);
    b->len += (size_t)(w - start);
    return redirect_lines[i].status;
}

int reply_fixed(struct reply_buf *b, const struct reply_date *d, enum reply_kind kind,
                bool head, enum reply_conn conn)
{
    const struct fixed *f = &fixed[kind];
    char cl[40];
    int cln = snprintf(cl, sizeof(cl), "Content-Length: %zu\r\n", f->body_len);
    char *w = reserve(b, f->head_len + d->len + f->hdrs_len + (size_t)cln +
                             conn_lines[conn].len + 2 + f->body_len);
    char *start = w;
    put(&w, f->head, f->head_len);
    put(&w, d->line, d->len);
    put(&w, f->hdrs, f->hdrs_len);
    put(&w, cl, (size_t)cln);
    put(&w, conn_lines[conn].s, conn_lines[conn].len);
    put(&w, "\r\n", 2);
    if (!head)
        put(&w, f->body, f->body_len);
    b->len += (size_t)(w - start);
    return f->status;
}
