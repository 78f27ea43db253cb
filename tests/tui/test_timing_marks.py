"""Pilot tests of history-aware timing in the dashboard, on a real SQLite file: the job
table's stalled and overrun marks and its ETA from history, the In Progress tab's count of
stalled jobs (which moves with the clock, no store change needed), and the details' timing
line and stalled task."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from jobdash.core.service import Service
from jobdash.tui.screens.job_details import JobDetailsScreen
from jobdash.tui.widgets.job_table import JobTable
from tests.tui.app_harness import NOW, Row, build_store, screen_text, write_config
from tests.tui.test_app import SIZE, loaded, make_app, until

TYPES = """
[types.nap]
command = ["sleep", "60"]

[types.silent]
command = ["sleep", "600"]
stall_after = "5m"
"""


def _job(type_: str, status: str, started: float, finished: float | None) -> Row:
    running = status == "running"
    counts = (0, 1, 0, 0, 0) if running else (0, 0, 1, 0, 0)
    return (type_, {}, "alice", status, started - 5, started, finished, counts, "", "manual")


ROWS: list[Row] = [
    # Three runs of `nap` of a minute each: its history.
    _job("nap", "succeeded", -4000, -3940),
    _job("nap", "succeeded", -3000, -2940),
    _job("nap", "succeeded", -2000, -1940),
    _job("nap", "running", -600, None),  # 4: ten minutes: overrun (it prints: not stalled)
    _job("silent", "running", -600, None),  # 5: silent ten minutes: stalled
    _job("silent", "running", -290, None),  # 6: silent 290 s: not yet
    _job("nap", "running", -20, None),  # 7: ETA from history: ≈40s
]


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(tmp_path, TYPES)
    db = tmp_path / "timing.db"
    build_store(db, config, ROWS)
    con = sqlite3.connect(db)  # the tasks as their agents left them
    with con:
        for n, (_t, _p, _u, status, _c, started, finished, *_rest) in enumerate(ROWS, 1):
            con.execute(
                "UPDATE tasks SET status = ?, started = ?, finished = ? WHERE job_id = ?",
                (
                    status,
                    NOW + started,
                    None if finished is None else NOW + finished,
                    n,
                ),
            )
        con.execute("UPDATE tasks SET active = ? WHERE job_id = 4", (NOW - 10,))
    con.close()
    return db, config


def row_text(table: JobTable, job_id: int) -> str:
    position = table._model.index[job_id]
    return " ".join(table._render_row(position, table.size.width, False).text.split())


async def test_marks_count_and_details_of_stalled_and_overrun_jobs(
    store: tuple[Path, Path],
) -> None:
    db, config = store
    svc = await Service.open(db=str(db), config=str(config), user="alice")
    now = [NOW]
    app = make_app(svc, clock=lambda: now[0])
    try:
        async with app.run_test(size=SIZE) as pilot:
            dash = await loaded(pilot)
            table = dash.table("inprogress")
            assert "▶ overrun" in row_text(table, 4)
            assert "▶ stalled" in row_text(table, 5)
            assert "▶ running" in row_text(table, 6)
            row7 = row_text(table, 7)
            assert "▶ running" in row7 and "≈40s" in row7, row7  # ETA from its history
            await until(pilot, lambda: "In Progress (4 · 1 stalled)" in screen_text(app))
            # … and the header's top line, seen from every tab.
            await until(pilot, lambda: "1 stalled · " in screen_text(app).splitlines()[0])

            # Time passes, nothing is written: job 6 is silent past its 5 minutes.
            now[0] = NOW + 20
            await until(pilot, lambda: "In Progress (4 · 2 stalled)" in screen_text(app))
            assert "▶ stalled" in row_text(table, 6)
            await pilot.press("2")  # the Completed tab: the header still counts them
            await until(pilot, lambda: "2 stalled · " in screen_text(app).splitlines()[0])
            await pilot.press("1")

            # The filter's flags, in the dashboard's query language.
            await pilot.press("slash")
            await pilot.press(*"status:stalled")
            await pilot.press("enter")
            await until(pilot, lambda: [j.id for j in table.rows] == [6, 5])
            # The filter follows the clock: jobs 4 and 7 (type nap: stalled past 2 minutes,
            # twice its tasks' p90) turn stalled, nothing written.
            now[0] = NOW + 120
            await until(pilot, lambda: [j.id for j in table.rows] == [7, 6, 5, 4])
            assert "In Progress (4 of 4 · 4 stalled)" in screen_text(app)

            table.select_job(5)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, JobDetailsScreen)
            await until(pilot, lambda: "STALLED" in screen_text(app))
            text = screen_text(app)
            assert "STALLED: a task silent for 12m00s (stall_after 5m00s)" in text, text
            assert "no history of this type yet" in text
            tasks = screen.tasks_table
            await until(pilot, lambda: tasks.row_count == 1 and "▶ stalled" in tasks.row_text(0))
    finally:
        await svc.close()
