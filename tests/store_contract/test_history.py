"""The history the dashboard's pictures draw: a type's last runs, the jobs ended per hour,
the tasks done per minute by agent; the same answers from every backend."""

from __future__ import annotations

import asyncio
import time

import pytest

from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claimant, Outcome
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


async def test_tasks_done_per_minute_by_agent(store: Store) -> None:
    """Succeeded tasks only, as the Agents tab's `done` counts them: the picture said 196
    for an agent whose `done` said 192, its failed tasks counted too (a1 ran 3 that
    succeeded and 1 that failed, a2 1 and 1)."""
    await ended_jobs(store)
    now = time.time() + 1
    assert sorted(await store.tasks_done(now, 60)) == [(0, "a1", 3), (0, "a2", 1)]
    assert sorted(await store.tasks_done(now + 150, 60)) == [(2, "a1", 3), (2, "a2", 1)]
    assert await store.tasks_done(now + 3601, 60) == []


async def test_the_durations_of_succeeded_tasks_of_given_jobs(store: Store) -> None:
    jobs = await ended_jobs(store)
    ok = [i for i, (_t, _u, s) in jobs.items() if s is JobStatus.SUCCEEDED]
    durations = await store.task_durations(ok)
    assert len(durations) == len(ok)  # one task each; the failed jobs' are not asked
    for job_id, got in zip(sorted(ok), [await store.tasks(i) for i in sorted(ok)], strict=True):
        (task,) = got
        assert task.started is not None and task.finished is not None, job_id
    assert all(d >= 0 for d in durations)
    assert await store.task_durations([]) == []
    failed = [i for i in jobs if i not in ok]
    assert await store.task_durations(failed) == []  # failed tasks are not a normal length


async def test_quiet_since_is_the_last_sign_of_life_of_each_jobs_quietest_task(
    store: Store,
) -> None:
    job = await store.create_job(commands("pair", tasks=2))
    other = await store.create_job(commands("solo"))
    await store.admit()
    claims = await store.claim(Claimant("a1", "a1", 10, 600))
    assert len(claims) == 3
    tasks = {t.seq: t for t in await store.tasks(job.id)}
    started = min(t.started or 0 for t in tasks.values())
    quiet = await store.quiet_since()
    assert quiet[job.id] == pytest.approx(started) and other.id in quiet
    await asyncio.sleep(1.1)  # a sign of life is written to the second
    # Task 1 prints: task 2, still silent, keeps the job quiet since its start.
    await store.append_log(job.id, tasks[1].id, "stdout", "working", 1)
    await store.flush()
    (one,) = [t for t in await store.tasks(job.id) if t.seq == 1]
    assert one.active is not None and one.active > (one.started or 0)
    assert (await store.quiet_since())[job.id] == pytest.approx(tasks[2].started)
    # jobdash's own note is not the task's sign of life; progress is.
    await store.append_log(job.id, tasks[2].id, "system", "attempt 1 started", 1)
    await store.flush()
    assert (await store.quiet_since())[job.id] == pytest.approx(tasks[2].started)
    store.report_progress(tasks[2].id, 0.5)
    await store.flush()
    assert (await store.quiet_since())[job.id] > (tasks[2].started or 0) + 1
    # An ended task is no longer anyone's silence; a job with nothing running has none.
    (solo,) = [c for c in claims if c.job_id == other.id]
    assert await finish(store, solo, "a1")
    await store.flush()
    assert other.id not in await store.quiet_since()


async def test_a_resume_gives_running_tasks_the_paused_span_and_a_claim_takes_it_back(
    store: Store,
) -> None:
    """The clock of a paused job's running task stands still (`core.timing.task_duration`):
    a resume adds the paused span to the attempt's `idle_time` and restarts its silence; the
    next attempt starts from none. `running_signs` tells each running job's silence and the
    earliest end of its tasks' leases."""
    job = await store.create_job(commands("held"))
    await store.admit()
    (claim,) = await store.claim(Claimant("a1", "a1", 1, 600))
    (task,) = await store.tasks(job.id)
    assert task.idle_time == 0 and task.lease_until is not None
    signs = await store.running_signs()
    assert signs[job.id] == (pytest.approx(task.started), pytest.approx(task.lease_until))
    paused = await store.pause_job(job.id, "alice")
    assert paused.paused_at is not None
    await asyncio.sleep(1.2)
    before = time.time()
    await store.resume_job(job.id, "alice")
    (task,) = await store.tasks(job.id)
    assert task.idle_time == pytest.approx(before - paused.paused_at, abs=0.5)
    assert task.active is not None and task.active >= before - 0.01  # its silence restarts
    assert (await store.running_signs())[job.id][0] >= before - 0.01
    # Given back (a shutdown: no attempt counted), claimed again: the new claim's attempt
    # was never paused.
    await store.release("a1", [claim.task_id])
    (again,) = await store.claim(Claimant("a1", "a1", 1, 600))
    (task,) = await store.tasks(job.id)
    assert (again.attempt, task.status, task.idle_time) == (1, "running", 0)


async def test_a_cancel_of_a_paused_job_ends_its_paused_span(store: Store) -> None:
    """A paused job's running task stands still; cancelled, it runs on to its end (its
    agent resumes it to stop it): the paused span ends at the cancel, for the job and its
    running task alike, so neither counts the pause as run time, nor the stopping after
    it as paused."""
    job = await store.create_job(commands("held"))
    await store.admit()
    (claim,) = await store.claim(Claimant("a1", "a1", 1, 600))
    paused = await store.pause_job(job.id, "alice")
    assert paused.paused_at is not None
    await asyncio.sleep(1.2)
    cancelling = await store.cancel_job(job.id, "alice")
    span = (cancelling.updated or time.time()) - paused.paused_at
    assert cancelling.status is JobStatus.CANCELLING and cancelling.paused_at is None
    assert cancelling.idle_time == pytest.approx(span, abs=0.3)
    (task,) = await store.tasks(job.id)
    assert task.idle_time == pytest.approx(span, abs=0.3)
    await asyncio.sleep(1.0)  # its task takes a while to stop: that time is run time
    assert await store.complete(Outcome(claim.task_id, claim.attempt, "a1", TaskStatus.CANCELLED))
    await store.flush()
    done = await store.get_job(job.id)
    assert done.status is JobStatus.CANCELLED and done.idle_time == cancelling.idle_time
    (task,) = await store.tasks(job.id)
    assert task.idle_time == pytest.approx(span, abs=0.3)
    ran = (task.finished or 0) - (task.started or 0) - task.idle_time
    assert ran >= 0.9 and ran == pytest.approx(
        (done.finished or 0) - (done.started or 0) - done.idle_time, abs=0.2
    )
