-- loadtest/count.lua: loadtest/codes.lua plus a count of the 3xx responses
-- wrk receives (for the exact count check). HOPCOUNT_LOADTEST_DIR names the
-- folder of codes.lua.
dofile((os.getenv("HOPCOUNT_LOADTEST_DIR") or "loadtest") .. "/codes.lua")

function response(status, headers, body)
    if status >= 300 and status < 400 then
        redirects = redirects + 1
    else
        others = others + 1
    end
end
