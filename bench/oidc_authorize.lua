-- wrk script: the OpenID authorization round trip. GET /oauth/authorize with a signed-in
-- browser's session cookie (BENCH_COOKIE) answers 302 to the client with a code; each code
-- is appended to BENCH_CODES_FILE (one per line) for the code-exchange run.
-- The path and query come from BENCH_AUTHORIZE_PATH.
local path = os.getenv("BENCH_AUTHORIZE_PATH")
local cookie = os.getenv("BENCH_COOKIE")
local out

init = function()
  out = io.open(os.getenv("BENCH_CODES_FILE"), "a")
end

request = function()
  return wrk.format("GET", path, { Cookie = cookie })
end

response = function(status, headers, body)
  local location = headers["location"] or headers["Location"]
  if status == 302 and location then
    local code = location:match("[?&]code=([^&]+)")
    if code then
      out:write(code, "\n")
      out:flush()
    end
  end
end
