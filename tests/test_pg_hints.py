"""PostgreSQL's wake-up hints (core/store/postgres/hints.py), on a real server
(`JOBDASH_TEST_PG`) with real processes: a commit of another process reaches a change feed
and an agent at once although their polling is slowed to minutes; a listener whose
connection is killed comes back and the feed misses nothing; many writes make few NOTIFYs,
the last change always announced.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from jobdash.core.store.base import Store, open_store
from jobdash.core.store.postgres.hints import COALESCE, WORK, channel_name
from jobdash.core.store.postgres.store import PostgresStore
from jobdash.core.store.records import Changes
from tests.pg import fresh_pg_store, pg_server
from tests.store_contract.jobs import DEADLINE, commands, until, workers
from tests.test_agents import Cluster
from tests.test_agents import until as wait_until

SLOW = 600.0  # seconds: polling this slow shows that only a hint can have woken anyone

Stores = Callable[[], Awaitable[PostgresStore]]


@pytest.fixture
def location(request: pytest.FixtureRequest) -> str:
    return fresh_pg_store(request)


@pytest.fixture
async def stores(location: str) -> AsyncIterator[Stores]:
    opened: list[Store] = []

    async def open_() -> PostgresStore:
        store = await open_store(location)
        assert isinstance(store, PostgresStore)
        opened.append(store)
        return store

    yield open_
    for store in reversed(opened):
        await store.close()


async def listening_feed(store: PostgresStore, interval: float) -> AsyncIterator[Changes]:
    """The store's feed from now, its polling slowed to SLOW, once its listener listens."""
    store.db.listener.poll_behind = SLOW
    feed = store.changes(interval=interval)
    first = asyncio.ensure_future(anext(feed))
    await until(lambda: _true(store.db.listener.listening), "listening")
    await asyncio.sleep(0.2)  # the look its connection rang for is done: next, a hint or SLOW

    async def rest() -> AsyncIterator[Changes]:
        yield await first
        async for changes in feed:
            yield changes

    return rest()


async def _true(value: bool) -> bool:
    return value


async def seen(feed: AsyncIterator[Changes], want: set[int]) -> list[int]:
    """Read the feed until every job of `want` was seen; the ids seen, in order."""
    ids: list[int] = []
    async for changes in feed:
        ids += [j.id for j in changes.jobs]
        if want <= set(ids):
            return ids
    raise AssertionError("the feed ended")


async def test_a_commit_of_another_process_reaches_the_feed_at_once(
    tmp_path: Path, stores: Stores, location: str
) -> None:
    """Polling slowed to 10 minutes: the job another process submits is in the feed within
    seconds, so a NOTIFY woke it."""
    reader = await stores()
    feed = await listening_feed(reader, 0.05)
    with workers(tmp_path, location, "submit", 1) as (proc,):  # it submits, then hangs
        t0 = time.monotonic()
        assert proc.stdout is not None
        what, job_id = json.loads(proc.stdout.readline())
        ids = await asyncio.wait_for(seen(feed, {job_id}), DEADLINE)
        took = time.monotonic() - t0
    assert (what, ids) == ("created", [job_id])
    assert took < SLOW / 10
    assert reader.db.listener.connections == 1 and reader.db.listener.listening


async def test_a_killed_listener_comes_back_and_the_feed_misses_nothing(stores: Stores) -> None:
    """The listener's server process is terminated; jobs written while it is gone (their
    NOTIFYs heard by no one) are still all in the feed, each once; once it listens again, a
    hint wakes the feed as before."""
    reader, writer = await stores(), await stores()
    feed = await listening_feed(reader, 0.05)
    listener = reader.db.listener
    before = (await writer.create_job(commands("before"))).id
    assert await asyncio.wait_for(seen(feed, {before}), DEADLINE) == [before]
    with psycopg.connect(pg_server(), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (listener.backend_pid,))
    await until(lambda: _true(not listener.listening), "the listener saw its connection die")
    unheard = [(await writer.create_job(commands("unheard"))).id for _ in range(5)]
    await until(lambda: _true(listener.listening), "listening again")
    assert listener.connections == 2
    got = await asyncio.wait_for(seen(feed, set(unheard)), DEADLINE)
    assert got == unheard
    # Listening again: the poll is SLOW again, and a hint wakes the feed.
    await asyncio.sleep(0.3)
    after = (await writer.create_job(commands("after"))).id
    t0 = time.monotonic()
    assert await asyncio.wait_for(seen(feed, {after}), DEADLINE) == [after]
    assert time.monotonic() - t0 < SLOW / 10


async def test_many_writes_make_few_notifies_and_the_last_change_is_announced(
    stores: Stores, location: str
) -> None:
    """A LISTEN of the test's own counts the NOTIFYs of 300 write transactions: at most one
    per COALESCE (and one owed at the end), the last one after the last commit; a write
    that makes work says so in its payload, another does not."""
    store = await stores()
    with psycopg.connect(location, autocommit=True) as con:
        schema = con.execute("SELECT current_schema()").fetchone()
    assert schema is not None
    channel = channel_name(schema[0])
    heard: list[tuple[float, str]] = []
    ear = await psycopg.AsyncConnection.connect(pg_server(), autocommit=True)
    try:
        await ear.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))

        async def listen() -> None:
            async for n in ear.notifies():
                heard.append((time.monotonic(), n.payload))

        listening = asyncio.ensure_future(listen())
        t0 = time.monotonic()
        jobs = [await store.create_job(commands("many")) for _ in range(300)]
        t1 = time.monotonic()
        await asyncio.sleep(COALESCE * 5)  # the owed one is sent after the window
        count = len(heard)
        assert 2 <= count <= (t1 - t0) / COALESCE + 2
        # Coalesced: far fewer NOTIFYs than writes (the bound above is the rule; this one
        # holds while a write takes under ~50 ms, as on a loaded 2-core machine it does).
        assert count * 2 <= len(jobs)
        assert {p for _, p in heard} == {WORK}  # a new job may be claimed
        assert heard[-1][0] > t1 - 0.05  # the last commit was announced
        # A write that makes no work (a cancel) says only "something changed".
        await store.cancel_job(jobs[0].id, "root")
        await until(lambda: _true(len(heard) > count), "the cancel's NOTIFY")
        assert heard[count][1] == ""
        listening.cancel()
    finally:
        await ear.close()
    assert store.db.throttle.sent == len(heard)


def test_a_submission_wakes_an_agent_of_another_process_at_once(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """An agent whose polling (claims and admission) is slowed to 10 minutes runs a job
    submitted by `jobdash run` within seconds: the submission's NOTIFY woke it."""
    cluster = Cluster(tmp_path, fresh_pg_store(request))
    try:
        cluster.start("a", env={"JOBDASH_POLL": str(SLOW)})
        wait_until(
            lambda: cluster.q(
                "SELECT 1 FROM pg_stat_activity WHERE application_name = 'jobdash listener' "
                "AND query LIKE %s",
                (f'LISTEN "{_channel(cluster.db)}"%',),
            ),
            20,
            "the agent listens",
        )
        time.sleep(0.5)  # its first look (on listening) is done: next, a hint or SLOW
        t0 = time.monotonic()
        job = cluster.run("sleepy", secs="0")
        wait_until(lambda: cluster.job(job)["status"] == "succeeded", 20, "the job ran")
        assert time.monotonic() - t0 < SLOW / 10
    finally:
        cluster.close()


def _channel(location: str) -> str:
    with psycopg.connect(location, autocommit=True) as con:
        row = con.execute("SELECT current_schema()").fetchone()
    assert row is not None
    return channel_name(row[0])
