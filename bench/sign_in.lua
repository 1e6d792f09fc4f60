-- wrk script: password sign-ins (Argon2id at the configured cost), each a new session.
-- The sign-ins rotate over BENCH_SIGNIN_ACCOUNTS accounts (bench-signin-N@example.com,
-- created by scripts/bench-server), as many people signing in at once would: one account
-- signing in from 32 connections at once would mostly be told to wait (429), since a
-- lockout lane checks at most `lockout.max_failures` secrets at a time.
local accounts = tonumber(os.getenv("BENCH_SIGNIN_ACCOUNTS") or "64")
local password = os.getenv("BENCH_PASSWORD")
local n = 0
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"

request = function()
  n = n + 1
  local body = '{"email":"bench-signin-' .. (n % accounts) .. '@example.com","password":"' .. password .. '"}'
  return wrk.format(nil, nil, nil, body)
end
