"""Snapshot of the log of several jobs (`L`) at 120×40: three jobs of three tasks whose
lines interleave, each prefixed with its job and task in the job's colour; a warning, an
error, jobdash's own notes, and markup and escapes shown literally. A frozen store: fixed
times, no engine.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.screen import Screen

from jobdash.core.service import Service
from jobdash.tui.screens.multi_log import MultiLogScreen
from tests.tui.pane_harness import CONFIG
from tests.tui.test_snapshots_details import SnapApp, utc

__all__ = ["utc"]  # the fixture: TZ=UTC, no NO_COLOR, the default theme

T0 = 1_795_269_780.0  # 2026-11-21 14:03:00 UTC

# (job, task seq or None, stream, text), in the order written.
LOG = [
    (1, None, "system", "job 1 started by root (manual)"),
    (2, None, "system", "job 2 started by root (manual)"),
    (1, 1, "stdout", "task a: reading /srv/in/a.csv"),
    (3, None, "system", "job 3 started by root (manual)"),
    (2, 1, "stdout", "task a: reading /srv/in/a.csv"),
    (1, 1, "stdout", "imported 400 rows from a.csv"),
    (3, 1, "stdout", "task a: reading /srv/in/a.csv"),
    (2, 1, "stderr", "warning: a.csv: 3 rows skipped (empty)"),
    (1, 2, "stdout", "task b: reading /srv/in/b.csv"),
    (3, 1, "stdout", "imported 380 rows from a.csv"),
    (2, 2, "stdout", "task b: reading /srv/in/b.csv"),
    (1, 2, "stderr", "b.csv: line 17: bad date '2026-13-01'"),
    (3, 2, "stdout", "[bold red]x[/] \x1b[2J \x1b]52;c;aGk=\x07 shown literally"),
    (1, 2, "system", "task 2 exited 1"),
    (2, 2, "stdout", "imported 912 rows from b.csv"),
    (1, 3, "stdout", "task c: reading /srv/in/c.csv"),
    (3, 2, "stdout", "imported 17 rows from b.csv"),
    (2, 3, "stdout", "task c: reading /srv/in/c.csv"),
    (1, 3, "stdout", "imported 800 rows from c.csv"),
    (3, 3, "stdout", "task c: reading /srv/in/c.csv"),
    (1, None, "system", "job 1 failed: 1 of 3 tasks failed"),
    (2, 3, "stdout", "imported 64 rows from c.csv"),
]


def build_store(db: Path, config: Path) -> None:
    """Three jobs of `three` made by the service; their lines and states written into the
    file (tests may poke SQL, the dashboard never does), at fixed times."""

    async def submit() -> None:
        svc = await Service.open(db=str(db), config=str(config), user="root")
        try:
            assert [(await svc.submit("three")).id for _ in range(3)] == [1, 2, 3]
        finally:
            await svc.close()

    asyncio.run(submit())
    con = sqlite3.connect(db)
    with con:
        tasks = dict(
            ((job, seq), task)
            for task, job, seq in con.execute("SELECT id, job_id, seq FROM tasks")
        )
        con.executemany(
            "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, ?, ?, ?, ?)",
            [
                (job, tasks[job, seq] if seq else None, T0 + 5 + 3.5 * n, stream, text)
                for n, (job, seq, stream, text) in enumerate(LOG, 1)
            ],
        )
        con.execute(
            "UPDATE jobs SET status = 'failed', created = ?, updated = ?, started = ?, "
            "finished = ?, pending = 0, succeeded = 2, failed = 1, progress = 100 WHERE id = 1",
            (T0, T0 + 190, T0 + 5, T0 + 190),
        )
        for n in (2, 3):
            con.execute(
                "UPDATE jobs SET status = 'running', created = ?, updated = ?, started = ?, "
                "pending = 1, running = 1, succeeded = 1, progress = 33 WHERE id = ?",
                (T0 + n, T0 + 100, T0 + 5 + n, n),
            )
    con.close()


class LogsApp(SnapApp):
    """Opens the service in its own loop, then shows the log of jobs 1, 2 and 3."""

    def first_screen(self, service: Service) -> Screen[Any]:
        return MultiLogScreen(service, [1, 2, 3])


def logs_app(tmp_path: Path) -> LogsApp:
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = tmp_path / "snap.db"
    build_store(db, config)
    return LogsApp(db, config)


async def settle(pilot: Pilot[None]) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = pilot.app.screen
        if (
            isinstance(screen, MultiLogScreen)
            and len(screen.log_view.lines) == len(LOG)
            and len(screen.jobs) == 3
        ):
            break
        await pilot.pause(0.05)
    await pilot.pause()


def test_log_of_three_jobs(snap_compare: Any, tmp_path: Path, utc: Any) -> None:
    app = logs_app(tmp_path)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)
    assert app._exception is None


def test_log_of_three_jobs_in_grep_mode(snap_compare: Any, tmp_path: Path, utc: Any) -> None:
    """`/` rows, `ctrl+g`, `-` twice: the lines that say rows, one line around each."""
    app = logs_app(tmp_path)

    async def grep(pilot: Pilot[None]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"rows from", "ctrl+g", "minus", "minus")
        await pilot.pause()

    assert snap_compare(app, terminal_size=(120, 40), run_before=grep)
    assert app._exception is None
