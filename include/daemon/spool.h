/* spool: batches Redis could not take, written to spool_dir (fsync'd,
 * checksummed, atomically renamed) and read back at the next start. The
 * only file I/O after start-up: at shutdown, and on overflow or replay on a
 * worker's spool thread (offload), never on its loop. */
#ifndef HOPCOUNT_SPOOL_H
#define HOPCOUNT_SPOOL_H

#include <stddef.h>
#include <stdint.h>

#include "batch.h"

struct spool_queue;

/* Write the list of batches (borrowed) to a new file in dir. Returns 0, or
 * -1 with a reason in err. Writes nothing for an empty list. */
int spool_write(const char *dir, const char *writer, const struct batch *list, char *err,
                size_t errsz);

/* Create dir (and its parents, mode 0750) if missing, so that a spool can
 * be written when it is needed. 0 or -1 with errno. */
int spool_prepare(const char *dir);

/* The spool files in dir when it is opened, to be read oldest first a few
 * at a time (files written later are not in it). NULL with errno when dir
 * cannot be read; a missing dir is an empty queue. */
struct spool_queue *spool_queue_open(const char *dir);
void spool_queue_free(struct spool_queue *q);

/* Files not read yet. */
size_t spool_queue_left(const struct spool_queue *q);

/* Read files, oldest first, until at least max_keys keys are read (one file
 * at least) or none is left. Their batches are appended to *out sorted by
 * (writer, seq), with b->file set; a file that fails its checksum or does
 * not parse is renamed to NAME.corrupt and counted in *corrupt, with one log
 * line each. Returns the number of batches read. */
long spool_queue_read(struct spool_queue *q, size_t max_keys, struct batch **out,
                      int *corrupt);

/* A batch read from file f was delivered: when all of f's are, f is
 * removed. */
void spool_file_done(struct spool_file *f);

/* A batch read from f became 1 + more batches (split by slot): f is
 * removed once all of them are delivered. */
void spool_file_split(struct spool_file *f, size_t more);

/* A batch read from f is let go undelivered (it was spooled again, or the
 * process is ending): f stays on disk. */
void spool_file_release(struct spool_file *f);

/* Follows in the batches of a list. */
uint64_t spool_follows(const struct batch *list);

#endif
