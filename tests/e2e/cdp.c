/* cdp: headless Chromium over the DevTools protocol on a pipe. */
#include "cdp.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

#define CDP_WAIT_MS 30000
#define LOAD_EVENT "\"method\":\"Page.loadEventFired\""

/* s as the body of a JSON string into out (truncated to cap). */
static void json_escape(char *out, size_t cap, const char *s)
{
    size_t n = 0;
    for (; *s && n + 7 < cap; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            n += (size_t)snprintf(out + n, cap - n, "\\%c", ch);
        else if (ch < 0x20)
            n += (size_t)snprintf(out + n, cap - n, "\\u%04x", ch);
        else
            out[n++] = (char)ch;
    }
    out[n] = '\0';
}

/* The JSON string after `"name":"` in msg, decoded (\" \\ \n \uXXXX below
 * 0x80) into out; -1 when absent. */
static int json_field(const char *msg, const char *name, char *out, size_t cap)
{
    char want[80];
    snprintf(want, sizeof(want), "\"%s\":\"", name);
    const char *p = strstr(msg, want);
    if (p == NULL)
        return -1;
    size_t n = 0;
    for (p += strlen(want); *p && *p != '"' && n + 1 < cap; p++) {
        if (*p != '\\') {
            out[n++] = *p;
            continue;
        }
        p++;
        if (*p == 'n')
            out[n++] = '\n';
        else if (*p == 'u' && strlen(p) >= 5) {
            out[n++] = (char)strtol((char[]){p[1], p[2], p[3], p[4], 0}, NULL, 16);
            p += 4;
        } else if (*p)
            out[n++] = *p;
        else
            break;
    }
    out[n] = '\0';
    return 0;
}

static int send_msg(struct cdp *c, const char *json)
{
    size_t len = strlen(json) + 1; /* with its NUL */
    for (size_t off = 0; off < len;) {
        ssize_t w = write(c->to, json + off, len - off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return -1;
        off += (size_t)w;
    }
    return 0;
}

/* The next message into c->msg, waiting until deadline. 0 or -1. */
static int next_msg(struct cdp *c, long long deadline)
{
    for (;;) {
        char *end = memchr(c->buf, '\0', c->have);
        if (end != NULL) {
            size_t n = (size_t)(end - c->buf) + 1;
            memcpy(c->msg, c->buf, n);
            memmove(c->buf, c->buf + n, c->have - n);
            c->have -= n;
            return 0;
        }
        long long left = deadline - h_now_ms();
        if (left <= 0 || c->have == sizeof(c->buf))
            return -1;
        struct pollfd pfd = {c->from, POLLIN, 0};
        if (poll(&pfd, 1, (int)left) <= 0)
            continue;
        ssize_t r = read(c->from, c->buf + c->have, sizeof(c->buf) - c->have);
        if (r <= 0)
            return -1;
        c->have += (size_t)r;
    }
}

/* Send method(params) (to the page's session unless top) and wait for its
 * answer, in c->msg. 0, or -1 when none came or it is an error. */
static int call(struct cdp *c, int top, const char *method, const char *params)
{
    static char req[CDP_MSG_MAX];
    int id = ++c->next_id;
    if (top || c->session[0] == '\0')
        snprintf(req, sizeof(req), "{\"id\":%d,\"method\":\"%s\",\"params\":%s}", id,
                 method, params);
    else
        snprintf(req, sizeof(req),
                 "{\"id\":%d,\"sessionId\":\"%s\",\"method\":\"%s\",\"params\":%s}", id,
                 c->session, method, params);
    if (send_msg(c, req) != 0)
        return -1;
    char head[32];
    int hn = snprintf(head, sizeof(head), "{\"id\":%d,", id);
    long long deadline = h_now_ms() + CDP_WAIT_MS;
    while (next_msg(c, deadline) == 0) {
        if (strncmp(c->msg, head, (size_t)hn) == 0)
            return strncmp(c->msg + hn, "\"error\"", 7) == 0 ? -1 : 0;
        c->loaded |= strstr(c->msg, LOAD_EVENT) != NULL;
    }
    return -1;
}

static const char *const FLAGS[] = {
    "chromium",
    "--headless=new",
    "--no-sandbox", /* as root in CI */
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
};
#define NFLAGS (sizeof(FLAGS) / sizeof(*FLAGS))

void cdp_chromium_argv(char **argv, int n)
{
    memmove(argv + NFLAGS, argv, (size_t)n * sizeof(*argv));
    memcpy(argv, FLAGS, sizeof(FLAGS));
    argv[NFLAGS + (size_t)n] = NULL;
}

int cdp_open(struct cdp *c, const char *dir, int width)
{
    int to[2], from[2];
    if (pipe2(to, O_CLOEXEC) != 0 || pipe2(from, O_CLOEXEC) != 0)
        return -1;
    char profile[400], size[40], log[400];
    snprintf(profile, sizeof(profile), "--user-data-dir=%s/cdp-profile", dir);
    snprintf(size, sizeof(size), "--window-size=%d,1400", width);
    snprintf(log, sizeof(log), "%s/cdp-chromium.log", dir);
    pid_t parent = getpid();
    c->pid = fork();
    if (c->pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL);
        if (getppid() != parent)
            _exit(127);
        /* Out of the way of 1 to 4 first, so that no dup2 below closes a
         * descriptor still to be moved (dup2 clears close-on-exec). */
        int out = open(log, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        int in = fcntl(to[0], F_DUPFD_CLOEXEC, 10),
            up = fcntl(from[1], F_DUPFD_CLOEXEC, 10);
        out = fcntl(out, F_DUPFD_CLOEXEC, 10);
        if (out < 0 || in < 0 || up < 0 || dup2(out, 1) != 1 || dup2(out, 2) != 2 ||
            dup2(in, 3) != 3 || dup2(up, 4) != 4)
            _exit(126);
        char *argv[CDP_ARGV_MAX] = {"--remote-debugging-pipe", profile, size,
                                    "about:blank"};
        cdp_chromium_argv(argv, 4);
        execvp(argv[0], argv);
        _exit(127);
    }
    close(to[0]);
    close(from[1]);
    c->to = to[1];
    c->from = from[0];
    c->have = 0;
    c->next_id = 0;
    c->session[0] = '\0';
    if (c->pid < 0)
        return -1;
    char target[128];
    if (call(c, 1, "Target.createTarget", "{\"url\":\"about:blank\"}") != 0 ||
        json_field(c->msg, "targetId", target, sizeof(target)) != 0) {
        fprintf(stderr, "cdp: no page from Chromium (see %s): %.300s\n", log, c->msg);
        return -1;
    }
    char params[256];
    snprintf(params, sizeof(params), "{\"targetId\":\"%s\",\"flatten\":true}", target);
    if (call(c, 1, "Target.attachToTarget", params) != 0 ||
        json_field(c->msg, "sessionId", c->session, sizeof(c->session)) != 0 ||
        call(c, 0, "Page.enable", "{}") != 0) {
        fprintf(stderr, "cdp: cannot attach to the page: %.300s\n", c->msg);
        return -1;
    }
    return 0;
}

int cdp_navigate(struct cdp *c, const char *url)
{
    char params[2100], esc[2048];
    json_escape(esc, sizeof(esc), url);
    snprintf(params, sizeof(params), "{\"url\":\"%s\"}", esc);
    c->loaded = 0;
    if (call(c, 0, "Page.navigate", params) != 0 ||
        strstr(c->msg, "\"errorText\"") != NULL)
        return -1;
    long long deadline = h_now_ms() + CDP_WAIT_MS;
    while (!c->loaded && next_msg(c, deadline) == 0)
        c->loaded = strstr(c->msg, LOAD_EVENT) != NULL;
    return c->loaded ? 0 : -1;
}

int cdp_eval_string(struct cdp *c, const char *js, char *out, size_t cap)
{
    size_t n = strlen(js) * 6 + 100;
    char *esc = malloc(n), *params = malloc(n + 100);
    json_escape(esc, n, js);
    snprintf(params, n + 100, "{\"expression\":\"%s\",\"returnByValue\":true}", esc);
    int rc = call(c, 0, "Runtime.evaluate", params);
    free(esc);
    free(params);
    if (rc == 0 && strstr(c->msg, "\"exceptionDetails\"") == NULL &&
        json_field(c->msg, "value", out, cap) == 0)
        return 0;
    snprintf(out, cap, "%s", c->msg);
    return -1;
}

void cdp_close(struct cdp *c)
{
    if (c->pid <= 0)
        return;
    call(c, 1, "Browser.close", "{}");
    close(c->to);
    close(c->from);
    long long deadline = h_now_ms() + 10000;
    int st;
    while (waitpid(c->pid, &st, WNOHANG) == 0 && h_now_ms() < deadline)
        h_sleep_ms(10);
    if (kill(c->pid, 0) == 0) {
        kill(c->pid, SIGKILL);
        waitpid(c->pid, &st, 0);
    }
    c->pid = 0;
}
