/* held: a ring of follows awaiting the burst rule's verdict. */
#include "held.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define HELD_MEMO 4096 /* power of two: where recent entries sit, to fold repeats */

struct held {
    struct held_follow *ring;
    size_t cap;
    uint64_t head, tail; /* absolute positions: oldest, next free */
    uint64_t follows;
    uint64_t memo[HELD_MEMO]; /* absolute position + 1 of a recent entry, or 0 */
};

struct held *held_new(size_t cap)
{
    struct held *h = xcalloc(1, sizeof(*h));
    h->cap = cap > 0 ? cap : 1;
    h->ring = xcalloc(h->cap, sizeof(*h->ring));
    return h;
}

void held_free(struct held *h)
{
    if (h == NULL)
        return;
    free(h->ring);
    free(h);
}

static size_t memo_slot(uint64_t client, uint32_t start, uint64_t code_hash, int64_t hour)
{
    uint64_t k =
        client ^ (code_hash * 0x9E3779B97F4A7C15ull) ^ start ^ ((uint64_t)hour << 20);
    return (size_t)((k ^ (k >> 31)) & (HELD_MEMO - 1));
}

struct held_follow *held_add(struct held *h, uint64_t client, uint32_t start,
                             uint32_t due_s, int64_t hour, const char *code,
                             size_t code_len, uint64_t code_hash, const char *campaign,
                             size_t campaign_len)
{
    size_t m = memo_slot(client, start, code_hash, hour);
    uint64_t at = h->memo[m];
    if (at > h->head && at <= h->tail) {
        struct held_follow *f = &h->ring[(at - 1) % h->cap];
        if (f->client == client && f->start == start && f->hour == hour &&
            f->code_hash == code_hash && f->code_len == code_len &&
            memcmp(f->code, code, code_len) == 0 && f->count < UINT32_MAX) {
            f->count++;
            h->follows++;
            return f;
        }
    }
    if (h->tail - h->head == h->cap || code_len > CODE_MAX_LEN ||
        campaign_len > CODE_MAX_LEN)
        return NULL;
    struct held_follow *f = &h->ring[h->tail % h->cap];
    f->client = client;
    f->start = start;
    f->due_s = due_s;
    f->hour = hour;
    f->code_hash = code_hash;
    f->count = 1;
    f->cell = 0;
    f->code_len = (unsigned char)code_len;
    memcpy(f->code, code, code_len);
    f->code[code_len] = '\0';
    f->campaign_len = (unsigned char)(campaign != NULL ? campaign_len : 0);
    if (campaign != NULL)
        memcpy(f->campaign, campaign, campaign_len);
    f->campaign[f->campaign_len] = '\0';
    h->tail++;
    h->memo[m] = h->tail;
    h->follows++;
    return f;
}

uint64_t held_take_due(struct held *h, uint32_t now_s, held_fn *fn, void *arg)
{
    uint64_t n = 0;
    while (h->head < h->tail) {
        struct held_follow *f = &h->ring[h->head % h->cap];
        /* Due times grow with the ring (a follow's window closes within
         * window_s of it), so the first one not due ends the pass. */
        if (now_s != UINT32_MAX && (int32_t)(now_s - f->due_s) < 0)
            break;
        fn(f, arg);
        n += f->count;
        h->follows -= f->count;
        h->head++;
    }
    return n;
}

uint64_t held_follows(const struct held *h)
{
    return h->follows;
}
