"""Recovery of a dead agent's tasks (Store.recover_lost): the tasks of an owner whose lease
ran out run again as the next attempt, alone, and a task charged with too many deaths is
quarantined. Leases are short here and the tests wait for them to run out."""

from __future__ import annotations

from jobdash.core.agent_info import AgentInfo
from jobdash.core.model import JobStatus, TaskStatus
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Claimant
from tests.store_contract.jobs import commands, finish, until

SHORT = 0.05  # a lease that runs out at once: its owner is dead


async def die(store: Store, owner: str, n: int) -> list[int]:
    """An agent claims `n` tasks and dies: its lease runs out and it is recovered."""
    claims = await store.claim(Claimant(owner, owner, n, SHORT))
    assert len(claims) == n
    await until(store.has_lost_tasks, "lost")
    assert await store.recover_lost() == len(claims)
    return sorted(c.task_id for c in claims)


async def test_a_dead_agents_task_runs_again_as_the_next_attempt(store: Store) -> None:
    job = await store.create_job(commands("lost", retries=3))
    await store.admit()
    await store.register_agent(AgentInfo("a", "host", 1, "v", 4, 0, "idle", 0.0, 0.0), "owner-a")
    (c,) = await store.claim(Claimant("owner-a", "a", 1, SHORT))
    await until(store.has_lost_tasks, "lost")
    assert await store.recover_lost() == 1
    assert not await store.has_lost_tasks()
    (t,) = await store.tasks(job.id)
    assert (t.status, t.error) == (TaskStatus.PENDING, "agent lost")
    # The dead owner holds it no more: its heartbeat says so and its outcome is refused.
    held, _ = await store.heartbeat("a", "owner-a", "online", 600)
    assert held == set()
    assert not await finish(store, c, "owner-a")
    # It runs again, alone (a suspect), as the next attempt.
    (again,) = await store.claim(Claimant("owner-b", "b", 4, 600))
    assert (again.task_id, again.attempt, again.alone) == (c.task_id, c.attempt + 1, True)
    assert await finish(store, again, "owner-b")
    assert (await store.get_job(job.id)).status is JobStatus.SUCCEEDED


async def test_a_live_owners_tasks_are_not_recovered(store: Store) -> None:
    await store.create_job(commands("alive", tasks=2))
    await store.admit()
    await store.claim(Claimant("alive", "alive", 1, 600))
    await store.claim(Claimant("dead", "dead", 1, SHORT))
    await until(store.has_lost_tasks, "lost")
    assert await store.recover_lost() == 1
    held, _ = await store.heartbeat("alive", "alive", "online", 600)
    assert len(held) == 1


async def test_a_task_charged_with_n_deaths_is_quarantined(store: Store) -> None:
    job = await store.create_job(commands("killer", retries=10))
    await store.admit()
    for _ in range(2):
        await die(store, "d", 1)  # alone each time: charged
    (t,) = await store.tasks(job.id)
    assert (t.status, t.error) == (TaskStatus.FAILED, "quarantined: killed its agent 2 times")
    assert (await store.get_job(job.id)).status is JobStatus.FAILED
    assert await store.claim(Claimant("x", "x", 4, 600)) == []


async def test_quarantine_after_is_the_callers(store: Store) -> None:
    job = await store.create_job(commands("killer", retries=10))
    await store.admit()
    for n in range(3):
        await store.claim(Claimant("d", "d", 1, SHORT))
        await until(store.has_lost_tasks, "lost")
        assert await store.recover_lost(quarantine_after=3) == 1
        (t,) = await store.tasks(job.id)
        assert t.status is (TaskStatus.FAILED if n == 2 else TaskStatus.PENDING)


async def test_a_death_of_several_charges_none_and_a_task_without_retries_fails(
    store: Store,
) -> None:
    a = await store.create_job(commands("a", retries=1))
    b = await store.create_job(commands("b", retries=0))
    await store.admit()
    await die(store, "d", 2)
    (ta,) = await store.tasks(a.id)
    (tb,) = await store.tasks(b.id)
    assert (ta.status, ta.error) == (TaskStatus.PENDING, "agent lost")
    assert (tb.status, tb.error) == (TaskStatus.FAILED, "agent lost")
    assert (await store.get_job(b.id)).status is JobStatus.FAILED
    assert any("not attributable" in ln.text for ln in await store.logs(a.id))


async def test_a_stopped_agent_that_heart_beats_again_has_its_death_withdrawn(
    store: Store,
) -> None:
    job = await store.create_job(commands("frozen", retries=10))
    await store.admit()
    (c,) = await store.claim(Claimant("o", "frozen", 1, SHORT))
    await until(store.has_lost_tasks, "lost")
    await store.recover_lost()
    assert await store.withdraw_deaths("o", "frozen", [(c.task_id, c.attempt)]) == 1
    # Withdrawn: one more death alone charges one, not two (no quarantine yet).
    await die(store, "d", 1)
    (t,) = await store.tasks(job.id)
    assert t.status is TaskStatus.PENDING


async def test_a_suspect_is_claimed_alone_by_an_idle_claimant_only(store: Store) -> None:
    await store.create_job(commands("suspect", retries=3))
    await store.admit()
    (lost,) = await die(store, "d", 1)
    other = await store.create_job(commands("other", tasks=2))
    await store.admit()
    assert not await store.has_claimable(idle=False)
    assert await store.claim(Claimant("busy", "busy", 4, 600, idle=False)) == []
    (c,) = await store.claim(Claimant("idle", "idle", 4, 600))
    assert (c.task_id, c.alone) == (lost, True)
    # Once the suspect is taken, the ordinary tasks are claimed as ever, side by side
    # (the claimant that runs a suspect runs nothing beside it: the `alone` flag says so).
    others = await store.claim(Claimant("busy", "busy", 4, 600, idle=False))
    assert [(x.job_id, x.alone) for x in others] == [(other.id, False)] * 2
    assert await finish(store, c, "idle")


async def test_a_dead_agents_leases_end_at_once_and_its_process_groups_are_named(
    store: Store,
) -> None:
    await store.create_job(commands("orphan", retries=3))
    await store.admit()
    await store.register_agent(AgentInfo("gone", "h1", 4242, "v", 4, 0, "idle", 0.0, 0.0), "og")
    await store.register_agent(AgentInfo("live", "h1", 4343, "v", 4, 0, "idle", 0.0, 0.0), "ol")
    await store.register_agent(AgentInfo("far", "h2", 4242, "v", 4, 0, "idle", 0.0, 0.0), "of")
    (c,) = await store.claim(Claimant("og", "gone", 1, 600))
    store.note_pgid(c.task_id, 777)
    await store.flush()
    assert not await store.has_lost_tasks()
    names, owners, groups = await store.expire_dead_agents("h1", lambda pid: pid != 4242)
    assert (names, owners, groups) == (["gone"], ["og"], [777])
    assert await store.has_lost_tasks()
    assert await store.recover_lost() == 1
    states = {a.name: a.state for a, _ in await store.agents()}
    assert states["gone"] == "offline" and states["far"] != "offline"
