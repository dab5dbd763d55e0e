/* paths: the compiled-in defaults. */
#include "paths.h"

#ifndef HOPCOUNT_CONF_DEFAULT
#define HOPCOUNT_CONF_DEFAULT "conf/hopcount.conf"
#endif
#ifndef HOPCOUNT_VERSION
#define HOPCOUNT_VERSION "0.1.0"
#endif

const char paths_conf_default[] = HOPCOUNT_CONF_DEFAULT;
const char paths_version[] = HOPCOUNT_VERSION;
