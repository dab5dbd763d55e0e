/* burst: the node's table of recent clients for the burst rule (issue 13).
 * A client that follows `links` distinct codes of one campaign within a
 * window is a scanner. Shared by every worker without a lock: a client's
 * connections land on different workers (SO_REUSEPORT), and each worker
 * notes its follows in the same fixed table of 64-byte slots with atomic
 * compare-and-swap.
 *
 * A scanner's next window, when it opens within one window's length of
 * the end of the last, starts as a scanner's (a gateway's tail of links).
 *
 * A client is a 64-bit keyed hash of its address and user-agent hash. The
 * key is random, lives only in this process's memory and is replaced at
 * every UTC hour (the last hour's key is wiped then), so no hash can be
 * joined across hours or traced back once its hour is over. Slots hold
 * 32-bit fragments of the client hash and of code and campaign hashes, and
 * window start times: no address, agent, code or name. */
#ifndef HOPCOUNT_BURST_H
#define HOPCOUNT_BURST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cidr.h"

#define BURST_LINKS_MAX 6 /* distinct codes a slot remembers per window */

struct burst;

/* A table of about `slots` slots (a power of two, at least 1024). */
struct burst *burst_new(size_t slots);
void burst_free(struct burst *b);

/* The client (address a, user agent hashed to ua_hash) under the key of UTC
 * hour `hour`; 0 when that key is not there (for microseconds at an hour's
 * turn): the follow is then not held. */
uint64_t burst_client(struct burst *b, const struct cidr_addr *a, uint64_t ua_hash,
                      int64_t hour);

/* What burst_note says of a follow. */
struct burst_ticket {
    uint32_t start; /* its window's start (seconds) */
    bool tracked;   /* false: no slot was free; count it as it is */
    bool scanner;   /* the client is a scanner in this window already */
};

/* Note a follow of code (fingerprint code_fp) of campaign (camp_fp) by
 * client at now_s (monotonic seconds). window_s and links are the rule. */
struct burst_ticket burst_note(struct burst *b, uint64_t client, uint32_t camp_fp,
                               uint32_t code_fp, uint32_t now_s, unsigned window_s,
                               unsigned links);

/* Whether client was a scanner in the window that started at `start`
 * (asked once it closed). false when the slot went to another client
 * meanwhile (the table was full): a follow is human unless shown not. */
bool burst_scanner(struct burst *b, uint64_t client, uint32_t start);

#endif
