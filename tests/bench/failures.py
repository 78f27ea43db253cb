"""Failures grouped by cause, at size (a script, not collected by pytest):

    python tests/bench/failures.py [--runs 5]

A SQLite store of 100,000 finished jobs (as tests/bench/tui.py makes them) and 200,000
failed task attempts, written with SQL: two attempts per job, of 24 causes whose error
lines vary as real ones do (rows, dates, paths, hosts, ids), spread over the jobs' 35 days,
the groups from a few dozen attempts to tens of thousands. Then, `--runs` times each,
one after the other:

(1) `jobdash failures` to a pipe (the whole table) and `jobdash failures --json`: wall
    time of the process, start-up and store opening included, and its CPU;
(2) the dashboard in a 120×40 pty: from pressing `5` to the frame that shows the Failures
    tab's first group, pressed at the first frame (the 100,000 jobs still loading, on the
    same reader thread) and once they are loaded; with the dashboard's CPU meanwhile;
(3) the read alone in-process (`Service.failures`, the groups and their trends).

On a busy host wall times stretch with the load; the CPU figures say what it costs.

Targets: (1) and (2) under 1 s. Prints medians and ranges.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import resource
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import psutil  # noqa: E402

from jobdash.core.fingerprint import fingerprint, normalise  # noqa: E402
from tests.bench.tui import (  # noqa: E402
    PY,
    completed_title,
    dashboard,
    insert_finished_jobs,
    make_store,
)

JOBS = 100_000
ATTEMPTS = 200_000

# Error lines as tools write them; {…} vary between occurrences of one cause.
CAUSES = [
    "exit 3: row {n}: invalid date '{d}/02/2026' in /srv/in/b-{n3}.csv",
    "ValueError: row {n}: invalid date '{d}/02/2026' in /srv/in/b-{n3}.csv",
    "exit 23: rsync error: some files/attrs were not transferred (see previous errors) "
    "(code 23) at main.c({n4}) [sender=3.2.7]",
    "exit 24: rsync warning: some files vanished before they could be transferred (code 24) "
    "at main.c({n4}) [sender=3.2.7]",
    'rsync: [sender] link_stat "/srv/a/report {n}.pdf" failed: No such file',
    "exit 2: tar: /srv/backup/2026-11-{d}/home.tar: Cannot open: Permission denied",
    "exit 2: tar: /srv/backup/2026-11-{d}/etc.tar: Wrote only {n} of 10240 bytes",
    'exit 2: psql: error: connection to server at "db{d}.internal" (10.0.4.{n3}), port 5432 '
    "failed: Connection refused",
    'exit 3: ERROR:  duplicate key value violates unique constraint "invoices_pkey"',
    "exit 6: curl: (6) Could not resolve host: https://api{d}.example.com/v2/export",
    "exit 22: curl: (22) The requested URL returned error: 503",
    "exit 22: curl: (22) The requested URL returned error: 404",
    "exit 1: cp: cannot stat '/srv/in/{n}.csv': No such file or directory",
    "exit 1: cp: cannot create regular file '/mnt/x/{n}': Read-only file system",
    "timed out after {n}s",
    "killed by SIGKILL",
    "agent lost",
    "KeyError: 'customer_{n}'",
    "ConnectionRefusedError: [Errno 111] Connection refused",
    "ConnectionError: [Errno -2] Name or service not known",
    "RuntimeError: <Session object at 0x7f{n4}abcd> closed at 2026-11-{d}T14:03:22Z",
    "exit 1: cp: error writing '/mnt/x/{n}.csv': No space left on device",
    "PermissionError: [Errno 13] Permission denied: '/srv/out/{n}.json'",
    "exit 137",
]
TYPES = ["import-files", "export", "archive", "backup", "report"]
USERS = ["alice", "bob", "root", "scheduler"]


def insert_failures(db: Path, jobs: int, attempts: int) -> int:
    """`attempts` failed attempts on the jobs 1..`jobs` (their times within each job's
    minute); causes weighted so that groups range from dozens to tens of thousands."""
    rnd = random.Random(12)
    weights = [1 / (k + 1) ** 1.3 for k in range(len(CAUSES))]
    con = sqlite3.connect(db)
    created = dict(con.execute("SELECT id, created FROM jobs"))
    rows = []
    per_job = attempts // jobs
    for job_id in range(1, jobs + 1):
        causes: set[str] = set()
        for a in range(per_job):
            cause = rnd.choices(CAUSES, weights)[0]
            error = cause.format(
                n=rnd.randint(1, 99999),
                n3=rnd.randint(1, 999),
                n4=rnd.randint(1000, 9999),
                d=rnd.randint(10, 28),
            )
            fp = fingerprint(error)
            rows.append(
                (
                    job_id,
                    job_id * 10 + a,  # each attempt on a task of its own: the most tasks
                    1,
                    created[job_id] + 5 + a * 20,
                    fp,
                    normalise(error),
                    error,
                    TYPES[job_id % len(TYPES)],
                    USERS[job_id % len(USERS)],
                    1,
                    int(fp not in causes),
                )
            )
            causes.add(fp)
    with con:
        con.executemany(
            "INSERT INTO failures (job_id, task_id, attempt, ts, fingerprint, message, error, "
            "type, user, new_task, new_job) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            rows,
        )
    groups = con.execute("SELECT count(DISTINCT fingerprint) FROM failures").fetchone()[0]
    con.close()
    return int(groups)


def cli(db: Path, config: Path, *args: str) -> tuple[float, float]:
    """Wall and CPU seconds (user + system) of one `jobdash failures` process."""
    argv = [PY, "-m", "jobdash", "failures", *args, "--db", str(db), "--config", str(config)]
    psutil_children_cpu()  # what other children (the dashboards) used is not counted
    t = time.perf_counter()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    out, err = proc.communicate()
    took = time.perf_counter() - t
    assert proc.returncode == 0 and out.count(b"\n") > 10, err
    usage = psutil_children_cpu()
    return took, usage


_cpu_before = [0.0]


def psutil_children_cpu() -> float:
    """CPU of the children waited for since the last call."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    total = r.ru_utime + r.ru_stime
    used, _cpu_before[0] = total - _cpu_before[0], total
    return used


def view(db: Path, config: Path, tmp: Path, first_message: str, early: bool) -> tuple[float, float]:
    """Seconds from `5` to the groups drawn, and the dashboard's CPU seconds meanwhile:
    `early`, pressed at the first frame (the history still loading, on the same reader);
    else once all the jobs are loaded."""
    app = dashboard(db, config, tmp)
    try:
        app.wait_for("Completed", app.start, timeout=120)
        if not early:
            app.wait_for(completed_title(JOBS), app.start, timeout=120)
            app.quiet(1.0)
        proc = psutil.Process(app.proc.pid)
        cpu = sum(proc.cpu_times()[:2])
        sent = app.send("5")
        drawn = app.wait_for(first_message, sent, timeout=120)
        return drawn - sent, sum(proc.cpu_times()[:2]) - cpu
    finally:
        app.stop()


async def read(db: Path, config: Path) -> tuple[tuple[float, float], str]:
    """Wall and CPU seconds of the groups' read, and the first group's message."""
    from jobdash.core.service import Service

    svc = await Service.open(db=str(db), config=str(config))
    try:
        t, c = time.perf_counter(), time.process_time()
        groups = await svc.failures(buckets=12)
        return (time.perf_counter() - t, time.process_time() - c), groups[0].message
    finally:
        await svc.close()


def spread(xs: list[float], unit: float = 1000) -> str:
    return (
        f"{statistics.median(xs) * unit:.0f} ms (range {min(xs) * unit:.0f}–"
        f"{max(xs) * unit:.0f}, {len(xs)} runs)"
    )


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--runs", type=int, default=5)
    p.add_argument("--store", type=Path, help="seed this store once, then reuse it")
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        db, config = a.store or tmp / "f.db", tmp / "f.toml"
        user = os.environ.get("USER", "root")
        config.write_text(f'[jobdash]\nadmins = ["root", "{user}"]\n')
        if not db.exists():
            make_store(db)
            t = time.perf_counter()
            insert_finished_jobs(db, JOBS)
            groups = insert_failures(db, JOBS, ATTEMPTS)
            print(
                f"seeded {JOBS:,} finished jobs, {ATTEMPTS:,} failed attempts of {groups} "
                f"groups in {time.perf_counter() - t:.1f} s"
            )
        print(f"store {db.stat().st_size / 2**20:.0f} MB")
        table, as_json, early, late, reads = [], [], [], [], []
        first = ""
        for _ in range(a.runs):
            took, first = asyncio.run(read(db, config))
            reads.append(took)
            table.append(cli(db, config))
            as_json.append(cli(db, config, "--json"))
            early.append(view(db, config, tmp, first[:30], early=True))
            late.append(view(db, config, tmp, first[:30], early=False))
        for label, xs in (
            ("(1) jobdash failures, piped", table),
            ("(1) jobdash failures --json", as_json),
            ("(2) dashboard, 5 pressed at the first frame → groups drawn", early),
            ("(2) dashboard, 5 pressed once the history is loaded → groups drawn", late),
        ):
            print(f"{label}: wall {spread([w for w, _ in xs])}, CPU {spread([c for _, c in xs])}")
        print(f"(3) Service.failures, in-process: {spread([w for w, _ in reads])}, "
              f"CPU {spread([c for _, c in reads])}")  # fmt: skip


if __name__ == "__main__":
    main()
