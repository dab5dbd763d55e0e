-- link_rm.lua: remove one link and tell the daemons (hopctl rm). Sent by
-- store.c; one key, so it runs in every Redis mode. store.c then removes
-- the code from its campaign set and, with --purge, deletes its counters.
--
-- KEYS[1]  the link, P:link:CODE
-- ARGV[1]  the campaign hopctl believes the link is in ("" none)
-- ARGV[2]  the events channel, P:events    ARGV[3]  the code
--
-- Answers -1 when the link's campaign is not the one believed (nothing
-- done; hopctl looks again), 1 when the link was removed (and the change
-- published), 0 when there was none.

local camp = redis.call('HGET', KEYS[1], 'campaign') or ''
if camp ~= ARGV[1] then return -1 end
if redis.call('DEL', KEYS[1]) == 0 then return 0 end
redis.call('PUBLISH', ARGV[2], ARGV[3])
return 1
