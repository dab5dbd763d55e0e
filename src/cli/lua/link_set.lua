-- link_set.lua: create or replace one link and tell the daemons (hopctl
-- add, new, import). Sent by store.c. It touches one key, so it runs in
-- every Redis mode (a cluster script's keys must share a slot); store.c
-- then updates the campaign sets (SADD, SREM: idempotent, repaired by any
-- later run). The daemons count by the link's own campaign field, never by
-- the sets, so a crash between the two leaves no follow counted under a
-- wrong campaign.
--
-- KEYS[1]  the link, P:link:CODE
-- ARGV[1]  url            ARGV[2]  campaign ("" none)
-- ARGV[3]  created (Unix seconds, kept from an existing link)
-- ARGV[4]  "1": replace a link with another target or campaign (--force)
-- ARGV[5]  the campaign hopctl believes the link is in now
-- ARGV[6]  the events channel, P:events    ARGV[7]  the code
-- ARGV[8]  "1": never counted (--no-track), "" counted
--
-- The field names are the key schema's (SPEC §4, keys.h): url, campaign,
-- created, notrack. Answers (enum store_result): 0 unchanged, 1 exists with
-- another target, campaign or tracking (nothing done without --force), 2 the campaign moved
-- since hopctl looked (nothing done; hopctl looks again), 3 added,
-- 4 replaced. A change is published on the events channel.

local cur = redis.call('HMGET', KEYS[1], 'url', 'campaign', 'created', 'notrack')
local exists = redis.call('EXISTS', KEYS[1]) == 1
local camp = cur[2] or ''
local notrack = ARGV[8] or ''
if exists and cur[1] == ARGV[1] and camp == ARGV[2] and (cur[4] or '') == notrack then
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
end
if notrack == '1' then redis.call('HSET', KEYS[1], 'notrack', '1') end
redis.call('PUBLISH', ARGV[6], ARGV[7])
if exists then return 4 end
return 3
