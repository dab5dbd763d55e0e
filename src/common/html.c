/* html: text made safe for HTML. */
#include "html.h"

void html_escape(FILE *out, const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        switch (c) {
        case '&':
            fputs("&amp;", out);
            break;
        case '<':
            fputs("&lt;", out);
            break;
        case '>':
            fputs("&gt;", out);
            break;
        case '"':
            fputs("&quot;", out);
            break;
        case '\'':
            fputs("&#39;", out);
            break;
        default:
            if ((unsigned char)c < 0x20 || c == 0x7f)
                fputs("&#xfffd;", out); /* a control: shown as a replacement */
            else
                putc(c, out);
        }
    }
}
