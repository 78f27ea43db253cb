"""A schedule as a user sees and changes it (`ScheduleControl`, a part of the `Service`):
read with its next run, its ticks; an admin's planning, policy and report recipients;
enable and disable. Each change is refused unless the user has the right `schedule` on the
schedule's type and target, and wakes this process's scheduler so it takes effect at once.
Running a schedule now, and the jobs it started, are the `Service`'s (they submit and
read jobs).

The schedule checks and previews (`service.schedules`, with the plannings and the
scheduler's zones) are imported by the methods that use them: a command that reads no
schedule (`jobdash jobs`) loads none of it."""

from __future__ import annotations

import dataclasses
import time
from datetime import datetime
from typing import TYPE_CHECKING

from jobdash.core.service.access import Access
from jobdash.core.values import checked_report
from jobdash.present.times import local_zone_name

if TYPE_CHECKING:
    from jobdash.core.model import Report
    from jobdash.core.planning import Schedule, Tick


class ScheduleControl(Access):
    async def schedules(self) -> list[Schedule]:
        from jobdash.core.service.schedules import with_next_run

        now = time.time()
        return [self._runs_seen(with_next_run(s, now)) for s in await self.store.schedules()]

    async def schedule(self, schedule_id: str) -> Schedule:
        from jobdash.core.service.schedules import with_next_run

        s = with_next_run(await self.store.get_schedule(schedule_id), time.time())
        return self._runs_seen(s)

    async def ticks(self, schedule_id: str, limit: int = 100) -> list[Tick]:
        s = await self.store.get_schedule(schedule_id)
        ticks = await self.store.ticks(schedule_id, limit)
        if self._sees_runs(s):
            return ticks
        return [dataclasses.replace(t, job_id=None) for t in ticks]

    def _sees_runs(self, s: Schedule) -> bool:
        """Whether the user may see the jobs schedule `s` starts (`view` on its type and
        target, as the scheduler's jobs): a schedule is everyone's to read, but its runs
        are jobs, seen only by whom `view` lets see them."""
        from jobdash.core.scheduler import SCHEDULER_USER

        rights = self.rights
        if rights.sees_all:
            return True
        return rights.allows("view", s.type, self.target_of(s.type, s.params), SCHEDULER_USER)

    def _runs_seen(self, s: Schedule) -> Schedule:
        """`s` without its last run's job and status where the user may not see its jobs
        (`_sees_runs`): the Scheduled tab and `schedule show` said "last run job 22 failed"
        to a user for whom the job list had no such job."""
        if s.last_job is None or self._sees_runs(s):
            return s
        return dataclasses.replace(s, last_job=None, last_status=None)

    def _check_schedule(self, s: Schedule, what: str) -> None:
        """Refused unless the user may change or run schedule `s` (the right `schedule`,
        on its type and target); `what`: the action's words."""
        target = self.target_of(s.type, s.params)
        self._check_right("schedule", what, f"schedule {s.id}", s.type, target)

    def _wake_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake()

    async def set_planning(
        self, schedule_id: str, planning: str, tz: str | None = None
    ) -> Schedule:
        """An admin's planning for a schedule ("automatic" follows the config again)."""
        from jobdash.core.scheduler import config_zone
        from jobdash.core.service.schedules import planning_change

        current = await self.store.get_schedule(schedule_id)
        self._check_schedule(current, "change a schedule")
        zone = config_zone(self.local_types.get(current.type), self.default_timezone)
        text, nxt = planning_change(current, planning, tz, time.time(), zone)
        await self.store.set_schedule_planning(schedule_id, text, tz, self.user, nxt, zone)
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    async def set_schedule_policy(
        self,
        schedule_id: str,
        overlap: str | None = None,
        catchup: str | None = None,
        catchup_bound: float | None = None,
    ) -> Schedule:
        from jobdash.core.service.schedules import check_policy
        from jobdash.core.store.engine_records import PolicyChange

        self._check_schedule(await self.store.get_schedule(schedule_id), "change a schedule")
        check_policy(overlap, catchup, catchup_bound)
        change = PolicyChange(overlap, catchup, catchup_bound)
        await self.store.set_schedule_policy(schedule_id, self.user, change)
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    async def set_schedule_report(self, schedule_id: str, report: Report | None) -> Schedule:
        """An admin's report recipients for a schedule's runs (besides the type's), checked
        as addresses and URLs, kept across config reloads; None: the config's again."""
        self._check_schedule(await self.store.get_schedule(schedule_id), "change a schedule")
        if report is not None:
            report = checked_report(report.email, report.webhook)
        await self.store.set_schedule_report(schedule_id, self.user, report)
        return await self.schedule(schedule_id)

    async def enable(self, schedule_id: str) -> Schedule:
        self._check_schedule(await self.store.get_schedule(schedule_id), "enable a schedule")
        await self.store.set_schedule_enabled(schedule_id, True, self.user)
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    async def disable(self, schedule_id: str) -> Schedule:
        self._check_schedule(await self.store.get_schedule(schedule_id), "disable a schedule")
        await self.store.set_schedule_enabled(schedule_id, False, self.user)
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    def next_fire_times(
        self, planning: str, tz: str | None = None, n: int = 5, default: str | None = None
    ) -> list[datetime]:
        """Preview: the next `n` fire times of a planning (BadInput when it does not parse)."""
        from jobdash.core.service.schedules import fire_times

        return fire_times(planning, tz or self.default_timezone, n, default)

    @property
    def default_timezone(self) -> str:
        return self.config.timezone or local_zone_name()
