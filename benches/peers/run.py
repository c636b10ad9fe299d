#!/usr/bin/env python3
"""Runs every peer gateway in one go, each against a fresh emulator (one
modem, zero latency, no pacing), and writes target/bench/peers.json.

Environment: SMSGATE_BIN (default target/release/smsgate), PEERS_N (outbound
messages, default 200), PEERS_MO (MO messages, default 30), PEERS_ONLY
(comma-separated peer names), PEERS_KEEP=1 (keep work dirs). See README.md.
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
    ("gammu-smsd", "gammu_smsd.py", ["gammu-smsd"]),
    ("smstools", "smstools.py", ["smsd"]),
    ("kannel", "kannel.py", ["bearerbox", "smsbox"]),
]


def main():
    binary = os.environ.get("SMSGATE_BIN", os.path.join(ROOT, "target/release/smsgate"))
    n = int(os.environ.get("PEERS_N", 200))
    mo = int(os.environ.get("PEERS_MO", 30))
    only = [p for p in os.environ.get("PEERS_ONLY", "").split(",") if p]
    keep = os.environ.get("PEERS_KEEP") == "1"
    peers = [p for p in PEERS if not only or p[0] in only]

    if not os.access(binary, os.X_OK):
        print(f"peers: no smsgate binary at {binary} (cargo build --release, or set "
              "SMSGATE_BIN)", file=sys.stderr)
        return 2

    results = []
    for name, script, commands in peers:
        missing = [c for c in commands if shutil.which(c) is None]
        if missing:
            result = {"name": name, "version": None,
                      "errors": [f"cannot run: {', '.join(missing)} not installed "
                                 "(run benches/peers/install.sh as root)"]}
            results.append(result)
            print(f"peers: {name}: " + summary(result), file=sys.stderr, flush=True)
            continue
        print(f"peers: {name}: {n} outbound, {mo} MO ...", file=sys.stderr, flush=True)
        work = tempfile.mkdtemp(prefix=f"peers-{name}-")
        emu = None
        started = time.monotonic()
        try:
            emu = peerlib.Emulator(binary, work)
            out = os.path.join(work, "result.json")
            peer_dir = os.path.join(work, "peer")
            cmd = [sys.executable, os.path.join(HERE, script),
                   "--device", emu.modem["link"] or emu.modem["path"],
                   "--control", emu.info["control"],
                   "-n", str(n), "--mo", str(mo), "--out", out, "--workdir", peer_dir]
            proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                  text=True)
            if os.path.exists(out):
                with open(out) as f:
                    result = json.load(f)
            else:
                result = {"name": name, "version": peerlib.dpkg_version(name),
                          "errors": [f"{script} exited {proc.returncode} without a result: "
                                     f"{proc.stderr.strip()[-2000:]}"]}
        except Exception as e:  # noqa: BLE001 - one peer's failure is recorded
            result = {"name": name, "errors": [f"{type(e).__name__}: {e}"]}
        finally:
            if emu is not None:
                emu.stop()
        result["run_seconds"] = round(time.monotonic() - started, 1)
        # Other load on the machine skews these numbers: keep it with them.
        result["loadavg_1m_after"] = round(os.getloadavg()[0], 2)
        if result.get("errors"):
            result["workdir"] = work
        elif not keep:
            shutil.rmtree(work, ignore_errors=True)
            result.pop("workdir", None)
        else:
            result["workdir"] = work
        results.append(result)
        print(f"peers: {name}: " + summary(result), file=sys.stderr, flush=True)

    report = {
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "cpus": os.cpu_count(),
        "emulator": {"binary": binary, "modems": 1, "latency_ms": 0, "cmgs_latency_ms": 0,
                     "baud": 0},
        "outbound_messages": n,
        "mo_messages": mo,
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


def summary(r):
    if r.get("errors"):
        return "ERROR " + "; ".join(r["errors"])
    mo = r["mo_latency_ms"]
    return (f"{r['outbound_msgs_per_s']} msgs/s outbound, "
            f"MO p50 {mo['p50']} ms p99 {mo['p99']} ms")


if __name__ == "__main__":
    sys.exit(main())
