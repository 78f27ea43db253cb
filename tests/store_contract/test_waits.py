"""Why a job waits, as each store reads it (`wait_situation`, judged by `core.waiting.explain`)
and writes it (`note_waits`, the pause, admission): every situation here is made by the
store's own paths (admission taking a lock, a claim, a failed attempt's backoff, an agent's
lease running out and its tasks recovered as suspects, a pause), on each backend."""

from __future__ import annotations

import time

import pytest

from jobdash.core.agent_info import AgentInfo
from jobdash.core.deaths import SUSPECT_DRAIN
from jobdash.core.model import JobStatus, NotFound
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claimant
from jobdash.core.views import Why
from jobdash.core.waiting import Kind, explain
from tests.store_contract.jobs import commands, finish, until

LIVE = 3600.0  # agents heard from within the last hour are live here


def agent(name: str, slots: int = 4) -> AgentInfo:
    return AgentInfo(name, "host", 4242, "v", slots, 0, "idle", time.time(), time.time())


async def live_agent(store: Store, name: str, slots: int = 4) -> str:
    """A registered agent that runs type "x" (hash h1), heart-beating now; its owner."""
    owner = f"{name}/1"
    await store.register_agent(agent(name, slots), owner)
    await store.publish_catalogue(name, {"x": ("h1", {})})
    await store.heartbeat(name, owner, "idle", 600)
    return owner


async def why(store: Store, job_id: int) -> Why:
    """Why the job waits, read now, as `Service.why` reads it."""
    return explain(await store.wait_situation(job_id, time.time() - LIVE), time.time())


async def test_a_job_waiting_for_a_lock_names_its_holder_with_user_start_and_progress(
    store: Store,
) -> None:
    owner = await live_agent(store, "e1")
    holder = await store.create_job(
        commands("x", tasks=2, user="alice", lock_keys=["folder:/srv/a"], type_hash="h1")
    )
    waiter = await store.create_job(
        commands("x", user="bob", lock_keys=["folder:/srv/a"], type_hash="h1")
    )
    await store.admit(live_after=time.time() - LIVE)
    shown = await store.get_job(waiter.id)
    assert shown.status is JobStatus.WAITING
    assert shown.info == f"waiting: lock folder:/srv/a held by job {holder.id}"
    first, second = await store.claim(Claimant(owner, "e1", 2, 600))
    assert await finish(store, first, owner)  # one of its two tasks done: 50%
    await store.flush()
    w = await why(store, waiter.id)
    assert (w.kind, w.waiting, w.status) == (Kind.LOCK, True, JobStatus.WAITING)
    assert w.holder is not None
    assert (w.holder.key, w.holder.job_id, w.holder.user) == ("folder:/srv/a", holder.id, "alice")
    started = (await store.get_job(holder.id)).started
    assert w.holder.started == started and w.holder.progress == pytest.approx(50.0)
    assert w.text.startswith(f"lock folder:/srv/a held by job {holder.id} (alice; running since ")
    assert w.text.endswith(", 50%)")
    # The holder ends: the waiter is admitted, and runs.
    assert await finish(store, second, owner)
    await store.flush()
    await store.admit(live_after=time.time() - LIVE)
    assert (await why(store, waiter.id)).kind == Kind.READY


async def test_an_exclusive_job_waits_for_the_exclusive_slot(store: Store) -> None:
    await live_agent(store, "e1")
    first = await store.create_job(
        commands("x", user="alice", lock_keys=["exclusive"], type_hash="h1")
    )
    second = await store.create_job(
        commands("x", user="bob", lock_keys=["exclusive"], type_hash="h1")
    )
    other = await store.create_job(commands("x", user="bob", type_hash="h1"))  # runs beside
    await store.admit()
    assert (await store.get_job(second.id)).info == (
        f"waiting: exclusive slot held by job {first.id}"
    )
    assert (await store.get_job(other.id)).status is JobStatus.RUNNING
    w = await why(store, second.id)
    assert w.kind == Kind.EXCLUSIVE and w.holder is not None and w.holder.job_id == first.id
    assert w.text == f"exclusive slot held by job {first.id} (alice; admitted, no task started yet)"


async def test_a_paused_job_says_who_paused_it_and_when_until_it_is_resumed(store: Store) -> None:
    await live_agent(store, "e1")
    job = await store.create_job(commands("x", tasks=2, type_hash="h1"))
    await store.admit()
    before = time.time()
    await store.pause_job(job.id, "carol")
    after = time.time()
    assert (await store.get_job(job.id)).info == "paused by carol"
    await store.note_waits(time.time() - LIVE)  # housekeeping leaves a paused job's line
    assert (await store.get_job(job.id)).info == "paused by carol"
    w = await why(store, job.id)
    assert w.kind == Kind.PAUSED and w.paused is not None
    user, at = w.paused
    assert user == "carol" and before - 1 <= at <= after + 1
    assert w.text.startswith("paused by carol at ")
    await store.resume_job(job.id, "carol")
    shown = await store.get_job(job.id)
    assert shown.status is JobStatus.RUNNING and shown.info == ""


async def test_a_failed_attempt_waiting_out_its_backoff_says_until_when(store: Store) -> None:
    owner = await live_agent(store, "e1")
    job = await store.create_job(commands("x", tasks=1, retries=2, backoff=60.0, type_hash="h1"))
    await store.admit()
    (c,) = await store.claim(Claimant(owner, "e1", 1, 600))
    failed_at = time.time()
    assert await finish(store, c, owner, ok=False)
    await store.flush()
    assert await store.note_waits(time.time() - LIVE) == 1
    assert (await store.get_job(job.id)).info.startswith("retry backoff: next try at ")
    assert await store.note_waits(time.time() - LIVE) == 0  # a line written once
    w = await why(store, job.id)
    assert w.kind == Kind.BACKOFF and w.until is not None
    assert failed_at + 59 <= w.until <= time.time() + 61
    assert w.text.startswith("retry backoff: task #1 (attempt 1 failed) runs again at ")
    # Nothing claims it meanwhile: the backoff is the claim's rule too.
    assert await store.claim(Claimant(owner, "e1", 1, 600)) == []


async def test_tasks_beyond_the_jobs_parallel_say_which_tasks_hold_its_slots(
    store: Store,
) -> None:
    owner = await live_agent(store, "e1")
    job = await store.create_job(commands("x", tasks=3, parallel=1, type_hash="h1"))
    await store.admit()
    (c,) = await store.claim(Claimant(owner, "e1", 4, 600))  # one: its parallel is 1
    assert c.seq == 1
    w = await why(store, job.id)
    assert (w.kind, w.waiting) == (Kind.RUNNING, False)
    (tasks,) = w.tasks
    assert (tasks.kind, tasks.count) == (Kind.PARALLEL, 2)
    assert tasks.text == "parallel 1/1 used by its task #1"


async def test_a_quarantine_suspect_runs_alone_and_holds_the_busy_agents_back(
    store: Store,
) -> None:
    """A task lost with its agent runs again alone: its job says so, and a job whose tasks
    are ready waits while the busy agents claim nothing new, so that one becomes idle."""
    owner = await live_agent(store, "e1", slots=4)
    suspect_job = await store.create_job(commands("x", retries=3, type_hash="h1"))
    busy_job = await store.create_job(commands("x", type_hash="h1"))
    await store.admit()
    # An agent claims the first job's task, the live agent the second's; the first agent
    # dies: its lease runs out, and its task is recovered as a suspect.
    (lost,) = await store.claim(Claimant("dead/1", "dead", 1, 0.05))
    assert lost.job_id == suspect_job.id
    (busy,) = await store.claim(Claimant(owner, "e1", 1, 600))
    assert busy.job_id == busy_job.id
    await until(store.has_lost_tasks, "lost")
    assert await store.recover_lost() == 1
    later = await store.create_job(commands("x", type_hash="h1"))
    await store.admit()
    # The busy agent claims nothing while the suspect waits (the claim's own rule) …
    assert await store.claim(Claimant(owner, "e1", 3, 600, idle=False)) == []
    w = await why(store, suspect_job.id)
    assert w.kind == Kind.ALONE
    assert w.text.startswith("quarantine: task #1 lost with its agent runs again alone")
    w = await why(store, later.id)
    assert w.kind == Kind.QUARANTINE and w.until is not None
    assert w.text.startswith(
        f"blocked by a quarantine: agents take no new task until job {suspect_job.id}'s task #1"
    )
    assert w.until <= time.time() + SUSPECT_DRAIN
    # … and the tables' lines say the same.
    await store.note_waits(time.time() - LIVE)
    assert (await store.get_job(suspect_job.id)).info.startswith("quarantine: task #1")
    assert (await store.get_job(later.id)).info.startswith("blocked by a quarantine: ")


async def test_a_task_no_live_agent_holds_says_agent_lost(store: Store) -> None:
    """A running task whose agent died (its lease ran out, not yet recovered) is why its
    job runs nothing: `why` says agent lost, not "running", with what brings it back."""
    job = await store.create_job(commands("x", tasks=2, retries=1, type_hash="h1"))
    await store.admit()
    claims = await store.claim(Claimant("dead/1", "dead", 2, 0.05))
    assert [c.job_id for c in claims] == [job.id, job.id]
    await until(store.has_lost_tasks, "lost")
    w = await why(store, job.id)
    assert (w.kind, w.waiting, w.status) == (Kind.LOST, True, JobStatus.RUNNING)
    assert w.text.startswith("agent lost: tasks #1, #2 held by no live agent (lease ran out at ")
    assert w.text.endswith(
        "; recovered when an engine starts (start one: jobdash serve), run again if retries remain"
    )
    assert await store.recover_lost() == 2
    assert (await why(store, job.id)).kind == Kind.ALONE


async def test_no_live_agent_draining_agents_and_busy_slots(store: Store) -> None:
    job = await store.create_job(commands("x", type_hash="h1"))
    await store.admit()
    w = await why(store, job.id)
    assert (w.kind, w.text) == (Kind.NO_AGENT, "no live agent to run it (start one: jobdash serve)")
    owner = await live_agent(store, "e1", slots=1)
    other = await store.create_job(commands("x", type_hash="h1"))
    await store.admit()
    (c,) = await store.claim(Claimant(owner, "e1", 1, 600))
    waiting = other.id if c.job_id == job.id else job.id
    w = await why(store, waiting)
    assert (w.kind, w.text) == (Kind.BUSY, f"agents busy: 1/1 slot (job {c.job_id})")
    await store.set_agent_drain("e1", "root", True)
    w = await why(store, waiting)
    assert (w.kind, w.text) == (Kind.DRAINING, "agents draining: all 1 live agent")


async def test_a_finished_job_and_an_unknown_one(store: Store) -> None:
    owner = await live_agent(store, "e1")
    job = await store.create_job(commands("x", type_hash="h1"))
    await store.admit()
    (c,) = await store.claim(Claimant(owner, "e1", 1, 600))
    assert await finish(store, c, owner)
    await store.flush()
    w = await why(store, job.id)
    assert (w.kind, w.waiting, w.status) == (Kind.FINISHED, False, JobStatus.SUCCEEDED)
    assert w.text.startswith("finished: succeeded at ") and w.text.endswith(": 1 task done")
    with pytest.raises(NotFound, match="no job 999"):
        await store.wait_situation(999, time.time())
