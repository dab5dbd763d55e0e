/* csv: one CSV record per line (RFC 4180 quoting, no line breaks inside a
 * field), read in place, and fields written back with quoting when needed.
 * Pure except csv_write_field. */
#ifndef HOPCOUNT_CSV_H
#define HOPCOUNT_CSV_H

#include <stddef.h>
#include <stdio.h>

struct csv_field {
    const char *s; /* points into the line passed to csv_split */
    size_t len;
};

/* Split line[0..len) (without its line ending) into at most max fields.
 * Quoted fields may hold commas and doubled quotes ("" for "); their quotes
 * are removed in place, so line is modified. Spaces and tabs around an
 * unquoted field are dropped. Returns the number of fields (an empty line has
 * one empty field), or -1 with *why set to a static reason: an unterminated
 * quote, text after a closing quote, a quote inside an unquoted field, or more
 * than max fields. */
int csv_split(char *line, size_t len, struct csv_field *fields, int max,
              const char **why);

/* Write s[0..len) as one field: quoted (with quotes doubled) when it holds a
 * comma, quote, CR, LF or leading/trailing space, as is otherwise. */
void csv_write_field(FILE *out, const char *s, size_t len);

#endif
