/* lua_links: hopctl's scripts, src/cli/lua/link_set.lua, link_rm.lua and
 * prune.lua, embedded at build time (scripts/embed-lua). KEYS, ARGV and
 * answers are documented in the .lua files. */
#ifndef HOPCOUNT_LUA_LINKS_H
#define HOPCOUNT_LUA_LINKS_H

#include <stddef.h>

extern const char lua_link_set[];
extern const size_t lua_link_set_len;
extern const char lua_link_rm[];
extern const size_t lua_link_rm_len;
extern const char lua_prune[];
extern const size_t lua_prune_len;

#endif
