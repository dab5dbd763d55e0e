/* json: JSON strings. */
#include "json.h"

#include <stdbool.h>

void json_string(FILE *out, const char *s, size_t len)
{
    size_t run = 0; /* s[run..i) is written as it is */
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        bool quote = c == '"' || c == '\\';
        if (!quote && !(c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&'))
            continue;
        fwrite(s + run, 1, i - run, out);
        run = i + 1;
        if (quote)
            fprintf(out, "\\%c", c);
        else
            fprintf(out, "\\u%04x", c);
    }
    fwrite(s + run, 1, len - run, out);
    putc('"', out);
}

void json_string_or_null(FILE *out, const char *s, size_t len)
{
    if (s == NULL)
        fputs("null", out);
    else
        json_string(out, s, len);
}
