-- link_rm.lua: remove one link (hopctl rm). Sent by store.c.
--
-- KEYS[1]  the link, P:link:CODE
-- KEYS[2]  its campaign set, P:campaign:NAME:links (or the link key)
-- KEYS[3]  its counters, P:clicks:CODE
-- ARGV[1]  the campaign hopctl believes the link is in ("" none)
-- ARGV[2]  "1": delete the counters too (--purge)
-- ARGV[3]  the events channel, P:events    ARGV[4]  the code
-- ARGV[5]  "1" when KEYS[2] names a set
--
-- Answers -1 when the link's campaign is not the one believed (nothing
-- done; hopctl looks again), else bit 0: the link was removed (and the
-- change published), bit 1: its counters were deleted. Campaign totals keep
-- the follows they counted.

local camp = redis.call('HGET', KEYS[1], 'campaign') or ''
if camp ~= ARGV[1] then return -1 end
local n = 0
if redis.call('DEL', KEYS[1]) == 1 then
  n = 1
  if camp ~= '' and ARGV[5] == '1' then redis.call('SREM', KEYS[2], ARGV[4]) end
  redis.call('PUBLISH', ARGV[3], ARGV[4])
end
if ARGV[2] == '1' then n = n + 2 * redis.call('DEL', KEYS[3]) end
return n
