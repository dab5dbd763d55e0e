-- loadtest/api.lua: wrk script polling the dashboard's API (make bench's
-- "API polled" row): the campaigns' list, a campaign of 1,000 links, and a
-- link with a new range each time (never cached), in turn, each connection
-- waiting 250 ms between requests (wrk's delay()): a cheap poller, so that
-- the client's own CPU does not show in the measured server's row.
local n = 0

request = function()
    n = n + 1
    local k = n % 3
    local path
    if k == 0 then
        path = "/api/v1/campaigns"
    elseif k == 1 then
        path = "/api/v1/campaigns/bench3?days=30"
    else
        path = "/api/v1/links/c0000042?days=" .. (n % 300 + 1)
    end
    return wrk.format("GET", path)
end

delay = function()
    return 250
end
