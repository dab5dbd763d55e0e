/* dashhtml: the dashboard's pages, server-rendered: one inline stylesheet,
 * inline SVG charts each with a table beside it, no script and no request
 * to anywhere else. Every value read from Redis is escaped for where it
 * goes (HTML text and attributes, SVG titles; CSV fields). */
#ifndef HOPCOUNT_DASHHTML_H
#define HOPCOUNT_DASHHTML_H

#include <stdio.h>

struct dash_read;

/* The page of a read (found, without failure): the campaigns, a campaign
 * or a link. */
void dash_html(FILE *out, const struct dash_read *rd);

/* The privacy page: what is counted and what never is. */
void dash_html_privacy(FILE *out);

/* A page saying why (its status is the caller's). */
void dash_html_error(FILE *out, const char *why);

/* A campaign's links as CSV: code,url,follows,bot,scan (a field that a
 * spreadsheet would take for a formula starts with '). */
void dash_csv(FILE *out, const struct dash_read *rd);

#endif
