/* Unit tests for conf: defaults, the shipped file, and every kind of error
 * with its file:line. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "util.h"

/* Parse text; returns the conf (or NULL) and the error output in *errs. */
static struct conf *parse(const char *text, char **errs)
{
    size_t errlen;
    FILE *in = fmemopen((void *)text, strlen(text), "r");
    FILE *err = open_memstream(errs, &errlen);
    struct conf *c = conf_load_stream(in, "t.conf", err);
    fclose(in);
    fclose(err);
    return c;
}

static void test_defaults(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *c = parse("", &errs);
    assert_non_null(c);
    assert_string_equal(errs, "");
    assert_string_equal(c->listen, "127.0.0.1:8080");
    assert_string_equal(c->admin_listen, "127.0.0.1:9090");
    assert_int_equal(c->threads, util_ncpus());
    assert_int_equal(c->redirect_status, 302);
    assert_string_equal(c->fallback_url, "");
    assert_false(c->forward_query);
    assert_string_equal(c->key_prefix, "hc");
    assert_int_equal(c->redis_port, 6379);
    assert_true(c->honour_dnt);
    assert_true(c->honour_gpc);
    assert_int_equal(c->prefetch, CONF_PREFETCH_REFUSE);
    assert_int_equal(c->flush_interval_ms, 1000);
    assert_int_equal(c->negative_ttl_s, 10);
    assert_null(c->redis_password);
    conf_free(c);
    free(errs);
}

static void test_values(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *c = parse("[server]\nthreads = 3\nredirect_status = 307\n"
                           "fallback_url = https://example.com/missing\n"
                           "forward_query = on\nlisten = [::1]:8081\n"
                           "[redis]\nhost = ::1\nport = 7000\nkey_prefix = app.v2\n"
                           "[tracking]\nprefetch = serve\nhonour_dnt = off\n"
                           "[links]\nnegative_ttl_s = 3\n[log]\nlevel = debug\n",
                           &errs);
    assert_non_null(c);
    assert_string_equal(errs, "");
    assert_int_equal(c->threads, 3);
    assert_int_equal(c->redirect_status, 307);
    assert_string_equal(c->fallback_url, "https://example.com/missing");
    assert_true(c->forward_query);
    assert_string_equal(c->listen, "[::1]:8081");
    assert_string_equal(c->redis_host, "::1");
    assert_int_equal(c->redis_port, 7000);
    assert_string_equal(c->key_prefix, "app.v2");
    assert_int_equal(c->prefetch, CONF_PREFETCH_SERVE);
    assert_false(c->honour_dnt);
    assert_int_equal(c->negative_ttl_s, 3);
    assert_int_equal(c->log_level, 0);
    conf_free(c);
    free(errs);
}

/* Each bad line is reported with its number, key, reason and accepted
 * values, all in one pass. */
static void test_errors_all_in_one_pass(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *c = parse("[server]\n"                      /* 1 */
                           "threads = 999\n"                 /* 2 */
                           "bogus = 1\n"                     /* 3 */
                           "redirect_status = 200\n"         /* 4 */
                           "forward_query = maybe\n"         /* 5 */
                           "fallback_url = javascript:x()\n" /* 6 */
                           "listen = localhost:80\n"         /* 7 */
                           "[redis]\n"                       /* 8 */
                           "port = 70000\n"                  /* 9 */
                           "host = redis.example.com\n"      /* 10 */
                           "key_prefix = a:b\n"              /* 11 */
                           "[nosuch]\n"                      /* 12 */
                           "x = 1\n"                         /* 13 */
                           "[tracking]\n"                    /* 14 */
                           "prefetch = sometimes\n"          /* 15 */
                           "flush_interval_ms = 12abc\n"     /* 16 */
                           "flush_interval_ms = 100\n"       /* 17 */
                           "just some words\n"               /* 18 */
                           "[log]\nlevel = loud\n",          /* 19, 20 */
                           &errs);
    assert_null(c);
    const char *want[] = {
        "t.conf:2: threads: out of range: \"999\" (accepted: auto or 1..256)\n",
        "t.conf:3: bogus: unknown key in [server]\n",
        "t.conf:4: redirect_status: not a redirect status: \"200\" (accepted: 301, 302, "
        "303, 307 or 308)\n",
        "t.conf:5: forward_query: not a boolean: \"maybe\" (accepted: on or off)\n",
        "t.conf:6: fallback_url: scheme is not http or https",
        "t.conf:7: listen: not an IP:PORT address",
        "t.conf:9: port: out of range: \"70000\" (accepted: 1..65535)\n",
        "t.conf:10: host: not an IP address literal",
        "t.conf:11: key_prefix: bad key prefix",
        "t.conf:12: unknown section [nosuch]",
        "t.conf:15: prefetch: unknown value: \"sometimes\" (accepted: refuse or serve)\n",
        "t.conf:16: flush_interval_ms: not a whole number: \"12abc\" (accepted: "
        "10..60000)\n",
        "t.conf:17: flush_interval_ms: duplicate",
        "t.conf:18: expected key = value\n",
        "t.conf:20: level: unknown level: \"loud\" (accepted: debug, info, warn or "
        "error)\n",
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
        if (strstr(errs, want[i]) == NULL)
            fail_msg("missing error %s in:\n%s", want[i], errs);
    assert_null(
        strstr(errs, "t.conf:13:")); /* keys of an unknown section: reported once */
    size_t lines = 0;
    for (const char *p = errs; *p; p++)
        lines += *p == '\n';
    assert_int_equal(lines, sizeof(want) / sizeof(want[0]));
    free(errs);
}

/* Review items 13 and 14: a conf saved with a UTF-8 BOM was refused, and
 * lines were limited to inih's 200-byte buffer, so a legal 2048-byte
 * fallback_url was "line too long". The longest legal value of each kind
 * fits (with a trailing inline comment); only lines past CONF_LINE_MAX are
 * refused, naming the line. */
static void test_long_line(void **state)
{
    (void)state;
    static char text[3 * CONF_LINE_MAX];
    static char url[CONF_URL_MAX + 1], path[4001];
    char *errs = NULL;
    int n = snprintf(url, sizeof(url), "https://example.com/");
    memset(url + n, 'u', CONF_URL_MAX - (size_t)n);
    url[CONF_URL_MAX] = '\0';
    path[0] = '/';
    memset(path + 1, 'p', sizeof(path) - 2);
    path[sizeof(path) - 1] = '\0';
    snprintf(text, sizeof(text),
             "\xef\xbb\xbf[server]\nroot_url = %s\nfallback_url =   %s   ; the longest\n"
             "forward_query_keys = utm_*\n[tracking]\nspool_dir = %s\n",
             url, url, path);
    struct conf *c = parse(text, &errs);
    if (c == NULL)
        fail_msg("%s", errs);
    assert_string_equal(c->root_url, url);
    assert_string_equal(c->fallback_url, url);
    assert_string_equal(c->spool_dir, path);
    conf_free(c);
    free(errs);

    /* One byte too many for a URL is the key's error, not the line's. */
    snprintf(text, sizeof(text), "[server]\nroot_url = %sx\n", url);
    assert_null(parse(text, &errs));
    assert_non_null(strstr(errs, "t.conf:2: root_url"));
    free(errs);

    /* Past CONF_LINE_MAX: the line. */
    n = snprintf(text, sizeof(text), "[server]\nroot_url = https://example.com/");
    memset(text + n, 'x', CONF_LINE_MAX);
    snprintf(text + n + CONF_LINE_MAX, sizeof(text) - (size_t)n - CONF_LINE_MAX, "\n");
    assert_null(parse(text, &errs));
    assert_non_null(strstr(errs, "t.conf:2: line too long"));
    free(errs);
}

static void test_outside_section_and_control(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *c = parse("threads = 2\n", &errs);
    assert_null(c);
    assert_non_null(strstr(errs, "t.conf:1: threads: directive outside any section"));
    free(errs);
}

static void test_password_file_missing(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *c = parse("[redis]\npassword_file = /nonexistent/pw\n", &errs);
    assert_null(c);
    assert_non_null(strstr(errs, "password_file: cannot open /nonexistent/pw"));
    free(errs);
}

/* conf/hopcount.conf documents every key, each at its default. */
static void test_shipped_conf_is_defaults(void **state)
{
    (void)state;
    char *a = NULL, *b = NULL;
    size_t al, bl;
    FILE *err = fopen("/dev/null", "w");
    struct conf *shipped = conf_load("conf/hopcount.conf", err);
    fclose(err);
    assert_non_null(shipped);
    struct conf *def = conf_new();
    def->threads = shipped->threads;
    FILE *fa = open_memstream(&a, &al), *fb = open_memstream(&b, &bl);
    conf_print(shipped, fa);
    conf_print(def, fb);
    fclose(fa);
    fclose(fb);
    assert_string_equal(a, b);

    /* Every key appears in the file as "key =". */
    FILE *f = fopen("conf/hopcount.conf", "r");
    assert_non_null(f);
    char text[16384];
    size_t n = fread(text, 1, sizeof(text) - 1, f);
    text[n] = '\0';
    fclose(f);
    for (char *line = strtok(b, "\n"); line; line = strtok(NULL, "\n")) {
        if (line[0] == '[')
            continue;
        char key[64];
        assert_int_equal(sscanf(line, "%63s", key), 1);
        char pat[80];
        snprintf(pat, sizeof(pat), "\n%s =", key);
        if (strstr(text, pat) == NULL)
            fail_msg("conf/hopcount.conf does not document %s", key);
    }
    free(a);
    free(b);
    conf_free(shipped);
    conf_free(def);
}

static void test_hostport(void **state)
{
    (void)state;
    char *h;
    int p;
    assert_int_equal(conf_split_hostport("127.0.0.1:80", &h, &p), 0);
    assert_string_equal(h, "127.0.0.1");
    assert_int_equal(p, 80);
    free(h);
    assert_int_equal(conf_split_hostport("[::1]:9090", &h, &p), 0);
    assert_string_equal(h, "::1");
    free(h);
    assert_int_equal(conf_split_hostport("::1:80", &h, &p), -1);
    assert_int_equal(conf_split_hostport("127.0.0.1", &h, &p), -1);
    assert_int_equal(conf_split_hostport("127.0.0.1:0", &h, &p), -1);
    assert_int_equal(conf_split_hostport("127.0.0.1:http", &h, &p), -1);
    assert_int_equal(conf_split_hostport("example.com:80", &h, &p), -1);
}

static void test_permanent_warning(void **state)
{
    (void)state;
    char *errs = NULL, *warn = NULL;
    size_t wl;
    struct conf *c = parse("[server]\nredirect_status = 301\n", &errs);
    assert_non_null(c);
    FILE *w = open_memstream(&warn, &wl);
    conf_warnings(c, w);
    fclose(w);
    assert_non_null(strstr(warn, "redirect_status: 301 is permanent"));
    conf_free(c);
    free(errs);
    free(warn);
}

static void on_change(const char *section, const char *name, void *arg)
{
    char *buf = arg;
    strcat(buf, section);
    strcat(buf, ".");
    strcat(buf, name);
    strcat(buf, " ");
}

/* Reload: a copy is deep, live keys move over, restart keys are named and
 * left alone. */
static void test_reload_split(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *running =
        parse("[server]\nlisten = 127.0.0.1:8080\nthreads = 2\n", &errs);
    free(errs);
    assert_non_null(running);
    struct conf *copy = conf_dup(running);
    assert_string_equal(copy->listen, running->listen);
    assert_ptr_not_equal(copy->listen, running->listen);
    assert_string_equal(copy->path, "t.conf");

    struct conf *fresh = parse("[server]\nlisten = 127.0.0.1:9999\nthreads = 3\n"
                               "redirect_status = 307\nfallback_url = https://e.com/fb\n"
                               "[tracking]\nflush_interval_ms = 50\nspool_dir = /tmp/sp\n"
                               "[log]\nlevel = debug\nfile = /tmp/h.log\n",
                               &errs);
    free(errs);
    assert_non_null(fresh);
    char changed[512] = "";
    assert_int_equal(conf_restart_changes(running, fresh, on_change, changed), 3);
    assert_string_equal(changed, "server.listen server.threads tracking.spool_dir ");
    conf_apply_reloadable(copy, fresh);
    assert_int_equal(copy->redirect_status, 307);
    assert_string_equal(copy->fallback_url, "https://e.com/fb");
    assert_int_equal(copy->flush_interval_ms, 50);
    assert_int_equal(copy->log_level, 0);
    assert_string_equal(copy->log_file, "/tmp/h.log");
    assert_string_equal(copy->listen, "127.0.0.1:8080"); /* restart-only: kept */
    assert_int_equal(copy->threads, 2);
    assert_string_equal(copy->spool_dir, "var/spool");
    assert_int_equal(conf_restart_changes(running, copy, NULL, NULL), 0);
    conf_free(fresh);
    conf_free(copy);
    conf_free(running);
}

/* user and group names, allow_root. */
static void test_user_group(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *c =
        parse("[server]\nuser = www-data\ngroup = nogroup\nallow_root = on\n", &errs);
    free(errs);
    assert_non_null(c);
    assert_string_equal(c->user, "www-data");
    assert_string_equal(c->group, "nogroup");
    assert_true(c->allow_root);
    conf_free(c);
    assert_null(parse("[server]\nuser = -rf\ngroup = a b\n", &errs));
    assert_non_null(strstr(errs, "t.conf:2: user: not a user or group name"));
    assert_non_null(strstr(errs, "t.conf:3: group: not a user or group name"));
    free(errs);
}

/* [redis] mode: each mode's keys parsed, required and refused elsewhere. */
static void test_redis_modes(void **state)
{
    (void)state;
    char *errs = NULL;
    struct conf *c = parse("[redis]\nmode = cluster\nnodes = 127.0.0.1:7000 , "
                           "[::1]:7001,127.0.0.2:7002\nwait_replicas = 1\n",
                           &errs);
    free(errs);
    assert_non_null(c);
    assert_int_equal(c->redis_mode, CONF_MODE_CLUSTER);
    assert_int_equal(c->wait_replicas, 1);
    assert_int_equal(c->wait_timeout_ms, 500);
    struct conf_addr *a;
    assert_int_equal(conf_addrs_parse(c->redis_nodes, &a), 3);
    assert_string_equal(a[0].host, "127.0.0.1");
    assert_int_equal(a[0].port, 7000);
    assert_string_equal(a[1].host, "::1");
    assert_int_equal(a[2].port, 7002);
    conf_addrs_free(a, 3);
    conf_free(c);

    c = parse("[redis]\nmode = sentinel\nsentinels = 127.0.0.1:26379\n"
              "master_name = hc-main\n",
              &errs);
    free(errs);
    assert_non_null(c);
    assert_int_equal(c->redis_mode, CONF_MODE_SENTINEL);
    assert_string_equal(c->redis_master_name, "hc-main");
    conf_free(c);

    /* Every mistake at once, each at its line. */
    assert_null(parse("[redis]\nmode = cluster\ndb = 2\nsentinels = 127.0.0.1:1\n"
                      "unix_socket = /run/r.sock\nwait_replicas = 1\n"
                      "wait_timeout_ms = 2000\n",
                      &errs));
    assert_non_null(strstr(errs, "t.conf: nodes: mode = cluster needs"));
    assert_non_null(strstr(errs, "t.conf:3: db: must be 0 in mode = cluster"));
    assert_non_null(strstr(errs, "t.conf:4: sentinels: only used in mode = sentinel"));
    assert_non_null(strstr(errs, "t.conf:5: unix_socket: only used in mode = single"));
    assert_non_null(strstr(errs, "t.conf:7: wait_timeout_ms: must be below"));
    free(errs);
    assert_null(parse("[redis]\nmode = sentinel\nnodes = 127.0.0.1:1\n", &errs));
    assert_non_null(strstr(errs, "t.conf: sentinels: mode = sentinel needs"));
    assert_non_null(strstr(errs, "t.conf: master_name: mode = sentinel needs"));
    assert_non_null(strstr(errs, "t.conf:3: nodes: only used in mode = cluster"));
    free(errs);
    assert_null(parse("[redis]\nmode = ring\nnodes = 127.0.0.1:1,\n"
                      "sentinels = localhost:26379\nmaster_name = a b\n",
                      &errs));
    assert_non_null(strstr(errs, "t.conf:2: mode: unknown value: \"ring\" (accepted: "
                                 "single, sentinel or cluster)"));
    assert_non_null(strstr(errs, "t.conf:3: nodes: not a list of IP:PORT"));
    assert_non_null(strstr(errs, "t.conf:4: sentinels: not a list of IP:PORT"));
    assert_non_null(strstr(errs, "t.conf:5: master_name: not a sentinel master name"));
    free(errs);
}

/* Review item 7: the unit's TimeoutStopSec (30) was below what
 * shutdown_timeout_ms allows, so systemd could SIGKILL a daemon still
 * inside its allowed drain. The unit leaves 30 s beyond the largest value. */
static void test_unit_outlasts_shutdown_timeout(void **state)
{
    (void)state;
    FILE *f = fopen("conf/hopcount.service", "r");
    assert_non_null(f);
    char line[256];
    long stop_s = -1;
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "TimeoutStopSec=%ld", &stop_s) == 1)
            break;
    fclose(f);
    assert_true(stop_s > 30);
    char text[128], *errs = NULL;
    snprintf(text, sizeof(text), "[tracking]\nshutdown_timeout_ms = %ld\n",
             (stop_s - 30) * 1000 + 1);
    struct conf *c = parse(text, &errs);
    assert_null(c); /* no allowed value reaches into the last 30 s */
    assert_non_null(strstr(errs, "shutdown_timeout_ms"));
    free(errs);
    snprintf(text, sizeof(text), "[tracking]\nshutdown_timeout_ms = %ld\n",
             (stop_s - 30) * 1000);
    c = parse(text, &errs);
    assert_non_null(c); /* positive control: the largest value itself */
    free(errs);
    conf_free(c);
}

/* threads = auto: a cgroup v2 quota narrows the CPU count (review item 7). */
static void test_cpu_quota(void **state)
{
    (void)state;
    assert_int_equal(util_cpu_quota("max 100000\n"), 0);
    assert_int_equal(util_cpu_quota("200000 100000\n"), 2);
    assert_int_equal(util_cpu_quota("150000 100000"), 2); /* 1.5 CPUs: 2 threads */
    assert_int_equal(util_cpu_quota("50000 100000"), 1);
    assert_int_equal(util_cpu_quota("400000 100000"), 4);
    assert_int_equal(util_cpu_quota("garbage"), 0);
    assert_int_equal(util_cpu_quota("100000 0"), 0);
    assert_true(util_ncpus() >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults),
        cmocka_unit_test(test_values),
        cmocka_unit_test(test_errors_all_in_one_pass),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_outside_section_and_control),
        cmocka_unit_test(test_password_file_missing),
        cmocka_unit_test(test_shipped_conf_is_defaults),
        cmocka_unit_test(test_hostport),
        cmocka_unit_test(test_permanent_warning),
        cmocka_unit_test(test_reload_split),
        cmocka_unit_test(test_user_group),
        cmocka_unit_test(test_redis_modes),
        cmocka_unit_test(test_cpu_quota),
        cmocka_unit_test(test_unit_outlasts_shutdown_timeout),
    };
    return cmocka_run_group_tests_name("conf", tests, NULL, NULL);
}
