/* lists: bots list, scanner networks and trusted proxies, loaded as one. */
#include "lists.h"

#include <stdbool.h>
#include <stdlib.h>

#include "cidr.h"
#include "conf.h"
#include "privacy.h"
#include "util.h"

struct lists *lists_load(const struct conf *conf, FILE *err)
{
    struct lists *l = xcalloc(1, sizeof(*l));
    char why[512], where[400];
    bool bad = false;
    if (conf->bots_file[0] != '\0') {
        l->bots = privacy_bots_load(conf->bots_file, why, sizeof(why));
        if (l->bots == NULL) {
            fprintf(err, "%s: %s\n",
                    conf_where(conf, "tracking", "bots_file", where, sizeof(where)), why);
            bad = true;
        }
    }
    if (conf->scanners_file[0] != '\0') {
        l->scanners = cidr_set_load(conf->scanners_file, err);
        bad = bad || l->scanners == NULL;
    }
    if (conf->trusted_proxies[0] != '\0') {
        conf_where(conf, "tracking", "trusted_proxies", where, sizeof(where));
        l->trusted = cidr_set_parse_list(conf->trusted_proxies, where, err);
        bad = bad || l->trusted == NULL;
    }
    if (bad) {
        lists_free(l);
        return NULL;
    }
    return l;
}

void lists_free(struct lists *l)
{
    if (l == NULL)
        return;
    privacy_bots_free(l->bots);
    cidr_set_free(l->scanners);
    cidr_set_free(l->trusted);
    free(l);
}
