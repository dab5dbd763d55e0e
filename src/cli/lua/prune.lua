-- prune.lua: drop one counter hash's fields older than their retention
-- window (hopctl prune). Sent by store.c, one key per call, so it runs in
-- every Redis mode and each key is pruned whole or not at all: an
-- interrupted pass leaves every key either done or untouched, and the next
-- pass finishes the rest.
--
-- KEYS[1]  a counter hash, P:clicks:CODE or P:campaign:NAME:clicks
-- ARGV[1]  the oldest hour field kept, "h:YYYY-MM-DDTHH"
-- ARGV[2]  the oldest day kept, "YYYY-MM-DD", or "" to keep every day
-- ARGV[3]  "1": count only (--dry-run)
--
-- Fields: h:YYYY-MM-DDTHH against ARGV[1]; d:, bot:d:, scan:d: followed by
-- YYYY-MM-DD against ARGV[2] (fixed-width, so comparing strings compares
-- times). Any other field (total, bot, scan, fields of other tools) stays.
-- Answers {hour fields, day fields} removed (or, dry, that would be), or
-- {-1} when the key is not a hash (left alone).

local keys = redis.pcall('HKEYS', KEYS[1])
if type(keys) == 'table' and keys.err then return {-1} end
local hours, days, gone = 0, 0, {}
for _, f in ipairs(keys) do
  if string.sub(f, 1, 2) == 'h:' and #f == 15 then
    if f < ARGV[1] then hours = hours + 1; gone[#gone + 1] = f end
  elseif ARGV[2] ~= '' then
    local day = string.match(f, '^d:(%d%d%d%d%-%d%d%-%d%d)$')
      or string.match(f, '^bot:d:(%d%d%d%d%-%d%d%-%d%d)$')
      or string.match(f, '^scan:d:(%d%d%d%d%-%d%d%-%d%d)$')
    if day and day < ARGV[2] then days = days + 1; gone[#gone + 1] = f end
  end
end
if ARGV[3] ~= '1' then
  for i = 1, #gone, 1000 do
    redis.call('HDEL', KEYS[1], unpack(gone, i, math.min(i + 999, #gone)))
  end
end
return {hours, days}
