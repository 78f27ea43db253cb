"""Scale benchmark, engine part (a script, not collected by pytest): `python tests/bench/scale.py`.

Many small jobs: independent one-task jobs (a no-op Python job function each, the unit
huey, procrastinate and Sidekiq count), end to end (submitted → every one finished), each
part on its own store and in its own process:

1. through `Service.submit_many` (bulk), on a fresh store and beside a history of finished
   jobs (`--history`, default 1,000,000; several sizes: `--history 10000,100000,1000000`);
2. through concurrent single `Service.submit` calls (group commit);
3. huey (SqliteHuey, thread workers) on the same machine in the same run, if importable
   (`pip install huey`; else skipped with the reason);
4. the run rate of a backlog of queued jobs (2,500 and 40,000 queued before the engine
   starts);
5. the change feed and the Agents pane's query beside the history (ms per call);
6. with `--dashboard`, the dashboard over histories of `--sizes` finished jobs (first frame,
   the jump to the oldest job, filter keystrokes, RSS and CPU with 20 jobs running): see
   scale_dashboard.py;
7. with `--commands`, the command line over histories of `--sizes` finished jobs and one
   job's log of `--lines` lines (`python -m jobdash --db STORE …`, a process each, its
   output read from a pipe): `export` as CSV and as JSON and `jobs --all --json` (seconds,
   rows a second, the child's peak RSS), `logs JOB --tail 100` (ms, median of 5), `logs
   JOB` (seconds, peak RSS) beside the `sqlite3` program printing the same lines, and the
   store's bytes per job. Its stores are scale_dashboard.py's (`seed`), job 1's log lines
   and task added with SQL too; `--keep DIR` keeps them for the next run (10,000,000 jobs
   take ~20 minutes and ~5 GB).

The history is seeded with SQL written directly (one finished job with one task and one
log line each, distinct revisions), not through the API: a million submissions would take
minutes and measure nothing of interest here. `--part floor --n N [--drop INDEXES]` prints,
alone, the SQL floor of a one-task job in this schema (`part_floor`). Options: `--quick` (smaller sizes), `--json
FILE` (every round's figures, to compare runs of two checkouts).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jobdash.core.model import JobType  # noqa: E402
from jobdash.core.runners import JobContext  # noqa: E402
from jobdash.core.service import Service  # noqa: E402
from jobdash.core.store.sql.counts import ACTIVE_ONLY as ACTIVE  # noqa: E402
from jobdash.core.store.sqlite import SqliteStore  # noqa: E402

JOBS = 20_000
SLOTS = 64
CONCURRENT = 200  # single submit calls in flight at once
BACKLOGS = (2_500, 40_000)
HISTORY = 1_000_000


async def noop_job(ctx: JobContext) -> None:
    """A job that does nothing: what remains is the engine's own cost per job."""


NOOP = JobType(name="noop", function="tests.bench.scale:noop_job", parallel=1)


async def open_service(db: Path) -> Service:
    svc = await Service.open(db=str(db), user="bench")
    svc.local_types["noop"] = svc.types["noop"] = NOOP
    return svc


async def active(svc: Service) -> bool:
    """Whether a job is unfinished: one row of the partial index, whatever the backlog (a
    count, every 20 ms, would walk the whole backlog: the bench's own cost, not the engine's)."""
    rows = await svc.store.db.reader.execute_fetchall(  # type: ignore[attr-defined]
        f"SELECT 1 FROM jobs WHERE {ACTIVE} LIMIT 1"
    )
    return bool(list(rows))


async def until_done(svc: Service) -> None:
    while await active(svc):
        await asyncio.sleep(0.02)


# --------------------------------------------------------------------------- parts


async def part_many(db: Path, n: int) -> dict[str, Any]:
    svc = await open_service(db)
    try:
        await svc.start_engine(slots=SLOTS, name="bench")
        t0, cpu = time.perf_counter(), time.process_time()
        ids = await svc.submit_many("noop", [{} for _ in range(n)])
        submitted = time.perf_counter() - t0
        await until_done(svc)
        secs, cpu = time.perf_counter() - t0, time.process_time() - cpu
    finally:
        await svc.close()
    assert len(ids) == n
    return {"jobs": n, "seconds": secs, "rate": n / secs, "submit_rate": n / submitted} | {
        "cpu_us": cpu / n * 1e6
    }


async def part_single(db: Path, n: int) -> dict[str, Any]:
    svc = await open_service(db)
    try:
        await svc.start_engine(slots=SLOTS, name="bench")
        gate = asyncio.Semaphore(CONCURRENT)

        async def one() -> None:
            async with gate:
                await svc.submit("noop", {})

        t0, cpu = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one() for _ in range(n)))
        submitted = time.perf_counter() - t0
        await until_done(svc)
        secs, cpu = time.perf_counter() - t0, time.process_time() - cpu
    finally:
        await svc.close()
    return {"jobs": n, "seconds": secs, "rate": n / secs, "submit_rate": n / submitted} | {
        "cpu_us": cpu / n * 1e6
    }


async def part_backlog(db: Path, n: int) -> dict[str, Any]:
    svc = await open_service(db)
    try:
        await svc.submit_many("noop", [{} for _ in range(n)])  # queued: no engine yet
        t0 = time.perf_counter()
        await svc.start_engine(slots=SLOTS, name="bench")
        await until_done(svc)
        secs = time.perf_counter() - t0
    finally:
        await svc.close()
    return {"jobs": n, "seconds": secs, "rate": n / secs}


async def part_feed(db: Path, n: int) -> dict[str, Any]:
    """ms per `changes_since` after one change, and per running-tasks read (Agents pane)."""
    svc = await open_service(db)
    store = svc.store
    try:
        rounds = 50
        feed = 0.0
        for _ in range(rounds):
            rev = await store.rev()
            await store.audit("bench", "touch", "x")  # a change that stamps no job
            t0 = time.perf_counter()
            await store.changes_since(rev)
            feed += time.perf_counter() - t0
        t0 = time.perf_counter()
        for _ in range(rounds):
            await store.running_tasks()
        agents = time.perf_counter() - t0
    finally:
        await svc.close()
    return {"feed_ms": feed / rounds * 1000, "agents_ms": agents / rounds * 1000}


def part_huey(tmp: Path, n: int) -> dict[str, Any]:
    from huey import SqliteHuey  # type: ignore[import-not-found,import-untyped,unused-ignore]

    huey = SqliteHuey(filename=str(tmp / "huey.db"))
    done = threading.Event()
    count = [0]
    lock = threading.Lock()

    @huey.task()  # type: ignore[misc,unused-ignore]
    def noop() -> None:
        with lock:
            count[0] += 1
            if count[0] == n:
                done.set()

    consumer = huey.create_consumer(workers=4, worker_type="thread", periodic=False)
    t0 = time.perf_counter()
    for _ in range(n):
        noop()
    enqueued = time.perf_counter() - t0
    secs = 0.0

    def stop_when_done() -> None:
        nonlocal secs
        done.wait()
        secs = time.perf_counter() - t0
        os.kill(os.getpid(), signal.SIGTERM)  # the consumer's own way to stop, in its thread

    threading.Thread(target=stop_when_done, daemon=True).start()
    consumer.run()  # in the main thread: it installs signal handlers
    return {"jobs": n, "seconds": secs, "rate": n / secs, "submit_rate": n / enqueued}


def part_floor(db: Path, n: int, drop: str = "") -> dict[str, Any]:
    """The SQL floor of one-task jobs in this schema: what the fewest statements a job needs
    cost, in the engine's batches, with plain sqlite3 and no Python of the engine's (rows
    written as running; claims and outcomes by 64, each with its fenced read; the job's
    counters and end in one statement). CPU µs per job, by step. `drop`: indexes to drop
    first (comma-separated), to see what they cost."""
    asyncio.run(_create(db))
    con = sqlite3.connect(db, isolation_level=None)
    for index in filter(None, drop.split(",")):
        con.execute(f"DROP INDEX {index}")
    con.execute("PRAGMA synchronous = NORMAL")
    con.execute("PRAGMA foreign_keys = ON")
    spent: dict[str, float] = {}
    now = time.time()

    def txn(step: str, *statements: tuple[str, Any]) -> None:  # args: a list is executemany's
        cpu = time.process_time()
        con.execute("BEGIN IMMEDIATE")
        con.execute("UPDATE counter SET rev = rev + 1 RETURNING rev").fetchall()
        for sql, args in statements:
            (con.executemany if isinstance(args, list) else con.execute)(sql, args).fetchall()
        con.execute("COMMIT")
        spent[step] = spent.get(step, 0.0) + time.process_time() - cpu

    txn(
        "submit (job, task, audit row)",
        (
            'INSERT INTO jobs (id, type, params, "user", trigger, status, admitted, created, '
            "updated, pending, rev, type_hash) VALUES (?, 'noop', '{}', 'bench', 'manual', "
            "'running', 1, ?, ?, 1, 1, 'h')",
            [(i, now, now) for i in range(1, n + 1)],
        ),
        (
            "INSERT INTO tasks (job_id, seq, key, name, kind, spec, item, status) "
            "VALUES (?, 1, 'main', 'main', 'job', 'null', 'null', 'pending')",
            [(i,) for i in range(1, n + 1)],
        ),
        (
            'INSERT INTO audit (ts, "user", action, target, detail, actor, host) '
            "VALUES (?, 'bench', 'run', ?, 'noop', 'bench', 'h')",
            [(now, f"job:{i}") for i in range(1, n + 1)],
        ),
    )
    for start in range(1, n + 1, SLOTS):
        ids = list(range(start, min(start + SLOTS, n + 1)))
        among = f"IN ({', '.join('?' * len(ids))})"
        txn(
            "claim",
            (
                "SELECT id FROM jobs INDEXED BY jobs_claimable WHERE status IN ('finalizing', "
                f"'running') AND running < parallel ORDER BY running, id LIMIT {SLOTS}",
                (),
            ),
            (
                "UPDATE tasks SET status = 'running', attempt = attempt + 1, owner = 'o', "
                f"agent = 'a', lease_until = ?, started = ? WHERE id {among} RETURNING id",
                (now, now, *ids),
            ),
            (
                "UPDATE jobs SET pending = pending - 1, running = running + 1, "
                f"started = coalesce(started, ?), updated = ?, rev = 2 WHERE id {among}",
                (now, now, *ids),
            ),
        )
        txn(
            "outcome and end",
            (
                "SELECT t.id, t.attempt, t.owner, t.status, j.status, j.pending, j.running "
                f"FROM tasks t JOIN jobs j ON j.id = t.job_id WHERE t.id {among}",
                tuple(ids),
            ),
            (
                "UPDATE tasks SET status = 'succeeded', finished = ?, exit_code = 0, "
                f"owner = NULL, lease_until = NULL WHERE id {among}",
                (now, *ids),
            ),
            (
                "UPDATE jobs SET running = running - 1, succeeded = succeeded + 1, "
                "status = 'succeeded', finished = ?, updated = ?, info = '1 task done', "
                f"progress = 100, rev = 3 WHERE id {among}",
                (now, now, *ids),
            ),
        )
    con.close()
    return {k: v / n * 1e6 for k, v in spent.items()} | {"cpu_us": sum(spent.values()) / n * 1e6}


# --------------------------------------------------------------------------- the history


def seed_history(db: Path, n: int) -> None:
    """`n` finished jobs, one task and one log line each, written with SQL directly (see
    the module), with distinct revisions as a real history has."""
    asyncio.run(_create(db))
    con = sqlite3.connect(db, isolation_level=None)
    con.execute("BEGIN")
    t = time.time() - 86_400
    step = 10_000
    for base in range(0, n, step):
        ids = range(base + 1, min(base + step, n) + 1)
        con.executemany(
            "INSERT INTO jobs (id, type, params, user, trigger, status, created, updated, "
            "started, finished, succeeded, progress, rev, type_hash) VALUES (?, 'noop', '{}', "
            "'bench', 'manual', 'succeeded', ?, ?, ?, ?, 1, 1, ?, 'seed')",
            ((i, t + i * 0.01, t + i * 0.01, t + i * 0.01, t + i * 0.01 + 0.005, i) for i in ids),
        )
        con.executemany(
            "INSERT INTO tasks (id, job_id, seq, key, name, kind, spec, status, attempt, "
            "started, finished) VALUES (?, ?, 1, 'main', 'main', 'job', 'null', 'succeeded', "
            "1, ?, ?)",
            ((i, i, t + i * 0.01, t + i * 0.01 + 0.005) for i in ids),
        )
        con.executemany(
            "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
            "VALUES (?, ?, ?, 'stdout', 'done', 1)",
            ((i, i, t + i * 0.01) for i in ids),
        )
    con.execute("UPDATE counter SET rev = ?", (n,))
    con.execute("COMMIT")
    con.close()


async def _create(db: Path) -> None:
    store = await SqliteStore.open(db)
    await store.close()


# --------------------------------------------------------------------------- running


def run_part(name: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="jobdash-scale-") as tmp:
        os.chdir(tmp)  # no ./jobdash.toml is picked up
        db = Path(tmp) / "bench.db"
        if args.store:
            shutil.copy(args.store, db)
        if name == "huey":
            return part_huey(Path(tmp), args.n)
        if name == "floor":
            return part_floor(db, args.n, args.drop)
        part = {
            "many": part_many,
            "single": part_single,
            "backlog": part_backlog,
            "feed": part_feed,
        }[name]
        return asyncio.run(part(db, args.n))


def child(part: str, n: int, store: Path | None = None) -> dict[str, Any]:
    argv = [sys.executable, __file__, "--part", part, "--n", str(n)]
    if store is not None:
        argv += ["--store", str(store)]
    done = subprocess.run(argv, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr)
        raise SystemExit(f"part {part} failed (exit {done.returncode})")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def median(rounds: list[dict[str, Any]], key: str = "rate") -> dict[str, Any]:
    return sorted(rounds, key=lambda r: r[key])[len(rounds) // 2]


def rates(rounds: list[dict[str, Any]], key: str = "rate") -> str:
    m = median(rounds, key)[key]
    lo, hi = min(r[key] for r in rounds), max(r[key] for r in rounds)
    return f"{m:>8,.0f}/s  ({lo:,.0f}–{hi:,.0f})"


def cpus(rounds: list[dict[str, Any]]) -> str:
    """The engine process's CPU (user + system) per job: median (range)."""
    m = median(rounds, "cpu_us")["cpu_us"]
    lo, hi = min(r["cpu_us"] for r in rounds), max(r["cpu_us"] for r in rounds)
    return f"   CPU {m:,.0f} µs/job ({lo:,.0f}–{hi:,.0f})"


def feed_table(seeded: Path, history: int) -> None:
    print("\n2. per-change reads beside the history (ms per call, 50 calls)")
    for label, store in (("fresh", None), (f"{history:,} jobs", seeded)):
        r = child("feed", 0, store)
        print(
            f"   {label:<14} changes_since {r['feed_ms']:6.2f} ms   "
            f"running tasks (Agents pane) {r['agents_ms']:6.2f} ms",
            flush=True,
        )


def huey_missing() -> str | None:
    try:
        import huey  # noqa: F401  # type: ignore[import-not-found,import-untyped,unused-ignore]
    except ImportError as e:
        return f"huey is not importable ({e}): `pip install huey` in this venv"
    return None


def sizes(text: str) -> list[int]:
    """`--history 10000,100000,1000000`: the history sizes, smallest first."""
    return sorted(int(x) for x in text.split(","))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--part", help=argparse.SUPPRESS)
    p.add_argument("--n", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--store", help=argparse.SUPPRESS)
    p.add_argument("--drop", default="", help=argparse.SUPPRESS)  # --part floor's
    p.add_argument("--quick", action="store_true", help="smaller sizes (a smoke run)")
    p.add_argument(
        "--history",
        type=sizes,
        default=[HISTORY],
        help="finished jobs of history, one size or several (10000,100000,1000000)",
    )
    p.add_argument("--rounds", type=int, default=3, help="runs of each figure (medians)")
    p.add_argument("--feed-only", action="store_true", help="only part 2 (the reads)")
    p.add_argument("--json", help="also write every round's figures to this file")
    p.add_argument(
        "--seeded",
        help="a folder keeping the seeded histories (reused when there: two checkouts, one seeding)",
    )
    p.add_argument("--no-huey", action="store_true", help="leave huey out")
    p.add_argument("--jobs", type=int, default=JOBS, help="one-task jobs per part")
    p.add_argument("--dashboard", action="store_true", help="only part 3 (the dashboard)")
    p.add_argument("--commands", action="store_true", help="only part 7 (the command line)")
    p.add_argument(
        "--sizes",
        default="100000,1000000",
        help="the dashboard's or the command line's histories, comma-separated (10000000 "
        "takes an hour to seed)",
    )
    p.add_argument(
        "--lines", type=int, default=1_000_000, help="the command line's log job's lines"
    )
    p.add_argument("--keep", help="the command line's stores: kept there, reused when there")
    p.add_argument(
        "--timeout",
        type=float,
        help="the command line's: a command's seconds at most (rates so far)",
    )
    args = p.parse_args()
    if args.part:
        print(json.dumps(run_part(args.part, args)))
        return
    if args.dashboard or args.commands:
        print(
            f"jobdash scale bench, {'dashboard' if args.dashboard else 'command line'} — "
            f"{date.today()} — {platform.node()}: {os.cpu_count()} cores, Python "
            f"{platform.python_version()}, SQLite {sqlite3.sqlite_version}",
            flush=True,
        )
    if args.dashboard:
        from scale_dashboard import run as run_dashboard

        run_dashboard([int(size) for size in args.sizes.split(",")])
        return
    if args.commands:
        from scale_commands import commands

        commands(sizes(args.sizes), args.lines, args.keep, args.json, args.timeout)
        return

    q = 10 if args.quick else 1
    n = args.jobs // q
    histories = [h // q for h in args.history]
    print(
        f"jobdash scale bench — {date.today()} — {platform.node()}: {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, SQLite {sqlite3.sqlite_version}; "
        f"{n:,} one-task jobs, {SLOTS} slots, medians of {args.rounds} (ranges)",
        flush=True,
    )
    with tempfile.TemporaryDirectory(prefix="jobdash-scale-") as tmp:
        seeded: dict[int, Path] = {}
        for history in histories:
            seeded[history] = Path(args.seeded or tmp) / f"history-{history}.db"
            if seeded[history].exists():
                continue
            t0 = time.perf_counter()
            seed_history(seeded[history], history)
            print(
                f"   history: {history:,} finished jobs seeded with SQL in "
                f"{time.perf_counter() - t0:.0f} s",
                flush=True,
            )
        biggest = histories[-1]
        if args.feed_only:
            feed_table(seeded[biggest], biggest)
            return
        why = "--no-huey" if args.no_huey else huey_missing()
        parts: dict[str, list[dict[str, Any]]] = {}
        plan: list[tuple[str, str, int, Path | None]] = [
            ("many", "submit_many, fresh store", n, None),
            *(
                (f"many_history{h}", f"submit_many, {h:,} jobs of history", n, seeded[h])
                for h in histories
            ),
            ("single", f"concurrent submit ({CONCURRENT} in flight)", n, None),
            *((f"backlog{b}", f"{b // q:,} queued, then run", b // q, None) for b in BACKLOGS),
            *([] if why else [("huey", "huey (SqliteHuey, 4 threads)", n, None)]),
        ]
        for _ in range(args.rounds):  # interleaved: a slow moment of the machine hits all
            for key, _label, size, store in plan:
                part = key.split("_history")[0].rstrip("0123456789")
                parts.setdefault(key, []).append(child(part, size, store))
        if args.json:
            Path(args.json).write_text(json.dumps(parts, indent=1))
        print("\n1. independent one-task jobs, end to end (submitted → all finished)")
        for key, label, _size, _store in plan:
            submit = rates(parts[key], "submit_rate") if "submit_rate" in parts[key][0] else ""
            cpu = cpus(parts[key]) if "cpu_us" in parts[key][0] else ""
            print(f"   {label:<44} {rates(parts[key])}   submit {submit}{cpu}", flush=True)
        if why:
            print(f"   huey: skipped — {why}")
        many = median(parts["many"])["rate"]
        single = median(parts["single"])["rate"]
        small, big = (median(parts[f"backlog{b}"])["rate"] for b in BACKLOGS)
        print("\n   targets:")
        print(f"   submit_many ≥ 10,000/s: {many:,.0f} — {'met' if many >= 10_000 else 'MISSED'}")
        print(
            f"   concurrent submit ≥ 3,000/s: {single:,.0f} — {'met' if single >= 3_000 else 'MISSED'}"
        )
        if not why:
            huey = median(parts["huey"])["rate"]
            print(f"   ≥ 5× huey: {many / huey:.1f}× — {'met' if many >= 5 * huey else 'MISSED'}")
        print(
            f"   {BACKLOGS[1] // q:,} queued within 20 % of {BACKLOGS[0] // q:,}: "
            f"{big / small - 1:+.0%} — {'met' if big >= 0.8 * small else 'MISSED'}"
        )
        for h in histories:
            with_history = median(parts[f"many_history{h}"])["rate"]
            print(
                f"   with {h:,} of history within 10 % of fresh: {with_history / many - 1:+.0%} "
                f"— {'met' if with_history >= 0.9 * many else 'MISSED'}"
            )
        feed_table(seeded[biggest], biggest)


if __name__ == "__main__":
    main()
