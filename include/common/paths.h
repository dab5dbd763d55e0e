/* paths: where the installed programs look for things, fixed at link time
 * (make install links its own copy of this module). */
#ifndef HOPCOUNT_PATHS_H
#define HOPCOUNT_PATHS_H

/* The conf file read when -c is not given. */
extern const char paths_conf_default[];

/* The version both programs print. */
extern const char paths_version[];

#endif
