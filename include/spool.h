/* spool: batches Redis could not take, written to spool_dir (fsync'd,
 * checksummed, atomically renamed) and read back at the next start. The
 * only file I/O after start-up, and only at shutdown or on overflow. */
#ifndef HOPCOUNT_SPOOL_H
#define HOPCOUNT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"

/* Write the list of batches (borrowed) to a new file in dir. Returns 0, or
 * -1 with a reason in err. Writes nothing for an empty list. */
int spool_write(const char *dir, const char *writer, const struct batch *list, char *err,
                size_t errsz);

/* Create dir (and its parents, mode 0750) if missing, so that a spool can
 * be written when it is needed. 0 or -1 with errno. */
int spool_prepare(const char *dir);

/* Read every spool file in dir. Each good file's batches are appended to
 * *out sorted by (writer, seq), with b->file set; a file that fails its
 * checksum or does not parse is renamed to NAME.corrupt and reported in
 * *corrupt (count) with one line each through the logger. Returns the number
 * of batches read, or -1 when dir cannot be read. */
long spool_load(const char *dir, struct batch **out, int *corrupt);

/* A batch read from file f was delivered: when all of f's are, f is
 * removed. */
void spool_file_done(struct spool_file *f);

/* A batch read from f is let go undelivered (it was spooled again, or the
 * process is ending): f stays on disk. */
void spool_file_release(struct spool_file *f);

/* Follows in the batches of a list. */
uint64_t spool_follows(const struct batch *list);

#endif
