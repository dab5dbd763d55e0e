/* tally: in-memory aggregation of follows per counter key and UTC hour, owned
 * by one worker thread. Pure data structure: no I/O. */
#ifndef HOPCOUNT_TALLY_H
#define HOPCOUNT_TALLY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "code.h"
#include "hll.h"

/* Which counter hash an entry feeds. */
enum tally_kind {
    TALLY_LINK = 0,     /* P:clicks:CODE */
    TALLY_CAMPAIGN = 1, /* P:campaign:NAME:clicks */
    /* Unique followers (uniques = on): the HyperLogLog cells of one UTC
     * day, the entry's hour being the day's first. */
    TALLY_LINK_UNIQ = 2,     /* P:uniq:CODE:YYYY-MM-DD */
    TALLY_CAMPAIGN_UNIQ = 3, /* P:campaign:NAME:uniq:YYYY-MM-DD */
};

/* A tally's room is counted in keys; this many cells take one key's room
 * (a cell is 4 bytes in a set at most half full, a key about 160). */
#define TALLY_CELLS_PER_KEY 16

/* What a follow is counted as (SPEC §4: total, bot, scan). */
enum tally_class {
    TALLY_HUMAN = 0, /* total, d:, h: */
    TALLY_BOT = 1,   /* bot, bot:d: */
    TALLY_SCAN = 2,  /* scan, scan:d: (a mail-security scanner) */
};

/* One aggregated key: the follows of `name` during UTC hour `hour`. */
struct tally_entry {
    struct tally_entry *next; /* hash chain, or batch list */
    uint64_t hash;
    int64_t hour; /* hours since the epoch */
    uint64_t human;
    uint64_t bot;
    uint64_t scan;
    struct hll_set cells; /* TALLY_*_UNIQ */
    unsigned char kind; /* enum tally_kind */
    unsigned char len;
    char name[CODE_MAX_LEN + 1];
};

struct tally;

/* Where a key sat in the tally when last counted, so that the next follow of
 * it skips the hash lookup. Zeroed means empty; a hint from before the last
 * tally_take is recognised as stale and never followed. */
struct tally_hint {
    struct tally_entry *e;
    uint64_t epoch;
};

/* A tally that holds at most max_keys entries. */
struct tally *tally_new(size_t max_keys);
void tally_free(struct tally *t);
/* A new bound on keys; keys beyond it stay until taken. */
void tally_set_max_keys(struct tally *t, size_t max_keys);

/* Count one follow of name[0..len) (len <= 64) whose hash_bytes() is
 * name_hash, trying *hint first and updating it (a zeroed hint is empty).
 * Returns 0, or -1 when the key is new and the tally is full (the follow is
 * not counted; the caller decides what to do with it). */
int tally_add_hinted(struct tally *t, struct tally_hint *hint, enum tally_kind kind,
                     uint64_t name_hash, const char *name, size_t len, int64_t hour,
                     enum tally_class cls);

/* Note one follower's HyperLogLog cell in the uniques of name[0..len) on
 * the UTC day that starts at hour day_hour (kind TALLY_LINK_UNIQ or
 * TALLY_CAMPAIGN_UNIQ), trying *hint first and updating it. 0, or -1 when
 * the tally is full (nothing noted). */
int tally_add_cell(struct tally *t, struct tally_hint *hint, enum tally_kind kind,
                   uint64_t name_hash, const char *name, size_t len, int64_t day_hour,
                   hll_cell cell);

/* Whether an entry holds unique followers' cells (not follows). */
static inline bool tally_entry_uniq(const struct tally_entry *e)
{
    return e->kind == TALLY_LINK_UNIQ || e->kind == TALLY_CAMPAIGN_UNIQ;
}

/* The follows an entry holds, of every class. */
uint64_t tally_entry_follows(const struct tally_entry *e);

/* Cells held in unique entries. */
size_t tally_cells(const struct tally *t);

/* Number of entries held. */
size_t tally_keys(const struct tally *t);

/* Total follows held (every class), for tests and shutdown reports. */
uint64_t tally_follows(const struct tally *t);

/* Detach every entry as a singly linked list (via next) the caller owns,
 * leaving the tally empty. NULL when empty. */
struct tally_entry *tally_take(struct tally *t);

/* Free one entry (its cells too). tally_entry_free(NULL) does nothing. */
void tally_entry_free(struct tally_entry *e);

/* Free a list returned by tally_take. */
void tally_list_free(struct tally_entry *list);

#endif
