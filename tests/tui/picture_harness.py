"""A store with a history for the dashboard's pictures: the jobs of `app_harness`, then
twelve runs of export-report over the last six hours, eight runs of the schedule
nightly-export (disabled since) on the days before, and tasks two agents ended in the last hour. Made with
the service (real jobs, tasks and ids), then given fixed times with plain SQL.

The tests compute what the pictures must say from the numbers written here, not from the
code that draws them.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from jobdash.core.agent_info import AgentInfo
from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from tests.tui.app_harness import NOW, build_store, fixed_audit, frozen_app, write_config

SCHEDULE = """
[types.nightly-export]
description = "Export everything at night"
command = ["true"]
schedule = "cron: 0 3 * * *"
"""
FIRST_RUN = 10  # export-report runs: jobs 10..21, run k = id - 9
RUNS = 12
FIRST_NIGHTLY = 22  # nightly-export runs: jobs 22..29, run k = id - 21
NIGHTLIES = 8
FAILED_RUNS = (3, 8)  # export-report runs that failed
FAILED_NIGHTLY = 5
# (agent, seconds before NOW, tasks done then)
AGENT_TASKS = (("vm-a", 30, 3), ("vm-a", 150, 2), ("vm-b", 630, 4), ("vm-b", 30, 1))


@pytest.fixture
def in_utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Times on screen are local: the pictures' hours are UTC's."""
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture
def history_app(tmp_path: Path, in_utc: None) -> Callable[[], JobdashApp]:
    """Dashboards (frozen clock, no engine) on the store `build_history` makes."""
    db, config = build_history(tmp_path)

    def make() -> JobdashApp:
        app: JobdashApp = frozen_app(db, config)
        return app

    return make


def run_times(k: int) -> tuple[float, float]:
    """(started, finished) of export-report run k: ended k half-hours ago, ran 60k+5 s."""
    finished = NOW - 1800 * k
    return finished - (60 * k + 5), finished


def nightly_times(k: int) -> tuple[float, float]:
    """(started, finished) of nightly run k: days ago, ran 100 + 20k s."""
    finished = NOW - 86400 * (NIGHTLIES + 1 - k) - 3600
    return finished - (100 + 20 * k), finished


def build_history(folder: Path) -> tuple[Path, Path]:
    """The store and config (in `folder`) of the pictures' tests."""
    config = write_config(folder, SCHEDULE)
    db = folder / "pictures.db"
    build_store(db, config)

    async def create() -> None:
        svc = await Service.open(db=str(db), config=str(config), user="alice")
        try:
            await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
            # Disabled: its next run, from the wall clock, would change every day.
            await svc.store.set_schedule_enabled("nightly-export", False, "alice")
            for k in range(1, RUNS + 1):
                job = await svc.submit("export-report", {"format": "csv"})
                assert job.id == FIRST_RUN + k - 1
            for k in range(1, NIGHTLIES + 1):
                job = await svc.submit("nightly-export")
                assert job.id == FIRST_NIGHTLY + k - 1
            for name in ("vm-a", "vm-b"):
                info = AgentInfo(name, "host-1", 4242, "1", 4, 0, "idle", NOW - 600, NOW)
                await svc.store.register_agent(info, name)
        finally:
            await svc.close()

    asyncio.run(create())
    con = sqlite3.connect(db)
    with con:
        for k in range(1, RUNS + 1):
            ended(con, FIRST_RUN + k - 1, *run_times(k), k in FAILED_RUNS, "user = 'bob'")
        for k in range(1, NIGHTLIES + 1):
            started, finished = nightly_times(k)
            scheduled = (
                "user = 'scheduler', trigger = 'schedule', schedule_id = 'nightly-export', "
                f"fire_time = {started - 1!r}"
            )
            ended(con, FIRST_NIGHTLY + k - 1, started, finished, k == FAILED_NIGHTLY, scheduled)
        seq = 100
        for agent, ago, n in AGENT_TASKS:
            for _ in range(n):
                seq += 1
                con.execute(
                    "INSERT INTO tasks (job_id, seq, key, name, kind, spec, status, attempt, "
                    "agent, started, finished) VALUES (1, ?, ?, 'a.csv', 'command', 'null', "
                    "'succeeded', 1, ?, ?, ?)",
                    (seq, f"k{seq}", agent, NOW - ago - 5, NOW - ago),
                )
        fixed_audit(con, NOW)
    con.close()
    return db, config


def ended(
    con: sqlite3.Connection, job_id: int, started: float, finished: float, failed: bool, more: str
) -> None:
    """Job `job_id` (one task) ran from `started` to `finished` and failed or succeeded;
    `more`: other columns to set (SQL)."""
    con.execute(
        "UPDATE jobs SET status = ?, created = ?, updated = ?, started = ?, finished = ?, "
        "pending = 0, running = 0, progress = 100, succeeded = ?, failed = ?, "
        f"{more} WHERE id = ?",
        (
            "failed" if failed else "succeeded",
            started - 1,
            finished,
            started,
            finished,
            0 if failed else 1,
            1 if failed else 0,
            job_id,
        ),
    )
