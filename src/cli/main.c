/* hopctl: create and manage tracked links and read their counts (SPEC §5):
 * the command line and its dispatch. Shares hopcount's conf file and its
 * validation: code, url, keys. */
#include <getopt.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "code.h"
#include "conf.h"
#include "ctl.h"
#include "paths.h"
#include "util.h"

struct command {
    const char *name;
    int (*run)(struct ctl *ctl);
    unsigned allowed; /* OPT_* bits */
    int min_args, max_args;
    const char *synopsis;
    const char *help;
};

static const struct command *current;

static void usage(FILE *out);

int ctl_usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    ctl_vsay(fmt, ap);
    va_end(ap);
    if (current != NULL)
        fprintf(stderr, "usage: hopctl [-c FILE] %s\n", current->synopsis);
    else
        usage(stderr);
    return EXIT_USAGE;
}

/* ---- command line -------------------------------------------------------- */

static const struct command commands[] = {
    {"add", cmd_add, OPT_CAMPAIGN | OPT_FORCE | OPT_NO_TRACK, 2, 2,
     "add CODE URL [--campaign NAME] [--no-track] [--force]",
     "Create the link CODE to URL, in campaign NAME. An existing CODE with another\n"
     "target, campaign or tracking is kept unless --force (which keeps its counts and "
     "created time).\n"
     "--no-track: followers are redirected and never counted (transactional or\n"
     "consent-bound links). Running hopcount servers serve the change within a "
     "second.\n"},
    {"new", cmd_new, OPT_CAMPAIGN | OPT_LENGTH | OPT_NO_TRACK, 1, 1,
     "new URL [--campaign NAME] [--length N] [--no-track]",
     "Create a link to URL under a fresh random code and print the code. Codes are\n"
     "N characters (default 8, 4 to 64) of 2-9 a-z A-Z without look-alikes (0 O o 1 l "
     "I).\n"},
    {"rm", cmd_rm, OPT_PURGE, 1, 1, "rm CODE [--purge]",
     "Remove the link CODE (and from its campaign). Its counts stay for the record\n"
     "unless --purge; campaign totals keep the follows they counted.\n"},
    {"list", cmd_list, OPT_CAMPAIGN | OPT_FORMAT, 0, 0,
     "list [--campaign NAME] [--format table|csv|json]",
     "List links sorted by code (SCAN, never KEYS), each tracked (on) or not (off).\n"
     "--format csv writes code,url,campaign,track rows that hopctl import reads back.\n"},
    {"import", cmd_import, OPT_FORCE, 1, 1, "import FILE|- [--force]",
     "Create links from CSV rows code,url[,campaign[,track]] (track on, the default,\n"
     "or off: never counted; a header row is optional,\n"
     "fields may be quoted). Every good row is written, pipelined; each bad row is\n"
     "reported as FILE:LINE: reason and the exit status is then 1. Rows whose code\n"
     "exists with another target are bad unless --force. - reads stdin.\n"},
    {"stats", cmd_stats, OPT_CAMPAIGN | OPT_DAYS | OPT_FORMAT, 0, 1,
     "stats CODE | --campaign NAME [--days N] [--format table|csv|json]",
     "Show all-time follows, bot follows and scanner follows and a per-day series\n"
     "(UTC) of the last N days (default 14, zero-filled) for a link or a campaign,\n"
     "and whether the link is tracked.\n"},
    {"prune", cmd_prune, OPT_DRY_RUN | OPT_FULL, 0, 0, "prune [--full] [--dry-run]",
     "Apply [retention]: remove hour fields older than hourly_days and day fields\n"
     "(d:, bot:d:, scan:d:) older than daily_days from every counter hash of this\n"
     "prefix, one key at a time (an interrupted pass leaves each key done or not;\n"
     "run it again). Totals stay. A daily pass removes by name what left the\n"
     "windows since the last pass; --full reads every field (also the first pass,\n"
     "a window changed by more than a month, and every 30 days). --dry-run counts\n"
     "what would go. Run daily (hopcount-prune.timer).\n"},
    {"wrap", cmd_wrap,
     OPT_CAMPAIGN | OPT_BASE | OPT_FORMAT | OPT_DRY_RUN | OPT_MAP | OPT_OUTPUT |
         OPT_SKIP | OPT_CODES | OPT_LENGTH | OPT_STRICT,
     0, 1,
     "wrap --base URL [--campaign NAME] [--format html|text|auto] [--codes random|slug]\n"
     "       [--length N] [--skip PATTERN]... [--map FILE] [-o FILE] [--strict] "
     "[--dry-run] [FILE|-]",
     "Write the newsletter FILE (default stdin) with every trackable link replaced by\n"
     "a tracked one, BASE/CODE: in HTML the href of <a> and <area> (only those bytes\n"
     "change), in text http(s) URLs. One link per distinct target in the campaign;\n"
     "links the campaign has already are reused, so running it again changes nothing.\n"
     "Left as they are: mailto:, tel:, #anchors, relative URLs, BASE's host, URLs with\n"
     "ESP merge tags ({{ }}, {% %}, *| |*, [ ], %% %%: said), data-hopcount=\"off\",\n"
     "URLs matching a --skip glob; data-hopcount=\"notrack\" makes a --no-track link.\n"
     "A target the daemon would refuse is said as FILE:LINE: reason (exit 1; --strict:\n"
     "nothing written). --dry-run prints each target's code, new or existing, and\n"
     "writes nothing. --map writes code,url,campaign,track rows (hopctl import).\n"},
    {"markers", cmd_markers, OPT_OLDER | OPT_DRY_RUN, 0, 0,
     "markers [--older-than DAYS [--dry-run]]",
     "Count hopcount's flush markers (P:flush:*), which a killed or spooling run\n"
     "leaves behind, and the oldest writer's start. --older-than deletes the markers\n"
     "of writers started more than DAYS days ago: only once no spool file of theirs\n"
     "can still be replayed (docs/delivery.md).\n"},
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static void usage(FILE *out)
{
    fprintf(out,
            "usage: hopctl [-c FILE] COMMAND [ARGS]\n"
            "  -c FILE   hopcount's configuration file, for the Redis connection\n"
            "            (default %s)\n",
            paths_conf_default);
    fputs("  -h, --help    this help; hopctl COMMAND --help for one command\n"
          "  -V, --version the version\n"
          "commands:\n",
          out);
    for (size_t i = 0; i < NCOMMANDS; i++)
        fprintf(out, "  %s\n", commands[i].synopsis);
    fprintf(out, "exit status: 0 done, 1 bad input or failure, 2 usage error\n");
}

static int parse_int_opt(const char *name, const char *val, int min, int max, int *out)
{
    long long v;
    if (util_parse_ll(val, &v) != 0 || v < min || v > max)
        return ctl_usage_error("--%s: \"%s\" is not a number from %d to %d", name, val,
                               min, max);
    *out = (int)v;
    return EXIT_OK;
}

/* Apply one of a command's options (getopt's opt and optarg) to o; its
 * OPT_* bit in *bit. EXIT_OK, or EXIT_USAGE (said). */
static int take_option(struct opts *o, int opt, const char *arg, unsigned *bit)
{
    switch (opt) {
    case 'C':
        *bit = OPT_CAMPAIGN;
        o->campaign = arg;
        return EXIT_OK;
    case 'f':
        *bit = OPT_FORCE;
        o->force = true;
        return EXIT_OK;
    case 'p':
        *bit = OPT_PURGE;
        o->purge = true;
        return EXIT_OK;
    case 'l':
        *bit = OPT_LENGTH;
        return parse_int_opt("length", arg, CODE_RANDOM_MIN_LEN, CODE_MAX_LEN, &o->length);
    case 'd':
        *bit = OPT_DAYS;
        return parse_int_opt("days", arg, 1, STATS_DAYS_MAX, &o->days);
    case 'A':
        *bit = OPT_OLDER;
        return parse_int_opt("older-than", arg, 1, STATS_DAYS_MAX, &o->older_than);
    case 'n':
        *bit = OPT_DRY_RUN;
        o->dry_run = true;
        return EXIT_OK;
    case 'U':
        *bit = OPT_FULL;
        return EXIT_OK;
    case 'T':
        *bit = OPT_NO_TRACK;
        o->notrack = true;
        return EXIT_OK;
    case 'F':
        *bit = OPT_FORMAT;
        o->format_name = arg; /* checked with the command (format_check) */
        return EXIT_OK;
    case 'B':
        *bit = OPT_BASE;
        o->base = arg;
        return EXIT_OK;
    case 'O':
        *bit = OPT_OUTPUT;
        o->output = arg;
        return EXIT_OK;
    case 'M':
        *bit = OPT_MAP;
        o->map = arg;
        return EXIT_OK;
    case 'S':
        *bit = OPT_SKIP;
        if (o->nskip == CTL_SKIP_MAX)
            return ctl_usage_error("--skip: at most %d patterns", CTL_SKIP_MAX);
        o->skip[o->nskip++] = arg;
        return EXIT_OK;
    case 'K':
        *bit = OPT_CODES;
        if (strcmp(arg, "random") != 0 && strcmp(arg, "slug") != 0)
            return ctl_usage_error("--codes: \"%s\" is not random or slug", arg);
        o->codes_slug = strcmp(arg, "slug") == 0;
        return EXIT_OK;
    case 'X':
        *bit = OPT_STRICT;
        o->strict = true;
        return EXIT_OK;
    }
    return ctl_usage_error("unknown option -%c", opt);
}

/* --format's value, as the current command reads it: table, csv or json,
 * or wrap's html, text or auto. EXIT_OK or EXIT_USAGE (said). */
static int format_check(struct opts *o)
{
    static const char *const tables[] = {"table", "csv", "json"};
    static const char *const mails[] = {"html", "text", "auto"};
    bool wrap = current->run == cmd_wrap;
    const char *const *names = wrap ? mails : tables;
    for (int i = 0; i < 3; i++)
        if (strcmp(o->format_name, names[i]) == 0) {
            o->format = wrap ? FORMAT_TABLE : (enum format)i;
            return EXIT_OK;
        }
    return ctl_usage_error("--format: \"%s\" is not %s, %s or %s", o->format_name,
                           names[0], names[1], names[2]);
}

/* The current command's options and arguments. EXIT_OK; -1 after --help;
 * EXIT_USAGE (said). */
static int parse_command(struct ctl *ctl, int argc, char **argv)
{
    static const struct option longopts[] = {
        {"campaign", required_argument, NULL, 'C'},
        {"force", no_argument, NULL, 'f'},
        {"purge", no_argument, NULL, 'p'},
        {"length", required_argument, NULL, 'l'},
        {"days", required_argument, NULL, 'd'},
        {"format", required_argument, NULL, 'F'},
        {"older-than", required_argument, NULL, 'A'},
        {"base", required_argument, NULL, 'B'},
        {"output", required_argument, NULL, 'O'},
        {"map", required_argument, NULL, 'M'},
        {"skip", required_argument, NULL, 'S'},
        {"codes", required_argument, NULL, 'K'},
        {"strict", no_argument, NULL, 'X'},
        {"dry-run", no_argument, NULL, 'n'},
        {"no-track", no_argument, NULL, 'T'},
        {"full", no_argument, NULL, 'U'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int opt;

    optind = 0; /* GNU: start over, argv[0] being the command */
    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":ho:", longopts, NULL)) != -1) {
        unsigned bit = 0;
        if (opt == 'h') {
            printf("usage: hopctl [-c FILE] %s\n\n%s", current->synopsis, current->help);
            return -1;
        }
        if (opt == ':')
            return ctl_usage_error("%s needs a value", argv[optind - 1]);
        if (opt == '?')
            return ctl_usage_error("unknown option %s", argv[optind - 1]);
        if (opt == 'o')
            opt = 'O'; /* -o FILE is --output FILE */
        if (take_option(&ctl->o, opt, optarg, &bit) != EXIT_OK)
            return EXIT_USAGE;
        if (!(current->allowed & bit))
            return ctl_usage_error("%s does not take %s", current->name, argv[optind - 1]);
        ctl->o.given |= bit;
    }
    if ((ctl->o.given & OPT_FORMAT) && format_check(&ctl->o) != EXIT_OK)
        return EXIT_USAGE;
    ctl->args = argv + optind;
    ctl->nargs = argc - optind;
    if (ctl->nargs < current->min_args)
        return ctl_usage_error("%s: missing argument", current->name);
    if (ctl->nargs > current->max_args)
        return ctl_usage_error("%s: unexpected argument \"%s\"", current->name,
                               argv[optind + current->max_args]);
    return EXIT_OK;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    struct ctl ctl = {.conf_path = paths_conf_default};
    int opt, rv;

    opterr = 0;
    /* "+": stop at the command; its options are parsed with it. */
    while ((opt = getopt_long(argc, argv, "+:c:hV", longopts, NULL)) != -1) {
        switch (opt) {
        case 'c':
            ctl.conf_path = optarg;
            break;
        case 'h':
            usage(stdout);
            return EXIT_OK;
        case 'V':
            printf("hopctl %s\n", paths_version);
            return EXIT_OK;
        case ':':
            return ctl_usage_error("%s needs a value", argv[optind - 1]);
        default:
            return ctl_usage_error("unknown option %s", argv[optind - 1]);
        }
    }
    if (optind == argc)
        return ctl_usage_error("no command");
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(argv[optind], commands[i].name) == 0)
            current = &commands[i];
    if (current == NULL)
        return ctl_usage_error("unknown command \"%s\"", argv[optind]);
    rv = parse_command(&ctl, argc - optind, argv + optind);
    if (rv != EXIT_OK)
        return rv < 0 ? EXIT_OK : rv;

    /* conf_load names each error as FILE:LINE: reason, like hopcount -t. */
    ctl.conf = conf_load(ctl.conf_path, stderr);
    if (ctl.conf == NULL)
        return EXIT_BAD;
    rv = current->run(&ctl);
    store_free(ctl.store);
    conf_free(ctl.conf);
    return rv;
}
