"""The dashboard's window reads on SQLite (a page, a count of the Completed tab): on a
connection of their own, and a read whose caller is cancelled (a filter key typed meanwhile)
is interrupted in SQLite, so that the next one does not wait for it. A free word of one or
two letters reads every finished job (seconds at 10,000,000 jobs): the next key waited.

Real SQLite files and real reads; SQL functions registered on the connections tell the test
when a read is under way in the connection's thread, and how often it started."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from jobdash.core.query import Query
from jobdash.core.service import Service
from jobdash.core.store.faults import StoreError
from jobdash.core.store.records import JobFilter
from jobdash.core.store.sqlite import SqliteStore
from jobdash.core.store.sqlite.db import Reader

WAIT = 10.0  # seconds at most for what takes milliseconds (a hung test fails)
# Rows counted one by one; `mark(x)` is called for each (it tells when the read started).
COUNTED = (
    "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c WHERE x < {n}) "
    "SELECT count(*) FROM c WHERE mark(x)"
)
ENDLESS = COUNTED.format(n=10**12)  # hours


class Marks:
    """A SQL function `mark(x)`: counts the reads that started (x = 1) and lets the test
    wait for the next start."""

    def __init__(self) -> None:
        self.starts = 0
        self.started = threading.Event()

    def __call__(self, x: int) -> int:
        if x == 1:
            self.starts += 1
            self.started.set()
        return 1

    async def wait(self) -> None:
        assert await asyncio.to_thread(self.started.wait, WAIT), "the read did not start"
        self.started.clear()

    async def on(self, reader: Reader) -> Marks:
        await reader.con.create_function("mark", 1, self)
        return self


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    s = await SqliteStore.open(tmp_path / "store.db")
    yield s
    for reader in (s.db.reader, await s.db.window_reader()):
        await reader.con.interrupt()  # a read left running would hold close() for hours
    await s.close()


async def test_a_cancelled_window_read_stops_and_the_next_one_runs_at_once(
    store: SqliteStore,
) -> None:
    marks = await Marks().on(await store.db.window_reader())
    endless = asyncio.create_task(store.db.fetchall(ENDLESS, window=True))
    await marks.wait()
    endless.cancel()
    rows = await asyncio.wait_for(store.db.fetchall("SELECT 42", window=True), WAIT)
    assert rows[0][0] == 42
    with pytest.raises(asyncio.CancelledError):
        await endless
    assert marks.starts == 1  # cancelled: not run again


async def test_a_window_read_cut_short_for_another_runs_again(store: SqliteStore) -> None:
    """The interrupt of a cancelled read may land on the read after it: that one is read
    again, whole, and its caller sees only its rows."""
    reader = await store.db.window_reader()
    marks = await Marks().on(reader)
    read = asyncio.create_task(store.db.fetchall(COUNTED.format(n=200_000), window=True))
    await marks.wait()
    await reader.con.interrupt()  # as a cancelled read before it would
    rows = await asyncio.wait_for(read, WAIT)
    assert rows[0][0] == 200_000
    assert marks.starts == 2


async def test_an_interrupt_is_a_failure_of_any_other_read(store: SqliteStore) -> None:
    """The other reads (the change feed, the CLI's) are never interrupted by jobdash: one
    that is, by anything, fails as any store error does instead of running again."""
    marks = await Marks().on(store.db.reader)
    read = asyncio.create_task(store.db.fetchall(ENDLESS))
    await marks.wait()
    await store.db.reader.con.interrupt()
    with pytest.raises(StoreError, match="interrupted"):
        await asyncio.wait_for(read, WAIT)
    assert marks.starts == 1


async def test_the_completed_window_does_not_wait_behind_other_reads(db_path: Path) -> None:
    """While a long read holds the store's reader connection, the Completed tab's count
    (the service's) and its pages' rows (a window filter's) come from their own."""
    svc = await Service.open(db=str(db_path), user="root")
    try:
        db = svc.store.db  # type: ignore[attr-defined]  # the SQLite store's
        marks = await Marks().on(db.reader)
        long = asyncio.create_task(db.fetchall(ENDLESS))
        await marks.wait()
        count = await asyncio.wait_for(svc.count_finished(Query()), WAIT)
        window = JobFilter(Query(), active=False, limit=10, window=True)
        rows = await asyncio.wait_for(svc.store.list_jobs(window), WAIT)
        assert (count, rows) == (0, [])
        assert not long.done()
        await db.reader.con.interrupt()
        with pytest.raises(StoreError):
            await long
    finally:
        await svc.close()
