"""Snapshots of the dashboard shell: each tab, the filter bar in use, a confirmation,
the start-a-job form and help. Frozen clock, fixed ids, no engine running.

Pictures are stored under the repo's `snapshots/test_snapshots/` (see the root
conftest). Regenerate with `pytest tests/tui/test_snapshots.py --snapshot-update` and
look at them before committing.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot
from textual.widgets import Input, Static

from jobdash.core.model import Report
from jobdash.core.scheduler import schedule_specs
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from tests.tui.app_harness import (
    NOW,
    UNREAD,
    build_store,
    fixed_audit,
    frozen_app,
    pictures_drawn,
    write_config,
)

SIZE = (120, 40)
SMALL = (80, 24)


@pytest.fixture(autouse=True)
def _utc(in_utc: None) -> None:
    """Times in the tables are local: pin the zone so pictures don't depend on the host
    (modules that import this fixture get it too)."""


@pytest.fixture
def make_app(tmp_path: Path) -> Callable[..., JobdashApp]:
    config = write_config(tmp_path)
    db = tmp_path / "snap.db"
    build_store(db, config)

    def make(**kwargs: Any) -> JobdashApp:
        app: JobdashApp = frozen_app(db, config, **kwargs)
        return app

    return make


async def settle(pilot: Pilot[Any]) -> None:
    """Wait for the initial load (a worker) and a repaint."""
    app = pilot.app
    assert isinstance(app, JobdashApp)
    for _ in range(500):
        if getattr(app.screen_stack[0], "loaded", False):
            break
        await pilot.pause(0.01)
    else:
        raise AssertionError("the dashboard did not load its jobs")
    await pictures_drawn(pilot)


def test_in_progress_tab(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    assert snap_compare(make_app(), terminal_size=SIZE, run_before=settle)


@pytest.fixture
def marked_app(tmp_path: Path) -> JobdashApp:
    """The dashboard on jobs with unread log lines (alice has read some of them)."""
    config = write_config(tmp_path)
    db = tmp_path / "marks.db"
    build_store(db, config, unread=UNREAD)
    app: JobdashApp = frozen_app(db, config)
    return app


def test_unread_marks_in_progress(snap_compare: Any, marked_app: JobdashApp) -> None:
    """The `new` column: ●40 (job 6, partly read), ●12; job 8 has no output."""
    assert snap_compare(marked_app, terminal_size=SIZE, run_before=settle)


def test_unread_marks_completed(snap_compare: Any, marked_app: JobdashApp) -> None:
    """●85 ⚠1 ✘4, ●20 ⚠2, ●2.3k; job 1 all read, job 4 no output; `u` onto job 2."""
    press = ["2", "u"]
    assert snap_compare(marked_app, press=press, terminal_size=SIZE, run_before=settle)


def test_completed_tab(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    assert snap_compare(make_app(), press=["2"], terminal_size=SIZE, run_before=settle)


def test_scheduled_tab(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    assert snap_compare(make_app(), press=["3"], terminal_size=SIZE, run_before=settle)


def test_marked_rows(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    """Jobs 9 and 7 marked (the gutter's mark, bold on a tint), the cursor on job 8 between
    them, and the line over the footer that counts the marks and names the keys."""
    press = ["space", "down", "space", "up", "up"]
    assert snap_compare(make_app(), press=press, terminal_size=SIZE, run_before=settle)


def test_agents_tab(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    assert snap_compare(make_app(), press=["4"], terminal_size=SIZE, run_before=settle)


async def steady_cursor(pilot: Pilot[Any]) -> None:
    """Text cursors shown, not blinking: on a busy machine more than their half second of
    blink may pass before the picture is taken."""
    for field in pilot.app.screen.query(Input):
        field.cursor_blink = False
    await pilot.pause()


def test_filter_bar_in_use(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    """Completed tab filtered to failed and cancelled jobs: titles say "N of M"."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("2", "slash", *"status:failed status:cancelled")
        await steady_cursor(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_filter_bar_error(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    """An invalid query shows its error; the last valid filter (type:import) stays."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("slash", *"type:import")
        field = pilot.app.screen.query_one("#filter-input", Input)
        field.value = "type:import stat:x"  # pasted at once: no valid step in between
        await steady_cursor(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_cancel_confirmation(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    """`c` on job 8: the question names the job; focus starts on No."""
    press = ["down", "c"]
    assert snap_compare(make_app(), press=press, terminal_size=SIZE, run_before=settle)


def test_start_job_form(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    """`n` with the cursor on an import: that type is picked, its form filled with defaults."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("down", "n", "tab")
        await steady_cursor(pilot)

    assert snap_compare(make_app(), terminal_size=SIZE, run_before=run_before)


def test_help(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    assert snap_compare(make_app(), press=["question_mark"], terminal_size=SIZE, run_before=settle)


def test_small_terminal(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    """80×24: columns squeeze, the info column scrolls rather than vanishing."""
    assert snap_compare(make_app(), terminal_size=SMALL, run_before=settle)


def test_light_theme(snap_compare: Any, make_app: Callable[..., JobdashApp]) -> None:
    """One of jobdash's own themes, loaded from jobdash/themes/ at start."""
    app = make_app(theme="jobdash-paper")
    assert snap_compare(app, press=["2"], terminal_size=SIZE, run_before=settle)


NIGHTLY = """
[types.nightly]
description = "Archive the day's documents"
command = ["true"]
schedule = { planning = "daily: 02:00", report = { email = ["archive@example.org"] } }
"""


def test_schedule_screen_with_recipients(snap_compare: Any, tmp_path: Path) -> None:
    """A schedule's screen says who gets its runs' reports, and that an admin set them.
    (Its planning is disabled so that no next run, a time of the real clock, is drawn.)"""
    config = write_config(tmp_path, NIGHTLY)
    db = tmp_path / "snap.db"
    build_store(db, config)

    async def set_up() -> None:
        svc = await Service.open(db=str(db), config=str(config), user="alice")
        try:
            await svc.store.sync_schedules(schedule_specs(svc), list(svc.local_types))
            await svc.set_planning("nightly", "disabled")
            recipients = Report(("oncall@example.org", "dba@example.org"), ("https://h.example/j",))
            await svc.set_schedule_report("nightly", recipients)
        finally:
            await svc.close()

    asyncio.run(set_up())
    con = sqlite3.connect(db)
    with con:
        fixed_audit(con, NOW)  # the edits' audit rows: no time of the real clock, no host's name
    con.close()

    async def run_before(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("3", "enter")
        for _ in range(500):
            screen = pilot.app.screen
            if screen.query("#schedule-summary") and "reports to" in str(
                screen.query_one("#schedule-summary", Static).render()
            ):
                break
            await pilot.pause(0.01)
        await pilot.pause()

    assert snap_compare(frozen_app(db, config), terminal_size=SIZE, run_before=run_before)
