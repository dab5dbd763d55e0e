/* uniq: one worker's part in counting unique followers (uniques = on).
 *
 * A follower is (client address, user agent), hashed under the UTC day's
 * random key and cut down to its HyperLogLog cell (hll.h). Every worker of
 * every node must use the same key on a day, or one person counts once per
 * worker: each proposes a random key with SET P:uniqkey:DAY ... NX GET, and
 * all use the one Redis kept. The key expires UNIQ_GRACE_S after its day
 * ends and is wiped from memory when the day is over; hopcount never
 * writes it anywhere else (docs/privacy.md). */
#ifndef HOPCOUNT_UNIQ_H
#define HOPCOUNT_UNIQ_H

#include <stdint.h>

#include "hll.h"

#define UNIQ_GRACE_S 60       /* the key outlives its day by this much */
#define UNIQ_AHEAD_S 3600     /* the next day's key is agreed this early */
#define UNIQ_RECHECK_MS 60000 /* a key is asked again this often (converges) */

struct event_base;
struct conf;
struct route;
struct metrics;
struct cidr_addr;
struct uniq;

/* conf, r and m are borrowed; free the uniq after the route (a command in
 * flight answers when the route is freed). */
struct uniq *uniq_new(const struct conf *conf, struct route *r, struct metrics *m);
void uniq_free(struct uniq *u);

/* Once a second and when Redis comes up: ask for the keys this worker
 * lacks (today's; tomorrow's in the last UNIQ_AHEAD_S of the day), ask
 * again those not asked for UNIQ_RECHECK_MS, and wipe the keys of days
 * that are over. Nothing while uniques is off. */
void uniq_tick(struct uniq *u);

/* The follower's cell on the UTC day of now_ms (wall clock), or 0 when
 * that day's key is not known here (yet, or any more). */
hll_cell uniq_cell(struct uniq *u, const struct cidr_addr *a, uint64_t ua_hash,
                   uint64_t now_ms);

#endif
