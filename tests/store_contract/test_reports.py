"""Execution reports (Store.claim_reports, report_done and their fire-report twins): one
engine sends each report, its record fenced on the owner, taken over once its hold ran out."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Advance, Delivery, ScheduleSpec, TickRecord
from tests.store_contract.jobs import commands, run_all, until

Stores = Callable[[], Awaitable[Store]]
TO = {"email": ["ops@example.com"]}


async def test_a_finished_jobs_report_is_claimed_by_one_engine_and_fenced(
    stores: Stores,
) -> None:
    a, b = await stores(), await stores()
    job = await a.create_job(commands("reported", report=TO))
    silent = await a.create_job(commands("silent"))
    assert not await a.has_due_reports()  # not finished yet
    assert await a.claim_reports("a", 60) == []
    await run_all(a)
    assert await a.report_state(silent.id) is None
    assert await a.has_due_reports()
    got = await asyncio.gather(a.claim_reports("a", 60), b.claim_reports("b", 60))
    assert sorted(len(g) for g in got) == [0, 1]
    winner, loser = ("a", "b") if got[0] else ("b", "a")
    ((job_id, recipients, done, attempts),) = got[0] or got[1]
    assert (job_id, recipients, done, attempts) == (job.id, TO, [], 0)
    assert not await a.report_done(job.id, loser, Delivery(["email:ops@example.com"], "", None))
    assert (await a.report_state(job.id) or {})["state"] == "sending"
    # A failed send, to be tried again later: pending, not due yet.
    later = time.time() + 3600
    assert await a.report_done(job.id, winner, Delivery([], "smtp down", later))
    state = await a.report_state(job.id) or {}
    assert (state["state"], state["attempts"], state["last_error"]) == ("pending", 1, "smtp down")
    assert await b.claim_reports("b", 60) == []
    assert not await a.report_done(job.id, winner, Delivery([], "", None))  # no longer held


async def test_a_report_held_too_long_is_taken_over_and_its_holder_fenced_out(
    store: Store,
) -> None:
    job = await store.create_job(commands("reported", report=TO))
    await run_all(store)
    assert len(await store.claim_reports("slow", 0.05)) == 1
    await until(store.has_due_reports, "due again")
    (claim,) = await store.claim_reports("fast", 60)
    assert claim[0] == job.id
    assert not await store.report_done(
        job.id, "slow", Delivery(["email:ops@example.com"], "", None)
    )
    assert await store.report_done(job.id, "fast", Delivery(["email:ops@example.com"], "", None))
    state = await store.report_state(job.id) or {}
    assert (state["state"], state["done"]) == ("sent", ["email:ops@example.com"])
    assert not await store.has_due_reports()


async def test_a_failed_fires_report_is_claimed_once_and_fenced(stores: Stores) -> None:
    a, b = await stores(), await stores()
    await a.sync_schedules([ScheduleSpec("nightly", "nightly", "daily", "UTC")], ["nightly"])
    fire = 1_900_000_000.0
    await a.record_ticks(
        "nightly", [TickRecord(fire, "error", None, "bad params", report=TO)], Advance(fire, None)
    )
    assert await a.has_due_reports()
    got = await asyncio.gather(a.claim_fire_reports("a", 60), b.claim_fire_reports("b", 60))
    assert sorted(len(g) for g in got) == [0, 1]
    (report,) = got[0] or got[1]
    winner, loser = ("a", "b") if got[0] else ("b", "a")
    assert (report.schedule_id, report.fire_time, report.error) == ("nightly", fire, "bad params")
    assert not await a.fire_report_done(report.tick_id, loser, Delivery([], "", None))
    assert await a.fire_report_done(
        report.tick_id, winner, Delivery(["email:ops@example.com"], "", None)
    )
    assert not await a.has_due_reports()
