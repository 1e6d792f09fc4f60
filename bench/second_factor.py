#!/usr/bin/env python3
"""Honest concurrency on the auth server (issue 9, item 2): second-factor steps and password
sign-ins at once, with a health probe beside them.

    python3 bench/second_factor.py BASE_URL ADMIN_KEY [--users 64] [--signins 64] [--rounds 3]

Setup: USERS accounts (created through the admin API), each signed in and with an
authenticator app enrolled. Then ROUNDS rounds: at the start of a fresh TOTP time step,
all USERS users at once start a `second_factor` reverification of their session and
complete it with the right code (two requests each; the attempt's latency is what the
target is about), while SIGNINS workers keep signing in with a password (Argon2id at the
server's cost) and a probe calls GET /healthz every 20 ms.

Prints the latencies (p50/p99/max) and the non-2xx counts, and exits non-zero when the
targets are missed: 0 non-2xx, second-factor attempt p99 <= 250 ms, health p99 <= 50 ms.
Standard library only.
"""

import base64
import hashlib
import hmac
import http.client
import json
import struct
import sys
import threading
import time
import urllib.parse

PASSWORD = "correct horse battery staple"


class Conn:
    """One keep-alive HTTP connection with its own cookie jar (one browser)."""

    def __init__(self, base):
        u = urllib.parse.urlparse(base)
        self.host, self.port = u.hostname, u.port
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
        self.cookies = {}

    def request(self, method, path, body=None, headers=None):
        h = {"Content-Type": "application/json"} if body is not None else {}
        h.update(headers or {})
        if self.cookies:
            h["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        data = json.dumps(body) if body is not None else None
        started = time.perf_counter()
        for attempt in range(2):
            try:
                self.conn.request(method, path, body=data, headers=h)
                r = self.conn.getresponse()
                raw = r.read()
                break
            except (http.client.HTTPException, ConnectionError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        took = time.perf_counter() - started
        for k, v in r.getheaders():
            if k.lower() == "set-cookie":
                name, _, rest = v.partition("=")
                value = rest.split(";", 1)[0]
                if "Max-Age=0" in v:
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = value
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode(errors="replace")
        return r.status, parsed, took


def totp(secret, step):
    key = base64.b32decode(secret + "=" * (-len(secret) % 8), casefold=True)
    digest = hmac.new(key, struct.pack(">Q", step), hashlib.sha1).digest()
    offset = digest[-1] & 0x0F
    n = struct.unpack(">I", digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return f"{n % 1_000_000:06d}"


def step_now():
    return int(time.time()) // 30


def wait_for_step(after):
    """Sleeps until the TOTP step after `after` has begun (plus a little margin)."""
    while step_now() <= after:
        time.sleep(0.05)
    time.sleep(0.2)


def pct(values, p):
    if not values:
        return 0.0
    s = sorted(values)
    return s[min(len(s) - 1, int(round(p / 100 * (len(s) - 1))))]


def fmt(values):
    return (f"n={len(values)} p50={pct(values, 50) * 1000:.1f} ms "
            f"p99={pct(values, 99) * 1000:.1f} ms max={max(values, default=0) * 1000:.1f} ms")


def main():
    args = sys.argv[1:]
    base, admin_key = args[0], args[1]
    opts = dict(zip(args[2::2], args[3::2]))
    n_users = int(opts.get("--users", 64))
    n_signins = int(opts.get("--signins", 64))
    rounds = int(opts.get("--rounds", 3))
    tag = str(int(time.time()))

    # Setup: accounts, sessions, authenticator apps (in parallel, a few at a time).
    users = [None] * n_users

    def setup(i):
        email = f"mfa{i}-{tag}@example.com"
        admin = Conn(base)
        s, body, _ = admin.request("POST", "/v1/admin/users", {"email": email, "password": PASSWORD},
                                   {"Authorization": f"Bearer {admin_key}"})
        assert s in (200, 201), (s, body)
        c = Conn(base)
        s, body, _ = c.request("POST", "/v1/sign_ins", {"email": email, "password": PASSWORD})
        assert s == 200, (s, body)
        s, pending, _ = c.request("POST", "/v1/me/totp", {})
        assert s == 200, (s, pending)
        secret = pending["secret"]
        s, body, _ = c.request("POST", "/v1/me/totp/confirm", {"code": totp(secret, step_now())})
        if s == 422:  # the step turned over between the two calls
            s, body, _ = c.request("POST", "/v1/me/totp/confirm", {"code": totp(secret, step_now())})
        assert s == 200, (s, body)
        users[i] = (c, secret)

    threads = []
    for i in range(n_users):
        t = threading.Thread(target=setup, args=(i,))
        t.start()
        threads.append(t)
        if len(threads) >= 8:
            for t in threads:
                t.join()
            threads = []
    for t in threads:
        t.join()

    # The sign-in workers: one account each, as 64 people signing in would be.
    signin_emails = [f"signin{i}-{tag}@example.com" for i in range(n_signins)]
    admin = Conn(base)
    for email in signin_emails:
        s, body, _ = admin.request("POST", "/v1/admin/users", {"email": email, "password": PASSWORD},
                                   {"Authorization": f"Bearer {admin_key}"})
        assert s in (200, 201), (s, body)

    lock = threading.Lock()
    results = {"attempt": [], "start": [], "signin": [], "health": []}
    errors = {"attempt": 0, "start": 0, "signin": 0, "health": 0}
    samples = []
    stop = threading.Event()

    def record(kind, status, took, body=None):
        with lock:
            results[kind].append(took)
            if not 200 <= status < 300:
                errors[kind] += 1
                if len(samples) < 5:
                    samples.append((kind, status, body))

    def signin_worker(email):
        c = Conn(base)
        while not stop.is_set():
            s, body, took = c.request("POST", "/v1/sign_ins", {"email": email, "password": PASSWORD})
            record("signin", s, took, body)

    def health_worker():
        c = Conn(base)
        while not stop.is_set():
            s, body, took = c.request("GET", "/healthz")
            record("health", s, took, body)
            time.sleep(0.02)

    background = [threading.Thread(target=signin_worker, args=(e,)) for e in signin_emails]
    background.append(threading.Thread(target=health_worker))
    for t in background:
        t.start()

    last_step = step_now()
    for r in range(rounds):
        wait_for_step(last_step)
        step = step_now()
        last_step = step
        barrier = threading.Barrier(n_users)

        def verify(i):
            c, secret = users[i]
            barrier.wait()
            s, v, took = c.request("POST", "/v1/sessions/current/verifications", {"level": "second_factor"})
            record("start", s, took, v)
            if s != 200:
                return
            s, done, took = c.request(
                "POST", f"/v1/sessions/current/verifications/{v['id']}/attempt",
                {"strategy": "totp", "code": totp(secret, step)})
            record("attempt", s, took, done)

        ts = [threading.Thread(target=verify, args=(i,)) for i in range(n_users)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        print(f"round {r + 1}/{rounds}: {n_users} second-factor steps done", flush=True)

    time.sleep(1)
    stop.set()
    for t in background:
        t.join()

    print(f"second-factor attempt: {fmt(results['attempt'])}, non-2xx {errors['attempt']}")
    print(f"verification start:    {fmt(results['start'])}, non-2xx {errors['start']}")
    print(f"password sign-in:      {fmt(results['signin'])}, non-2xx {errors['signin']}")
    print(f"health:                {fmt(results['health'])}, non-2xx {errors['health']}")
    for s in samples:
        print("  sample failure:", s)
    attempt_p99 = pct(results["attempt"], 99)
    health_p99 = pct(results["health"], 99)
    non2xx = sum(errors.values())
    ok = non2xx == 0 and attempt_p99 <= 0.250 and health_p99 <= 0.050
    print(f"SUMMARY second-factor p99 {attempt_p99 * 1000:.1f} ms (<= 250), "
          f"health p99 {health_p99 * 1000:.1f} ms (<= 50), non-2xx {non2xx} (0), "
          f"sign-ins {len(results['signin'])}: {'PASS' if ok else 'FAIL'}")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
