/* hll: the one place that knows how Redis's HyperLogLog files an element
 * (PFADD: 16,384 registers, each keeping the highest "rank" seen), so that
 * hopcount sends Redis only what a register keeps.
 *
 * A follower's keyed hash (uniq.c) is cut down here to its cell: the
 * register it falls in and its rank, about 20 bits shared by one in 32,768
 * clients or more. What leaves the process (the PFADD elements, the spool
 * files, Redis's AOF and replication stream) is the cell's canonical
 * element: 8 bytes made from the cell alone, which Redis files in exactly
 * that register with exactly that rank. So nothing sent anywhere holds more
 * than the HyperLogLog itself holds (docs/privacy.md). */
#ifndef HOPCOUNT_HLL_H
#define HOPCOUNT_HLL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HLL_REGISTERS 16384 /* Redis's HLL_P 14 */
#define HLL_RANK_MAX 51     /* 64 - 14 hash bits, plus one */

/* A cell: register << 8 | rank (rank 1..51); 0 is no cell. */
typedef uint32_t hll_cell;

static inline unsigned hll_cell_register(hll_cell c)
{
    return c >> 8;
}

static inline unsigned hll_cell_rank(hll_cell c)
{
    return c & 0xff;
}

/* The cell a 64-bit hash falls in: its low 14 bits the register, one more
 * than the run of zero bits above them the rank (as Redis reads its own
 * hash of an element). */
hll_cell hll_cell_of(uint64_t h);

/* Whether c is a cell hll_cell_of could return. */
bool hll_cell_valid(hll_cell c);

/* The 8-byte element that PFADD files in c's register with c's rank:
 * Redis's element hash (MurmurHash64A, seed 0xadc83b19) run backwards from
 * the canonical hash of the cell. */
void hll_element(hll_cell c, unsigned char out[8]);

/* The cells of one key: each register's highest rank, in a small open
 * hash (at most HLL_REGISTERS cells), held in the set itself while it has
 * room (most keys see a few followers between two flushes). Zeroed is
 * empty. */
#define HLL_SET_INLINE 4
struct hll_set {
    hll_cell *slots; /* when cap > HLL_SET_INLINE */
    uint32_t cap;    /* power of two, or 0 */
    uint32_t n;      /* registers held */
    hll_cell inline_slots[HLL_SET_INLINE];
};

/* Note c (a valid cell): 1 when it added a register, 0 when the register
 * was there (its rank raised if c's is higher). */
int hll_set_add(struct hll_set *s, hll_cell c);

/* The i-th slot's cell, 0 for an empty slot (i < s->cap). */
static inline hll_cell hll_set_slot(const struct hll_set *s, uint32_t i)
{
    return s->cap > HLL_SET_INLINE ? s->slots[i] : s->inline_slots[i];
}

void hll_set_free(struct hll_set *s);

#endif
