"""Scale benchmark, command-line part: `python tests/bench/scale.py --commands --sizes …`
(see scale.py's docstring, part 7): `export`, `jobs --json` and `logs` over a history of
finished jobs and one job's long log, each a process of its own, beside the `sqlite3`
program printing the same lines.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

LOG_JOB = 1  # the oldest job of the history: the dashboard part's counts stay the history's
STOPPED = "  (stopped at --timeout: rates so far)"


def seed_log(db: Path, lines: int, job: int = LOG_JOB) -> None:
    """`lines` log lines of one task of `job`, written with SQL directly as `seed_history`
    writes its jobs (the job counts them, as the log writer does)."""
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN")
    (task,) = con.execute(
        "INSERT INTO tasks (job_id, seq, key, name, kind, spec, status, attempt) "
        "VALUES (?, 1, 'main', 'main', 'job', 'null', 'succeeded', 1) RETURNING id",
        (job,),
    ).fetchone()
    t = time.time() - 86_400
    con.executemany(
        "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
        "VALUES (?, ?, ?, 'stdout', ?, 1)",
        (
            (
                job,
                task,
                t + i * 0.001,
                f"{i:>9} /data/in/{i % 97}/file-{i:07d}.csv: 128 rows copied",
            )
            for i in range(1, lines + 1)
        ),
    )
    con.execute("UPDATE jobs SET log_lines = ? WHERE id = ?", (lines, job))
    con.execute("COMMIT")
    con.close()


def commands_store(keep: Path, n: int, lines: int) -> tuple[Path, dict[str, Any]]:
    """The store of `n` finished jobs and the log job's `lines`, seeded into `keep` unless
    a complete one is there (its marker, `.done`, says what its seeding took)."""
    from scale_dashboard import seed

    db = keep / f"jobs-{n}.db"
    done = Path(f"{db}.done")
    marker = json.loads(done.read_text()) if done.exists() else {}
    if not marker:
        for path in (db, Path(f"{db}-wal"), Path(f"{db}-shm")):
            path.unlink(missing_ok=True)
        t0 = time.perf_counter()
        index_s = seed(db, n)
        marker = {"jobs": n, "seed_s": time.perf_counter() - t0, "index_s": index_s}
    if "bytes" not in marker:  # the jobs' store, before the log job's lines
        marker["bytes"] = store_bytes(db)
        done.write_text(json.dumps(marker))
    if marker.get("lines") != lines:  # a store seeded without the log job's lines
        assert "lines" not in marker, f"{db} holds another log job: remove it and {done}"
        t0 = time.perf_counter()
        seed_log(db, lines)
        marker |= {"lines": lines, "log_s": time.perf_counter() - t0}
        done.write_text(json.dumps(marker))
    return db, marker


def store_bytes(db: Path) -> int:
    return sum(path.stat().st_size for path in (db, Path(f"{db}-wal")) if path.exists())


def piped(argv: list[str], cwd: str, timeout: float | None = None) -> dict[str, float]:
    """One process, its output read from a pipe as fast as it comes: seconds, bytes and
    lines out, and its peak RSS. That is GNU time's (`wait4` of a child it forked): a child
    of this process would count this one's RSS too (Linux keeps the high-water mark of the
    memory it had before `exec`). Still running after `timeout` seconds: stopped (SIGTERM),
    and what it gave by then is its figure ("stopped": 1)."""
    import psutil

    def stop(pid: int) -> None:
        for process in psutil.Process(pid).children():
            process.terminate()

    with tempfile.NamedTemporaryFile("r", prefix="jobdash-scale-rss-") as rss:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            ["/usr/bin/time", "-f", "%M", "-o", rss.name, *argv],
            cwd=cwd,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        timer = threading.Timer(timeout or 0, stop, (proc.pid,))
        if timeout:
            timer.start()
        assert proc.stdout is not None
        size = lines = 0
        while chunk := os.read(proc.stdout.fileno(), 1 << 20):
            size += len(chunk)
            lines += chunk.count(b"\n")
        proc.stdout.close()
        secs = time.perf_counter() - t0
        stopped = timeout is not None and not timer.is_alive()
        timer.cancel()
        if proc.wait() != 0 and not stopped:
            raise SystemExit(f"{' '.join(argv)}: exit {proc.returncode}")
        kb = int(rss.read().split()[-1])
    return {"s": secs, "mb": size / 1e6, "lines": lines, "rss_mb": kb / 1024} | {
        "stopped": int(stopped)
    }


def load() -> float:
    return float(Path("/proc/loadavg").read_text().split()[0])


def part_commands(
    db: Path, n: int, lines: int, timeout: float | None = None
) -> dict[str, dict[str, float]]:
    """Each command once (`--tail 100` five times), in a folder of its own: `-m jobdash`
    imports the interpreter's jobdash, and no ./jobdash.toml is picked up; one still
    running after `timeout` seconds is stopped there."""
    jobdash = [sys.executable, "-m", "jobdash", "--db", str(db)]
    job = str(LOG_JOB)
    sql = f"SELECT text FROM logs WHERE job_id = {LOG_JOB} ORDER BY seq"
    plan = {
        "export --format csv": [*jobdash, "export", "--format", "csv"],
        "export --format json": [*jobdash, "export", "--format", "json"],
        "jobs --all --json": [*jobdash, "jobs", "--all", "--json"],
        f"logs {job}": [*jobdash, "logs", job],
        "sqlite3, the same lines": ["sqlite3", "-readonly", str(db), sql],
    }
    found: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory(prefix="jobdash-scale-cli-") as cwd:
        for name, argv in plan.items():
            found[name] = {"load": load()} | piped(argv, cwd, timeout)
        tails = [piped([*jobdash, "logs", job, "--tail", "100"], cwd) for _ in range(5)]
    lo, hi = min(t["s"] for t in tails), max(t["s"] for t in tails)
    middle = sorted(tails, key=lambda t: t["s"])[len(tails) // 2]
    found["logs --tail 100"] = middle | {"lo": lo, "hi": hi}
    return found


def rate(name: str, n: int, x: dict[str, float]) -> float:
    """Jobs a second: as many as CSV lines came (less the header), else the whole history
    (JSON: a job spans several lines), unknown for a command stopped at `--timeout`."""
    if name.endswith("csv"):
        return (x["lines"] - 1) / x["s"]
    return float("nan") if x["stopped"] else n / x["s"]


def commands_table(n: int, lines: int, seeded: dict[str, Any], r: dict[str, Any]) -> None:
    print(
        f"\n7. the command line over {n:,} finished jobs and a log of {lines:,} lines: "
        f"{seeded['bytes'] / 1e6:,.0f} MB before the log ({seeded['bytes'] / n:,.0f} bytes "
        f"a job, text index included), {seeded['seed_s']:.0f} s to seed (text index "
        f"{seeded['index_s']:.0f} s), the log {seeded['log_s']:.0f} s"
    )
    print(f"   {'command':<26} {'wall':>9} {'rate':>16} {'peak RSS':>9} {'out':>9}   load")
    for name in ("export --format csv", "export --format json", "jobs --all --json"):
        x = r[name]
        print(
            f"   {name:<26} {x['s']:>7.2f} s {rate(name, n, x):>9,.0f} rows/s {x['rss_mb']:>6.0f} MB "
            f"{x['mb']:>6,.0f} MB   {x['load']:.1f}{STOPPED * x['stopped']}"
        )
    for name in (f"logs {LOG_JOB}", "sqlite3, the same lines"):
        x = r[name]
        print(
            f"   {name:<26} {x['s']:>7.2f} s {x['lines'] / x['s']:>8,.0f} lines/s "
            f"{x['rss_mb']:>6.0f} MB {x['mb']:>6,.0f} MB   {x['load']:.1f}{STOPPED * x['stopped']}"
        )
    tail = r["logs --tail 100"]
    print(
        f"   {'logs --tail 100':<26} {tail['s'] * 1000:>6.0f} ms   (median of 5, "
        f"{tail['lo'] * 1000:.0f}–{tail['hi'] * 1000:.0f} ms) {tail['rss_mb']:>6.0f} MB"
    )
    csv, js, logs = r["export --format csv"], r["export --format json"], r[f"logs {LOG_JOB}"]
    ratio = logs["s"] / r["sqlite3, the same lines"]["s"]
    checks = [
        ("export peak RSS < 100 MB", max(csv["rss_mb"], js["rss_mb"]) < 100),
        ("export ≥ 100,000 rows/s", min(rate("csv", n, csv), rate("json", n, js)) >= 100_000),
        (f"logs of {lines:,} lines: peak RSS < 100 MB", logs["rss_mb"] < 100),
        (f"logs within 3× of sqlite3: {'>' * logs['stopped']}{ratio:.1f}×", ratio <= 3),
        (f"logs read every line: {logs['lines']:,.0f}", logs["lines"] == lines),
        (f"export csv rows: {csv['lines'] - 1:,.0f}", csv["lines"] - 1 >= n),
    ]
    print("   targets:")
    for what, ok in checks:
        print(f"   {what} — {'met' if ok else 'MISSED'}", flush=True)


def commands(
    sizes: list[int], lines: int, keep: str | None, out: str | None, timeout: float | None
) -> None:
    results: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="jobdash-scale-stores-") as tmp:
        for n in sizes:
            db, seeded = commands_store(Path(keep or tmp), n, lines)
            results[n] = part_commands(db, n, lines, timeout) | {"seeded": seeded}
            commands_table(n, lines, seeded, results[n])
            if out:
                Path(out).write_text(json.dumps(results, indent=1))
