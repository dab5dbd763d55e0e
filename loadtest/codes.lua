-- loadtest/codes.lua: wrk script. Requests random codes of the seeded set
-- (c0000000 .. c<n-1>). It does not look at responses (a Lua call per
-- response would make wrk the bottleneck even sooner); loadtest/count.lua
-- adds that, to count the 3xx.
-- args: NCODES MODE BUDGET EXTRA
--   MODE   keepalive | close (one request per connection) | seq (code i for the
--          i-th request: walks the whole set once)
--   BUDGET code requests per thread before it asks for /robots.txt instead (0:
--          no limit). A bounded run ends with cheap non-counted requests in
--          flight, so the 3xx wrk saw equal what the server counted, exactly.
--   EXTRA  "dnt" sends DNT: 1 (opted out: nothing is counted)
local ncodes, mode, budget = 10000, "keepalive", 0
local hdrs = {}
local sent = 0
redirects = 0
others = 0

function init(args)
    ncodes = tonumber(args[1]) or 10000
    mode = args[2] or "keepalive"
    budget = tonumber(args[3]) or 0
    hdrs["User-Agent"] = "Mozilla/5.0 (X11; Linux x86_64) hopcount-loadtest"
    if mode == "close" then hdrs["Connection"] = "close" end
    if args[4] == "dnt" then hdrs["DNT"] = "1" end
    math.randomseed(os.time() + tonumber(tostring({}):match("0x(%x+)") or "1", 16) % 100000)
end

function request()
    sent = sent + 1
    if budget > 0 and sent > budget then
        return wrk.format("GET", "/robots.txt", hdrs)
    end
    local i
    if mode == "seq" then i = (sent - 1) % ncodes else i = math.random(0, ncodes - 1) end
    return wrk.format("GET", string.format("/c%07d", i), hdrs)
end

local threads = {}

function setup(thread)
    table.insert(threads, thread)
end

function done(summary, latency, requests)
    local r, o = 0, 0
    for _, t in ipairs(threads) do
        r = r + (t:get("redirects") or 0)
        o = o + (t:get("others") or 0)
    end
    local e = summary.errors
    io.write(string.format(
        "RESULT requests=%d duration_us=%d redirects=%d others=%d p50_us=%d p99_us=%d errors=%d\n",
        summary.requests, summary.duration, r, o, latency:percentile(50),
        latency:percentile(99), e.connect + e.read + e.write + e.status + e.timeout))
end
