/* handler: one public request: classify it, resolve its link, answer it
 * exactly once, and count the follow unless it is opted out. */
#include "handler.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "code.h"
#include "access.h"
#include "burst.h"
#include "conf.h"
#include "flush.h"
#include "hash.h"
#include "held.h"
#include "links.h"
#include "log.h"
#include "metrics.h"
#include "privacy.h"
#include "tally.h"
#include "uniq.h"
#include "url.h"
#include "util.h"

struct handler {
    const struct conf *conf;
    struct links *links;
    struct tally *tally;
    struct flush *flush;
    struct metrics *m;
    struct burst *burst;      /* the node's burst table, shared */
    struct held *held;        /* this worker's follows awaiting a verdict */
    struct uniq *uniq;        /* the day's key for unique followers */
    uint64_t drops_logged_at; /* monotonic ms of the last "dropped" line */
    char loc[URL_MAX_LEN + 1];
};

/* Per-connection storage: what a deferred request waits with. */
struct handler_slot {
    struct links_waiter w;
    struct handler *h;
    struct http_conn *c;
};

size_t handler_slot_size(void)
{
    return sizeof(struct handler_slot);
}

struct handler *handler_new(const struct conf *conf, struct links *links,
                            struct tally *tally, struct flush *flush, struct metrics *m,
                            struct burst *burst, struct uniq *uniq, size_t held_cap)
{
    struct handler *h = xcalloc(1, sizeof(*h));
    h->conf = conf;
    h->links = links;
    h->tally = tally;
    h->flush = flush;
    h->m = m;
    h->burst = burst;
    h->uniq = uniq;
    h->held = held_new(held_cap);
    return h;
}

void handler_free(struct handler *h)
{
    if (h == NULL)
        return;
    held_free(h->held);
    free(h);
}

static bool path_is(const struct http_request *req, const char *s)
{
    size_t n = strlen(s);
    return req->path_len == n && memcmp(req->path, s, n) == 0;
}

/* Every answer goes through here: the outcome metric and, with access_log, a
 * line with the code (never for an opted-out request), status, outcome and
 * duration. Never an address, agent, referrer or query string. */
static void done(const struct handler *h, const struct http_request *req, int status,
                 enum metrics_outcome outcome, const struct link *link)
{
    metric_add(&h->m->outcomes[outcome], 1);
    if (!h->conf->access_log)
        return;
    access_record(
        h->conf->access_log, req->head ? "HEAD" : "GET", link ? link->code : NULL,
        link ? link->code_len : 0, status, metrics_outcome_name(outcome),
        /* 0 when access_log was turned on while this request was in flight */
        (unsigned long long)(req->start_us ? util_now_us() - req->start_us : 0));
}

/* A 302 to a conf URL (fallback_url, root_url) when it is set, else 404.
 * Not a follow: never counted. */
static void redirect_or_404(struct handler *h, struct http_conn *c,
                            const struct http_request *req, const char *url,
                            enum metrics_outcome outcome)
{
    if (url[0] != '\0') {
        http_answer_redirect(c, 302, url, strlen(url), false);
        done(h, req, 302, outcome, NULL);
    } else {
        http_answer_fixed(c, REPLY_NOT_FOUND);
        done(h, req, 404, outcome, NULL);
    }
}

static void not_found(struct handler *h, struct http_conn *c,
                      const struct http_request *req, enum metrics_outcome outcome)
{
    redirect_or_404(h, c, req, h->conf->fallback_url, outcome);
}

/* The tally is full (Redis has been away a long while): hand it to the
 * spool thread so it can take new keys. 0, or -1 when it cannot: the follow
 * is then dropped (counted by the caller, logged at most once a second). */
static int spill(struct handler *h)
{
    char err[256];
    if (flush_spill(h->flush, err, sizeof(err)) == 0)
        return 0;
    uint64_t now = util_now_ms();
    if (now - h->drops_logged_at >= 1000 || h->drops_logged_at == 0) {
        log_error("event=follows_dropped reason=\"%s\"", err);
        h->drops_logged_at = now;
    }
    return -1;
}

/* Tally one follow under one key (spilling a full tally first). */
static int count_key(struct handler *h, struct tally_hint *hint, enum tally_kind kind,
                     uint64_t name_hash, const char *name, size_t len, int64_t hour,
                     enum tally_class cls)
{
    int rc = tally_add_hinted(h->tally, hint, kind, name_hash, name, len, hour, cls);
    if (rc != 0 && spill(h) == 0)
        rc = tally_add_hinted(h->tally, hint, kind, name_hash, name, len, hour, cls);
    return rc;
}

/* What a follow is counted under: its link and its campaign (NULL: none),
 * their hashes, and the tally hints of their counters and uniques. */
struct names {
    const char *code, *campaign;
    size_t code_len, camp_len;
    uint64_t code_hash, camp_hash;
    struct tally_hint *code_hint, *camp_hint, *code_uhint, *camp_uhint;
};

static struct names names_of_link(const struct link *link)
{
    return (struct names){link->code,           link->campaign,
                          link->code_len,       link->campaign_len,
                          link->code_hash,      link->campaign_hash,
                          link->code_hint,      link->campaign_hint,
                          link->code_uniq_hint, link->campaign_uniq_hint};
}

/* Note a human follower's cell in the uniques of the link and campaign on
 * the UTC day of hour (spilling a full tally first). */
static void note_cell(struct handler *h, const struct names *n, int64_t hour,
                      hll_cell cell)
{
    int64_t day_hour = hour - hour % 24;
    for (int i = 0; i < 2; i++) {
        bool link = i == 0;
        if (!link && n->campaign == NULL)
            break;
        struct tally_hint *hint = link ? n->code_uhint : n->camp_uhint;
        enum tally_kind kind = link ? TALLY_LINK_UNIQ : TALLY_CAMPAIGN_UNIQ;
        uint64_t hash = link ? n->code_hash : n->camp_hash;
        const char *name = link ? n->code : n->campaign;
        size_t len = link ? n->code_len : n->camp_len;
        int rc = tally_add_cell(h->tally, hint, kind, hash, name, len, day_hour, cell);
        if (rc != 0 && spill(h) == 0)
            rc = tally_add_cell(h->tally, hint, kind, hash, name, len, day_hour, cell);
        if (rc != 0)
            metric_add(&h->m->uniques_dropped, 1);
    }
}

/* Tally one follow of a link and its campaign in UTC hour; a human's cell
 * (0: none) in their uniques. */
static void count_names(struct handler *h, const struct names *n, int64_t hour,
                        enum tally_class cls, hll_cell cell)
{
    if (count_key(h, n->code_hint, TALLY_LINK, n->code_hash, n->code, n->code_len, hour,
                  cls) != 0) {
        metric_add(&h->m->follows_dropped, 1);
        return;
    }
    if (n->campaign != NULL && count_key(h, n->camp_hint, TALLY_CAMPAIGN, n->camp_hash,
                                         n->campaign, n->camp_len, hour, cls) != 0)
        metric_add(&h->m->follows_dropped, 1); /* the campaign's count only */
    if (cls == TALLY_HUMAN && cell != 0)
        note_cell(h, n, hour, cell);
}

static void count(struct handler *h, const struct link *link, enum tally_class cls,
                  uint64_t now_ms, hll_cell cell)
{
    struct names n = names_of_link(link);
    count_names(h, &n, (int64_t)(now_ms / 3600000u), cls, cell);
}

/* A held follow whose window closed: count it as the burst table says. */
static void decide(const struct held_follow *f, void *arg)
{
    struct handler *h = arg;
    bool scan = burst_scanner(h->burst, f->client, f->start);
    enum tally_class cls = scan ? TALLY_SCAN : TALLY_HUMAN;
    struct tally_hint hints[4] = {{0}};
    struct names n = {
        f->code,      f->campaign_len ? f->campaign : NULL,
        f->code_len,  f->campaign_len,
        f->code_hash, f->campaign_len ? hash_bytes(f->campaign, f->campaign_len) : 0,
        &hints[0],    &hints[1],
        &hints[2],    &hints[3]};
    for (uint32_t i = 0; i < f->count; i++)
        count_names(h, &n, f->hour, cls, i == 0 ? f->cell : 0);
    metric_add(scan ? &h->m->burst_scan : &h->m->burst_human, f->count);
}

/* A human-looking follower's cell for unique followers, or 0 (uniques
 * off, the address unknown, or the day's key not known yet). */
static hll_cell human_cell(struct handler *h, const struct http_request *req)
{
    if (!h->conf->uniques || !req->client_known)
        return 0;
    hll_cell c = uniq_cell(h->uniq, &req->client, req->ua_hash, req->now_ms);
    if (c == 0)
        metric_add(&h->m->uniques_unkeyed, 1);
    return c;
}

void handler_decide(struct handler *h, bool all)
{
    uint32_t now_s = all ? UINT32_MAX : (uint32_t)(util_coarse_ms() / 1000u);
    if (held_take_due(h->held, now_s, decide, h) > 0 || all)
        metric_set(&h->m->burst_held, held_follows(h->held));
}

/* The burst rule for a follow that looks human: SCAN when its client is a
 * scanner in this window already; HUMAN when it is held for the verdict
 * (*held set) or cannot be. */
static enum tally_class burst_check(struct handler *h, const struct http_request *req,
                                    const struct link *link, hll_cell cell, bool *held)
{
    const struct conf *conf = h->conf;
    *held = false;
    int64_t hour = (int64_t)(req->now_ms / 3600000u);
    uint64_t client = burst_client(h->burst, &req->client, req->ua_hash, hour);
    uint32_t now_s = (uint32_t)(util_coarse_ms() / 1000u);
    struct burst_ticket t = {0, false, false};
    if (client != 0)
        t = burst_note(h->burst, client, (uint32_t)(link->campaign_hash >> 48),
                       (uint32_t)link->code_hash, now_s, (unsigned)conf->scanner_window_s,
                       (unsigned)conf->scanner_links);
    if (t.tracked && t.scanner) {
        metric_add(&h->m->burst_scan, 1);
        return TALLY_SCAN;
    }
    struct held_follow *f = NULL;
    if (t.tracked)
        f = held_add(h->held, client, t.start, now_s + (uint32_t)conf->scanner_window_s,
                     hour, link->code, link->code_len, link->code_hash, link->campaign,
                     link->campaign_len);
    if (f != NULL) {
        f->cell = cell; /* one client: one cell, whichever follow noted it */
        *held = true;
        metric_set(&h->m->burst_held, held_follows(h->held));
    } else {
        metric_add(&h->m->burst_untracked, 1);
    }
    return TALLY_HUMAN;
}

/* What a follow counts as, from what the request itself says: a scanner
 * network or agent first (scanners also send HEAD and prefetches), then the
 * bot signals. */
static enum tally_class classify(const struct http_request *req)
{
    if (req->privacy & (PRIVACY_SCAN_NET | PRIVACY_SCAN_UA))
        return TALLY_SCAN;
    if (req->head || (req->privacy & (PRIVACY_BOT_UA | PRIVACY_PREFETCH)))
        return TALLY_BOT;
    return TALLY_HUMAN;
}

static const enum metrics_outcome outcome_of[] = {
    [TALLY_HUMAN] = OUTCOME_TRACKED,
    [TALLY_BOT] = OUTCOME_BOT,
    [TALLY_SCAN] = OUTCOME_SCANNER,
};

/* The link is known: answer with its redirect and count the follow. */
static void follow(struct handler *h, struct http_conn *c, const struct http_request *req,
                   const struct link *link)
{
    const struct conf *conf = h->conf;
    unsigned flags = req->privacy;
    bool prefetch = (flags & PRIVACY_PREFETCH) != 0;
    /* Decided first: no path below may name an opted-out request's code. */
    bool opted_out = privacy_opted_out(flags, conf->honour_dnt, conf->honour_gpc);

    if (prefetch && conf->prefetch == CONF_PREFETCH_REFUSE) {
        http_answer_fixed(c, REPLY_PREFETCH_REFUSED);
        done(h, req, 503, OUTCOME_PREFETCH_REFUSED, opted_out ? NULL : link);
        return;
    }
    const char *loc = link->url;
    size_t len = link->url_len;
    if (conf->forward_query && req->query_len > 0) {
        int n = url_join_query(link->url, link->url_len, req->query, req->query_len,
                               conf->forward_query_keys, h->loc, sizeof(h->loc));
        if (n > 0) {
            loc = h->loc;
            len = (size_t)n;
        }
        /* else: too long or not a valid target with it; the plain target is. */
    }
    if (opted_out || link->notrack) {
        /* Nothing about this request is recorded, its code not even logged:
         * the follower opted out, or the link is never tracked (hopctl
         * --no-track: a transactional or consent-bound link). */
        http_answer_redirect(c, conf->redirect_status, loc, len, true);
        done(h, req, conf->redirect_status,
             opted_out ? OUTCOME_OPTED_OUT : OUTCOME_UNTRACKED, NULL);
        return;
    }
    enum tally_class cls = classify(req);
    hll_cell cell = cls == TALLY_HUMAN ? human_cell(h, req) : 0;
    bool held = false;
    if (cls == TALLY_HUMAN && conf->scanner_burst && req->client_known)
        cls = burst_check(h, req, link, cell, &held);
    if (!held)
        count(h, link, cls, req->now_ms, cell);
    http_answer_redirect(c, conf->redirect_status, loc, len, false);
    done(h, req, conf->redirect_status, outcome_of[cls], link);
}

static void answer(struct handler *h, struct http_conn *c, const struct http_request *req,
                   enum links_status st, const struct link *link)
{
    switch (st) {
    case LINKS_FOUND:
        follow(h, c, req, link);
        break;
    case LINKS_UNKNOWN:
        not_found(h, c, req, OUTCOME_NOT_FOUND);
        break;
    case LINKS_UNAVAILABLE:
        http_answer_fixed(c, REPLY_UNAVAILABLE);
        done(h, req, 503, OUTCOME_UNAVAILABLE, NULL);
        break;
    case LINKS_PENDING:
        break;
    }
}

static void on_link(enum links_status st, const struct link *link, void *arg)
{
    struct handler_slot *slot = arg;
    answer(slot->h, slot->c, http_conn_request(slot->c), st, link);
}

void handler_on_request(struct http_conn *c, const struct http_request *req, void *slotp,
                        void *arg)
{
    struct handler *h = arg;
    struct handler_slot *slot = slotp;
    const struct link *link = NULL;

    if (req->path_len == 1) {
        redirect_or_404(h, c, req, h->conf->root_url, OUTCOME_OTHER);
        return;
    }
    const char *code = req->path + 1;
    size_t len = req->path_len - 1;
    if (!code_valid(code, len)) {
        /* Not a code: the fixed resources, or nothing. Never reaches Redis. */
        if (path_is(req, "/robots.txt")) {
            http_answer_fixed(c, REPLY_ROBOTS);
            done(h, req, 200, OUTCOME_OTHER, NULL);
        } else if (path_is(req, "/.well-known/gpc.json")) {
            http_answer_fixed(c, REPLY_GPC);
            done(h, req, 200, OUTCOME_OTHER, NULL);
        } else if (path_is(req, "/.well-known/dnt/") ||
                   path_is(req, "/.well-known/dnt")) {
            http_answer_fixed(c, REPLY_DNT);
            done(h, req, 200, OUTCOME_OTHER, NULL);
        } else
            not_found(h, c, req, OUTCOME_INVALID);
        return;
    }
    slot->h = h;
    slot->c = c;
    bool quiet =
        privacy_opted_out(req->privacy, h->conf->honour_dnt, h->conf->honour_gpc);
    enum links_status st = links_lookup(h->links, code, len, util_coarse_ms(), quiet,
                                        &link, &slot->w, on_link, slot);
    answer(h, c, req, st, link);
}

void handler_on_abort(struct http_conn *c, void *slotp, void *arg)
{
    struct handler_slot *slot = slotp;
    (void)c;
    (void)arg;
    links_cancel(&slot->w);
}
