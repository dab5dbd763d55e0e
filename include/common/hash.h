/* hash: the one place that includes xxHash (XXH3, 64 bits). */
#ifndef HOPCOUNT_HASH_H
#define HOPCOUNT_HASH_H

#include <stddef.h>
#include <stdint.h>

uint64_t hash_bytes(const void *p, size_t len);

#endif
