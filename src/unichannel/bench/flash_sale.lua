-- wrk script for the flash-sale benchmark: POSTs as many different shoppers (round-robin over the token file), each
-- request with its own Idempotency-Key, and counts answers by status. Prints one JSON line when done.
-- Variables (environment): BENCH_TOKENS (file, one token per line), BENCH_PATH, BENCH_BODY, BENCH_RUN (unique per run).

local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do
  tokens[#tokens + 1] = line
end
local path = os.getenv("BENCH_PATH")
local body = os.getenv("BENCH_BODY") or '{"quantity": 1}'
local threads = {}
local thread_number = 0

function setup(thread)
  thread_number = thread_number + 1
  thread:set("id", thread_number)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  statuses = {}
  prefix = string.format("%s-%d-", os.getenv("BENCH_RUN"), id)
end

function request()
  counter = counter + 1
  local token = tokens[(counter * 7 + id) % #tokens + 1]
  return wrk.format("POST", path, {
    ["Authorization"] = "Bearer " .. token,
    ["Idempotency-Key"] = prefix .. counter,
    ["Content-Type"] = "application/json",
  }, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  local totals = {}
  for _, thread in ipairs(threads) do
    local counts = thread:get("statuses")
    for status, n in pairs(counts) do
      totals[status] = (totals[status] or 0) + n
    end
  end
  local parts = {}
  for status, n in pairs(totals) do
    parts[#parts + 1] = string.format('"%d": %d', status, n)
  end
  io.write(string.format(
    'BENCH_RESULT {"requests": %d, "duration_us": %d, "errors": {"connect": %d, "read": %d, "write": %d, "timeout": %d, "status": %d}, '
      .. '"p50_us": %d, "p90_us": %d, "p99_us": %d, "max_us": %d, "statuses": {%s}}\n',
    summary.requests, summary.duration, summary.errors.connect, summary.errors.read, summary.errors.write,
    summary.errors.timeout, summary.errors.status, latency:percentile(50), latency:percentile(90),
    latency:percentile(99), latency.max, table.concat(parts, ", ")))
end
