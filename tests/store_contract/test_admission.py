"""Lock and exclusive admission (Store.admit, Store.create_job with on_lock = "refuse"):
a lock key has one holder at a time across every process sharing the store."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.model import JobStatus, Refused
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.records import Claimant, JobFilter
from tests.store_contract.jobs import commands, finish, run_all, said, workers

Stores = Callable[[], Awaitable[Store]]
RUNNING = JobStatus.RUNNING


async def statuses(store: Store) -> list[JobStatus]:
    return [j.status for j in await store.list_jobs(JobFilter(oldest_first=True))]


async def test_a_held_lock_makes_a_job_wait_naming_the_holder_until_it_is_released(
    store: Store,
) -> None:
    first = await store.create_job(commands("a", lock_keys=["disk"]))
    second = await store.create_job(commands("b", lock_keys=["disk", "net"]))
    other = await store.create_job(commands("c", lock_keys=["net2"]))
    assert await store.admit() == [first.id, second.id, other.id]
    assert await statuses(store) == [RUNNING, JobStatus.WAITING, RUNNING]
    waiting = await store.get_job(second.id)
    assert waiting.info == f"waiting: lock disk held by job {first.id}"
    assert await store.admit() == []  # nothing changed: nothing written
    for c in await store.claim(Claimant("a", "a", 10, 600)):  # the holder settles: its locks go
        assert await finish(store, c, "a")
    assert (await store.get_job(first.id)).status is JobStatus.SUCCEEDED
    assert await store.admit() == [second.id]
    assert (await store.get_job(second.id)).status is RUNNING


async def test_the_exclusive_key_has_one_holder_too(store: Store) -> None:
    a = await store.create_job(commands("a", lock_keys=["exclusive"]))
    b = await store.create_job(commands("b", lock_keys=["exclusive"]))
    await store.admit()
    assert await statuses(store) == [RUNNING, JobStatus.WAITING]
    assert (await store.get_job(b.id)).info == f"waiting: exclusive slot held by job {a.id}"
    await run_all(store)
    assert await statuses(store) == [JobStatus.SUCCEEDED] * 2


async def test_a_job_that_refuses_to_wait_is_refused_at_submit_while_its_key_is_held(
    store: Store,
) -> None:
    holder = await store.create_job(commands("a", lock_keys=["disk"]))
    # Not admitted yet, it holds nothing: a job that refuses to wait is taken.
    await store.create_job(commands("b", lock_keys=["other"], on_lock="refuse"))
    await store.admit()
    with pytest.raises(Refused, match=f"lock disk is held by job {holder.id}; c refuses"):
        await store.create_job(commands("c", lock_keys=["disk"], on_lock="refuse"))
    assert len(await store.list_jobs()) == 2


async def test_a_job_that_refuses_to_wait_is_refused_behind_a_job_awaiting_its_key(
    store: Store,
) -> None:
    """Admission is oldest first: a key awaited by a job ahead goes to that job, and a
    refusing job taken meanwhile would wait behind it after all (a schedule's next fires
    then skip it, still active, instead of saying why)."""
    await store.create_job(commands("a", lock_keys=["disk"]))
    ahead = await store.create_job(commands("b", lock_keys=["disk"]))
    await store.admit()  # a holds disk, b waits for it
    for c in await store.claim(Claimant("a", "a", 10, 600)):  # a settles: disk is free
        assert await finish(store, c, "a")
    assert (await store.get_job(ahead.id)).status is JobStatus.WAITING
    await store.create_job(commands("c", lock_keys=["other"], on_lock="refuse"))  # not awaited
    with pytest.raises(Refused) as refused:
        await store.create_job(commands("d", lock_keys=["net", "disk"], on_lock="refuse"))
    assert str(refused.value) == (
        f"lock disk is awaited by job {ahead.id} (ahead in line); d refuses to wait"
    )
    assert await store.admit() == [ahead.id, ahead.id + 1]  # b takes disk, c runs
    with pytest.raises(Refused) as refused:
        await store.create_job(commands("e", lock_keys=["disk"], on_lock="refuse"))
    assert str(refused.value) == f"lock disk is held by job {ahead.id}; e refuses to wait"
    assert len(await store.list_jobs()) == 3
    assert (await statuses(store))[1:] == [RUNNING, RUNNING]


async def test_admitters_on_several_store_objects_admit_one_holder(stores: Stores) -> None:
    many = [await stores() for _ in range(4)]
    for i in range(8):
        await many[0].create_job(commands(f"j{i}", lock_keys=["disk"]))
    await asyncio.gather(*(s.admit() for s in many for _ in range(3)))
    assert (await statuses(many[0])).count(RUNNING) == 1


def test_admitting_processes_never_run_two_holders_of_a_lock(tmp_path: Path, location: str) -> None:
    """Four processes admit, look and finish tasks at once until every job ran: no look ever
    sees two jobs sharing a key running, and every job ran."""

    async def setup() -> None:
        store = await open_store(location)
        for i in range(12):
            await store.create_job(commands(f"j{i}", lock_keys=["disk", "exclusive"]))
        await store.close()

    async def outcome() -> list[JobStatus]:
        store = await open_store(location)
        try:
            return await statuses(store)
        finally:
            await store.close()

    asyncio.run(setup())
    with workers(tmp_path, location, "admit", 4) as procs:
        looks = [line[1] for p in procs for line in said(p) if line[0] == "running"]
    assert looks and max(len(running) for running in looks) == 1
    assert asyncio.run(outcome()) == [JobStatus.SUCCEEDED] * 12
