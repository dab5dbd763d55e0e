/* End-to-end tests of hopcount as a daemon: SIGHUP reload (good, broken,
 * under load), metrics after known traffic, the log file and SIGUSR1, the
 * switch from root, make install into a temp DESTDIR and the man pages. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define RESP 262144

struct fx {
    struct h_redis r;
    struct h_daemon d;
    char resp[RESP];
};

static const char *BROWSER = "User-Agent: Mozilla/5.0 (X11; Linux x86_64; rv:120.0) "
                             "Gecko/20100101 Firefox/120.0\r\n";

/* Redis with two links; the tests that need their own conf start the daemon. */
static int setup_redis(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    *state = f;
    if (h_redis_start(&f->r) != 0)
        return -1;
    h_link_add(&f->r, "spring24", "https://example.com/spring", "spring");
    h_link_add(&f->r, "solo", "https://example.org/solo", NULL);
    return 0;
}

static int setup_with(void **state, const char *extra)
{
    if (setup_redis(state) != 0)
        return -1;
    struct fx *f = *state;
    return h_fixture_daemon(&f->r, &f->d, extra);
}

static int setup(void **state)
{
    return setup_with(state, NULL);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    return f != NULL ? h_fixture_end(&f->r, &f->d, f) : 0;
}

static int get(struct fx *f, const char *path, const char *headers)
{
    return h_get(f->d.port, "GET", path, headers, f->resp, RESP);
}

static long long metric(struct fx *f, const char *name)
{
    return h_metric(&f->d, name);
}

static int occurrences(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

static void reload(struct fx *f, const char *result)
{
    assert_int_equal(h_reload(&f->d, result), 0);
}

/* Review item 7: SIGHUP and SIGUSR1 had their default action (the process
 * dies) until the handlers existed, and a mask inherited from the parent was
 * kept. Started with them blocked (as a supervisor may leave them), the
 * daemon still reloads and reopens its log on them; sent at once after the
 * start, they never kill it. */
static void test_signals_from_the_start(void **state)
{
    struct fx *f = *state;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGHUP);
    sigaddset(&set, SIGUSR1);
    pthread_sigmask(SIG_BLOCK, &set, &old);
    int rc = h_daemon_start(&f->d, &f->r, NULL, false);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    assert_int_equal(rc, 0);
    kill(f->d.pid, SIGHUP);
    kill(f->d.pid, SIGUSR1);
    assert_true(h_wait_log(&f->d, "event=reloaded", 5000));
    assert_true(h_wait_log(&f->d, "event=log_reopened", 5000));
    assert_true(h_daemon_alive(&f->d));
    assert_int_equal(h_wait_ready(&f->d, 200, 5000), 200);
}

/* SIGHUP applies the live keys, logs those that need a restart, and keeps
 * serving the same connections. */
static void test_reload_applies(void **state)
{
    struct fx *f = *state;
    char v[512];
    assert_int_equal(get(f, "/nosuch", BROWSER), 404);
    assert_int_equal(get(f, "/spring24", BROWSER), 302);
    int fd = h_connect(f->d.port); /* a keep-alive connection across the reload */
    assert_true(fd >= 0);
    const char *req = "GET /spring24 HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    assert_int_equal(h_read_response(fd, false, f->resp, RESP), 302);

    assert_int_equal(
        h_daemon_rewrite_conf(&f->d, &f->r,
                              "server.fallback_url = https://example.com/fb\n"
                              "server.redirect_status = 307\n"
                              "server.max_connections = 77\n"
                              "log.access_log = on"),
        0);
    reload(f, "success");
    assert_int_equal(get(f, "/nosuch", BROWSER), 302);
    assert_string_equal(h_header(f->resp, "Location", v, sizeof(v)),
                        "https://example.com/fb");
    assert_int_equal(get(f, "/spring24", BROWSER), 307);
    assert_int_equal(send(fd, req, strlen(req), MSG_NOSIGNAL), (ssize_t)strlen(req));
    assert_int_equal(h_read_response(fd, false, f->resp, RESP), 307);
    close(fd);
    const char *log = h_daemon_log(&f->d);
    assert_non_null(strstr(log, "event=reload_needs_restart key=server.max_connections"));
    assert_null(strstr(log, "key=server.redirect_status"));
    assert_non_null(strstr(log, "event=reloaded"));
    assert_non_null(strstr(log, "event=access method=GET code=spring24 status=307"));
    assert_int_equal(metric(f, "hopcount_config_last_reload_successful"), 1);
    /* Every follow counted, before and after. */
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:spring24", "total", 4, 3000), 4);
    /* A permanent status is warned about on reload as at start. */
    assert_int_equal(h_daemon_rewrite_conf(&f->d, &f->r, "server.redirect_status = 308"),
                     0);
    reload(f, "success");
    assert_int_equal(get(f, "/spring24", BROWSER), 308);
    assert_non_null(strstr(h_daemon_log(&f->d), "event=permanent_redirects status=308"));
}

/* A broken conf is refused with FILE:LINE, and nothing changes; fixed, it
 * applies. A bots list that cannot be read is refused too. */
static void test_reload_broken(void **state)
{
    struct fx *f = *state;
    char want[600];
    assert_int_equal(
        h_daemon_rewrite_conf(&f->d, &f->r,
                              "server.redirect_status = 399\n"
                              "server.fallback_url = https://example.com/fb"),
        0);
    reload(f, "failure");
    const char *log = h_daemon_log(&f->d);
    snprintf(want, sizeof(want), "event=reload_error error=\"%s:", f->d.conf);
    assert_non_null(strstr(log, want));
    assert_non_null(strstr(log, "redirect_status: not a redirect status"));
    assert_non_null(strstr(log, "event=reload_refused"));
    assert_int_equal(metric(f, "hopcount_config_last_reload_successful"), 0);
    assert_int_equal(get(f, "/spring24", BROWSER), 302);
    assert_int_equal(get(f, "/nosuch", BROWSER), 404); /* fallback_url not applied */

    assert_int_equal(
        h_daemon_rewrite_conf(&f->d, &f->r,
                              "tracking.bots_file = /nonexistent/bots.txt\n"
                              "server.fallback_url = https://example.com/fb"),
        0);
    reload(f, "failure");
    assert_non_null(strstr(h_daemon_log(&f->d), "bots_file"));
    assert_int_equal(get(f, "/nosuch", BROWSER), 404);

    assert_int_equal(h_daemon_rewrite_conf(
                         &f->d, &f->r, "server.fallback_url = https://example.com/fb"),
                     0);
    reload(f, "success");
    assert_int_equal(metric(f, "hopcount_config_last_reload_successful"), 1);
    assert_int_equal(get(f, "/nosuch", BROWSER), 302);
    assert_int_equal(metric(f, "hopcount_config_reloads_total{result=\"failure\"}"), 2);
}

/* A new bots list applies on reload. */
static void test_reload_bots(void **state)
{
    struct fx *f = *state;
    char path[400], extra[600];
    const char *agent = "User-Agent: AcmeLinkChecker/2.0\r\n";
    assert_int_equal(get(f, "/solo", agent), 302);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:solo", "total", 1, 3000), 1);
    snprintf(path, sizeof(path), "%s/bots.txt", f->r.dir);
    FILE *b = fopen(path, "w");
    assert_non_null(b);
    fputs("# test list\nacmelinkchecker\n", b);
    fclose(b);
    snprintf(extra, sizeof(extra), "tracking.bots_file = %s", path);
    assert_int_equal(h_daemon_rewrite_conf(&f->d, &f->r, extra), 0);
    reload(f, "success");
    assert_int_equal(get(f, "/solo", agent), 302);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:solo", "bot", 1, 3000), 1);
    assert_int_equal(h_hget(&f->r, "hc:clicks:solo", "total"), 1);
}

/* Reloads while keep-alive clients run: every request answered, every
 * follow counted once. */
static void test_reload_under_load(void **state)
{
    struct fx *f = *state;
    enum { CLIENTS = 4, EACH = 2500 };
    pid_t pids[CLIENTS];
    for (int c = 0; c < CLIENTS; c++) {
        pids[c] = fork();
        if (pids[c] == 0) {
            char resp[4096], req[512];
            int fd = h_connect(f->d.port), ok = 0;
            int n = snprintf(req, sizeof(req),
                             "GET /spring24 HTTP/1.1\r\nHost: x\r\n%s\r\n", BROWSER);
            for (int i = 0; i < EACH && fd >= 0; i++) {
                if (send(fd, req, (size_t)n, MSG_NOSIGNAL) != n)
                    break;
                if (h_read_response(fd, false, resp, sizeof(resp)) == 302)
                    ok++;
                else
                    break;
            }
            _exit(ok == EACH ? 0 : 1);
        }
    }
    const char *confs[] = {
        "tracking.flush_interval_ms = 50\nlinks.cache_ttl_s = 5\nlog.level = warn",
        "tracking.flush_interval_ms = 200\nlinks.cache_max_entries = 200\n"
        "tracking.max_pending_keys = 5000\nlog.access_log = on\nlog.level = info",
    };
    int reloads = 0, alive = CLIENTS;
    for (int round = 0; alive > 0 && round < 1000; round++) {
        assert_int_equal(h_daemon_rewrite_conf(&f->d, &f->r, confs[round % 2]), 0);
        assert_int_equal(kill(f->d.pid, SIGHUP), 0);
        reloads++;
        h_sleep_ms(40);
        alive = 0;
        for (int c = 0; c < CLIENTS; c++)
            alive += pids[c] > 0 && waitpid(pids[c], NULL, WNOHANG) == 0;
    }
    for (int c = 0; c < CLIENTS; c++) {
        int st;
        if (waitpid(pids[c], &st, 0) == pids[c])
            assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    }
    assert_true(reloads >= 5);
    assert_int_equal(
        h_wait_hget(&f->r, "hc:clicks:spring24", "total", CLIENTS * EACH, 5000),
        CLIENTS * EACH);
    assert_int_equal(
        h_wait_hget(&f->r, "hc:campaign:spring:clicks", "total", CLIENTS * EACH, 3000),
        CLIENTS * EACH);
    assert_int_equal(metric(f, "hopcount_requests_total{outcome=\"tracked\"}"),
                     CLIENTS * EACH);
    assert_int_equal(metric(f, "hopcount_config_reloads_total{result=\"failure\"}"), 0);
    assert_true(metric(f, "hopcount_config_reloads_total{result=\"success\"}") >= 1);
}

/* Known traffic gives known numbers, and every family follows Prometheus's
 * conventions. */
static void test_metrics_after_traffic(void **state)
{
    struct fx *f = *state;
    for (int i = 0; i < 3; i++)
        assert_int_equal(get(f, "/spring24", BROWSER), 302);
    for (int i = 0; i < 2; i++)
        assert_int_equal(h_get(f->d.port, "HEAD", "/solo", "", f->resp, RESP), 302);
    assert_int_equal(get(f, "/solo", "DNT: 1\r\n"), 302);
    assert_int_equal(get(f, "/solo", "Sec-Purpose: prefetch\r\n"), 503);
    assert_int_equal(get(f, "/unknown", BROWSER), 404);
    assert_int_equal(get(f, "/not.a.code", BROWSER), 404);
    assert_int_equal(get(f, "/robots.txt", BROWSER), 200);
    char resp[4096];
    const char *post = "POST /solo HTTP/1.1\r\nHost: x\r\n\r\n";
    assert_true(h_raw(f->d.port, post, strlen(post), resp, sizeof(resp)) > 0);
    assert_int_equal(h_status(resp), 405);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:spring24", "total", 3, 3000), 3);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:solo", "bot", 2, 3000), 2);
    h_sleep_ms(300);

    struct {
        const char *name;
        long long want;
    } exact[] = {
        {"hopcount_requests_total{outcome=\"tracked\"}", 3},
        {"hopcount_requests_total{outcome=\"bot\"}", 2},
        {"hopcount_requests_total{outcome=\"opted_out\"}", 1},
        {"hopcount_requests_total{outcome=\"prefetch_refused\"}", 1},
        {"hopcount_requests_total{outcome=\"not_found\"}", 1},
        {"hopcount_requests_total{outcome=\"invalid\"}", 2},
        {"hopcount_requests_total{outcome=\"unavailable\"}", 0},
        {"hopcount_requests_total{outcome=\"other\"}", 1},
        {"hopcount_responses_total{status=\"302\"}", 6},
        {"hopcount_responses_total{status=\"503\"}", 1},
        {"hopcount_responses_total{status=\"404\"}", 2},
        {"hopcount_responses_total{status=\"405\"}", 1},
        {"hopcount_responses_total{status=\"200\"}", 1},
        {"hopcount_follows_dropped_total", 0},
        {"hopcount_follows_delivered_total", 5},
        {"hopcount_pending_keys", 0},
        {"hopcount_redis_connected", 2},
        {"hopcount_workers", 2},
        {"hopcount_spool_bytes", 0},
        {"hopcount_link_cache_evictions_total", 0},
        {"hopcount_build_info{version=\"" HOPCOUNT_VERSION "\"}", 1},
        {"hopcount_config_last_reload_successful", 1},
    };
    for (size_t i = 0; i < sizeof(exact) / sizeof(exact[0]); i++) {
        long long v = metric(f, exact[i].name);
        if (v != exact[i].want)
            fail_msg("%s is %lld, want %lld", exact[i].name, v, exact[i].want);
    }
    /* Hits + misses = lookups of valid codes that got an answer. */
    long long hits = metric(f, "hopcount_link_cache_hits_total");
    long long misses = metric(f, "hopcount_link_cache_misses_total");
    assert_int_equal(hits + misses, 8);
    assert_true(metric(f, "hopcount_link_cache_entries") >= 2);
    long long batches = metric(f, "hopcount_flush_batches_total");
    assert_true(batches >= 1);
    assert_int_equal(metric(f, "hopcount_flush_duration_seconds_count"), batches);
    assert_int_equal(metric(f, "hopcount_flush_duration_seconds_bucket{le=\"+Inf\"}"),
                     batches);
    assert_true(metric(f, "hopcount_start_time_seconds") > 1700000000);

    /* Conventions: every sample's family has HELP and TYPE, is prefixed, and
     * counters end in _total. */
    assert_int_equal(h_get(f->d.admin_port, "GET", "/metrics", "", f->resp, RESP), 200);
    char *body = strstr(f->resp, "\r\n\r\n") + 4, *save = NULL;
    char family[128] = "";
    int samples = 0;
    for (char *line = strtok_r(body, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        char name[128], type[32];
        if (sscanf(line, "# TYPE %127s %31s", name, type) == 2) {
            snprintf(family, sizeof(family), "%s", name);
            if (strcmp(type, "counter") == 0 &&
                strcmp(name + strlen(name) - 6, "_total") != 0)
                fail_msg("counter %s does not end in _total", name);
            assert_true(strcmp(type, "counter") == 0 || strcmp(type, "gauge") == 0 ||
                        strcmp(type, "histogram") == 0);
            continue;
        }
        if (line[0] == '#') {
            assert_int_equal(strncmp(line, "# HELP hopcount_", 16), 0);
            continue;
        }
        samples++;
        assert_int_equal(strncmp(line, "hopcount_", 9), 0);
        if (strncmp(line, family, strlen(family)) != 0)
            fail_msg("sample %s outside its family %s", line, family);
        assert_null(strstr(line, "127.0.0.1"));
        assert_null(strstr(line, "spring24"));
    }
    assert_true(samples > 40);
}

/* log.file: lines go to the file; SIGUSR1 reopens it after a rotation. */
static void test_log_file_reopen(void **state)
{
    struct fx *f = *state;
    char path[400], rotated[400], extra[600], buf[65536];
    snprintf(path, sizeof(path), "%s/hopcount.log", f->r.dir);
    snprintf(rotated, sizeof(rotated), "%s/hopcount.log.1", f->r.dir);
    snprintf(extra, sizeof(extra), "log.file = %s\nlog.access_log = on", path);
    assert_int_equal(h_daemon_start(&f->d, &f->r, extra, true), 0);
    assert_int_equal(get(f, "/spring24", BROWSER), 302);

    for (int i = 0;
         i < 100 && strstr(h_read_file(path, buf, sizeof(buf)), "event=access") == NULL;
         i++)
        h_sleep_ms(20);
    assert_non_null(strstr(buf, "event=started"));
    assert_non_null(strstr(buf, "event=access method=GET code=spring24"));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0640);

    assert_int_equal(rename(path, rotated), 0);
    assert_int_equal(kill(f->d.pid, SIGUSR1), 0);
    for (int i = 0; i < 100 && access(path, F_OK) != 0; i++)
        h_sleep_ms(20);
    assert_int_equal(get(f, "/solo", BROWSER), 302);
    h_sleep_ms(100);
    h_read_file(path, buf, sizeof(buf));
    assert_non_null(strstr(buf, "event=log_reopened"));
    assert_non_null(strstr(buf, "code=solo"));
    assert_null(strstr(buf, "code=spring24"));
    h_read_file(rotated, buf, sizeof(buf));
    assert_null(strstr(buf, "code=solo"));
    assert_int_equal(occurrences(buf, "code=spring24"), 1);
}

/* Started as root: refused without server.user unless allowed; with it, the
 * process (every thread) runs as that user after binding, and works. */
static void test_privileges(void **state)
{
    struct fx *f = *state;
    if (geteuid() != 0)
        skip();
    assert_int_equal(h_daemon_start(&f->d, &f->r, "server.allow_root = off", false), -1);
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 1);
    assert_non_null(strstr(h_daemon_log(&f->d), "refusing to run as root"));
    f->d.pid = 0;

    assert_int_equal(h_daemon_start(&f->d, &f->r,
                                    "server.user = nobody\n"
                                    "server.group = nogroup\n"
                                    "server.allow_root = off",
                                    true),
                     0);
    char path[64], status[4096];
    snprintf(path, sizeof(path), "/proc/%d/status", (int)f->d.pid);
    h_read_file(path, status, sizeof(status));
    assert_non_null(strstr(status, "Uid:\t65534\t65534\t65534\t65534\n"));
    assert_non_null(strstr(status, "Gid:\t65534\t65534\t65534\t65534\n"));
    assert_non_null(strstr(status, "Groups:\t65534 \n"));
    assert_non_null(strstr(h_daemon_log(&f->d), "event=privileges_dropped user=nobody"));
    /* The spool stays writable: a shutdown with Redis away spools as nobody. */
    char spool[400];
    struct stat st;
    snprintf(spool, sizeof(spool), "%s/spool", f->r.dir);
    assert_int_equal(stat(spool, &st), 0);
    assert_int_equal(st.st_uid, 65534);
    assert_int_equal(get(f, "/spring24", BROWSER), 302);
    assert_int_equal(h_wait_hget(&f->r, "hc:clicks:spring24", "total", 1, 3000), 1);

    /* core_dumps = off (review item 18): not dumpable, so the kernel gives
     * the files of /proc/PID to root although the process runs as nobody.
     * On: dumpable after the change of user too (which had reset it to 0). */
    snprintf(path, sizeof(path), "/proc/%d/status", (int)f->d.pid);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_uid, 0);
    assert_int_equal(h_daemon_stop(&f->d, SIGTERM), 0);
    assert_int_equal(h_daemon_start(&f->d, &f->r,
                                    "server.user = nobody\n"
                                    "server.group = nogroup\n"
                                    "server.allow_root = off\n"
                                    "server.core_dumps = on",
                                    true),
                     0);
    snprintf(path, sizeof(path), "/proc/%d/status", (int)f->d.pid);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_uid, 65534);
}

static int run_cmd(const char *cmd, char *out, size_t cap)
{
    char *argv[] = {"/bin/sh", "-c", (char *)cmd, NULL};
    static char err[65536];
    int rc = h_run(argv, NULL, out, cap, err, sizeof(err));
    if (rc != 0)
        fprintf(stderr, "%s: exit %d\n%s\n%s\n", cmd, rc, out, err);
    return rc;
}

/* make install into a temp DESTDIR puts every file in place with the
 * installed paths, keeps an existing conf, and make uninstall takes it out. */
static void test_install(void **state)
{
    struct fx *f = *state;
    char cmd[2048], dest[400], path[600];
    const char *bin = getenv("HOPCOUNT_BIN");
    char build[300] = "build";
    if (bin != NULL && strrchr(bin, '/') != NULL)
        snprintf(build, sizeof(build), "%.*s", (int)(strrchr(bin, '/') - bin), bin);
    snprintf(dest, sizeof(dest), "%s/dest", f->r.dir);
    /* Install what this run tested: the same objects, sanitized or not. */
    if (strstr(build, "san") != NULL)
        strncat(build, " SANITIZE=1", sizeof(build) - strlen(build) - 1);
    snprintf(cmd, sizeof(cmd),
             "make -s --no-print-directory install BUILD=%s DESTDIR=%s PREFIX=/usr/local",
             build, dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    const char *files[] = {
        "/usr/local/sbin/hopcount",
        "/usr/local/bin/hopctl",
        "/usr/local/etc/hopcount/hopcount.conf",
        "/usr/local/etc/hopcount/bots.txt",
        "/usr/local/etc/hopcount/scanners.txt",
        "/usr/local/share/man/man8/hopcount.8",
        "/usr/local/share/man/man5/hopcount.conf.5",
        "/usr/local/share/man/man1/hopctl.1",
        "/usr/local/lib/systemd/system/hopcount.service",
        "/usr/local/lib/systemd/system/hopcount-prune.service",
        "/usr/local/lib/systemd/system/hopcount-prune.timer",
    };
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        struct stat st;
        snprintf(path, sizeof(path), "%s%s", dest, files[i]);
        if (stat(path, &st) != 0)
            fail_msg("not installed: %s", files[i]);
        if (strstr(files[i], "bin/") != NULL)
            assert_true((st.st_mode & 0111) == 0111);
    }
    /* The installed conf is valid and names installed paths; the binaries
     * know where it is. */
    snprintf(cmd, sizeof(cmd), "%s/usr/local/sbin/hopcount -h", dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    assert_non_null(strstr(f->resp, "/usr/local/etc/hopcount/hopcount.conf"));
    snprintf(cmd, sizeof(cmd), "%s/usr/local/bin/hopctl --help", dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    assert_non_null(strstr(f->resp, "/usr/local/etc/hopcount/hopcount.conf"));
    snprintf(cmd, sizeof(cmd),
             "sed -n 's/^bots_file = //p; s/^scanners_file = //p; s/^spool_dir = //p' "
             "%s/usr/local/etc/hopcount/hopcount.conf",
             dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    assert_string_equal(f->resp,
                        "/usr/local/etc/hopcount/bots.txt\n/usr/local/etc/hopcount/"
                        "scanners.txt\n/var/lib/hopcount/spool\n");
    snprintf(cmd, sizeof(cmd),
             "grep -E '^(ExecStart|ExecReload|StateDirectory)=' "
             "%s/usr/local/lib/systemd/system/hopcount.service",
             dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    assert_non_null(strstr(f->resp, "ExecStart=/usr/local/sbin/hopcount -c "
                                    "/usr/local/etc/hopcount/hopcount.conf\n"));

    /* systemd accepts the unit as written (where systemd-analyze is there):
     * pointed at the DESTDIR copies, no line names the unit. */
    snprintf(cmd, sizeof(cmd),
             "command -v systemd-analyze >/dev/null || exit 0; "
             "sed 's|/usr/local/|%s/usr/local/|g' "
             "%s/usr/local/lib/systemd/system/hopcount.service "
             ">%s/hopcount.service && systemd-analyze verify --man=no "
             "%s/hopcount.service 2>&1 | "
             "grep 'hopcount.service' || true",
             dest, dest, dest, dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    if (f->resp[0] != '\0')
        fail_msg("systemd-analyze verify: %s", f->resp);
    /* The retention pass's service and timer, side by side. */
    snprintf(
        cmd, sizeof(cmd),
        "command -v systemd-analyze >/dev/null || exit 0; cd %s && "
        "for u in hopcount-prune.service hopcount-prune.timer; do "
        "sed 's|/usr/local/|%s/usr/local/|g' usr/local/lib/systemd/system/$u >$u; done; "
        "systemd-analyze verify --man=no hopcount-prune.timer hopcount-prune.service "
        "2>&1 "
        "| grep 'hopcount-prune' || true",
        dest, dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    if (f->resp[0] != '\0')
        fail_msg("systemd-analyze verify: %s", f->resp);

    /* An existing conf is kept. */
    snprintf(
        cmd, sizeof(cmd),
        "echo '# mine' >> %s/usr/local/etc/hopcount/hopcount.conf && "
        "make -s --no-print-directory install BUILD=%s DESTDIR=%s PREFIX=/usr/local && "
        "tail -1 %s/usr/local/etc/hopcount/hopcount.conf",
        dest, build, dest, dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    assert_non_null(strstr(f->resp, "# mine"));

    snprintf(
        cmd, sizeof(cmd),
        "make -s --no-print-directory uninstall BUILD=%s DESTDIR=%s PREFIX=/usr/local",
        build, dest);
    assert_int_equal(run_cmd(cmd, f->resp, RESP), 0);
    for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
        snprintf(path, sizeof(path), "%s%s", dest, files[i]);
        if (strstr(files[i], "/etc/") == NULL && access(path, F_OK) == 0)
            fail_msg("left after uninstall: %s", files[i]);
    }
}

/* The man pages render without a warning. */
static void test_man_pages(void **state)
{
    (void)state;
    const char *pages[] = {"man/hopcount.8", "man/hopcount.conf.5", "man/hopctl.1"};
    char cmd[600], out[65536], err[65536];
    for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
        snprintf(cmd, sizeof(cmd), "MANWIDTH=80 man --warnings -E UTF-8 -l %s", pages[i]);
        char *argv[] = {"/bin/sh", "-c", cmd, NULL};
        assert_int_equal(h_run(argv, NULL, out, sizeof(out), err, sizeof(err)), 0);
        if (err[0] != '\0')
            fail_msg("%s: %s", pages[i], err);
        assert_true(strlen(out) > 500);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_signals_from_the_start, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_reload_applies, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_broken, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_bots, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reload_under_load, setup, teardown),
        cmocka_unit_test_setup_teardown(test_metrics_after_traffic, setup, teardown),
        cmocka_unit_test_setup_teardown(test_log_file_reopen, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_privileges, setup_redis, teardown),
        cmocka_unit_test_setup_teardown(test_install, setup_redis, teardown),
        cmocka_unit_test(test_man_pages),
    };
    return cmocka_run_group_tests_name("ops", tests, NULL, NULL);
}
