/* libFuzzer driver: the daemon's real HTTP input path (http.c, with
 * http-parser, privacy classification and the reply module), fed through a
 * socketpair. The input is what one client sends before closing its side;
 * a handler that redirects well-formed codes and answers 404 otherwise
 * stands in for the link lookup. Checked, independently of http.c:
 *   - the server closes the connection once the client has closed, within
 *     a bounded number of loop turns (no hang, no leak);
 *   - what it wrote parses completely as HTTP/1.1 responses (http-parser in
 *     response mode), at most one per request the input holds, plus one for
 *     a refused request;
 *   - every Location is the handler's, built only from a valid code: no
 *     request byte reaches a header any other way. */
#include <event2/event.h>
#include <http_parser.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include "code.h"
#include "conf.h"
#include "http.h"
#include "lists.h"
#include "metrics.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define TARGET "https://example.com/"

static void on_request(struct http_conn *c, const struct http_request *req, void *slot,
                       void *arg)
{
    char loc[128];
    (void)slot;
    (void)arg;
    size_t n = req->path_len - 1;
    if (n > 0 && code_valid(req->path + 1, n)) {
        int len = snprintf(loc, sizeof(loc), TARGET "%.*s", (int)n, req->path + 1);
        http_answer_redirect(c, 302, loc, (size_t)len, false);
    } else {
        http_answer_fixed(c, REPLY_NOT_FOUND);
    }
}

static void on_abort(struct http_conn *c, void *slot, void *arg)
{
    (void)c;
    (void)slot;
    (void)arg;
}

/* Responses in the output, and whether a header broke the rules. */
struct out_check {
    int responses;
    bool bodiless; /* the response being checked has no body */
    bool in_location;
    char field[32];
    size_t field_len;
};

static int out_field(http_parser *p, const char *at, size_t len)
{
    struct out_check *o = p->data;
    if (o->field_len + len > sizeof(o->field) - 1)
        abort(); /* hopcount writes no header name this long */
    memcpy(o->field + o->field_len, at, len);
    o->field_len += len;
    o->field[o->field_len] = '\0';
    return 0;
}

static int out_value(http_parser *p, const char *at, size_t len)
{
    struct out_check *o = p->data;
    if (o->field_len > 0) {
        o->in_location = strcmp(o->field, "Location") == 0;
        o->field_len = 0;
    }
    if (o->in_location) {
        /* In one piece: the whole response is given at once. */
        size_t t = strlen(TARGET);
        if (len <= t || memcmp(at, TARGET, t) != 0 || !code_valid(at + t, len - t))
            abort();
    }
    return 0;
}

static int out_headers_done(http_parser *p)
{
    struct out_check *o = p->data;
    return o->bodiless ? 1 : 0; /* 1: no body follows (an answer to HEAD) */
}

static int out_complete(http_parser *p)
{
    struct out_check *o = p->data;
    o->responses++;
    o->field_len = 0;
    o->in_location = false;
    return 0;
}

static int in_complete(http_parser *p)
{
    (*(int *)p->data)++;
    return 0;
}

/* Requests http-parser finds in the input, up to its first error. */
static int count_requests(const uint8_t *data, size_t size)
{
    static const http_parser_settings s = {.on_message_complete = in_complete};
    int n = 0;
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = &n;
    http_parser_execute(&p, &s, (const char *)data, size);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct event_base *base;
    static struct http_server *server;
    static struct metrics m;
    static struct http_limit limit = {.max = 16};
    static struct lists lists; /* no bots, scanners or trusted proxies */
    if (server == NULL) {
        char err[256];
        struct conf *conf = conf_new();
        /* A free loopback port (evutil refuses port 0); never connected to. */
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t sl = sizeof(sa);
        if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            getsockname(fd, (struct sockaddr *)&sa, &sl) != 0)
            abort();
        close(fd);
        char listen[32];
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", ntohs(sa.sin_port));
        free(conf->listen);
        conf->listen = strdup(listen);
        base = event_base_new();
        server = http_server_new(base, conf, &m, &lists, &limit, 64, on_request, on_abort,
                                 NULL, err, sizeof(err));
        if (server == NULL) {
            fprintf(stderr, "fuzz_request: %s\n", err);
            abort();
        }
    }
    int sv[2];
    if (size > 8192 || socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        return 0;
    if (write(sv[1], data, size) != (ssize_t)size)
        abort(); /* a socketpair buffer holds far more */
    shutdown(sv[1], SHUT_WR);
    if (http_server_adopt(server, sv[0]) != 0)
        abort();

    static char out[1 << 20];
    size_t got = 0;
    bool closed = false;
    for (int turn = 0; turn < 1000 && !(closed && atomic_load(&limit.conns) == 0);
         turn++) {
        event_base_loop(base, EVLOOP_NONBLOCK);
        ssize_t n = -1;
        while (!closed && (n = read(sv[1], out + got, sizeof(out) - got)) > 0)
            got += (size_t)n;
        closed = closed || n == 0;
    }
    close(sv[1]);
    if (!closed || atomic_load(&limit.conns) != 0)
        abort(); /* the server kept a connection its client had closed */

    if (getenv("FUZZ_DEBUG") != NULL) /* to see what a crashing input got */
        fwrite(out, 1, got, stderr);
    /* Response by response: one whose header block is followed by the next
     * response (or the end) has no body, as HEAD answers have none. */
    static const http_parser_settings s = {.on_header_field = out_field,
                                           .on_header_value = out_value,
                                           .on_headers_complete = out_headers_done,
                                           .on_message_complete = out_complete};
    struct out_check o = {0};
    for (size_t pos = 0; pos < got;) {
        const char *end = memmem(out + pos, got - pos, "\r\n\r\n", 4);
        if (end == NULL)
            abort(); /* a response without the end of its headers */
        size_t head = (size_t)(end + 4 - out);
        o.bodiless =
            head == got || (got - head >= 9 && memcmp(out + head, "HTTP/1.1 ", 9) == 0);
        size_t len = head - pos;
        if (!o.bodiless) {
            const char *next = memmem(out + head, got - head, "HTTP/1.1 ", 9);
            len = next != NULL ? (size_t)(next - out) - pos : got - pos;
        }
        http_parser p;
        http_parser_init(&p, HTTP_RESPONSE);
        p.data = &o;
        int before = o.responses;
        size_t n = http_parser_execute(&p, &s, out + pos, len);
        if (n != len || HTTP_PARSER_ERRNO(&p) != HPE_OK || o.responses != before + 1)
            abort(); /* not one well-formed HTTP/1.1 response */
        pos += len;
    }
    if (o.responses > count_requests(data, size) + 1)
        abort(); /* more answers than requests */
    return 0;
}
