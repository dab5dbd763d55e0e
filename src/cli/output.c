/* output: JSON strings and dates for hopctl's formats. */
#include "output.h"

#include <time.h>

void json_string(FILE *out, const char *s, size_t len)
{
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f)
            fprintf(out, "\\u%04x", c);
        else
            putc(c, out);
    }
    putc('"', out);
}

/* s[0..len) as a JSON string, or null when s is NULL. */
void json_string_or_null(FILE *out, const char *s, size_t len)
{
    if (s == NULL)
        fputs("null", out);
    else
        json_string(out, s, len);
}

void utc_date(int64_t unix_s, char *buf, size_t sz)
{
    time_t t = (time_t)unix_s;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, sz, "%Y-%m-%d", &tm);
}
