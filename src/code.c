/* code: the syntax of short codes and campaign names. Pure. */
#include "code.h"

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
