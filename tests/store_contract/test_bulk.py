"""Many jobs at once (Store.create_jobs, and create_job called concurrently): bulk
submission is all or none; concurrent single submissions stand or fall each on its own."""

from __future__ import annotations

import asyncio

import pytest

from jobdash.core.model import JobStatus, Refused
from jobdash.core.store.base import Store
from jobdash.core.store.records import JobFilter
from tests.store_contract.jobs import commands, run_all


async def test_create_jobs_creates_them_all_queued_in_order_seen_in_one_change(
    store: Store,
) -> None:
    rev = await store.rev()
    ids = await store.create_jobs(
        [commands(f"bulk{i}", tasks=2) for i in range(50)], audit_user="alice"
    )
    assert len(ids) == 50 and ids == sorted(ids)
    jobs = await store.list_jobs(JobFilter(oldest_first=True))
    assert [j.id for j in jobs] == ids
    assert [j.type for j in jobs] == [f"bulk{i}" for i in range(50)]
    assert {(j.status, j.total) for j in jobs} == {(JobStatus.QUEUED, 2)}
    changes = await store.changes_since(rev)
    assert [j.id for j in changes.jobs] == ids
    assert len({j.rev for j in changes.jobs}) == 1  # written in one transaction
    # (PostgreSQL's revisions are transaction ids: the server's other transactions, another
    # test's, may take some after it, so the store's revision may be further on.)
    assert rev < changes.rev <= await store.rev()
    audited = await store.audit_events(limit=100)
    assert sorted(e.target for e in audited) == sorted(f"job:{i}" for i in ids)
    assert {e.user for e in audited} == {"alice"}
    await run_all(store)
    assert {j.status for j in await store.list_jobs()} == {JobStatus.SUCCEEDED}


async def test_create_jobs_is_all_or_none(store: Store) -> None:
    first = await store.create_job(commands("fired", schedule_id="s", fire_time=10.0))
    again = commands("fired", schedule_id="s", fire_time=10.0)  # that fire time is taken
    with pytest.raises(Refused, match="already started a job for that fire time"):
        await store.create_jobs([commands("a"), commands("b"), again, commands("c")])
    assert [j.id for j in await store.list_jobs()] == [first.id]
    assert await store.create_jobs([]) == []


async def test_concurrent_create_job_calls_stand_or_fall_each_on_its_own(store: Store) -> None:
    await store.create_job(commands("fired", schedule_id="s", fire_time=10.0))
    made = [commands(f"job{i}") for i in range(30)]
    made[7] = commands("fired", schedule_id="s", fire_time=10.0)  # refused alone
    results = await asyncio.gather(*(store.create_job(nj) for nj in made), return_exceptions=True)
    assert isinstance(results[7], Refused)
    created = [r for i, r in enumerate(results) if i != 7]
    assert all(not isinstance(r, BaseException) for r in created)
    ids = [r.id for r in created if not isinstance(r, BaseException)]
    assert [j.type for j in (await store.list_jobs(JobFilter(oldest_first=True)))[1:]] == [
        f"job{i}" for i in range(30) if i != 7
    ]
    assert len(set(ids)) == 29


async def test_a_job_refused_for_its_lock_among_concurrent_ones_takes_none_with_it(
    store: Store,
) -> None:
    """Jobs no rule may refuse are written without a savepoint of their own (SQLite): a job
    refused among them, for a lock held or for a fire time taken, still goes alone, and the
    jobs written before and after it in the same transaction stay, with their tasks."""
    holder = await store.create_job(commands("holder", lock_keys=["disk"]))
    await store.create_job(commands("fired", schedule_id="s", fire_time=10.0))
    assert await store.admit() == [holder.id, holder.id + 1]
    made = [commands(f"job{i}", tasks=2) for i in range(20)]
    made[3] = commands("locked", lock_keys=["disk"], on_lock="refuse")
    made[15] = commands("fired", schedule_id="s", fire_time=10.0)
    results = await asyncio.gather(*(store.create_job(nj) for nj in made), return_exceptions=True)
    assert isinstance(results[3], Refused) and "disk" in str(results[3])
    assert isinstance(results[15], Refused)
    kept = [r for i, r in enumerate(results) if i not in (3, 15)]
    assert [j.type for j in kept if not isinstance(j, BaseException)] == [
        f"job{i}" for i in range(20) if i not in (3, 15)
    ]
    for job in kept:
        assert not isinstance(job, BaseException)
        assert [t.name for t in await store.tasks(job.id)] == [f"{job.type}1", f"{job.type}2"]
    assert len(await store.list_jobs()) == 2 + 18
