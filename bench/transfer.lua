-- wrk script: the demo's protected POST /api/transfer, with the same session token on
-- every request, as a browser sends it (the `__session` cookie).
wrk.method = "POST"
wrk.headers["Cookie"] = "__session=" .. os.getenv("BENCH_TOKEN")
wrk.headers["Content-Type"] = "application/json"
wrk.body = '{"to":"Bob","amount_cents":1}'
