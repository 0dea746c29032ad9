-- wrk script for the intake figures (bench_server.py): JSON reports at random points of the
-- test city, each with its own Idempotency-Key; prints one JSON line of results at the end.
local threads = 0
local token = os.getenv("GRIDCASE_BENCH_TOKEN")
local tag = os.getenv("GRIDCASE_BENCH_TAG") or "run"

function setup(thread)
  thread:set("id", threads)
  threads = threads + 1
end

function init(args)
  sent = 0
  math.randomseed(11 + id)
end

function request()
  sent = sent + 1
  local body = string.format(
    '{"channel":"hotline_12345","category":"%s","kind":"component","point":[%.6f,%.6f],"description":"基准测试"}',
    math.random() < 0.5 and "0101" or "0103", 120.601 + math.random() * 0.038, 31.301 + math.random() * 0.038)
  return wrk.format("POST", "/api/v1/cases", {
    ["Content-Type"] = "application/json",
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = string.format("%s-%d-%d", tag, id, sent),
  }, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('{"requests": %d, "seconds": %.3f, "p99_ms": %.3f, "errors": %d}\n',
    summary.requests, summary.duration / 1e6, latency:percentile(99) / 1000,
    e.connect + e.read + e.write + e.status + e.timeout))
end
