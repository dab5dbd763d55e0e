/* dashjson: a dashboard read as the API's JSON. */
#include "dashjson.h"

#include <string.h>

#include "dashread.h"
#include "json.h"
#include "keys.h"

/* The days of rd's range, counted in days[]. */
static void write_days(FILE *out, const struct dash_read *rd, const struct dash_day *days)
{
    fputs(", \"days\": [", out);
    for (int i = 0; i < rd->ndays; i++) {
        char date[KEYS_DATE_MAX];
        keys_date(date, (rd->first_day + i) * 24);
        const struct dash_day *d = &days[i];
        fprintf(out,
                "%s{\"day\": \"%s\", \"follows\": %lld, \"bot\": %lld, \"scan\": %lld, "
                "\"uniques\": %lld}",
                i ? ", " : "", date, d->follows, d->bot, d->scan, d->uniques);
    }
    fputc(']', out);
}

static void write_totals(FILE *out, const struct dash_totals *t)
{
    fprintf(out, "\"total\": %lld, \"bot\": %lld, \"scan\": %lld", t->total, t->bot,
            t->scan);
}

static void write_link(FILE *out, const struct dash_read *rd)
{
    fputs("{\"code\": ", out);
    json_string(out, rd->name, strlen(rd->name));
    fputs(", \"url\": ", out);
    json_string_or_null(out, rd->url, rd->url ? strlen(rd->url) : 0);
    fputs(", \"campaign\": ", out);
    json_string_or_null(out, rd->campaign, rd->campaign ? strlen(rd->campaign) : 0);
    if (rd->created > 0) {
        char date[KEYS_DATE_MAX];
        keys_date(date, rd->created / 3600);
        fprintf(out, ", \"created\": \"%s\"", date);
    } else {
        fputs(", \"created\": null", out);
    }
    fprintf(out, ", \"track\": %s, ", rd->notrack ? "false" : "true");
    write_totals(out, &rd->t);
    write_days(out, rd, rd->days);
    fputs("}\n", out);
}

static void write_campaign(FILE *out, const struct dash_read *rd)
{
    fputs("{\"campaign\": ", out);
    json_string(out, rd->name, strlen(rd->name));
    fprintf(out, ", \"links\": %lld, ", rd->nlinks);
    write_totals(out, &rd->t);
    write_days(out, rd, rd->days);
    fputs(", \"by_link\": [", out);
    for (size_t i = 0; i < rd->nrows; i++) {
        const struct dash_row *row = &rd->rows[i];
        fputs(i ? ", {\"code\": " : "{\"code\": ", out);
        json_string(out, row->code, strlen(row->code));
        fputs(", \"url\": ", out);
        json_string_or_null(out, row->url, row->url ? strlen(row->url) : 0);
        fputs(", ", out);
        write_totals(out, &row->t);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

static void write_list(FILE *out, const struct dash_read *rd)
{
    fputs("{\"campaigns\": [", out);
    for (size_t i = 0; i < rd->nrows; i++) {
        const struct dash_row *row = &rd->rows[i];
        fputs(i ? ", {\"campaign\": " : "{\"campaign\": ", out);
        json_string(out, row->code, strlen(row->code));
        fprintf(out, ", \"links\": %lld, ", row->nlinks);
        write_totals(out, &row->t);
        write_days(out, rd, row->days);
        fputc('}', out);
    }
    fputs("]}\n", out);
}

void dash_json(FILE *out, const struct dash_read *rd)
{
    if (rd->kind == DASH_LINK)
        write_link(out, rd);
    else if (rd->kind == DASH_CAMPAIGN)
        write_campaign(out, rd);
    else
        write_list(out, rd);
}

void dash_json_error(FILE *out, const char *why)
{
    fputs("{\"error\": ", out);
    json_string(out, why, strlen(why));
    fputs("}\n", out);
}
