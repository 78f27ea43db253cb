"""Snapshots of each picture on a seeded store (`picture_harness`): a job type's last
runs in job details, the Completed tab's last 24 hours, the Agents tab's tasks per minute
and a schedule's runs, at 120×40; job details at 80×24 (the runs on one line, marks in
place of their bars); and job details with `v`: the numbers as text.
Frozen clock, no engine.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from textual.pilot import Pilot

from jobdash.tui.app import JobdashApp
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.screens.schedule_details import ScheduleDetailsScreen
from tests.tui.app_harness import pictures_drawn
from tests.tui.pane_harness import until
from tests.tui.picture_harness import FAILED_RUNS, FIRST_RUN

SIZE = (120, 40)
SMALL = (80, 24)
THIS = FIRST_RUN + FAILED_RUNS[0] - 1  # a failed run of export-report


async def dashboard(pilot: Pilot[Any]) -> None:
    app = pilot.app
    await until(pilot, lambda: getattr(app.screen_stack[0], "loaded", False))
    await pictures_drawn(pilot)


async def details(pilot: Pilot[Any]) -> None:
    await dashboard(pilot)
    app = pilot.app
    assert isinstance(app, JobdashApp)
    app.open_details(THIS)
    await until(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
    await pictures_drawn(pilot)
    await until(pilot, lambda: app.screen.tasks_table.row_count == 1)  # type: ignore[attr-defined]
    await pilot.pause()


async def details_as_numbers(pilot: Pilot[Any]) -> None:
    await details(pilot)
    await pilot.press("v")
    await pilot.pause()


async def schedule(pilot: Pilot[Any]) -> None:
    await dashboard(pilot)
    app = pilot.app
    assert isinstance(app, JobdashApp)
    app.open_schedule("nightly-export")
    await until(pilot, lambda: isinstance(app.screen, ScheduleDetailsScreen))
    await pictures_drawn(pilot)
    await until(pilot, lambda: app.screen.query_one("#schedule-jobs").row_count == 8)  # type: ignore[attr-defined]
    await pilot.pause()


def test_job_details_runs(snap_compare: Any, history_app: Callable[[], JobdashApp]) -> None:
    assert snap_compare(history_app(), terminal_size=SIZE, run_before=details)


def test_job_details_runs_at_80x24(
    snap_compare: Any, history_app: Callable[[], JobdashApp]
) -> None:
    assert snap_compare(history_app(), terminal_size=SMALL, run_before=details)


def test_job_details_runs_as_numbers(
    snap_compare: Any, history_app: Callable[[], JobdashApp]
) -> None:
    assert snap_compare(history_app(), terminal_size=SIZE, run_before=details_as_numbers)


def test_completed_last_24_hours(snap_compare: Any, history_app: Callable[[], JobdashApp]) -> None:
    assert snap_compare(history_app(), press=["2"], terminal_size=SIZE, run_before=dashboard)


def test_agents_tasks_per_minute(snap_compare: Any, history_app: Callable[[], JobdashApp]) -> None:
    assert snap_compare(history_app(), press=["4"], terminal_size=SIZE, run_before=dashboard)


def test_schedule_runs(snap_compare: Any, history_app: Callable[[], JobdashApp]) -> None:
    assert snap_compare(history_app(), terminal_size=SIZE, run_before=schedule)
