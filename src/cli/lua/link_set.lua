-- link_set.lua: create or replace one link, and keep its campaign sets and
-- the daemons' caches in step (hopctl add, new, import). Sent by store.c.
--
-- KEYS[1]  the link, P:link:CODE
-- KEYS[2]  the campaign set it is in now, P:campaign:NAME:links (or the link
--          key again when no set can be named)
-- KEYS[3]  the new campaign's set (or the link key when none)
-- ARGV[1]  url            ARGV[2]  campaign ("" none)
-- ARGV[3]  created (Unix seconds, kept from an existing link)
-- ARGV[4]  "1": replace a link with another target or campaign (--force)
-- ARGV[5]  the campaign hopctl believes the link is in now
-- ARGV[6]  the events channel, P:events    ARGV[7]  the code
-- ARGV[8]  "1" when KEYS[2] names a set
--
-- The field names are the key schema's (SPEC §4, keys.h): url, campaign,
-- created. Answers (enum store_result): 0 unchanged (still added to its
-- campaign set, which repairs links other tools wrote), 1 exists with
-- another target or campaign (nothing done without --force), 2 the campaign
-- moved since hopctl looked (nothing done; hopctl looks again), 3 added,
-- 4 replaced. A change is published on the events channel.

local cur = redis.call('HMGET', KEYS[1], 'url', 'campaign', 'created')
local exists = redis.call('EXISTS', KEYS[1]) == 1
local camp = cur[2] or ''
if exists and cur[1] == ARGV[1] and camp == ARGV[2] then
  if ARGV[2] ~= '' then redis.call('SADD', KEYS[3], ARGV[7]) end
  return 0
end
if exists and ARGV[4] ~= '1' then return 1 end
if camp ~= ARGV[5] then return 2 end

local created = ARGV[3]
if exists and cur[3] then created = cur[3] end
if exists then redis.call('DEL', KEYS[1]) end
if ARGV[2] == '' then
  redis.call('HSET', KEYS[1], 'url', ARGV[1], 'created', created)
else
  redis.call('HSET', KEYS[1], 'url', ARGV[1], 'campaign', ARGV[2], 'created', created)
  redis.call('SADD', KEYS[3], ARGV[7])
end
if camp ~= '' and camp ~= ARGV[2] and ARGV[8] == '1' then
  redis.call('SREM', KEYS[2], ARGV[7])
end
redis.call('PUBLISH', ARGV[6], ARGV[7])
if exists then return 4 end
return 3
