-- flush.lua: apply one sealed batch of counter increments exactly once
-- (docs/delivery.md). Sent by flush.c with EVAL for every batch.
--
-- KEYS[1]      the writer's marker, P:flush:WRITER: the sequence number of
--              the last batch applied for that writer (no TTL: a volatile-*
--              eviction would take it before the counters, and a retried
--              batch would then count twice; the writer deletes it itself
--              once all it sealed is confirmed)
-- KEYS[2..]    the counter hashes, P:clicks:CODE and P:campaign:NAME:clicks,
--              and unique followers' HyperLogLogs, P:uniq:CODE:DAY and
--              P:campaign:NAME:uniq:DAY
-- ARGV[1]      this batch's sequence number
-- ARGV[2]      "1" to apply although batches before it are missing (the
--              writer's marker was lost: the gap path), else "0"
-- ARGV[3..]    for each key in KEYS order: a counter hash's number of
--              fields n, then n field/increment pairs; a HyperLogLog's
--              minus number of elements -n, then one argument of the n
--              8-byte elements end to end (PFADD is idempotent; the marker
--              keeps the batch exactly-once anyway)
--
-- Answers {1}: applied before (a retry whose reply was lost; nothing done);
-- {2}: the marker is not at seq - 1, a batch before it is missing (nothing
-- done); else {0, i, ...}: applied, with the 1-based index (among the
-- counter keys) of each key Redis refused (another type). Every HINCRBY runs
-- under pcall, so one bad key cannot stop the batch halfway: the batch and
-- its marker are applied whole, in one atomic step, strictly in order.

local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
if last >= seq then return {1} end
if ARGV[2] ~= '1' and last ~= seq - 1 then return {2} end

local out, a = {0}, 3
local function refused(r, k, failed)
  if type(r) == 'table' and r.err and not failed then
    out[#out + 1] = k - 1
    return true
  end
  return failed
end

for k = 2, #KEYS do
  local n, failed = tonumber(ARGV[a]), false
  a = a + 1
  if n < 0 then
    local blob, els = ARGV[a], {}
    for i = 1, -8 * n, 8 do
      els[#els + 1] = string.sub(blob, i, i + 7)
    end
    -- unpack's stack is bounded: the elements go 1,000 at a time
    for from = 1, #els, 1000 do
      local r = redis.pcall('PFADD', KEYS[k], unpack(els, from, math.min(from + 999, #els)))
      failed = refused(r, k, failed)
    end
    a = a + 1
  end
  for i = 1, n do
    local r = redis.pcall('HINCRBY', KEYS[k], ARGV[a], ARGV[a + 1])
    failed = refused(r, k, failed)
    a = a + 2
  end
end
redis.call('SET', KEYS[1], ARGV[1])
return out
