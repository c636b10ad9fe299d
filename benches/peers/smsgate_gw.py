#!/usr/bin/env python3
"""smsgate itself (`smsgate serve`, release build) on an emulated modem,
driven exactly like the peers: outbound through its web send API
(`POST /api/send`), MO latency to the `reply` event of the session's live
stream (SSE). See README.md.

Delivery reports: smsgate always asks for them. For the row with reports
off, run.py starts the emulator with `--report-delay-ms 3600000`, so no
report reaches the gateway during the run (the same work for the gateway
as not asking)."""

import http.client
import json
import os
import re
import socket
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import peerlib

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TOKEN = "bench-admin-token"
SETTINGS = {
    "interface": "POST /api/send, one browser session per phone (R5: one "
                 "live session per phone and short code), each session's "
                 "messages one after another, the 10 sessions at once",
    "durability": "every 202 is flushed to disk (fdatasync) before it is sent (default)",
    "limits": "rate limits off (sends_per_minute_per_client = 0, "
              "sends_per_hour_per_recipient = 0), connection caps off",
    "session.idle_timeout": "1h",
    "mo_hook": "the `reply` event of the MO phone's session, read from its SSE "
               "stream by a loopback reader (time_ns at read)",
}
REPLY_TEXT = re.compile(rb"Bench (?:mo [0-9a-f]{6} \d{3}|warm-up mo)")


def binary():
    return os.environ.get("SMSGATE_BIN", os.path.join(ROOT, "target/release/smsgate"))


class Smsgate(peerlib.Peer):
    name = "smsgate"
    package = None

    def version(self):
        try:
            v = subprocess.run([binary(), "--version"], capture_output=True, text=True,
                               check=True).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            v = "?"
        return v.removeprefix("smsgate ")

    def settings(self):
        s = dict(SETTINGS)
        s["delivery_reports"] = (
            "requested and handled (default)" if self.reports else
            "requested (always), held back by the emulator (--report-delay-ms "
            "3600000): none reaches the gateway during the run")
        if os.environ.get("BENCH_PI") == "1":
            s["pi_budget"] = "taskset -c 0 and a 256 MiB memory limit (a simulation)"
        return s

    def start(self):
        d = self.dir
        modems = self.control.get("/modems")
        code = modems[0]["number"]
        self.port = peerlib.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        cfg = os.path.join(d, "smsgate.toml")
        with open(cfg, "w") as f:
            f.write(
                f'[http]\nadmin_token = "{TOKEN}"\nmax_connections_per_client = 0\n'
                "max_streams_per_client = 0\n"
                '[session]\nidle_timeout = "1h"\n'
                "[limits]\nsends_per_minute_per_client = 0\n"
                "sends_per_hour_per_recipient = 0\n"
                f'[[modem]]\nport = "{self.device}"\nshort_code = "{code}"\n'
            )
        env = {k: v for k, v in os.environ.items() if not k.startswith("SMSGATE_")}
        env.update({"SMSGATE_HTTP__BIND": f"127.0.0.1:{self.port}",
                    "SMSGATE_STORE__DIR": os.path.join(d, "store"),
                    "RUST_LOG": "warn"})
        self.pi = None
        if os.environ.get("BENCH_PI") == "1":
            self.prefix, mem, self.pi = peerlib.pi_budget(f"{os.getpid()}")
            self.join += [mem] if mem else []
        self.spawn([binary(), "serve", "--config", cfg], "smsgate.out", env=env)
        peerlib.wait_for("smsgate's modem up", self._modem_up, 60, self, 0.1)
        self.cookies = {}
        self.lock = threading.Lock()
        # The session the MO phone replies to, and its live stream.
        self._send(peerlib.MO_PHONE, "Bench session for replies")
        self.stream = socket.create_connection(("127.0.0.1", self.port))
        self.stream.sendall(
            f"GET /api/session/events HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Cookie: {self.cookies[peerlib.MO_PHONE]}\r\n"
            "Accept: text/event-stream\r\n\r\n".encode())
        threading.Thread(target=self._read_stream, daemon=True).start()

    def _modem_up(self):
        try:
            c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            c.request("GET", "/admin/api/modems", headers={"Authorization": f"Bearer {TOKEN}"})
            r = c.getresponse()
            v = json.loads(r.read() or b"[]")
            c.close()
            return bool(v) and all(m.get("state") == "up" for m in v)
        except (OSError, ValueError, http.client.HTTPException):
            return False

    def _read_stream(self):
        log = open(self.hook_log, "a", buffering=1)
        buf = b""
        while True:
            try:
                data = self.stream.recv(65536)
            except OSError:
                return
            t1 = time.time_ns()
            if not data:
                return
            buf += data
            last = 0
            for m in REPLY_TEXT.finditer(buf):
                log.write(f"{t1} {m.group(0).decode()}\n")
                last = m.end()
            # Keep a tail: a text split across two reads is matched next time.
            buf = buf[max(last, len(buf) - 200):]

    def _send(self, phone, text):
        """One message from the phone's browser session (kept per phone)."""
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json", "Origin": self.url}
        with self.lock:
            cookie = self.cookies.get(phone)
        if cookie:
            headers["Cookie"] = cookie
        c.request("POST", "/api/send", body=json.dumps({"to": [phone], "text": text}),
                  headers=headers)
        r = c.getresponse()
        body = r.read()
        if r.status != 202:
            raise RuntimeError(f"/api/send answered {r.status}: {body[:300]!r}")
        v = json.loads(body)
        if v["recipients"][0].get("status") == "refused":
            raise RuntimeError(f"/api/send refused: {v['recipients'][0]}")
        set_cookie = r.getheader("set-cookie")
        if set_cookie and not cookie:
            with self.lock:
                self.cookies[phone] = set_cookie.split(";")[0]
        c.close()

    def submit(self, messages):
        by_phone = {}
        for phone, text in messages:
            by_phone.setdefault(phone, []).append(text)

        def one_session(item):
            phone, texts = item
            for text in texts:
                self._send(phone, text)

        with ThreadPoolExecutor(max(1, len(by_phone))) as pool:
            list(pool.map(one_session, by_phone.items()))

    def extra(self):
        return {"pi_budget": self.pi} if self.pi else {}

    def stop(self):
        try:
            self.stream.close()
        except (AttributeError, OSError):
            pass
        super().stop()


if __name__ == "__main__":
    peerlib.main(Smsgate)
