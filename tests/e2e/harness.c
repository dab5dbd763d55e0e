/* harness: end-to-end test helpers (see harness.h). */
#include "harness.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

void h_sleep_ms(int ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

long long h_now_wall_s(void)
{
    return (long long)time(NULL);
}

long long h_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* n distinct free ports into out: each bound (so the kernel cannot hand
 * one out twice) until all are chosen. 0, or -1. */
static int free_ports(int *out, int n)
{
    int fds[8], rc = 0;
    if (n > 8)
        return -1;
    for (int i = 0; i < n; i++) {
        struct sockaddr_in sa = {.sin_family = AF_INET,
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
        socklen_t len = sizeof(sa);
        fds[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (fds[i] < 0 || bind(fds[i], (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
            getsockname(fds[i], (struct sockaddr *)&sa, &len) != 0)
            rc = -1;
        out[i] = ntohs(sa.sin_port);
    }
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    return rc;
}

int h_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0)
        return -1;
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

/* fork + exec argv with stdout/stderr to logpath (or /dev/null); the child
 * gets SIGKILL if this process dies, so nothing outlives a failed test. */
pid_t h_spawn(char *const argv[], const char *logpath)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent)
        _exit(127);
    int fd = open(logpath ? logpath : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd >= 0) {
        dup2(fd, 1);
        dup2(fd, 2);
        close(fd);
    }
    int null = open("/dev/null", O_RDONLY);
    if (null >= 0) {
        dup2(null, 0);
        close(null);
    }
    execvp(argv[0], argv);
    _exit(127);
}

redisContext *h_redis_connect(const struct h_redis *r)
{
    struct timeval tv = {.tv_sec = 5};
    redisContext *c = redisConnectWithTimeout("127.0.0.1", r->port, tv);
    if (c != NULL && c->err) {
        redisFree(c);
        return NULL;
    }
    if (c == NULL)
        return NULL;
    redisSetTimeout(c, tv);
    redisReply *rep = NULL;
    if (r->password[0] != '\0' &&
        ((rep = redisCommand(c, "AUTH %s", r->password)) == NULL ||
         rep->type == REDIS_REPLY_ERROR))
        goto fail;
    freeReplyObject(rep);
    rep = NULL;
    if (r->db != 0 && ((rep = redisCommand(c, "SELECT %d", r->db)) == NULL ||
                       rep->type == REDIS_REPLY_ERROR))
        goto fail;
    freeReplyObject(rep);
    return c;
fail:
    freeReplyObject(rep);
    redisFree(c);
    return NULL;
}

int h_redis_start(struct h_redis *r)
{
    char port[16];
    if (r->dir[0] == '\0') {
        snprintf(r->dir, sizeof(r->dir), "/tmp/hopcount-test-XXXXXX");
        if (mkdtemp(r->dir) == NULL)
            return -1;
        r->port = h_free_port();
    }
    snprintf(port, sizeof(port), "%d", r->port);
    char logpath[300];
    snprintf(logpath, sizeof(logpath), "%s/redis.log", r->dir);
    char sock[300];
    snprintf(sock, sizeof(sock), "%s/redis.sock", r->dir);
    char *argv[48] = {"redis-server",
                      "--port",
                      port,
                      "--bind",
                      "127.0.0.1",
                      "--dir",
                      r->dir,
                      "--save",
                      "",
                      "--appendonly",
                      r->aof ? "yes" : "no",
                      "--appendfsync",
                      "always",
                      "--daemonize",
                      "no"};
    int argc = 15;
    if (r->password[0] != '\0') {
        argv[argc++] = "--requirepass";
        argv[argc++] = r->password;
    }
    char nodes[320], bus[16], timeout[16], master[16];
    if (r->cluster) {
        snprintf(nodes, sizeof(nodes), "%s/nodes.conf", r->dir);
        if (r->bus_port == 0)
            r->bus_port = h_free_port(); /* kept across restarts, like the port */
        snprintf(bus, sizeof(bus), "%d", r->bus_port);
        snprintf(timeout, sizeof(timeout), "%d",
                 r->node_timeout_ms > 0 ? r->node_timeout_ms : 1000);
        argv[argc++] = "--cluster-enabled";
        argv[argc++] = "yes";
        argv[argc++] = "--cluster-config-file";
        argv[argc++] = nodes;
        argv[argc++] = "--cluster-port"; /* a free port: port + 10000 may not be */
        argv[argc++] = bus;
        argv[argc++] = "--cluster-node-timeout";
        argv[argc++] = timeout;
    }
    if (r->cluster || r->replica_of != 0) {
        /* Replicas sync at once (the default waits 5 s), and DEBUG works. */
        argv[argc++] = "--repl-diskless-sync-delay";
        argv[argc++] = "0";
        argv[argc++] = "--enable-debug-command";
        argv[argc++] = "local";
    }
    if (r->replica_of != 0) {
        snprintf(master, sizeof(master), "%d", r->replica_of);
        argv[argc++] = "--replicaof";
        argv[argc++] = "127.0.0.1";
        argv[argc++] = master;
    }
    if (r->unix_socket) {
        argv[argc++] = "--unixsocket";
        argv[argc++] = sock;
        argv[argc++] = "--unixsocketperm";
        argv[argc++] = "700";
    }
    argv[argc] = NULL;
    r->pid = h_spawn(argv, logpath);
    for (int i = 0; i < 200; i++) {
        redisContext *c = h_redis_connect(r);
        if (c != NULL) {
            redisReply *rep = redisCommand(c, "PING");
            bool ok = rep != NULL && rep->type == REDIS_REPLY_STATUS;
            freeReplyObject(rep);
            redisFree(c);
            if (ok)
                return 0;
        }
        h_sleep_ms(25);
    }
    return -1;
}

void h_redis_stop(struct h_redis *r, bool save)
{
    if (r->pid <= 0)
        return;
    redisContext *c = h_redis_connect(r);
    if (c != NULL) {
        redisReply *rep = redisCommand(c, save ? "SHUTDOWN SAVE" : "SHUTDOWN NOSAVE");
        freeReplyObject(rep);
        redisFree(c);
    }
    for (int i = 0; i < 200; i++) {
        if (waitpid(r->pid, NULL, WNOHANG) == r->pid) {
            r->pid = 0;
            return;
        }
        h_sleep_ms(25);
    }
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
}

long long h_redis_int(const struct h_redis *r, const char *fmt, ...)
{
    va_list ap;
    long long v = -1;
    redisContext *c = h_redis_connect(r);
    if (c == NULL)
        return -1;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(c, fmt, ap);
    va_end(ap);
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER)
        v = rep->integer;
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

long long h_hget(const struct h_redis *r, const char *key, const char *field)
{
    long long v = 0;
    redisContext *c = h_redis_connect(r);
    if (c == NULL)
        return -1;
    redisReply *rep = redisCommand(c, "HGET %s %s", key, field);
    if (rep != NULL && rep->type == REDIS_REPLY_STRING)
        v = atoll(rep->str);
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

long long h_cmd_calls(const struct h_redis *r, const char *name)
{
    long long v = 0;
    char pat[64];
    redisContext *c = h_redis_connect(r);
    if (c == NULL)
        return -1;
    redisReply *rep = redisCommand(c, "INFO commandstats");
    snprintf(pat, sizeof(pat), "cmdstat_%s:calls=", name);
    if (rep != NULL && rep->type == REDIS_REPLY_STRING) {
        const char *p = strstr(rep->str, pat);
        if (p != NULL)
            v = atoll(p + strlen(pat));
    }
    freeReplyObject(rep);
    redisFree(c);
    return v;
}

void h_link_add(const struct h_redis *r, const char *code, const char *url,
                const char *campaign)
{
    redisContext *c = h_redis_connect(r);
    if (c == NULL)
        return;
    redisReply *rep;
    if (campaign != NULL)
        rep = redisCommand(c, "HSET hc:link:%s url %s campaign %s created 1", code, url,
                           campaign);
    else
        rep = redisCommand(c, "HSET hc:link:%s url %s created 1", code, url);
    freeReplyObject(rep);
    rep = redisCommand(c, "PUBLISH hc:events %s", code);
    freeReplyObject(rep);
    redisFree(c);
}

/* Base conf lines; "section.key = value". extra lines with the same
 * section.key replace them, others are added. */
static const char *const base_conf[] = {
    "server.threads = 2",
    "server.allow_root = on", /* test machines often run as root */
    "server.read_timeout_ms = 3000",
    "tracking.flush_interval_ms = 100",
    "tracking.shutdown_timeout_ms = 3000",
    "redis.connect_timeout_ms = 500",
    "redis.command_timeout_ms = 1000",
    "links.negative_ttl_s = 30",
    "log.level = info",
    /* Tests of other features follow several links of a campaign from one
     * address within seconds, as a scanner does, and expect their counts at
     * once: the burst rule is on only where it is under test. */
    "tracking.scanner_burst = off",
};

static const char *const sections[] = {"server", "redis",     "tracking",
                                       "links",  "retention", "log"};

static bool same_key(const char *a, const char *b)
{
    size_t la = strcspn(a, " ="), lb = strcspn(b, " =");
    return la == lb && strncmp(a, b, la) == 0;
}

static int write_conf(struct h_daemon *d, const struct h_redis *r, const char *extra)
{
    char lines[64][600];
    int n = 0;
    char bots[512], scanners[512];

    if (realpath("conf/bots.txt", bots) == NULL ||
        realpath("conf/scanners.txt", scanners) == NULL)
        return -1;
    snprintf(lines[n++], 600, "server.listen = 127.0.0.1:%d", d->port);
    snprintf(lines[n++], 600, "server.admin_listen = 127.0.0.1:%d", d->admin_port);
    snprintf(lines[n++], 600, "server.dashboard_listen = 127.0.0.1:%d", d->dash_port);
    snprintf(lines[n++], 600, "redis.host = 127.0.0.1");
    snprintf(lines[n++], 600, "redis.port = %d", r->port);
    snprintf(lines[n++], 600, "tracking.bots_file = %s", bots);
    snprintf(lines[n++], 600, "tracking.scanners_file = %s", scanners);
    snprintf(lines[n++], 600, "tracking.spool_dir = %s/spool", r->dir);
    if (r->unix_socket)
        snprintf(lines[n++], 600, "redis.unix_socket = %s/redis.sock", r->dir);
    if (r->db != 0)
        snprintf(lines[n++], 600, "redis.db = %d", r->db);
    if (r->password[0] != '\0') {
        char pw[300];
        snprintf(pw, sizeof(pw), "%s/redis.password", r->dir);
        FILE *pf = fopen(pw, "w");
        if (pf == NULL)
            return -1;
        fprintf(pf, "%s\n", r->password);
        fclose(pf);
        snprintf(lines[n++], 600, "redis.password_file = %s", pw);
    }
    for (size_t i = 0; i < sizeof(base_conf) / sizeof(base_conf[0]); i++)
        snprintf(lines[n++], 600, "%s", base_conf[i]);
    if (extra != NULL) {
        char *copy = strdup(extra), *save = NULL;
        for (char *l = strtok_r(copy, "\n", &save); l && n < 64;
             l = strtok_r(NULL, "\n", &save)) {
            int j;
            for (j = 0; j < n; j++)
                if (same_key(lines[j], l))
                    break;
            snprintf(lines[j], 600, "%s", l);
            if (j == n)
                n++;
        }
        free(copy);
    }
    FILE *f = fopen(d->conf, "w");
    if (f == NULL)
        return -1;
    for (size_t s = 0; s < sizeof(sections) / sizeof(sections[0]); s++) {
        fprintf(f, "[%s]\n", sections[s]);
        size_t sl = strlen(sections[s]);
        for (int j = 0; j < n; j++)
            if (strncmp(lines[j], sections[s], sl) == 0 && lines[j][sl] == '.')
                fprintf(f, "%s\n", lines[j] + sl + 1);
    }
    fclose(f);
    return 0;
}

int h_daemon_conf(struct h_daemon *d, const struct h_redis *r, const char *extra)
{
    /* Three at once: picked one by one, two could be the same port (CI
     * met a dashboard on the admin listener's port). */
    int ports[3];
    if (free_ports(ports, 3) != 0)
        return -1;
    d->port = ports[0];
    d->exited = false;
    d->admin_port = ports[1];
    d->dash_port = ports[2];
    snprintf(d->conf, sizeof(d->conf), "%s/hopcount-%d.conf", r->dir, d->port);
    snprintf(d->log, sizeof(d->log), "%s/hopcount-%d.log", r->dir, d->port);
    return write_conf(d, r, extra);
}

int h_daemon_rewrite_conf(struct h_daemon *d, const struct h_redis *r, const char *extra)
{
    return write_conf(d, r, extra);
}

int h_daemon_start(struct h_daemon *d, const struct h_redis *r, const char *extra,
                   bool wait_ready)
{
    const char *bin = getenv("HOPCOUNT_BIN");
    if (bin == NULL)
        bin = "build/hopcount";
    /* A port found free can be taken before the daemon binds it (by another
     * test's client, say): then start again on fresh ports, twice at most. */
    for (int attempt = 0; attempt < 3; attempt++) {
        if (h_daemon_conf(d, r, extra) != 0)
            return -1;
        char *argv[] = {(char *)bin, "-c", d->conf, NULL};
        d->pid = h_spawn(argv, d->log);
        char resp[4096];
        for (int i = 0; i < 200; i++) {
            if (!h_daemon_alive(d))
                break;
            int st = h_get(d->admin_port, "GET", "/readyz", "", resp, sizeof(resp));
            if ((st == 200) || (!wait_ready && st > 0))
                return 0;
            h_sleep_ms(25);
        }
        if (h_daemon_alive(d))
            return -1; /* never became ready */
        const char *log = h_daemon_log(d);
        if (strstr(log, "cannot listen on") == NULL && strstr(log, "cannot bind") == NULL)
            return -1;
    }
    return -1;
}

static int decode(int status)
{
    return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool h_daemon_alive(struct h_daemon *d)
{
    int status;
    if (d->pid <= 0 || d->exited)
        return false;
    if (waitpid(d->pid, &status, WNOHANG) == d->pid) {
        d->exited = true;
        d->exit_status = decode(status);
        return false;
    }
    return true;
}

int h_daemon_stop(struct h_daemon *d, int sig)
{
    int status;
    if (d->pid <= 0)
        return -1;
    if (d->exited) {
        d->pid = 0;
        return d->exit_status;
    }
    kill(d->pid, sig);
    long long deadline = h_now_ms() + 15000;
    while (h_now_ms() < deadline) {
        pid_t p = waitpid(d->pid, &status, WNOHANG);
        if (p == d->pid) {
            d->pid = 0;
            return decode(status);
        }
        h_sleep_ms(10);
    }
    kill(d->pid, SIGKILL);
    waitpid(d->pid, &status, 0);
    d->pid = 0;
    return -1;
}

const char *h_daemon_log(const struct h_daemon *d)
{
    static char buf[1 << 16];
    FILE *f = fopen(d->log, "r");
    size_t n = 0;
    if (f != NULL) {
        n = fread(buf, 1, sizeof(buf) - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

int h_finish(struct h_redis *r, struct h_daemon *d)
{
    int rc = 0;
    if (d->pid > 0) {
        int st = h_daemon_stop(d, SIGTERM);
        if (st != 0) {
            fprintf(stderr, "daemon exit %d; log:\n%s\n", st, h_daemon_log(d));
            rc = -1;
        }
    }
    if (d->log[0] != '\0') {
        const char *log = h_daemon_log(d);
        if (strstr(log, "Sanitizer") != NULL || strstr(log, "runtime error") != NULL) {
            fprintf(stderr, "sanitizer report in the daemon's log:\n%s\n", log);
            rc = -1;
        }
    }
    if (r->pid > 0)
        kill(r->pid, SIGCONT);
    h_redis_stop(r, false);
    if (strncmp(r->dir, "/tmp/hopcount-test-", 19) == 0)
        h_rmdir(r->dir);
    return rc;
}

void h_rmdir(const char *dir)
{
    char cmd[400];
    if (dir[0] == '\0' || getenv("HOPCOUNT_TEST_KEEP") != NULL)
        return;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    if (system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
}

int h_connect(int port)
{
    return h_connect_from(port, NULL);
}

int h_connect_from(int port, const char *src)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 5};
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    if (src != NULL && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
                        bind(fd, (struct sockaddr *)&from, sizeof(from)) != 0)) {
        close(fd);
        return -1;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

int h_raw(int port, const char *req, size_t len, char *resp, size_t cap)
{
    return h_raw_from(port, NULL, req, len, resp, cap);
}

int h_raw_from(int port, const char *src, const char *req, size_t len, char *resp,
               size_t cap)
{
    int fd = h_connect_from(port, src);
    if (fd < 0)
        return -1;
    size_t off = 0;
    while (off < len) {
        ssize_t n = send(fd, req + off, len - off, MSG_NOSIGNAL);
        if (n <= 0)
            break; /* the server may close early (414): read what it said */
        off += (size_t)n;
    }
    size_t got = 0;
    while (got + 1 < cap) {
        ssize_t n = recv(fd, resp + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    resp[got] = '\0';
    close(fd);
    return (int)got;
}

int h_get(int port, const char *method, const char *path, const char *headers, char *resp,
          size_t cap)
{
    char req[16384];
    int n = snprintf(req, sizeof(req),
                     "%s %s HTTP/1.1\r\nHost: go.example\r\n%sConnection: close\r\n\r\n",
                     method, path, headers ? headers : "");
    if (n < 0 || (size_t)n >= sizeof(req))
        return -1;
    if (h_raw(port, req, (size_t)n, resp, cap) <= 0)
        return -1;
    return h_status(resp);
}

int h_read_response(int fd, bool head, char *resp, size_t cap)
{
    size_t got = 0;
    char *end = NULL;
    while (end == NULL) {
        if (got + 1 >= cap)
            return -1;
        ssize_t n = recv(fd, resp + got, 1, 0); /* byte by byte: never read past it */
        if (n <= 0)
            return -1;
        got++;
        resp[got] = '\0';
        if (got >= 4 && memcmp(resp + got - 4, "\r\n\r\n", 4) == 0)
            end = resp + got;
    }
    char v[32];
    size_t body = 0;
    if (!head && h_header(resp, "Content-Length", v, sizeof(v)) != NULL)
        body = (size_t)atol(v);
    while (body > 0 && got + 1 < cap) {
        ssize_t n = recv(fd, resp + got, body, 0);
        if (n <= 0)
            return -1;
        got += (size_t)n;
        body -= (size_t)n;
    }
    resp[got] = '\0';
    return h_status(resp);
}

int h_status(const char *resp)
{
    int st;
    if (sscanf(resp, "HTTP/1.%*d %d", &st) != 1)
        return -1;
    return st;
}

const char *h_header(const char *resp, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    const char *end = strstr(resp, "\r\n\r\n");
    for (const char *p = strstr(resp, "\r\n"); p != NULL && p < end;
         p = strstr(p + 2, "\r\n")) {
        const char *line = p + 2;
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            while (*v == ' ')
                v++;
            size_t l = strcspn(v, "\r\n");
            if (l >= cap)
                l = cap - 1;
            memcpy(buf, v, l);
            buf[l] = '\0';
            return buf;
        }
    }
    return NULL;
}

long long h_wait_hget(const struct h_redis *r, const char *key, const char *field,
                      long long want, int ms)
{
    long long deadline = h_now_ms() + ms, v = -1;
    do {
        v = h_hget(r, key, field);
        if (v == want)
            return v;
        h_sleep_ms(20);
    } while (h_now_ms() < deadline);
    return v;
}

void h_fields(char *day, char *hour, char *botday, size_t cap)
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(day, cap, "d:%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
    snprintf(hour, cap, "h:%04d-%02d-%02dT%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour);
    snprintf(botday, cap, "bot:d:%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday);
}

const char *h_read_file(const char *path, char *buf, size_t cap)
{
    size_t n = 0;
    FILE *f = fopen(path, "r");
    if (f != NULL) {
        n = fread(buf, 1, cap - 1, f);
        fclose(f);
    }
    buf[n] = '\0';
    return buf;
}

int h_run(char *const argv[], const char *input, char *out, size_t outcap, char *err,
          size_t errcap)
{
    char opath[] = "/tmp/hopcount-run-out-XXXXXX",
         epath[] = "/tmp/hopcount-run-err-XXXXXX";
    int ofd = mkstemp(opath), efd = mkstemp(epath), status;
    if (ofd < 0 || efd < 0)
        return -1;
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        int in = open(input ? input : "/dev/null", O_RDONLY);
        if (in < 0)
            _exit(126);
        dup2(in, 0);
        dup2(ofd, 1);
        dup2(efd, 2);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(ofd);
    close(efd);
    int rc = -1;
    long long deadline = h_now_ms() + 120000;
    while (pid > 0 && h_now_ms() < deadline) {
        pid_t p = waitpid(pid, &status, WNOHANG);
        if (p == pid) {
            rc = decode(status);
            break;
        }
        h_sleep_ms(2);
    }
    if (rc == -1 && pid > 0) {
        kill(pid, SIGKILL);
        waitpid(pid, &status, 0);
    }
    h_read_file(opath, out, outcap);
    h_read_file(epath, err, errcap);
    unlink(opath);
    unlink(epath);
    return rc;
}

long long h_metric(const struct h_daemon *d, const char *name)
{
    static char text[1 << 16];
    if (h_get(d->admin_port, "GET", "/metrics", "", text, sizeof(text)) != 200)
        return -1;
    size_t n = strlen(name);
    for (const char *p = strstr(text, "\r\n\r\n"); p != NULL; p = strchr(p + 1, '\n')) {
        const char *line = p + 1;
        if (*p == '\r')
            line = p + 4;
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            return atoll(line + n + 1);
    }
    return -1;
}

int h_wait_ready(const struct h_daemon *d, int want, int ms)
{
    char resp[4096];
    long long deadline = h_now_ms() + ms;
    int st;
    while ((st = h_get(d->admin_port, "GET", "/readyz", "", resp, sizeof(resp))) !=
               want &&
           h_now_ms() < deadline)
        h_sleep_ms(25);
    return st;
}

bool h_wait_log(const struct h_daemon *d, const char *needle, int ms)
{
    long long deadline = h_now_ms() + ms;
    while (strstr(h_daemon_log(d), needle) == NULL) {
        if (h_now_ms() >= deadline)
            return false;
        h_sleep_ms(20);
    }
    return true;
}

int h_log_count(const struct h_daemon *d, const char *needle)
{
    int n = 0;
    for (const char *p = h_daemon_log(d); (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

bool h_wait_flushed(const struct h_daemon *d, int ms)
{
    long long deadline = h_now_ms() + ms;
    for (;;) {
        long long counted = h_metric(d, "hopcount_requests_total{outcome=\"tracked\"}") +
                            h_metric(d, "hopcount_requests_total{outcome=\"bot\"}") +
                            h_metric(d, "hopcount_requests_total{outcome=\"scanner\"}");
        /* docs/metrics.md's "counted but not yet in Redis", at zero. */
        long long moved = h_metric(d, "hopcount_follows_replayed_total") -
                          h_metric(d, "hopcount_follows_spooled_total");
        long long delivered = h_metric(d, "hopcount_follows_delivered_total");
        /* Delivered counts each follow once, by its link's key; its
         * campaign's key may be in a later batch (in a cluster, another
         * slot's stream): nothing pending means that one landed too. */
        if (counted >= 0 && delivered == counted + moved &&
            h_metric(d, "hopcount_pending_keys") == 0)
            return true;
        if (h_now_ms() >= deadline)
            return false;
        h_sleep_ms(10);
    }
}

int h_fake_clock(long long offset_s)
{
    static const char so[] = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";
    if (offset_s == 0) {
        unsetenv("LD_PRELOAD");
        unsetenv("FAKETIME");
        return 0;
    }
    if (access(so, R_OK) != 0)
        return -1;
    char off[32];
    snprintf(off, sizeof(off), "%+lld", offset_s);
    setenv("FAKETIME", off, 1);
    setenv("FAKETIME_DONT_FAKE_MONOTONIC", "1", 1);
    setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
    return setenv("LD_PRELOAD", so, 1);
}

int h_preload_shim(bool on)
{
    if (!on) {
        unsetenv("LD_PRELOAD");
        return 0;
    }
    const char *shim = getenv("HC_FAULT_SHIM");
    char so[4096];
    if (realpath(shim ? shim : "build/tests/fault_shim.so", so) == NULL)
        return -1;
    setenv("ASAN_OPTIONS", "verify_asan_link_order=0", 1);
    return setenv("LD_PRELOAD", so, 1);
}

int h_hopctl_v(const char *conf, const char *input, char *out, size_t outcap, char *err,
               size_t errcap, va_list ap)
{
    const char *bin = getenv("HOPCTL_BIN");
    char *argv[32];
    int n = 0;
    argv[n++] = (char *)(bin ? bin : "build/hopctl");
    argv[n++] = "-c";
    argv[n++] = (char *)conf;
    for (const char *a; n < 31 && (a = va_arg(ap, const char *)) != NULL;)
        argv[n++] = (char *)a;
    argv[n] = NULL;
    return h_run(argv, input, out, outcap, err, errcap);
}

int h_hopctl(const char *conf, const char *input, char *out, size_t outcap, char *err,
             size_t errcap, ...)
{
    va_list ap;
    va_start(ap, errcap);
    int rc = h_hopctl_v(conf, input, out, outcap, err, errcap, ap);
    va_end(ap);
    return rc;
}

/* One load client: writes the number of 302s it received to fd. A request
 * whose answer never came is not counted here, and is never counted by
 * hopcount either unless hopcount answered it. */
static void load_client(int port, const char *prefix, int ncodes, int ms, int fd)
{
    char req[256], resp[4096];
    long long redirects = 0, deadline = h_now_ms() + ms;
    int conn = -1;
    for (int i = 0; i < 200000 && h_now_ms() < deadline; i++) {
        if (conn < 0 && (conn = h_connect(port)) < 0) {
            h_sleep_ms(20);
            continue;
        }
        int n = snprintf(req, sizeof(req),
                         "GET /%s%02d HTTP/1.1\r\nHost: x\r\n"
                         "User-Agent: Mozilla/5.0 load\r\n\r\n",
                         prefix, i % ncodes);
        if (send(conn, req, (size_t)n, MSG_NOSIGNAL) != n) {
            close(conn);
            conn = -1;
            continue;
        }
        int st = h_read_response(conn, false, resp, sizeof(resp));
        if (st == 302)
            redirects++;
        if (st < 0 || strstr(resp, "Connection: close") != NULL) {
            close(conn);
            conn = -1;
        }
    }
    if (conn >= 0)
        close(conn);
    if (write(fd, &redirects, sizeof(redirects)) != (ssize_t)sizeof(redirects))
        _exit(2);
    _exit(0);
}

void h_load_start(struct h_load *l, const int *ports, int nports, int clients,
                  const char *prefix, int ncodes, int ms)
{
    l->n = clients < H_LOAD_MAX ? clients : H_LOAD_MAX;
    for (int c = 0; c < l->n; c++) {
        int p[2];
        if (pipe(p) != 0)
            abort();
        l->pid[c] = fork();
        if (l->pid[c] == 0) {
            close(p[0]);
            /* Below the servers: on two cores a load that starves them
             * tests the scheduler (Sentinel enters TILT mode when its
             * timer runs 2 s late), not hopcount. */
            if (nice(10) < 0)
                _exit(2);
            load_client(ports[c % nports], prefix, ncodes, ms, p[1]);
        }
        close(p[1]);
        l->fd[c] = p[0];
    }
}

long long h_load_wait(struct h_load *l)
{
    long long sum = 0;
    for (int c = 0; c < l->n; c++) {
        long long n = 0;
        if (read(l->fd[c], &n, sizeof(n)) != (ssize_t)sizeof(n))
            n = 0;
        close(l->fd[c]);
        waitpid(l->pid[c], NULL, 0);
        sum += n;
    }
    l->n = 0;
    return sum;
}

int h_fixture_start(struct h_redis *r, struct h_daemon *d, const char *extra,
                    void (*seed)(const struct h_redis *r))
{
    if (h_redis_start(r) != 0)
        return -1;
    if (seed != NULL)
        seed(r);
    return h_fixture_daemon(r, d, extra);
}

int h_fixture_daemon(const struct h_redis *r, struct h_daemon *d, const char *extra)
{
    if (h_daemon_start(d, r, extra, true) == 0)
        return 0;
    fprintf(stderr, "daemon did not start:\n%s\n", h_daemon_log(d));
    return -1;
}

int h_fixture_end(struct h_redis *r, struct h_daemon *d, void *fx)
{
    int rc = h_finish(r, d);
    free(fx);
    return rc;
}

int h_reload(const struct h_daemon *d, const char *result)
{
    char name[128];
    snprintf(name, sizeof(name), "hopcount_config_reloads_total{result=\"%s\"}", result);
    long long before = h_metric(d, name);
    int applied = h_log_count(d, "event=worker_reloaded");
    if (kill(d->pid, SIGHUP) != 0)
        return -1;
    for (int i = 0; i < 200 && h_metric(d, name) == before; i++)
        h_sleep_ms(10);
    if (h_metric(d, name) != before + 1)
        return -1;
    if (strcmp(result, "success") != 0)
        return 0;
    /* Every worker applies it on its own thread, and says so. */
    const char *started = strstr(h_daemon_log(d), " threads=");
    if (started == NULL)
        return -1;
    int threads = atoi(started + strlen(" threads="));
    long long deadline = h_now_ms() + 3000;
    while (h_log_count(d, "event=worker_reloaded") < applied + threads &&
           h_now_ms() < deadline)
        h_sleep_ms(5);
    return h_log_count(d, "event=worker_reloaded") == applied + threads ? 0 : -1;
}
