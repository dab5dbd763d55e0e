/* handler: one public request: classify it, resolve its link, answer it
 * exactly once, and count the follow unless it is opted out. */
#ifndef HOPCOUNT_HANDLER_H
#define HOPCOUNT_HANDLER_H

#include <stddef.h>

#include "http.h"

struct conf;
struct links;
struct tally;
struct flush;
struct metrics;
struct handler;
struct burst;
struct uniq;

/* All borrowed; they must outlive the handler. burst is the node's burst
 * table, uniq the worker's unique followers' key; the handler holds up to
 * held_cap follows awaiting the burst rule's verdict. */
struct handler *handler_new(const struct conf *conf, struct links *links,
                            struct tally *tally, struct flush *flush, struct metrics *m,
                            struct burst *burst, struct uniq *uniq, size_t held_cap);
void handler_free(struct handler *h);

/* Count the held follows whose burst window has closed (all: every one, at
 * shutdown), as human or scan. Call at least once a second. */
void handler_decide(struct handler *h, bool all);

/* Bytes of per-connection storage the handler needs (http's slot). */
size_t handler_slot_size(void);

/* http callbacks; arg is the handler. */
void handler_on_request(struct http_conn *c, const struct http_request *req, void *slot,
                        void *arg);
void handler_on_abort(struct http_conn *c, void *slot, void *arg);

#endif
