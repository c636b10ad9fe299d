#!/usr/bin/env python3
"""Runs smsgate and every peer gateway on identical work, each against a
fresh emulator (one modem, zero latency, no pacing), once with delivery
reports on and once with them off, and writes target/bench/peers.json.

Environment: SMSGATE_BIN (default target/release/smsgate), PEERS_N (outbound
messages, default 100), PEERS_MO (MO samples, default 200), PEERS_IDLE_S
(idle seconds, default 20), PEERS_REPORTS (default `on,off`), PEERS_ONLY
(comma-separated names), PEERS_KEEP=1 (keep work dirs). See README.md.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

import peerlib

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
# (name, script, commands it needs)
PEERS = [
    ("smsgate", "smsgate_gw.py", []),
    ("gammu-smsd", "gammu_smsd.py", ["gammu-smsd"]),
    ("smstools", "smstools.py", ["smsd"]),
    ("kannel", "kannel.py", ["bearerbox", "smsbox"]),
]


def main():
    binary = os.environ.get("SMSGATE_BIN", os.path.join(ROOT, "target/release/smsgate"))
    n = int(os.environ.get("PEERS_N", 100))
    mo = int(os.environ.get("PEERS_MO", 200))
    idle_s = float(os.environ.get("PEERS_IDLE_S", 20))
    rows = [r for r in os.environ.get("PEERS_REPORTS", "on,off").split(",") if r]
    only = [p for p in os.environ.get("PEERS_ONLY", "").split(",") if p]
    keep = os.environ.get("PEERS_KEEP") == "1"
    peers = [p for p in PEERS if not only or p[0] in only]

    if not os.access(binary, os.X_OK):
        print(f"peers: no smsgate binary at {binary} (cargo build --release, or set "
              "SMSGATE_BIN)", file=sys.stderr)
        return 2

    results = []
    for reports in rows:
        # MO latency and idle are measured once per system, in the first row.
        first = reports == rows[0]
        for name, script, commands in peers:
            result = run_one(binary, name, script, commands, n, mo if first else 0,
                             idle_s if first else 0, reports, keep)
            results.append(result)
            print(f"peers: {name} (reports {reports}): " + summary(result),
                  file=sys.stderr, flush=True)

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "emulator": {"binary": binary, "modems": 1, "latency_ms": 0, "cmgs_latency_ms": 0,
                     "baud": 0},
        "outbound_messages": n,
        "mo_messages": mo,
        "mo_gap_max_ms": int(os.environ.get("PEERS_MO_GAP_MS", 300)),
        "idle_seconds": idle_s,
        "rows": rows,
        "peers": results,
    }
    os.makedirs(os.path.join(ROOT, "target/bench"), exist_ok=True)
    path = os.path.join(ROOT, "target/bench/peers.json")
    with open(path, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(f"peers: wrote {path}", file=sys.stderr)
    failed = [r["name"] for r in results if r.get("errors")]
    if failed:
        print(f"peers: failed: {', '.join(failed)} (see errors in {path})", file=sys.stderr)
        return 1
    return 0


def run_one(binary, name, script, commands, n, mo, idle_s, reports, keep):
    missing = [c for c in commands if shutil.which(c) is None]
    if missing:
        return {"name": name, "version": None, "delivery_reports": reports,
                "errors": [f"cannot run: {', '.join(missing)} not installed "
                           "(run benches/peers/install.sh as root)"]}
    print(f"peers: {name} (reports {reports}): {n} outbound, {mo} MO, idle {idle_s:.0f} s ...",
          file=sys.stderr, flush=True)
    work = tempfile.mkdtemp(prefix=f"peers-{name}-")
    emu = None
    started = time.monotonic()
    # smsgate always asks for reports: with reports off, the emulator holds
    # them back for an hour (none reaches the gateway during the run).
    emu_args = ["--report-delay-ms", "3600000"] if name == "smsgate" and reports == "off" else []
    try:
        emu = peerlib.Emulator(binary, work, extra=emu_args)
        out = os.path.join(work, "result.json")
        peer_dir = os.path.join(work, "peer")
        cmd = [sys.executable, os.path.join(HERE, script),
               "--device", emu.modem["link"] or emu.modem["path"],
               "--control", emu.info["control"],
               "-n", str(n), "--mo", str(mo), "--idle-s", str(idle_s),
               "--reports", reports, "--out", out, "--workdir", peer_dir]
        proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, env=dict(os.environ, SMSGATE_BIN=binary))
        if os.path.exists(out):
            with open(out) as f:
                result = json.load(f)
        else:
            result = {"name": name, "version": peerlib.dpkg_version(name),
                      "delivery_reports": reports,
                      "errors": [f"{script} exited {proc.returncode} without a result: "
                                 f"{proc.stderr.strip()[-2000:]}"]}
    except Exception as e:  # noqa: BLE001 - one peer's failure is recorded
        result = {"name": name, "delivery_reports": reports,
                  "errors": [f"{type(e).__name__}: {e}"]}
    finally:
        if emu is not None:
            emu.stop()
    result["emulator_args"] = emu_args
    result["run_seconds"] = round(time.monotonic() - started, 1)
    # Other load on the machine skews these numbers: keep it with them.
    result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
    if result.get("errors") or keep:
        result["workdir"] = work
    else:
        shutil.rmtree(work, ignore_errors=True)
        result.pop("workdir", None)
    return result


def summary(r):
    if r.get("errors"):
        return "ERROR " + "; ".join(r["errors"])
    u = r.get("outbound_usage", {})
    s = (f"{r['outbound_msgs_per_s']} msgs/s outbound, {u.get('cpu_ms_per_msg')} ms CPU, "
         f"{u.get('write_bytes_per_msg')} B written, {u.get('wakeups_per_msg')} wake-ups per msg")
    if "mo_latency_ms" in r:
        mo = r["mo_latency_ms"]
        s += f"; MO p50 {mo['p50']} ms p99 {mo['p99']} ms (n={mo['n']})"
    if "idle" in r:
        i = r["idle"]
        s += f"; idle {i['wakeups_per_s']} wake-ups/s {i['cpu_ms_per_s']} ms CPU/s"
    return s


if __name__ == "__main__":
    sys.exit(main())
