-- wrk script: token refreshes spread over many sessions (one cookie per line in the file
-- named by BENCH_COOKIES_FILE), round-robin, so that the session cache misses as often
-- as it would in production (see scripts/bench-server).
local cookies = {}
for line in io.lines(os.getenv("BENCH_COOKIES_FILE")) do
  cookies[#cookies + 1] = line
end
local i = math.random(#cookies)
request = function()
  i = i % #cookies + 1
  return wrk.format("POST", nil, { Cookie = cookies[i] })
end
