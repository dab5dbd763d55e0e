/* burst: a lock-free table of clients' recent follows, and the hourly key. */
#include "burst.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "hash.h"
#include "util.h"

/* A slot's head: the client's tag (the top 31 bits of its hash, never 0), a
 * scanner flag, and its window's start. A word: the window's start (low 16
 * bits, so words of an older window read as free), the campaign's 16-bit
 * fingerprint and the code's 32-bit one. */
#define TAG_SHIFT 33
#define FLAG_SCANNER (1ull << 32)
#define START_MASK 0xffffffffull

struct slot {
    _Atomic uint64_t head;
    _Atomic uint64_t prev; /* the head of the window before, as it ended */
    _Atomic uint64_t words[BURST_LINKS_MAX];
};

struct burst {
    struct slot *slots;
    size_t mask;
    /* The key of hour h is keys[h & 1] while hours[h & 1] == h. */
    _Atomic uint64_t keys[2];
    _Atomic int64_t hours[2];
};

struct burst *burst_new(size_t slots)
{
    struct burst *b = xcalloc(1, sizeof(*b));
    size_t n = 1024;
    while (n < slots)
        n *= 2;
    if (posix_memalign((void **)&b->slots, 64, n * sizeof(*b->slots)) != 0)
        abort();
    memset(b->slots, 0, n * sizeof(*b->slots));
    b->mask = n - 1;
    atomic_store(&b->hours[0], -1);
    atomic_store(&b->hours[1], -1);
    return b;
}

void burst_free(struct burst *b)
{
    if (b == NULL)
        return;
    free(b->slots);
    free(b);
}

/* The key of `hour`, making it (and wiping the hour before's) if this is
 * the first follow of the hour; 0 while another thread is making it. */
static uint64_t key_of(struct burst *b, int64_t hour)
{
    int i = (int)(hour & 1);
    int64_t have = atomic_load_explicit(&b->hours[i], memory_order_acquire);
    if (have == hour)
        return atomic_load_explicit(&b->keys[i], memory_order_relaxed);
    /* A request from an hour that is over (or two ahead) gets no key: the
     * hour's key is gone for good once the next one is made. */
    if (have > hour || have == -2 || atomic_load(&b->hours[1 - i]) > hour ||
        !atomic_compare_exchange_strong(&b->hours[i], &have, (int64_t)-2))
        return 0;
    uint64_t k = 0;
    while (k == 0)
        if (getrandom(&k, sizeof(k), 0) != (ssize_t)sizeof(k))
            k = 0;
    atomic_store_explicit(&b->keys[i], k, memory_order_relaxed);
    atomic_store_explicit(&b->hours[i], hour, memory_order_release);
    /* The hour before: its key is no longer used. */
    atomic_store(&b->hours[1 - i], -1);
    atomic_store(&b->keys[1 - i], 0);
    return k;
}

uint64_t burst_client(struct burst *b, const struct cidr_addr *a, uint64_t ua_hash,
                      int64_t hour)
{
    uint64_t key = key_of(b, hour);
    if (key == 0)
        return 0;
    unsigned char buf[24];
    memcpy(buf, a->b, 16);
    memcpy(buf + 16, &ua_hash, 8);
    uint64_t h = hash_bytes_keyed(buf, sizeof(buf), key);
    memset(buf, 0, sizeof(buf));
    return h;
}

static uint64_t tag_of(uint64_t client)
{
    return (client >> TAG_SHIFT | 1) << TAG_SHIFT;
}

static bool same_window(uint64_t head, uint64_t tag, uint32_t start)
{
    return (head & ~FLAG_SCANNER) == (tag | start);
}

/* Claim slot s for (tag, window open at now) unless another client's
 * window is open in it. The window's head, or 0. */
static uint64_t claim(struct slot *s, uint64_t tag, uint32_t now, unsigned window)
{
    for (int tries = 0; tries < 8; tries++) {
        uint64_t h = atomic_load(&s->head);
        uint32_t start = (uint32_t)(h & START_MASK);
        bool open = h != 0 && now - start < window;
        if (open && (h >> TAG_SHIFT << TAG_SHIFT) == tag)
            return h;
        if (open)
            return 0; /* another client's window */
        /* A scanner that keeps going past its window stays one: a window
         * that opens within a window's length of a scanner's last one (its
         * tail of links) starts flagged. */
        bool carry = (h >> TAG_SHIFT << TAG_SHIFT) == tag && (h & FLAG_SCANNER) &&
                     now - start < 2 * window;
        uint64_t fresh = tag | now | (carry ? FLAG_SCANNER : 0);
        if (atomic_compare_exchange_strong(&s->head, &h, fresh)) {
            if (h != 0)
                atomic_store(&s->prev, h);
            return fresh;
        }
    }
    return 0;
}

/* Mark the window (tag, start) a scanner's. */
static void flag(struct slot *s, uint64_t tag, uint32_t start)
{
    uint64_t h = atomic_load(&s->head);
    while (same_window(h, tag, start) && !(h & FLAG_SCANNER) &&
           !atomic_compare_exchange_weak(&s->head, &h, h | FLAG_SCANNER))
        ;
}

struct burst_ticket burst_note(struct burst *b, uint64_t client, uint32_t camp_fp,
                               uint32_t code_fp, uint32_t now_s, unsigned window_s,
                               unsigned links)
{
    struct burst_ticket t = {0, false, false};
    uint64_t tag = tag_of(client);
    struct slot *s = &b->slots[client & b->mask];
    uint64_t h = claim(s, tag, now_s, window_s);
    if (h == 0) {
        s = &b->slots[(client & b->mask) ^ 1]; /* its neighbour, once */
        h = claim(s, tag, now_s, window_s);
    }
    if (h == 0)
        return t;
    t.start = (uint32_t)(h & START_MASK);
    t.tracked = true;
    if (h & FLAG_SCANNER) {
        t.scanner = true;
        return t;
    }
    uint64_t stamp = (uint64_t)(t.start & 0xffff) << 48;
    uint64_t camp = (uint64_t)(camp_fp & 0xffff) << 32;
    uint64_t mine = stamp | camp | code_fp;
    unsigned same_campaign = 0;
    bool present = false, placed = false;
    for (int i = 0; i < BURST_LINKS_MAX; i++) {
        uint64_t w = atomic_load(&s->words[i]);
        if (w != 0 && (w & 0xffff000000000000ull) == stamp) {
            present = present || w == mine;
            same_campaign += (w & 0x0000ffff00000000ull) == camp;
        }
    }
    for (int i = 0; i < BURST_LINKS_MAX && !present && !placed; i++) {
        uint64_t w = atomic_load(&s->words[i]);
        /* A word of an older window is free: take it, unless another
         * worker takes it first (then look at what it wrote). */
        while (w == 0 || (w & 0xffff000000000000ull) != stamp) {
            if (atomic_compare_exchange_strong(&s->words[i], &w, mine)) {
                placed = true;
                same_campaign++;
                break;
            }
        }
        if (!placed && w == mine)
            present = true;
    }
    if (same_campaign >= links || (!present && !placed)) {
        /* links distinct codes of one campaign, or more codes than a slot
         * holds: a scanner, for the rest of this window. */
        flag(s, tag, t.start);
        t.scanner = true;
    }
    return t;
}

bool burst_scanner(struct burst *b, uint64_t client, uint32_t start)
{
    uint64_t tag = tag_of(client);
    for (size_t k = 0; k < 2; k++) {
        struct slot *s = &b->slots[(client & b->mask) ^ k];
        uint64_t h = atomic_load(&s->head);
        if (same_window(h, tag, start))
            return (h & FLAG_SCANNER) != 0;
        h = atomic_load(&s->prev);
        if (same_window(h, tag, start))
            return (h & FLAG_SCANNER) != 0;
    }
    return false;
}
