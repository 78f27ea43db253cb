"""How an agent sends a task's outcome: the task's own asyncio task ends once the outcome is
handed to the store (`complete_nowait`), and the store's answer comes by a call; it is not
woken again to receive it (a wake-up a task, ~5 % of a no-op task's engine time). What the
answer does is as before: a job counted done, a write that failed sent again until it is
recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

from jobdash.core.agent import AgentOptions
from jobdash.core.agent.agent import Agent
from jobdash.core.catalogue import Catalogue, type_hash
from jobdash.core.model import JobStatus, JobType, TaskStatus
from jobdash.core.store.engine_records import NewTask, Outcome
from jobdash.core.store.faults import StoreError
from jobdash.core.store.sqlite import SqliteStore
from tests.conftest import new_job

GATE: list[asyncio.Event] = []  # the gate of the test under way


async def gated(ctx: object) -> None:
    """A job function that ends when the test opens its gate."""
    await GATE[-1].wait()


GATED = JobType(name="gated", function=f"{__name__}:gated")


async def until(cond: Callable[[], object], what: str) -> None:
    for _ in range(2000):
        if cond():
            return
        await asyncio.sleep(0.005)
    raise AssertionError(f"not {what}")


async def test_a_tasks_asyncio_task_ends_once_its_outcome_is_sent(tmp_path: Path) -> None:
    GATE.append(asyncio.Event())
    store = await SqliteStore.open(tmp_path / "s.db")
    agent = Agent(store, AgentOptions(name="a", slots=2), Catalogue({"gated": GATED}))
    try:
        await agent.start()
        job = await store.create_job(
            new_job("gated", [NewTask("main", "main", "job", None)], type_hash=type_hash(GATED))
        )
        await store.admit()
        await until(lambda: agent.runs, "running")
        (task_id,) = agent.runs
        async with store.db.lock:  # the write that records the outcome waits meanwhile
            GATE[-1].set()
            await until(lambda: not agent.runs, "ended")
            await asyncio.sleep(0.05)
            names = {t.get_name() for t in asyncio.all_tasks() if not t.done()}
            assert f"jobdash-task-{task_id}" not in names
            assert store.outcomes_held() == 1  # sent, not written yet
        await until(lambda: store.outcomes_held() == 0, "written")
        done = await store.get_job(job.id)
        assert done.status is JobStatus.SUCCEEDED
        assert [t.status for t in await store.tasks(job.id)] == [TaskStatus.SUCCEEDED]
    finally:
        await agent.shutdown(timeout=0)
        await store.close()


async def test_an_outcome_whose_write_failed_is_sent_again_until_recorded(tmp_path: Path) -> None:
    """The store failing (a full disk, say) answers with the failure: the agent says so
    once and sends the outcome again; it keeps its claim meanwhile (the heartbeat)."""
    GATE.append(asyncio.Event())
    GATE[-1].set()
    store = await SqliteStore.open(tmp_path / "s.db")
    agent = Agent(store, AgentOptions(name="a", slots=2), Catalogue({"gated": GATED}))
    failed: list[int] = []
    write_batch = store.flusher.write_batch

    async def failing_once(
        txn: object, lines: int, outcomes: list[Outcome], jobs_first: bool
    ) -> list[bool]:
        if outcomes and not failed:
            failed.append(len(outcomes))
            raise StoreError(f"{tmp_path}: database or disk is full", "database or disk is full")
        return await write_batch(txn, lines, outcomes, jobs_first)

    store.flusher.write_batch = failing_once  # type: ignore[method-assign]
    try:
        await agent.start()
        job = await store.create_job(
            new_job("gated", [NewTask("main", "main", "job", None)], type_hash=type_hash(GATED))
        )
        await store.admit()
        await until(lambda: failed, "failed once")
        done = None
        for _ in range(400):
            done = await store.get_job(job.id)
            if done.status.finished:
                break
            await asyncio.sleep(0.01)
        assert done is not None and done.status is JobStatus.SUCCEEDED
        assert failed == [1]
    finally:
        await agent.shutdown(timeout=0)
        await store.close()
