"""Recovery benchmark (a script, not collected by pytest): `python tests/bench/recovery.py`.

Time from `kill -9` of the agent running a task to the task's attempt 2 starting (the task
writes its own start time), with real `python -m jobdash` processes on a fresh SQLite store:

1. restart: `jobdash serve` killed, a new `jobdash serve` started at once on the same host
   (it sees its predecessor's process is gone and takes the claim at once);
2. other agent, default lease (15 s), same-host process check off (JOBDASH_PID_CHECK=0):
   the bound for an agent on another host, or a hung one;
3. the same with JOBDASH_LEASE=5, to show the bound follows the lease.

Options: `--runs N` (default 3), `--quick` (1 run of each, skip 2).
"""

from __future__ import annotations

import argparse
import os
import platform
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

CONFIG = """
[types.crashy]
params.log = { required = true }
command = ['sh', '-c', 'echo "$JOBDASH_ATTEMPT $(date +%s.%N)" >> {log}; if [ "$JOBDASH_ATTEMPT" = 1 ]; then sleep 300; fi']
retries = 1
"""


def until(cond, timeout: float):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not (v := cond()):
        if time.monotonic() > deadline:
            raise TimeoutError
        time.sleep(0.01)
    return v


def lines(p: Path) -> list[str]:
    return p.read_text().split("\n")[:-1] if p.exists() else []


def one(kind: str, env_extra: dict[str, str]) -> float:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        db, cfg, log = tmp / "j.db", tmp / "j.toml", tmp / "attempts"
        cfg.write_text(CONFIG)
        env = {**os.environ, "PYTHONPATH": str(ROOT), **env_extra}
        procs: list[subprocess.Popen[bytes]] = []

        def start(name: str, cmd: str) -> subprocess.Popen[bytes]:
            p = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "jobdash",
                    cmd,
                    "--db",
                    str(db),
                    "--config",
                    str(cfg),
                    "--name",
                    name,
                ],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
            procs.append(p)
            return p

        try:
            first = start("a", "serve")
            time.sleep(1.5)
            other = kind == "other"
            if other:
                start("b", "agent")
                time.sleep(1.5)
            subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "jobdash",
                    "run",
                    "crashy",
                    "--db",
                    str(db),
                    "--config",
                    str(cfg),
                    "-p",
                    f"log={log}",
                ],
                check=True,
                capture_output=True,
                env=env,
            )
            until(lambda: lines(log), 30)
            pid1 = int(subprocess.check_output(["pgrep", "-n", "-f", "sleep 300"]).split()[0])
            time.sleep(0.5)
            con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
            (holder,) = con.execute("SELECT agent FROM tasks").fetchone()
            con.close()
            victim = first if holder == "a" else procs[1]
            killed = time.time()
            os.kill(victim.pid, signal.SIGKILL)
            victim.wait()
            if not other:
                start("a2", "serve")
            until(lambda: len(lines(log)) >= 2, 60)
            started2 = float(lines(log)[1].split()[1])
            try:
                os.killpg(os.getpgid(pid1), signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            return started2 - killed
        finally:
            for p in procs:
                if p.poll() is None:
                    os.killpg(p.pid, signal.SIGKILL)
                p.wait()


def report(title: str, xs: list[float]) -> None:
    print(
        f"{title:<58} n={len(xs)}  min {min(xs):6.2f}s  median {statistics.median(xs):6.2f}s"
        f"  max {max(xs):6.2f}s"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    runs = 1 if a.quick else a.runs
    print(
        f"jobdash recovery after kill -9 — {date.today()} — {platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}"
    )
    report(
        "1. restart of `serve` on the same host (process check)",
        [one("restart", {}) for _ in range(runs)],
    )
    if not a.quick:
        report(
            "2. other live agent, lease 15 s (default), no process check",
            [one("other", {"JOBDASH_PID_CHECK": "0"}) for _ in range(runs)],
        )
    report(
        "3. other live agent, JOBDASH_LEASE=5, no process check",
        [one("other", {"JOBDASH_PID_CHECK": "0", "JOBDASH_LEASE": "5"}) for _ in range(runs)],
    )
    print("bound: lease + sweep interval (2 s) + claim poll (0.1 s) after the last heartbeat")


if __name__ == "__main__":
    main()
