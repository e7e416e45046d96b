-- wrk script: POST the bodies in the files named by BENCH_BODIES (separated by ":") as
-- application/json, in turn, count the answers by status, and print one line at the end:
--   BENCH_RESULT {"duration_us":..,"requests":..,"errors":{..},"latency_us":{..},"statuses":{..}}

local paths = assert(os.getenv("BENCH_BODIES"), "BENCH_BODIES must name the body files")
local bodies = {}
for path in string.gmatch(paths, "[^:]+") do
  local file = assert(io.open(path, "rb"))
  table.insert(bodies, file:read("*a"))
  file:close()
end
wrk.method = "POST"
wrk.body = bodies[1]
wrk.headers["Content-Type"] = "application/json"

-- One body: wrk sends the same prepared request every time, its cheapest way. Several:
-- each request is built here, the next body each time.
if #bodies > 1 then
  local next_body = 0
  function request()
    next_body = next_body % #bodies + 1
    return wrk.format(nil, nil, nil, bodies[next_body])
  end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do
      counts[status] = (counts[status] or 0) + n
    end
  end
  local by_status = {}
  for status, n in pairs(counts) do
    table.insert(by_status, string.format('"%d":%d', status, n))
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_RESULT {"duration_us":%d,"requests":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f},"statuses":{%s}}\n',
    summary.duration, summary.requests, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(by_status, ",")))
end
