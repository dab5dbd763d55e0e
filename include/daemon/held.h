/* held: one worker's follows waiting for the burst rule's verdict (issue
 * 13): each is counted, as human or scan, once its client's window has
 * closed. A bounded ring, oldest first, with repeats of one (client,
 * window, code, hour) folded into one entry. Holds codes and campaign names
 * (as the tally does), the client's hourly hash and its HyperLogLog cell;
 * no address or agent. */
#ifndef HOPCOUNT_HELD_H
#define HOPCOUNT_HELD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "code.h"
#include "hll.h"

struct held_follow {
    uint64_t client; /* burst_client's hash */
    uint32_t start;  /* the window's start (monotonic seconds) */
    uint32_t due_s;  /* decided at or after this (monotonic seconds) */
    int64_t hour;    /* UTC hour of the follow, for its counters */
    uint64_t code_hash;
    uint32_t count;                       /* follows folded into this entry */
    hll_cell cell;                        /* the follower's cell (uniq.h), or 0 */
    unsigned char code_len, campaign_len; /* campaign_len 0: none */
    char code[CODE_MAX_LEN + 1];
    char campaign[CODE_MAX_LEN + 1];
};

struct held;

/* Room for cap entries. */
struct held *held_new(size_t cap);
void held_free(struct held *h);

/* Hold one follow of code[0..code_len) (hash code_hash) and its campaign
 * (NULL: none): the entry that holds it (its cell 0 when new), or NULL when
 * the ring is full (the caller counts it now). */
struct held_follow *held_add(struct held *h, uint64_t client, uint32_t start,
                             uint32_t due_s, int64_t hour, const char *code,
                             size_t code_len, uint64_t code_hash, const char *campaign,
                             size_t campaign_len);

typedef void held_fn(const struct held_follow *f, void *arg);

/* Hand every entry due by now_s to fn, oldest first, and forget it
 * (now_s UINT32_MAX: every entry, at shutdown). Returns the follows handed. */
uint64_t held_take_due(struct held *h, uint32_t now_s, held_fn *fn, void *arg);

/* Follows held now. */
uint64_t held_follows(const struct held *h);

#endif
