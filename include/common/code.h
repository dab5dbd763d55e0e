/* code: the syntax of short codes and campaign names (pure), and fresh random
 * codes. */
#ifndef HOPCOUNT_CODE_H
#define HOPCOUNT_CODE_H

#include <stdbool.h>
#include <stddef.h>

#define CODE_MAX_LEN 64
#define CAMPAIGN_MAX_LEN 64

/* True for A-Z a-z 0-9 _ - */
bool code_char_ok(char c);

/* True when s[0..len) matches [A-Za-z0-9_-]{1,64}. */
bool code_valid(const char *s, size_t len);

/* True when s[0..len) matches [A-Za-z0-9_.-]{1,64}. */
bool code_campaign_valid(const char *s, size_t len);

/* Shortest and default length of a code from code_random. */
#define CODE_RANDOM_MIN_LEN 4
#define CODE_RANDOM_DEFAULT_LEN 8

/* Fill out[0..len) with a random code (len >= 1) drawn uniformly from 56
 * characters that cannot be mistaken for one another (no 0 O o 1 l I). out is
 * NUL-terminated, so it holds len + 1 bytes. Uses getrandom(2); 0, or -1 with
 * errno set when the kernel has no randomness to give. */
int code_random(char *out, size_t len);

#endif
