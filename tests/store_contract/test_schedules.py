"""(schedule, fire time) is unique, whoever fires it; the leader lease has one holder."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest

from jobdash.core.model import Refused, Report
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.engine_records import Advance, PolicyChange, ScheduleSpec, TickRecord
from tests.store_contract.jobs import commands, said, until, workers

Stores = Callable[[], Awaitable[Store]]
FIRE = 1_900_000_000.0


async def test_a_second_job_for_one_fire_time_is_refused(store: Store) -> None:
    first = await store.create_job(commands("nightly", schedule_id="nightly", fire_time=FIRE))
    with pytest.raises(Refused, match="schedule nightly already started a job for that fire"):
        await store.create_job(commands("nightly", schedule_id="nightly", fire_time=FIRE))
    later = await store.create_job(commands("nightly", schedule_id="nightly", fire_time=FIRE + 60))
    other = await store.create_job(commands("hourly", schedule_id="hourly", fire_time=FIRE))
    assert await store.job_for_fire("nightly", FIRE) == first.id
    assert await store.job_for_fire("nightly", FIRE + 60) == later.id
    assert await store.job_for_fire("hourly", FIRE) == other.id
    assert await store.job_for_fire("nightly", FIRE + 1) is None
    # Jobs outside schedules have no fire time: any number of them.
    await store.create_job(commands("manual"))
    await store.create_job(commands("manual"))


def test_processes_firing_one_fire_time_start_one_job(tmp_path: Path, location: str) -> None:
    with workers(tmp_path, location, "fire", 4, str(FIRE)) as procs:
        answers = [said(p)[-1] for p in procs]
    assert sorted(a[0] for a in answers) == ["created", "refused", "refused", "refused"]


async def test_a_tick_already_recorded_is_kept_and_only_gains_a_job(store: Store) -> None:
    await store.sync_schedules([ScheduleSpec("nightly", "nightly", "daily", "UTC")], ["nightly"])
    job = await store.create_job(commands("nightly", schedule_id="nightly", fire_time=FIRE))
    await store.record_ticks(
        "nightly", [TickRecord(FIRE, "ran", None, "first")], Advance(FIRE, None)
    )
    # Another leader, briefly, records the same fire time: one tick, which gains the job.
    await store.record_ticks(
        "nightly", [TickRecord(FIRE, "skipped", job.id, "second")], Advance(FIRE, None, job.id)
    )
    await store.record_ticks(
        "nightly", [TickRecord(FIRE, "error", None, "third")], Advance(FIRE, None)
    )
    (tick,) = await store.ticks("nightly")
    assert (tick.fire_time, tick.outcome, tick.job_id) == (FIRE, "ran", job.id)
    assert (await store.get_schedule("nightly")).last_job == job.id


async def test_the_leader_lease_has_one_holder_and_is_taken_over_once_run_out(
    stores: Stores,
) -> None:
    a, b = await stores(), await stores()
    assert await a.acquire_lease("scheduler", "a", 3600)
    assert not await b.acquire_lease("scheduler", "b", 3600)
    assert await a.acquire_lease("scheduler", "a", 0.05)  # renewed, short now
    await until(lambda: b.acquire_lease("scheduler", "b", 3600), "taken over")
    assert not await a.acquire_lease("scheduler", "a", 3600)
    assert await a.acquire_lease("other", "a", 3600)  # leases are by name
    await b.release_lease("scheduler", "a")  # not a's to give up: nothing happens
    assert not await a.acquire_lease("scheduler", "a", 3600)
    await b.release_lease("scheduler", "b")
    assert await a.acquire_lease("scheduler", "a", 3600)


async def test_store_objects_racing_for_the_lease_elect_one(stores: Stores) -> None:
    many = [await stores() for _ in range(4)]
    won = await asyncio.gather(
        *(s.acquire_lease("scheduler", f"o{i}", 3600) for i, s in enumerate(many))
    )
    assert won.count(True) == 1


def test_processes_racing_for_the_lease_elect_one(tmp_path: Path, location: str) -> None:
    with workers(tmp_path, location, "lease", 4) as procs:
        answers = [said(p)[-1] for p in procs]
    assert sorted(a[1] for a in answers) == [False, False, False, True]

    async def holder_stays() -> None:
        store = await open_store(location)
        try:
            assert not await store.acquire_lease("leader", "newcomer", 3600)
        finally:
            await store.close()

    asyncio.run(holder_stays())


async def test_an_admins_overrides_stay_across_config_syncs(store: Store) -> None:
    spec = ScheduleSpec("nightly", "nightly", "daily: 02:00", "UTC")
    await store.sync_schedules([spec], ["nightly"])
    await store.set_schedule_planning("nightly", "daily: 05:00", "Europe/Paris", "root", None)
    await store.set_schedule_policy("nightly", "root", PolicyChange(overlap="queue"))
    await store.set_schedule_enabled("nightly", False, "root")
    spec.planning = "daily: 03:00"
    await store.sync_schedules([spec], ["nightly"])
    s = await store.get_schedule("nightly")
    assert (s.planning, s.timezone, s.enabled, s.overlap) == (
        "daily: 05:00",
        "Europe/Paris",
        False,
        "queue",
    )
    assert (s.source, s.config_planning) == ("admin", "daily: 03:00")
    # "automatic" follows the config again: its planning and the zone it gives.
    await store.set_schedule_planning("nightly", "automatic", None, "root", None, "UTC")
    s = await store.get_schedule("nightly")
    assert (s.planning, s.timezone, s.source) == ("automatic", "UTC", "config")
    await store.set_schedule_planning("nightly", "daily: 05:00", "Europe/Paris", "root", None)
    assert [x.id for x in await store.schedules()] == ["nightly"]
    first = await store.create_job(commands("nightly", schedule_id="nightly", fire_time=FIRE))
    second = await store.create_job(commands("nightly", schedule_id="nightly", fire_time=FIRE + 1))
    await store.cancel_job(second.id, "root")
    assert await store.active_schedule_jobs("nightly") == [first.id]
    await store.note_schedule_run("nightly", first.id, "root")
    assert (await store.get_schedule("nightly")).last_job == first.id


async def test_recipients_an_admin_sets_stay_across_config_syncs_until_given_back(
    store: Store,
) -> None:
    spec = ScheduleSpec("nightly", "nightly", "daily: 02:00", "UTC")
    spec.report = Report(email=("config@example.org",))
    await store.sync_schedules([spec], ["nightly"])
    s = await store.get_schedule("nightly")
    assert (s.report, s.report_source) == (Report(email=("config@example.org",)), "config")

    mine = Report(email=("oncall@example.org",), webhook=("https://hooks.example.org/x",))
    await store.set_schedule_report("nightly", "root", mine)
    spec.report = Report(email=("changed@example.org",))
    await store.sync_schedules([spec], ["nightly"])  # the config changed: a reload
    s = await store.get_schedule("nightly")
    assert (s.report, s.report_source) == (mine, "admin")

    await store.set_schedule_report("nightly", "root", Report())  # "send report" unticked
    assert (await store.get_schedule("nightly")).report == Report()
    await store.set_schedule_report("nightly", "root", None)  # the config's again: its latest
    s = await store.get_schedule("nightly")
    assert (s.report, s.report_source) == (Report(email=("changed@example.org",)), "config")
    spec.report = Report()
    await store.sync_schedules([spec], ["nightly"])  # following the config again
    assert (await store.get_schedule("nightly")).report == Report()
    with pytest.raises(Refused):
        await store.set_schedule_report("nope", "root", mine)
