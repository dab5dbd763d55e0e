/* The dashboard in a real browser (issue 15): headless Chromium from
 * Debian loads each page after known traffic; the test reads the DOM it
 * rendered (numbers, the chart bars' heights and titles), Chromium's
 * console (no error, no refusal) and its network log (every request the
 * page made stays on the dashboard's origin), and keeps screenshots at
 * desktop and phone width in build/screenshots/. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cdp.h"
#include "harness.h"

#define OUT (1 << 20)

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char resp[8192];
};

static char dom[OUT], err[OUT], netlog[8 << 20];

static const char *BROWSER = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                             "Gecko/20100101 Firefox/120.0\r\n";

static void seed(const struct h_redis *r)
{
    h_link_add(r, "spring24", "https://example.com/spring", "spring");
    h_link_add(r, "spring24b", "https://example.com/spring-b", "spring");
    assert_int_equal(h_redis_int(r, "SADD hc:campaign:spring:links spring24 spring24b"),
                     2);
    assert_int_equal(h_redis_int(r, "SADD hc:campaigns spring"), 1);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    return h_fixture_start(&f->r, &f->d, NULL, seed);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

/* Chromium on url: the DOM into dom, its log into err, its network log into
 * netlog, a screenshot at width into shot (NULL: none). */
static void chromium(struct fx *f, const char *url, int width, const char *shot)
{
    char profile[400], net[400], size[32], logarg[420], shotarg[420];
    snprintf(profile, sizeof(profile), "%s/chromium-profile", f->r.dir);
    snprintf(net, sizeof(net), "%s/netlog.json", f->r.dir);
    snprintf(logarg, sizeof(logarg), "--log-net-log=%s", net);
    snprintf(size, sizeof(size), "--window-size=%d,1400", width);
    char profarg[420];
    snprintf(profarg, sizeof(profarg), "--user-data-dir=%s", profile);
    char *argv[CDP_ARGV_MAX] = {"--enable-logging=stderr", "--v=0", profarg, logarg,
                                size};
    int n = 5;
    if (shot != NULL) {
        snprintf(shotarg, sizeof(shotarg), "--screenshot=%s", shot);
        argv[n++] = shotarg;
    } else {
        argv[n++] = "--dump-dom";
    }
    argv[n++] = (char *)url;
    cdp_chromium_argv(argv, n);
    int st = h_run(argv, NULL, dom, sizeof(dom), err, sizeof(err));
    if (st != 0)
        fail_msg("chromium exited %d (is it installed? scripts/install-deps):\n%s", st,
                 err);
    h_read_file(net, netlog, sizeof(netlog));
}

/* Nothing the page did reached Chromium's console, and every request made
 * for the page (its network isolation key names the dashboard's site) went
 * to the dashboard's origin. */
static void check_quiet_and_local(const struct fx *f)
{
    if (strstr(err, ":CONSOLE") != NULL)
        fail_msg("the console has a message:\n%s", strstr(err, ":CONSOLE"));
    char origin[64];
    snprintf(origin, sizeof(origin), "http://127.0.0.1:%d/", f->d.dash_port);
    int page_requests = 0;
    for (const char *line = netlog; *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        const char *nik = strstr(line, "\"network_isolation_key\":\"http://127.0.0.1");
        if (nik != NULL && nik < line + len) {
            const char *u = strstr(line, "\"url\":\"");
            if (u == NULL || u > line + len)
                fail_msg("a page request without a URL: %.*s", (int)len, line);
            u += 7;
            if (strncmp(u, origin, strlen(origin)) != 0)
                fail_msg("the page asked for something elsewhere: %.80s", u);
            page_requests++;
        }
        line = end ? end + 1 : line + len;
    }
    assert_true(page_requests >= 1); /* the page itself: the log was read */
}

/* The height of the bar whose value is v (data-v), within the DOM after
 * from; -1 when none. */
static long bar_height(const char *from, long v)
{
    char want[40];
    snprintf(want, sizeof(want), "data-v=\"%ld\"", v);
    const char *at = strstr(from, want);
    if (at == NULL)
        return -1;
    const char *rect = at;
    while (rect > from && strncmp(rect, "<rect", 5) != 0)
        rect--;
    const char *h = strstr(rect, "height=\"");
    return h != NULL && h < at ? atol(h + 8) : -1;
}

static void shots(struct fx *f, const char *path, const char *name)
{
    char url[200], file[400];
    snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->d.dash_port, path);
    mkdir("build/screenshots", 0755);
    const int widths[] = {1000, 390};
    for (int i = 0; i < 2; i++) {
        snprintf(file, sizeof(file), "build/screenshots/%s-%d.png", name, widths[i]);
        chromium(f, url, widths[i], file);
        char head[8] = "";
        FILE *png = fopen(file, "rb");
        assert_non_null(png);
        assert_int_equal(fread(head, 1, 8, png), 8);
        fclose(png);
        assert_memory_equal(head, "\x89PNG\r\n\x1a\n", 8);
    }
}

static void test_pages_in_chromium(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 8; i++)
        assert_int_equal(h_get(f->d.port, "GET", "/spring24", BROWSER, f->resp, 8192),
                         302);
    for (int i = 0; i < 2; i++)
        assert_int_equal(h_get(f->d.port, "GET", "/spring24b", BROWSER, f->resp, 8192),
                         302);
    assert_int_equal(h_get(f->d.port, "HEAD", "/spring24", "", f->resp, 8192), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    char url[200], d0[16];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(d0, sizeof(d0), "%Y-%m-%d", &tm);

    /* The campaigns: a row with its numbers and a 30-bar sparkline whose
     * today's bar is the tallest (110 of 120). */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/", f->d.dash_port);
    chromium(f, url, 1000, NULL);
    check_quiet_and_local(f);
    assert_non_null(strstr(dom, "<a href=\"/campaigns/spring\">spring</a></td><td>2</td>"
                                "<td>10</td><td>1</td><td>0</td><td>10</td>"));
    assert_int_equal(bar_height(strstr(dom, "class=\"spark\""), 10), 110);

    /* A campaign: the stacked bars of today (people 10 high as 110 units,
     * bots 1 as 11), their title, the table, the links in order. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/campaigns/spring?days=7",
             f->d.dash_port);
    chromium(f, url, 1000, NULL);
    check_quiet_and_local(f);
    const char *chart = strstr(dom, "class=\"days\"");
    assert_non_null(chart);
    assert_int_equal(bar_height(chart, 10), 100);
    assert_int_equal(bar_height(chart, 1), 10);
    char want[200];
    snprintf(want, sizeof(want), "<title>%s: 10 people, 1 bots, 0 scanners</title>", d0);
    assert_non_null(strstr(dom, want));
    const char *a = strstr(dom, ">spring24</a>"), *b = strstr(dom, ">spring24b</a>");
    assert_true(a != NULL && b != NULL && a < b);

    /* A link: its hours' chart has this hour's bar. */
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/links/spring24", f->d.dash_port);
    chromium(f, url, 1000, NULL);
    check_quiet_and_local(f);
    assert_non_null(strstr(dom, "<dd id=\"total\">8</dd>"));
    assert_int_equal(bar_height(strstr(dom, "class=\"hours\""), 8), 110);

    snprintf(url, sizeof(url), "http://127.0.0.1:%d/privacy", f->d.dash_port);
    chromium(f, url, 1000, NULL);
    check_quiet_and_local(f);
    assert_non_null(strstr(dom, "Do-Not-Track"));

    shots(f, "/", "campaigns");
    shots(f, "/campaigns/spring", "campaign");
    shots(f, "/links/spring24", "link");
}

/* Each page passes tests/e2e/a11y.js (language, title, headings, names of
 * charts and links, table headers, contrast from the computed styles, no
 * page wider than the window) at desktop and at phone width. */
static void test_pages_accessible(void **state)
{
    struct fx *f = *state;
    assert_int_equal(h_get(f->d.port, "GET", "/spring24", BROWSER, f->resp, 8192), 302);
    assert_true(h_wait_flushed(&f->d, 5000));
    static char js[1 << 16], verdict[1 << 16];
    assert_true(h_read_file("tests/e2e/a11y.js", js, sizeof(js))[0] != '\0');
    const char *paths[] = {"/", "/campaigns/spring", "/links/spring24", "/privacy"};
    const int widths[] = {1000, 390};
    static struct cdp c;
    for (int w = 0; w < 2; w++) {
        assert_int_equal(cdp_open(&c, f->r.dir, widths[w]), 0);
        for (size_t i = 0; i < sizeof(paths) / sizeof(*paths); i++) {
            char url[200];
            snprintf(url, sizeof(url), "http://127.0.0.1:%d%s", f->d.dash_port, paths[i]);
            if (cdp_navigate(&c, url) != 0)
                fail_msg("Chromium did not load %s", url);
            if (cdp_eval_string(&c, js, verdict, sizeof(verdict)) != 0 ||
                strcmp(verdict, "ok") != 0)
                fail_msg("%s at %d px:\n%s", paths[i], widths[w], verdict);
        }
        cdp_close(&c);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pages_in_chromium, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pages_accessible, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
