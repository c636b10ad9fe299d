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
# Seconds after warm-up before idle is measured, and after the last
# outbound message before resources are read.
IDLE_WARM_S = 5
SETTLE_S = 1.0
MO_TIMEOUT_S = 60
# Hook logs are local files: cheap to poll often. Inboxes are polled over
# HTTP, slowly, so the poller does not take CPU from the peer; the end time
# comes from the inbox's `received_at`, not from the poll.
POLL_S = 0.02
INBOX_POLL_S = 0.25
# The hook log is polled faster while one MO message is in flight: the
# latency is stamped by the hook itself, this only bounds the wait.
MO_POLL_S = 0.005


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


def tree_pids(roots):
    """The live processes descending from `roots` (roots included)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    seen, todo = set(), [r for r in roots if os.path.exists(f"/proc/{r}")]
    while todo:
        pid = todo.pop()
        if pid in seen:
            continue
        seen.add(pid)
        todo.extend(children.get(pid, []))
    return seen


def usage(roots, cgroup=None):
    """Resources used so far by the process tree under `roots` (with
    `cgroup`, a cpuacct cgroup holding the tree: its processes, and its CPU
    time in nanoseconds, dead children included). CPU seconds (without a
    cgroup: utime+stime+cutime+cstime of /proc/PID/stat, in clock ticks),
    bytes written to the block layer (`/proc/PID/io` write_bytes, which also
    holds reaped children's), and context switches (voluntary +
    nonvoluntary, summed over `/proc/PID/task/*/status` of every live
    process: a child that has exited and been reaped takes its switches
    with it)."""
    tick = os.sysconf("SC_CLK_TCK")
    ticks = wbytes = vol = nonvol = 0
    pids = tree_pids(roots)
    if cgroup:
        try:
            with open(os.path.join(cgroup, "cgroup.procs")) as f:
                pids |= {int(x) for x in f.read().split()}
        except OSError:
            pass
    threads = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            # fields[0] is field 3 (state): utime..cstime are fields 14..17.
            ticks += sum(int(x) for x in fields[11:15])
            with open(f"/proc/{pid}/io") as f:
                for line in f:
                    if line.startswith("write_bytes:"):
                        wbytes += int(line.split()[1])
            for tid in os.listdir(f"/proc/{pid}/task"):
                threads += 1
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    for line in f:
                        if line.startswith("voluntary_ctxt_switches:"):
                            vol += int(line.split()[1])
                        elif line.startswith("nonvoluntary_ctxt_switches:"):
                            nonvol += int(line.split()[1])
        except OSError:
            continue
    cpu = ticks / tick
    if cgroup:
        try:
            with open(os.path.join(cgroup, "cpuacct.usage")) as f:
                cpu = int(f.read()) / 1e9
        except OSError:
            pass
    return {"t": time.monotonic(), "cpu_s": cpu, "write_bytes": wbytes,
            "ctxsw_voluntary": vol, "ctxsw_nonvoluntary": nonvol,
            "processes": len(pids), "threads": threads}


CPUACCT = "/sys/fs/cgroup/cpuacct"


def make_cgroup(controller_root, name):
    """A fresh cgroup (v1) directory, or None when it cannot be made."""
    path = os.path.join(controller_root, name)
    try:
        os.makedirs(path, exist_ok=True)
        return path
    except OSError:
        return None


def remove_cgroup(path):
    if not path:
        return
    for _ in range(50):
        try:
            os.rmdir(path)
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.1)


def usage_delta(a, b, per=None, per_name="msg"):
    """What the tree used between samples `a` and `b`; with `per`, also
    per unit (message or sample)."""
    secs = b["t"] - a["t"]
    cpu = b["cpu_s"] - a["cpu_s"]
    wb = b["write_bytes"] - a["write_bytes"]
    wake = (b["ctxsw_voluntary"] + b["ctxsw_nonvoluntary"]
            - a["ctxsw_voluntary"] - a["ctxsw_nonvoluntary"])
    d = {"seconds": round(secs, 3), "cpu_ms": round(cpu * 1000, 1), "write_bytes": wb,
         "wakeups": wake, "processes": b["processes"], "threads": b["threads"]}
    if per:
        d[f"cpu_ms_per_{per_name}"] = round(cpu * 1000 / per, 3)
        d[f"write_bytes_per_{per_name}"] = round(wb / per, 1)
        d[f"wakeups_per_{per_name}"] = round(wake / per, 2)
    else:
        d["cpu_ms_per_s"] = round(cpu * 1000 / secs, 3)
        d["write_bytes_per_s"] = round(wb / secs, 1)
        d["wakeups_per_s"] = round(wake / secs, 2)
    return d


PI_MEMORY = "/sys/fs/cgroup/memory"


def pi_budget(name, mem_mib=256, core=0):
    """BENCH_PI: a simulation of a Raspberry Pi 3-class budget: one core
    (`taskset -c`) and a memory cap (a cgroup v1 memory limit when
    writable, else prlimit's address-space limit). Returns (argv prefix,
    cgroup to join or None, what was applied)."""
    applied = {"simulation": True, "core": core, "memory_mib": mem_mib}
    prefix = ["taskset", "-c", str(core)]
    cg = make_cgroup(PI_MEMORY, f"smsgate-bench-pi-{name}")
    try:
        if cg is None:
            raise OSError("no memory cgroup")
        with open(os.path.join(cg, "memory.limit_in_bytes"), "w") as f:
            f.write(str(mem_mib << 20))
        applied["memory_limit"] = f"cgroup v1 memory.limit_in_bytes ({cg})"
    except OSError as e:
        cg = None
        prefix += ["prlimit", f"--as={mem_mib << 20}", "--"]
        applied["memory_limit"] = f"prlimit --as (no cgroup: {e})"
    return prefix, cg, applied


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

    def __init__(self, binary, workdir, modems=1, extra=()):
        self.port = free_port()
        self.proc = subprocess.Popen(
            [binary, "emulator", "--modems", str(modems), "--json",
             "--link-dir", os.path.join(workdir, "links"),
             "--control", f"127.0.0.1:{self.port}", *extra],
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
        listener = self
        # Delivery-report callbacks (kannel's dlr-url) are counted, not logged.
        self.dlr_calls = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                t1 = time.time_ns()
                url = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(url.query)
                text = q.get("text", [""])[0]
                with lock:
                    if url.path == "/dlr":
                        listener.dlr_calls += 1
                    else:
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


def mo_gaps(count, gap_max_s, seed=19):
    """The pauses between MO samples: pseudo-random from 0 to `gap_max_s`
    (so every phase of a polling loop is sampled) and the same sequence for
    every gateway."""
    rng = random.Random(seed)
    return [rng.uniform(0, gap_max_s) for _ in range(count)]


def measure_mo(peer, control, count, timeout_s, gap_max_s):
    """`count` phone messages one at a time; t0 just before the POST, t1
    from the hook. The pauses between messages are `mo_gaps`."""
    short = control.short_code()
    nonce = f"{random.randrange(16**6):06x}"
    lat_ms = []
    for i, gap in enumerate(mo_gaps(count, gap_max_s)):
        text = f"Bench mo {nonce} {i:03d}"
        t0 = time.time_ns()
        control.post(f"/phones/{urllib.request.quote(MO_PHONE)}/send",
                     {"to": short, "text": text})
        t1 = wait_for(f"MO {i} at the application",
                      lambda: hook_times(peer.hook_log).get(text), timeout_s, peer,
                      MO_POLL_S)
        lat_ms.append((t1 - t0) / 1e6)
        time.sleep(gap)
    s = sorted(lat_ms)
    return {
        "mo_latency_ms": {
            "p50": round(percentile(s, 50), 2),
            "p90": round(percentile(s, 90), 2),
            "p99": round(percentile(s, 99), 2),
            "min": round(s[0], 2),
            "max": round(s[-1], 2),
            "n": len(s),
            "gap_max_ms": round(gap_max_s * 1000),
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

    def __init__(self, device, control_url, workdir, reports=True):
        self.reports = reports
        self.device = device
        self.control = Control(control_url)
        self.dir = workdir
        self.hook_log = os.path.join(workdir, "hook.log")
        self.procs = []
        # A cpuacct cgroup holds the peer's whole process tree (CPU time in
        # ns, exited children included); extra cgroups (BENCH_PI's memory
        # cap) are joined the same way.
        self.cgroup = make_cgroup(CPUACCT, f"smsgate-bench-{self.name}-{os.getpid()}")
        self.join = [self.cgroup] if self.cgroup else []
        self.prefix = []

    def spawn(self, argv, log_name, env=None):
        """Starts `argv` in its own session, inside the peer's cgroups from
        its first instruction (a shell joins them, then execs)."""
        log = open(os.path.join(self.dir, log_name), "w")
        full = list(self.prefix) + list(argv)
        if self.join:
            script = "".join(f'echo $$ > "{c}/cgroup.procs" && ' for c in self.join)
            full = ["sh", "-c", script + 'exec "$@"', "sh"] + full
        p = subprocess.Popen(full, stdout=log, stderr=subprocess.STDOUT,
                             cwd=self.dir, start_new_session=True, env=env)
        self.procs.append((argv[0], p))
        return p

    def usage(self):
        return usage([p.pid for _, p in self.procs], self.cgroup)

    def version(self):
        return dpkg_version(self.package)

    def settings(self):
        return {}

    def extra(self):
        """More result fields, read before the peer stops."""
        return {}

    def check_alive(self):
        for name, p in self.procs:
            if p.poll() is not None:
                raise RuntimeError(f"{name} exited with status {p.returncode}")

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
        for cg in self.join:
            remove_cgroup(cg)


def write_hook_script(path, body):
    with open(path, "w") as f:
        f.write("#!/bin/sh\n" + body)
    os.chmod(path, 0o755)


def main(peer_class):
    ap = argparse.ArgumentParser(description=f"Benchmark {peer_class.name} on an emulated modem.")
    ap.add_argument("--device", required=True, help="the modem's pty or link path")
    ap.add_argument("--control", required=True, help="the emulator's control URL")
    ap.add_argument("-n", "--messages", type=int, default=int(os.environ.get("PEERS_N", 100)))
    ap.add_argument("--mo", type=int, default=int(os.environ.get("PEERS_MO", 200)))
    ap.add_argument("--mo-gap-ms", type=int, default=int(os.environ.get("PEERS_MO_GAP_MS", 300)))
    ap.add_argument("--reports", choices=["on", "off"], default="on",
                    help="delivery reports requested and handled (on) or not (off)")
    ap.add_argument("--idle-s", type=float, default=float(os.environ.get("PEERS_IDLE_S", 20)),
                    help="seconds of idle measurement after warm-up (0: none)")
    ap.add_argument("--timeout", type=float, default=float(os.environ.get("PEERS_TIMEOUT_S", 900)),
                    help="seconds allowed for the outbound batch")
    ap.add_argument("--workdir", help="keep configs and logs here (default: a temp dir, removed)")
    ap.add_argument("--out", help="write the result JSON here (default: stdout)")
    args = ap.parse_args()

    keep = args.workdir is not None
    workdir = args.workdir or tempfile.mkdtemp(prefix=f"peer-{peer_class.name}-")
    os.makedirs(workdir, exist_ok=True)
    peer = peer_class(args.device, args.control, workdir, args.reports == "on")
    result = {
        "name": peer_class.name,
        "version": peer.version(),
        "delivery_reports": args.reports,
        "settings": peer.settings(),
        "accounting": ("cpuacct cgroup (CPU in ns, exited children included)"
                       if peer.cgroup else "/proc ticks (no cgroup)"),
        "errors": [],
    }
    status = 0
    try:
        peer.start()
        warm_up(peer, peer.control)
        if args.idle_s > 0:
            time.sleep(IDLE_WARM_S)
            u0 = peer.usage()
            time.sleep(args.idle_s)
            result["idle"] = usage_delta(u0, peer.usage())
        u0 = peer.usage()
        t0 = time.monotonic()
        result.update(measure_outbound(peer, peer.control, args.messages, args.timeout))
        # Trailing work (the last delivery reports, spool moves) is counted:
        # resources are read SETTLE_S after the last message reached its phone.
        time.sleep(SETTLE_S)
        u1 = peer.usage()
        result["outbound_usage"] = usage_delta(u0, u1, args.messages)
        result["outbound_usage"]["settle_s"] = SETTLE_S
        result["cpu_share_outbound"] = round((u1["cpu_s"] - u0["cpu_s"]) / (u1["t"] - t0), 2)
        if args.mo > 0:
            u1 = peer.usage()
            result.update(measure_mo(peer, peer.control, args.mo, MO_TIMEOUT_S,
                                     args.mo_gap_ms / 1000))
            u2 = peer.usage()
            result["mo_usage"] = usage_delta(u1, u2, args.mo)
            result["cpu_share_mo"] = round((u2["cpu_s"] - u1["cpu_s"]) / (u2["t"] - u1["t"]), 2)
        result["reports_seen_by_modem_port"] = reports_on_the_line(peer.control)
        result.update(peer.extra())
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


def reports_on_the_line(control):
    """Delivery reports the modem handed to the gateway (`+CDS`/`+CDSI`
    lines in the modem transcript, or status reports listed by `+CMGL`):
    shows that a row with reports on really carried them."""
    try:
        t = control.get("/modems/0/transcript")
    except Exception:  # noqa: BLE001 - informative only
        return None
    n = 0
    for e in t if isinstance(t, list) else []:
        if e.get("dir") == "from_modem":
            data = e.get("data", "")
            n += data.count("+CDS:") + data.count("+CDSI:")
    return n
