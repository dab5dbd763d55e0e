/* hll: cells of Redis's HyperLogLog and the elements that set them. */
#include "hll.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define HLL_P 14
#define HLL_Q (64 - HLL_P)
#define MURMUR_M 0xc6a4a7935bd1e995ull
#define MURMUR_R 47
#define REDIS_HLL_SEED 0xadc83b19ull

hll_cell hll_cell_of(uint64_t h)
{
    unsigned reg = (unsigned)(h & (HLL_REGISTERS - 1));
    uint64_t rest = (h >> HLL_P) | (1ull << HLL_Q);
    unsigned rank = (unsigned)__builtin_ctzll(rest) + 1;
    return (hll_cell)(reg << 8 | rank);
}

bool hll_cell_valid(hll_cell c)
{
    return hll_cell_register(c) < HLL_REGISTERS && hll_cell_rank(c) >= 1 &&
           hll_cell_rank(c) <= HLL_RANK_MAX;
}

/* x ^ x >> 47 is its own inverse: 47 is more than half of 64. */
static uint64_t unshift(uint64_t x)
{
    return x ^ (x >> MURMUR_R);
}

/* The inverse of m modulo 2^64 (m is odd): Newton's iteration doubles the
 * bits that are right each step, from 3 (m * m = 1 mod 8). */
static uint64_t inverse(uint64_t m)
{
    uint64_t x = m;
    for (int i = 0; i < 5; i++)
        x *= 2 - m * x;
    return x;
}

void hll_element(hll_cell c, unsigned char out[8])
{
    /* The hash Redis must see: the register in the low bits, then
     * rank - 1 zero bits and a one (none for the top rank), zeros above. */
    unsigned rank = hll_cell_rank(c);
    uint64_t want = hll_cell_register(c);
    if (rank < HLL_RANK_MAX)
        want |= 1ull << (HLL_P + rank - 1);
    /* MurmurHash64A of 8 bytes k, step by step, undone from the end:
     * h0 = seed ^ 8m; h = ((h0 ^ mix(k)) * m), then h ^= h >> r; h *= m;
     * h ^= h >> r; with mix(k) = ((k * m) ^ (k * m) >> r) * m. */
    uint64_t minv = inverse(MURMUR_M);
    uint64_t h0 = REDIS_HLL_SEED ^ (8 * MURMUR_M);
    uint64_t h = unshift(want);
    h = unshift(h * minv);
    h *= minv;
    uint64_t k = unshift((h ^ h0) * minv) * minv;
    for (int i = 0; i < 8; i++) /* Redis reads the 8 bytes little-endian */
        out[i] = (unsigned char)(k >> (8 * i));
}

static uint32_t slot_of(hll_cell c, uint32_t cap)
{
    /* Registers are uniform already: spread them by a multiply. */
    return (uint32_t)((hll_cell_register(c) * 2654435761u) >> 8) & (cap - 1);
}

static hll_cell *slots(struct hll_set *s)
{
    return s->cap > HLL_SET_INLINE ? s->slots : s->inline_slots;
}

/* Place c in s (room assured): 1 new register, 0 present. */
static int place(struct hll_set *s, hll_cell c)
{
    hll_cell *v = slots(s);
    for (uint32_t i = slot_of(c, s->cap);; i = (i + 1) & (s->cap - 1)) {
        hll_cell have = v[i];
        if (have == 0) {
            v[i] = c;
            s->n++;
            return 1;
        }
        if (hll_cell_register(have) == hll_cell_register(c)) {
            if (hll_cell_rank(c) > hll_cell_rank(have))
                v[i] = c;
            return 0;
        }
    }
}

/* Twice the room (the first room is the set's own), the cells placed
 * again. */
static void grow(struct hll_set *s)
{
    uint32_t had = s->cap;
    hll_cell small[HLL_SET_INLINE];
    hll_cell *old = had > HLL_SET_INLINE ? s->slots : small;
    if (had <= HLL_SET_INLINE)
        memcpy(small, s->inline_slots, sizeof(small));
    memset(s->inline_slots, 0, sizeof(s->inline_slots));
    s->cap = had ? had * 2 : HLL_SET_INLINE;
    s->slots = s->cap > HLL_SET_INLINE ? xcalloc(s->cap, sizeof(*s->slots)) : NULL;
    s->n = 0;
    for (uint32_t i = 0; i < had; i++)
        if (old[i] != 0)
            place(s, old[i]);
    if (old != small)
        free(old);
}

int hll_set_add(struct hll_set *s, hll_cell c)
{
    if (4 * (s->n + 1) > 3 * s->cap) /* at most three quarters full */
        grow(s);
    return place(s, c);
}

void hll_set_free(struct hll_set *s)
{
    if (s->cap > HLL_SET_INLINE)
        free(s->slots);
    memset(s, 0, sizeof(*s));
}
