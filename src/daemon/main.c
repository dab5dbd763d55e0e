/* main: command line, conf, logging, then the server. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conf.h"
#include "log.h"
#include "paths.h"
#include "priv.h"
#include "lists.h"
#include "server.h"

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hopcount [-c FILE] [-t] [-V] [-h]\n"
            "  -c FILE  configuration file (default %s)\n",
            paths_conf_default);
    fputs("  -t       check the configuration, print it and exit 0 or 1\n"
          "  -V       print the version and exit\n"
          "  -h       this help\n",
          out);
}

/* Until their handlers exist, the signals hopcount handles wait blocked: a
 * SIGHUP or SIGUSR1 sent at start (logrotate, a reload) must not kill it
 * with their default action. server_run unblocks them. */
static void block_handled_signals(void)
{
    sigset_t handled;
    sigemptyset(&handled);
    sigaddset(&handled, SIGHUP);
    sigaddset(&handled, SIGUSR1);
    sigaddset(&handled, SIGTERM);
    sigaddset(&handled, SIGINT);
    sigprocmask(SIG_BLOCK, &handled, NULL);
}

/* Every check a start runs before binding, which -t runs too: the bots
 * list, the scanner networks and trusted proxies, who to become, the log file (opened for
 * a start, only tried for -t). 0, or -1 with FILE:LINE: key: reason said on stderr. */
static int start_checks(struct conf *conf, bool test, struct priv *priv, char *note,
                        size_t notesz)
{
    char err[512], where[400];
    const char *key;
    struct lists *lists = lists_load(conf, stderr);
    if (lists == NULL)
        return -1;
    lists_free(lists);
    if (priv_plan(conf->user, conf->group, conf->allow_root, priv, note, notesz, &key, err,
                  sizeof(err)) != 0) {
        fprintf(stderr, "%s: %s\n", conf_where(conf, "server", key, where, sizeof(where)),
                err);
        return -1;
    }
    if (conf->log_file[0] != '\0' &&
        (test ? log_check(conf->log_file, err, sizeof(err))
              : log_open(conf->log_file, err, sizeof(err))) != 0) {
        fprintf(stderr, "%s: %s\n", conf_where(conf, "log", "file", where, sizeof(where)),
                err);
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *path = paths_conf_default;
    bool test = false;
    int opt;

    block_handled_signals();
    while ((opt = getopt(argc, argv, "c:tVh")) != -1) {
        switch (opt) {
        case 'c':
            path = optarg;
            break;
        case 't':
            test = true;
            break;
        case 'V':
            printf("hopcount %s\n", paths_version);
            return 0;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (optind != argc) {
        usage(stderr);
        return 2;
    }
    struct conf *conf = conf_load(path, stderr);
    if (conf == NULL) {
        fprintf(stderr, "hopcount: configuration %s has errors; not starting\n", path);
        return 1;
    }
    struct priv priv;
    char note[256];
    if (start_checks(conf, test, &priv, note, sizeof(note)) != 0) {
        conf_free(conf);
        return 1;
    }
    if (test) {
        conf_warnings(conf, stderr);
        conf_print(conf, stdout);
        fprintf(stderr, "hopcount: configuration %s is valid\n", path);
        conf_free(conf);
        return 0;
    }
    log_set_level((enum log_level)conf->log_level);
    log_route_libevent();
    if (note[0] != '\0')
        log_warn("event=privileges note=\"%s\"", note);
    int status = server_run(conf, &priv);
    conf_free(conf);
    return status;
}
