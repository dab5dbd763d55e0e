/* The abuse suite (run by make test-faults): a privacy canary, a flood of
 * random codes, and slow clients, against the real daemon and Redis. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../e2e/harness.h"

#define RESP 65536

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char resp[RESP];
};

static void seed(const struct h_redis *r)
{
    h_link_add(r, "spring24", "https://example.com/spring", "spring");
    h_link_add(r, "solo", "https://example.org/solo", NULL);
}

static int start_with(void **state, const char *extra)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    return h_fixture_start(&f->r, &f->d, extra, seed);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

static int setup_canary(void **state)
{
    return start_with(state, "log.access_log = on\nlog.level = debug");
}

/* Everything Redis holds, as text: every key with its type and contents,
 * but for keys containing `except` (NULL: none). */
static char *dump_redis(const struct h_redis *r, const char *except)
{
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    redisContext *c = h_redis_connect(r);
    redisReply *keys = redisCommand(c, "KEYS *");
    for (size_t i = 0; keys != NULL && i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        if (except != NULL && strstr(k, except) != NULL)
            continue;
        redisReply *t = redisCommand(c, "TYPE %s", k);
        fprintf(m, "key %s type %s\n", k, t->str);
        const char *cmd = strcmp(t->str, "hash") == 0     ? "HGETALL %s"
                          : strcmp(t->str, "set") == 0    ? "SMEMBERS %s"
                          : strcmp(t->str, "string") == 0 ? "GET %s"
                                                          : NULL;
        freeReplyObject(t);
        if (cmd == NULL)
            continue;
        redisReply *v = redisCommand(c, cmd, k);
        if (v->type == REDIS_REPLY_STRING)
            fprintf(m, "  %s\n", v->str);
        for (size_t j = 0; j < v->elements; j++)
            fprintf(m, "  %s\n", v->element[j]->str);
        freeReplyObject(v);
    }
    freeReplyObject(keys);
    redisFree(c);
    fclose(m);
    return out;
}

/* A GET from a chosen loopback source address. */
static int get_from(const char *src, int port, const char *path, const char *headers,
                    char *resp, size_t cap)
{
    struct sockaddr_in me = {.sin_family = AF_INET};
    struct sockaddr_in to = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    struct timeval tv = {.tv_sec = 5};
    char req[2048];
    inet_pton(AF_INET, src, &me.sin_addr);
    inet_pton(AF_INET, "127.0.0.1", &to.sin_addr);
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    if (fd < 0 || bind(fd, (struct sockaddr *)&me, sizeof(me)) != 0 ||
        connect(fd, (struct sockaddr *)&to, sizeof(to)) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n", path,
                     headers);
    size_t got = 0;
    if (send(fd, req, (size_t)n, 0) == n) {
        ssize_t r;
        while (got + 1 < cap && (r = recv(fd, resp + got, cap - 1 - got, 0)) > 0)
            got += (size_t)r;
    }
    resp[got] = '\0';
    close(fd);
    return h_status(resp);
}

/* Distinctive agents, referrers, cookies and forwarded addresses: none of
 * them, nor any client address, may show up in Redis, the logs or the
 * metrics. */
static void test_privacy_canary(void **state)
{
    struct fx *f = *state;
    static const char *canaries[] = {
        "CanaryUA-7f3a9", "canary-ref.example", "canarycookie",      "7f3a9",
        "203.0.113.77",   "198.51.100.23",      "2001:db8:cafe::77", "127.0.0.2",
        "session=s3cr3t"};
    const char *headers[] = {
        "User-Agent: Mozilla/5.0 CanaryUA-7f3a9\r\nReferer: https://canary-ref.example/"
        "p?id=7f3a9\r\nCookie: canarycookie=7f3a9; session=s3cr3t\r\nX-Forwarded-For: "
        "203.0.113.77, 198.51.100.23\r\nX-Real-IP: 2001:db8:cafe::77\r\n",
        "User-Agent: CanaryUA-7f3a9 Googlebot\r\nReferer: "
        "https://canary-ref.example/\r\n",
        "DNT: 1\r\nUser-Agent: CanaryUA-7f3a9\r\nCookie: canarycookie=1\r\n",
        "Sec-Purpose: prefetch\r\nUser-Agent: CanaryUA-7f3a9\r\n",
    };
    const char *paths[] = {"/spring24", "/solo", "/nosuch7f3a9", "/spring24?ref=7f3a9",
                           "/bad.7f3a9"};
    /* From 127.0.0.2, so that the client's address is distinctive. */
    for (size_t h = 0; h < sizeof(headers) / sizeof(headers[0]); h++)
        for (size_t p = 0; p < sizeof(paths) / sizeof(paths[0]); p++)
            assert_true(get_from("127.0.0.2", f->d.port, paths[p], headers[h], f->resp,
                                 RESP) > 0);
    /* A malformed request carrying them too. */
    const char *bad =
        "GET /spring24 HTTP/1.1\r\nUser-Agent: CanaryUA-7f3a9\r\nBad Header\r\n\r\n";
    h_raw(f->d.port, bad, strlen(bad), f->resp, RESP);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:spring24", "bot", 2, 3000), 2);
    assert_true(h_wait_flushed(&f->d, 3000));

    char *redis = dump_redis(&f->r, NULL);
    assert_int_equal(h_get(f->d.admin_port, "GET", "/metrics", "", f->resp, RESP), 200);
    const char *log = h_daemon_log(&f->d);
    assert_non_null(strstr(log, "event=access")); /* the access log was on */
    for (size_t i = 0; i < sizeof(canaries) / sizeof(canaries[0]); i++) {
        if (strstr(redis, canaries[i]) != NULL)
            fail_msg("Redis holds \"%s\":\n%s", canaries[i], redis);
        if (strstr(log, canaries[i]) != NULL)
            fail_msg("the log holds \"%s\":\n%s", canaries[i], log);
        if (strstr(f->resp, canaries[i]) != NULL)
            fail_msg("the metrics hold \"%s\"", canaries[i]);
    }
    free(redis);
}

/* Text of every spool file in dir, concatenated. */
static char *read_spool(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "cat '%s'/*.spool 2>/dev/null", dir);
    char *out = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&out, &len);
    FILE *p = popen(cmd, "r");
    char buf[4096];
    size_t n;
    while (p != NULL && (n = fread(buf, 1, sizeof(buf), p)) > 0)
        fwrite(buf, 1, n, m);
    if (p != NULL)
        pclose(p);
    fclose(m);
    return out;
}

/* A 64-bit hash written as text (16 hex digits on their own) anywhere but
 * in a writer id (24 hex digits) or a spool file's own checksum line: the
 * burst table's client hashes and keys must never be written out. */
static const char *stray_hash(const char *text)
{
    const char *hex = "0123456789abcdefABCDEF";
    for (const char *p = text; *p != '\0';) {
        size_t n = strspn(p, hex);
        if (n == 16) {
            const char *line = p;
            while (line > text && line[-1] != '\n')
                line--;
            if (strncmp(line, "end ", 4) != 0)
                return p;
        }
        p += n > 0 ? n : 1;
    }
    return NULL;
}

static int setup_canary_scanners(void **state)
{
    char path[400], extra[900];
    snprintf(path, sizeof(path), "/tmp/hopcount-canary-scanners-%d.txt", (int)getpid());
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return -1;
    fputs("203.0.113.0/24\n", f);
    fclose(f);
    snprintf(extra, sizeof(extra),
             "log.access_log = on\nlog.level = debug\ntracking.scanner_burst = on\n"
             "tracking.scanner_window_s = 60\ntracking.trusted_proxies = 127.0.0.2\n"
             "tracking.scanners_file = %s\ntracking.shutdown_timeout_ms = 1500\n"
             "tracking.uniques = on",
             path);
    int rc = start_with(state, extra);
    unlink(path); /* read at start; a reload would miss it, and none comes */
    return rc;
}

/* The scan class's and unique followers' inputs — client addresses
 * (forwarded or not), agents — and the burst table's hashes appear in no
 * Redis key or value, log line, metric or spool file; held follows and
 * their HyperLogLog cells reach the spool when Redis is away. The day's
 * key for unique followers lives in Redis only, until a minute after its
 * day: never in the log, the metrics or the spool. */
static void test_privacy_canary_scanners(void **state)
{
    struct fx *f = *state;
    long long deadline = h_now_ms() + 5000;
    while (h_metric(&f->d, "hopcount_uniques_keyed_workers") != 2 &&
           h_now_ms() < deadline)
        h_sleep_ms(20);
    char date[16], daykey[17] = "";
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(date, sizeof(date), "%Y-%m-%d", &tm);
    redisContext *c = h_redis_connect(&f->r);
    redisReply *k = redisCommand(c, "GET hc:uniqkey:%s", date);
    assert_int_equal(k->type, REDIS_REPLY_STRING);
    snprintf(daykey, sizeof(daykey), "%s", k->str);
    freeReplyObject(k);
    redisFree(c);
    assert_int_equal(h_redis_int(&f->r, "EXPIRETIME hc:uniqkey:%s", date),
                     ((long long)now / 86400 + 1) * 86400 + 60);
    static const char *canaries[] = {"CanaryUA-7f3a9", "7f3a9",     "203.0.113.77",
                                     "198.51.100.23",  "127.0.0.2", "127.0.0.9",
                                     "198.51.100.24",  "canary-ref"};
    const char *ua = "User-Agent: Mozilla/5.0 CanaryUA-7f3a9\r\nReferer: "
                     "https://canary-ref.example/\r\n";
    char h[600];
    /* A scanner network behind the trusted proxy (counted at once), a
     * person behind it and a direct client (held for their window). */
    snprintf(h, sizeof(h), "%sX-Forwarded-For: 203.0.113.77\r\n", ua);
    assert_int_equal(get_from("127.0.0.2", f->d.port, "/spring24", h, f->resp, RESP),
                     302);
    snprintf(h, sizeof(h), "%sX-Forwarded-For: 198.51.100.23\r\n", ua);
    assert_int_equal(get_from("127.0.0.2", f->d.port, "/spring24", h, f->resp, RESP),
                     302);
    snprintf(h, sizeof(h), "%sX-Forwarded-For: 198.51.100.24\r\n", ua);
    assert_int_equal(get_from("127.0.0.2", f->d.port, "/solo", h, f->resp, RESP), 302);
    assert_int_equal(get_from("127.0.0.9", f->d.port, "/solo", ua, f->resp, RESP), 302);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:spring24", "scan", 1, 3000), 1);
    assert_int_equal(h_get(f->d.admin_port, "GET", "/metrics", "", f->resp, RESP), 200);
    char *metrics = strdup(f->resp);
    assert_non_null(strstr(metrics, "hopcount_burst_held 3\n"));

    /* Redis frozen: the held follows are decided at SIGTERM and, Redis not
     * answering, written to the spool. */
    assert_int_equal(kill(f->r.pid, SIGSTOP), 0);
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 0);
    assert_int_equal(kill(f->r.pid, SIGCONT), 0);

    char dir[400];
    snprintf(dir, sizeof(dir), "%s/spool", f->r.dir);
    char *spool = read_spool(dir);
    assert_non_null(strstr(spool, "L ")); /* the held follows were spooled */
    assert_non_null(strstr(spool, "\nU ")); /* and their followers' cells */
    assert_non_null(strstr(spool, "\nV "));
    char *redis = dump_redis(&f->r, ":uniqkey:");
    const char *log = h_daemon_log(&f->d);
    const char *where[] = {"Redis", "the log", "the metrics", "the spool"};
    const char *texts[] = {redis, log, metrics, spool};
    for (size_t w = 0; w < 4; w++) {
        for (size_t i = 0; i < sizeof(canaries) / sizeof(canaries[0]); i++)
            if (strstr(texts[w], canaries[i]) != NULL)
                fail_msg("%s holds \"%s\":\n%s", where[w], canaries[i], texts[w]);
        const char *stray = stray_hash(texts[w]);
        if (stray != NULL)
            fail_msg("%s holds a 64-bit hash: \"%.40s\"", where[w], stray);
        if (w > 0 && strstr(texts[w], daykey) != NULL)
            fail_msg("%s holds the day's key for unique followers", where[w]);
    }
    free(redis);
    free(spool);
    free(metrics);
}

static int setup_flood(void **state)
{
    return start_with(state, "server.threads = 1\nlinks.negative_ttl_s = 60");
}

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

/* Send n GETs of /x<i> for i in [from, from + n), pipelined 100 at a time
 * on one connection; returns how many 404s came back. */
static long flood(int port, long from, long n)
{
    char req[100 * 64], resp[4096];
    long got = 0;
    int fd = h_connect(port);
    if (fd < 0)
        return -1;
    for (long i = 0; i < n; i += 100) {
        size_t len = 0;
        long k = n - i < 100 ? n - i : 100;
        for (long j = 0; j < k; j++)
            len +=
                (size_t)snprintf(req + len, sizeof(req) - len,
                                 "GET /x%ld HTTP/1.1\r\nHost: f\r\n\r\n", from + i + j);
        if (send(fd, req, len, MSG_NOSIGNAL) != (ssize_t)len)
            break;
        for (long j = 0; j < k; j++)
            if (h_read_response(fd, false, resp, sizeof(resp)) == 404)
                got++;
    }
    close(fd);
    return got;
}

/* 100,000 distinct unknown codes: each costs Redis one lookup at most within
 * negative_ttl_s, none creates a key, and memory stays bounded. */
static void test_random_code_flood(void **state)
{
    struct fx *f = *state;
    long long keys = h_redis_int(&f->r, "DBSIZE");
    long long hmget = h_cmd_calls(&f->r, "hmget");
    long rss0 = rss_kb(f->d.pid);
    long long t0 = h_now_ms();
    assert_int_equal(flood(f->d.port, 0, 100000), 100000);
    long long t1 = h_now_ms();
    long long lookups = h_cmd_calls(&f->r, "hmget") - hmget;
    /* Again: every one is negatively cached now. */
    assert_int_equal(flood(f->d.port, 0, 100000), 100000);
    long long again = h_cmd_calls(&f->r, "hmget") - hmget - lookups;
    long rss1 = rss_kb(f->d.pid);
    printf(
        "  flood: 100000 codes in %lld ms, %lld lookups, then %lld on the second pass; "
        "RSS %ld -> %ld kB\n",
        t1 - t0, lookups, again, rss0, rss1);
    assert_int_equal(lookups, 100000); /* each unknown code once: no more, no fewer */
    assert_int_equal(again, 0);
    assert_int_equal(h_redis_int(&f->r, "DBSIZE"), keys);
    assert_true(rss1 - rss0 < 64 * 1024); /* 100,000 negative entries: well under 64 MB */
    assert_int_equal(h_get(f->d.port, "GET", "/solo", "", f->resp, RESP), 302);
}

static int setup_slow(void **state)
{
    /* 1,000 slow clients need more descriptors than the usual 1024. */
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096) {
        rl.rlim_cur = rl.rlim_max < 4096 ? rl.rlim_max : 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    return start_with(state, "server.threads = 1\nserver.read_timeout_ms = 3000\n"
                             "server.max_connections = 1100");
}

/* Requests per second over ms on one keep-alive connection, 16 pipelined
 * at a time, so that the figure is the server's, not this client's. Every
 * answer must be a 302 (which has no body: one blank line ends each). */
static double throughput(int port, int ms)
{
    enum { DEPTH = 16 };
    char reqs[DEPTH * 40], buf[65536];
    const char *req = "GET /solo HTTP/1.1\r\nHost: x\r\n\r\n";
    size_t rl = strlen(req);
    for (int i = 0; i < DEPTH; i++)
        memcpy(reqs + (size_t)i * rl, req, rl);
    long n = 0;
    int fd = h_connect(port);
    long long end = h_now_ms() + ms;
    unsigned tail = 0; /* the last bytes seen, to find "\r\n\r\n" across reads */
    while (fd >= 0 && h_now_ms() < end && n < 10000000) {
        if (send(fd, reqs, DEPTH * rl, MSG_NOSIGNAL) != (ssize_t)(DEPTH * rl))
            break;
        int seen = 0;
        while (seen < DEPTH) {
            ssize_t got = recv(fd, buf, sizeof(buf), 0);
            if (got <= 0)
                goto out;
            for (ssize_t k = 0; k < got; k++) {
                tail = (tail << 8) | (unsigned char)buf[k];
                if (tail == 0x0d0a0d0a)
                    seen++;
            }
        }
        n += DEPTH;
    }
out:
    if (fd >= 0)
        close(fd);
    return (double)n * 1000.0 / ms;
}

/* The median of five 300 ms measurements: one scheduling hiccup on a
 * 2-core machine must not decide the figure. */
static double median_throughput(int port)
{
    double v[5];
    for (int i = 0; i < 5; i++)
        v[i] = throughput(port, 300);
    for (int i = 0; i < 5; i++)
        for (int j = i + 1; j < 5; j++)
            if (v[j] < v[i]) {
                double t = v[i];
                v[i] = v[j];
                v[j] = t;
            }
    return v[2];
}

/* 1,000 connections sending a header byte a second do not stop normal
 * clients, are closed at read_timeout_ms, and max_connections holds. */
static void test_slow_clients(void **state)
{
    struct fx *f = *state;
    enum { SLOW = 1000 };
    static int fds[SLOW];
    double base = median_throughput(f->d.port);
    int opened = 0;
    for (int i = 0; i < SLOW; i++) {
        fds[i] = h_connect(f->d.port);
        if (fds[i] >= 0 && send(fds[i], "G", 1, MSG_NOSIGNAL) == 1)
            opened++;
    }
    assert_int_equal(opened, SLOW);
    /* One byte a second while a normal client works. */
    const char *more = "ET /solo HTTP/1.1\r\nHost: x\r\nX-Slow: ";
    for (int i = 0; i < SLOW; i++)
        send(fds[i], more, 1, MSG_NOSIGNAL);
    double loaded = median_throughput(f->d.port);
    for (int i = 0; i < SLOW; i++)
        send(fds[i], more + 1, 1, MSG_NOSIGNAL);
    /* 3 s after connecting the slow ones are closed: look at 4 s. */
    h_sleep_ms(2200);
    int closed = 0;
    for (int i = 0; i < SLOW; i++) {
        char c;
        struct timeval tv = {.tv_sec = 0, .tv_usec = 10000};
        setsockopt(fds[i], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        if (recv(fds[i], &c, 1, 0) == 0)
            closed++;
        close(fds[i]);
    }
    assert_int_equal(h_get(f->d.admin_port, "GET", "/metrics", "", f->resp, RESP), 200);
    printf("  slow clients: %.0f req/s unloaded, %.0f req/s with %d slow connections "
           "(%.0f%%); %d of them closed by the read timeout\n",
           base, loaded, SLOW, 100.0 * loaded / base, closed);
    assert_true(loaded >= 0.8 * base);
    assert_int_equal(closed, SLOW);
    assert_true(h_daemon_alive(&f->d));
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:clicks:solo"), 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_privacy_canary, setup_canary, teardown),
        cmocka_unit_test_setup_teardown(test_privacy_canary_scanners,
                                        setup_canary_scanners, teardown),
        cmocka_unit_test_setup_teardown(test_random_code_flood, setup_flood, teardown),
        cmocka_unit_test_setup_teardown(test_slow_clients, setup_slow, teardown),
    };
    return cmocka_run_group_tests_name("abuse", tests, NULL, NULL);
}
