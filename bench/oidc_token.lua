-- wrk script: the OpenID token endpoint, either grant, each secret used once.
--   BENCH_GRANT=authorization_code: exchanges the codes of BENCH_INPUT_FILE (one per line,
--     split between wrk's threads; a thread that runs out stops), with the PKCE verifier
--     BENCH_VERIFIER and redirect URI BENCH_REDIRECT_URI; each answer's refresh token is
--     appended to BENCH_OUTPUT_FILE (for the refresh run).
--   BENCH_GRANT=refresh_token: refreshes the tokens of BENCH_INPUT_FILE; each answer's new
--     refresh token goes back into the thread's queue, so that every grant is refreshed
--     serially, as a client does, and the run never reuses a token.
-- The client authenticates with HTTP Basic (BENCH_BASIC: base64 of "id:secret").
local grant = os.getenv("BENCH_GRANT")
local basic = "Basic " .. os.getenv("BENCH_BASIC")
local counter = 0
local threads = {}

setup = function(thread)
  thread:set("thread_index", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

local queue, head, tail, out

local function urlencode(s)
  return (s:gsub("[^%w%-%._~]", function(c) return string.format("%%%02X", string.byte(c)) end))
end

init = function()
  local n = tonumber(os.getenv("BENCH_THREADS"))
  queue, head, tail = {}, 1, 0
  local i = 0
  for line in io.lines(os.getenv("BENCH_INPUT_FILE")) do
    if i % n == thread_index and #line > 0 then
      tail = tail + 1
      queue[tail] = line
    end
    i = i + 1
  end
  if grant == "authorization_code" then
    out = io.open(os.getenv("BENCH_OUTPUT_FILE"), "a")
  end
end

request = function()
  local secret = queue[head]
  if secret == nil then
    wrk.thread:stop()
    return wrk.format("GET", "/healthz")
  end
  queue[head] = nil
  head = head + 1
  local body
  if grant == "authorization_code" then
    body = "grant_type=authorization_code&code=" .. urlencode(secret)
      .. "&redirect_uri=" .. urlencode(os.getenv("BENCH_REDIRECT_URI"))
      .. "&code_verifier=" .. os.getenv("BENCH_VERIFIER")
  else
    body = "grant_type=refresh_token&refresh_token=" .. urlencode(secret)
  end
  return wrk.format("POST", "/oauth/token", {
    ["Authorization"] = basic,
    ["Content-Type"] = "application/x-www-form-urlencoded",
  }, body)
end

response = function(status, headers, body)
  if status ~= 200 then return end
  local refresh = body:match('"refresh_token":"([^"]+)"')
  if refresh == nil then return end
  if grant == "authorization_code" then
    out:write(refresh, "\n")
    out:flush()
  else
    tail = tail + 1
    queue[tail] = refresh
  end
end
