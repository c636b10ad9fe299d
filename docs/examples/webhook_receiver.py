#!/usr/bin/env python3
"""A webhook receiver for smsgate that checks every signature.

    SMSGATE_WEBHOOK_SECRET=sg_... python3 webhook_receiver.py [PORT] [EVENTS_FILE]

Listens on 127.0.0.1:PORT (8080). Each POST must carry
`Smsgate-Signature: t=UNIX_SECONDS,v1=HEX`, where HEX is
HMAC-SHA256(secret, "{t}.{raw body}") in lowercase hex, and t must be
within five minutes of now. A good event is answered 204 and, the first
time its `id` is seen (delivery is at least once), appended as one JSON
line to EVENTS_FILE (or printed). Anything else is answered 400, and
smsgate tries again later.

Only the Python standard library is used.
"""
import hashlib
import hmac
import json
import os
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET = os.environ["SMSGATE_WEBHOOK_SECRET"].encode("utf-8")
TOLERANCE_SECONDS = 300
PORT = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
EVENTS_FILE = sys.argv[2] if len(sys.argv) > 2 else None
seen = set()


def verified(header, body):
    fields = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    t, given = fields.get("t", ""), fields.get("v1", "")
    if not t.isdigit() or abs(time.time() - int(t)) > TOLERANCE_SECONDS:
        return False
    expected = hmac.new(SECRET, t.encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


def handle(event):
    line = json.dumps(event, ensure_ascii=False)
    if EVENTS_FILE:
        with open(EVENTS_FILE, "a", encoding="utf-8") as f:
            f.write(line + "\n")
    else:
        print(line, flush=True)


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if not verified(self.headers.get("Smsgate-Signature", ""), body):
            self.send_response(400)
            self.end_headers()
            return
        event = json.loads(body)
        if event["id"] not in seen:
            seen.add(event["id"])
            handle(event)
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


if __name__ == "__main__":
    ThreadingHTTPServer(("127.0.0.1", PORT), Receiver).serve_forever()
