"""Quitting before the embedded engine has started. The dashboard starts its engine once
its first frame is drawn, so a user who presses `q` at once quits while the start is still
to come or under way. Nothing of the engine may outlive `Service.close`: a start that went
on past it gave the closed store a scheduler, whose first lease failed with a traceback
over the terminal just restored. Nor may quitting wait for the start: its first write
waits for the store's whole-file check, seconds on a store of millions of jobs."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from textual import events

from jobdash.core.service import Service
from jobdash.core.store.sqlite import SqliteStore
from jobdash.tui.app import JobdashApp
from tests.test_check_under_way import check_ends, check_started, checks_take_long
from tests.test_store_faults import CONFIG, fill_store
from tests.tui.pty_harness import plain, quit_on_pty
from tests.tui.test_window import seed

TIMEOUT = 10  # quitting waits for nothing slow: a hang fails the test
SCHEDULER_POLL = 1.0  # `core.scheduler.POLL`: a scheduler tries its lease within it


def engine_tasks() -> list[str]:
    """The engine's and scheduler's loops still running in this process."""
    return sorted(
        name
        for task in asyncio.all_tasks()
        if (name := task.get_name()).startswith("jobdash-") and not task.done()
    )


async def a_store(tmp_path: Path) -> tuple[Path, Path]:
    """A store of 3 jobs, and its config."""
    db, config = tmp_path / "store.db", tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    await fill_store(db, 3)
    return db, config


async def live_agents(db: Path) -> list[str]:
    """The engines the store holds for running (not stopped: gone offline)."""
    store = await SqliteStore.open(db)
    try:
        return [info.name for info, _ in await store.agents() if info.state != "offline"]
    finally:
        await store.close()


@pytest.mark.parametrize("after", [0.4, "In Progress"])
def test_q_pressed_as_the_dashboard_opens_quits_at_once_and_cleanly(
    tmp_path: Path, after: float | str
) -> None:
    """The real `jobdash` on a terminal, `q` typed before the first frame and as it shows:
    it ends with status 0, within seconds, and writes no traceback. With a history of
    3,000 jobs to read meanwhile, the start that went on past `close` wrote one about
    once in six runs here; the tests below meet that race every time."""
    db, config = asyncio.run(a_store(tmp_path))
    seed(db, 3000)
    status, written = quit_on_pty(["--db", str(db), "--config", str(config)], tmp_path, after)
    text = plain(written)
    assert "Traceback" not in text and "failed" not in text, text[-2000:]
    assert status == 0, text[-2000:]


async def test_q_read_as_the_first_frame_is_drawn_leaves_no_engine_running(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """`q` read around the first frame's callbacks (typed as the dashboard opens): the
    app ends, `jobdash` closes the service (`tui/run.py`), and nothing of an engine runs
    on, over the closed store: no engine started then (read before the callbacks, which
    `Textual` still runs after exit), or the one under way stopped (read after)."""
    caplog.set_level(logging.ERROR)
    db, config = await a_store(tmp_path)
    svc = await Service.open(db=str(db), config=str(config))
    app = JobdashApp(svc, embedded_engine=True, engine_slots=1)
    try:
        async with app.run_test(size=(120, 40)):
            app.post_message(events.Key("q", "q"))  # not waited for, as a pilot's press is
            async with asyncio.timeout(TIMEOUT):
                while app.return_code is None:
                    await asyncio.sleep(0.01)
        assert app.return_code == 0 and app.engine_failure is None
    finally:
        await asyncio.wait_for(svc.close(), TIMEOUT)
    await asyncio.sleep(SCHEDULER_POLL * 1.5)  # what was left running has run by now
    assert svc.scheduler is None
    assert engine_tasks() == []
    assert [r.getMessage() for r in caplog.records] == []  # "lease renewal failed", …
    assert await live_agents(db) == []


@pytest.mark.usefixtures(checks_take_long.__name__)
async def test_close_ends_a_start_under_way_without_waiting_for_it(tmp_path: Path) -> None:
    """The start waits for the store's whole-file check (held here, as a store of millions
    of jobs holds it for seconds): `close` ends the start and returns at once, and when the
    check ends, nothing starts."""
    db, config = await a_store(tmp_path)
    ahead = check_started(db)
    svc = await Service.open(db=str(db), config=str(config))
    start = asyncio.ensure_future(svc.start_engine(slots=1))
    await asyncio.sleep(0.3)
    assert not start.done()  # its first write waits for the check's verdict
    try:
        await asyncio.wait_for(svc.close(), TIMEOUT)
        assert start.cancelled()
    finally:
        check_ends(ahead, db)
        await asyncio.wait([start], timeout=TIMEOUT)
    await asyncio.sleep(SCHEDULER_POLL * 1.5)
    assert engine_tasks() == []
    assert svc.scheduler is None
    assert await live_agents(db) == []
