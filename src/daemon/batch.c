/* batch: a sealed set of counter updates with its writer id and sequence. */
#include "batch.h"

#include <stdlib.h>

#include "util.h"

struct batch *batch_new(const char *writer, uint64_t seq, size_t cap)
{
    struct batch *b = xcalloc(1, sizeof(*b));
    util_strlcpy(b->writer, writer, sizeof(b->writer));
    b->seq = seq;
    b->entries = xcalloc(cap ? cap : 1, sizeof(*b->entries));
    return b;
}

void batch_add(struct batch *b, struct tally_entry *e)
{
    e->next = NULL;
    b->entries[b->n++] = e;
    b->room += 1 + e->cells.n / TALLY_CELLS_PER_KEY;
    if (e->kind == TALLY_LINK) /* each follow once: its link's key */
        b->follows += tally_entry_follows(e);
}

void batch_free(struct batch *b)
{
    if (b == NULL)
        return;
    for (size_t i = 0; i < b->n; i++)
        tally_entry_free(b->entries[i]);
    free(b->entries);
    free(b);
}
