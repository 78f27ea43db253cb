"""What unread logs cost, at size (a script, not collected by pytest):

    python tests/bench/unread.py [--runs 5]

A SQLite store of 100,000 finished jobs (as tests/bench/tui.py makes them), each with
lines to read counted (as the log writer counts them), 1,000 of them read by the user.
Then, `--runs` times each:

(1) the Service's first read of them all (`jobs(active=False)`, what the dashboard loads),
    and of it the unread marks' part (`with_unread`: the user's marks read once, each job
    given its unread counts), in-process;
(2) a change-feed batch of 1,000 changed jobs through `Service.watch`'s step
    (`note_read`, `with_unread`): what each refresh adds;
(3) the log writer's counting: `info_rows` of a batch of 1,000 lines (of 50 jobs), the
    per-batch work the counts added to the writer's statement;
(4) a mark written (`Service.mark_read`) at the end of a job of 100,000 lines, and 100
    lines before its end (lines after the mark read and classified in the transaction).

Prints medians and ranges, in milliseconds.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from jobdash.core.model import Job  # noqa: E402
from jobdash.core.service import Changes, Service  # noqa: E402
from jobdash.core.store.sql.flush import info_rows  # noqa: E402
from tests.bench.tui import insert_finished_jobs, make_store  # noqa: E402

JOBS = 100_000
READ = 1_000  # jobs the user has read
LONG_LOG = 100_000


def prepare(db: Path) -> None:
    make_store(db)
    insert_finished_jobs(db, JOBS)
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "UPDATE jobs SET log_lines = id % 500 + 1, log_warnings = id % 3, "
            "log_errors = id % 7 = 0"
        )
        con.executemany(
            "INSERT INTO read_marks VALUES ('root', ?, 1, ?, 0, 0, 0)",
            [(i, i % 500) for i in range(1, JOBS + 1, JOBS // READ)],
        )
        con.executemany(
            "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (1, NULL, 0, ?, ?)",
            [("stderr" if n % 10 == 0 else "stdout", f"line {n}") for n in range(LONG_LOG)],
        )
    con.close()


async def timed(fn: Callable[[], Awaitable[object]], runs: int) -> list[float]:
    out = []
    for _ in range(runs):
        start = time.perf_counter()
        await fn()
        out.append((time.perf_counter() - start) * 1000)
    return out


def say(what: str, ms: list[float]) -> None:
    print(f"{what}: median {statistics.median(ms):.1f} ms ({min(ms):.1f}–{max(ms):.1f})")


async def main(runs: int) -> None:
    with tempfile.TemporaryDirectory(prefix="jobdash-bench-") as tmp:
        db = Path(tmp) / "bench.db"
        await asyncio.to_thread(prepare, db)  # make_store runs its own event loop
        svc = await Service.open(db=str(db), user="root")
        try:
            jobs: list[Job] = []

            async def load() -> None:
                svc._marks = None  # read the marks again, as a new dashboard does
                jobs[:] = await svc.jobs(active=False)

            say(f"(1) jobs(active=False), {JOBS:,} jobs", await timed(load, runs))

            async def annotate() -> None:
                svc._marks = None
                await svc.with_unread(jobs)

            say(
                "(1) … of it with_unread (marks read, each job's counts)",
                await timed(annotate, runs),
            )
            batch = jobs[:1000]

            async def refresh() -> None:
                svc.note_read(Changes(0, batch))
                await svc.with_unread(batch)

            say("(2) a feed batch of 1,000 jobs", await timed(refresh, runs * 20))
            lines = [
                (n % 50, None, 0.0, "stderr" if n % 9 else "stdout", f"l {n}", 1)
                for n in range(1000)
            ]

            async def count() -> None:
                info_rows(lines, 0.0, 1)

            say("(3) info_rows of 1,000 lines", await timed(count, runs * 20))
            last = (await svc.log_tail(1, 1))[0].seq
            seqs = iter(range(last - 100 - runs, last))

            async def mark_near_end() -> None:
                await svc.mark_read(1, next(seqs))

            say("(4) mark_read 100 lines before the end", await timed(mark_near_end, runs))
            say("(4) mark_read at the end", await timed(lambda: svc.mark_read(1, last), 1))
        finally:
            await svc.close()


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--runs", type=int, default=5)
    asyncio.run(main(p.parse_args().runs))
