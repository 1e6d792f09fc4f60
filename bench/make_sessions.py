"""Signs one user in N times over a keep-alive connection; prints one session cookie per line.

Usage: python3 bench/make_sessions.py BASE_URL EMAIL PASSWORD N > cookies.txt
"""
import http.client
import json
import sys
import urllib.parse

base, email, password, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
url = urllib.parse.urlparse(base)
conn = http.client.HTTPConnection(url.hostname, url.port)
body = json.dumps({"email": email, "password": password})
for _ in range(n):
    conn.request("POST", "/v1/sign_ins", body, {"Content-Type": "application/json"})
    resp = conn.getresponse()
    resp.read()
    if resp.status != 200:
        sys.exit(f"sign-in failed: {resp.status}")
    for header, value in resp.getheaders():
        if header.lower() == "set-cookie" and value.startswith("reverify_session="):
            print(value.split(";", 1)[0])
