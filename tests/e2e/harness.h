/* harness: end-to-end test helpers: a real redis-server on a free port in a
 * temp dir, the real build/hopcount with a generated conf, raw HTTP over
 * loopback. Children die with the test process (PR_SET_PDEATHSIG). */
#ifndef HOPCOUNT_TEST_HARNESS_H
#define HOPCOUNT_TEST_HARNESS_H

#include <hiredis.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct h_redis {
    pid_t pid;
    int port;
    char dir[256];
    bool aof; /* appendonly yes, appendfsync always: nothing acknowledged is lost */
    /* Set before h_redis_start; the daemon's conf and h_redis_connect follow. */
    char password[64]; /* requirepass (the daemon reads it from password_file) */
    bool unix_socket;  /* also listen on DIR/redis.sock: the daemon uses it */
    int db;            /* the database the daemon and h_redis_connect use */
    bool cluster;      /* cluster-enabled (a node of no cluster yet: CLUSTER KEYSLOT) */
    int node_timeout_ms; /* cluster-node-timeout when cluster (0: 1000) */
    int replica_of;      /* replicaof 127.0.0.1 PORT when not 0 */
    int bus_port;        /* the cluster bus port (picked at the first start) */
};

struct h_daemon {
    pid_t pid;
    int port;
    int admin_port;
    int dash_port; /* the dashboard listener's */
    char conf[300];
    char log[300];
    bool exited; /* reaped: exit_status holds its status */
    int exit_status;
};

/* fork + exec argv with stdout and stderr to logpath (NULL: /dev/null);
 * the child gets SIGKILL if the test process dies. */
pid_t h_spawn(char *const argv[], const char *logpath);

/* Remove a test's temp dir (rm -rf), unless HOPCOUNT_TEST_KEEP is set or
 * dir is empty; a failure is said on stderr. */
void h_rmdir(const char *dir);

/* A TCP port on 127.0.0.1 that nothing listens on right now. */
int h_free_port(void);

/* Start (or restart, keeping port and dir) a redis-server; waits until it
 * answers PING. 0 or -1. */
int h_redis_start(struct h_redis *r);
/* Stop it: SHUTDOWN SAVE when save is true (data survives a restart). */
void h_redis_stop(struct h_redis *r, bool save);
/* A fresh synchronous connection; the caller frees it. */
redisContext *h_redis_connect(const struct h_redis *r);
/* Children started from now on (redis-server, hopcount) run offset_s
 * seconds ahead of the real clock (libfaketime, LD_PRELOAD; monotonic
 * clocks stay real); h_fake_clock(0) ends it. 0, or -1 when libfaketime is
 * not installed. */
int h_fake_clock(long long offset_s);

/* Run a command (printf-like, hiredis syntax) and return the integer reply,
 * or -1 on error / non-integer. */
long long h_redis_int(const struct h_redis *r, const char *fmt, ...);
/* HGET key field as a number; 0 when absent. */
long long h_hget(const struct h_redis *r, const char *key, const char *field);
/* calls= of cmdstat_NAME in INFO commandstats (0 when never called). */
long long h_cmd_calls(const struct h_redis *r, const char *name);
/* HSET the link and PUBLISH its code on hc:events. */
void h_link_add(const struct h_redis *r, const char *code, const char *url,
                const char *campaign);

/* Write a conf for r (plus `extra` lines, "section.key = value" separated by
 * newlines, replacing defaults) and start hopcount; waits until /readyz is
 * 200 when wait_ready. 0 or -1. */
int h_daemon_start(struct h_daemon *d, const struct h_redis *r, const char *extra,
                   bool wait_ready);
/* Pick ports and write the conf for r into d->conf (as h_daemon_start does)
 * without starting anything: for hopctl. 0 or -1. */
int h_daemon_conf(struct h_daemon *d, const struct h_redis *r, const char *extra);
/* Write d's conf again (same ports and files) with other extra lines, for a
 * reload. 0 or -1. */
int h_daemon_rewrite_conf(struct h_daemon *d, const struct h_redis *r, const char *extra);
/* Send sig and wait; returns the exit status (or 128+signal), -1 on timeout. */
int h_daemon_stop(struct h_daemon *d, int sig);
/* True while the process runs. */
bool h_daemon_alive(struct h_daemon *d);
/* The daemon's stderr so far (static buffer). */
const char *h_daemon_log(const struct h_daemon *d);

/* End a test: stop the daemon with SIGTERM (it must exit 0, with no
 * sanitizer report in its log), stop Redis (resumed first, if frozen), and
 * remove the temp dir unless HOPCOUNT_TEST_KEEP is set. 0, or -1 when the
 * daemon did not end cleanly (reported on stderr with its log). */
int h_finish(struct h_redis *r, struct h_daemon *d);

/* Connect to 127.0.0.1:port; fd or -1. Receive timeout 5 s. */
int h_connect(int port);
/* The same from source address src (127.x.y.z; NULL: the default). */
int h_connect_from(int port, const char *src);
/* Send raw bytes on a new connection and read until EOF (or 5 s); returns
 * the bytes read into resp (NUL-terminated), -1 on connect failure. */
int h_raw(int port, const char *req, size_t len, char *resp, size_t cap);
/* The same from source address src. */
int h_raw_from(int port, const char *src, const char *req, size_t len, char *resp,
               size_t cap);
/* GET (or HEAD) path with extra header lines ("Name: v\r\n..."), on a new
 * connection with Connection: close. Returns the status, -1 on failure. */
int h_get(int port, const char *method, const char *path, const char *headers, char *resp,
          size_t cap);
/* Read one response from fd (headers, plus Content-Length body unless head).
 * Returns its status, -1 on EOF/timeout. */
int h_read_response(int fd, bool head, char *resp, size_t cap);
/* Status of a response text; -1 when it is not one. */
int h_status(const char *resp);
/* Value of header name in resp, copied into buf; NULL when absent. */
const char *h_header(const char *resp, const char *name, char *buf, size_t cap);

/* Poll until h_hget(key, field) == want or ms pass; returns the last value. */
long long h_wait_hget(const struct h_redis *r, const char *key, const char *field,
                      long long want, int ms);

/* Field names for the current UTC hour/day. */
void h_fields(char *day, char *hour, char *botday, size_t cap);

void h_sleep_ms(int ms);
/* The wall clock, Unix seconds. */
long long h_now_wall_s(void);
/* CLOCK_MONOTONIC in milliseconds, for deadlines. */
long long h_now_ms(void);

/* Processes started from now on load the fault shim (tests/faults/
 * fault_shim.c; $HC_FAULT_SHIM, else build/tests/fault_shim.so), or no
 * longer do. 0, or -1 when the shim is not built. */
int h_preload_shim(bool on);
/* Wait until every follow d counted (tracked, bot, scanner outcomes) is
 * delivered to Redis, its campaign's count too (nothing pending): after it, Redis holds
 * all d counted, so a check that something was NOT counted needs no fixed sleep. false
 * past ms. */
bool h_wait_flushed(const struct h_daemon *d, int ms);
/* Occurrences of needle in the daemon's log so far. */
int h_log_count(const struct h_daemon *d, const char *needle);
/* The value of the sample `name` (with its labels) in d's /metrics; -1 when
 * absent or unreachable. */
long long h_metric(const struct h_daemon *d, const char *name);
/* Send SIGHUP and wait until the reload is counted with result ("success"
 * or "failure") and, on success, every worker has applied it (no fixed
 * sleep). 0, or -1 when that did not happen within 2 s (3 s for workers). */
int h_reload(const struct h_daemon *d, const char *result);

/* Poll d's /readyz until it answers want or ms pass; returns the last status. */
int h_wait_ready(const struct h_daemon *d, int want, int ms);

/* Poll until d's log contains needle or ms pass. */
bool h_wait_log(const struct h_daemon *d, const char *needle, int ms);

/* The file at path in buf (NUL-terminated, truncated at cap - 1; "" when it
 * cannot be read). Returns buf. */
const char *h_read_file(const char *path, char *buf, size_t cap);

/* Run argv to completion (at most 120 s) with stdin from the file input (or
 * /dev/null), its stdout and stderr captured into out and err (NUL-terminated,
 * truncated). Returns its exit status (128+signal), -1 on failure/timeout. */
int h_run(char *const argv[], const char *input, char *out, size_t outcap, char *err,
          size_t errcap);

/* Keep-alive load: clients forked, client i on ports[i % nports], each
 * over the codes PREFIX00..PREFIX(ncodes-1) in turn for ms (at most 200,000
 * requests), reconnecting when the server closes. */
#define H_LOAD_MAX 16
struct h_load {
    int n;
    pid_t pid[H_LOAD_MAX];
    int fd[H_LOAD_MAX];
};
void h_load_start(struct h_load *l, const int *ports, int nports, int clients,
                  const char *prefix, int ncodes, int ms);
/* Wait for the clients: the 302s they received, in all. */
long long h_load_wait(struct h_load *l);

/* Run hopctl ($HOPCTL_BIN, else build/hopctl) -c conf args... (NULL-
 * terminated) with stdin from the file input (or /dev/null), as h_run. */
int h_hopctl(const char *conf, const char *input, char *out, size_t outcap, char *err,
             size_t errcap, ...);
int h_hopctl_v(const char *conf, const char *input, char *out, size_t outcap, char *err,
               size_t errcap, va_list ap);

/* A test fixture's start: redis-server, seed(r) (NULL: nothing) to add
 * links, then hopcount with extra conf lines, ready. 0, or -1 with the
 * daemon's log on stderr. */
int h_fixture_start(struct h_redis *r, struct h_daemon *d, const char *extra,
                    void (*seed)(const struct h_redis *r));
/* Its second half alone, for a Redis already started: 0 or -1 (logged). */
int h_fixture_daemon(const struct h_redis *r, struct h_daemon *d, const char *extra);
/* A fixture's end: h_finish, then free the fixture fx. Its result. */
int h_fixture_end(struct h_redis *r, struct h_daemon *d, void *fx);

#endif
