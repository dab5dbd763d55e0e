/* tally: in-memory aggregation of follows per counter key and UTC hour. */
#include "tally.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define TALLY_MIN_BUCKETS 1024

struct tally {
    struct tally_entry **buckets;
    size_t nbuckets; /* power of two */
    size_t count;
    size_t cells; /* in the unique entries */
    size_t max_keys;
    uint64_t follows;
    uint64_t epoch; /* bumped by tally_take: entries stay put within an epoch */
};

static uint64_t entry_hash(enum tally_kind kind, uint64_t name_hash, int64_t hour)
{
    /* Mix the hour and kind in so one name's hours spread across buckets. */
    uint64_t h = name_hash ^ ((uint64_t)hour * 0x9E3779B97F4A7C15ull) ^ (uint64_t)kind;
    return h ^ (h >> 29);
}

struct tally *tally_new(size_t max_keys)
{
    struct tally *t = xcalloc(1, sizeof(*t));
    t->nbuckets = TALLY_MIN_BUCKETS;
    t->buckets = xcalloc(t->nbuckets, sizeof(*t->buckets));
    t->max_keys = max_keys;
    return t;
}

void tally_set_max_keys(struct tally *t, size_t max_keys)
{
    t->max_keys = max_keys;
}

void tally_free(struct tally *t)
{
    if (t == NULL)
        return;
    tally_list_free(tally_take(t));
    free(t->buckets);
    free(t);
}

static void grow(struct tally *t)
{
    size_t n = t->nbuckets * 2;
    struct tally_entry **b = xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct tally_entry *e = t->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            size_t j = e->hash & (n - 1);
            e->next = b[j];
            b[j] = e;
        }
    }
    free(t->buckets);
    t->buckets = b;
    t->nbuckets = n;
}

static struct tally_entry **find(struct tally *t, uint64_t h, enum tally_kind kind,
                                 const char *name, size_t len, int64_t hour)
{
    struct tally_entry **pp = &t->buckets[h & (t->nbuckets - 1)];
    for (; *pp != NULL; pp = &(*pp)->next) {
        struct tally_entry *e = *pp;
        if (e->hash == h && e->hour == hour && e->kind == kind && e->len == len &&
            memcmp(e->name, name, len) == 0)
            break;
    }
    return pp;
}

static void insert(struct tally *t, struct tally_entry *e)
{
    if (t->count >= t->nbuckets)
        grow(t);
    size_t i = e->hash & (t->nbuckets - 1);
    e->next = t->buckets[i];
    t->buckets[i] = e;
    t->count++;
}

static void bump(struct tally_entry *e, enum tally_class cls)
{
    switch (cls) {
    case TALLY_HUMAN:
        e->human++;
        break;
    case TALLY_BOT:
        e->bot++;
        break;
    case TALLY_SCAN:
        e->scan++;
        break;
    }
}

uint64_t tally_entry_follows(const struct tally_entry *e)
{
    return e->human + e->bot + e->scan;
}

/* Whether the tally has used its room: keys, and cells at
 * TALLY_CELLS_PER_KEY a key. */
static bool full(const struct tally *t)
{
    return t->count + t->cells / TALLY_CELLS_PER_KEY >= t->max_keys;
}

/* The entry of (kind, name, hour), made if new; NULL when it is new and
 * the tally is full. */
static struct tally_entry *entry(struct tally *t, enum tally_kind kind,
                                 uint64_t name_hash, const char *name, size_t len,
                                 int64_t hour)
{
    uint64_t h = entry_hash(kind, name_hash, hour);
    struct tally_entry *e = *find(t, h, kind, name, len, hour);
    if (e != NULL)
        return e;
    if (full(t) || len > CODE_MAX_LEN)
        return NULL;
    e = xmalloc(sizeof(*e)); /* each field set: no zeroing of the name's room */
    e->hash = h;
    e->hour = hour;
    e->human = 0;
    e->bot = 0;
    e->scan = 0;
    memset(&e->cells, 0, sizeof(e->cells));
    e->kind = (unsigned char)kind;
    e->len = (unsigned char)len;
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    insert(t, e);
    return e;
}

/* The entry *hint names if it is still (kind, hour)'s of this epoch,
 * else the table's (made if new; the hint updated). NULL when full. */
static struct tally_entry *hinted(struct tally *t, struct tally_hint *hint,
                                  enum tally_kind kind, uint64_t name_hash,
                                  const char *name, size_t len, int64_t hour)
{
    struct tally_entry *e = hint->e;
    /* Within an epoch an entry is never freed or moved, and a hint belongs to
     * one key: the epoch and the hour are all there is to check. */
    if (e != NULL && hint->epoch == t->epoch && e->hour == hour && e->kind == kind)
        return e;
    e = entry(t, kind, name_hash, name, len, hour);
    if (e != NULL) {
        hint->e = e;
        hint->epoch = t->epoch;
    }
    return e;
}

int tally_add_hinted(struct tally *t, struct tally_hint *hint, enum tally_kind kind,
                     uint64_t name_hash, const char *name, size_t len, int64_t hour,
                     enum tally_class cls)
{
    struct tally_entry *e = hinted(t, hint, kind, name_hash, name, len, hour);
    if (e == NULL)
        return -1;
    bump(e, cls);
    t->follows++;
    return 0;
}

int tally_add_cell(struct tally *t, struct tally_hint *hint, enum tally_kind kind,
                   uint64_t name_hash, const char *name, size_t len, int64_t day_hour,
                   hll_cell cell)
{
    if (full(t))
        return -1;
    struct tally_entry *e = hinted(t, hint, kind, name_hash, name, len, day_hour);
    if (e == NULL)
        return -1;
    t->cells += (size_t)hll_set_add(&e->cells, cell);
    return 0;
}

size_t tally_cells(const struct tally *t)
{
    return t->cells;
}

size_t tally_keys(const struct tally *t)
{
    return t->count;
}

uint64_t tally_follows(const struct tally *t)
{
    return t->follows;
}

struct tally_entry *tally_take(struct tally *t)
{
    struct tally_entry *list = NULL;
    if (t->count == 0)
        return NULL;
    for (size_t i = 0; i < t->nbuckets; i++) {
        struct tally_entry *e = t->buckets[i], *next;
        for (; e != NULL; e = next) {
            next = e->next;
            e->next = list;
            list = e;
        }
        t->buckets[i] = NULL;
    }
    t->count = 0;
    t->cells = 0;
    t->follows = 0;
    t->epoch++;
    return list;
}

void tally_entry_free(struct tally_entry *e)
{
    if (e == NULL)
        return;
    hll_set_free(&e->cells);
    free(e);
}

void tally_list_free(struct tally_entry *list)
{
    while (list != NULL) {
        struct tally_entry *next = list->next;
        tally_entry_free(list);
        list = next;
    }
}
