/* lua_flush: src/daemon/lua/flush.lua, embedded at build time
 * (scripts/embed-lua): the script that applies one batch exactly once. Its
 * KEYS, ARGV and answers are documented in the .lua file. */
#ifndef HOPCOUNT_LUA_FLUSH_H
#define HOPCOUNT_LUA_FLUSH_H

#include <stddef.h>

extern const char lua_flush[];
extern const size_t lua_flush_len;

#endif
