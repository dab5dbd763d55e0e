/* conf: the hopcount.conf directives, parsed through one table with file:line
 * errors, validated in one pass (inih does the INI syntax). */
#include "conf.h"

#include <errno.h>
#include <stdarg.h>
#include <ini.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "cidr.h"
#include "code.h"
#include "log.h"
#include "url.h"
#include "util.h"

/* How a directive's value is parsed and stored. */
enum conf_type {
    CT_INT,          /* int in [min, max] */
    CT_INT_AUTO,     /* int in [min, max], or "auto" stored as 0 */
    CT_BOOL,         /* on/off (also yes/no, true/false, 1/0) */
    CT_PATH,         /* free-form non-empty path */
    CT_PATH_OPT,     /* a path or empty */
    CT_HOSTPORT,     /* IP literal host:port */
    CT_HOSTPORT_OFF, /* host:port or "off" */
    CT_IP,           /* an IPv4 or IPv6 literal */
    CT_URL_OPT,      /* empty, or a valid redirect target */
    CT_PREFIX,       /* Redis key prefix [A-Za-z0-9_.-]{1,32} */
    CT_NAME_OPT,     /* a user or group name [A-Za-z0-9_.-]{1,32}, or empty */
    CT_STATUS,       /* 301 302 303 307 308 */
    CT_CHOICE,       /* one of the directive's choices, stored as its index */
    CT_LEVEL,        /* debug | info | warn | error */
    CT_KEYLIST,      /* query keys and key prefixes: "utm_*, ref" */
    CT_ADDRLIST,     /* IP:PORT, IP:PORT, ... (empty allowed) */
    CT_NETLIST,      /* CIDR, CIDR, ... (empty allowed) */
};

struct directive {
    const char *section;
    const char *name;
    enum conf_type type;
    long long min, max;
    const char *def;
    size_t offset;
    bool reloadable; /* SIGHUP may change it live */
    const char *const *choices; /* CT_CHOICE: the words, NULL-terminated */
};

static const char *const prefetch_choices[] = {"refuse", "serve",
                                               NULL}; /* conf_prefetch */
static const char *const access_choices[] = {"off", "on", "minute",
                                             NULL}; /* conf_access */
static const char *const mode_choices[] = {"single", "sentinel", "cluster",
                                           NULL}; /* conf_mode */

#define O(field) offsetof(struct conf, field)

static const struct directive directives[] = {
    {"server", "listen", CT_HOSTPORT, 0, 0, "127.0.0.1:8080", O(listen), false, NULL},
    {"server", "admin_listen", CT_HOSTPORT_OFF, 0, 0, "127.0.0.1:9090", O(admin_listen),
     false, NULL},
    {"server", "dashboard_listen", CT_HOSTPORT_OFF, 0, 0, "127.0.0.1:9091",
     O(dashboard_listen), false, NULL},
    {"server", "dashboard_password_file", CT_PATH_OPT, 0, 0, "",
     O(dashboard_password_file), false, NULL},
    {"server", "threads", CT_INT_AUTO, 1, 256, "auto", O(threads), false, NULL},
    {"server", "redirect_status", CT_STATUS, 0, 0, "302", O(redirect_status), true, NULL},
    {"server", "fallback_url", CT_URL_OPT, 0, 0, "", O(fallback_url), true, NULL},
    {"server", "root_url", CT_URL_OPT, 0, 0, "", O(root_url), true, NULL},
    {"server", "forward_query", CT_BOOL, 0, 0, "off", O(forward_query), true, NULL},
    {"server", "forward_query_keys", CT_KEYLIST, 0, 0, "utm_*", O(forward_query_keys),
     true, NULL},
    {"server", "max_connections", CT_INT, 1, 1000000, "10000", O(max_connections), false,
     NULL},
    {"server", "read_timeout_ms", CT_INT, 100, 3600000, "10000", O(read_timeout_ms),
     false, NULL},
    {"server", "max_header_bytes", CT_INT, 1024, 65536, "8192", O(max_header_bytes),
     false, NULL},
    {"server", "max_uri_bytes", CT_INT, 256, 65536, "4096", O(max_uri_bytes), false,
     NULL},
    {"server", "user", CT_NAME_OPT, 0, 0, "", O(user), false, NULL},
    {"server", "group", CT_NAME_OPT, 0, 0, "", O(group), false, NULL},
    {"server", "allow_root", CT_BOOL, 0, 0, "off", O(allow_root), false, NULL},
    {"server", "core_dumps", CT_BOOL, 0, 0, "off", O(core_dumps), false, NULL},
    {"server", "proxy_protocol", CT_BOOL, 0, 0, "off", O(proxy_protocol), false, NULL},
    {"redis", "mode", CT_CHOICE, 0, 0, "single", O(redis_mode), false, mode_choices},
    {"redis", "nodes", CT_ADDRLIST, 0, 0, "", O(redis_nodes), false, NULL},
    {"redis", "sentinels", CT_ADDRLIST, 0, 0, "", O(redis_sentinels), false, NULL},
    {"redis", "master_name", CT_NAME_OPT, 0, 0, "", O(redis_master_name), false, NULL},
    {"redis", "wait_replicas", CT_INT, 0, 16, "0", O(wait_replicas), true, NULL},
    {"redis", "wait_timeout_ms", CT_INT, 10, 60000, "500", O(wait_timeout_ms), true,
     NULL},
    {"redis", "host", CT_IP, 0, 0, "127.0.0.1", O(redis_host), false, NULL},
    {"redis", "port", CT_INT, 1, 65535, "6379", O(redis_port), false, NULL},
    {"redis", "unix_socket", CT_PATH_OPT, 0, 0, "", O(redis_unix_socket), false, NULL},
    {"redis", "password_file", CT_PATH_OPT, 0, 0, "", O(redis_password_file), false,
     NULL},
    {"redis", "db", CT_INT, 0, 1023, "0", O(redis_db), false, NULL},
    {"redis", "key_prefix", CT_PREFIX, 0, 0, "hc", O(key_prefix), false, NULL},
    {"redis", "connect_timeout_ms", CT_INT, 10, 60000, "1000", O(connect_timeout_ms),
     false, NULL},
    {"redis", "command_timeout_ms", CT_INT, 10, 60000, "2000", O(command_timeout_ms),
     false, NULL},
    {"tracking", "flush_interval_ms", CT_INT, 10, 60000, "1000", O(flush_interval_ms),
     true, NULL},
    {"tracking", "flush_batch_keys", CT_INT, 1, 1024, "16", O(flush_batch_keys), true,
     NULL},
    {"tracking", "honour_dnt", CT_BOOL, 0, 0, "on", O(honour_dnt), true, NULL},
    {"tracking", "honour_gpc", CT_BOOL, 0, 0, "on", O(honour_gpc), true, NULL},
    {"tracking", "prefetch", CT_CHOICE, 0, 0, "refuse", O(prefetch), true,
     prefetch_choices},
    {"tracking", "bots_file", CT_PATH_OPT, 0, 0, "conf/bots.txt", O(bots_file), true,
     NULL},
    {"tracking", "scanners_file", CT_PATH_OPT, 0, 0, "conf/scanners.txt",
     O(scanners_file), true, NULL},
    {"tracking", "trusted_proxies", CT_NETLIST, 0, 0, "", O(trusted_proxies), true, NULL},
    {"tracking", "scanner_burst", CT_BOOL, 0, 0, "on", O(scanner_burst), true, NULL},
    {"tracking", "scanner_window_s", CT_INT, 1, 300, "10", O(scanner_window_s), true,
     NULL},
    {"tracking", "scanner_links", CT_INT, 2, 6, "3", O(scanner_links), true, NULL},
    {"tracking", "scanner_clients", CT_INT, 1024, 16777216, "65536", O(scanner_clients),
     false, NULL},
    {"tracking", "uniques", CT_BOOL, 0, 0, "off", O(uniques), true, NULL},
    {"tracking", "spool_dir", CT_PATH, 0, 0, "var/spool", O(spool_dir), false, NULL},
    {"tracking", "max_pending_keys", CT_INT, 1000, 100000000, "1000000",
     O(max_pending_keys), true, NULL},
    {"tracking", "shutdown_timeout_ms", CT_INT, 100, 600000, "5000",
     O(shutdown_timeout_ms), true, NULL},
    {"retention", "hourly_days", CT_INT, 1, 3650, "35", O(hourly_days), true, NULL},
    {"retention", "daily_days", CT_INT, 0, 36500, "800", O(daily_days), true, NULL},
    {"links", "cache_max_entries", CT_INT, 100, 100000000, "1000000",
     O(cache_max_entries), true, NULL},
    {"links", "cache_ttl_s", CT_INT, 1, 86400, "60", O(cache_ttl_s), true, NULL},
    {"links", "negative_ttl_s", CT_INT, 1, 3600, "10", O(negative_ttl_s), true, NULL},
    {"log", "level", CT_LEVEL, 0, 0, "info", O(log_level), true, NULL},
    {"log", "access_log", CT_CHOICE, 0, 0, "off", O(access_log), true, access_choices},
    {"log", "file", CT_PATH_OPT, 0, 0, "", O(log_file), true, NULL},
};

#define NDIRECTIVES (sizeof(directives) / sizeof(directives[0]))

static const char *const sections[] = {"server", "redis",     "tracking",
                                       "links",  "retention", "log"};

static const int statuses[] = {301, 302, 303, 307, 308};

/* The accepted values of a directive, for error messages. */
static void accepted(const struct directive *d, char *buf, size_t sz)
{
    switch (d->type) {
    case CT_INT:
        snprintf(buf, sz, "%lld..%lld", d->min, d->max);
        break;
    case CT_INT_AUTO:
        snprintf(buf, sz, "auto or %lld..%lld", d->min, d->max);
        break;
    case CT_BOOL:
        snprintf(buf, sz, "on or off");
        break;
    case CT_PATH:
        snprintf(buf, sz, "a path");
        break;
    case CT_PATH_OPT:
        snprintf(buf, sz, "a path, or empty");
        break;
    case CT_HOSTPORT:
        snprintf(buf, sz, "IP:PORT, e.g. 127.0.0.1:8080 or [::1]:8080");
        break;
    case CT_HOSTPORT_OFF:
        snprintf(buf, sz, "IP:PORT or off");
        break;
    case CT_IP:
        snprintf(buf, sz, "an IPv4 or IPv6 address literal");
        break;
    case CT_URL_OPT:
        snprintf(buf, sz, "empty, or an absolute http/https URL of at most %d bytes",
                 URL_MAX_LEN);
        break;
    case CT_PREFIX:
        snprintf(buf, sz, "1 to 32 of A-Z a-z 0-9 _ . -");
        break;
    case CT_NAME_OPT:
        snprintf(buf, sz,
                 "empty, or a name of 1 to 32 of A-Z a-z 0-9 _ . - not starting with -");
        break;
    case CT_STATUS:
        snprintf(buf, sz, "301, 302, 303, 307 or 308");
        break;
    case CT_CHOICE: {
        size_t used = 0;
        buf[0] = '\0';
        for (int i = 0; d->choices[i] != NULL && used < sz; i++) {
            bool last = d->choices[i + 1] == NULL;
            int n = snprintf(buf + used, sz - used, "%s%s",
                             i == 0 ? ""
                             : last ? " or "
                                    : ", ",
                             d->choices[i]);
            used += n > 0 ? (size_t)n : 0;
        }
        break;
    }
    case CT_LEVEL:
        snprintf(buf, sz, "debug, info, warn or error");
        break;
    case CT_KEYLIST:
        snprintf(buf, sz, "query keys or prefixes ending in *, e.g. utm_*, ref");
        break;
    case CT_ADDRLIST:
        snprintf(buf, sz,
                 "IP:PORT addresses separated by commas, e.g. "
                 "127.0.0.1:7000, 127.0.0.1:7001");
        break;
    case CT_NETLIST:
        snprintf(buf, sz, "networks separated by commas, e.g. 10.0.0.0/8, fd00::/8");
        break;
    }
}

int conf_split_hostport(const char *s, char **host, int *port)
{
    const char *colon;
    const char *h;
    size_t hlen;
    long long p;

    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || close[1] != ':')
            return -1;
        h = s + 1;
        hlen = (size_t)(close - h);
        colon = close + 1;
    } else {
        colon = strrchr(s, ':');
        if (colon == NULL)
            return -1;
        h = s;
        hlen = (size_t)(colon - s);
        if (memchr(h, ':', hlen) != NULL)
            return -1; /* a v6 literal needs brackets */
    }
    if (hlen == 0 || util_parse_ll(colon + 1, &p) != 0 || p < 1 || p > 65535)
        return -1;
    char *hs = xstrndup(h, hlen);
    unsigned char addr[16];
    if (inet_pton(AF_INET, hs, addr) != 1 && inet_pton(AF_INET6, hs, addr) != 1) {
        free(hs);
        return -1;
    }
    *host = hs;
    *port = (int)p;
    return 0;
}

int conf_addrs_parse(const char *s, struct conf_addr **out)
{
    int n = 0, cap = 0;
    struct conf_addr *a = NULL;
    const char *p = s;
    *out = NULL;
    while (*p != '\0') {
        size_t len = strcspn(p, ",");
        char *item = xstrndup(p, len);
        char *t = item;
        while (*t == ' ' || *t == '\t')
            t++;
        size_t tl = strlen(t);
        while (tl > 0 && (t[tl - 1] == ' ' || t[tl - 1] == '\t'))
            t[--tl] = '\0';
        if (n == cap) {
            cap = cap ? cap * 2 : 4;
            a = xrealloc(a, (size_t)cap * sizeof(*a));
        }
        int rc = conf_split_hostport(t, &a[n].host, &a[n].port);
        free(item);
        if (rc != 0 || n >= CONF_ADDRS_MAX) {
            if (rc == 0)
                free(a[n].host);
            conf_addrs_free(a, n);
            return -1;
        }
        n++;
        p += len;
        if (*p == ',' && *++p == '\0') { /* a trailing comma */
            conf_addrs_free(a, n);
            return -1;
        }
    }
    *out = a;
    return n;
}

void conf_addrs_free(struct conf_addr *a, int n)
{
    for (int i = 0; i < n; i++)
        free(a[i].host);
    free(a);
}

/* Why a list of networks is not one, or NULL. */
static const char *netlist_problem(const char *val)
{
    const char *why = NULL;
    char *copy = xstrdup(val), *save = NULL;
    for (char *t = strtok_r(copy, ",", &save); t != NULL && why == NULL;
         t = strtok_r(NULL, ",", &save)) {
        while (*t == ' ' || *t == '\t')
            t++;
        size_t n = strlen(t);
        while (n > 0 && (t[n - 1] == ' ' || t[n - 1] == '\t'))
            t[--n] = '\0';
        why = n == 0 ? "an empty item" : cidr_net_check(t);
    }
    free(copy);
    return why;
}

static bool prefix_ok(const char *s)
{
    size_t n = strlen(s);
    if (n < 1 || n > 32)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!code_char_ok(s[i]) && s[i] != '.')
            return false;
    return true;
}

/* Parse val for d into conf c. Returns 0, or -1 with *why set. */
static bool is_string(enum conf_type t)
{
    switch (t) {
    case CT_KEYLIST:
    case CT_PATH:
    case CT_PATH_OPT:
    case CT_HOSTPORT:
    case CT_HOSTPORT_OFF:
    case CT_IP:
    case CT_URL_OPT:
    case CT_PREFIX:
    case CT_NAME_OPT:
    case CT_ADDRLIST:
    case CT_NETLIST:
        return true;
    default:
        return false;
    }
}

/* Store val into d's int or bool field at dst. 0, or -1 with *why. */
static int set_scalar(const struct directive *d, void *dst, const char *val,
                      const char **why)
{
    long long n;
    bool b;

    switch (d->type) {
    case CT_INT_AUTO:
        if (strcmp(val, "auto") == 0) {
            *(int *)dst = 0;
            return 0;
        }
        /* fall through */
    case CT_INT:
        if (util_parse_ll(val, &n) != 0) {
            *why = "not a whole number";
            return -1;
        }
        if (n < d->min || n > d->max) {
            *why = "out of range";
            return -1;
        }
        *(int *)dst = (int)n;
        return 0;
    case CT_BOOL:
        if (!util_parse_bool(val, &b)) {
            *why = "not a boolean";
            return -1;
        }
        *(bool *)dst = b;
        return 0;
    case CT_STATUS:
        if (util_parse_ll(val, &n) == 0)
            for (size_t i = 0; i < sizeof(statuses) / sizeof(statuses[0]); i++)
                if (n == statuses[i]) {
                    *(int *)dst = (int)n;
                    return 0;
                }
        *why = "not a redirect status";
        return -1;
    case CT_CHOICE:
        for (int i = 0; d->choices[i] != NULL; i++)
            if (strcmp(val, d->choices[i]) == 0) {
                *(int *)dst = i;
                return 0;
            }
        *why = "unknown value";
        return -1;
    case CT_LEVEL: {
        int l = log_level_parse(val);
        if (l < 0) {
            *why = "unknown level";
            return -1;
        }
        *(int *)dst = l;
        return 0;
    }
    default:
        *why = "not a scalar key"; /* a string type: cannot happen */
        return -1;
    }
}

/* Why val cannot be the value of the string directive d, or NULL. */
static const char *string_problem(const struct directive *d, const char *val)
{
    const char *why = NULL;
    switch (d->type) {
    case CT_PATH:
        return *val == '\0' ? "must not be empty" : NULL;
    case CT_HOSTPORT_OFF:
        if (strcmp(val, "off") == 0)
            return NULL;
        /* fall through */
    case CT_HOSTPORT: {
        char *h;
        int p;
        if (conf_split_hostport(val, &h, &p) != 0)
            return "not an IP:PORT address";
        free(h);
        return NULL;
    }
    case CT_IP: {
        unsigned char addr[16];
        if (inet_pton(AF_INET, val, addr) != 1 && inet_pton(AF_INET6, val, addr) != 1)
            return "not an IP address literal (names are not resolved)";
        return NULL;
    }
    case CT_URL_OPT:
        if (*val != '\0' && !url_target_ok(val, strlen(val), &why))
            return why;
        return NULL;
    case CT_KEYLIST:
        return url_query_keys_ok(val) ? NULL : "not a list of query keys";
    case CT_ADDRLIST: {
        struct conf_addr *a;
        int n = conf_addrs_parse(val, &a);
        conf_addrs_free(a, n);
        return n < 0 ? "not a list of IP:PORT addresses" : NULL;
    }
    case CT_NETLIST:
        return netlist_problem(val);
    case CT_PREFIX:
        return prefix_ok(val) ? NULL : "bad key prefix";
    case CT_NAME_OPT:
        if (*val != '\0' && (!prefix_ok(val) || val[0] == '-'))
            return strcmp(d->name, "master_name") == 0 ? "not a sentinel master name"
                                                       : "not a user or group name";
        return NULL;
    default: /* CT_PATH_OPT: anything */
        return NULL;
    }
}

static int directive_set(const struct directive *d, struct conf *c, const char *val,
                         const char **why)
{
    void *dst = (char *)c + d->offset;
    if (!is_string(d->type))
        return set_scalar(d, dst, val, why);
    if ((*why = string_problem(d, val)) != NULL)
        return -1;
    char **sp = dst;
    free(*sp);
    *sp = xstrdup(val);
    return 0;
}

static const struct directive *directive_find(const char *section, const char *name)
{
    for (size_t i = 0; i < NDIRECTIVES; i++)
        if (strcmp(directives[i].section, section) == 0 &&
            strcmp(directives[i].name, name) == 0)
            return &directives[i];
    return NULL;
}

static bool section_known(const char *s)
{
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        if (strcmp(sections[i], s) == 0)
            return true;
    return false;
}

struct conf *conf_new(void)
{
    struct conf *c = xcalloc(1, sizeof(*c));
    c->lines = xcalloc(NDIRECTIVES, sizeof(*c->lines));
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const char *why = NULL;
        if (directive_set(&directives[i], c, directives[i].def, &why) != 0) {
            /* A bad built-in default is a programming error. */
            fprintf(stderr, "hopcount: bad default for %s: %s\n", directives[i].name,
                    why);
            abort();
        }
    }
    return c;
}

/* True for the types stored as a malloc'd string. */
/* Copy directive d's value from src into dst. */
static void copy_value(const struct directive *d, struct conf *dst,
                       const struct conf *src)
{
    void *to = (char *)dst + d->offset;
    const void *from = (const char *)src + d->offset;
    if (is_string(d->type)) {
        free(*(char **)to);
        *(char **)to = xstrdup(*(char *const *)from);
    } else if (d->type == CT_BOOL)
        *(bool *)to = *(const bool *)from;
    else
        *(int *)to = *(const int *)from;
}

static bool value_equal(const struct directive *d, const struct conf *a,
                        const struct conf *b)
{
    const void *x = (const char *)a + d->offset;
    const void *y = (const char *)b + d->offset;
    if (is_string(d->type))
        return strcmp(*(char *const *)x, *(char *const *)y) == 0;
    if (d->type == CT_BOOL)
        return *(const bool *)x == *(const bool *)y;
    return *(const int *)x == *(const int *)y;
}

static bool same_secret(const char *a, const char *b)
{
    return (a == NULL) == (b == NULL) && (a == NULL || strcmp(a, b) == 0);
}

void conf_free(struct conf *c)
{
    if (c == NULL)
        return;
    for (size_t i = 0; i < NDIRECTIVES; i++)
        if (is_string(directives[i].type))
            free(*(char **)((char *)c + directives[i].offset));
    free(c->path);
    free(c->redis_password);
    free(c->dashboard_password);
    free(c->lines);
    free(c);
}

struct conf *conf_dup(const struct conf *c)
{
    struct conf *d = conf_new();
    for (size_t i = 0; i < NDIRECTIVES; i++)
        copy_value(&directives[i], d, c);
    d->path = c->path ? xstrdup(c->path) : NULL;
    d->redis_password = c->redis_password ? xstrdup(c->redis_password) : NULL;
    d->dashboard_password = c->dashboard_password ? xstrdup(c->dashboard_password) : NULL;
    memcpy(d->lines, c->lines, NDIRECTIVES * sizeof(*d->lines));
    return d;
}

const char *conf_where(const struct conf *c, const char *section, const char *key,
                       char *buf, size_t cap)
{
    const struct directive *d = directive_find(section, key);
    int line = d != NULL ? c->lines[d - directives] : 0;
    if (line > 0)
        snprintf(buf, cap, "%s:%d: %s", c->path ? c->path : "-", line, key);
    else
        snprintf(buf, cap, "%s: %s", c->path ? c->path : "-", key);
    return buf;
}

void conf_apply_reloadable(struct conf *dst, const struct conf *src)
{
    for (size_t i = 0; i < NDIRECTIVES; i++)
        if (directives[i].reloadable)
            copy_value(&directives[i], dst, src);
}

int conf_restart_changes(const struct conf *a, const struct conf *b, conf_change_fn *fn,
                         void *arg)
{
    int n = 0;
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        if (d->reloadable || value_equal(d, a, b))
            continue;
        /* threads = auto is stored resolved: the same file gives the same value. */
        n++;
        if (fn != NULL)
            fn(d->section, d->name, arg);
    }
    /* Passwords are read from their files at load: a new one needs a restart. */
    if (!same_secret(a->redis_password, b->redis_password)) {
        n++;
        if (fn != NULL)
            fn("redis", "password_file", arg);
    }
    if (!same_secret(a->dashboard_password, b->dashboard_password)) {
        n++;
        if (fn != NULL)
            fn("server", "dashboard_password_file", arg);
    }
    return n;
}

/* State shared by the line reader and the handler during one parse. */
struct parse_state {
    FILE *in;
    const char *name;
    FILE *err;
    int lineno;
    int errors;
    bool section_bad; /* the current section is unknown (reported once) */
    char *long_value; /* the value of a line longer than inih's buffer */
    struct conf *conf;
};

static void parse_error(struct parse_state *ps, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void parse_error(struct parse_state *ps, const char *key, const char *fmt, ...)
{
    va_list ap;
    fprintf(ps->err, "%s:%d: ", ps->name, ps->lineno);
    if (key != NULL)
        fprintf(ps->err, "%s: ", key);
    va_start(ap, fmt);
    vfprintf(ps->err, fmt, ap);
    va_end(ap);
    fputc('\n', ps->err);
    ps->errors++;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 &&
           (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* inih's reader: hands over one line at a time so that every line is counted
 * (inih r55 gives its handler no line number), checks what inih would
 * silently accept or split, and tracks the current section. */
static char *read_line(char *str, int num, void *stream)
{
    struct parse_state *ps = stream;
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, ps->in);

    if (n < 0) {
        free(line);
        return NULL;
    }
    ps->lineno++;
    /* A UTF-8 byte order mark, as some editors save: not part of the text. */
    if (ps->lineno == 1 && n >= 3 && memcmp(line, "\xef\xbb\xbf", 3) == 0) {
        memmove(line, line + 3, (size_t)n - 2);
        n -= 3;
    }
    if (n >= num - 1) {
        /* inih's line buffer (200 bytes in Debian's build) is shorter than
         * the longest legal value (2048-byte URLs, paths): hand inih the key
         * with a marker and keep the value for on_directive. */
        char *eq = strchr(line, '=');
        size_t klen = eq ? (size_t)(eq - line) : 0;
        if (eq == NULL || klen + 5 > (size_t)num || n > CONF_LINE_MAX) {
            parse_error(ps, NULL, "line too long (accepted: at most %d bytes)", CONF_LINE_MAX);
            free(line);
            util_strlcpy(str, "#\n", (size_t)num);
            return str;
        }
        free(ps->long_value);
        ps->long_value = xstrdup(trim(eq + 1));
        /* inih's inline comments: " ;" starts one. */
        for (char *c = ps->long_value; *c; c++)
            if (*c == ';' && c > ps->long_value && (c[-1] == ' ' || c[-1] == '\t')) {
                *c = '\0';
                trim(ps->long_value); /* the end; the start is trimmed already */
                break;
            }
        memcpy(str, line, klen);
        memcpy(str + klen, "=\x01\n", 4);
        free(line);
        return str;
    }
    memcpy(str, line, (size_t)n + 1);
    char *t = trim(line);
    if (*t == '[') {
        char *close = strchr(t, ']');
        if (close == NULL || close[1] != '\0') {
            parse_error(ps, NULL, "malformed section header (accepted: [name])");
            util_strlcpy(str, "#\n", (size_t)num);
        } else {
            *close = '\0';
            ps->section_bad = !section_known(t + 1);
            if (ps->section_bad)
                parse_error(ps, NULL,
                            "unknown section [%s] (accepted: server, redis, tracking, "
                            "links, log)",
                            t + 1);
        }
    } else if (*t != '\0' && *t != '#' && *t != ';' && strchr(t, '=') == NULL) {
        parse_error(ps, NULL, "expected key = value");
        util_strlcpy(str, "#\n", (size_t)num);
    }
    free(line);
    return str;
}

static int on_directive(void *user, const char *section, const char *name,
                        const char *value)
{
    struct parse_state *ps = user;
    char acc[128];
    const char *why = NULL;

    if (strcmp(value, "\x01") == 0 && ps->long_value != NULL)
        value = ps->long_value; /* a line longer than inih's buffer */

    if (ps->section_bad)
        return 1; /* the section line was reported */
    if (*section == '\0') {
        parse_error(ps, name, "directive outside any section");
        return 1;
    }
    const struct directive *d = directive_find(section, name);
    if (d == NULL) {
        parse_error(ps, name, "unknown key in [%s]", section);
        return 1;
    }
    size_t idx = (size_t)(d - directives);
    if (ps->conf->lines[idx] != 0) {
        parse_error(ps, name, "duplicate (or an indented continuation line)");
        return 1;
    }
    ps->conf->lines[idx] = ps->lineno;
    for (const char *p = value; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f) {
            parse_error(ps, name, "control character in value");
            return 1;
        }
    if (directive_set(d, ps->conf, value, &why) != 0) {
        accepted(d, acc, sizeof(acc));
        parse_error(ps, name, "%s: \"%s\" (accepted: %s)", why, value, acc);
    }
    return 1;
}

/* Listener b takes listener a's port on an address a also covers (the
 * same one, or a wildcard on either side). */
static bool listeners_clash(const char *a, const char *b)
{
    char *h1 = NULL, *h2 = NULL;
    int p1, p2;
    bool clash = false;
    if (strcmp(a, "off") != 0 && strcmp(b, "off") != 0 &&
        conf_split_hostport(a, &h1, &p1) == 0 && conf_split_hostport(b, &h2, &p2) == 0 &&
        p1 == p2)
        clash = strcmp(h1, h2) == 0 || strcmp(h1, "0.0.0.0") == 0 ||
                strcmp(h1, "::") == 0 || strcmp(h2, "0.0.0.0") == 0 ||
                strcmp(h2, "::") == 0;
    free(h1);
    free(h2);
    return clash;
}

/* Whether "host:port" listens on a loopback address only. */
static bool loopback_only(const char *hostport)
{
    char *h = NULL;
    int p;
    bool lo = false;
    if (conf_split_hostport(hostport, &h, &p) == 0)
        lo = strncmp(h, "127.", 4) == 0 || strcmp(h, "::1") == 0;
    free(h);
    return lo;
}

/* The listeners' own checks: no two on one address, and a dashboard
 * reachable from elsewhere only behind a password. Errors written. */
static int check_listeners(const struct conf *c, FILE *err)
{
    char where[400];
    int errors = 0;
    if (listeners_clash(c->listen, c->admin_listen)) {
        fprintf(err, "%s: the same address as listen (%s)\n",
                conf_where(c, "server", "admin_listen", where, sizeof(where)), c->listen);
        errors++;
    }
    const char *other = listeners_clash(c->listen, c->dashboard_listen) ? "listen"
                        : listeners_clash(c->admin_listen, c->dashboard_listen)
                            ? "admin_listen"
                            : NULL;
    if (other != NULL) {
        fprintf(err, "%s: the same address as %s\n",
                conf_where(c, "server", "dashboard_listen", where, sizeof(where)), other);
        errors++;
    }
    if (strcmp(c->dashboard_listen, "off") != 0 && !loopback_only(c->dashboard_listen) &&
        c->dashboard_password == NULL) {
        fprintf(err,
                "%s: a dashboard on a non-loopback address needs dashboard_password_file "
                "(or listen on 127.0.0.1 behind your own proxy)\n",
                conf_where(c, "server", "dashboard_listen", where, sizeof(where)));
        errors++;
    }
    return errors;
}

/* The [redis] keys each mode needs, and the ones it cannot use. Returns the
 * number of errors written. */
static int check_redis_mode(const struct conf *c, FILE *err)
{
    char where[400];
    int errors = 0;
#define REDIS_ERR(key, ...)                                                              \
    do {                                                                                 \
        fprintf(err, "%s: ", conf_where(c, "redis", key, where, sizeof(where)));         \
        fprintf(err, __VA_ARGS__);                                                       \
        fputc('\n', err);                                                                \
        errors++;                                                                        \
    } while (0)
    const char *mode = mode_choices[c->redis_mode];
    if (c->redis_mode == CONF_MODE_CLUSTER) {
        if (c->redis_nodes[0] == '\0')
            REDIS_ERR("nodes", "mode = cluster needs the cluster's nodes (IP:PORT, ...)");
        if (c->redis_db != 0)
            REDIS_ERR("db",
                      "must be 0 in mode = cluster (a cluster has database 0 only)");
    } else if (c->redis_nodes[0] != '\0') {
        REDIS_ERR("nodes", "only used in mode = cluster (mode is %s)", mode);
    }
    if (c->redis_mode == CONF_MODE_SENTINEL) {
        if (c->redis_sentinels[0] == '\0')
            REDIS_ERR("sentinels", "mode = sentinel needs the sentinels (IP:PORT, ...)");
        if (c->redis_master_name[0] == '\0')
            REDIS_ERR("master_name", "mode = sentinel needs the primary's name "
                                     "(sentinel monitor NAME ...)");
    } else {
        if (c->redis_sentinels[0] != '\0')
            REDIS_ERR("sentinels", "only used in mode = sentinel (mode is %s)", mode);
        if (c->redis_master_name[0] != '\0')
            REDIS_ERR("master_name", "only used in mode = sentinel (mode is %s)", mode);
    }
    if (c->redis_mode != CONF_MODE_SINGLE && c->redis_unix_socket[0] != '\0')
        REDIS_ERR("unix_socket", "only used in mode = single: the %s gives the addresses",
                  c->redis_mode == CONF_MODE_CLUSTER ? "cluster" : "sentinels");
    if (c->wait_replicas > 0 && c->wait_timeout_ms >= c->command_timeout_ms)
        REDIS_ERR("wait_timeout_ms",
                  "must be below command_timeout_ms (%d): a WAIT that "
                  "blocks longer would drop the connection",
                  c->command_timeout_ms);
#undef REDIS_ERR
    return errors;
}

/* Read a password file (the conf key `key` names it): its first line,
 * without the newline, into *out. */
static int read_password(const struct conf *c, const char *key, const char *file,
                         char **out, FILE *err)
{
    FILE *f = fopen(file, "r");
    if (f == NULL) {
        fprintf(err, "%s: %s: cannot open %s: %s\n", c->path, key, file, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n = getline(&line, &cap, f);
    fclose(f);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    if (n <= 0) {
        free(line);
        fprintf(err, "%s: %s: %s is empty\n", c->path, key, file);
        return -1;
    }
    *out = line;
    return 0;
}

struct conf *conf_load_stream(FILE *in, const char *name, FILE *err)
{
    struct parse_state ps = {.in = in, .name = name, .err = err};
    ps.conf = conf_new();
    ps.conf->path = xstrdup(name);

    int rc = ini_parse_stream(read_line, &ps, on_directive, &ps);
    free(ps.long_value);
    if (rc == -2) {
        fprintf(err, "%s: out of memory while parsing\n", name);
        ps.errors++;
    } else if (rc > 0 && ps.errors == 0) {
        ps.lineno = rc;
        parse_error(&ps, NULL, "syntax error");
    }
    if (ferror(in)) {
        fprintf(err, "%s: read error: %s\n", name, strerror(errno));
        ps.errors++;
    }
    struct conf *c = ps.conf;
    if (ps.errors == 0 && c->redis_password_file[0] != '\0' &&
        read_password(c, "password_file", c->redis_password_file, &c->redis_password,
                      err) != 0)
        ps.errors++;
    if (ps.errors == 0 && c->dashboard_password_file[0] != '\0' &&
        read_password(c, "dashboard_password_file", c->dashboard_password_file,
                      &c->dashboard_password, err) != 0)
        ps.errors++;
    if (ps.errors == 0)
        ps.errors += check_listeners(c, err);
    if (ps.errors == 0)
        ps.errors += check_redis_mode(ps.conf, err);
    if (ps.errors > 0) {
        conf_free(ps.conf);
        return NULL;
    }
    if (ps.conf->threads == 0)
        ps.conf->threads = util_ncpus();
    return ps.conf;
}

struct conf *conf_load(const char *path, FILE *err)
{
    FILE *in = fopen(path, "r");
    if (in == NULL) {
        fprintf(err, "%s: cannot open: %s\n", path, strerror(errno));
        return NULL;
    }
    struct conf *c = conf_load_stream(in, path, err);
    fclose(in);
    return c;
}

void conf_print(const struct conf *c, FILE *out)
{
    const char *section = "";
    for (size_t i = 0; i < NDIRECTIVES; i++) {
        const struct directive *d = &directives[i];
        const void *src = (const char *)c + d->offset;
        if (strcmp(section, d->section) != 0) {
            fprintf(out, "%s[%s]\n", *section ? "\n" : "", d->section);
            section = d->section;
        }
        fprintf(out, "%s = ", d->name);
        switch (d->type) {
        case CT_INT:
        case CT_INT_AUTO:
        case CT_STATUS:
            fprintf(out, "%d\n", *(const int *)src);
            break;
        case CT_BOOL:
            fprintf(out, "%s\n", *(const bool *)src ? "on" : "off");
            break;
        case CT_CHOICE:
            fprintf(out, "%s\n", d->choices[*(const int *)src]);
            break;
        case CT_LEVEL:
            fprintf(out, "%s\n", log_level_name((enum log_level) * (const int *)src));
            break;
        default:
            fprintf(out, "%s\n", *(char *const *)src);
            break;
        }
    }
}

bool conf_redirect_permanent(const struct conf *c)
{
    return c->redirect_status == 301 || c->redirect_status == 308;
}

void conf_warnings(const struct conf *c, FILE *out)
{
    if (conf_redirect_permanent(c))
        fprintf(out,
                "%s: redirect_status: %d is permanent: browsers cache it and the follows "
                "they then skip are never counted\n",
                c->path, c->redirect_status);
}
