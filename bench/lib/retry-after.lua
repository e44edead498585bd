-- wrk script for bench/overload.mjs: a client that honours Retry-After. After a 503 the next
-- request a connection sends waits the seconds the server asked for. wrk calls response() and
-- then delay() for the same connection's next request in one turn, so one owed delay per 503
-- lands on the connection that was shed.
local owed = 0
local wait_ms = 1000

function response(status, headers, body)
  if status == 503 then
    owed = owed + 1
    local ra = tonumber(headers["Retry-After"] or headers["retry-after"] or "")
    if ra ~= nil then wait_ms = ra * 1000 end
  end
end

function delay()
  if owed > 0 then
    owed = owed - 1
    return wait_ms
  end
  return 0
end
