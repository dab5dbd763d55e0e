/* End-to-end tests of the scan class (issue 13) through the real daemon and
 * Redis: scanner networks matched on the client's address, the address
 * behind trusted proxies (X-Forwarded-For, PROXY protocol v1/v2) and the
 * same headers ignored from anyone else, reloads and -t. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

#define RESP 8192

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char scanners[400];
    char resp[RESP];
};

static const char *BROWSER = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                             "Gecko/20100101 Firefox/120.0\r\n";

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* Redis with a campaign of three links; the scanner networks 127.0.0.50/31
 * and 127.9.0.0/16; 127.0.0.2 is the one trusted proxy. */
static int start(void **state, const char *more)
{
    struct fx *f = calloc(1, sizeof(*f));
    char extra[1200];
    *state = f;
    if (h_redis_start(&f->r) != 0)
        return -1;
    h_link_add(&f->r, "n1", "https://example.com/1", "news");
    h_link_add(&f->r, "n2", "https://example.com/2", "news");
    h_link_add(&f->r, "n3", "https://example.com/3", "news");
    snprintf(f->scanners, sizeof(f->scanners), "%s/scanners.txt", f->r.dir);
    write_file(f->scanners, "# test networks\n127.0.0.50/31\n127.9.0.0/16 # a /16\n");
    snprintf(extra, sizeof(extra),
             "tracking.scanners_file = %s\ntracking.trusted_proxies = 127.0.0.2\n%s",
             f->scanners, more);
    return h_fixture_daemon(&f->r, &f->d, extra);
}

static int setup(void **state)
{
    return start(state, "");
}

static int setup_proxy(void **state)
{
    return start(state, "server.proxy_protocol = on\n");
}

/* The burst rule on, with a 2-second window. */
static int setup_burst(void **state)
{
    return start(state, "tracking.scanner_burst = on\ntracking.scanner_window_s = 2\n");
}

static int setup_burst_small(void **state)
{
    return start(state, "tracking.scanner_burst = on\ntracking.scanner_window_s = 30\n"
                        "tracking.scanner_clients = 1024\n");
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

/* GET path from source address src with extra header lines, after a
 * prefix (a PROXY header) when given. The status, or -1 (no answer). */
static int get_from(struct fx *f, const char *src, const char *prefix, size_t prefix_len,
                    const char *path, const char *headers)
{
    char req[2048];
    size_t n = prefix_len;
    memcpy(req, prefix, prefix_len);
    n += (size_t)snprintf(req + n, sizeof(req) - n,
                          "GET %s HTTP/1.1\r\nHost: go.example\r\n%s%sConnection: "
                          "close\r\n\r\n",
                          path, BROWSER, headers ? headers : "");
    if (h_raw_from(f->d.port, src, req, n, f->resp, sizeof(f->resp)) <= 0)
        return -1;
    return h_status(f->resp);
}

static int get(struct fx *f, const char *src, const char *path, const char *headers)
{
    return get_from(f, src, "", 0, path, headers);
}

/* total and scan of key once everything counted is in Redis. */
static void expect(struct fx *f, const char *key, long long total, long long scan)
{
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(h_hget(&f->r, key, "total"), total);
    assert_int_equal(h_hget(&f->r, key, "scan"), scan);
}

static void test_scanner_networks(void **state)
{
    struct fx *f = *state;
    assert_int_equal(get(f, "127.0.0.50", "/n1", NULL), 302);
    assert_int_equal(get(f, "127.0.0.51", "/n1", NULL), 302);
    assert_int_equal(get(f, "127.9.200.1", "/n2", NULL), 302);
    assert_int_equal(get(f, "127.0.0.52", "/n1", NULL), 302); /* just outside */
    assert_int_equal(get(f, "127.0.0.1", "/n1", NULL), 302);
    expect(f, "hc:clicks:n1", 2, 2);
    expect(f, "hc:clicks:n2", 0, 1);
    expect(f, "hc:campaign:news:clicks", 2, 3);
    char day[32], hour[32], botday[32], scanday[40];
    h_fields(day, hour, botday, sizeof(day));
    snprintf(scanday, sizeof(scanday), "scan:%s", day);
    assert_int_equal(h_hget(&f->r, "hc:clicks:n1", scanday), 2);
    assert_int_equal(h_hget(&f->r, "hc:clicks:n1", day), 2); /* d: and h: are humans */
    assert_int_equal(h_hget(&f->r, "hc:clicks:n1", hour), 2);
    assert_int_equal(h_metric(&f->d, "hopcount_requests_total{outcome=\"scanner\"}"), 3);
    assert_int_equal(h_metric(&f->d, "hopcount_requests_total{outcome=\"tracked\"}"), 2);
    /* A scanner that says DNT is not counted at all. */
    assert_int_equal(get(f, "127.0.0.50", "/n3", "DNT: 1\r\n"), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:clicks:n3"), 0);
}

/* X-Forwarded-For counts from the trusted proxy only, rightmost untrusted
 * hop first; from anyone else it is ignored (no spoofing in or out). */
static void test_forwarded_for(void **state)
{
    struct fx *f = *state;
    /* Through the proxy: the scanner behind it is seen. */
    assert_int_equal(get(f, "127.0.0.2", "/n1", "X-Forwarded-For: 127.9.3.3\r\n"), 302);
    /* Through the proxy, a spoofed scanner entry left of the real client. */
    assert_int_equal(
        get(f, "127.0.0.2", "/n1", "X-Forwarded-For: 127.9.3.3, 198.51.100.1\r\n"), 302);
    /* Two header lines are one list: the rightmost is the client. */
    assert_int_equal(
        get(f, "127.0.0.2", "/n1",
            "X-Forwarded-For: 198.51.100.1\r\nX-Forwarded-For: 127.9.4.4\r\n"),
        302);
    /* Not from the proxy: the header is ignored either way. */
    assert_int_equal(get(f, "127.0.0.3", "/n2", "X-Forwarded-For: 127.9.3.3\r\n"), 302);
    assert_int_equal(get(f, "127.0.0.50", "/n2", "X-Forwarded-For: 198.51.100.1\r\n"),
                     302);
    expect(f, "hc:clicks:n1", 1, 2);
    expect(f, "hc:clicks:n2", 1, 1);
}

static void test_proxy_protocol(void **state)
{
    struct fx *f = *state;
    const char *v1 = "PROXY TCP4 127.9.4.4 127.0.0.1 40000 80\r\n";
    const char *v1human = "PROXY TCP4 198.51.100.7 127.0.0.1 40000 80\r\n";
    /* From the trusted balancer the header names the client. */
    assert_int_equal(get_from(f, "127.0.0.2", v1, strlen(v1), "/n1", NULL), 302);
    assert_int_equal(get_from(f, "127.0.0.2", v1human, strlen(v1human), "/n1", NULL),
                     302);
    /* Version 2, binary: 127.9.5.5 over IPv4. */
    unsigned char v2[28] = {0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49,
                            0x54, 0x0A, 0x21, 0x11, 0x00, 0x0C, 127,  9,    5,    5,
                            127,  0,    0,    1,    0x9c, 0x40, 0x00, 0x50};
    assert_int_equal(get_from(f, "127.0.0.2", (const char *)v2, sizeof(v2), "/n2", NULL),
                     302);
    /* From anyone else the header is read and not believed: the peer is. */
    assert_int_equal(get_from(f, "127.0.0.3", v1, strlen(v1), "/n2", NULL), 302);
    assert_int_equal(get_from(f, "127.0.0.50", v1human, strlen(v1human), "/n3", NULL),
                     302);
    /* UNKNOWN (a health check): the peer's own address. */
    const char *unk = "PROXY UNKNOWN\r\n";
    assert_int_equal(get_from(f, "127.0.0.50", unk, strlen(unk), "/n3", NULL), 302);
    /* No header on a proxy_protocol listener: closed without an answer. */
    assert_int_equal(get(f, "127.0.0.2", "/n1", NULL), -1);
    expect(f, "hc:clicks:n1", 1, 1);
    expect(f, "hc:clicks:n2", 1, 1);
    expect(f, "hc:clicks:n3", 0, 2);
}

/* A new scanners file applies on SIGHUP; a broken one is refused whole,
 * naming its line, and the running networks stay. */
static void test_reload_scanners(void **state)
{
    struct fx *f = *state;
    assert_int_equal(get(f, "127.0.0.7", "/n1", NULL), 302);
    write_file(f->scanners, "127.0.0.7\n");
    assert_int_equal(h_reload(&f->d, "success"), 0);
    assert_int_equal(get(f, "127.0.0.7", "/n1", NULL), 302);
    assert_int_equal(get(f, "127.0.0.50", "/n1", NULL), 302); /* no longer listed */
    write_file(f->scanners, "127.0.0.8\n127.0.0.300\n");
    assert_int_equal(h_reload(&f->d, "failure"), 0);
    char want[600];
    snprintf(want, sizeof(want), "%s:2: not an IPv4 or IPv6 address", f->scanners);
    assert_non_null(strstr(h_daemon_log(&f->d), want));
    assert_int_equal(get(f, "127.0.0.7", "/n1", NULL), 302); /* still a scanner */
    expect(f, "hc:clicks:n1", 2, 2);
}

/* -t and a start check the scanners file and trusted_proxies, every error
 * with its place. */
static void test_dash_t_checks_lists(void **state)
{
    struct fx *f = *state;
    char conf[400], bad[400], cmd[1200], out[4096];
    snprintf(bad, sizeof(bad), "%s/bad-scanners.txt", f->r.dir);
    write_file(bad, "# ok\n10.0.0.0/8\n10.0.0.1/8\nfe80::/129\n");
    snprintf(conf, sizeof(conf), "%s/lists.conf", f->r.dir);
    FILE *c = fopen(conf, "w");
    assert_non_null(c);
    fprintf(c,
            "[tracking]\nbots_file =\nscanners_file = %s\ntrusted_proxies = 10.0.0.0/8, "
            "nonsense\n",
            bad);
    fclose(c);
    const char *bin = getenv("HOPCOUNT_BIN") ? getenv("HOPCOUNT_BIN") : "build/hopcount";
    for (int t = 1; t >= 0; t--) {
        snprintf(cmd, sizeof(cmd), "%s %s -c %s 2>&1; echo exit=$?", bin, t ? "-t" : "",
                 conf);
        FILE *p = popen(cmd, "r");
        size_t n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        pclose(p);
        char want[600];
        snprintf(want, sizeof(want), "%s:4: trusted_proxies: not an IPv4 or IPv6 address",
                 conf);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, "exit=1"));
        /* Fix the conf key: the file's errors show, each with its line. */
        c = fopen(conf, "w");
        fprintf(c, "[tracking]\nbots_file =\nscanners_file = %s\n", bad);
        fclose(c);
        p = popen(cmd, "r");
        n = fread(out, 1, sizeof(out) - 1, p);
        out[n] = '\0';
        pclose(p);
        snprintf(want, sizeof(want), "%s:3: host bits set", bad);
        assert_non_null(strstr(out, want));
        snprintf(want, sizeof(want), "%s:4: prefix length not 0..128", bad);
        assert_non_null(strstr(out, want));
        assert_non_null(strstr(out, "exit=1"));
        c = fopen(conf, "w");
        fprintf(c,
                "[tracking]\nbots_file =\nscanners_file = %s\ntrusted_proxies = "
                "10.0.0.0/8, nonsense\n",
                bad);
        fclose(c);
    }
}

/* GET path from src with user agent ua (and more header lines). */
static int get_ua(struct fx *f, const char *src, const char *path, const char *ua,
                  const char *more)
{
    char req[2048];
    int n = snprintf(req, sizeof(req),
                     "GET %s HTTP/1.1\r\nHost: go.example\r\nUser-Agent: %s\r\n%s"
                     "Connection: close\r\n\r\n",
                     path, ua, more ? more : "");
    if (h_raw_from(f->d.port, src, req, (size_t)n, f->resp, sizeof(f->resp)) <= 0)
        return -1;
    return h_status(f->resp);
}

/* Until no follow is held for the burst rule (a window and a tick), 6 s. */
static void wait_decided(struct fx *f)
{
    long long deadline = h_now_ms() + 6000;
    while (h_metric(&f->d, "hopcount_burst_held") != 0 && h_now_ms() < deadline)
        h_sleep_ms(20);
    assert_int_equal(h_metric(&f->d, "hopcount_burst_held"), 0);
}

static const char *UA_A = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120.0";
static const char *UA_B = "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_1) Safari/605.1";

/* Three links of one campaign within the window, each on its own
 * connection (so across both workers): a scanner, all three counted as
 * scan once the window closes, and its next follow at once. Two links is
 * a person; the same address with another agent is another client. */
static void test_burst_rule(void **state)
{
    struct fx *f = *state;
    assert_int_equal(get_ua(f, "127.0.0.60", "/n1", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.60", "/n2", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.61", "/n1", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.61", "/n2", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.61", "/n3", UA_B, NULL), 302);
    /* Held, not yet counted: the verdict waits for the window. */
    assert_true(h_metric(&f->d, "hopcount_burst_held") >= 4);
    assert_int_equal(get_ua(f, "127.0.0.60", "/n3", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.60", "/n1", UA_A, NULL), 302);
    assert_int_equal(h_metric(&f->d, "hopcount_requests_total{outcome=\"scanner\"}"), 2);
    /* Within the window and a tick, everything is decided. */
    wait_decided(f);
    expect(f, "hc:clicks:n1", 1, 2);
    expect(f, "hc:clicks:n2", 1, 1);
    expect(f, "hc:clicks:n3", 1, 1);
    expect(f, "hc:campaign:news:clicks", 3, 4);
    assert_int_equal(h_metric(&f->d, "hopcount_burst_scan_total"), 4);
    assert_int_equal(h_metric(&f->d, "hopcount_burst_human_total"), 3);
}

/* Opted-out requests never enter the burst table: three DNT follows and
 * then one without leave that one a person's. */
static void test_burst_skips_opt_out(void **state)
{
    struct fx *f = *state;
    const char *paths[] = {"/n1", "/n2", "/n3"};
    for (int i = 0; i < 3; i++)
        assert_int_equal(get_ua(f, "127.0.0.70", paths[i], UA_A, "Sec-GPC: 1\r\n"), 302);
    assert_int_equal(get_ua(f, "127.0.0.70", "/n1", UA_A, NULL), 302);
    wait_decided(f);
    expect(f, "hc:clicks:n1", 1, 0);
    assert_int_equal(h_redis_int(&f->r, "EXISTS hc:clicks:n2"), 0);
}

/* SIGTERM while follows are held: they are decided and delivered, not
 * dropped (a 30 s window, so only the shutdown can decide them). */
static void test_burst_sigterm(void **state)
{
    struct fx *f = *state;
    assert_int_equal(get_ua(f, "127.0.0.80", "/n1", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.81", "/n1", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.81", "/n2", UA_A, NULL), 302);
    assert_int_equal(get_ua(f, "127.0.0.81", "/n3", UA_A, NULL), 302);
    assert_int_equal(h_metric(&f->d, "hopcount_burst_held"), 3);
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 0);
    assert_int_equal(h_hget(&f->r, "hc:clicks:n1", "total"), 1);
    assert_int_equal(h_hget(&f->r, "hc:clicks:n1", "scan"), 1);
    assert_int_equal(h_hget(&f->r, "hc:campaign:news:clicks", "scan"), 3);
}

/* A flood of distinct clients (one address, a new agent each time) fills
 * the table: memory stays bounded and every follow is still counted, the
 * ones without a slot as human at once. */
static void test_burst_flood_bounded(void **state)
{
    struct fx *f = *state;
    enum { N = 3000 };
    int fd = h_connect_from(f->d.port, "127.0.0.90");
    assert_true(fd >= 0);
    char req[256], resp[4096];
    for (int i = 0; i < N; i++) {
        int n = snprintf(req, sizeof(req),
                         "GET /n%d HTTP/1.1\r\nHost: go.example\r\nUser-Agent: "
                         "Mozilla/5.0 flood-%d\r\n\r\n",
                         1 + i % 3, i);
        assert_int_equal(send(fd, req, (size_t)n, MSG_NOSIGNAL), n);
        assert_true(h_read_response(fd, false, resp, sizeof(resp)) > 0);
        assert_int_equal(h_status(resp), 302);
    }
    close(fd);
    assert_true(h_metric(&f->d, "hopcount_burst_untracked_total") > 0);
    assert_true(h_metric(&f->d, "hopcount_burst_held") <= 1024);
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 0);
    long long all = 0;
    const char *keys[] = {"hc:clicks:n1", "hc:clicks:n2", "hc:clicks:n3"};
    for (int i = 0; i < 3; i++)
        all += h_hget(&f->r, keys[i], "total") + h_hget(&f->r, keys[i], "scan");
    assert_int_equal(all, N);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_scanner_networks, setup, teardown),
        cmocka_unit_test_setup_teardown(test_forwarded_for, setup, teardown),
        cmocka_unit_test_setup_teardown(test_proxy_protocol, setup_proxy, teardown),
        cmocka_unit_test_setup_teardown(test_reload_scanners, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dash_t_checks_lists, setup, teardown),
        cmocka_unit_test_setup_teardown(test_burst_rule, setup_burst, teardown),
        cmocka_unit_test_setup_teardown(test_burst_skips_opt_out, setup_burst, teardown),
        cmocka_unit_test_setup_teardown(test_burst_sigterm, setup_burst_small, teardown),
        cmocka_unit_test_setup_teardown(test_burst_flood_bounded, setup_burst_small,
                                        teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
