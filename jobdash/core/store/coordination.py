"""The Store contract, its coordination part: the agents and the catalogue of types they
publish, why work waits, execution and stall reports (claimed by one engine), schedules and
the leases that keep one scheduler leading."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from jobdash.core.agent_info import AgentInfo, PrunedAgents
    from jobdash.core.model import Report
    from jobdash.core.planning import Schedule, Tick
    from jobdash.core.store.engine_records import (
        Advance,
        Delivery,
        FireReport,
        PolicyChange,
        ScheduleSpec,
        SilentTask,
        StallReport,
        TickRecord,
    )
    from jobdash.core.store.records import ReportClaim
    from jobdash.core.store.side_records import Published
    from jobdash.core.waiting import Situation


class CoordinationStore(Protocol):
    """What a store keeps so that engines, agents and schedules work together; part of
    `Store` (base.py), which every backend implements whole."""

    # ------------------------------------------------------------- agents and catalogue

    async def register_agent(self, info: AgentInfo, owner: str) -> None:
        """An agent starting under `info.name` (replacing a previous one of that name)."""

    async def heartbeat(
        self, name: str, owner: str, state: str, lease: float, done: int = 0, failed: int = 0
    ) -> tuple[set[int], bool]:
        """Renew all of `owner`'s leases by `lease`; returns the task ids it still holds (a
        task missing was taken over) and its drain flag."""

    async def withdraw_deaths(self, owner: str, agent: str, lost: Sequence[tuple[int, int]]) -> int:
        """`owner` lost these claims (task id, attempt) to `recover_lost` but heart-beats
        again (it was stopped, not dead): withdraw the deaths charged to them for that loss
        (the loss stands). Returns how many charges were withdrawn."""

    async def set_agent_drain(self, name: str, user: str, drain: bool = True) -> None:
        """Drain or undrain an agent (NotFound, Refused when it changes nothing); audited."""

    async def agent_offline(self, name: str, owner: str, done: int = 0, failed: int = 0) -> None:
        """An agent stopping, with what it finished since its last heartbeat."""

    async def agents(self) -> list[tuple[AgentInfo, bool]]:
        """Every agent and its drain flag; `running` counted from the tasks it holds."""

    async def running_tasks(self) -> dict[str, list[tuple[int, int, str]]]:
        """The running tasks of each agent: (job id, task seq, task name)."""

    async def prune_agents(self, silent_since: float) -> int:
        """Remove the agents silent since then that hold no task, keeping their totals."""

    async def pruned_agents(self) -> PrunedAgents:
        """The totals of the agents pruned so far."""

    async def note_waits(self, live_since: float, grace: float = 0.0) -> int:
        """Write why each running job with tasks left runs none (ready ones nobody claims,
        or all waiting out a retry backoff; clear reasons that no longer hold), leaving
        out the jobs created less than `grace` seconds ago. Returns how many jobs'
        reasons changed."""

    async def wait_situation(self, job_id: int, live_since: float) -> Situation:
        """What `core.waiting.explain` judges why a job waits from, read now (NotFound
        when there is no such job): the holders of the keys it waits for, who paused it,
        its pending tasks' backoffs and suspects, the agents live since `live_since`."""

    async def publish_catalogue(
        self, agent: str, types: dict[str, tuple[str, dict[str, Any]]]
    ) -> None:
        """Replace `agent`'s published types: name -> (hash, definition as data)."""

    async def catalogue(self) -> list[Published]:
        """Every published type, the most recently published first."""

    # ------------------------------------------------------------- execution reports

    async def has_due_reports(self) -> bool:
        """Is a report due (a finished job's, or a failed fire's)?"""

    async def claim_reports(self, owner: str, hold: float, limit: int = 10) -> list[ReportClaim]:
        """Take the due reports of finished jobs for `hold` seconds: one engine sends each."""

    async def report_done(
        self, job_id: int, owner: str, sent: Delivery, log: str | None = None
    ) -> bool:
        """Record a send (sent, pending again at `retry_at`, or failed for good), fenced on
        the owner: False when another engine took the report over."""

    async def report_state(self, job_id: int) -> dict[str, Any] | None:
        """A job's report: state, recipients, done, attempts, next_try, sent, last_error."""

    async def claim_fire_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[FireReport]:
        """Take the due reports of failed fires, as `claim_reports`."""

    async def fire_report_done(self, tick_id: int, owner: str, sent: Delivery) -> bool:
        """Record a failed fire's report send, as `report_done`."""

    async def silent_tasks(self, types: Sequence[str], before: float) -> list[SilentTask]:
        """Running attempts of jobs with report recipients, of `types`, silent since before
        `before` and not reported as stalled yet: one read (the stall check)."""

    async def task_last_line(self, job_id: int, task_id: int, attempt: int) -> str | None:
        """The last line an attempt of a task wrote (None: none)."""

    async def add_stall_report(self, report: StallReport) -> bool:
        """Note a stalled attempt to report, once per (task, attempt) across engines and
        restarts; False when it was noted already."""

    async def claim_stall_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[StallReport]:
        """Take the due stall reports, as `claim_reports`."""

    async def stall_report_done(
        self, report: StallReport, owner: str, sent: Delivery, log: str
    ) -> bool:
        """Record a stall report's send (noting `log` in its job's log), as `report_done`."""

    async def stall_reports_of(self, job_id: int) -> list[dict[str, Any]]:
        """A job's stall reports: task_id, attempt, state, silent, stall_after, attempts,
        last_error."""

    # ------------------------------------------------------------- schedules

    async def schedules(self) -> list[Schedule]:
        """Every schedule, with its last run's status and latest tick."""

    async def get_schedule(self, schedule_id: str) -> Schedule:
        """One schedule (NotFound)."""

    async def ticks(self, schedule_id: str, limit: int = 100) -> list[Tick]:
        """The newest ticks of a schedule first."""

    async def active_schedule_jobs(self, schedule_id: str) -> list[int]:
        """The ids of the schedule's unfinished jobs, oldest first."""

    async def job_for_fire(self, schedule_id: str, fire_time: float) -> int | None:
        """The job started for that fire time, if any."""

    async def sync_schedules(
        self, specs: Sequence[ScheduleSpec], known_types: Sequence[str]
    ) -> None:
        """Publish the config's schedules; an admin's overrides stay."""

    async def set_schedule_planning(
        self,
        schedule_id: str,
        planning: str,
        tz: str | None,
        user: str,
        next_run: float | None,
        config_zone: str | None = None,
    ) -> None:
        """An admin's planning (fire times before now do not count as missed); audited.
        "automatic" with no `tz` follows the config again, its planning and its zone
        (`config_zone`: the zone the config gives its schedules; None keeps the zone)."""

    async def set_schedule_policy(self, schedule_id: str, user: str, change: PolicyChange) -> None:
        """An admin's overlap and catch-up policy; audited."""

    async def set_schedule_report(self, schedule_id: str, user: str, report: Report | None) -> None:
        """An admin's report recipients for the schedule's runs, kept across config syncs
        (None: the config's again); audited."""

    async def set_schedule_enabled(self, schedule_id: str, enabled: bool, user: str) -> None:
        """Enable or disable a schedule (the paused time is not missed); audited."""

    async def record_ticks(
        self, schedule_id: str, ticks: Sequence[TickRecord], advance: Advance
    ) -> None:
        """Record ticks and move the schedule's watermark and next run, atomically.
        **(schedule, fire time) is unique**: a tick already there is kept (it only gains a
        job id it lacked)."""

    async def note_schedule_run(self, schedule_id: str, job_id: int, user: str) -> None:
        """A run-now job becomes the schedule's last run; audited."""

    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        """Take or renew the lease `name` for `duration` seconds. **Leader lease**: one
        owner at a time holds it; another takes it only once it ran out."""

    async def release_lease(self, name: str, owner: str) -> None:
        """Give the lease up now (if `owner` holds it)."""
