/* server: start-up and shutdown of the whole daemon on the main thread. */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "conf.h"
#include "log.h"
#include "util.h"
#include "worker.h"

#ifndef HOPCOUNT_VERSION
#define HOPCOUNT_VERSION "0.1.0"
#endif

struct server {
    const struct conf *conf;
    struct event_base *base;
    struct worker **workers;
    struct metrics **metrics;
    int n;
    struct admin *admin;
    struct event *sigterm, *sigint, *sighup;
};

static void on_stop_signal(evutil_socket_t sig, short what, void *arg)
{
    struct server *s = arg;
    (void)what;
    log_info("event=stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
    for (int i = 0; i < s->n; i++)
        worker_stop(s->workers[i]);
    event_base_loopbreak(s->base);
}

static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    (void)sig;
    (void)what;
    (void)arg;
    log_warn(
        "event=sighup_ignored reason=\"live reload is not implemented; restart to apply "
        "conf changes\"");
}

/* Workers bind with SO_REUSEPORT, which would let them silently share the
 * port with a stray listener (another hopcount, say) and take half its
 * traffic. Bind once without it first: that fails while anyone listens. */
static int probe_listen(const char *addr, char *err, size_t errsz)
{
    struct sockaddr_storage ss;
    int len = sizeof(ss), one = 1;

    if (evutil_parse_sockaddr_port(addr, (struct sockaddr *)&ss, &len) != 0) {
        snprintf(err, errsz, "cannot parse listen address %s", addr);
        return -1;
    }
    int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errsz, "socket: %s", strerror(errno));
        return -1;
    }
    int rc = 0;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
        bind(fd, (struct sockaddr *)&ss, (socklen_t)len) != 0) {
        snprintf(err, errsz, "cannot bind %s: %s", addr, strerror(errno));
        rc = -1;
    }
    close(fd);
    return rc;
}

int server_run(const struct conf *conf)
{
    struct server s = {.conf = conf};
    char err[256];
    int status = 1;

    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        log_error("event=start_failed reason=\"cannot ignore SIGPIPE\"");
        return 1;
    }
    s.base = event_base_new();
    if (s.base == NULL) {
        log_error("event=start_failed reason=\"cannot create the main event base\"");
        return 1;
    }
    if (probe_listen(conf->listen, err, sizeof(err)) != 0) {
        log_error("event=start_failed reason=\"%s\"", err);
        event_base_free(s.base);
        return 1;
    }
    s.n = conf->threads;
    s.workers = xcalloc((size_t)s.n, sizeof(*s.workers));
    s.metrics = xcalloc((size_t)s.n, sizeof(*s.metrics));
    for (int i = 0; i < s.n; i++) {
        s.workers[i] = worker_new(i, s.n, conf, err, sizeof(err));
        if (s.workers[i] == NULL) {
            log_error("event=start_failed worker=%d reason=\"%s\"", i, err);
            goto out;
        }
        s.metrics[i] = worker_metrics(s.workers[i]);
    }
    if (strcmp(conf->admin_listen, "off") != 0) {
        s.admin = admin_new(s.base, conf->admin_listen, s.metrics, (size_t)s.n, err,
                            sizeof(err));
        if (s.admin == NULL) {
            log_error("event=start_failed reason=\"%s\"", err);
            goto out;
        }
    }
    s.sigterm = evsignal_new(s.base, SIGTERM, on_stop_signal, &s);
    s.sigint = evsignal_new(s.base, SIGINT, on_stop_signal, &s);
    s.sighup = evsignal_new(s.base, SIGHUP, on_hup, &s);
    if (s.sigterm == NULL || s.sigint == NULL || s.sighup == NULL ||
        event_add(s.sigterm, NULL) != 0 || event_add(s.sigint, NULL) != 0 ||
        event_add(s.sighup, NULL) != 0) {
        log_error("event=start_failed reason=\"cannot install signal handlers\"");
        goto out;
    }
    for (int i = 0; i < s.n; i++)
        if (worker_start(s.workers[i]) != 0) {
            for (int j = 0; j < i; j++)
                worker_stop(s.workers[j]);
            goto out;
        }
    log_info("event=started version=%s listen=%s admin=%s threads=%d redis=%s",
             HOPCOUNT_VERSION, conf->listen, conf->admin_listen, s.n,
             conf->redis_unix_socket[0] ? conf->redis_unix_socket : conf->redis_host);

    event_base_dispatch(s.base);
    status = 0;
out : {
    unsigned long long lost = 0;
    for (int i = 0; i < s.n && s.workers[i] != NULL; i++) {
        worker_join(s.workers[i]);
        lost += worker_unflushed(s.workers[i]);
    }
    if (lost > 0)
        log_error(
            "event=shutdown_unflushed follows=%llu reason=\"Redis did not take them "
            "within shutdown_timeout_ms\"",
            lost);
    if (status == 0)
        log_info("event=stopped unflushed=%llu", lost);
}
    for (int i = s.n - 1; i >= 0; i--)
        worker_free(s.workers[i]);
    admin_free(s.admin);
    if (s.sighup)
        event_free(s.sighup);
    if (s.sigint)
        event_free(s.sigint);
    if (s.sigterm)
        event_free(s.sigterm);
    free(s.workers);
    free(s.metrics);
    event_base_free(s.base);
    return status;
}
