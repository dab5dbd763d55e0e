/* dashboard: the read-only JSON API (docs/api.md) on its own listener. Off
 * the hot path: evhttp on the main thread, Redis through a router of its
 * own. */
#include "dashboard.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <inttypes.h>
#include <nettle/base64.h>
#include <nettle/memops.h>
#include <nettle/sha2.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "code.h"
#include "conf.h"
#include "dashhtml.h"
#include "dashjson.h"
#include "dashread.h"
#include "keys.h"
#include "log.h"
#include "metrics.h"
#include "route.h"
#include "util.h"

#define DAY_S 86400
#define DAYS_DEFAULT 14      /* as hopctl stats */
#define LIST_DAYS_DEFAULT 30 /* the campaigns' list: a month's sparkline */
#define LIST_DAYS_MAX 90     /* ... every campaign's days are read */
#define PAGE_DAYS_DEFAULT 30 /* a campaign's or a link's page */
#define URI_MAX 512

/* What an answer is written as. */
enum format { FMT_JSON, FMT_HTML, FMT_CSV };

static const char *const content_types[] = {
    [FMT_JSON] = "application/json; charset=utf-8",
    [FMT_HTML] = "text/html; charset=utf-8",
    [FMT_CSV] = "text/csv; charset=utf-8",
};

/* A cached answer. */
struct cached {
    char uri[URI_MAX];
    int status;
    enum format fmt;
    char *body;
    size_t len;
    uint64_t expires_ms; /* monotonic; 0: empty */
};

struct dashboard {
    const struct conf *conf;
    struct evhttp *http;
    struct route *r;
    struct metrics metrics; /* the router's own counters: not exported */
    unsigned char secret[SHA256_DIGEST_SIZE]; /* SHA-256 of the password */
    bool has_password;
    size_t jobs;
    uint64_t auth_logged_ms;
    unsigned long auth_failures;
    struct cached cache[DASHBOARD_CACHE];
};

/* ---- answers ----------------------------------------------------------- */

static void send_body(struct evhttp_request *req, int status, enum format fmt,
                      const char *body, size_t len)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", content_types[fmt]);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_add_header(h, "X-Content-Type-Options", "nosniff");
    /* Pages load nothing but themselves: no script, no request elsewhere. */
    evhttp_add_header(h, "Content-Security-Policy",
                      "default-src 'none'; style-src 'unsafe-inline'; "
                      "frame-ancestors 'none'; base-uri 'none'; form-action 'none'");
    evhttp_add_header(h, "Referrer-Policy", "no-referrer");
    if (fmt == FMT_CSV)
        evhttp_add_header(h, "Content-Disposition", "attachment; filename=\"links.csv\"");
    struct evbuffer *b = evbuffer_new();
    if (b == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    evbuffer_add(b, body, len);
    const char *reason = status == 200   ? "OK"
                         : status == 400 ? "Bad Request"
                         : status == 401 ? "Unauthorized"
                         : status == 404 ? "Not Found"
                         : status == 405 ? "Method Not Allowed"
                         : status == 503 ? "Service Unavailable"
                                         : "Internal Server Error";
    evhttp_send_reply(req, status, reason, b);
    evbuffer_free(b);
}

/* A stream for an answer's text into *text; NULL (and a bare 500 sent)
 * when there is no memory for it. */
static FILE *body_stream(struct evhttp_request *req, char **text, size_t *len)
{
    *text = NULL;
    FILE *m = open_memstream(text, len);
    if (m == NULL)
        evhttp_send_error(req, 500, NULL);
    return m;
}

/* An error with status: {"error": why} to the API, a page to a browser. */
static void send_error(struct evhttp_request *req, int status, enum format fmt,
                       const char *why)
{
    char *text;
    size_t len = 0;
    FILE *m = body_stream(req, &text, &len);
    if (m == NULL)
        return;
    if (fmt == FMT_JSON)
        dash_json_error(m, why);
    else
        dash_html_error(m, why);
    fclose(m);
    send_body(req, status, fmt == FMT_JSON ? FMT_JSON : FMT_HTML, text, len);
    free(text);
}

static struct cached *cache_find(struct dashboard *d, const char *uri)
{
    uint64_t now = util_coarse_ms();
    for (size_t i = 0; i < DASHBOARD_CACHE; i++)
        if (d->cache[i].expires_ms > now && strcmp(d->cache[i].uri, uri) == 0)
            return &d->cache[i];
    return NULL;
}

/* Keep an answer for DASHBOARD_CACHE_MS, in the slot that expires first. */
static void cache_put(struct dashboard *d, const char *uri, int status, enum format fmt,
                      const char *body, size_t len)
{
    struct cached *c = &d->cache[0];
    for (size_t i = 1; i < DASHBOARD_CACHE; i++)
        if (d->cache[i].expires_ms < c->expires_ms)
            c = &d->cache[i];
    if (strlen(uri) >= sizeof(c->uri))
        return;
    free(c->body);
    c->body = xmalloc(len ? len : 1);
    memcpy(c->body, body, len);
    c->len = len;
    c->status = status;
    c->fmt = fmt;
    util_strlcpy(c->uri, uri, sizeof(c->uri));
    c->expires_ms = util_coarse_ms() + DASHBOARD_CACHE_MS;
}

/* ---- access ------------------------------------------------------------ */

/* Whether the request carries the password (HTTP Basic, any user name),
 * compared in constant time through its SHA-256. */
static bool authorized(struct dashboard *d, struct evhttp_request *req)
{
    if (!d->has_password)
        return true;
    const char *h =
        evhttp_find_header(evhttp_request_get_input_headers(req), "Authorization");
    if (h == NULL || strncasecmp(h, "Basic ", 6) != 0)
        return false;
    h += 6;
    size_t in = strlen(h), out = BASE64_DECODE_LENGTH(in);
    if (in > 1024)
        return false;
    unsigned char *plain = xmalloc(out + 1);
    struct base64_decode_ctx ctx;
    base64_decode_init(&ctx);
    bool ok = base64_decode_update(&ctx, &out, plain, in, h) && base64_decode_final(&ctx);
    unsigned char digest[SHA256_DIGEST_SIZE];
    if (ok) {
        plain[out] = '\0';
        const unsigned char *colon = memchr(plain, ':', out);
        ok = colon != NULL;
        if (ok) {
            struct sha256_ctx s;
            sha256_init(&s);
            sha256_update(&s, out - (size_t)(colon + 1 - plain), colon + 1);
            sha256_digest(&s, sizeof(digest), digest);
            ok = memeql_sec(digest, d->secret, sizeof(digest));
        }
    }
    explicit_bzero(plain, out + 1);
    free(plain);
    return ok;
}

/* A refused password: 401, and a log line (at most one a second, with the
 * count since) naming neither the password nor the client. */
static void refuse(struct dashboard *d, struct evhttp_request *req, enum format fmt)
{
    d->auth_failures++;
    uint64_t now = util_coarse_ms();
    if (d->auth_logged_ms == 0 || now - d->auth_logged_ms >= 1000) {
        log_warn("event=dashboard_auth_failed count=%lu", d->auth_failures);
        d->auth_logged_ms = now;
        d->auth_failures = 0;
    }
    evhttp_add_header(evhttp_request_get_output_headers(req), "WWW-Authenticate",
                      "Basic realm=\"hopcount\", charset=\"UTF-8\"");
    send_error(req, 401, fmt, "authentication required");
}

/* ---- a read in flight -------------------------------------------------- */

/* A request waiting for its read. */
struct call {
    struct dashboard *d;
    struct evhttp_request *req; /* NULL once the client has gone */
    struct evhttp_connection *conn;
    enum format fmt;
    char uri[URI_MAX];
};

static void on_close(struct evhttp_connection *conn, void *arg)
{
    struct call *c = arg;
    (void)conn;
    c->req = NULL; /* the read goes on; nothing is sent */
}

/* The read as fmt, into m. */
static void render(FILE *m, const struct dash_read *rd, enum format fmt)
{
    if (fmt == FMT_JSON)
        dash_json(m, rd);
    else if (fmt == FMT_HTML)
        dash_html(m, rd);
    else
        dash_csv(m, rd);
}

/* The read is done: answer (and cache) it, or say why it failed. */
static void on_read(struct dash_read *rd, void *arg)
{
    struct call *c = arg;
    struct dashboard *d = c->d;
    d->jobs--;
    if (c->req != NULL)
        evhttp_connection_set_closecb(c->conn, NULL, NULL);
    if (rd->failed[0] != '\0') {
        log_warn("event=dashboard_read_failed name=%s reason=\"%s\"", rd->name,
                 rd->failed);
        if (c->req != NULL)
            send_error(c->req, 503, c->fmt, rd->failed);
    } else {
        char *text = NULL, why[120];
        size_t len = 0;
        int status = rd->found ? 200 : 404;
        FILE *m = open_memstream(&text, &len);
        if (m != NULL) {
            enum format fmt = rd->found || c->fmt == FMT_JSON ? c->fmt : FMT_HTML;
            if (rd->found) {
                render(m, rd, fmt);
            } else {
                snprintf(why, sizeof(why), "no such %s: %s",
                         rd->kind == DASH_LINK ? "link" : "campaign", rd->name);
                if (fmt == FMT_JSON)
                    dash_json_error(m, why);
                else
                    dash_html_error(m, why);
            }
            fclose(m);
            cache_put(d, c->uri, status, fmt, text, len);
            if (c->req != NULL)
                send_body(c->req, status, fmt, text, len);
        } else if (c->req != NULL) {
            send_error(c->req, 500, c->fmt, "out of memory");
        }
        free(text);
    }
    dash_read_free(rd);
    free(c);
}

/* ---- requests ------------------------------------------------------------ */

/* A day given as YYYY-MM-DD: days since the epoch, or -1. */
static int64_t parse_day(const char *s)
{
    int y, mo, dd, n = 0;
    if (s == NULL || strlen(s) != 10 ||
        sscanf(s, "%4d-%2d-%2d%n", &y, &mo, &dd, &n) != 3 || n != 10)
        return -1;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = dd};
    time_t t = timegm(&tm);
    char back[KEYS_DATE_MAX];
    keys_date(back, (int64_t)t / 3600);
    return strcmp(back, s) == 0 ? (int64_t)t / DAY_S : -1;
}

/* The days asked for (days=N, or from= and to=, inclusive; by default the
 * last n_default), at most max: 0, or -1 with why (WHY_MAX bytes). */
#define WHY_MAX 120
static int parse_range(struct evhttp_request *req, int n_default, int max, int64_t *first,
                       int *n, char *why)
{
    struct evkeyvalq q;
    const char *query = evhttp_uri_get_query(evhttp_request_get_evhttp_uri(req));
    int64_t today = (int64_t)(util_wall_ms() / 1000 / DAY_S);
    *first = today - (n_default - 1);
    *n = n_default;
    if (query == NULL)
        return 0;
    if (evhttp_parse_query_str(query, &q) != 0) {
        snprintf(why, WHY_MAX, "the query string does not parse");
        return -1;
    }
    int rc = 0;
    const char *days = evhttp_find_header(&q, "days"),
               *from = evhttp_find_header(&q, "from"), *to = evhttp_find_header(&q, "to");
    for (struct evkeyval *kv = q.tqh_first; kv != NULL && rc == 0; kv = kv->next.tqe_next)
        if (strcmp(kv->key, "days") != 0 && strcmp(kv->key, "from") != 0 &&
            strcmp(kv->key, "to") != 0) {
            snprintf(why, WHY_MAX, "unknown parameter (days, from, to are)");
            rc = -1;
        }
    long long v = 0;
    if (rc == 0 && days != NULL && (from != NULL || to != NULL)) {
        snprintf(why, WHY_MAX, "days and from/to are one or the other");
        rc = -1;
    } else if (rc == 0 && days != NULL) {
        if (util_parse_ll(days, &v) != 0 || v < 1 || v > max) {
            snprintf(why, WHY_MAX, "days must be 1 to %d", max);
            rc = -1;
        } else {
            *n = (int)v;
            *first = today - (v - 1);
        }
    } else if (rc == 0 && (from != NULL || to != NULL)) {
        int64_t f = parse_day(from), t = to ? parse_day(to) : today;
        if (from == NULL || f < 0 || t < 0) {
            snprintf(why, WHY_MAX, "from (and to) must be dates, YYYY-MM-DD");
            rc = -1;
        } else if (t < f || t - f + 1 > max) {
            snprintf(why, WHY_MAX,
                     "to must not be before from, and at most %d days in all", max);
            rc = -1;
        } else {
            *first = f;
            *n = (int)(t - f + 1);
        }
    }
    evhttp_clear_headers(&q);
    return rc;
}

/* What a request target asks for. */
struct target {
    enum dash_kind kind;
    enum format fmt;
    const char *name; /* within the path: the code or campaign, up to end */
    size_t len;
    int days_default, days_max;
};

/* The target of path: 1 when it is one, 0 for /privacy, -1 for nothing. */
static int parse_target(const char *path, struct target *t)
{
    static const struct {
        const char *prefix, *suffix; /* suffix NULL: the whole path is prefix */
        enum dash_kind kind;
        enum format fmt;
        int days_default, days_max;
    } routes[] = {
        {"/api/v1/campaigns", NULL, DASH_CAMPAIGNS, FMT_JSON, LIST_DAYS_DEFAULT,
         LIST_DAYS_MAX},
        {"/api/v1/campaigns/", "", DASH_CAMPAIGN, FMT_JSON, DAYS_DEFAULT,
         DASHBOARD_DAYS_MAX},
        {"/api/v1/links/", "", DASH_LINK, FMT_JSON, DAYS_DEFAULT, DASHBOARD_DAYS_MAX},
        {"/", NULL, DASH_CAMPAIGNS, FMT_HTML, LIST_DAYS_DEFAULT, LIST_DAYS_MAX},
        {"/campaigns/", "/links.csv", DASH_CAMPAIGN, FMT_CSV, 1, 1},
        {"/campaigns/", "", DASH_CAMPAIGN, FMT_HTML, PAGE_DAYS_DEFAULT,
         DASHBOARD_DAYS_MAX},
        {"/links/", "", DASH_LINK, FMT_HTML, PAGE_DAYS_DEFAULT, DASHBOARD_DAYS_MAX},
    };
    if (strcmp(path, "/privacy") == 0)
        return 0;
    size_t plen = strlen(path);
    for (size_t i = 0; i < sizeof(routes) / sizeof(*routes); i++) {
        size_t pre = strlen(routes[i].prefix);
        if (routes[i].suffix == NULL ? strcmp(path, routes[i].prefix) != 0
                                     : strncmp(path, routes[i].prefix, pre) != 0)
            continue;
        size_t suf = routes[i].suffix ? strlen(routes[i].suffix) : 0;
        if (routes[i].suffix != NULL &&
            (plen < pre + suf || strcmp(path + plen - suf, routes[i].suffix) != 0))
            continue;
        *t = (struct target){routes[i].kind,
                             routes[i].fmt,
                             path + pre,
                             routes[i].suffix ? plen - pre - suf : 0,
                             routes[i].days_default,
                             routes[i].days_max};
        return 1;
    }
    return -1;
}

/* Read what t names and answer when Redis has. */
static void start_read(struct dashboard *d, struct evhttp_request *req,
                       const struct target *t, const char *uri)
{
    char why[WHY_MAX], name[CAMPAIGN_MAX_LEN + 1] = "";
    int64_t first;
    int ndays;
    bool valid = t->kind == DASH_CAMPAIGNS ||
                 (t->kind == DASH_LINK ? code_valid(t->name, t->len)
                                       : code_campaign_valid(t->name, t->len));
    if (!valid) {
        send_error(req, 404, t->fmt,
                   t->kind == DASH_LINK ? "not a code" : "not a campaign name");
        return;
    }
    memcpy(name, t->name, t->len);
    name[t->len] = '\0';
    if (parse_range(req, t->days_default, t->days_max, &first, &ndays, why) != 0) {
        send_error(req, 400, t->fmt, why);
        return;
    }
    struct call *c = xcalloc(1, sizeof(*c));
    c->d = d;
    c->req = req;
    c->conn = evhttp_request_get_connection(req);
    c->fmt = t->fmt;
    util_strlcpy(c->uri, uri, sizeof(c->uri));
    d->jobs++;
    evhttp_connection_set_closecb(c->conn, on_close, c);
    dash_read_start(d->r, d->conf->key_prefix, d->conf->uniques, t->kind, name, first,
                    ndays, on_read, c);
}

static void send_privacy(struct evhttp_request *req)
{
    char *text;
    size_t len = 0;
    FILE *m = body_stream(req, &text, &len);
    if (m == NULL)
        return;
    dash_html_privacy(m);
    fclose(m);
    send_body(req, 200, FMT_HTML, text, len);
    free(text);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct dashboard *d = arg;
    const char *uri = evhttp_request_get_uri(req);
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct target t = {DASH_LINK, FMT_HTML, "", 0, 1, 1};
    int what = path != NULL ? parse_target(path, &t) : -1;
    enum format fmt = what > 0                                         ? t.fmt
                      : path != NULL && strncmp(path, "/api/", 5) == 0 ? FMT_JSON
                                                                       : FMT_HTML;

    enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
    if (cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Allow", "GET, HEAD");
        send_error(req, 405, fmt, "read-only: GET or HEAD");
        return;
    }
    if (!authorized(d, req)) {
        refuse(d, req, fmt);
        return;
    }
    if (path == NULL || strlen(uri) >= URI_MAX) {
        send_error(req, 400, fmt, "bad request target");
        return;
    }
    if (what < 0) {
        send_error(req, 404, fmt, "no such page");
        return;
    }
    if (what == 0) {
        send_privacy(req);
        return;
    }
    const struct cached *c = cache_find(d, uri);
    if (c != NULL) {
        send_body(req, c->status, c->fmt, c->body, c->len);
        return;
    }
    if (d->jobs >= DASHBOARD_JOBS) {
        evhttp_add_header(evhttp_request_get_output_headers(req), "Retry-After", "1");
        send_error(req, 503, fmt, "busy: too many requests reading Redis at once");
        return;
    }
    start_read(d, req, &t, uri);
}

struct dashboard *dashboard_new(struct event_base *base, const struct conf *conf,
                                char *err, size_t errsz)
{
    char *host = NULL;
    int port = 0;
    struct dashboard *d = xcalloc(1, sizeof(*d));
    d->conf = conf;
    if (conf->dashboard_password != NULL) {
        struct sha256_ctx s;
        sha256_init(&s);
        sha256_update(&s, strlen(conf->dashboard_password),
                      (const uint8_t *)conf->dashboard_password);
        sha256_digest(&s, sizeof(d->secret), d->secret);
        d->has_password = true;
    }
    d->http = evhttp_new(base);
    if (d->http == NULL ||
        conf_split_hostport(conf->dashboard_listen, &host, &port) != 0) {
        snprintf(err, errsz, "dashboard_listen: cannot set up %s",
                 conf->dashboard_listen);
        goto fail;
    }
    /* Every method reaches on_request, which answers 405 but to GET, HEAD. */
    evhttp_set_allowed_methods(
        d->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD | EVHTTP_REQ_POST | EVHTTP_REQ_PUT |
                     EVHTTP_REQ_DELETE | EVHTTP_REQ_OPTIONS | EVHTTP_REQ_PATCH);
    evhttp_set_timeout(d->http, 10);
    evhttp_set_max_headers_size(d->http, 8192);
    evhttp_set_max_body_size(d->http, 0);
    evhttp_set_gencb(d->http, on_request, d);
    if (evhttp_bind_socket(d->http, host, (ev_uint16_t)port) != 0) {
        snprintf(err, errsz, "dashboard_listen: cannot bind %s", conf->dashboard_listen);
        goto fail;
    }
    d->r = route_new(base, conf, &d->metrics, "dashboard", NULL, NULL);
    free(host);
    return d;
fail:
    free(host);
    dashboard_free(d);
    return NULL;
}

void dashboard_free(struct dashboard *d)
{
    if (d == NULL)
        return;
    route_free(d->r); /* reads in flight answer now, and are dropped */
    if (d->http)
        evhttp_free(d->http);
    for (size_t i = 0; i < DASHBOARD_CACHE; i++)
        free(d->cache[i].body);
    explicit_bzero(d->secret, sizeof(d->secret));
    free(d);
}
