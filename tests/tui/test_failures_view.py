"""The Failures tab and a failure group's screen, driven as a person would: `5` lists the
groups (the one seen last first, counts, types, times, a trend), `/` narrows them with the
filter language, `enter` shows a group's tasks and the end of the latest attempt's log,
`R` asks naming the counts and retries exactly the group's failed tasks; error text is
shown inert. Snapshots of both at 120×40.

The failed attempts are written with SQL into the harness's store (fixed times, around the
frozen clock), on tasks made failed the same way: tests may touch the store directly.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from jobdash.core.fingerprint import fingerprint, normalise
from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.service import Service
from jobdash.tui.app import JobdashApp
from jobdash.tui.dialogs.confirm import ConfirmScreen
from jobdash.tui.screens.failure_group import FailureGroupScreen
from jobdash.tui.widgets.failures_pane import FailuresPane
from tests.tui.app_harness import NOW, build_store, frozen, frozen_app, screen_text, write_config
from tests.tui.test_snapshots import _utc as _utc  # the pictures' zone: UTC

SIZE = (120, 40)
PSQL = (
    'exit 2: psql: error: connection to server at "db1.internal" (10.0.4.21), port 5432 '
    "failed: Connection refused"
)
DATE = "exit 3: row {row}: invalid date '{date}' in /srv/in/old/{name}.csv"
EVIL = "exit 1: \x1b[2J[bold red]pwned[/] \x07 tool said"

# (job id, task seq, attempt, seconds before NOW, error): jobs of the harness's store.
# Job 2 (export-report, bob, failed): its task failed 3 times, 20 h to 2 h ago, psql down.
# Job 4 (import-files, carol, cancelled): tasks 1 and 3 failed of bad dates, task 2 ran
# into one once and then succeeded; task 4 failed with an error full of escapes.
# Job 1 (import-files, alice, succeeded): task 1 failed once of a bad date, then succeeded.
ATTEMPTS = [
    (2, 1, 1, 72000, PSQL),
    (2, 1, 2, 36000, PSQL.replace("db1", "db2")),
    (2, 1, 3, 7000, PSQL),
    (4, 1, 1, 3990, DATE.format(row=162, date="31/02/2026", name="b-003")),
    (4, 2, 1, 3980, DATE.format(row=9, date="30/02/2026", name="b-017")),
    (4, 3, 1, 3950, DATE.format(row=12, date="31/04/2026", name="b-020")),
    (4, 4, 1, 3940, EVIL),
    (1, 1, 1, 86000, DATE.format(row=3, date="29/02/2026", name="a")),
]
FAILED_NOW = {(2, 1), (4, 1), (4, 3), (4, 4)}  # (job, seq) of the tasks failed now


def seed_failures(db: Path) -> None:
    con = sqlite3.connect(db)
    seen: set[tuple[str, str, int]] = set()  # the firsts of a task, of a job, in a cause
    with con:
        for job_id, seq, attempt, ago, error in ATTEMPTS:
            task_id, type_, user = con.execute(
                "SELECT t.id, j.type, j.user FROM tasks t JOIN jobs j ON j.id = t.job_id "
                "WHERE t.job_id = ? AND t.seq = ?",
                (job_id, seq),
            ).fetchone()
            fp = fingerprint(error)
            new_task, new_job = (
                (("task", fp, task_id) not in seen),
                (("job", fp, job_id) not in seen),
            )
            seen |= {("task", fp, task_id), ("job", fp, job_id)}
            con.execute(
                "INSERT INTO failures (job_id, task_id, attempt, ts, fingerprint, message, "
                "error, type, user, new_task, new_job) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (job_id, task_id, attempt, NOW - ago, fp, normalise(error),
                 error, type_, user, new_task, new_job),
            )  # fmt: skip
            said = error.split(": ", 1)[-1]
            con.executemany(
                "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(job_id, task_id, NOW - ago - 2, "stdout", f"attempt {attempt}: starting", attempt),
                 (job_id, task_id, NOW - ago, "stderr", said, attempt)],
            )  # fmt: skip
            failed = (job_id, seq) in FAILED_NOW
            con.execute(
                "UPDATE tasks SET status = ?, attempt = max(attempt, ?), error = ?, "
                "finished = ? WHERE id = ?",
                ("failed" if failed else "succeeded", attempt, error if failed else "",
                 NOW - ago, task_id),
            )  # fmt: skip
    con.close()


@pytest.fixture
def store(tmp_path: Path) -> tuple[Path, Path]:
    config = write_config(tmp_path)
    db = tmp_path / "failures.db"
    build_store(db, config)
    seed_failures(db)
    return db, config


@pytest.fixture
async def service(store: tuple[Path, Path]) -> AsyncIterator[Callable[..., Awaitable[Service]]]:
    opened: list[Service] = []

    async def open_(user: str = "alice", read_only: bool = False) -> Service:
        db, config = store
        svc = await Service.open(db=str(db), config=str(config), user=user, read_only=read_only)
        opened.append(svc)
        return svc

    yield open_
    for svc in reversed(opened):
        await svc.close()


async def until(pilot: Pilot[Any], cond: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out; screen:\n{screen_text(pilot.app)}")
        await pilot.pause(0.02)


async def failures_tab(pilot: Pilot[Any]) -> FailuresPane:
    """Press 5 and wait for the groups."""
    app = pilot.app
    await until(pilot, lambda: getattr(app.screen_stack[0], "loaded", False))
    await pilot.press("5")
    pane = app.screen_stack[0].query_one(FailuresPane)
    await until(pilot, lambda: pane.loaded)
    await pilot.pause()
    return pane


async def open_group(pilot: Pilot[Any]) -> FailureGroupScreen:
    """Press 5, enter on the second group (the bad dates), and wait for its four tasks."""
    await failures_tab(pilot)
    await pilot.press("down", "enter")
    await until(pilot, lambda: isinstance(pilot.app.screen, FailureGroupScreen))
    screen = pilot.app.screen
    assert isinstance(screen, FailureGroupScreen)
    await until(pilot, lambda: screen.table.row_count == 4)
    return screen


def make_app(svc: Service) -> JobdashApp:
    return JobdashApp(svc, embedded_engine=False, clock=frozen(), watch_interval=0.05)


async def test_the_tab_lists_groups_and_the_filter_narrows_them(service: Any) -> None:
    app = make_app(await service())
    async with app.run_test(size=SIZE) as pilot:
        pane = await failures_tab(pilot)
        table = pane.table
        assert table.has_focus
        # Seen last first: the escapes (job 4, 3940 s ago), the bad dates, psql.
        rows = [table.row_text(i) for i in range(table.row_count)]
        assert len(rows) == 3, rows
        assert "pwned" in rows[0]
        assert rows[1].split()[1:4] == ["4", "4", "2"]  # 4 attempts of 4 tasks in 2 jobs
        assert "exit 3: row <n>: invalid date '<q>' in <path>" in rows[1]
        assert rows[2].split()[1:4] == ["3", "1", "1"] and "psql: error" in rows[2]
        # The cursor group, said whole under the table.
        info = screen_text(app)
        assert f"group {fingerprint(EVIL)}" in info and "types: import-files 1" in info
        # Shown inert: the escape and the bell as stand-ins, the markup as text.
        assert "exit 1: ␛[<n>J[bold red]pwned[<path>] ␇ tool said" in info
        assert "\x1b" not in info and "\x07" not in info

        await pilot.press("slash", *"type:export")
        await until(pilot, lambda: table.row_count == 1)
        assert "psql: error" in table.row_text(0)
        await pilot.press("escape")  # the filter bar closes, its filter stays
        await pilot.press("escape")  # cleared
        await until(pilot, lambda: table.row_count == 3)
        await pilot.press("slash", *'"invalid date"')  # words in the message too
        await until(pilot, lambda: table.row_count == 1)


async def test_enter_shows_the_groups_tasks_and_a_sample_log(service: Any) -> None:
    svc = await service()
    job4 = {t.seq: t for t in await svc.tasks(4)}
    await svc.store.append_log(4, job4[1].id, "stdout", "reading /srv/in/old/b-003.csv", 1)
    await svc.store.append_log(4, job4[1].id, "stderr", "row 162: invalid date", 1)
    await svc.store.flush()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        screen = await open_group(pilot)
        # The latest failed first: job 4's task 3, then 2 (succeeded since), then 1, and
        # job 1's task, which failed a day ago.
        rows = [screen.table.row_text(i).split()[:3] for i in range(4)]
        assert rows == [["4", "import-files", "#3"], ["4", "import-files", "#2"],
                        ["4", "import-files", "#1"], ["1", "import-files", "#1"]]  # fmt: skip
        await pilot.press("down", "down")  # job 4's task 1: its log
        await until(pilot, lambda: "row 162: invalid date" in screen_text(app))
        text = screen_text(app)
        assert "sample: job 4 task #1, the end of attempt 1" in text
        assert "reading /srv/in/old/b-003.csv" in text
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, FailureGroupScreen))


async def test_R_asks_naming_the_counts_and_retries_exactly_the_groups_tasks(
    service: Any,
) -> None:
    svc = await service()
    app = make_app(svc)
    async with app.run_test(size=SIZE) as pilot:
        await failures_tab(pilot)
        await pilot.press("down", "R")  # the bad dates: tasks 1 and 3 of job 4 are failed
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        confirm = app.screen
        assert isinstance(confirm, ConfirmScreen)
        assert confirm.question == "Retry 2 failed tasks of 1 job?"
        assert "2 other tasks of the group stay as they are" in screen_text(app)
        assert app.focused is not None and app.focused.id == "no"
        await pilot.press("y")
        await until(pilot, lambda: not isinstance(app.screen, ConfirmScreen))
        await until(pilot, lambda: any("Retrying 2 failed tasks" in str(n.message)
                                       for n in app._notifications))  # fmt: skip
    tasks = {t.seq: t.status for t in await svc.tasks(4)}
    assert tasks == {
        1: TaskStatus.PENDING,
        2: TaskStatus.SUCCEEDED,
        3: TaskStatus.PENDING,
        4: TaskStatus.FAILED,  # another cause: left as it is
    }
    assert (await svc.job(4)).status is JobStatus.QUEUED
    assert {t.status for t in await svc.tasks(2)} == {TaskStatus.FAILED}  # another group


async def test_a_user_sees_the_groups_of_their_own_jobs_and_read_only_refuses(
    service: Any,
) -> None:
    bob = await service(user="bob", read_only=True)
    app = make_app(bob)
    async with app.run_test(size=SIZE) as pilot:
        pane = await failures_tab(pilot)
        assert pane.table.row_count == 1 and "psql: error" in pane.table.row_text(0)
        await pilot.press("R")  # read-only: no question, the service's refusal
        await until(pilot, lambda: any("read-only" in str(n.message)
                                       for n in app._notifications))  # fmt: skip
        assert not isinstance(app.screen, ConfirmScreen)
    assert {t.status for t in await bob.tasks(2)} == {TaskStatus.FAILED}


# --------------------------------------------------------------------------- snapshots


@pytest.fixture
def snap_app(store: tuple[Path, Path]) -> JobdashApp:
    app: JobdashApp = frozen_app(*store)
    return app


async def settle(pilot: Pilot[Any]) -> None:
    await failures_tab(pilot)


def test_failures_tab(snap_compare: Any, snap_app: JobdashApp) -> None:
    assert snap_compare(snap_app, terminal_size=SIZE, run_before=settle)


def test_failure_group_screen(snap_compare: Any, snap_app: JobdashApp) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await open_group(pilot)
        await pilot.pause(0.2)

    assert snap_compare(snap_app, terminal_size=SIZE, run_before=run_before)


async def test_at_80x24_the_groups_tasks_show_and_the_sample_says_levels_in_words(
    service: Any,
) -> None:
    """At 80x24 the sample gives way to the tasks (the walk-through found the table one
    empty row high there: the cursor moved unseen), and the sample's lines start with the
    log pane's gutter, `!` an error, as colour alone says nothing under NO_COLOR."""
    svc = await service()
    job4 = {t.seq: t for t in await svc.tasks(4)}
    await svc.store.append_log(4, job4[1].id, "stderr", "warning: 2 rows skipped", 1)
    await svc.store.flush()
    app = make_app(svc)
    async with app.run_test(size=(80, 24)) as pilot:
        screen = await open_group(pilot)
        await pilot.pause()
        assert screen.table.scrollable_content_region.height >= 1 + 4  # header, every task
        await pilot.press("down", "down")  # job 4's task 1, in sight
        await until(pilot, lambda: "sample: job 4 task #1" in screen_text(app))
        await pilot.pause()
        text = screen_text(app).splitlines()
        assert any(row.split()[:3] == ["4", "#1", "a.csv"] for row in text)
        levels = [row for row in text if "row 162" in row or "2 rows skipped" in row]
        assert {row[0] for row in levels} == {"!", "⚠"}  # the gutter, then the time
        assert all(row[1:3].isdigit() for row in levels)
        assert any(row.startswith(" 13:") and "attempt 1: starting" in row for row in text)
