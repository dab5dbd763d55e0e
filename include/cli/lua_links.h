/* lua_links: hopctl's link writes, src/cli/lua/link_set.lua and
 * link_rm.lua, embedded at build time (scripts/embed-lua). KEYS, ARGV and
 * answers are documented in the .lua files. */
#ifndef HOPCOUNT_LUA_LINKS_H
#define HOPCOUNT_LUA_LINKS_H

#include <stddef.h>

extern const char lua_link_set[];
extern const size_t lua_link_set_len;
extern const char lua_link_rm[];
extern const size_t lua_link_rm_len;

#endif
