/* libFuzzer driver: request classification. The input is parsed by
 * http-parser the way the http module does (path, header names and values
 * in fragments), classified by the privacy module, the path checked as a
 * code, and answered by the reply module; the answer must never carry a
 * request byte into a header. */
#include <http_parser.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "privacy.h"
#include "reply.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct req {
    char url[4096];
    size_t url_len;
    char name[24], val[1024];
    size_t name_len, val_len;
    bool in_value;
    unsigned flags;
    struct privacy_bots *bots;
};

static void finish(struct req *r)
{
    enum privacy_header h = privacy_header_kind(r->name, r->name_len);
    r->flags |= privacy_header_flags(h, r->val, r->val_len, r->bots);
    r->name_len = r->val_len = 0;
}

static int on_url(http_parser *p, const char *at, size_t len)
{
    struct req *r = p->data;
    if (r->url_len + len > sizeof(r->url))
        return -1;
    memcpy(r->url + r->url_len, at, len);
    r->url_len += len;
    return 0;
}

static int on_field(http_parser *p, const char *at, size_t len)
{
    struct req *r = p->data;
    if (r->in_value)
        finish(r);
    r->in_value = false;
    size_t n = len < sizeof(r->name) - r->name_len ? len : sizeof(r->name) - r->name_len;
    memcpy(r->name + r->name_len, at, n);
    r->name_len += n;
    return 0;
}

static int on_value(http_parser *p, const char *at, size_t len)
{
    struct req *r = p->data;
    r->in_value = true;
    size_t n = len < sizeof(r->val) - r->val_len ? len : sizeof(r->val) - r->val_len;
    memcpy(r->val + r->val_len, at, n);
    r->val_len += n;
    return 0;
}

static int on_complete(http_parser *p)
{
    struct req *r = p->data;
    if (r->in_value)
        finish(r);
    r->in_value = false;
    /* The path as a code, and as a Location (which reply must refuse unless
     * it is safe). */
    size_t plen = strcspn(r->url, "?#");
    if (plen > r->url_len)
        plen = r->url_len;
    if (plen > 1 && code_valid(r->url + 1, plen - 1)) {
        for (size_t i = 1; i < plen; i++)
            if (!code_char_ok(r->url[i]))
                abort();
    }
    struct reply_buf b = {0};
    struct reply_date d = {0};
    reply_date_update(&d, 0);
    reply_redirect(&b, &d, 302, r->url, r->url_len, 0, REPLY_CLOSE);
    /* Headers end at the first blank line; no CR or LF may appear inside one. */
    const char *end = memmem(b.p, b.len, "\r\n\r\n", 4);
    for (const char *c = b.p; end != NULL && c < end; c++)
        if ((*c == '\r' && c[1] != '\n') || (*c == '\n' && c[-1] != '\r'))
            abort();
    reply_buf_free(&b);
    r->url_len = 0;
    r->flags = 0;
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct privacy_bots *bots;
    if (bots == NULL) {
        const char *list = "googlebot\nslackbot\ncurl/\n";
        int bad;
        bots = privacy_bots_parse(list, strlen(list), &bad);
    }
    static const http_parser_settings settings = {
        .on_url = on_url,
        .on_header_field = on_field,
        .on_header_value = on_value,
        .on_message_complete = on_complete,
    };
    struct req r = {.bots = bots};
    http_parser p;
    http_parser_init(&p, HTTP_REQUEST);
    p.data = &r;
    /* In two pieces, as reads arrive. */
    size_t half = size / 2;
    size_t n = http_parser_execute(&p, &settings, (const char *)data, half);
    if (n == half && HTTP_PARSER_ERRNO(&p) == HPE_OK)
        http_parser_execute(&p, &settings, (const char *)data + half, size - half);
    return 0;
}
