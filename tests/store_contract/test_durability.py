"""Durability: a write is there for everyone once its coroutine returns (a buffered one once
the next flush returns), whatever becomes of the process that made it."""

from __future__ import annotations

import json
import signal
from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.model import JobStatus
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import Claimant
from tests.store_contract.jobs import commands, workers

Stores = Callable[[], Awaitable[Store]]


async def test_a_job_created_is_there_when_the_store_is_reopened(location: str) -> None:
    store = await open_store(location)
    job = await store.create_job(commands("kept", tasks=2, lock_keys=["disk"]), "alice")
    await store.close()
    store = await open_store(location)
    try:
        assert await store.get_job(job.id) == job
        assert [t.name for t in await store.tasks(job.id)] == ["kept1", "kept2"]
        (event,) = await store.audit_events(f"job:{job.id}")
        assert (event.user, event.action) == ("alice", "run")
        assert await store.admit() == [job.id]  # its lock key came along
    finally:
        await store.close()


async def test_a_job_created_by_a_process_killed_right_after_is_there(
    tmp_path: Path, location: str
) -> None:
    """The submitter is killed (SIGKILL: no close, no flush) as soon as it said the id."""
    with workers(tmp_path, location, "submit", 1) as (proc,):
        assert proc.stdout is not None
        said, job_id = json.loads(proc.stdout.readline())
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert said == "created"
    store = await open_store(location)
    try:
        job = await store.get_job(job_id)
        assert (job.type, job.status, job.pending) == ("durable", JobStatus.QUEUED, 3)
        assert len(await store.tasks(job_id)) == 3
    finally:
        await store.close()


async def test_buffered_writes_are_there_for_others_once_flushed(stores: Stores) -> None:
    """Log lines, metrics and warnings are held, then written in order by `flush`."""
    store, reader = await stores(), await stores()
    job = await store.create_job(commands("chatty"))
    for i in range(50):
        await store.append_log(job.id, None, "stdout", f"line {i}")
    store.add_metric(job.id, "rows", 2.0)
    store.add_metric(job.id, "rows", 3.0)
    store.add_warning(job.id)
    await store.flush()
    lines = [ln.text for ln in await reader.logs(job.id)]
    assert lines == [f"line {i}" for i in range(50)]
    seen = await reader.get_job(job.id)
    assert (seen.metrics, seen.warnings, seen.info) == ({"rows": 5.0}, 1, "line 49")


async def test_a_writer_past_the_memory_bound_waits_and_nothing_is_dropped(store: Store) -> None:
    job = await store.create_job(commands("flood"))
    n = 25_000  # past the SQLite store's bound of lines held
    waited = False
    for i in range(n):
        waited = waited or store.backlogged()
        await store.append_log(job.id, None, "stdout", f"{i}")
    await store.drained()
    await store.flush()
    assert not store.backlogged()
    lines = await store.logs(job.id)
    assert [ln.text for ln in lines] == [str(i) for i in range(n)]


async def test_commits_call_the_hooks_and_progress_follows(store: Store) -> None:
    called: list[str] = []
    store.on_commit.append(lambda: called.append("commit"))
    job = await store.create_job(commands("hooked", tasks=2))
    assert called
    await store.admit()
    c, _ = await store.claim(Claimant("o", "o", 2, 600))
    store.report_progress(c.task_id, 0.5)
    await store.flush()
    assert 0 < (await store.get_job(job.id)).progress < 100
    assert [t.progress for t in await store.tasks(job.id)] == [0.5, 0.0]
