"""A deterministic store for the dashboard's pilot and snapshot tests.

Jobs are created through the service (so they have real tasks, locks and ids 1..N),
then given fixed times, statuses and counts with plain SQL: tests may touch the store
directly, the dashboard never does.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from jobdash.core.service import Service

# 2026-11-20 14:30:00 UTC, a Friday; the snapshot tests run with TZ=UTC.
NOW = 1_795_185_000.0
CONFIG = """
[jobdash]
admins = ["alice"]
timezone = "UTC"

[types.import-files]
description = "Import CSV files into the archive"
params.source = { required = true, help = "folder to import from" }
params.batch = { default = "500", help = "rows per transaction" }
items = ["a.csv", "b.csv", "c.csv", "d.csv"]
command = ["true", "{source}/{item}"]
locks = ["folder:{source}"]

[types.export-report]
description = "Export the reporting tables"
params.format = { default = "csv", help = "csv or parquet" }
command = ["true", "{format}"]

[types.rebuild-index]
description = "Rebuild the search index (cannot be cancelled)"
command = ["true"]
cancellable = false

[types.flaky]
description = "Fails every time"
command = ["sh", "-c", "echo boom >&2; exit 3"]
"""

# (type, params, user, status, created offset, started, finished, counts, info, trigger)
# counts: pending, running, succeeded, failed, cancelled
Row = tuple[
    str,
    dict[str, str],
    str,
    str,
    float,
    float | None,
    float | None,
    tuple[int, int, int, int, int],
    str,
    str,
]
JOBS: list[Row] = [
    (
        "import-files",
        {"source": "/srv/in/2026-10"},
        "alice",
        "succeeded",
        -86400 * 2,
        -86400 * 2 + 5,
        -86400 * 2 + 250,
        (0, 0, 4, 0, 0),
        "imported 4 files",
        "schedule",
    ),
    (
        "export-report",
        {"format": "csv"},
        "bob",
        "failed",
        -7200,
        -7195,
        -7000,
        (0, 0, 5, 1, 0),
        "customers: connection reset by peer",
        "manual",
    ),
    (
        "rebuild-index",
        {},
        "alice",
        "warning",
        -5400,
        -5390,
        -5100,
        (0, 0, 1, 0, 0),
        "3 documents skipped",
        "manual",
    ),
    (
        "import-files",
        {"source": "/srv/in/old"},
        "carol",
        "cancelled",
        -4000,
        -3990,
        -3900,
        (0, 0, 1, 0, 3),
        "cancelled by alice",
        "manual",
    ),
    (
        "export-report",
        {"format": "parquet"},
        "scheduler",
        "succeeded",
        -3600,
        -3595,
        -3300,
        (0, 0, 6, 0, 0),
        "[bold]6 tables[/] exported",
        "schedule",
    ),
    (
        "import-files",
        {"source": "/srv/in/2026-11"},
        "alice",
        "running",
        -600,
        -590,
        None,
        (1, 2, 1, 0, 0),
        "reading b.csv",
        "manual",
    ),
    (
        "export-report",
        {"format": "csv"},
        "bob",
        "paused",
        -500,
        -495,
        None,
        (3, 0, 3, 0, 0),
        "paused by bob",
        "manual",
    ),
    (
        "import-files",
        {"source": "/srv/in/2026-11"},
        "alice",
        "waiting",
        -300,
        None,
        None,
        (4, 0, 0, 0, 0),
        "waiting for lock folder:/srv/in/2026-11 (job 6)",
        "manual",
    ),
    ("rebuild-index", {}, "alice", "queued", -60, None, None, (1, 0, 0, 0, 0), "", "api"),
]


# Unread logs for the snapshots of the marks: job id -> the job's lines to read (lines,
# warnings, errors), and how many of them alice has read (None: none).
Counts = tuple[int, int, int]
UNREAD: dict[int, tuple[Counts, Counts | None]] = {
    1: ((4, 0, 0), (4, 0, 0)),  # all read: no mark
    2: ((85, 1, 4), None),  # ●85 ⚠1 ✘4
    3: ((30, 3, 0), (10, 1, 0)),  # ●20 ⚠2
    5: ((2345, 0, 0), None),  # ●2.3k
    6: ((1240, 3, 0), (1200, 3, 0)),  # ●40
    7: ((12, 0, 0), None),  # ●12
}


def write_config(folder: Path, extra: str = "") -> Path:
    path = folder / "jobdash.toml"
    path.write_text(CONFIG + extra)
    return path


def build_store(
    db: Path,
    config: Path,
    rows: Iterable[Row] = JOBS,
    now: float = NOW,
    unread: dict[int, tuple[Counts, Counts | None]] | None = None,
) -> None:
    """Create the jobs with the service (ids 1..N), then fix their times and states (and
    with `unread`, their counts of lines to read and alice's read marks)."""
    rows = list(rows)

    async def create() -> None:
        svc = await Service.open(db=str(db), config=str(config), user="alice")
        try:
            for n, (type_, params, *_rest) in enumerate(rows, 1):
                job = await svc.submit(type_, params)
                assert job.id == n
        finally:
            await svc.close()

    asyncio.run(create())
    con = sqlite3.connect(db)  # SQLite poke: fixed times and states no store call would write
    with con:
        for n, row in enumerate(rows, 1):
            _type, _params, user, status, created, started, finished, counts, info, trig = row
            pending, running, succeeded, failed, cancelled = counts
            total = sum(counts)
            done = succeeded + failed + cancelled
            updated = finished if finished is not None else (started or created) + 30
            con.execute(
                "UPDATE jobs SET user = ?, status = ?, created = ?, updated = ?, started = ?, "
                "finished = ?, pending = ?, running = ?, succeeded = ?, failed = ?, "
                "cancelled = ?, progress = ?, info = ?, trigger = ?, metrics = ? WHERE id = ?",
                (
                    user,
                    status,
                    now + created,
                    now + updated,
                    _at(now, started),
                    _at(now, finished),
                    pending,
                    running,
                    succeeded,
                    failed,
                    cancelled,
                    100.0 * done / total if total else 0.0,
                    info,
                    trig,
                    json.dumps({"rows": 1200} if status == "succeeded" else {}),
                    n,
                ),
            )
        for job_id, (counts, read) in (unread or {}).items():
            con.execute(
                "UPDATE jobs SET log_lines = ?, log_warnings = ?, log_errors = ? WHERE id = ?",
                (*counts, job_id),
            )
            if read is not None:
                con.execute(
                    "INSERT INTO read_marks (user, job_id, seq, lines, warnings, errors, rev) "
                    "VALUES ('alice', ?, 1, ?, ?, ?, 0)",
                    (job_id, *read),
                )
        fixed_audit(con, now)
    con.close()


def fixed_audit(con: sqlite3.Connection, at: float) -> None:
    """The audit rows the harness's store calls wrote, at fixed times (their job's creation,
    else `at`) and from a fixed host: a picture must not change with the day or machine."""
    con.execute(
        "UPDATE audit SET host = 'host-1', ts = coalesce("
        "(SELECT created FROM jobs WHERE 'job:' || jobs.id = audit.target), ?)",
        (at,),
    )


def finish_behind(db: Path, job_id: int) -> None:
    """The job succeeds, written behind the dashboard's back: a poke of the SQLite file (the
    harness's jobs have made-up counts and times, an engine would not finish them)."""
    con = sqlite3.connect(db)
    with con:
        rev = con.execute("UPDATE counter SET rev = rev + 1 RETURNING rev").fetchone()[0]
        con.execute(
            "UPDATE jobs SET status = 'succeeded', finished = ?, rev = ? WHERE id = ?",
            (NOW, rev, job_id),
        )
    con.close()


def _at(now: float, offset: float | None) -> float | None:
    return None if offset is None else now + offset


def opener(
    db: Path, config: Path, user: str = "alice", read_only: bool = False
) -> Callable[[], Any]:
    """An async function that opens the service in the app's own event loop."""

    async def open_() -> Service:
        return await Service.open(db=str(db), config=str(config), user=user, read_only=read_only)

    return open_


def frozen(now: float = NOW) -> Callable[[], float]:
    return lambda: now


def frozen_app(db: Path, config: Path, **kwargs: Any) -> Any:
    """The dashboard on `db` as snapshots draw it: no engine, a frozen clock, no ticks."""
    from jobdash.tui.app import JobdashApp

    return JobdashApp(
        opener(db, config),
        embedded_engine=False,
        clock=frozen(),
        table_tick=None,
        watch_interval=60.0,
        **kwargs,
    )


def screen_text(app: Any) -> str:
    """What the terminal shows, as plain text (for assertions and debugging)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text.rstrip() for strip in strips)


async def pictures_drawn(pilot: Any, at_least: int = 1, timeout: float = 10.0) -> None:
    """Wait until the screen in front has `at_least` pictures and every one has read its
    numbers (a worker each), then for a repaint."""
    from jobdash.tui.widgets.chart import Chart

    deadline = time.monotonic() + timeout
    while True:
        charts = pilot.app.screen.query(Chart)
        if len(charts) >= at_least and all(chart.drawn for chart in charts):
            break
        assert time.monotonic() < deadline, "a picture never came"
        await pilot.pause(0.02)
    await pilot.pause()
