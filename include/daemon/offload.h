/* offload: runs one blocking job at a time (spool file I/O) on a thread of
 * its own, so that an event loop never waits on the disk. The job's done
 * callback runs back on the loop's thread, woken through an eventfd. */
#ifndef HOPCOUNT_OFFLOAD_H
#define HOPCOUNT_OFFLOAD_H

#include <stdbool.h>
#include <stddef.h>

struct event_base;
struct offload;

/* A thread for base's loop (created now, idle until a job comes). NULL with
 * a reason in err. Create it while the signals the main thread handles are
 * blocked: the thread inherits the mask. */
struct offload *offload_new(struct event_base *base, char *err, size_t errsz);

/* Wait for the job in hand (running its done), stop and join the thread. */
void offload_free(struct offload *o);

/* Run work(arg) on the thread, then done(arg) on the loop. -1 when a job is
 * in hand (running, or finished with its done not run yet). */
int offload_start(struct offload *o, void (*work)(void *arg), void (*done)(void *arg),
                  void *arg);

/* A job is in hand. */
bool offload_busy(struct offload *o);

/* Block until the job in hand, if any, has run, and run its done here. */
void offload_wait(struct offload *o);

#endif
