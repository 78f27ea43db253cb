"""The history the dashboard's pictures draw: a type's last runs, the jobs ended per hour,
the tasks ended per minute by agent; the same answers from every backend."""

from __future__ import annotations

import time

from jobdash.core.model import JobStatus
from jobdash.core.store.base import Store
from jobdash.core.store.records import Claimant
from tests.store_contract.jobs import commands, finish


async def ended_jobs(store: Store) -> dict[int, tuple[str, str, JobStatus]]:
    """Six one-task jobs run to an end by two agents: type, user and how each ended."""
    specs = [
        ("backup", "alice", True, "a1"),
        ("backup", "bob", False, "a2"),
        ("export", "alice", True, "a1"),
        ("backup", "alice", True, "a2"),
        ("backup", "alice", False, "a1"),
        ("export", "bob", True, "a1"),
    ]
    out = {}
    for type_, user, ok, agent in specs:
        job = await store.create_job(commands(type_, user=user))
        await store.admit()
        (claim,) = await store.claim(Claimant(agent, agent, 1, 600))
        assert await finish(store, claim, agent, ok=ok)
        await store.flush()
        status = JobStatus.SUCCEEDED if ok else JobStatus.FAILED
        out[job.id] = (type_, user, status)
    return out


async def test_a_types_last_runs_newest_first_with_how_long_each_ran(store: Store) -> None:
    jobs = await ended_jobs(store)
    await store.create_job(commands("backup"))  # not ended: not a run yet
    runs = await store.type_runs("backup", 30)
    backups = sorted((i for i, (t, _, _) in jobs.items() if t == "backup"), reverse=True)
    assert [r.job_id for r in runs] == backups
    for run in runs:
        job = await store.get_job(run.job_id)
        assert run.status is jobs[run.job_id][2] is job.status
        assert run.finished == job.finished
        assert run.duration is not None
        assert abs(run.duration - (job.duration() or 0.0)) < 1e-6
    assert [r.job_id for r in await store.type_runs("backup", 2)] == backups[:2]
    mine = await store.type_runs("backup", 30, user="alice")
    assert [r.job_id for r in mine] == [i for i in backups if jobs[i][1] == "alice"]
    assert await store.type_runs("nothing-of-that-type", 30) == []


async def test_jobs_ended_per_hour_by_status(store: Store) -> None:
    jobs = await ended_jobs(store)
    ok = sum(s is JobStatus.SUCCEEDED for _, _, s in jobs.values())
    failed = len(jobs) - ok
    now = time.time() + 1
    assert sorted(await store.jobs_ended(now, 24)) == [
        (0, "failed", failed),
        (0, "succeeded", ok),
    ]
    # Two and a half hours later they are in the bucket of two hours back; a day and more
    # later in none.
    later = now + 2.5 * 3600
    assert sorted(await store.jobs_ended(later, 24)) == [
        (2, "failed", failed),
        (2, "succeeded", ok),
    ]
    assert await store.jobs_ended(now + 25 * 3600, 24) == []
    bob = await store.jobs_ended(now, 24, user="bob")
    assert sorted(bob) == [(0, "failed", 1), (0, "succeeded", 1)]


async def test_tasks_ended_per_minute_by_agent(store: Store) -> None:
    await ended_jobs(store)
    now = time.time() + 1
    assert sorted(await store.tasks_ended(now, 60)) == [(0, "a1", 4), (0, "a2", 2)]
    assert sorted(await store.tasks_ended(now + 150, 60)) == [(2, "a1", 4), (2, "a2", 2)]
    assert await store.tasks_ended(now + 3601, 60) == []
