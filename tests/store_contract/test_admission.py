"""Lock and exclusive admission (Store.admit, Store.create_job with on_lock = "refuse"):
a lock key has one holder at a time across every process sharing the store."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.agent_info import AgentInfo
from jobdash.core.model import JobStatus, Refused
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import Claimant
from jobdash.core.store.records import JobFilter
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


async def live_engine(store: Store, types: dict[str, str]) -> float:
    """An agent heart-beating now that runs `types` (name -> hash); returns a `live_after`
    that counts it live."""
    await store.register_agent(AgentInfo("e1", "host", 1, "v", 4, 0, "idle", 0.0, 0.0), "e1/1")
    await store.publish_catalogue("e1", {name: (digest, {}) for name, digest in types.items()})
    await store.heartbeat("e1", "e1/1", "idle", 600)
    return time.time() - 3600


async def test_a_job_nothing_can_block_is_created_running_when_a_live_agent_runs_it(
    store: Store,
) -> None:
    """Admitted in its submission's transaction: no lock key, no queued job ahead, a live
    agent of its type and hash; each of those missing, it is queued for admission."""
    since = await live_engine(store, {"x": "h1"})
    free = await store.create_job(commands("x", type_hash="h1", live_after=since))
    assert (free.status, free.info) == (RUNNING, "")
    [bulk, also] = await store.create_jobs(
        [commands("x", type_hash="h1", live_after=since) for _ in range(2)]
    )
    assert [await store.admit(live_after=since)] == [[]]  # nothing left to admit
    assert {(await store.get_job(i)).status for i in (bulk, also)} == {RUNNING}
    for c in await store.claim(Claimant("e1/1", "e1", 10, 600)):  # they run as admitted jobs do
        assert await finish(store, c, "e1/1")
    assert {(await store.get_job(i)).status for i in (free.id, bulk, also)} == {JobStatus.SUCCEEDED}

    no_say = await store.create_job(commands("x", type_hash="h1"))  # no live_after given
    locked = await store.create_job(
        commands("x", type_hash="h1", lock_keys=["disk"], live_after=since)
    )
    changed = await store.create_job(commands("x", type_hash="h0", live_after=since))
    nobody = await store.create_job(commands("y", type_hash="h2", live_after=since))
    assert {no_say.status, locked.status, changed.status, nobody.status} == {JobStatus.QUEUED}
    # A queued job is ahead: a new one waits its turn, as admission takes them oldest first.
    behind = await store.create_job(commands("x", type_hash="h1", live_after=since))
    assert behind.status is JobStatus.QUEUED
    await store.admit(live_after=since)
    assert (await store.get_job(behind.id)).status is RUNNING
    assert (await store.get_job(changed.id)).status is JobStatus.WAITING


async def test_no_job_is_created_running_without_a_live_agent(store: Store) -> None:
    """With no agent live, admission would let the job in to wait for one; at submit it
    stays queued, as where no engine runs."""
    since = await live_engine(store, {"x": "h1"})
    await store.agent_offline("e1", "e1/1")
    job = await store.create_job(commands("x", type_hash="h1", live_after=since))
    assert job.status is JobStatus.QUEUED
