/* batch: a sealed set of counter updates with its writer id and sequence
 * number, the unit that is delivered to Redis exactly once (see
 * docs/delivery.md). */
#ifndef HOPCOUNT_BATCH_H
#define HOPCOUNT_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "tally.h"

/* "<16 hex>-<worker>", a spill's "-sN", a cluster slot's ".sSLOT" and a
 * split replay's ".bSEQ", with room to spare. */
#define BATCH_WRITER_MAX 64

struct spool_file;

/* Where a batch is on its way to Redis. */
enum batch_state {
    BATCH_UNSENT = 0,  /* to be sent (again) */
    BATCH_SENT = 1,    /* on the wire */
    BATCH_APPLIED = 2, /* Redis applied it (now or before); a WAIT must confirm it */
    BATCH_DONE = 3,    /* confirmed: its follows may leave memory */
};

struct batch {
    struct batch *next;
    char writer[BATCH_WRITER_MAX]; /* who sealed it: with seq, its identity */
    uint64_t seq;                  /* 1, 2, ... per writer, in sealing order */
    size_t n;
    struct tally_entry **entries; /* n entries, owned */
    size_t room; /* keys' room it takes: n, and cells at TALLY_CELLS_PER_KEY */
    uint64_t follows;             /* every class, over the link entries */
    struct spool_file *file;      /* the spool file it was read from, or NULL */
    /* Delivery (flush.c): its stream (slot, or 0), its state, and the
     * connection that applied it and the WAIT that covers it. */
    unsigned slot;
    enum batch_state state;
    void *via_rc;
    unsigned long via_epoch;
    uint64_t wait_id;
};

/* A batch of room for cap entries; the caller owns it. */
struct batch *batch_new(const char *writer, uint64_t seq, size_t cap);

/* Add an entry (owned by the batch from now on). */
void batch_add(struct batch *b, struct tally_entry *e);

/* Free the batch and its entries. batch_free(NULL) does nothing. */
void batch_free(struct batch *b);

#endif
