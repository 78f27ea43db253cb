"""Retention and clearing (Store.prune, clear, clear_ids): finished jobs go with their tasks
and logs, active ones stay, and the change feed names what went."""

from __future__ import annotations

import time

import pytest

from jobdash.core.model import NotFound
from jobdash.core.store.base import Store
from tests.store_contract.jobs import commands, run_all, until


async def finished_job(store: Store, name: str, user: str = "root") -> int:
    job = await store.create_job(commands(name, user=user))
    await store.append_log(job.id, None, "stdout", f"{name} says hi")
    await store.flush()
    await run_all(store)
    return job.id


async def test_prune_removes_only_the_jobs_finished_before_the_cutoff(store: Store) -> None:
    old = [await finished_job(store, f"old{i}") for i in range(3)]
    last_old = max([(await store.get_job(j)).finished or 0 for j in old])

    async def clock_moved() -> bool:
        return time.time() > last_old

    await until(clock_moved, "later")
    recent = await finished_job(store, "recent")
    active = await store.create_job(commands("active"))
    recent_finished = (await store.get_job(recent)).finished or 0
    assert recent_finished > last_old
    cutoff = (last_old + recent_finished) / 2
    rev = await store.rev()
    assert await store.prune(cutoff) == 3
    for job_id in old:
        with pytest.raises(NotFound):
            await store.get_job(job_id)
        assert await store.tasks(job_id) == []
        assert await store.logs(job_id) == []
    assert sorted(j.id for j in await store.list_jobs()) == [recent, active.id]
    assert [ln.text for ln in await store.logs(recent)] == ["recent says hi"]
    assert sorted((await store.changes_since(rev)).removed) == old
    assert await store.prune(cutoff) == 0


async def test_clear_removes_finished_jobs_of_a_user_or_of_everyone(store: Store) -> None:
    alice = await finished_job(store, "a", user="alice")
    bob = await finished_job(store, "b", user="bob")
    carol = await finished_job(store, "c", user="carol")
    active = await store.create_job(commands("active", user="alice"))
    assert await store.clear_ids([bob, active.id], "alice", "alice") == 0
    assert await store.clear_ids([bob, active.id], None, "root") == 1
    assert await store.clear("alice", "alice") == 1
    assert sorted(j.id for j in await store.list_jobs()) == [carol, active.id]
    assert await store.clear(None, "root") == 1
    assert [j.id for j in await store.list_jobs()] == [active.id]
    assert alice not in [j.id for j in await store.list_jobs()]
