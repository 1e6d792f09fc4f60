-- wrk script: refresh the session token, as a browser tab does about once a minute.
-- The session cookie comes from BENCH_COOKIE ("reverify_session=...").
wrk.method = "POST"
wrk.headers["Cookie"] = os.getenv("BENCH_COOKIE")
