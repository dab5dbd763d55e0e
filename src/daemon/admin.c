/* admin: the admin listener (evhttp): /healthz, /readyz, /metrics. Off the
 * hot path, so libevent's evhttp is good enough here. */
#include "admin.h"

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "metrics.h"
#include "util.h"

struct admin {
    struct evhttp *http;
    struct metrics *const *m;
    size_t n;
    const struct metrics_process *p;
};

static void send_text(struct evhttp_request *req, int code, const char *reason,
                      const char *type, struct evbuffer *body)
{
    struct evkeyvalq *h = evhttp_request_get_output_headers(req);
    evhttp_add_header(h, "Content-Type", type);
    evhttp_add_header(h, "Cache-Control", "no-store");
    evhttp_send_reply(req, code, reason, body);
}

static void on_request(struct evhttp_request *req, void *arg)
{
    struct admin *a = arg;
    const char *path = evhttp_uri_get_path(evhttp_request_get_evhttp_uri(req));
    struct evbuffer *body = evbuffer_new();

    if (body == NULL) {
        evhttp_send_error(req, 500, NULL);
        return;
    }
    if (path != NULL && strcmp(path, "/healthz") == 0) {
        evbuffer_add_printf(body, "ok\n");
        send_text(req, 200, "OK", "text/plain", body);
    } else if (path != NULL && strcmp(path, "/readyz") == 0) {
        /* Ready: every worker can both ask Redis and hear of link changes. */
        size_t up = 0, sub = 0;
        for (size_t i = 0; i < a->n; i++) {
            up += metric_get(&a->m[i]->redis_up) != 0;
            sub += metric_get(&a->m[i]->redis_subscribed) != 0;
        }
        uint64_t primaries, connected;
        metrics_primaries(a->m, a->n, &primaries, &connected);
        if (up == a->n && sub == a->n) {
            evbuffer_add_printf(body, "ready\nmode %s, %llu primaries, %llu connected\n",
                                a->p->redis_mode, (unsigned long long)primaries,
                                (unsigned long long)connected);
            send_text(req, 200, "OK", "text/plain", body);
        } else {
            evbuffer_add_printf(body,
                                "redis unreachable (%zu of %zu workers connected, %zu "
                                "subscribed to link changes)\n",
                                up, a->n, sub);
            send_text(req, 503, "Service Unavailable", "text/plain", body);
        }
    } else if (path != NULL && strcmp(path, "/metrics") == 0) {
        metrics_render(a->m, a->n, a->p, body);
        send_text(req, 200, "OK", "text/plain; version=0.0.4", body);
    } else {
        evbuffer_add_printf(body, "not found\n");
        send_text(req, 404, "Not Found", "text/plain", body);
    }
    evbuffer_free(body);
}

struct admin *admin_new(struct event_base *base, const char *addr,
                        struct metrics *const *m, size_t n,
                        const struct metrics_process *p, char *err, size_t errsz)
{
    char *host = NULL;
    int port;
    struct admin *a = xcalloc(1, sizeof(*a));
    a->m = m;
    a->n = n;
    a->p = p;
    a->http = evhttp_new(base);
    if (a->http == NULL || conf_split_hostport(addr, &host, &port) != 0) {
        snprintf(err, errsz, "cannot set up the admin listener on %s", addr);
        goto err;
    }
    evhttp_set_allowed_methods(a->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    evhttp_set_timeout(a->http, 10);
    evhttp_set_max_headers_size(a->http, 8192);
    evhttp_set_max_body_size(a->http, 0);
    evhttp_set_gencb(a->http, on_request, a);
    if (evhttp_bind_socket(a->http, host, (ev_uint16_t)port) != 0) {
        snprintf(err, errsz, "cannot listen on %s (admin_listen)", addr);
        goto err;
    }
    free(host);
    return a;
err:
    free(host);
    admin_free(a);
    return NULL;
}

void admin_free(struct admin *a)
{
    if (a == NULL)
        return;
    if (a->http)
        evhttp_free(a->http);
    free(a);
}
