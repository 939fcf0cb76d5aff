-- wrk script for scripts/soak.sh: a mix of valid, expired, forged and refresh traffic.
-- Tokens come from the environment. wrk does not tell which request a response answers (many
-- connections interleave), so statuses are counted: 200 and 401 are expected (in about the
-- proportions of the mix), anything else is unexpected, 5xx is a failure.

local kinds = {
  { name = "valid",   weight = 6, method = "GET",  path = "/me",                token = os.getenv("SOAK_ACCESS"),  want = 200 },
  { name = "pets",    weight = 1, method = "GET",  path = "/api/pets",          token = os.getenv("SOAK_ACCESS"),  want = 200 },
  { name = "expired", weight = 1, method = "GET",  path = "/me",                token = os.getenv("SOAK_EXPIRED"), want = 401 },
  { name = "forged",  weight = 1, method = "GET",  path = "/me",                token = os.getenv("SOAK_FORGED"),  want = 401 },
  { name = "refresh", weight = 1, method = "POST", path = "/sessions/refresh/", token = os.getenv("SOAK_REFRESH"), want = 200 },
}

local schedule = {}
for i, kind in ipairs(kinds) do
  for _ = 1, kind.weight do table.insert(schedule, i) end
end

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  counter = 0
  ok = 0
  refused = 0
  unexpected = 0
  server_errors = 0
  requests = {}
  for i, kind in ipairs(kinds) do
    requests[i] = wrk.format(kind.method, kind.path, { ["Authorization"] = "Bearer " .. kind.token })
  end
end

function request()
  counter = counter + 1
  return requests[schedule[(counter % #schedule) + 1]]
end

function response(status, headers, body)
  if status >= 500 then
    server_errors = server_errors + 1
  elseif status == 200 then
    ok = ok + 1
  elseif status == 401 then
    refused = refused + 1
  else
    unexpected = unexpected + 1
  end
end

function done(summary, latency, requests)
  local total_ok, total_refused, total_unexpected, total_5xx = 0, 0, 0, 0
  for _, thread in ipairs(threads) do
    total_ok = total_ok + thread:get("ok")
    total_refused = total_refused + thread:get("refused")
    total_unexpected = total_unexpected + thread:get("unexpected")
    total_5xx = total_5xx + thread:get("server_errors")
  end
  io.write(string.format("SOAK requests=%d ok=%d refused=%d unexpected=%d 5xx=%d socket_errors=%d p50_ms=%.2f p99_ms=%.2f max_ms=%.2f\n",
    summary.requests, total_ok, total_refused, total_unexpected, total_5xx,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
