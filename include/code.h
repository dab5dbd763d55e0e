/* code: the syntax of short codes and campaign names. Pure. */
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

#endif
