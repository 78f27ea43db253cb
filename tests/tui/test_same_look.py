"""The command line and the dashboard show a job the same way.

The same store is read by the real `jobdash jobs` (piped) and by the dashboard's job
tables (a Textual pilot): for every job, each shows its status (glyph and word), started
time, progress count and time (ETA while it runs, run time once it ended) in the same
words — both take them from `jobdash.present`.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from jobdash.core.identity import real_user
from jobdash.core.model import JobStatus
from jobdash.present.status import look
from jobdash.tui.app import JobdashApp
from jobdash.tui.widgets.job_table import JobTable
from tests.conftest import run_cli
from tests.tui.app_harness import JOBS, build_store, opener, screen_text, write_config

# The harness's jobs, with the running one three quarters done: its ETA (a third of its
# 590 s so far, "~4m") stays in one coarse step for two minutes, longer than the test.
SAMPLE = [(*row[:7], (0, 1, 3, 0, 0), *row[8:]) if row[3] == "running" else row for row in JOBS]


@pytest.fixture(autouse=True)
def _utc(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


def row_of(lines: list[str], job_id: int) -> str:
    """The line that starts with the job's id (right-aligned in the dashboard)."""
    return next(line for line in lines if re.match(rf"\s*{job_id}\s", line))


async def test_the_cli_and_the_dashboard_show_a_job_the_same_way(tmp_path: Path) -> None:
    config = write_config(tmp_path)
    # The command line runs as this OS user: an admin, it sees every user's jobs.
    text = config.read_text()
    config.write_text(text.replace('admins = ["alice"]', f'admins = ["alice", "{real_user()}"]'))
    db = tmp_path / "same.db"
    await asyncio.to_thread(build_store, db, config, SAMPLE, time.time())
    env = {"JOBDASH_DB": str(db), "JOBDASH_CONFIG": str(config), "TZ": "UTC"}
    r = await asyncio.to_thread(run_cli, "jobs", env=env)
    assert r.returncode == 0, r.stderr
    cli_lines = r.stdout.splitlines()

    app = JobdashApp(opener(db, config), embedded_engine=False, watch_interval=60.0)
    async with app.run_test(size=(200, 30)) as pilot:
        deadline = time.monotonic() + 15
        while not all(t.rows for t in app.screen.query(JobTable)):
            assert time.monotonic() < deadline, "the job tables did not load"
            await pilot.pause(0.05)
        await pilot.pause()
        jobs = {job.id: job for t in app.screen.query(JobTable) for job in t.rows}
        dash_lines = []
        for tab in ("1", "2"):  # In Progress, Completed
            await pilot.press(tab)
            await pilot.pause()
            dash_lines += screen_text(app).splitlines()

    assert len(jobs) == len(SAMPLE)
    now = time.time()
    for job in jobs.values():
        cli, dash = row_of(cli_lines, job.id), row_of(dash_lines, job.id)
        shown = [look(job.status).text]
        if job.total:
            shown.append(f"{job.worked}/{job.total}")
        for piece in shown:
            assert piece in cli and piece in dash, (piece, cli, dash)
        # The same started time and the same time (ETA or run time), word for word.
        started = re.compile(r"\d\d:\d\d:\d\d|\d{4}-\d\d-\d\d \d\d:\d\d")
        timed = re.compile(r"~\d+[smh]\S*|\b\d+[smhd]\d*[smh]?\b")
        if job.started is not None:
            assert started.findall(cli)[:1] == started.findall(dash)[:1] != [], (cli, dash)
        if job.status is JobStatus.RUNNING or job.status.finished:
            assert timed.findall(cli)[:1] == timed.findall(dash)[:1] != [], (cli, dash)
    running = next(j for j in jobs.values() if j.status is JobStatus.RUNNING)
    assert "~4m" in row_of(cli_lines, running.id), "ETA: coarse, marked as an estimate"
    older = next(j for j in jobs.values() if j.started and now - j.started > 86_400)
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", row_of(dash_lines, older.id))
