/* code: the syntax of short codes and campaign names, and random codes. */
#include "code.h"

#include <errno.h>
#include <stdint.h>
#include <sys/random.h>

bool code_char_ok(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c == '-';
}

bool code_valid(const char *s, size_t len)
{
    if (len < 1 || len > CODE_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!code_char_ok(s[i]))
            return false;
    return true;
}

bool code_campaign_valid(const char *s, size_t len)
{
    if (len < 1 || len > CAMPAIGN_MAX_LEN)
        return false;
    for (size_t i = 0; i < len; i++)
        if (!code_char_ok(s[i]) && s[i] != '.')
            return false;
    return true;
}

/* Digits and letters without the look-alikes 0 O o 1 l I. */
static const char random_alphabet[] = "23456789"
                                      "abcdefghijkmnpqrstuvwxyz"
                                      "ABCDEFGHJKLMNPQRSTUVWXYZ";
#define ALPHABET_LEN (sizeof(random_alphabet) - 1)
/* Bytes at or above this would bias the draw: rejected. */
#define ALPHABET_LIMIT (256 - 256 % ALPHABET_LEN)

int code_random(char *out, size_t len)
{
    uint8_t pool[64];
    size_t have = 0, used = 0, i = 0;

    while (i < len) {
        if (used == have) {
            ssize_t n = getrandom(pool, sizeof(pool), 0);
            if (n < 0) {
                if (errno == EINTR)
                    continue;
                return -1;
            }
            have = (size_t)n;
            used = 0;
            continue;
        }
        uint8_t b = pool[used++];
        if (b < ALPHABET_LIMIT)
            out[i++] = random_alphabet[b % ALPHABET_LEN];
    }
    out[len] = '\0';
    return 0;
}
