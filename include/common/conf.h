/* conf: the hopcount.conf directives, parsed through one table with file:line
 * errors, validated in one pass. */
#ifndef HOPCOUNT_CONF_H
#define HOPCOUNT_CONF_H

#include <stdbool.h>
#include <stdio.h>

#define CONF_URL_MAX 2048
#define CONF_LINE_MAX 8192 /* bytes of one conf line: any legal value fits */

/* How prefetch requests are answered. */
enum conf_prefetch {
    CONF_PREFETCH_REFUSE = 0, /* 503, not counted: the real click comes later */
    CONF_PREFETCH_SERVE = 1,  /* redirected and counted as a bot follow */
};

/* What the access log writes. */
enum conf_access {
    CONF_ACCESS_OFF = 0,
    CONF_ACCESS_ON = 1,     /* a line per request */
    CONF_ACCESS_MINUTE = 2, /* per minute, a line per code, status and outcome */
};

/* How hopcount finds its Redis. */
enum conf_mode {
    CONF_MODE_SINGLE = 0,   /* one Redis at host:port (or unix_socket) */
    CONF_MODE_SENTINEL = 1, /* the primary named master_name, asked of sentinels */
    CONF_MODE_CLUSTER = 2,  /* a Redis Cluster reached through its nodes */
};

#define CONF_ADDRS_MAX 64 /* addresses in one nodes or sentinels list */

/* One IP:PORT of a list. */
struct conf_addr {
    char *host;
    int port;
};

struct conf {
    /* [server] */
    char *listen;       /* "host:port" of the public listener */
    char *admin_listen; /* "host:port" or "off" */
    char *dashboard_listen;        /* "host:port" or "off" (dashboard.c) */
    char *dashboard_password_file; /* "" when unset */
    int threads;        /* workers; 0 in the file means one per CPU */
    int redirect_status;
    char *fallback_url; /* "" when unset */
    char *root_url;     /* "" when unset */
    bool forward_query;
    char *forward_query_keys; /* which query keys forward_query passes on */
    int max_connections;
    int read_timeout_ms;
    int max_header_bytes;
    int max_uri_bytes;
    char *user;  /* drop to this user after binding when started as root; "" */
    char *group; /* and this group ("" = the user's primary group) */
    bool allow_root;
    bool core_dumps; /* leave the process dumpable (debugging only) */
    bool proxy_protocol; /* the public listener expects a PROXY header */
    /* [redis] */
    int redis_mode;          /* enum conf_mode */
    char *redis_nodes;       /* cluster seed nodes, "IP:PORT, ..." */
    char *redis_sentinels;   /* sentinels, "IP:PORT, ..." */
    char *redis_master_name; /* the primary's name at the sentinels */
    int wait_replicas;       /* a batch is confirmed once this many replicas have it */
    int wait_timeout_ms;     /* how long one WAIT may block */
    char *redis_host; /* an IP literal */
    int redis_port;
    char *redis_unix_socket; /* "" when unset; wins over host/port */
    char *redis_password_file;
    int redis_db;
    char *key_prefix;
    int connect_timeout_ms;
    int command_timeout_ms;
    /* [tracking] */
    int flush_interval_ms;
    int flush_batch_keys;
    bool honour_dnt;
    bool honour_gpc;
    int prefetch; /* enum conf_prefetch */
    char *bots_file;
    char *scanners_file;   /* scanner networks, "" = none */
    char *trusted_proxies; /* networks whose X-Forwarded-For / PROXY is believed */
    bool scanner_burst;    /* the burst rule is on */
    int scanner_window_s;
    int scanner_links;
    int scanner_clients; /* the burst table's slots */
    bool uniques;        /* count unique followers per link and day (uniq.h) */
    char *spool_dir;
    int max_pending_keys;
    int shutdown_timeout_ms;
    /* [retention] (hopctl prune) */
    int hourly_days; /* h: fields are kept this many days */
    int daily_days;  /* d:, bot:d:, scan:d: fields this many days; 0: forever */
    /* [links] */
    int cache_max_entries;
    int cache_ttl_s;
    int negative_ttl_s;
    /* [log] */
    int log_level; /* enum log_level */
    int access_log; /* enum conf_access */
    char *log_file; /* "" = stderr */

    /* Derived at load time, not directives. */
    char *path;           /* the file this came from */
    char *redis_password; /* contents of password_file, or NULL */
    char *dashboard_password; /* contents of dashboard_password_file, or NULL */
    int *lines;           /* each directive's line in path (0: not set there) */
};

/* A conf holding every default. Owned by the caller; free with conf_free. */
struct conf *conf_new(void);
void conf_free(struct conf *c);

/* Parse the file at path into a fresh conf. Every error is written to err as
 * "FILE:LINE: key: reason (accepted: ...)" lines, all in one pass; on any error
 * returns NULL. The caller owns the result. */
struct conf *conf_load(const char *path, FILE *err);

/* Same, from an open stream named `name` in messages (used by tests and -t). */
struct conf *conf_load_stream(FILE *in, const char *name, FILE *err);

/* A deep copy of c (the caller frees it). */
struct conf *conf_dup(const struct conf *c);

/* Copy into dst every directive SIGHUP applies live, from src. */
void conf_apply_reloadable(struct conf *dst, const struct conf *src);

/* Call fn(section, name, arg) for each directive whose value differs between
 * a and b and which needs a restart to change (fn may be NULL). Returns how
 * many. */
typedef void conf_change_fn(const char *section, const char *name, void *arg);
int conf_restart_changes(const struct conf *a, const struct conf *b, conf_change_fn *fn,
                         void *arg);

/* Print the effective conf in the file's own syntax. */
void conf_print(const struct conf *c, FILE *out);

/* "FILE:LINE: key" (or "FILE: key" when the key took its default), for
 * errors found after the parse, at start or by -t. Returns buf. */
const char *conf_where(const struct conf *c, const char *section, const char *key,
                       char *buf, size_t cap);

/* redirect_status is permanent (301, 308): browsers cache it, and the
 * follows they then skip are never counted. */
bool conf_redirect_permanent(const struct conf *c);

/* Warnings worth a log line at start (301/308...), written one per line. */
void conf_warnings(const struct conf *c, FILE *out);

/* Split "host:port" or "[v6]:port" into host (caller frees) and port. -1 on
 * error. */
int conf_split_hostport(const char *s, char **host, int *port);

/* Parse "IP:PORT, IP:PORT" into *out (the caller frees it with
 * conf_addrs_free). Returns how many (0 for an empty string), or -1. */
int conf_addrs_parse(const char *s, struct conf_addr **out);
void conf_addrs_free(struct conf_addr *a, int n);

#endif
