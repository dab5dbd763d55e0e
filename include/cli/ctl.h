/* ctl: what hopctl's commands share: the parsed command line, the Redis
 * store, one-line messages no input can forge, and the checks a link must
 * pass. Each command family lives in its own file (links.c, import.c,
 * stats.c); main.c parses argv and dispatches. */
#ifndef HOPCOUNT_CTL_H
#define HOPCOUNT_CTL_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "store.h"

/* Exit statuses (SPEC §5). */
#define EXIT_OK 0
#define EXIT_BAD 1   /* bad input or a failure, with a one-line reason */
#define EXIT_USAGE 2 /* the command line itself is wrong */

#define STATS_DAYS_DEFAULT 14
#define STATS_DAYS_MAX 3660
/* Pipelined writes and reads in flight at once. */
#define CTL_PIPELINE 1024
/* Longest CSV line accepted, line ending included. */
#define CTL_LINE_MAX 8192

enum format {
    FORMAT_TABLE = 0,
    FORMAT_CSV = 1,
    FORMAT_JSON = 2,
};

/* Options, as bits: which a command accepts. */
enum {
    OPT_CAMPAIGN = 1 << 0,
    OPT_FORCE = 1 << 1,
    OPT_PURGE = 1 << 2,
    OPT_LENGTH = 1 << 3,
    OPT_DAYS = 1 << 4,
    OPT_FORMAT = 1 << 5,
    OPT_OLDER = 1 << 6,
    OPT_DRY_RUN = 1 << 7,
    OPT_NO_TRACK = 1 << 8,
    OPT_FULL = 1 << 9,
    OPT_BASE = 1 << 10,
    OPT_OUTPUT = 1 << 11,
    OPT_MAP = 1 << 12,
    OPT_SKIP = 1 << 13,
    OPT_CODES = 1 << 14,
    OPT_STRICT = 1 << 15,
};

#define CTL_SKIP_MAX 64 /* --skip patterns */

struct opts {
    unsigned given; /* OPT_* bits seen */
    const char *campaign;
    bool force;
    bool purge;
    int length;
    int days;
    enum format format;
    int older_than; /* days */
    bool dry_run;
    bool notrack; /* --no-track */
    const char *format_name; /* --format as given (wrap's are html|text|auto) */
    const char *base;        /* wrap --base */
    const char *output;      /* wrap -o */
    const char *map;         /* wrap --map */
    const char *skip[CTL_SKIP_MAX];
    int nskip;
    bool codes_slug; /* wrap --codes slug */
    bool strict;     /* wrap --strict */
};

struct ctl {
    const char *conf_path;
    struct conf *conf;
    struct store *store;
    struct opts o;
    char **args; /* positional arguments after the command */
    int nargs;
};

/* One line on stderr: "hopctl: " and the message. */
void ctl_vsay(const char *fmt, va_list ap);

/* "hopctl: " and the message on stderr; returns EXIT_BAD. */
int ctl_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* The same, then the usage of the command being run; returns EXIT_USAGE
 * (main.c, which knows the commands). */
int ctl_usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A target or campaign read from Redis, for a table: as is when valid, else
 * escaped as util_shown does (other tools may have written anything). */
const char *ctl_shown_url(const char *s, size_t len, char *out, size_t outsz);
const char *ctl_shown_campaign(const char *s, size_t len, char *out, size_t outsz);

/* Why code (or a campaign name) is refused, in buf, or NULL when it is
 * valid: "code \"...\" is not [A-Za-z0-9_-]{1,64}", the name shown safely. */
const char *ctl_bad_code(const char *code, size_t len, char *buf, size_t bufsz);
const char *ctl_bad_campaign(const char *name, size_t len, char *buf, size_t bufsz);

/* Why the link cannot be made (in buf), or NULL when it can: the rules the
 * daemon checks again when it reads the link back. */
const char *ctl_link_invalid(const struct store_link *l, char *buf, size_t bufsz);

/* Open ctl->store from ctl->conf; EXIT_OK, or EXIT_BAD with the reason said. */
int ctl_connect(struct ctl *ctl);

/* A store_link of NUL-terminated arguments (campaign NULL: none). */
void ctl_link_from_args(struct store_link *l, const char *code, const char *url,
                        const char *campaign);

/* Links read back: each code, and what store_read_links found. */
struct ctl_links {
    struct store_read *v;
    size_t n, cap;
};
/* The links of campaign camp (its set; NULL: every link, SCAN), sorted by
 * code, each once, read (url NULL: gone since). 0, or -1 with err. */
int ctl_links_read(struct store *st, const char *camp, struct ctl_links *l, char *err,
                   size_t errsz);
void ctl_links_free(struct ctl_links *l);

/* The commands (SPEC §5): links.c, import.c, stats.c, prune.c, markers.c,
 * wrap.c. */
int cmd_add(struct ctl *ctl);
int cmd_new(struct ctl *ctl);
int cmd_rm(struct ctl *ctl);
int cmd_list(struct ctl *ctl);
int cmd_import(struct ctl *ctl);
int cmd_stats(struct ctl *ctl);
int cmd_markers(struct ctl *ctl);
int cmd_prune(struct ctl *ctl);
int cmd_wrap(struct ctl *ctl);

#endif
