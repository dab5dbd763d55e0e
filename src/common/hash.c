/* hash: the one place that includes xxHash (XXH3, 64 bits). */
#include "hash.h"

#include <xxhash.h>

uint64_t hash_bytes(const void *p, size_t len)
{
    return XXH3_64bits(p, len);
}

uint64_t hash_bytes_keyed(const void *p, size_t len, uint64_t key)
{
    return XXH3_64bits_withSeed(p, len, key);
}
