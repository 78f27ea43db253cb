"""A job type's finalize step as the store runs it (lifecycle.after_last_task): added as a
task of kind "finalize" in the transaction of the last other task's outcome, the job
`finalizing` meanwhile, claimed, fenced and recovered like any task; how the job then ends;
cancel, retry and pause around it. A job without a step never shows the state."""

from __future__ import annotations

import pytest

from jobdash.core.model import JobStatus, Refused, Task, TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claim, Claimant, NewTask, Outcome
from tests.conftest import new_job
from tests.store_contract.jobs import commands, finish

J = JobStatus
T = TaskStatus


def claimant(owner: str = "a", free: int = 10) -> Claimant:
    return Claimant(owner, owner, free, 600)


async def run_tasks(store: Store, job_id: int, ok: bool = True) -> None:
    """Claim and end every task of the job, the only one with work (they fail with
    "exit 1" unless `ok`), up to its finalize step (left unclaimed)."""
    await store.admit()
    while (await store.get_job(job_id)).status is J.RUNNING:
        for c in await store.claim(claimant()):
            assert c.job_id == job_id and c.kind == "command"
            status, code, error = (T.SUCCEEDED, 0, "") if ok else (T.FAILED, 1, "exit 1")
            assert await store.complete(Outcome(c.task_id, c.attempt, "a", status, code, error))


async def step_of(store: Store, job_id: int) -> Task:
    (step,) = [t for t in await store.tasks(job_id) if t.name == "finalize"]
    return step


async def claim_step(store: Store, owner: str = "a") -> Claim:
    (c,) = await store.claim(claimant(owner))
    assert (c.kind, c.name) == ("finalize", "finalize")
    return c


async def test_the_step_is_added_when_the_last_task_ends_and_the_job_finalizes(
    store: Store,
) -> None:
    job = await store.create_job(commands("copy", tasks=3, finalize=True))
    await store.admit()
    claims = await store.claim(claimant())
    for c in claims[:2]:
        assert await finish(store, c, "a")
    running = await store.get_job(job.id)
    assert running.status is J.RUNNING and running.total == 3  # no step before the end
    assert await finish(store, claims[2], "a")
    j = await store.get_job(job.id)
    assert (j.status, j.pending, j.succeeded, j.total) == (J.FINALIZING, 1, 3, 4)
    assert j.info == "finalizing after 3 tasks"
    step = await step_of(store, job.id)
    assert (step.seq, step.status, step.attempt) == (4, T.PENDING, 0)
    c = await claim_step(store)
    assert (c.seq, c.attempt) == (4, 1)
    assert (await store.get_job(job.id)).status is J.FINALIZING
    # Fenced as any task: another owner's outcome is refused.
    assert not await store.complete(Outcome(c.task_id, c.attempt, "b", T.SUCCEEDED))
    assert await finish(store, c, "a")
    j = await store.get_job(job.id)
    assert (j.status, j.info, j.progress, j.pending, j.running) == (
        J.SUCCEEDED,
        "4 tasks done, finalized",
        100.0,
        0,
        0,
    )


async def test_a_job_without_a_step_never_finalizes(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=2))
    await run_tasks(store, job.id)
    j = await store.get_job(job.id)
    assert (j.status, j.info, j.total) == (J.SUCCEEDED, "2 tasks done", 2)
    assert await store.claim(claimant()) == []


async def test_the_step_runs_after_failed_tasks_and_the_job_fails(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=2, finalize=True))
    await run_tasks(store, job.id, ok=False)
    assert (await store.get_job(job.id)).status is J.FINALIZING
    assert await finish(store, await claim_step(store), "a")
    j = await store.get_job(job.id)
    assert j.status is J.FAILED
    assert j.info == "2 of 3 tasks failed — first: copy1: exit 1; finalized"


async def test_a_failing_step_fails_the_job_with_its_error(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=2, finalize=True))
    await run_tasks(store, job.id)
    c = await claim_step(store)
    assert await store.complete(
        Outcome(c.task_id, c.attempt, "a", T.FAILED, 4, "exit 4: no mail server")
    )
    j = await store.get_job(job.id)
    assert (j.status, j.info) == (J.FAILED, "finalize failed: exit 4: no mail server")
    assert j.failed == 1 and (await step_of(store, job.id)).status is T.FAILED


async def test_cancel_while_finalizing_ends_the_job_cancelled(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=1, finalize=True))
    await run_tasks(store, job.id)
    c = await claim_step(store)
    with pytest.raises(Refused) as refused:
        await store.pause_job(job.id, "root")
    assert str(refused.value) == (
        f"job {job.id} is finalizing; only a queued or running job can be paused"
    )
    assert (await store.cancel_job(job.id, "root")).status is J.CANCELLING
    # The agent stops the step: its attempt ends cancelled.
    assert await store.complete(Outcome(c.task_id, c.attempt, "a", T.CANCELLED, None, "cancelled"))
    j = await store.get_job(job.id)
    assert (j.status, j.info) == (
        J.CANCELLED,
        "cancelled while finalizing (1 of 2 tasks cancelled)",
    )


async def test_a_job_cancelled_before_its_end_is_not_finalized(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=2, finalize=True))
    await store.admit()
    (first, _second) = await store.claim(claimant())
    await store.cancel_job(job.id, "root")
    for c in (first, _second):
        assert await store.complete(Outcome(c.task_id, c.attempt, "a", T.CANCELLED))
    j = await store.get_job(job.id)
    assert j.status is J.CANCELLED and j.total == 2
    assert [t.name for t in await store.tasks(job.id)] == ["copy1", "copy2"]


async def test_a_retry_runs_the_step_again_after_the_retried_tasks(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=2, finalize=True))
    await store.admit()
    claims = await store.claim(claimant())
    assert await finish(store, claims[0], "a")
    assert await finish(store, claims[1], "a", ok=False)
    assert await finish(store, await claim_step(store), "a")
    assert (await store.get_job(job.id)).status is J.FAILED
    assert await store.retry_job(job.id, "root") == 1
    # The step is set aside while the retried task runs; not claimed beside it.
    assert (await step_of(store, job.id)).status is T.SKIPPED
    await store.admit()
    (again,) = await store.claim(claimant())
    assert again.name == "copy2"
    j = await store.get_job(job.id)
    assert (j.status, j.skipped, j.running) == (J.RUNNING, 1, 1)
    assert await finish(store, again, "a")
    j = await store.get_job(job.id)
    assert (j.status, j.pending, j.skipped) == (J.FINALIZING, 1, 0)
    c = await claim_step(store)
    assert c.attempt == 2  # the same step, a new attempt
    assert await finish(store, c, "a")
    j = await store.get_job(job.id)
    assert (j.status, j.info, j.total) == (J.SUCCEEDED, "3 tasks done, finalized", 3)


async def test_a_retry_of_a_failed_step_alone_finalizes_again(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=1, finalize=True))
    await run_tasks(store, job.id)
    c = await claim_step(store)
    assert await store.complete(Outcome(c.task_id, c.attempt, "a", T.FAILED, 1, "exit 1"))
    assert await store.retry_job(job.id, "root") == 1
    await store.admit()
    assert (await store.get_job(job.id)).status is J.FINALIZING
    assert await finish(store, await claim_step(store), "a")
    assert (await store.get_job(job.id)).status is J.SUCCEEDED


async def test_a_paused_job_finalizes_once_resumed(store: Store) -> None:
    job = await store.create_job(commands("copy", tasks=1, finalize=True))
    await store.admit()
    (c,) = await store.claim(claimant())
    await store.pause_job(job.id, "root")
    assert await finish(store, c, "a")
    j = await store.get_job(job.id)
    assert (j.status, j.pending, j.running) == (J.PAUSED, 0, 0)  # held: nothing new starts
    assert await store.claim(claimant()) == []
    assert (await store.resume_job(job.id, "root")).status is J.FINALIZING
    assert await finish(store, await claim_step(store), "a")
    assert (await store.get_job(job.id)).status is J.SUCCEEDED


async def test_a_job_with_no_tasks_still_finalizes(store: Store) -> None:
    job = await store.create_job(commands("empty", tasks=0, finalize=True))
    await store.admit()
    j = await store.get_job(job.id)
    assert (j.status, j.info) == (J.FINALIZING, "finalizing after 0 tasks")
    assert await finish(store, await claim_step(store), "a")
    assert (await store.get_job(job.id)).info == "1 task done, finalized"  # the step: 1/1


async def test_a_step_lost_with_its_agent_runs_again_alone_or_fails_the_job(
    store: Store,
) -> None:
    async def lose_step(job_id: int) -> None:
        await run_tasks(store, job_id)
        (c,) = await store.claim(Claimant("dead", "dead", 1, -1))  # its lease ran out
        assert c.kind == "finalize"
        assert await store.recover_lost() == 1

    # Retries left: pending again, a suspect, claimed alone by an idle claimant.
    again = await store.create_job(commands("copy", tasks=1, finalize=True, retries=1))
    await lose_step(again.id)
    step = await step_of(store, again.id)
    assert (step.status, step.attempt) == (T.PENDING, 1)
    assert (await store.get_job(again.id)).status is J.FINALIZING
    c = await claim_step(store)
    assert c.attempt == 2 and c.alone
    assert await finish(store, c, "a")
    assert (await store.get_job(again.id)).status is J.SUCCEEDED
    # None left: the job fails with the step's error.
    once = await store.create_job(commands("once", tasks=1, finalize=True))
    await lose_step(once.id)
    j = await store.get_job(once.id)
    assert (j.status, j.info) == (J.FAILED, "finalize failed: agent lost")


async def test_a_task_keyed_finalize_does_not_hide_the_step(store: Store) -> None:
    """A task of the job's own may have the key "finalize": the step takes another."""
    job = await store.create_job(
        new_job("x", [NewTask("finalize", "finalize", "command", None)], finalize=True)
    )
    await run_tasks(store, job.id)
    c = await claim_step(store)
    assert c.seq == 2
    assert await finish(store, c, "a")
    assert [(t.name, t.status) for t in await store.tasks(job.id)] == [
        ("finalize", T.SUCCEEDED),
        ("finalize", T.SUCCEEDED),
    ]
    assert (await store.get_job(job.id)).info == "2 tasks done, finalized"


@pytest.mark.parametrize("end", ["succeeded", "tasks failed", "step failed", "cancelled"])
async def test_the_info_line_counts_the_tasks_the_job_shows(store: Store, end: str) -> None:
    """The walk-through saw `8/8` beside "7 tasks done, finalized": the step is one of the
    job's tasks (its counters, its progress, `show`'s #8), so the info line counts it too."""
    job = await store.create_job(commands("copy", tasks=3, finalize=True))
    await run_tasks(store, job.id, ok=end != "tasks failed")
    c = await claim_step(store)
    if end == "cancelled":
        await store.cancel_job(job.id, "root")
        outcome = Outcome(c.task_id, c.attempt, "a", T.CANCELLED, None, "cancelled")
    elif end == "step failed":
        outcome = Outcome(c.task_id, c.attempt, "a", T.FAILED, 4, "exit 4")
    else:
        outcome = Outcome(c.task_id, c.attempt, "a", T.SUCCEEDED, 0, "")
    assert await store.complete(outcome)
    j = await store.get_job(job.id)
    assert j.total == 4
    said = {
        "succeeded": "4 tasks done, finalized",
        "tasks failed": "3 of 4 tasks failed — first: copy1: exit 1; finalized",
        "step failed": "finalize failed: exit 4",
        "cancelled": "cancelled while finalizing (1 of 4 tasks cancelled)",
    }
    assert j.info == said[end]
