"""The dashboard's rows of a paused job and of a job whose engine died:

- a paused job's running task (stopped, still `running` in the store) reads "⏸ paused" in
  the details' task list, its time stands still with the clock, and it is never told
  stalled, however long it is silent (a real SQLite file, the clock frozen);
- an attached dashboard whose engine is killed (kill -9 of a real `jobdash serve`) says
  "▶ agent lost" in the job's row once the task's lease ran out, not "▶ stalled", and does
  not count it stalled; its details say an engine that starts recovers it;
- an agent that renews its leases (no change to the job's row) keeps its job from being
  told lost, though the lease the dashboard read first has passed; once it stops, the open
  details and the row say it.

The same on the command line: tests/test_paused_and_lost.py.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.service import Service
from jobdash.tui.screens.job_details import JobDetailsScreen
from tests.test_agents import FAST
from tests.test_agents import until as until_sync
from tests.test_agents_slots import cluster_with
from tests.tui.app_harness import NOW, Row, build_store, screen_text, write_config
from tests.tui.test_app import SIZE, loaded, make_app, until
from tests.tui.test_timing_marks import row_text

TYPES = """
[types.silent]
command = ["sleep", "600"]
stall_after = "2s"
retries = 1
"""


def _running(status: str) -> Row:
    return ("silent", {}, "alice", status, -605, -600, None, (0, 1, 0, 0, 0), "", "manual")


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    """Job 1 paused a minute ago after 9 minutes of silent running; job 2 running, silent
    for 10 minutes, its agent's lease good for 5 s more."""
    config = write_config(tmp_path, TYPES)
    db = tmp_path / "paused.db"
    build_store(db, config, [_running("paused"), _running("running")])
    con = sqlite3.connect(db)  # the tasks as their agents left them
    with con:
        con.execute(
            "UPDATE tasks SET status = 'running', attempt = 1, agent = 'a', started = ?, "
            "lease_until = ?",
            (NOW - 600, NOW + 5),
        )
        con.execute("UPDATE jobs SET paused_at = ? WHERE id = 1", (NOW - 60,))
    con.close()
    return db, config


def set_lease(db: Path, until_: float) -> None:
    con = sqlite3.connect(db)
    with con:
        con.execute("UPDATE tasks SET lease_until = ?", (until_,))
    con.close()


async def test_a_paused_jobs_task_reads_paused_and_its_time_stands_still(
    store: tuple[Path, Path],
) -> None:
    db, config = store
    set_lease(db, NOW + 1000)  # their agent stays alive
    svc = await Service.open(db=str(db), config=str(config), user="alice")
    now = [NOW]
    app = make_app(svc, clock=lambda: now[0])
    try:
        async with app.run_test(size=SIZE) as pilot:
            dash = await loaded(pilot)
            table = dash.table("inprogress")
            assert "⏸ paused" in row_text(table, 1)
            assert "▶ stalled" in row_text(table, 2)  # silent 10 minutes, its agent alive
            await until(pilot, lambda: "In Progress (2 · 1 stalled)" in screen_text(app))
            table.select_job(1)
            await pilot.press("enter")
            screen = app.screen
            assert isinstance(screen, JobDetailsScreen)
            tasks = screen.tasks_table
            await until(pilot, lambda: tasks.row_count == 1)
            row = tasks.row_text(0)
            # Stopped at the pause: 9 minutes of run time, not 10; paused, not stalled.
            assert "⏸ paused" in row and "9m00s" in row and "▶" not in row, row
            assert "STALLED" not in screen_text(app)
            now[0] = NOW + 30  # time passes while it is paused: its clock stands still
            await pilot.pause(1.2)
            row = tasks.row_text(0)
            assert "⏸ paused" in row and "9m00s" in row, row
    finally:
        await svc.close()


async def stalled_details(pilot: Any, app: Any, table: Any) -> Any:
    """Open job 2's details from `table`; their table of tasks, once its task reads stalled."""
    table.select_job(2)
    await pilot.press("enter")
    screen = app.screen
    assert isinstance(screen, JobDetailsScreen)
    tasks = screen.tasks_table
    await until(pilot, lambda: tasks.row_count == 1 and "▶ stalled" in tasks.row_text(0))
    return tasks


async def test_a_job_whose_lease_passed_reads_agent_lost_unless_its_agent_renewed_it(
    store: tuple[Path, Path],
) -> None:
    db, config = store
    svc = await Service.open(db=str(db), config=str(config), user="alice")
    now = [NOW]
    app = make_app(svc, clock=lambda: now[0])
    app.engine_look_every = 0.2
    try:
        async with app.run_test(size=SIZE) as pilot:
            dash = await loaded(pilot)
            table = dash.table("inprogress")
            assert "▶ stalled" in row_text(table, 2)
            # The agent renews its lease (nothing of the job's row changes): still its, in
            # the row and in the details opened before, though the lease they read passed.
            tasks = await stalled_details(pilot, app, table)
            set_lease(db, NOW + 100)
            await pilot.pause(0.5)
            now[0] = NOW + 10  # past the lease the tasks were read with, not the renewed one
            await until(pilot, lambda: "▶ stalled" in tasks.row_text(0))
            await until(pilot, lambda: "▶ stalled" in row_text(table, 2))
            assert "AGENT LOST" not in screen_text(app) and "STALLED" in screen_text(app)
            # It stops renewing it: once the lease passed, no live agent holds the task, as
            # the details (open) and the row say, with nothing of the job's row changed.
            now[0] = NOW + 101
            await until(pilot, lambda: "AGENT LOST" in screen_text(app))
            await until(pilot, lambda: "▶ agent lost" in tasks.row_text(0))
            assert "STALLED" not in screen_text(app)
            await pilot.press("escape")
            await until(pilot, lambda: "▶ agent lost" in row_text(table, 2))
            await until(pilot, lambda: "In Progress (2)" in screen_text(app))
            # The header follows in the frame it is redrawn in (not the tab's).
            await until(pilot, lambda: "stalled" not in screen_text(app).splitlines()[0])
    finally:
        await svc.close()


async def test_a_short_lease_renewed_between_two_looks_never_reads_agent_lost(
    store: tuple[Path, Path],
) -> None:
    """With a short lease (`JOBDASH_LEASE=2`) the dashboard looked at the leases every 5 s:
    the one its row held ran out in between, though the agent renewed it, and the row said
    `▶ agent lost` while the header named the engine running and the title counted no
    stalled job. It looks again before a lease it holds runs out: the row stays stalled,
    as the title and the header's top line count it."""
    db, config = store  # job 2's lease ends at NOW + 5: read when the dashboard loads
    svc = await Service.open(db=str(db), config=str(config), user="alice")
    now = [NOW]
    app = make_app(svc, clock=lambda: now[0])
    app.engine_look_every = 60.0  # the leases it holds end long before its next look
    try:
        async with app.run_test(size=SIZE) as pilot:
            dash = await loaded(pilot)
            table = dash.table("inprogress")
            await until(pilot, lambda: "▶ stalled" in row_text(table, 2))
            await pilot.pause(1.2)  # the first look is in
            set_lease(db, NOW + 8)  # the agent renews it: nothing of the job's row changes
            now[0] = NOW + 4  # 1 s before the lease the row holds ends
            await pilot.pause(1.5)  # a second's tick
            now[0] = NOW + 6  # past that lease, not the renewed one
            await pilot.pause(1.2)  # a tick: the rows and the title told with that time
            assert "▶ stalled" in row_text(table, 2)
            assert "In Progress (2 · 1 stalled)" in screen_text(app)
            assert screen_text(app).splitlines()[0].count("1 stalled") == 1
            # The same in its details: their header and its task's row.
            tasks = await stalled_details(pilot, app, table)
            await pilot.pause(1.2)
            set_lease(db, NOW + 11)
            now[0] = NOW + 7  # 1 s before the lease the details hold ends
            await pilot.pause(1.5)
            now[0] = NOW + 9
            await pilot.pause(1.2)
            assert "AGENT LOST" not in screen_text(app) and "STALLED" in screen_text(app)
            assert "▶ stalled" in tasks.row_text(0)
    finally:
        await svc.close()


async def test_an_attached_dashboard_whose_engine_is_killed_says_agent_lost(
    tmp_path: Path, store_location: str
) -> None:
    with cluster_with(tmp_path, TYPES, store_location) as c:
        serve = c.start("one", kind="serve", env=FAST)
        job = c.run("silent")
        until_sync(lambda: c.q("SELECT pgid FROM tasks WHERE pgid IS NOT NULL"), 20, "runs")
        c.pids_to_kill += [int(r[0]) for r in c.q("SELECT pgid FROM tasks")]
        svc = await Service.open(db=c.db, config=str(c.cfg), user="root")
        app = make_app(svc, clock=time.time)
        app.engine_look_every = 0.2
        try:
            async with app.run_test(size=SIZE) as pilot:
                dash = await loaded(pilot)
                table = dash.table("inprogress")
                await until(pilot, lambda: "attached to engine one" in app.sub_title)
                await until(pilot, lambda: "▶ stalled" in row_text(table, job))
                os.kill(serve.pid, signal.SIGKILL)
                serve.wait()
                await until(pilot, lambda: "▶ agent lost" in row_text(table, job), 20)
                await until(pilot, lambda: "no engine running" in app.sub_title)
                assert "stalled" not in screen_text(app)
                table.select_job(job)
                await pilot.press("enter")
                screen = app.screen
                assert isinstance(screen, JobDetailsScreen)
                await until(pilot, lambda: "AGENT LOST" in screen_text(app))
                assert "recovered when an engine starts" in screen_text(app)
                tasks = screen.tasks_table
                await until(pilot, lambda: "▶ agent lost" in tasks.row_text(0))
        finally:
            await svc.close()


@pytest.fixture
def quiet_store(tmp_path: Path) -> tuple[Path, Path]:
    """Job 1 running for 10 minutes, of a type with no `stall_after` (nor history), its
    agent alive."""
    config = write_config(tmp_path, '[types.silent]\ncommand = ["sleep", "600"]\n')
    db = tmp_path / "quiet.db"
    build_store(db, config, [_running("running")])
    con = sqlite3.connect(db)
    with con:
        con.execute(
            "UPDATE tasks SET status = 'running', attempt = 1, agent = 'a', started = ?, "
            "lease_until = ?",
            (NOW - 600, NOW + 1000),
        )
    con.close()
    return db, config


async def test_a_running_tasks_time_moves_with_the_clock_as_the_headers_does(
    quiet_store: tuple[Path, Path],
) -> None:
    """The details' header counted a running job's time on with the clock while its task's
    row stood still (a type with no `stall_after`: its rows were drawn again only when the
    tasks were read again), `elapsed 10m30s` above a task of `10m00s`."""
    now = [NOW]
    async with dashboard_at(*quiet_store, now) as (app, pilot):
        dash = await loaded(pilot)
        dash.table("inprogress").select_job(1)
        await pilot.press("enter")
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        tasks = screen.tasks_table
        await until(pilot, lambda: tasks.row_count == 1 and "10m00s" in tasks.row_text(0))
        assert "elapsed 10m00s" in screen_text(app)
        now[0] = NOW + 30
        await until(pilot, lambda: "elapsed 10m30s" in screen_text(app))
        await until(pilot, lambda: "10m30s" in tasks.row_text(0))


@contextlib.asynccontextmanager
async def dashboard_at(db: Path, config: Path, now: list[float]) -> AsyncIterator[Any]:
    """The dashboard on `db` as alice, its clock at `now[0]`: its app and pilot."""
    svc = await Service.open(db=str(db), config=str(config), user="alice")
    app = make_app(svc, clock=lambda: now[0])
    try:
        async with app.run_test(size=SIZE) as pilot:
            yield app, pilot
    finally:
        await svc.close()
