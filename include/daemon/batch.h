/* batch: a sealed set of counter updates with its writer id and sequence
 * number, the unit that is delivered to Redis exactly once (see
 * docs/delivery.md). */
#ifndef HOPCOUNT_BATCH_H
#define HOPCOUNT_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "tally.h"

#define BATCH_WRITER_MAX 40 /* "<16 hex>-<worker>" and room to spare */

struct spool_file;

struct batch {
    struct batch *next;
    char writer[BATCH_WRITER_MAX]; /* who sealed it: with seq, its identity */
    uint64_t seq;                  /* 1, 2, ... per writer, in sealing order */
    size_t n;
    struct tally_entry **entries; /* n entries, owned */
    uint64_t follows;             /* human + bot over the link entries */
    struct spool_file *file;      /* the spool file it was read from, or NULL */
};

/* A batch of room for cap entries; the caller owns it. */
struct batch *batch_new(const char *writer, uint64_t seq, size_t cap);

/* Add an entry (owned by the batch from now on). */
void batch_add(struct batch *b, struct tally_entry *e);

/* Free the batch and its entries. batch_free(NULL) does nothing. */
void batch_free(struct batch *b);

#endif
