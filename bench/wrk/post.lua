-- wrk script for the benchmark: POSTs a PagerDuty v1 webhook whose message ids are unique
-- per request (thread number + counter + run prefix), so every request is a new event and
-- nothing is deduplicated away. Arguments: run-prefix template-file.
-- With WRK_DELAY_MS set, `delay()` paces each connection (closed loop: a connection sends
-- its next request that long after the previous response), which is how the benchmark steps
-- the offered rate; wrk decides at load time whether `delay` exists, hence the variable.
local threads = {}
local counter = 0

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

function init(args)
  prefix = (args[1] or "bench") .. "-" .. tid .. "-"
  local file = assert(io.open(args[2], "r"))
  local template = file:read("*a")
  file:close()
  -- The template cut at each "@@ID@@" once: a request is its parts joined by the id.
  parts = {}
  local from = 1
  while true do
    local s, e = template:find("@@ID@@", from, true)
    if not s then break end
    table.insert(parts, template:sub(from, s - 1))
    from = e + 1
  end
  table.insert(parts, template:sub(from))
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local id = prefix .. counter
  local body = table.concat(parts, id)
  return wrk.format(nil, nil, nil, body)
end

local pause = tonumber(os.getenv("WRK_DELAY_MS") or "")
if pause then
  function delay()
    return pause
  end
end

function done(summary, latency, requests)
  io.write(string.format('WRK_JSON {"requests":%d,"duration_us":%d,"non2xx":%d,"connect":%d,"read":%d,"write":%d,"timeout":%d,"p50_us":%d,"p99_us":%d}\n',
    summary.requests, summary.duration, summary.errors.status, summary.errors.connect, summary.errors.read,
    summary.errors.write, summary.errors.timeout, latency:percentile(50), latency:percentile(99)))
end
