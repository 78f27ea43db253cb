"""One holder per attempt, the job's parallel limit, and fenced completion (Store.claim,
Store.complete, Store.release)."""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path

from jobdash.core.agent_info import AgentInfo
from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claim, Claimant, Outcome
from tests.store_contract.jobs import commands, finish, said, workers

Stores = Callable[[], Awaitable[Store]]


async def claim_everything(store: Store, me: str, seen: list[tuple[int, int]]) -> None:
    """Claim two at a time until nothing is left; fail the first two attempts of each task
    (it comes back with the next attempt), succeed the third."""
    while [j for j in await store.list_jobs() if not j.status.finished]:
        for c in await store.claim(Claimant(me, me, 2, 600)):
            seen.append((c.task_id, c.attempt))
            assert await finish(store, c, me, ok=c.attempt >= 3)
        await asyncio.sleep(0)


async def test_claimants_on_several_store_objects_never_hold_the_same_attempt(
    stores: Stores,
) -> None:
    """Three store objects on one location, two claiming tasks each, all at once: every
    (task, attempt) is claimed once, and every owner's completion is accepted."""
    store = await stores()
    jobs = [await store.create_job(commands(f"j{i}", tasks=5, retries=2)) for i in range(4)]
    await store.admit()
    seen: list[tuple[int, int]] = []
    others = [await stores() for _ in range(2)]
    await asyncio.gather(
        *(
            claim_everything(s, f"owner-{i}-{k}", seen)
            for i, s in enumerate([store, *others])
            for k in range(2)
        )
    )
    assert len(seen) == len(set(seen)) == 4 * 5 * 3
    for job in jobs:
        assert (await store.get_job(job.id)).status is JobStatus.SUCCEEDED


def test_claimant_processes_never_hold_the_same_attempt(tmp_path: Path, location: str) -> None:
    """Four processes claim and complete at once: every (task, attempt) has one holder, and
    each holder's completion is accepted (a second holder's would be refused)."""

    async def setup() -> None:
        from jobdash.core.store.base import open_store

        store = await open_store(location)
        for i in range(6):
            await store.create_job(commands(f"j{i}", tasks=5, retries=2))
        await store.admit()
        await store.close()

    asyncio.run(setup())
    with workers(tmp_path, location, "claim", 4) as procs:
        lines = [line for p in procs for line in said(p)]
    claimed = [tuple(line[1:]) for line in lines if line[0] == "claimed"]
    assert len(claimed) == len(set(claimed)) == 6 * 5 * 3
    assert all(line[3] is True for line in lines if line[0] == "completed")


async def test_a_job_never_runs_more_tasks_than_its_parallel(stores: Stores) -> None:
    store, other = await stores(), await stores()
    job = await store.create_job(commands("wide", tasks=6, parallel=2))
    await store.admit()
    a, b = await asyncio.gather(
        store.claim(Claimant("a", "a", 10, 600)), other.claim(Claimant("b", "b", 10, 600))
    )
    assert len(a) + len(b) == 2
    assert await store.claim(Claimant("c", "c", 10, 600)) == []
    assert (await store.get_job(job.id)).running == 2
    # A slot freed is a slot claimable again, and still no more.
    assert await finish(store, [*a, *b][0], "a" if a else "b")
    assert len(await other.claim(Claimant("c", "c", 10, 600))) == 1


async def test_only_running_jobs_ready_tasks_of_the_claimants_types_are_claimed(
    store: Store,
) -> None:
    queued = await store.create_job(commands("queued"))
    assert await store.claim(Claimant("a", "a", 10, 600)) == []  # not admitted yet
    assert not await store.has_claimable()
    await store.admit()
    hashed = await store.create_job(commands("typed", type_hash="h1"))
    await store.admit()
    assert await store.has_claimable(types={"h1"})
    (c,) = await store.claim(Claimant("a", "a", 10, 600, types={"h1"}))
    assert c.job_id == hashed.id
    assert await store.claim(Claimant("a", "a", 10, 600, types={"other"})) == []
    (c,) = await store.claim(Claimant("a", "a", 10, 600))
    assert (c.job_id, c.attempt) == (queued.id, 1)
    assert await store.claim(Claimant("a", "a", 0, 600)) == []


async def test_completion_is_fenced_on_task_attempt_and_owner(store: Store) -> None:
    job = await store.create_job(commands("fenced", tasks=2))
    await store.admit()
    c, d = await store.claim(Claimant("owner-a", "a", 2, 600))
    ok = TaskStatus.SUCCEEDED
    before = await store.get_job(job.id)
    assert not await store.complete(Outcome(c.task_id, c.attempt, "owner-b", ok))
    assert not await store.complete(Outcome(c.task_id, c.attempt + 1, "owner-a", ok))
    assert not await store.complete(Outcome(c.task_id, c.attempt - 1, "owner-a", ok))
    after = await store.get_job(job.id)
    assert (after.running, after.succeeded, after.status) == (2, 0, before.status)
    assert await store.complete(Outcome(c.task_id, c.attempt, "owner-a", ok))
    # Once recorded, the same attempt cannot be recorded again.
    assert not await store.complete(Outcome(c.task_id, c.attempt, "owner-a", TaskStatus.FAILED))
    assert (await store.tasks(job.id))[0].status is TaskStatus.SUCCEEDED
    # Given back, a claim is no one's: its old owner's outcome is refused.
    await store.release("owner-b", [d.task_id])  # not its claim: nothing happens
    assert (await store.get_job(job.id)).running == 1
    await store.release("owner-a", [d.task_id])
    # A first attempt given back: the task is as if never run (no agent shown beside it).
    given_back = next(t for t in await store.tasks(job.id) if t.id == d.task_id)
    assert (given_back.status, given_back.attempt, given_back.agent, given_back.started) == (
        TaskStatus.PENDING,
        0,
        None,
        None,
    )
    assert not await store.complete(Outcome(d.task_id, d.attempt, "owner-a", ok))
    job_now = await store.get_job(job.id)
    assert (job_now.pending, job_now.running, job_now.succeeded) == (1, 0, 1)


async def test_a_batch_of_outcomes_is_fenced_outcome_by_outcome(store: Store) -> None:
    """Outcomes handed in together are written in one batch (PostgreSQL: one fenced UPDATE
    per alike group): each is accepted or refused on its own, and the job's counters and
    end follow the accepted ones only."""
    job = await store.create_job(commands("batch", tasks=4))
    await store.admit()
    a, b, c, d = await store.claim(Claimant("owner-a", "a", 4, 600))
    ok, cancelled = TaskStatus.SUCCEEDED, TaskStatus.CANCELLED
    outcomes = [
        Outcome(a.task_id, a.attempt, "owner-a", ok),
        Outcome(b.task_id, b.attempt, "owner-b", ok),  # not its owner
        Outcome(c.task_id, c.attempt + 1, "owner-a", ok),  # not its attempt
        Outcome(d.task_id, d.attempt, "owner-a", cancelled, error="stopped"),
    ]
    got = await asyncio.gather(*(store.complete(o) for o in outcomes))
    assert got == [True, False, False, True]
    job_now = await store.get_job(job.id)
    counts = (job_now.running, job_now.succeeded, job_now.cancelled)
    assert (counts, job_now.status) == ((2, 1, 1), JobStatus.RUNNING)
    by_id = {t.id: t for t in await store.tasks(job.id)}
    assert [by_id[x.task_id].status for x in (a, b, c, d)] == [ok, "running", "running", cancelled]
    assert by_id[d.task_id].error == "stopped"
    # The same attempt twice in one batch: the first is recorded, the second refused.
    twice = [Outcome(b.task_id, b.attempt, "owner-a", ok) for _ in range(2)]
    twice.append(Outcome(c.task_id, c.attempt, "owner-a", ok))
    assert await asyncio.gather(*(store.complete(o) for o in twice)) == [True, False, True]
    job_now = await store.get_job(job.id)
    assert (job_now.running, job_now.succeeded, job_now.status) == (0, 3, JobStatus.CANCELLED)


async def test_a_released_claim_is_claimed_again_as_the_same_attempt(store: Store) -> None:
    """A release gives the claim back without counting an attempt."""
    await store.create_job(commands("given-back"))
    await store.admit()
    (c,) = await store.claim(Claimant("a", "a", 1, 600))
    await store.release("a", [c.task_id])
    (again,) = await store.claim(Claimant("b", "b", 1, 600))
    assert (again.task_id, again.attempt) == (c.task_id, c.attempt)
    assert not await finish(store, c, "a")
    assert await finish(store, again, "b")


async def test_a_failed_attempt_comes_back_as_the_next_one_and_the_job_settles(
    store: Store,
) -> None:
    """The task moves as the rules say (retries left: pending again, attempt + 1), and a job
    with nothing left pending or running is settled in the same write."""
    job = await store.create_job(commands("flaky", tasks=2, retries=1))
    await store.admit()
    first, second = await store.claim(Claimant("a", "a", 2, 600))
    assert await finish(store, first, "a", ok=False)
    assert await finish(store, second, "a")
    assert (await store.get_job(job.id)).status is JobStatus.RUNNING
    (again,) = await store.claim(Claimant("a", "a", 2, 600))
    assert (again.task_id, again.attempt) == (first.task_id, first.attempt + 1)
    assert await finish(store, again, "a", ok=False)  # no retry left
    done = await store.get_job(job.id)
    assert (done.status, done.failed, done.succeeded) == (JobStatus.FAILED, 1, 1)
    assert done.finished is not None
    statuses = Counter(t.status for t in await store.tasks(job.id))
    assert statuses == {TaskStatus.FAILED: 1, TaskStatus.SUCCEEDED: 1}


async def test_the_log_says_when_a_failed_task_runs_again_and_when_it_fails_for_good(
    store: Store,
) -> None:
    """Each failed attempt leaves jobdash's own line in its task's log, as that attempt's:
    with retries left when it runs again (its time in the writer's zone), else that none are
    left, so that whoever reads the job's log sees why the task stopped."""
    job = await store.create_job(commands("flaky", tasks=1, retries=1))
    await store.admit()
    for attempt in (1, 2):
        (c,) = await store.claim(Claimant("a", "a", 2, 600))
        assert c.attempt == attempt
        assert await store.complete(
            Outcome(c.task_id, c.attempt, "a", TaskStatus.FAILED, 1, "exit 1")
        )
        await store.flush()
    notes = [(ln.attempt, ln.text) for ln in await store.logs(job.id) if ln.stream == "system"]
    assert len(notes) == 2, notes
    (first, retry), (second, final) = notes
    assert first == 1 and retry.startswith("flaky1: attempt 1 of 2 failed (exit 1); retrying in ")
    assert (second, final) == (2, "flaky1: attempt 2 of 2 failed (exit 1); no retries left")
    assert (await store.get_job(job.id)).status is JobStatus.FAILED


async def test_claims_are_shared_out_between_jobs(store: Store) -> None:
    a = await store.create_job(commands("a", tasks=4))
    b = await store.create_job(commands("b", tasks=4))
    await store.admit()
    claims: list[Claim] = await store.claim(Claimant("a", "a", 4, 600))
    assert Counter(c.job_id for c in claims) == {a.id: 2, b.id: 2}


async def test_a_claim_given_back_in_a_cancelling_job_is_cancelled_and_the_job_ends(
    store: Store,
) -> None:
    """A claim given back while its job is being cancelled (an agent stopping, or one that
    could not renew its claims) is cancelled, as the job's pending tasks were: left pending
    it would keep the job cancelling for ever, since no one claims a cancelling job's tasks."""
    job = await store.create_job(commands("ab", 2, parallel=2))
    await store.admit()
    first, second = await store.claim(Claimant("a", "a", 2, 600))
    await store.cancel_job(job.id, "root")
    assert (await store.get_job(job.id)).status is JobStatus.CANCELLING
    assert await store.complete(Outcome(first.task_id, first.attempt, "a", TaskStatus.CANCELLED))
    await store.release("a", [second.task_id])
    tasks = await store.tasks(job.id)
    assert [(t.status, t.attempt) for t in tasks] == [
        (TaskStatus.CANCELLED, first.attempt),
        (TaskStatus.CANCELLED, second.attempt - 1),
    ]
    done = await store.get_job(job.id)
    assert (done.status, done.pending, done.running, done.cancelled) == (
        JobStatus.CANCELLED,
        0,
        0,
        2,
    )


async def test_a_drained_agent_claims_nothing_even_before_its_heartbeat_tells_it(
    store: Store,
) -> None:
    """`jobdash agent drain` promises that the agent takes no new task once it returns; the
    agent itself hears of it at its next heartbeat (seconds later), so the claim checks."""
    await store.register_agent(AgentInfo("a", "host", 1, "v", 4, 0, "idle", 0.0, 0.0), "a/1")
    await store.create_job(commands("work", 4, parallel=4))
    await store.admit()
    (first,) = await store.claim(Claimant("a/1", "a", 1, 600))
    await store.set_agent_drain("a", "root")
    assert await store.claim(Claimant("a/1", "a", 3, 600)) == []
    # Another agent, or a new one of that name (its start clears the flag), claims on.
    assert len(await store.claim(Claimant("b/1", "b", 1, 600))) == 1
    await store.set_agent_drain("a", "root", drain=False)
    assert len(await store.claim(Claimant("a/1", "a", 3, 600))) == 2
    assert await finish(store, first, "a/1")
