"""The scheduler: schedules → fire times → jobs, with one leader among all engines.

- Fire times come from `planning` (cron and daily: `cron`, with Debian cron's DST rule;
  interval and once: APScheduler 3.11 triggers plus jobdash's DST rules).
- Leader: the `scheduler` lease in the store (LEASE seconds, renewed every RENEW seconds).
  Only the holder fires. A leader that stops gives the lease back at once; one that dies
  loses it when it expires, and another engine takes over. Before firing, a leader that
  has not renewed within the lease (it was stopped, or starved) renews first.
- Each fire time: the job is submitted with (schedule_id, fire_time) — the store's unique
  index refuses a second job for it, whoever fires — then a tick (ran, skipped, missed,
  paused, error) is recorded and the schedule's watermark (`last_fire`) moves, together.
  A crash between the two is repaired by the next pass: the refused duplicate finds the
  job that exists and records it. A stop (SIGTERM, the dashboard quitting) does not come
  between them: it lets a schedule's fires end with their ticks (`stop`).
- Missed: fire times older than GRACE seconds when a leader first sees them (no engine was
  up, the machine slept) get a `missed` tick each. Then the catch-up policy decides: `skip`
  (nothing runs), `once` (one run, for the latest missed fire time), `all` (a run for every
  missed fire time within `catchup_bound` seconds, default a day, queued one after another).
  The run a catch-up starts is attached to its missed tick ("caught up: job N").
- Overlap: `skip` (a fire time while a previous run of the schedule is still active gets a
  `skipped` tick) or `queue` (the job is created and waits on the lock `schedule:ID`).
- Error: a fire time whose job cannot be created, for any reason but the store's own trouble
  (a parameter, a failing items command, a refused lock), gets an `error` tick with the
  reason (a catch-up that fails turns its missed tick into one). The schedule's state shows
  it until a later tick; an error that differs from the previous tick's is reported to the
  schedule's recipients (`fire_reports`), so one that lasts is reported once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import time
from collections.abc import Callable, Mapping
from typing import Protocol
from zoneinfo import ZoneInfo

from jobdash.core.agent.options import STALE_AFTER
from jobdash.core.alarm import Alarm
from jobdash.core.model import BadInput, Job, JobType, Refused, report_recipients
from jobdash.core.planning import (
    Planning,
    PlanningError,
    Schedule,
    fire_times,
    next_fire,
    resolve,
)
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import Advance, ScheduleSpec, TickRecord
from jobdash.core.store.faults import StoreError

log = logging.getLogger("jobdash.scheduler")

LEASE_NAME = "scheduler"
LEASE = 10.0  # seconds the leader lease lasts without renewal
RENEW = 3.0  # seconds between renewals
POLL = 1.0  # seconds between looks at the store (lease, plannings changed elsewhere)
GRACE = 2.0  # a fire time seen later than this after it passed counts as missed
CATCHUP_BOUND = 86400.0  # default bound of catch-up "all"
CHUNK = 1000  # fire times handled per schedule per pass (a long outage takes several)
STOP_WAIT = 10.0  # seconds a stop waits for fires under way to get their ticks
SCHEDULER_USER = "scheduler"


def schedule_lock(schedule_id: str) -> str:
    return f"schedule:{schedule_id}"


def zone(name: str | None) -> ZoneInfo:
    try:
        return ZoneInfo(name or "UTC")
    except Exception:
        return ZoneInfo("UTC")


def effective_planning(s: Schedule) -> Planning:
    try:
        return resolve(s.planning, s.config_planning)
    except PlanningError:
        return Planning("disabled", "disabled")


class Submitter(Protocol):
    """What the scheduler uses of the service that runs it: the store, the job types, and
    the door through which a job is submitted (with the same checks as anyone's)."""

    @property
    def store(self) -> Store: ...

    @property
    def types(self) -> Mapping[str, JobType]:
        """Every type this process knows (its own and those engines published)."""

    @property
    def local_types(self) -> Mapping[str, JobType]:
        """The types of its own config (and demo types): the ones whose schedules it syncs."""

    @property
    def default_timezone(self) -> str:
        """The zone of a schedule that names none."""

    async def submit_schedule(
        self, s: Schedule, fire_time: float | None = None, queue: bool = False
    ) -> Job:
        """Submit a schedule's job, for a fire time (None: run now, as the user)."""


def config_zone(jt: JobType | None, default: str) -> str:
    """The zone a type's schedule follows from the config: its schedule table's `timezone`
    (a crontab's CRON_TZ, imported), else `default` ([jobdash] timezone, else the
    machine's)."""
    return (jt.schedule_timezone if jt is not None else None) or default


def schedule_specs(svc: Submitter) -> list[ScheduleSpec]:
    """The schedules the config (and demo types) declare: one per type with `schedule`."""
    tz = svc.default_timezone
    return [
        ScheduleSpec(
            jt.name,
            jt.name,
            jt.schedule,
            config_zone(jt, tz),
            jt.schedule_policy,
            jt.schedule_report,
            jt.target_in({}),
        )
        for jt in svc.local_types.values()
        if jt.schedule
    ]


class Scheduler:
    def __init__(
        self,
        svc: Submitter,
        clock: Callable[[], float] = time.time,
        lease: float = LEASE,
        renew: float = RENEW,
        grace: float = GRACE,
        poll: float = POLL,
    ) -> None:
        self.svc = svc
        self.store = svc.store
        self.clock = clock
        self.lease = lease
        self.renew = renew
        self.grace = grace
        self.poll = poll
        self.owner = f"{socket.gethostname()}-{os.getpid()}/{os.urandom(6).hex()}"
        self.leader = False
        self._renewed = -1e18  # monotonic time of the last successful renewal
        self._wake = Alarm()
        self._task: asyncio.Task[None] | None = None
        self._firing = False  # between a schedule's first fire and its ticks' record
        self._stopping = False

    # ----------------------------------------------------------------- life

    async def sync(self) -> None:
        await self.store.sync_schedules(schedule_specs(self.svc), list(self.svc.local_types))

    async def start(self) -> None:
        await self.sync()
        self._task = asyncio.get_running_loop().create_task(self._loop(), name="jobdash-scheduler")

    def wake(self) -> None:
        self._wake.ring()

    async def stop(self) -> None:
        """Stop firing and give the lease back. A pass is cancelled where it waits, unless
        it has started a schedule's jobs and not yet recorded their ticks: it ends that
        schedule first (within STOP_WAIT), so that no job of a fire time goes without its
        tick and the watermark behind it until an engine starts again."""
        if self._task is not None:
            self._stopping = True
            if self._firing:
                self._wake.ring()
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await asyncio.wait_for(asyncio.shield(self._task), STOP_WAIT)
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.leader:
            self.leader = False
            with contextlib.suppress(Exception):
                await self.store.release_lease(LEASE_NAME, self.owner)

    async def _loop(self) -> None:
        while not self._stopping:
            try:
                wait = await self.run_once()
            except asyncio.CancelledError:
                raise
            except Exception:
                self.store.report_failure(log, "scheduler pass failed")
                wait = self.poll
            if not self._stopping:
                await self._wake.wait(max(0.001, wait))

    async def ensure_leader(self) -> bool:
        """Take or renew the lease when due; True while this engine may fire."""
        t = time.monotonic()
        if not self.leader or t - self._renewed >= self.renew:
            try:
                self.leader = await self.store.acquire_lease(LEASE_NAME, self.owner, self.lease)
            except Exception:
                self.store.report_failure(log, "lease renewal failed")
                self.leader = False
            if self.leader:
                self._renewed = t
        return self.leader

    # ----------------------------------------------------------------- passes

    async def run_once(self, now: float | None = None) -> float:
        """One pass: lease, then every schedule's due fire times. Returns seconds to sleep."""
        if not await self.ensure_leader():
            return self.poll
        now = self.clock() if now is None else now
        wait = min(self.poll, self.renew)
        for s in await self.store.schedules():
            if self._stopping:
                break
            try:
                nxt = await self.process(s, now)
            except Exception:
                self.store.report_failure(log, "schedule %s: pass failed", s.id)
                continue
            if nxt is not None:
                wait = min(wait, nxt - self.clock())
        return wait

    async def process(self, s: Schedule, now: float) -> float | None:
        """Handle the due fire times of one schedule; return its next fire time."""
        if s.type not in self.svc.types:
            return None  # an engine that knows the type fires it (missed ticks included)
        p = effective_planning(s)
        tz = zone(s.timezone)
        if p.kind == "disabled":
            if s.next_run is not None:
                await self.store.record_ticks(s.id, [], Advance(now, None))
            return None
        wm = s.last_fire if s.last_fire is not None else now
        due = list(fire_times(p, tz, wm, now, CHUNK))
        if not due:
            nxt = next_fire(p, tz, max(wm, now))
            if nxt != s.next_run:
                await self.store.record_ticks(s.id, [], Advance(None, nxt))
            return nxt
        more = len(due) == CHUNK
        # From the first fire to the ticks' record, a stop waits (see `stop`).
        self._firing = True
        try:
            ticks, last_job = await self._fire_due(s, due, now, more)
            self._report_new_errors(s, ticks)
            nxt = next_fire(p, tz, max(due[-1], now))
            last_run = self.clock() if last_job else None
            await self.store.record_ticks(s.id, ticks, Advance(due[-1], nxt, last_job, last_run))
        finally:
            self._firing = False
        if last_job is not None:
            with contextlib.suppress(Exception):
                # Start it now rather than at the next agent poll (never a job no live engine
                # runs: see `Store.admit`).
                await self.store.admit(time.time() - STALE_AFTER)
        return now if more else nxt

    async def _fire_due(
        self, s: Schedule, due: list[float], now: float, more: bool
    ) -> tuple[list[TickRecord], int | None]:
        """The ticks of a schedule's due fire times, firing those on time and those its
        catch-up policy runs; with the last job started (None: none)."""
        ticks: list[TickRecord] = []
        last_job: int | None = None
        if not s.enabled:
            ticks = [TickRecord(ft, "paused", None, "schedule disabled") for ft in due]
        else:
            late = [ft for ft in due if now - ft > self.grace]
            on_time = [ft for ft in due if now - ft <= self.grace]
            ticks = [TickRecord(ft, "missed", None, "no engine was running") for ft in late]
            if late:
                bound = s.catchup_bound if s.catchup_bound is not None else CATCHUP_BOUND
                if s.catchup == "all":
                    catch = [ft for ft in late if now - ft <= bound]
                elif s.catchup == "once" and not more:
                    catch = late[-1:]
                else:
                    catch = []
                by_time = {t.fire_time: t for t in ticks}
                for ft in catch:
                    got = await self.fire(s, ft, queue=s.catchup == "all")
                    tick = by_time[ft]
                    tick.job_id = got.job_id
                    if got.outcome == "error":
                        tick.outcome, tick.detail = "error", f"catch-up ({s.catchup}): {got.detail}"
                    elif got.job_id:
                        tick.detail = f"caught up ({s.catchup}): job {got.job_id}"
                    else:
                        tick.detail = f"catch-up ({s.catchup}) {got.outcome}: {got.detail}"
                    last_job = got.job_id or last_job
                if s.catchup == "skip":
                    for t in ticks:
                        t.detail = "no engine was running; catch-up: skip"
            for ft in on_time:
                got = await self.fire(s, ft)
                ticks.append(got)
                last_job = got.job_id or last_job
        return ticks, last_job

    async def fire(self, s: Schedule, fire_time: float, queue: bool = False) -> TickRecord:
        """Start the job of one fire time, honouring the overlap policy."""
        if time.monotonic() - self._renewed > self.lease * 0.8 and not await self._still_leader():
            return TickRecord(fire_time, "error", None, "lost the scheduler lease")
        queue = queue or s.overlap == "queue"
        if not queue:
            active = await self.store.active_schedule_jobs(s.id)
            if active:
                return TickRecord(
                    fire_time, "skipped", None, f"job {active[-1]} of this schedule still running"
                )
        try:
            job = await self.svc.submit_schedule(s, fire_time, queue)
        except (StoreError, OSError):
            raise  # the store's trouble, not this schedule's: the next pass tries again
        except Refused as e:
            existing = await self.store.job_for_fire(s.id, fire_time)
            if existing is not None:
                return TickRecord(
                    fire_time, "ran", existing, "job already started for this fire time"
                )
            return TickRecord(fire_time, "error", None, str(e))
        except BadInput as e:
            return TickRecord(fire_time, "error", None, str(e))
        except Exception as e:
            log.exception("schedule %s: cannot start its job", s.id)
            return TickRecord(fire_time, "error", None, f"{type(e).__name__}: {e}")
        return TickRecord(fire_time, "ran", job.id, "")

    def _report_new_errors(self, s: Schedule, ticks: list[TickRecord]) -> None:
        """Give a failed fire a report when its error is new: an error that lasts is
        reported once, not at every fire time (the schedule's recipients, and its type's)."""
        previous = (s.last_outcome, s.last_detail)
        for tick in ticks:
            if tick.outcome == "error" and previous != ("error", tick.detail):
                jt = self.svc.types.get(s.type)
                tick.report = report_recipients(jt.report if jt else None, s.report)
            previous = (tick.outcome, tick.detail)

    async def _still_leader(self) -> bool:
        self.leader = False
        return await self.ensure_leader()
