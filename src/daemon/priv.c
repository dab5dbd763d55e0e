/* priv: switching from root to an unprivileged user after binding. */
#include "priv.h"

#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "util.h"

int priv_plan(const char *user, const char *group, bool allow_root, struct priv *p,
              char *note, size_t notesz, const char **key, char *err, size_t errsz)
{
    memset(p, 0, sizeof(*p));
    *key = "user";
    note[0] = '\0';
    if (geteuid() != 0) {
        if (user[0] != '\0')
            snprintf(note, notesz, "not started as root: server.user %s is not needed",
                     user);
        return 0;
    }
    if (user[0] == '\0') {
        if (allow_root) {
            snprintf(note, notesz, "running as root (allow_root = on)");
            return 0;
        }
        *key = "allow_root";
        snprintf(err, errsz,
                 "refusing to run as root: set server.user (and server.group) to switch "
                 "after binding, or server.allow_root = on");
        return -1;
    }
    errno = 0;
    struct passwd *pw = getpwnam(user);
    if (pw == NULL) {
        snprintf(err, errsz, "no user %s%s%s", user, errno ? ": " : "",
                 errno ? strerror(errno) : "");
        return -1;
    }
    p->uid = pw->pw_uid;
    p->gid = pw->pw_gid;
    if (group[0] != '\0') {
        errno = 0;
        struct group *gr = getgrnam(group);
        if (gr == NULL) {
            *key = "group";
            snprintf(err, errsz, "no group %s%s%s", group, errno ? ": " : "",
                     errno ? strerror(errno) : "");
            return -1;
        }
        p->gid = gr->gr_gid;
    }
    if (p->uid == 0) {
        if (!allow_root) {
            snprintf(err, errsz,
                     "%s is root: refusing to run as root unless server.allow_root = on",
                     user);
            return -1;
        }
        return 0;
    }
    p->drop = true;
    util_strlcpy(p->user, user, sizeof(p->user));
    return 0;
}

int priv_drop(const struct priv *p, char *err, size_t errsz)
{
    if (!p->drop)
        return 0;
    if (setgroups(1, &p->gid) != 0) {
        snprintf(err, errsz, "setgroups: %s", strerror(errno));
        return -1;
    }
    if (setgid(p->gid) != 0) {
        snprintf(err, errsz, "setgid(%u): %s", (unsigned)p->gid, strerror(errno));
        return -1;
    }
    if (setuid(p->uid) != 0) {
        snprintf(err, errsz, "setuid(%u): %s", (unsigned)p->uid, strerror(errno));
        return -1;
    }
    if (setuid(0) == 0 || geteuid() == 0 || getegid() != p->gid) {
        snprintf(err, errsz, "root could be regained after switching to %s", p->user);
        return -1;
    }
    return 0;
}
