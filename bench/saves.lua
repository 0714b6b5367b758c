-- wrk script: each thread is one annotator with its own bearer token, saving random labels on
-- random paragraph ids: PUT /api/paragraphs/<id>/annotation {"label": ...}.
-- Run with as many threads as connections (-t N -c N), so every connection has its own token:
--   wrk -t16 -c16 -d15s -s bench/saves.lua http://127.0.0.1:8000 -- TOKENS_FILE LO HI SEED
-- done() prints one line "BENCH_JSON {...}" with the totals and the latency percentiles.

local threads = {}
local count = 0

function setup(thread)
  count = count + 1
  thread:set("number", count)
  table.insert(threads, thread)
end

function init(args)
  local tokens = {}
  for line in io.lines(args[1]) do
    if #line > 0 then tokens[#tokens + 1] = line end
  end
  token = tokens[((number - 1) % #tokens) + 1]
  lo, hi = tonumber(args[2]), tonumber(args[3])
  math.randomseed(number * 7919 + tonumber(args[4] or "0"))
  labels = {"claim", "evidence", "boilerplate", "other"}
  non2xx, server_errors = 0, 0
  headers = {["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json"}
end

function request()
  local body = '{"label": "' .. labels[math.random(1, 4)] .. '"}'
  return wrk.format("PUT", "/api/paragraphs/" .. math.random(lo, hi) .. "/annotation",
                    headers, body)
end

function response(status, headers, body)
  if status < 200 or status > 299 then non2xx = non2xx + 1 end
  if status >= 500 then server_errors = server_errors + 1 end
end

function done(summary, latency, requests)
  local bad, fivexx = 0, 0
  for _, thread in ipairs(threads) do
    bad = bad + thread:get("non2xx")
    fivexx = fivexx + thread:get("server_errors")
  end
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, "p99_us": %d, ' ..
    '"max_us": %d, "non2xx": %d, "5xx": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(95),
    latency:percentile(99), latency.max, bad, fivexx, e.connect, e.read, e.write, e.timeout))
end
