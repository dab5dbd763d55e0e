/* html: text made safe for HTML, for the dashboard's pages and hopctl
 * wrap's href values. */
#ifndef HOPCOUNT_HTML_H
#define HOPCOUNT_HTML_H

#include <stddef.h>
#include <stdio.h>

/* s[0..len) as HTML text or a quoted attribute value: & < > " ' as
 * character references, a control byte as U+FFFD. */
void html_escape(FILE *out, const char *s, size_t len);

#endif
