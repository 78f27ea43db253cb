"""Cancel, pause, resume and retry as the store applies the job rules' decisions
(jobdash.core.lifecycle): for a job in each state the store does what the rule decides, or
refuses with the rule's very line, and changes nothing then."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import pytest

from jobdash.core import lifecycle
from jobdash.core.model import JobStatus, Refused, TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claimant
from tests.store_contract.jobs import commands, finish, run_all

J = JobStatus


async def queued(store: Store) -> tuple[int, bool]:
    return (await store.create_job(commands("job", tasks=2))).id, False


async def waiting(store: Store) -> tuple[int, bool]:
    await store.create_job(commands("holder", lock_keys=["k"]))
    job = await store.create_job(commands("job", tasks=2, lock_keys=["k"]))
    await store.admit()
    return job.id, False


async def running(store: Store) -> tuple[int, bool]:
    job = await store.create_job(commands("job", tasks=2))
    await store.admit()
    await store.claim(Claimant("a", "a", 1, 600))
    return job.id, True


async def uncancellable(store: Store) -> tuple[int, bool]:
    job = await store.create_job(commands("job", tasks=2, cancellable=False))
    await store.admit()
    return job.id, True


async def paused_queued(store: Store) -> tuple[int, bool]:
    job_id, _ = await queued(store)
    await store.pause_job(job_id, "root")
    return job_id, False


async def paused_running(store: Store) -> tuple[int, bool]:
    job_id, _ = await running(store)
    await store.pause_job(job_id, "root")
    return job_id, True


async def cancelling(store: Store) -> tuple[int, bool]:
    job_id, _ = await running(store)
    await store.cancel_job(job_id, "root")
    return job_id, True


async def succeeded(store: Store) -> tuple[int, bool]:
    job_id, _ = await queued(store)
    await run_all(store)
    return job_id, True


async def warning(store: Store) -> tuple[int, bool]:
    job_id, _ = await queued(store)
    store.add_warning(job_id)
    await store.flush()
    await run_all(store)
    return job_id, True


async def failed(store: Store) -> tuple[int, bool]:
    job_id, _ = await queued(store)
    await store.admit()
    first, second = await store.claim(Claimant("a", "a", 2, 600))
    assert await finish(store, first, "a", ok=False)
    assert await finish(store, second, "a")
    return job_id, True


async def cancelled(store: Store) -> tuple[int, bool]:
    job_id, _ = await queued(store)
    await store.cancel_job(job_id, "root")
    return job_id, False


STATES: dict[str, Callable[[Store], Awaitable[tuple[int, bool]]]] = {
    f.__name__: f
    for f in (
        queued,
        waiting,
        running,
        uncancellable,
        paused_queued,
        paused_running,
        cancelling,
        succeeded,
        warning,
        failed,
        cancelled,
    )
}
EXPECTED = {
    "paused_queued": J.PAUSED,
    "paused_running": J.PAUSED,
    "uncancellable": J.RUNNING,
    "warning": J.WARNING,
}


async def retriable(store: Store, job_id: int) -> int:
    done = (TaskStatus.FAILED, TaskStatus.CANCELLED)
    return sum(t.status in done for t in await store.tasks(job_id))


@pytest.mark.parametrize("state", sorted(STATES))
async def test_the_states_are_what_their_names_say(store: Store, state: str) -> None:
    job_id, _ = await STATES[state](store)
    assert (await store.get_job(job_id)).status == EXPECTED.get(state, state)


@pytest.mark.parametrize("request_", ["cancel", "force-cancel", "pause", "resume", "retry"])
@pytest.mark.parametrize("state", sorted(STATES))
async def test_a_request_does_what_the_rules_decide(
    store: Store, state: str, request_: str
) -> None:
    job_id, admitted = await STATES[state](store)
    job = await store.get_job(job_id)
    before = (job, await store.tasks(job_id))
    n = await retriable(store, job_id)
    decide: Callable[[], object] = {
        "cancel": lambda: lifecycle.decide_cancel(
            job_id, job.type, job.status, job.cancellable, False, "root"
        ),
        "force-cancel": lambda: lifecycle.decide_cancel(
            job_id, job.type, job.status, job.cancellable, True, "root"
        ),
        "pause": lambda: lifecycle.decide_pause(job_id, job.status),
        "resume": lambda: lifecycle.decide_resume(job_id, job.status, admitted),
        "retry": lambda: lifecycle.decide_retry(job_id, job.status, n, "root"),
    }[request_]
    apply = {
        "cancel": lambda: store.cancel_job(job_id, "root"),
        "force-cancel": lambda: store.cancel_job(job_id, "root", force=True),
        "pause": lambda: store.pause_job(job_id, "root"),
        "resume": lambda: store.resume_job(job_id, "root"),
        "retry": lambda: store.retry_job(job_id, "root"),
    }[request_]
    try:
        decision = decide()
    except Refused as refusal:
        with pytest.raises(Refused) as e:
            await apply()
        assert str(e.value) == str(refusal)
        assert (await store.get_job(job_id), await store.tasks(job_id)) == before
        return
    answer = await apply()
    now = await store.get_job(job_id)
    if isinstance(decision, lifecycle.Cancel):
        # Pending tasks are cancelled at once; with none running, the job is settled.
        assert now.pending == 0
        assert now.status is (J.CANCELLING if now.running else J.CANCELLED)
        assert now.info == decision.info or now.status is J.CANCELLED
        assert (await store.job_statuses([job_id]))[job_id] == (now.status, decision.force)
    elif isinstance(decision, lifecycle.Retry):
        assert answer == decision.tasks
        assert (now.status, now.info, now.finished) == (decision.status, decision.info, None)
        assert now.pending == before[0].pending + decision.tasks
    else:
        assert now.status is decision
    events = await store.audit_events(f"job:{job_id}")
    assert events[0].user == "root"


async def test_a_force_cancel_stays_forced(store: Store) -> None:
    job_id, _ = await running(store)
    await store.cancel_job(job_id, "root", force=True)
    assert (await store.job_statuses([job_id]))[job_id] == (J.CANCELLING, True)
    with pytest.raises(Refused):
        await store.cancel_job(job_id, "root")
    assert (await store.job_statuses([job_id]))[job_id] == (J.CANCELLING, True)


async def test_tasks_added_to_a_cancelling_job_are_cancelled_as_they_come(store: Store) -> None:
    from jobdash.core.store.engine_records import NewTask

    job_id, _ = await running(store)
    assert await store.add_tasks(job_id, [NewTask("x", "x", "function", "m:f")]) == 1
    assert await store.add_tasks(job_id, [NewTask("x", "x", "function", "m:f")]) == 0
    assert (await store.get_job(job_id)).pending == 2
    await store.cancel_job(job_id, "root")
    assert await store.add_tasks(job_id, [NewTask("y", "y", "function", "m:f")]) == 1
    job = await store.get_job(job_id)
    assert (job.pending, job.running, job.cancelled) == (0, 1, 3)
