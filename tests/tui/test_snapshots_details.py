"""Snapshot of the job details screen with a log: frozen clock, fixed ids, no engine.

The store is prepared with the service, then given fixed times (tests may touch SQL;
the dashboard never does).  The app opens its own Service inside its event loop.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from textual.app import App, ComposeResult
from textual.pilot import Pilot
from textual.screen import Screen
from textual.signal import Signal

from jobdash.core.service import Service
from jobdash.tui.screens.job_details import JobDetailsScreen
from tests.tui.app_harness import fixed_audit
from tests.tui.pane_harness import CONFIG

T0 = 1_795_269_780.0  # 2026-11-21 14:03:00 UTC
NOW = T0 + 300
LOG = [
    (None, "system", "job 1 started by root (manual)"),
    (1, "stdout", "task a"),
    (1, "stdout", "imported 400 rows from a.csv"),
    (2, "stdout", "task b"),
    (2, "stderr", "warning: b.csv: 3 rows skipped (empty)"),
    (2, "stderr", "b.csv: line 17: bad date '2026-13-01'"),
    (2, "stdout", "[bold red]x[/] \x1b[2J \x1b]52;c;aGk=\x07 shown literally"),
    (2, "system", "task 2 exited 1"),
    (3, "stdout", "task c"),
    (3, "stdout", "imported 800 rows from c.csv"),
    (None, "system", "job 1 failed: 1 of 3 tasks failed"),
]


def build_store(db: Path, config: Path) -> None:
    async def create() -> None:
        svc = await Service.open(db=str(db), config=str(config), user="root")
        job = await svc.submit("three")
        assert job.id == 1
        tasks = await svc.store.tasks(job.id)
        ids = {t.seq: t.id for t in tasks}
        for seq, stream, text in LOG:
            await svc.store.append_log(job.id, ids[seq] if seq else None, stream, text)
        await svc.store.flush()
        await svc.close()

    asyncio.run(create())
    con = sqlite3.connect(db)  # SQLite poke: fixed times and states no store call would write
    with con:
        con.execute(
            "UPDATE jobs SET status = 'failed', created = ?, updated = ?, started = ?, "
            "finished = ?, pending = 0, succeeded = 2, failed = 1, progress = 100, "
            "info = '1 of 3 tasks failed: b exited 1', metrics = ?, warnings = 1 WHERE id = 1",
            (T0, T0 + 190, T0 + 5, T0 + 190, json.dumps({"rows": 1200, "files": 2})),
        )
        for seq, status, code in ((1, "succeeded", 0), (2, "failed", 1), (3, "succeeded", 0)):
            con.execute(
                "UPDATE tasks SET status = ?, attempt = 1, agent = 'vm-4242', started = ?, "
                "finished = ?, exit_code = ? WHERE job_id = 1 AND seq = ?",
                (status, T0 + 5 + 60 * (seq - 1), T0 + 60 * seq, code, seq),
            )
        con.execute("UPDATE logs SET ts = ? + seq * 7.25", (T0 + 5,))
        fixed_audit(con, T0)
    con.close()


class SnapApp(App[None]):
    """Opens the service in its own loop, then shows the details of job 1."""

    def __init__(self, db: Path, config: Path) -> None:
        super().__init__()
        self.db = db
        self.config_path = config
        self.store_changed: Signal[Any] = Signal(self, "store-changed")
        self.read_only = False
        self.service: Service | None = None

    def clock(self) -> float:
        return NOW

    def notify_refusal(self, exc: Exception) -> None:
        self.notify(str(exc), severity="error", markup=False)

    def compose(self) -> ComposeResult:
        return iter(())

    async def on_mount(self) -> None:
        self.service = await Service.open(db=str(self.db), config=str(self.config_path))
        await self.push_screen(self.first_screen(self.service))

    def first_screen(self, service: Service) -> Screen[Any]:
        """The screen the picture is of."""
        return JobDetailsScreen(service, 1)

    async def on_unmount(self) -> None:
        if self.service is not None:
            await self.service.close()


async def settle(pilot: Pilot[None]) -> None:
    app = pilot.app
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = app.screen
        if (
            isinstance(screen, JobDetailsScreen)
            and len(screen.log_view.lines) == len(LOG)
            and screen.tasks_table.row_count == 3
        ):
            break
        await pilot.pause(0.05)
    await pilot.pause()


@pytest.fixture
def utc(monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("TZ", "UTC")
    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("TEXTUAL_THEME", raising=False)
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def test_details_screen_with_log(snap_compare: Any, tmp_path: Path, utc: Any) -> None:
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = tmp_path / "snap.db"
    build_store(db, config)
    app = SnapApp(db, config)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle)
    assert app._exception is None


ARTIFACTS = [
    ("import-report.csv", "text/csv", b"file,rows\na.csv,400\nc.csv,800\n", 1),
    ("rejected [bold red]rows.txt", "text/plain", b"b.csv:17 bad date\n", 2),
    ("summary.pdf", "application/pdf", b"%PDF-1.4 " + bytes(2_400_000), 3),
]


def add_artifacts(db: Path) -> None:
    """Three artifacts of job 1 (one kept as a file), with fixed times and file name."""

    async def create() -> None:
        from jobdash.core.artifacts import keep

        svc = await Service.open(db=str(db), user="root")
        tasks = {t.seq: t.id for t in await svc.store.tasks(1)}
        for name, kind, data, seq in ARTIFACTS:
            await keep(svc.store, 1, tasks[seq], name, data, kind)
        await svc.close()

    asyncio.run(create())
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE artifacts SET created = ?", (T0 + 180,))
        con.execute("UPDATE artifacts SET file = '1-0123456789abcdef' WHERE file IS NOT NULL")
    con.close()


async def settle_artifacts(pilot: Pilot[None]) -> None:
    await settle(pilot)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        screen = pilot.app.screen
        if (
            isinstance(screen, JobDetailsScreen)
            and len(screen.query_one("#artifacts-table").rows) == 3
        ):  # type: ignore[attr-defined]
            break
        await pilot.pause(0.05)
    await pilot.pause()


def test_details_screen_with_artifacts(snap_compare: Any, tmp_path: Path, utc: Any) -> None:
    """The artifacts section between the tasks and the log: name (markup shown as typed),
    size, type, task, where it is kept."""
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = tmp_path / "snap.db"
    build_store(db, config)
    add_artifacts(db)
    app = SnapApp(db, config)
    assert snap_compare(app, terminal_size=(120, 40), run_before=settle_artifacts)
    assert app._exception is None
