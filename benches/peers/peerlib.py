"""Shared by the peer benchmarks: the emulator process, its control API, the
texts every gateway sends, and the two measurements (outbound throughput and
MO -> application latency).

A peer script defines a class with `start()`, `submit(messages)` and
`stop()`, and a hook that appends `<time_ns> <text>` lines to `self.hook_log`
when the peer hands an incoming SMS to the application; `main(PeerClass)`
does the rest. Python 3 standard library only.
"""

import argparse
import http.server
import json
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from datetime import datetime

# The phones the outbound texts go to, and the phone that sends MO texts.
PHONES = [f"+1809555{3000 + i}" for i in range(10)]
MO_PHONE = "+18095557000"
OUT_PREFIX = "Bench out"
WARMUP_TIMEOUT_S = 90
MO_TIMEOUT_S = 60
# Hook logs are local files: cheap to poll often. Inboxes are polled over
# HTTP, slowly, so the poller does not take CPU from the peer; the end time
# comes from the inbox's `received_at`, not from the poll.
POLL_S = 0.02
INBOX_POLL_S = 0.25


def outbound_messages(n):
    """The same `n` short GSM-7 single-part texts for every gateway."""
    return [
        (PHONES[i % len(PHONES)], f"{OUT_PREFIX} {i:05d} hola desde el banco")
        for i in range(n)
    ]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dpkg_version(package):
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package],
            capture_output=True, text=True, check=True,
        )
        return out.stdout.strip() or None
    except (OSError, subprocess.CalledProcessError):
        return None


def percentile(sorted_values, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * p // 100))
    return sorted_values[int(rank) - 1]


class Control:
    """The emulator's control API."""

    def __init__(self, url):
        self.url = url.rstrip("/")

    def get(self, path):
        with urllib.request.urlopen(self.url + path, timeout=10) as r:
            return json.load(r)

    def post(self, path, body):
        req = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def short_code(self):
        return self.get("/modems")[0]["number"]

    def inbox(self, phone):
        return self.get(f"/phones/{urllib.request.quote(phone)}/inbox")

    def transcript_tail(self, modem=0, lines=40):
        try:
            t = self.get(f"/modems/{modem}/transcript")
        except Exception as e:  # noqa: BLE001 - debugging aid only
            return f"(no transcript: {e})"
        return json.dumps(t[-lines:] if isinstance(t, list) else t)[-4000:]


class Emulator:
    """`smsgate emulator` with one modem, zero latency, no pacing."""

    def __init__(self, binary, workdir, modems=1):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "emulator", "--modems", str(modems), "--json",
             "--link-dir", os.path.join(workdir, "links"),
             "--control", f"127.0.0.1:{self.port}"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(workdir, "emulator.log"), "w"),
            text=True,
        )
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{binary} emulator printed nothing (see {workdir}/emulator.log)")
        self.info = json.loads(line)
        self.control = Control(self.info["control"])
        self.modem = self.info["modems"][0]

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()


class HookListener:
    """A loopback HTTP listener for hooks that call a URL (kannel get-url):
    each request appends `<time_ns> <text>` to the hook log."""

    def __init__(self, hook_log):
        log = open(hook_log, "a", buffering=1)
        lock = threading.Lock()

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                t1 = time.time_ns()
                q = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                text = q.get("text", [""])[0]
                with lock:
                    log.write(f"{t1} {text}\n")
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()


def hook_times(hook_log):
    """{text: first t1_ns} from the hook log."""
    seen = {}
    try:
        with open(hook_log, encoding="utf-8", errors="replace") as f:
            for line in f:
                t, _, text = line.rstrip("\n").partition(" ")
                if t.isdigit():
                    seen.setdefault(text.strip(), int(t))
    except FileNotFoundError:
        pass
    return seen


def wait_for(what, predicate, timeout_s, peer=None, poll_s=POLL_S):
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        v = predicate()
        if v:
            return v
        if peer is not None:
            peer.check_alive()
        time.sleep(poll_s)
    raise TimeoutError(f"timed out after {timeout_s:.0f} s waiting for {what}")


def delivered(control, texts_by_phone):
    """(count, last received_at in ns) of the expected texts in the inboxes."""
    count, last = 0, 0
    for phone, texts in texts_by_phone.items():
        for m in control.inbox(phone):
            if m["text"] in texts and m["complete"]:
                count += 1
                at = datetime.fromisoformat(m["received_at"]).timestamp()
                last = max(last, int(at * 1e9))
    return count, last


def measure_outbound(peer, control, n, timeout_s):
    msgs = outbound_messages(n)
    by_phone = {}
    for phone, text in msgs:
        by_phone.setdefault(phone, set()).add(text)
    t0 = time.time_ns()
    peer.submit(msgs)
    submitted = time.time_ns()
    state = {}

    def done():
        c, last = delivered(control, by_phone)
        state["count"], state["last"] = c, last
        return c >= n

    try:
        wait_for(f"{n} outbound messages on the phones", done, timeout_s, peer, INBOX_POLL_S)
    except TimeoutError as e:
        raise TimeoutError(f"{e} (got {state.get('count', 0)})") from None
    seconds = (state["last"] - t0) / 1e9
    return {
        "outbound_msgs": n,
        "outbound_seconds": round(seconds, 3),
        "outbound_msgs_per_s": round(n / seconds, 2),
        "outbound_submit_seconds": round((submitted - t0) / 1e9, 3),
    }


def measure_mo(peer, control, count, timeout_s, gap_max_s):
    """`count` phone messages one at a time; t0 just before the POST, t1
    from the hook. A random pause of 0..gap_max_s between messages samples
    every phase of the peer's polling loop."""
    short = control.short_code()
    nonce = f"{random.randrange(16**6):06x}"
    lat_ms = []
    for i in range(count):
        text = f"Bench mo {nonce} {i:03d}"
        t0 = time.time_ns()
        control.post(f"/phones/{urllib.request.quote(MO_PHONE)}/send",
                     {"to": short, "text": text})
        t1 = wait_for(f"MO {i} at the application",
                      lambda: hook_times(peer.hook_log).get(text), timeout_s, peer)
        lat_ms.append((t1 - t0) / 1e6)
        time.sleep(random.uniform(0, gap_max_s))
    s = sorted(lat_ms)
    return {
        "mo_latency_ms": {
            "p50": round(percentile(s, 50), 1),
            "p99": round(percentile(s, 99), 1),
            "min": round(s[0], 1),
            "max": round(s[-1], 1),
            "n": len(s),
        }
    }


def warm_up(peer, control):
    """One outbound and one MO message end to end: the peer is up and has
    finished its start-up chatter with the modem."""
    phone, text = PHONES[0], "Bench warm-up"
    peer.submit([(phone, text)])
    wait_for("the warm-up message on the phone",
             lambda: any(m["text"] == text for m in control.inbox(phone)),
             WARMUP_TIMEOUT_S, peer)
    mo = "Bench warm-up mo"
    control.post(f"/phones/{urllib.request.quote(MO_PHONE)}/send",
                 {"to": control.short_code(), "text": mo})
    wait_for("the warm-up MO at the application",
             lambda: mo in hook_times(peer.hook_log), WARMUP_TIMEOUT_S, peer)


class Peer:
    """Base of the peer drivers: a work dir, a hook log, child processes
    started in their own process group and stopped by pid."""

    name = "peer"
    package = None
    settings = {}

    def __init__(self, device, control_url, workdir):
        self.device = device
        self.control = Control(control_url)
        self.dir = workdir
        self.hook_log = os.path.join(workdir, "hook.log")
        self.procs = []

    def spawn(self, argv, log_name):
        log = open(os.path.join(self.dir, log_name), "w")
        p = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT,
                             cwd=self.dir, start_new_session=True)
        self.procs.append((argv[0], p))
        return p

    def check_alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with status {p.returncode}")

    def cpu_seconds(self):
        """CPU time used so far by the peer's process groups (live processes
        and the children they have reaped)."""
        groups = {p.pid for _, p in self.procs}
        ticks = 0
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            # fields[0] is field 3 (state): pgrp is field 5, utime..cstime 14..17.
            if int(fields[2]) in groups:
                ticks += sum(int(x) for x in fields[11:15])
        return ticks / os.sysconf("SC_CLK_TCK")

    def stop(self):
        for _, p in reversed(self.procs):
            if p.poll() is None:
                try:
                    os.killpg(p.pid, 15)
                except ProcessLookupError:
                    pass
        for _, p in reversed(self.procs):
            try:
                p.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, 9)
                p.wait()


def write_hook_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)


def main(peer_class):
    ap = argparse.ArgumentParser(description=f"Benchmark {peer_class.name} on an emulated modem.")
    ap.add_argument("--device", required=True, help="the modem's pty or link path")
    ap.add_argument("--control", required=True, help="the emulator's control URL")
    ap.add_argument("-n", "--messages", type=int, default=int(os.environ.get("PEERS_N", 200)))
    ap.add_argument("--mo", type=int, default=int(os.environ.get("PEERS_MO", 30)))
    ap.add_argument("--mo-gap-ms", type=int, default=int(os.environ.get("PEERS_MO_GAP_MS", 300)))
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("PEERS_TIMEOUT_S", 900)),
                    help="seconds allowed for the outbound batch")
    ap.add_argument("--workdir", help="keep configs and logs here (default: a temp dir, removed)")
    ap.add_argument("--out", help="write the result JSON here (default: stdout)")
    args = ap.parse_args()

    keep = args.workdir is not None
    workdir = args.workdir or tempfile.mkdtemp(prefix=f"peer-{peer_class.name}-")
    os.makedirs(workdir, exist_ok=True)
    result = {
        "name": peer_class.name,
        "version": dpkg_version(peer_class.package),
        "settings": peer_class.settings,
        "errors": [],
    }
    peer = peer_class(args.device, args.control, workdir)
    status = 0
    try:
        peer.start()
        warm_up(peer, peer.control)
        cpu0, t0 = peer.cpu_seconds(), time.monotonic()
        result.update(measure_outbound(peer, peer.control, args.messages, args.timeout))
        cpu1, t1 = peer.cpu_seconds(), time.monotonic()
        result.update(measure_mo(peer, peer.control, args.mo, MO_TIMEOUT_S,
                                 args.mo_gap_ms / 1000))
        cpu2, t2 = peer.cpu_seconds(), time.monotonic()
        # Share of one core the peer used in each phase (spinning pollers
        # show here).
        result["cpu_share_outbound"] = round((cpu1 - cpu0) / (t1 - t0), 2)
        result["cpu_share_mo"] = round((cpu2 - cpu1) / (t2 - t1), 2)
    except Exception as e:  # noqa: BLE001 - recorded, not fatal to the caller
        result["errors"].append(f"{type(e).__name__}: {e}")
        result["transcript_tail"] = peer.control.transcript_tail()
        status = 1
    finally:
        peer.stop()
        if not keep and status == 0:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            result["workdir"] = workdir
    text = json.dumps(result, indent=2)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    else:
        print(text)
    sys.exit(status)
