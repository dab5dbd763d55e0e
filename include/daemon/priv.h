/* priv: running as root only as long as binding needs it (SPEC §8). */
#ifndef HOPCOUNT_PRIV_H
#define HOPCOUNT_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* Who to become after binding. */
struct priv {
    bool drop; /* started as root with a user to switch to */
    uid_t uid;
    gid_t gid;
    char user[64];
};

/* Decide at start, before anything is bound: as root, user (and group, or
 * the user's primary group) are looked up, or, with no user, root is refused
 * unless allow_root. Not root: nothing to do (a user set is ignored, with a
 * note in note). 0, or -1 with a one-line reason in err and the [server]
 * key it is about in *key. */
int priv_plan(const char *user, const char *group, bool allow_root, struct priv *p,
              char *note, size_t notesz, const char **key, char *err, size_t errsz);

/* Switch to p's user and group for good (supplementary groups cleared) and
 * check root cannot be regained. Before any thread starts. 0 or -1 (err). */
int priv_drop(const struct priv *p, char *err, size_t errsz);

#endif
