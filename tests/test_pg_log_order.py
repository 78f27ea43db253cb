"""Following a log on PostgreSQL while two processes write one job's lines at once (its
tasks on two hosts), on a real server (`JOBDASH_TEST_PG`). A line gets its `seq` from a
sequence when it is inserted, not when it commits, and a follower (`LogFeed`, over
`Service.logs`) reads past the last `seq` it gave: two transactions that committed in the
other order than they were numbered would have a follower that read in between pass over
the lower lines for good. Two raw transactions show that it happens; jobdash's own writers
cannot do it: every write transaction that inserts lines (`Db.write`: the flusher's COPY,
the system lines) takes the store's advisory lock exclusively first and holds it to its
commit, so a second writer of any process numbers no line before the first has committed.
(Claims and batches of outcomes without lines take it shared and run side by side: they
number no line, see postgres/db.py.)
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import psycopg
import pytest

from jobdash.core.model import LogLine
from jobdash.core.service import LogFeed, Service
from jobdash.core.store.base import open_store
from jobdash.core.store.postgres.store import PostgresStore
from tests.pg import fresh_pg_store
from tests.store_contract.jobs import DEADLINE, until

CONFIG = '[types.two]\ncommand = ["true"]\nitems = ["a", "b"]\n'
INSERT = (
    "INSERT INTO logs (job_id, task_id, ts, stream, text, attempt) VALUES (%s, %s, 0, %s, %s, 1)"
)


@pytest.fixture
def location(request: pytest.FixtureRequest) -> str:
    return fresh_pg_store(request)


@pytest.fixture
async def svc(location: str, write_config: Callable[[str], Path]) -> AsyncIterator[Service]:
    service = await Service.open(db=location, config=str(write_config(CONFIG)))
    yield service
    await service.close()


async def two_tasks(svc: Service) -> tuple[int, list[int]]:
    """A queued job of two tasks (no engine runs it): the two writers' lines go to it."""
    job = (await svc.submit("two")).id
    return job, [t.id for t in await svc.tasks(job)]


def texts(lines: list[LogLine]) -> list[str]:
    return [line.text for line in lines]


async def test_two_transactions_committed_out_of_order_make_a_follower_skip_a_line(
    location: str, svc: Service
) -> None:
    """The hazard, with two raw transactions that do not take the lock: "a" is numbered
    before "b" and commits after it; the follower that read "b" never shows "a"."""
    job, tasks = await two_tasks(svc)
    feed = LogFeed(svc, [job])
    with psycopg.connect(location) as first, psycopg.connect(location) as second:
        first.execute(INSERT, (job, tasks[0], "stdout", "a"))
        second.execute(INSERT, (job, tasks[1], "stdout", "b"))
        second.commit()
        assert texts(await feed.read()) == ["b"]
        first.commit()
        assert await feed.read() == []  # "a" is below the feed's cursor: passed over
    assert texts(await LogFeed(svc, [job]).read()) == ["a", "b"]  # though it is there


async def test_two_processes_writers_number_lines_in_commit_order(
    location: str, svc: Service
) -> None:
    """The same two writers as two processes' stores write (`Db.write`, the flusher's COPY):
    while the first holds its transaction open with "a" inserted, the second waits for the
    store's lock (blocked by the first, before any line of it is numbered), so a follower
    reading then sees neither, and after both commits it gets both, "a" first; the first
    process's next line comes after them."""
    job, tasks = await two_tasks(svc)
    feed = LogFeed(svc, [job])
    first, second = await open_store(location), await open_store(location)
    assert isinstance(first, PostgresStore) and isinstance(second, PostgresStore)
    inserted, release = threading.Event(), threading.Event()

    def writes(store: PostgresStore, task: int, text: str) -> Callable[[Any, int, float], None]:
        """A write transaction of `store` putting one line in, by the flusher's COPY."""
        return lambda con, rev, now: store.flusher.insert_logs(
            con, [(job, task, now, "stdout", text, 1)]
        )

    def hold(con: Any, rev: int, now: float) -> None:
        writes(first, tasks[0], "a")(con, rev, now)
        inserted.set()
        release.wait(DEADLINE)

    async def inserted_a() -> bool:
        return inserted.is_set()

    held_pid = first.db.writer.info.backend_pid
    waiting_pid = second.db.writer.info.backend_pid

    async def waits_or_wrote() -> bool:
        if later.done():
            return True
        with psycopg.connect(location, autocommit=True) as con:
            row = con.execute("SELECT pg_blocking_pids(%s)", (waiting_pid,)).fetchone()
        return row is not None and held_pid in row[0]

    try:
        held = asyncio.ensure_future(first.db.write(hold))
        await until(inserted_a, "inserted by the first writer")
        later = asyncio.ensure_future(second.db.write(writes(second, tasks[1], "b")))
        await until(waits_or_wrote, "the second writer waiting for the first, or done")
        assert await feed.read() == []  # neither committed: "b" cannot pass "a"
        assert not later.done()
        release.set()
        await held
        await later
        assert texts(await feed.read()) == ["a", "b"]
        # The first process numbers its next line above the second's: the sequence hands
        # each session no range of its own (a cached range would number "c" below "b").
        await first.db.write(writes(first, tasks[0], "c"))
        assert texts(await feed.read()) == ["c"]
    finally:
        release.set()
        await first.close()
        await second.close()
