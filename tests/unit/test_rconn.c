/* Unit tests of one Redis connection's state machine (src/daemon/rconn.c)
 * against a real redis-server: the handshake (AUTH, SELECT), a refused
 * password, the per-command timeout hiredis 0.14 lacks, and reconnection
 * with exponential backoff. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <event2/event.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../e2e/harness.h"
#include "conf.h"
#include "rconn.h"
#include "util.h"

struct fx {
    struct h_redis r;
    struct conf *conf;
    struct event_base *base;
    struct rconn *rc;
    long long downs[16]; /* when each DOWN came (ms) */
    int ndowns, nreadys;
    bool replied;
    bool reply_null;
    long long replied_at;
};

static void on_state(struct rconn *rc, enum rconn_state st, void *arg)
{
    struct fx *f = arg;
    (void)rc;
    if (st == RCONN_READY)
        f->nreadys++;
    else if (st == RCONN_DOWN && f->ndowns < 16)
        f->downs[f->ndowns++] = h_now_ms();
}

static void on_reply(struct rconn *rc, struct redisReply *r, void *arg)
{
    struct fx *f = arg;
    (void)rc;
    f->replied = true;
    f->reply_null = r == NULL;
    f->replied_at = h_now_ms();
}

static bool run_until(struct fx *f, bool *flag, int ms)
{
    long long end = h_now_ms() + ms;
    while (!*flag && h_now_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return *flag;
}

static bool wait_ready(struct fx *f, int ms)
{
    long long end = h_now_ms() + ms;
    while (!rconn_ready(f->rc) && h_now_ms() < end)
        event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
    return rconn_ready(f->rc);
}

static struct fx *fx_new(void)
{
    struct fx *f = calloc(1, sizeof(*f));
    f->conf = conf_new();
    f->conf->command_timeout_ms = 200;
    f->conf->connect_timeout_ms = 200;
    f->base = event_base_new();
    return f;
}

static void connect_to(struct fx *f)
{
    f->conf->redis_port = f->r.port;
    f->rc = rconn_new(f->base, f->conf, "test", on_state, f);
}

static int teardown(void **state)
{
    struct fx *f = *state;
    rconn_free(f->rc);
    event_base_free(f->base);
    conf_free(f->conf);
    kill(f->r.pid, SIGCONT);
    h_redis_stop(&f->r, false);
    char cmd[400];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->r.dir);
    int rc = f->r.dir[0] ? system(cmd) : 0;
    free(f);
    return rc == 0 ? 0 : -1;
}

static int setup_auth_db(void **state)
{
    struct fx *f = fx_new();
    *state = f;
    snprintf(f->r.password, sizeof(f->r.password), "pw-%d", (int)getpid());
    f->r.db = 2;
    if (h_redis_start(&f->r) != 0)
        return -1;
    f->conf->redis_password = xstrdup(f->r.password);
    f->conf->redis_db = 2;
    return 0;
}

static void test_handshake_auth_select(void **state)
{
    struct fx *f = *state;
    connect_to(f);
    assert_true(wait_ready(f, 3000));
    const char *argv[] = {"SET", "rconn-test", "1"};
    size_t len[] = {3, 10, 1};
    assert_int_equal(rconn_command(f->rc, on_reply, f, 3, argv, len), 0);
    assert_true(run_until(f, &f->replied, 3000));
    assert_false(f->reply_null);
    assert_int_equal(h_redis_int(&f->r, "EXISTS rconn-test"), 1); /* in database 2 */
    struct h_redis zero = f->r;
    zero.db = 0;
    assert_int_equal(h_redis_int(&zero, "EXISTS rconn-test"), 0);
}

static void test_wrong_password_never_ready(void **state)
{
    struct fx *f = *state;
    free(f->conf->redis_password);
    f->conf->redis_password = xstrdup("wrong");
    connect_to(f);
    assert_false(wait_ready(f, 1000));
    assert_int_equal(f->nreadys, 0);
    const char *argv[] = {"PING"};
    size_t len[] = {4};
    assert_int_equal(rconn_command(f->rc, on_reply, f, 1, argv, len), -1); /* refused */
}

static int setup_plain(void **state)
{
    struct fx *f = fx_new();
    *state = f;
    return h_redis_start(&f->r);
}

/* A frozen Redis: the command fails at command_timeout_ms (200 here), the
 * connection goes down, and comes back once Redis does. */
static void test_command_timeout(void **state)
{
    struct fx *f = *state;
    connect_to(f);
    assert_true(wait_ready(f, 3000));
    kill(f->r.pid, SIGSTOP);
    const char *argv[] = {"PING"};
    size_t len[] = {4};
    long long sent = h_now_ms();
    assert_int_equal(rconn_command(f->rc, on_reply, f, 1, argv, len), 0);
    assert_true(run_until(f, &f->replied, 3000));
    assert_true(f->reply_null);
    long long took = f->replied_at - sent;
    if (took < 150 || took > 1000)
        fail_msg("the command failed after %lld ms; command_timeout_ms is 200", took);
    assert_true(f->ndowns >= 1);
    kill(f->r.pid, SIGCONT);
    assert_true(wait_ready(f, 5000));
}

/* A server that accepts and closes at once: every attempt fails, and the
 * next waits twice as long (100, 200, 400 ms...), capped; the attempts are
 * timed where they arrive. */
static void test_backoff_doubles(void **state)
{
    struct fx *f = *state;
    int port = h_free_port();
    int ls = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int one = 1;
    setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    struct sockaddr_in sa = {.sin_family = AF_INET,
                             .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(ls, (struct sockaddr *)&sa, sizeof(sa)), 0);
    assert_int_equal(listen(ls, 16), 0);
    f->conf->redis_port = port;
    f->rc = rconn_new(f->base, f->conf, "test", on_state, f);
    long long at[6];
    int n = 0;
    long long end = h_now_ms() + 6000; /* the gaps add up to 3.1 s */
    while (n < 6 && h_now_ms() < end) {
        event_base_loop(f->base, EVLOOP_ONCE | EVLOOP_NONBLOCK);
        int c = accept(ls, NULL, NULL);
        if (c >= 0) {
            at[n++] = h_now_ms();
            close(c);
        }
    }
    close(ls);
    assert_int_equal(n, 6);
    /* The gap after the k-th failure is its backoff, 100 * 2^(k-1) ms: a
     * timer never fires early; a loaded machine may make it late. */
    for (int i = 1; i < 6; i++) {
        long long gap = at[i] - at[i - 1], want = 100LL << (i - 1);
        if (gap < want - 5 || gap > want + 1000)
            fail_msg(
                "attempt %d came %lld ms after the one before; the backoff is %lld ms",
                i + 1, gap, want);
    }
    assert_int_equal(f->nreadys, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_handshake_auth_select, setup_auth_db,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_wrong_password_never_ready, setup_auth_db,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_command_timeout, setup_plain, teardown),
        cmocka_unit_test_setup_teardown(test_backoff_doubles, setup_plain, teardown),
    };
    return cmocka_run_group_tests_name("rconn", tests, NULL, NULL);
}
