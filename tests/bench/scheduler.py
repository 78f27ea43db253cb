"""Scheduler benchmark (a script, not collected by pytest): `python tests/bench/scheduler.py`.

Runs a real `jobdash serve` on a fresh temporary SQLite store with one schedule firing every
`--every` seconds (a `true` command), until `--fires` fire times have passed, then reads from
the store, per fire time: job created − fire time, and first task started − fire time.
Prints p50 / p99 / max of both, the ticks by outcome, and the machine.

Options: `--fires N` (default 100), `--every SECONDS` (default 0.3), `--engines N` (default 1;
with more, they share the store and one leader fires).
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


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    k = (len(values) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(values) - 1)
    return values[lo] + (values[hi] - values[lo]) * (k - lo)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fires", type=int, default=100)
    ap.add_argument("--every", type=float, default=0.3)
    ap.add_argument("--engines", type=int, default=1)
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Path(tmp) / "jobdash.toml"
        cfg.write_text(f'[types.beat]\ncommand = ["true"]\nschedule = "interval: {a.every:g}s"\n')
        db = Path(tmp) / "bench.db"
        env = dict(os.environ, JOBDASH_DB=str(db), JOBDASH_CONFIG=str(cfg))
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "jobdash", "serve", "--name", f"bench{i}"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for i in range(a.engines)
        ]
        try:
            deadline = time.time() + a.fires * a.every * 3 + 30
            while time.time() < deadline:
                time.sleep(0.5)
                if not db.exists():
                    continue
                con = sqlite3.connect(db)
                try:
                    n = con.execute(
                        "SELECT count(*) FROM jobs WHERE schedule_id = 'beat' AND status IN "
                        "('succeeded', 'warning', 'failed', 'cancelled')"
                    ).fetchone()[0]
                except sqlite3.OperationalError:
                    n = 0
                con.close()
                if n >= a.fires:
                    break
        finally:
            for p in procs:
                p.send_signal(signal.SIGTERM)
            for p in procs:
                p.wait(timeout=60)
        con = sqlite3.connect(db)
        rows = con.execute(
            "SELECT j.fire_time, j.created, min(t.started) FROM jobs j "
            "JOIN tasks t ON t.job_id = j.id WHERE j.schedule_id = 'beat' "
            "AND t.started IS NOT NULL GROUP BY j.id ORDER BY j.fire_time LIMIT ?",
            (a.fires,),
        ).fetchall()
        ticks = dict(
            con.execute(
                "SELECT outcome, count(*) FROM ticks WHERE schedule_id = 'beat' GROUP BY outcome"
            ).fetchall()
        )
        con.close()
    created = [(c - ft) * 1000 for ft, c, _ in rows]
    started = [(s - ft) * 1000 for ft, _, s in rows]
    print(
        f"jobdash scheduler benchmark — {date.today()} — {platform.machine()}, "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, {platform.system()}"
    )
    print(f"schedule every {a.every:g}s, {a.engines} engine(s), {len(rows)} fires measured")
    print(f"ticks: {ticks}")
    for name, vals in (("fire → job created", created), ("fire → first task started", started)):
        print(
            f"{name:>26}: p50 {percentile(vals, 50):6.1f} ms   p99 {percentile(vals, 99):6.1f} ms"
            f"   max {max(vals):6.1f} ms   mean {statistics.fmean(vals):6.1f} ms"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
