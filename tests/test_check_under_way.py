"""A store whose whole-file check is still under way when it is opened (the dashboard starts
it ahead, and on a store of millions of jobs it takes seconds): the store reads at once,
writes nothing until the verdict is in, and a store found damaged is written no more. The
dashboard draws meanwhile, starts its engine once the store has passed, and ends (exit 2,
the store's one line) when it has not.

The check ahead is the test's own `Future` in `files._ahead`, finished by the real check
(`files._read_version`) when the test says so: the moment a slow check would end."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
import threading
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest

from jobdash.core.service import Service
from jobdash.core.store.engine_records import NewJob
from jobdash.core.store.faults import StoreError
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sqlite import SqliteStore, files
from jobdash.tui.app import JobdashApp
from jobdash.tui.screens import dashboard as dashboard_module
from tests.test_store_faults import CONFIG, digest, fill_store, new_job, noise
from tests.tui.app_harness import build_store, screen_text, write_config
from tests.tui.pane_harness import until
from tests.tui.test_app import loaded
from tests.tui.test_window import seed

TIMEOUT = 30


@pytest.fixture(autouse=True)
def checks_take_long(monkeypatch: pytest.MonkeyPatch) -> None:
    """The test's small stores are judged as a store of millions of jobs is: drawn and read
    while their check goes on (a small one is checked again at opening instead)."""
    monkeypatch.setattr(files, "CHECK_AT_OPEN_BELOW", 0)


def check_started(db: Path) -> Future[int | None]:
    """A check of `db` started ahead and still reading, as `files.check_ahead` leaves it."""
    ahead: Future[int | None] = Future()
    files._ahead[str(db)] = (files._identity(db), ahead)
    return ahead


def check_ends(ahead: Future[int | None], db: Path) -> None:
    """The check ahead reads the file as it is now and gives its verdict."""

    def check() -> None:
        try:
            ahead.set_result(files._read_version(db, True))
        except BaseException as e:
            ahead.set_exception(e)

    threading.Thread(target=check).start()


def damage(db: Path, pages: slice | None = None) -> None:
    """Noise over a page in the middle of the store's file (or over each of `pages`,
    a slice of its pages counted from 0), under its connections."""
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    page_size, count = (
        con.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_size", "page_count")
    )
    con.close()
    with db.open("r+b") as f:
        for page in range(count)[pages or slice(count // 2, count // 2 + 1)]:
            f.seek(page_size * page)
            f.write(noise(page_size))


def a_job() -> NewJob:
    return new_job(0, tasks=0)


def jobs_in(db: Path) -> int:
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return int(con.execute("SELECT count(*) FROM jobs").fetchone()[0])
    finally:
        con.close()


async def test_the_store_reads_at_once_and_writes_once_it_has_passed(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    await fill_store(db, 5)
    ahead = check_started(db)
    store = await SqliteStore.open(db)  # the check has not ended: opening did not wait
    try:
        assert len(await store.list_jobs(JobFilter())) == 5
        write = asyncio.ensure_future(store.create_job(a_job(), audit_user="root"))
        await asyncio.sleep(0.5)
        assert not write.done() and jobs_in(db) == 5  # waits for the verdict
        check_ends(ahead, db)
        await asyncio.wait_for(write, TIMEOUT)
        assert jobs_in(db) == 6 and not store.damaged.is_set()
    finally:
        await store.close()


@pytest.mark.parametrize("when", ["found by the check", "after the check passed"])
async def test_a_store_found_damaged_meanwhile_is_written_no_more(
    tmp_path: Path, when: str
) -> None:
    """Found by the check, or done to the file after the check passed on it (a failing
    disk): the verdict is not the check's then, the file is checked again."""
    db = tmp_path / "store.db"
    await fill_store(db, 60)
    ahead = check_started(db)
    store = await SqliteStore.open(db)
    try:
        write = asyncio.ensure_future(store.create_job(a_job(), audit_user="root"))
        if when == "after the check passed":
            version = files._read_version(db, True)
            damage(db)
            ahead.set_result(version)
        else:
            damage(db)
            check_ends(ahead, db)
        before = digest(db)
        await asyncio.wait_for(store.damaged.wait(), TIMEOUT)
        with pytest.raises(StoreError, match="the store is damaged"):
            await write
        with pytest.raises(StoreError, match="the store is damaged"):
            await store.create_job(a_job(), audit_user="root")
    finally:
        with pytest.raises(StoreError, match="the store is damaged"):
            await store.close()  # says why, as an engine's last line does
    assert digest(db) == before


async def open_dashboard(tmp_path: Path) -> tuple[Path, Future[int | None], JobdashApp]:
    db, config = tmp_path / "store.db", tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    await fill_store(db, 60)
    ahead = check_started(db)
    svc = await Service.open(db=str(db), config=str(config))
    return db, ahead, JobdashApp(svc, embedded_engine=True, engine_slots=1)


async def test_the_dashboard_draws_first_and_starts_its_engine_once_the_store_passed(
    tmp_path: Path,
) -> None:
    db, ahead, app = await open_dashboard(tmp_path)
    svc = app.service
    try:
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: "In Progress (60)" in screen_text(app))
            await pilot.pause(0.3)
            assert svc.engine is None  # its first write waits for the verdict
            check_ends(ahead, db)
            await until(pilot, lambda: "embedded" in app.sub_title)
            assert svc.engine is not None and svc.engine.name in app.sub_title
            assert not app._exit
    finally:
        await svc.close()


@pytest.mark.parametrize("read_first", [False, True])
async def test_the_dashboard_ends_in_the_stores_line_when_it_is_found_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, read_first: bool
) -> None:
    """Also when the damage is met first by the dashboard's own read of the history (its
    count, once the first page settled), before the whole-file check's verdict.

    That count is held until the file is damaged: it follows the first page by a fixed
    pause, which a loaded machine can spend before the test has even seen the page."""
    db, ahead, app = await open_dashboard(tmp_path)
    svc = app.service
    damaged_now = asyncio.Event()
    if read_first:
        count_finished = svc.count_finished

        async def count_once_damaged(*args: Any, **kwargs: Any) -> int:
            await damaged_now.wait()
            return await count_finished(*args, **kwargs)

        monkeypatch.setattr(svc, "count_finished", count_once_damaged)
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: "In Progress (60)" in screen_text(app))
        damage(db)
        before = digest(db)
        damaged_now.set()
        if read_first:
            await until(pilot, svc.damaged.is_set)  # found by the count
        check_ends(ahead, db)
        await until(pilot, lambda: app._exit)
    assert app.return_code == 2
    assert svc.engine is None  # none was started on a damaged store
    with pytest.raises(StoreError, match="the store is damaged"):
        await svc.close()  # the line `jobdash` prints (exit 2)
    assert digest(db) == before


async def test_a_windowed_history_that_meets_the_damage_ends_in_the_stores_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A long history is a window onto the store: its count and its pages are read by the
    table's own workers (a filter typed, the end key), and one of them may meet the damage
    before the whole-file check's verdict. The dashboard still ends in the store's line."""
    monkeypatch.setattr(dashboard_module, "WINDOW_ABOVE", 50)
    db = tmp_path / "store.db"
    config = write_config(tmp_path)
    await asyncio.to_thread(build_store, db, config)
    seed(db, 3000)
    ahead = check_started(db)
    svc = await Service.open(db=str(db), config=str(config), user="alice")
    app = JobdashApp(svc, embedded_engine=True, engine_slots=1)
    async with app.run_test(size=(120, 40)) as pilot:
        dash = await loaded(pilot)
        assert dash.completed.windowed
        await pilot.press("2")
        damage(db, pages=slice(2, None, 5))  # wherever the window reads
        before = digest(db)
        await pilot.press("end")  # an exact count, then the oldest page from the far end
        await until(pilot, svc.damaged.is_set)  # found by the window's reads
        check_ends(ahead, db)
        await until(pilot, lambda: app._exit)
    assert app.return_code == 2
    assert svc.engine is None
    with pytest.raises(StoreError, match="the store is damaged"):
        await svc.close()
    assert digest(db) == before


async def test_an_engine_that_cannot_start_ends_the_dashboard_with_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The store passed, but the engine did not start (another process held the store's
    write lock for 30 s, say: stood in for here, a real one takes that long): the dashboard
    ends, exit 2, and the reason is said in one line once the terminal is back, as it was
    when the engine started before the dashboard (`tui/run.py` raises `engine_failure`)."""
    db, ahead, app = await open_dashboard(tmp_path)
    svc = app.service
    held = StoreError(f"{db}: another process held the store's write lock for 30 s")

    async def locked(*args: object, **kwargs: object) -> None:
        raise held

    monkeypatch.setattr(svc, "start_engine", locked)
    try:
        check_ends(ahead, db)
        async with app.run_test(size=(120, 40)) as pilot:
            await until(pilot, lambda: app._exit)
        assert app.return_code == 2 and app.engine_failure is held
        assert not svc.damaged.is_set()
    finally:
        await svc.close()


@pytest.mark.skipif(sys.platform != "linux", reason="a thread's own nice value is Linux's")
def test_the_whole_file_check_runs_at_the_lowest_priority_and_the_rest_does_not() -> None:
    """The check ahead (and its verdict) read gigabytes on a store of millions of jobs: at
    nice 19 it gives the dashboard's first frame the CPU; the dashboard's own threads keep
    theirs."""
    before = os.getpriority(os.PRIO_PROCESS, 0)
    seen: Future[tuple[str, int]] = Future()

    def work() -> None:
        me = threading.current_thread().name
        seen.set_result((me, os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))

    files.in_background(work, "jobdash-store-check")
    assert seen.result(TIMEOUT) == ("jobdash-store-check", 19)
    assert os.getpriority(os.PRIO_PROCESS, 0) == before  # this thread: as it was
    after: Future[int] = Future()
    threading.Thread(target=lambda: after.set_result(os.getpriority(os.PRIO_PROCESS, 0))).start()
    assert after.result(TIMEOUT) == before  # a new thread: as it was
