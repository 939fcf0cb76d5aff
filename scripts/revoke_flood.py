#!/usr/bin/env python3
"""One account floods the example server with login + revoke for SECONDS seconds.

After each revocation the revoked session's access token is tried again, and every 50
rounds the oldest revoked tokens too: any 200 is a revoked token accepted. Prints one line:
FLOOD rounds=N revoked=N revoked_accepted=N errors=N
Usage: revoke_flood.py ADDR SECONDS
"""
import base64
import http.client
import json
import sys
import time

addr, seconds = sys.argv[1], float(sys.argv[2])
host, port = addr.rsplit(":", 1)
conn = http.client.HTTPConnection(host, int(port), timeout=10)
basic = "Basic " + base64.b64encode(b"testUser:testPassword").decode()


def call(method, path, token=None, auth=None):
    headers = {"authorization": auth or f"Bearer {token}"}
    conn.request(method, path, headers=headers)
    res = conn.getresponse()
    body = res.read()
    return res.status, body


rounds = revoked = accepted = errors = 0
oldest = []
deadline = time.monotonic() + seconds
while time.monotonic() < deadline:
    rounds += 1
    status, body = call("POST", "/sessions/", auth=basic)
    if status != 201:
        errors += 1
        continue
    login = json.loads(body)
    access, session = login["access_token"], login["session_id"]
    if call("GET", "/me", access)[0] != 200:
        errors += 1
    if call("DELETE", f"/sessions/{session}", access)[0] != 204:
        errors += 1
        continue
    revoked += 1
    if len(oldest) < 100:
        oldest.append(access)
    if call("GET", "/me", access)[0] == 200:
        accepted += 1
    if rounds % 50 == 0:
        accepted += sum(call("GET", "/me", old)[0] == 200 for old in oldest)
print(f"FLOOD rounds={rounds} revoked={revoked} revoked_accepted={accepted} errors={errors}")
