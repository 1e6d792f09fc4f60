-- wrk script: the demo's POST /api/transfer under the idempotency layer, the same session
-- token on every request, and a new Idempotency-Key on every request (each one reserves a
-- key, runs the handler and stores its answer: the layer's full cost, no replay).
wrk.method = "POST"
wrk.headers["Cookie"] = "__session=" .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"to":"Bob","amount_cents":1}'

local threads = 0
function setup(thread)
  threads = threads + 1
  thread:set("id", threads)
end

local n = 0
function request()
  n = n + 1
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  headers["Idempotency-Key"] = '"bench-' .. id .. '-' .. n .. '"'
  return wrk.format(nil, nil, headers, nil)
end
