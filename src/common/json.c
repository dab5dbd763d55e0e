/* json: JSON strings. */
#include "json.h"

void json_string(FILE *out, const char *s, size_t len)
{
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\')
            fprintf(out, "\\%c", c);
        else if (c < 0x20 || c == 0x7f || c == '<' || c == '>' || c == '&')
            fprintf(out, "\\u%04x", c);
        else
            putc(c, out);
    }
    putc('"', out);
}

void json_string_or_null(FILE *out, const char *s, size_t len)
{
    if (s == NULL)
        fputs("null", out);
    else
        json_string(out, s, len);
}
