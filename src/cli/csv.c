/* csv: one CSV record per line, split in place. */
#include "csv.h"

#include <stdbool.h>
#include <string.h>

static bool blank(char c)
{
    return c == ' ' || c == '\t';
}

int csv_split(char *line, size_t len, struct csv_field *fields, int max, const char **why)
{
    size_t i = 0;
    int n = 0;

    for (;;) {
        if (n == max) {
            *why = "too many fields";
            return -1;
        }
        while (i < len && blank(line[i]))
            i++;
        if (i < len && line[i] == '"') {
            /* Quoted: copy down over the quotes; w trails i. */
            size_t start = ++i, w = i;
            for (;;) {
                if (i == len) {
                    *why = "unterminated quoted field";
                    return -1;
                }
                if (line[i] == '"') {
                    if (i + 1 < len && line[i + 1] == '"') {
                        line[w++] = '"';
                        i += 2;
                        continue;
                    }
                    i++;
                    break;
                }
                line[w++] = line[i++];
            }
            fields[n].s = line + start;
            fields[n].len = w - start;
            n++;
            while (i < len && blank(line[i]))
                i++;
            if (i < len && line[i] != ',') {
                *why = "text after a closing quote";
                return -1;
            }
        } else {
            size_t start = i;
            while (i < len && line[i] != ',') {
                if (line[i] == '"') {
                    *why = "quote inside an unquoted field";
                    return -1;
                }
                i++;
            }
            size_t end = i;
            while (end > start && blank(line[end - 1]))
                end--;
            fields[n].s = line + start;
            fields[n].len = end - start;
            n++;
        }
        if (i == len)
            return n;
        i++; /* the comma */
    }
}

void csv_write_field(FILE *out, const char *s, size_t len)
{
    bool quote = len > 0 && (blank(s[0]) || blank(s[len - 1]));
    for (size_t i = 0; i < len && !quote; i++)
        quote = s[i] == ',' || s[i] == '"' || s[i] == '\r' || s[i] == '\n';
    if (!quote) {
        fwrite(s, 1, len, out);
        return;
    }
    putc('"', out);
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            putc('"', out);
        putc(s[i], out);
    }
    putc('"', out);
}
