"""Many small jobs moved together: a batch of admissions, claims and outcomes is written
with one statement per kind of change (`Dialect.by_key`), and every job still ends as its
own tasks say, a late result is still refused, and a lock is still let go when its holder
settles in the batch."""

from __future__ import annotations

import asyncio

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claimant, Outcome
from jobdash.core.store.sql.dialect import KEYS_PER_STATEMENT
from tests.store_contract.jobs import commands

ONE_TASK_JOBS = KEYS_PER_STATEMENT + 20  # more jobs than one statement's keys


async def test_a_batch_of_one_task_jobs_settles_each_as_its_task_ended(store: Store) -> None:
    """Hundreds of one-task jobs, a three-task job, and a lock holder with a job waiting
    behind it, claimed at once and their outcomes reported at once (one batch of the
    store's writer, or a few): each one-task job ends succeeded or failed as its task did;
    the three-task job with one task left runs on, its counters and progress its own; results
    of a wrong owner or attempt, reported among the others, are refused and change nothing;
    the holder's lock is let go as it settles, and the job behind it is admitted."""
    ids = await store.create_jobs(
        [commands(f"j{i}") for i in range(ONE_TASK_JOBS)]
        + [commands("three", tasks=3), commands("holder", lock_keys=["disk"])]
        + [commands("behind", lock_keys=["disk"])]
    )
    *small, three, holder, behind = ids
    assert await store.admit() == ids
    assert (await store.get_job(behind)).status is JobStatus.WAITING
    claims = await store.claim(Claimant("a", "a", 10_000, 600))
    assert len(claims) == ONE_TASK_JOBS + 3 + 1
    fails = set(small[::7])
    left = max((c for c in claims if c.job_id == three), key=lambda c: c.seq)
    outcomes: list[Outcome] = []
    late: list[Outcome] = []
    for c in claims:
        if c is left:
            continue
        status = TaskStatus.FAILED if c.job_id in fails else TaskStatus.SUCCEEDED
        late += [  # interleaved with the real ones, before and after them
            Outcome(c.task_id, c.attempt, "b", TaskStatus.SUCCEEDED),
            Outcome(c.task_id, c.attempt + 1, "a", TaskStatus.SUCCEEDED),
        ][: 2 if c.job_id in (small[1], small[2], three) else 0]
        outcomes.append(Outcome(c.task_id, c.attempt, "a", status, error=f"boom {c.job_id}"))
    mixed = late[:2] + outcomes + late[2:]
    results = await asyncio.gather(*(store.complete(o) for o in mixed))
    assert results == [False] * 2 + [True] * len(outcomes) + [False] * (len(late) - 2)
    # A result after the batch that settled its job is refused too.
    assert not await store.complete(Outcome(claims[0].task_id, claims[0].attempt, "a", "failed"))

    for job_id in small:
        job = await store.get_job(job_id)
        counts = (job.pending, job.running, job.succeeded, job.failed)
        if job_id in fails:
            assert job.status is JobStatus.FAILED, job_id
            assert counts == (0, 0, 0, 1)
            assert job.info == f"1 of 1 task failed — first: j{small.index(job_id)}1: boom {job_id}"
        else:
            assert job.status is JobStatus.SUCCEEDED, job_id
            assert counts == (0, 0, 1, 0)
            assert job.info == "1 task done"
        assert job.progress == 100.0 and job.finished is not None
    running = await store.get_job(three)
    assert running.status is JobStatus.RUNNING
    assert (running.pending, running.running, running.succeeded) == (0, 1, 2)
    assert round(running.progress, 1) == 66.7
    assert (await store.get_job(holder)).status is JobStatus.SUCCEEDED
    assert await store.admit() == [behind]
    assert (await store.get_job(behind)).status is JobStatus.RUNNING
    assert await store.complete(Outcome(left.task_id, left.attempt, "a", TaskStatus.SUCCEEDED))
    assert (await store.get_job(three)).status is JobStatus.SUCCEEDED
