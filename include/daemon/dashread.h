/* dashread: what the dashboard reads from Redis for one page or API call —
 * a link, or a campaign and its links — sent at once through a router and
 * gathered as the answers come. No formatting: dashjson.c and the pages
 * turn a read into text. */
#ifndef HOPCOUNT_DASHREAD_H
#define HOPCOUNT_DASHREAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "code.h"

#define DASHREAD_LINKS_MAX 5000     /* a campaign's links read for its page */
#define DASHREAD_CAMPAIGNS_MAX 1000 /* campaigns read for the list */
#define DASHREAD_HOURS 48           /* a link's last hours, human follows each */
/* Commands of one read on the wire at once: the rest wait their turn, so a
 * big campaign never reaches Redis as one burst the workers' flushes (and,
 * on a shared CPU, the workers) would wait behind. */
#define DASHREAD_INFLIGHT 128

struct dash_cmd;

struct route;

/* Counts of one day. */
struct dash_day {
    long long follows, bot, scan, uniques;
};

/* All-time counts. */
struct dash_totals {
    long long total, bot, scan;
};

/* One of a campaign's links, or (DASH_CAMPAIGNS) one campaign. */
struct dash_row {
    char code[CAMPAIGN_MAX_LEN + 1]; /* the code, or the campaign */
    char *url;                       /* a link's; NULL when the link is gone */
    struct dash_totals t;
    long long nlinks;      /* a campaign's */
    struct dash_day *days; /* a campaign's, ndays */
    long long period;      /* a campaign's human follows over those days */
};

/* A link; a campaign and its links; every campaign (P:campaigns). */
enum dash_kind { DASH_LINK, DASH_CAMPAIGN, DASH_CAMPAIGNS };

struct dash_read {
    enum dash_kind kind;
    char name[CAMPAIGN_MAX_LEN + 1]; /* the code, or the campaign */
    int64_t first_day;               /* days since the epoch */
    int ndays;
    char failed[200]; /* why the read failed, or "" */
    bool found;       /* the link or campaign exists (or has counts) */
    struct dash_totals t;
    struct dash_day *days; /* ndays */
    /* DASH_LINK */
    char *url, *campaign;
    long long created; /* Unix seconds, 0 unknown */
    bool notrack;
    int64_t first_hour; /* hours since the epoch: the last DASHREAD_HOURS */
    long long hours[DASHREAD_HOURS];
    /* DASH_CAMPAIGN: its links, most followed first; DASH_CAMPAIGNS: the
     * campaigns, most followed over the days first */
    long long nlinks;
    struct dash_row *rows;
    size_t nrows;
    /* private */
    struct route *r;
    const char *prefix;
    bool uniques; /* read unique followers (uniques = on) */
    int pending;  /* commands not answered (queued too), + 1 while sending */
    int inflight; /* of those, on the wire */
    struct dash_cmd *queue, **queue_tail; /* waiting for room on the wire */
    void (*done)(struct dash_read *rd, void *arg);
    void *arg;
};

/* Read kind `name` (a valid code or campaign) and its days
 * [first_day, first_day + ndays) through r with key prefix (and each day's
 * unique followers when uniques; else 0); done(rd, arg) runs exactly once,
 * maybe before this returns, with rd->failed set when something could not
 * be read; done owns rd (dash_read_free). */
void dash_read_start(struct route *r, const char *prefix, bool uniques,
                     enum dash_kind kind, const char *name, int64_t first_day, int ndays,
                     void (*done)(struct dash_read *rd, void *arg), void *arg);
void dash_read_free(struct dash_read *rd);

#endif
