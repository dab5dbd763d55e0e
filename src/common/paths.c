/* paths: the compiled-in defaults. */
#include "paths.h"

#ifndef HOPCOUNT_CONF_DEFAULT
#define HOPCOUNT_CONF_DEFAULT "conf/hopcount.conf"
#endif
#ifndef HOPCOUNT_VERSION
#define HOPCOUNT_VERSION "unknown" /* the Makefile passes debian/changelog's */
#endif

const char paths_conf_default[] = HOPCOUNT_CONF_DEFAULT;
const char paths_version[] = HOPCOUNT_VERSION;
