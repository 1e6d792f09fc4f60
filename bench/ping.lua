-- wrk script: the demo's unprotected GET /api/ping (the baseline), with the same cookie.
wrk.headers["Cookie"] = "__session=" .. os.getenv("BENCH_TOKEN")
