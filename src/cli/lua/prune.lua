-- prune.lua: drop one counter hash's fields older than their retention
-- window (hopctl prune). Sent by store.c, one key per call, so it runs in
-- every Redis mode and each key is pruned whole or not at all: an
-- interrupted pass leaves every key either done or untouched, and the next
-- pass finishes the rest.
--
-- KEYS[1]  a counter hash, P:clicks:CODE or P:campaign:NAME:clicks
-- ARGV[1]  "1": count only (--dry-run)
-- ARGV[2]  "scan": look at every field (a full pass), with
--            ARGV[3] the oldest hour field kept, "h:YYYY-MM-DDTHH", and
--            ARGV[4] the oldest day kept, "YYYY-MM-DD", or "" (every day kept);
--          "names": remove exactly the fields named (a daily pass: the hours
--            and days that left their windows since the last pass), with
--            ARGV[3] the number of hour fields among ARGV[4..]
--
-- Fields: h:YYYY-MM-DDTHH; d:, bot:d:, scan:d: followed by YYYY-MM-DD
-- (fixed-width, so comparing strings compares times). Any other field
-- (total, bot, scan, fields of other tools) stays. Answers {hour fields,
-- day fields} removed (or, dry, that would be), or {-1} when the key is not
-- a hash (left alone).

local t = redis.call('TYPE', KEYS[1])['ok']
if t ~= 'hash' and t ~= 'none' then return {-1} end
local dry = ARGV[1] == '1'
local hours, days, gone = 0, 0, {}

if ARGV[2] == 'names' then
  local nh = tonumber(ARGV[3])
  for i = 4, #ARGV do
    if redis.call('HEXISTS', KEYS[1], ARGV[i]) == 1 then
      gone[#gone + 1] = ARGV[i]
      if i - 3 <= nh then hours = hours + 1 else days = days + 1 end
    end
  end
else
  for _, f in ipairs(redis.call('HKEYS', KEYS[1])) do
    if string.sub(f, 1, 2) == 'h:' and #f == 15 then
      if f < ARGV[3] then hours = hours + 1; gone[#gone + 1] = f end
    elseif ARGV[4] ~= '' then
      local day = string.match(f, '^d:(%d%d%d%d%-%d%d%-%d%d)$')
        or string.match(f, '^bot:d:(%d%d%d%d%-%d%d%-%d%d)$')
        or string.match(f, '^scan:d:(%d%d%d%d%-%d%d%-%d%d)$')
      if day and day < ARGV[4] then days = days + 1; gone[#gone + 1] = f end
    end
  end
end
if not dry then
  for i = 1, #gone, 1000 do
    redis.call('HDEL', KEYS[1], unpack(gone, i, math.min(i + 999, #gone)))
  end
end
return {hours, days}
