/* server: start-up and shutdown of the whole daemon on the main thread. */
#include "server.h"

#include <errno.h>
#include <event2/event.h>
#include <event2/util.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admin.h"
#include "dashboard.h"
#include "burst.h"
#include "http.h"
#include "conf.h"
#include "log.h"
#include "metrics.h"
#include "paths.h"
#include "priv.h"
#include "lists.h"
#include "spool.h"
#include "util.h"
#include "worker.h"

#define SERVER_MAIN_NICE 10 /* the main thread's nice value, above the workers' */

struct server {
    struct conf *conf; /* the running settings: a reload changes its live keys */
    struct event_base *base;
    struct worker **workers;
    struct metrics **metrics;
    struct metrics_process process;
    int n;
    struct admin *admin;
    struct dashboard *dashboard; /* NULL when dashboard_listen = off */
    struct http_limit limit; /* max_connections over all workers */
    struct burst *burst;     /* the burst rule's client table, shared by workers */
    struct event *sigterm, *sigint, *sighup, *sigusr1;
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

static void on_restart_key(const char *section, const char *name, void *arg)
{
    (void)arg;
    log_warn(
        "event=reload_needs_restart key=%s.%s reason=\"changed in the file; applies at "
        "the next start\"",
        section, name);
}

/* Log each line of a conf's error text as its own event. Quotes become
 * apostrophes so the line stays one key=value pair. */
static void log_conf_errors(char *text)
{
    char *save = NULL;
    for (char *line = strtok_r(text, "\n", &save); line != NULL;
         line = strtok_r(NULL, "\n", &save)) {
        for (char *p = line; *p; p++)
            if (*p == '"')
                *p = '\'';
        log_error("event=reload_error error=\"%s\"", line);
    }
}

static void warn_permanent(const struct conf *c)
{
    if (conf_redirect_permanent(c))
        log_warn("event=permanent_redirects status=%d reason=\"browsers cache them; the "
                 "follows they skip are never counted\"",
                 c->redirect_status);
}

static void reload_failed(struct server *s, const char *why)
{
    metric_add(&s->process.reloads_failed, 1);
    metric_set(&s->process.last_reload_ok, 0);
    log_error("event=reload_refused reason=\"%s; the running settings stay\"", why);
}

/* SIGHUP: read the conf again. Everything is checked before anything is
 * applied: a broken file, bots list or log file changes nothing. */
static void on_hup(evutil_socket_t sig, short what, void *arg)
{
    struct server *s = arg;
    char *text = NULL, err[512];
    size_t textsz = 0;
    (void)sig;
    (void)what;

    log_info("event=reloading conf=%s", s->conf->path);
    FILE *errs = open_memstream(&text, &textsz);
    if (errs == NULL) {
        reload_failed(s, "out of memory");
        return;
    }
    struct conf *fresh = conf_load(s->conf->path, errs);
    fclose(errs);
    if (fresh == NULL) {
        log_conf_errors(text);
        free(text);
        reload_failed(s, "the configuration has errors");
        return;
    }
    free(text);
    struct lists **lists = xcalloc((size_t)s->n, sizeof(*lists));
    for (int i = 0; i < s->n; i++) {
        text = NULL;
        errs = open_memstream(&text, &textsz);
        lists[i] = errs != NULL ? lists_load(fresh, errs) : NULL;
        if (errs != NULL)
            fclose(errs);
        if (lists[i] == NULL) {
            char oom[] = "out of memory";
            log_conf_errors(text != NULL ? text : oom);
            free(text);
            goto refused;
        }
        free(text);
    }
    if (strcmp(fresh->log_file, s->conf->log_file) != 0 &&
        log_open(fresh->log_file, err, sizeof(err)) != 0) {
        log_error("event=reload_error error=\"log.file: %s\"", err);
        goto refused;
    }
    int restart = conf_restart_changes(s->conf, fresh, on_restart_key, NULL);
    if (fresh->redirect_status != s->conf->redirect_status)
        warn_permanent(fresh);
    conf_apply_reloadable(s->conf, fresh);
    log_set_level((enum log_level)s->conf->log_level);
    for (int i = 0; i < s->n; i++)
        worker_reload(s->workers[i], conf_dup(s->conf), lists[i]);
    free(lists);
    conf_free(fresh);
    metric_add(&s->process.reloads_ok, 1);
    metric_set(&s->process.last_reload_ok, 1);
    metric_set(&s->process.last_reload_time_s, util_wall_ms() / 1000);
    log_info("event=reloaded conf=%s needs_restart=%d", s->conf->path, restart);
    return;
refused:
    for (int i = 0; i < s->n; i++)
        lists_free(lists[i]);
    free(lists);
    conf_free(fresh);
    reload_failed(s, "see the errors above");
}

/* SIGUSR1: reopen the log file (logrotate has moved it). */
static void on_usr1(evutil_socket_t sig, short what, void *arg)
{
    char err[512];
    (void)sig;
    (void)what;
    (void)arg;
    if (log_reopen(err, sizeof(err)) != 0)
        log_error("event=log_reopen_failed reason=\"%s\"", err);
    else
        log_info("event=log_reopened file=%s", log_file()[0] ? log_file() : "stderr");
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

/* Request bytes (cookies, agents) pass through worker memory: no core dump
 * or same-user ptrace may read them, unless core_dumps asks for it to debug. */
static void set_dumpable(const struct conf *conf)
{
    if (prctl(PR_SET_DUMPABLE, conf->core_dumps ? 1 : 0, 0, 0, 0) != 0)
        log_warn("event=prctl_failed option=PR_SET_DUMPABLE errno=%d", errno);
}

/* Checks before anything is made: SIGPIPE, the public address, spool_dir.
 * 0, or -1 logged. */
static int start_checks(const struct conf *conf)
{
    char err[256];
    if (signal(SIGPIPE, SIG_IGN) == SIG_ERR) {
        log_error("event=start_failed reason=\"cannot ignore SIGPIPE\"");
        return -1;
    }
    if (probe_listen(conf->listen, err, sizeof(err)) != 0) {
        log_error("event=start_failed reason=\"%s\"", err);
        return -1;
    }
    /* Find out now, not at the shutdown that needs it, if the spool can be made. */
    if (spool_prepare(conf->spool_dir) != 0) {
        log_error("event=start_failed reason=\"cannot create spool_dir %s: %s\"",
                  conf->spool_dir, strerror(errno));
        return -1;
    }
    return 0;
}

/* The workers (bound, not started) and the admin listener. 0, or -1 logged. */
static int create_parts(struct server *s)
{
    char err[256];
    s->limit.max = s->conf->max_connections;
    s->n = s->conf->threads;
    s->workers = xcalloc((size_t)s->n, sizeof(*s->workers));
    s->metrics = xcalloc((size_t)s->n, sizeof(*s->metrics));
    s->burst = burst_new((size_t)s->conf->scanner_clients);
    for (int i = 0; i < s->n; i++) {
        s->workers[i] =
            worker_new(i, s->n, s->conf, &s->limit, s->burst, err, sizeof(err));
        if (s->workers[i] == NULL) {
            log_error("event=start_failed worker=%d reason=\"%s\"", i, err);
            return -1;
        }
        s->metrics[i] = worker_metrics(s->workers[i]);
    }
    if (strcmp(s->conf->admin_listen, "off") != 0) {
        s->admin = admin_new(s->base, s->conf->admin_listen, s->metrics, (size_t)s->n,
                             &s->process, err, sizeof(err));
        if (s->admin == NULL) {
            log_error("event=start_failed reason=\"%s\"", err);
            return -1;
        }
    }
    if (strcmp(s->conf->dashboard_listen, "off") != 0) {
        s->dashboard = dashboard_new(s->base, s->conf, err, sizeof(err));
        if (s->dashboard == NULL) {
            log_error("event=start_failed reason=\"%s\"", err);
            return -1;
        }
    }
    return 0;
}

/* Everything is bound: root is no longer needed. The spool directory (made
 * at start) must stay writable for the user: give it to them. 0, or -1
 * logged. */
static int drop_root(const struct conf *conf, const struct priv *priv)
{
    char err[256];
    if (priv->drop && chown(conf->spool_dir, priv->uid, priv->gid) != 0) {
        log_error("event=start_failed reason=\"cannot give spool_dir %s to %s: %s\"",
                  conf->spool_dir, priv->user, strerror(errno));
        return -1;
    }
    if (priv_drop(priv, err, sizeof(err)) != 0) {
        log_error("event=start_failed reason=\"%s\"", err);
        return -1;
    }
    if (priv->drop) {
        log_info("event=privileges_dropped user=%s uid=%u gid=%u", priv->user,
                 (unsigned)priv->uid, (unsigned)priv->gid);
        set_dumpable(conf); /* a change of user reset it to fs.suid_dumpable */
    }
    return 0;
}

static int install_signals(struct server *s)
{
    s->sigterm = evsignal_new(s->base, SIGTERM, on_stop_signal, s);
    s->sigint = evsignal_new(s->base, SIGINT, on_stop_signal, s);
    s->sighup = evsignal_new(s->base, SIGHUP, on_hup, s);
    s->sigusr1 = evsignal_new(s->base, SIGUSR1, on_usr1, s);
    if (s->sigterm == NULL || s->sigint == NULL || s->sighup == NULL ||
        s->sigusr1 == NULL || event_add(s->sigterm, NULL) != 0 ||
        event_add(s->sigint, NULL) != 0 || event_add(s->sighup, NULL) != 0 ||
        event_add(s->sigusr1, NULL) != 0) {
        log_error("event=start_failed reason=\"cannot install signal handlers\"");
        return -1;
    }
    return 0;
}

/* Workers start with the handled signals blocked (main blocked them), so
 * they all reach this thread; then it takes them: nothing else in its mask
 * is ever blocked (a parent's mask is not inherited). 0, or -1. */
static int start_workers(struct server *s)
{
    for (int i = 0; i < s->n; i++)
        if (worker_start(s->workers[i]) != 0) {
            for (int j = 0; j < i; j++)
                worker_stop(s->workers[j]);
            return -1;
        }
    sigset_t none;
    sigemptyset(&none);
    pthread_sigmask(SIG_SETMASK, &none, NULL);
    /* This thread's work (the dashboard, the admin listener, reloads) gives
     * way to the workers' on a busy CPU: this thread only, its nice value
     * raised after the workers were made (they keep their own). */
    if (setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), SERVER_MAIN_NICE) != 0)
        log_warn("event=main_thread_priority_unchanged errno=%d", errno);
    return 0;
}

/* Wait for the workers' ends and say what Redis did not take. */
static void join_workers(struct server *s, bool clean)
{
    unsigned long long lost = 0;
    for (int i = 0; i < s->n && s->workers[i] != NULL; i++) {
        worker_join(s->workers[i]);
        lost += worker_unflushed(s->workers[i]);
    }
    if (lost > 0)
        log_error(
            "event=shutdown_unflushed follows=%llu reason=\"Redis did not take them "
            "within shutdown_timeout_ms\"",
            lost);
    if (clean)
        log_info("event=stopped unflushed=%llu", lost);
}

static void free_parts(struct server *s)
{
    for (int i = s->n - 1; i >= 0; i--)
        worker_free(s->workers[i]);
    burst_free(s->burst);
    admin_free(s->admin);
    dashboard_free(s->dashboard);
    struct event *signals[] = {s->sigusr1, s->sighup, s->sigint, s->sigterm};
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        if (signals[i] != NULL)
            event_free(signals[i]);
    free(s->workers);
    free(s->metrics);
    event_base_free(s->base);
}

int server_run(struct conf *conf, const struct priv *priv)
{
    struct server s = {.conf = conf};
    s.process.version = paths_version;
    s.process.spool_dir = conf->spool_dir;
    s.process.redis_mode = conf->redis_mode == CONF_MODE_CLUSTER    ? "cluster"
                           : conf->redis_mode == CONF_MODE_SENTINEL ? "sentinel"
                                                                    : "single";
    s.process.start_time_s = util_wall_ms() / 1000;
    metric_set(&s.process.last_reload_ok, 1);
    metric_set(&s.process.last_reload_time_s, s.process.start_time_s);

    set_dumpable(conf);
    warn_permanent(conf);
    if (start_checks(conf) != 0)
        return 1;
    s.base = event_base_new();
    if (s.base == NULL) {
        log_error("event=start_failed reason=\"cannot create the main event base\"");
        return 1;
    }
    bool started = create_parts(&s) == 0 && drop_root(conf, priv) == 0 &&
                   install_signals(&s) == 0 && start_workers(&s) == 0;
    if (started) {
        log_info("event=started version=%s listen=%s admin=%s threads=%d redis=%s",
                 paths_version, conf->listen, conf->admin_listen, s.n,
                 conf->redis_unix_socket[0] ? conf->redis_unix_socket : conf->redis_host);
        event_base_dispatch(s.base);
    }
    join_workers(&s, started);
    free_parts(&s);
    return started ? 0 : 1;
}
