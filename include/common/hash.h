/* hash: the one place that includes xxHash (XXH3, 64 bits). */
#ifndef HOPCOUNT_HASH_H
#define HOPCOUNT_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *p, size_t len);

/* The same under a 64-bit key (XXH3's seed): another key, unrelated hashes. */
uint64_t hash_bytes_keyed(const void *p, size_t len, uint64_t key);

#endif
