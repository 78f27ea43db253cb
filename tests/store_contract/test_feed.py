"""The change feed (Store.rev, Store.changes_since, Store.changes): every change after a
revision is seen once, in revision order, whichever process made it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

from jobdash.core.agent_info import AgentInfo
from jobdash.core.model import JobStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import ScheduleSpec
from jobdash.core.store.records import Changes
from tests.store_contract.jobs import DEADLINE, commands, run_all, said, workers

Stores = Callable[[], Awaitable[Store]]


async def test_changes_since_a_revision_are_the_jobs_written_after_it(store: Store) -> None:
    old = await store.create_job(commands("old"))
    rev = await store.rev()
    assert await store.changes_since(rev) == Changes(rev)
    new = await store.create_job(commands("new"))
    assert await store.rev() > rev
    first = await store.changes_since(rev)
    assert ([j.id for j in first.jobs], first.removed) == ([new.id], [])
    # Read up to the store's revision of the moment: no further (PostgreSQL's revisions are
    # transaction ids, which the cluster's other transactions, another test's on its own
    # schema, may take meanwhile: so "at most", not "equal"). The next read starts there and
    # sees `new` no more (below).
    assert rev < first.rev <= await store.rev()
    # Each job as it is now; a job changed again is seen again.
    await store.cancel_job(old.id, "root")
    second = await store.changes_since(first.rev)
    assert [(j.id, j.status) for j in second.jobs] == [(old.id, JobStatus.CANCELLED)]
    assert second.rev > first.rev
    # Removed jobs are named; agents and schedules say that they changed.
    await store.clear(None, "root")
    third = await store.changes_since(second.rev)
    assert (third.jobs, sorted(third.removed)) == ([], [old.id])
    await store.sync_schedules([ScheduleSpec("s", "s", "daily", "UTC")], ["s"])
    fourth = await store.changes_since(third.rev)
    assert fourth.schedules and not fourth.agents
    await store.register_agent(AgentInfo("a", "host", 1, "v", 4, 0, "idle", 0.0, 0.0), "o")
    fifth = await store.changes_since(fourth.rev)
    assert fifth.agents and not fifth.schedules and fifth.jobs == []


async def collect(feed: AsyncIterator[Changes], want: set[int], got: list[Changes]) -> None:
    """Read the feed until every job of `want` was seen in it."""
    seen: set[int] = set()
    async for changes in feed:
        got.append(changes)
        seen |= {j.id for j in changes.jobs}
        if want <= seen:
            return


async def test_the_feed_sees_every_change_once_in_order_whoever_writes(
    tmp_path: Path, stores: Stores, location: str
) -> None:
    """Three writers (two store objects here, one process) create jobs while a fourth store
    object reads the feed from a revision: each job comes once, the batches in revision
    order, each job in the batch of the revision that wrote it."""
    reader, a, b = await stores(), await stores(), await stores()
    before = await a.create_job(commands("before"))
    since = await reader.rev()
    got: list[Changes] = []
    feed = reader.changes(since=since, interval=0.01)
    created: list[int] = []

    async def write(store: Store) -> None:
        for _ in range(20):
            created.append((await store.create_job(commands("fed"))).id)
            await asyncio.sleep(0)

    with workers(tmp_path, location, "feed", 1, "20") as (proc,):
        await asyncio.gather(write(a), write(b))
        created += [line[1] for line in said(proc) if line[0] == "created"]
    assert len(created) == 60
    await asyncio.wait_for(collect(feed, set(created), got), DEADLINE)
    ids = [j.id for changes in got for j in changes.jobs]
    assert sorted(ids) == sorted(created) and before.id not in ids
    revs = [c.rev for c in got]
    assert revs == sorted(set(revs))
    for prev, changes in zip([since, *revs], got, strict=False):
        assert all(prev < j.rev <= changes.rev for j in changes.jobs)


async def test_a_feed_without_a_revision_starts_now_and_follows(stores: Stores) -> None:
    reader, writer = await stores(), await stores()
    old = await writer.create_job(commands("old"))
    feed = reader.changes(interval=0.01)
    first = asyncio.ensure_future(anext(feed))
    created = []
    while not first.done():  # write until the feed, started meanwhile, reports something
        created.append((await writer.create_job(commands("new"))).id)
        await asyncio.wait([first], timeout=0.05)
    assert {j.id for j in first.result().jobs} <= set(created)
    # What happens to each job is followed to its end, each change once.
    await writer.cancel_job(old.id, "root")
    await run_all(writer)
    finished: list[int] = []
    while set(finished) != {old.id, *created}:
        changes = await asyncio.wait_for(anext(feed), DEADLINE)
        finished += [j.id for j in changes.jobs if j.status.finished]
    assert sorted(finished) == sorted({old.id, *created})
    assert (await reader.get_job(old.id)).status is JobStatus.CANCELLED
