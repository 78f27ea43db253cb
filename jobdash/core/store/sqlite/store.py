"""`SqliteStore`: the SQLite backend of the Store contract (`base.Store`), composed of its
areas. Each area holds the same `Db` (connections, the write lock, failures) and keeps one
kind of state; this class only opens, closes and delegates, one line per method of the
contract, so that "where is X done?" is answered by the area's name:

    db (db.py, opening.py, schema.py, files.py, faults.py)  connections, writes, migrations
    flusher (flush.py)   buffered log lines, progress, outcomes: one transaction per batch
    jobs (jobs.py)       create, add tasks, admit, cancel / pause / resume / retry, clear
    claims (claims.py)   claim, complete (fenced), release, recover lost tasks
    agents, catalogue, waits, reports, schedules, audit   one file each
    reads (reads.py)     jobs, tasks, logs, the cheap checks, and the change feed
    filters.py           a JobFilter as SQL

It decides no rule of the product: what a request, an outcome or an agent's death does to a
job and its tasks is `core.lifecycle`'s decision, which the areas apply in the transaction
that read what the decision needs.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from jobdash.core.lifecycle import QUARANTINE_AFTER
from jobdash.core.model import AgentInfo, AuditEvent, Job, JobStatus, LogLine, PrunedAgents, Task
from jobdash.core.planning import Schedule, Tick
from jobdash.core.store.faults import StoreError
from jobdash.core.store.records import (
    Changes,
    Claim,
    FireReport,
    JobFilter,
    NewJob,
    NewTask,
    Outcome,
    Published,
    Refill,
    ReportClaim,
    ScheduleSpec,
    TickRecord,
)
from jobdash.core.store.sqlite.agents import Agents
from jobdash.core.store.sqlite.audit import Audit
from jobdash.core.store.sqlite.catalogue import Catalogue
from jobdash.core.store.sqlite.claims import Claims
from jobdash.core.store.sqlite.db import Db
from jobdash.core.store.sqlite.flush import Flusher
from jobdash.core.store.sqlite.jobs import Jobs
from jobdash.core.store.sqlite.opening import open_db
from jobdash.core.store.sqlite.reads import Reads
from jobdash.core.store.sqlite.reports import Reports
from jobdash.core.store.sqlite.schedules import Schedules
from jobdash.core.store.sqlite.waits import Waits


class SqliteStore:
    """jobdash's embedded store. Open with `await SqliteStore.open(path)`, or
    `base.open_store(location)`."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self.path: Path = db.path
        self.created = db.created
        self.damaged = db.damaged
        self.on_commit = db.on_commit
        self.faults = db.faults
        self.audit_trail = Audit(db)
        self.flusher = Flusher(db)
        self.jobs = Jobs(db, self.audit_trail)
        self.claims = Claims(db)
        self.agent_rows = Agents(db)
        self.catalogues = Catalogue(db)
        self.waits = Waits(db)
        self.reports = Reports(db)
        self.schedule_rows = Schedules(db)
        self.reads = Reads(db, self.agent_rows)

    @classmethod
    async def open(
        cls, path: Path | str, create_folder: bool = False, reading: bool = False
    ) -> SqliteStore:
        """Open (or create) the store at `path`: see `opening.open_db`."""
        store = cls(await open_db(path, create_folder, reading))
        if store.db.read_only is None:
            store.flusher.start()
        return store

    async def close(self) -> None:
        """Write what is buffered and close. The connections are closed whatever happens
        (their threads would keep the process alive); StoreError when buffered lines or
        results could not be written (they are lost: say so)."""
        if self.flusher.closed:
            return
        lost: StoreError | None = None
        try:
            await self.flusher.flush()
        except StoreError as e:
            held = self.db.held()
            lost = StoreError(
                f"{self.path}: {e.fault}: {held} log line{'s' * (held != 1)} held in memory "
                "could not be written",
                e.fault,
            )
        finally:
            await self.flusher.stop()
            await self.db.stop_checkpoints()
            async with self.db.lock:
                await self.db.close_connections()
        if self.db.damage is not None:
            raise self.db.damage
        if lost is not None:
            raise lost

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def refill(self) -> Refill | None:
        return self.flusher.refill

    @refill.setter
    def refill(self, value: Refill | None) -> None:
        self.flusher.refill = value

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        self.db.report_failure(logger, what, *args)

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        await self.audit_trail.audit(user, action, target, detail)

    async def audit_events(self, target: str | None = None, limit: int = 100) -> list[AuditEvent]:
        return await self.audit_trail.audit_events(target, limit)

    # ----------------------------------------------------------------- buffered writes

    async def flush(self) -> None:
        await self.flusher.flush()

    async def append_log(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        await self.flusher.append_log(job_id, task_id, stream, text, attempt)

    def append_log_nowait(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        self.flusher.append_log_nowait(job_id, task_id, stream, text, attempt)

    def backlogged(self) -> bool:
        return self.flusher.backlogged()

    async def drained(self) -> None:
        await self.flusher.drained()

    def report_progress(self, task_id: int, fraction: float) -> None:
        self.flusher.report_progress(task_id, fraction)

    def note_pgid(self, task_id: int, pgid: int) -> None:
        self.flusher.note_pgid(task_id, pgid)

    def add_metric(self, job_id: int, name: str, value: float) -> None:
        self.flusher.add_metric(job_id, name, value)

    def add_warning(self, job_id: int) -> None:
        self.flusher.add_warning(job_id)

    async def complete(self, outcome: Outcome) -> bool:
        return await self.flusher.complete(outcome)

    # ----------------------------------------------------------------- jobs

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        return await self.get_job(await self.jobs.create_job(nj, audit_user))

    async def create_jobs(self, jobs: Sequence[NewJob], audit_user: str | None = None) -> list[int]:
        return await self.jobs.create_jobs(jobs, audit_user)

    async def add_tasks(self, job_id: int, tasks: Sequence[NewTask]) -> int:
        return await self.jobs.add_tasks(job_id, tasks)

    async def admit(self, live_after: float | None = None) -> list[int]:
        return await self.jobs.admit(live_after)

    async def cancel_job(self, job_id: int, user: str, force: bool = False) -> Job:
        await self.jobs.cancel_job(job_id, user, force)
        return await self.get_job(job_id)

    async def pause_job(self, job_id: int, user: str) -> Job:
        await self.jobs.pause_job(job_id, user)
        return await self.get_job(job_id)

    async def resume_job(self, job_id: int, user: str) -> Job:
        await self.jobs.resume_job(job_id, user)
        return await self.get_job(job_id)

    async def retry_job(self, job_id: int, user: str) -> int:
        return await self.jobs.retry_job(job_id, user)

    async def clear(self, user: str | None, actor: str) -> int:
        return await self.jobs.clear(user, actor)

    async def clear_ids(self, job_ids: Sequence[int], user: str | None, actor: str) -> int:
        return await self.jobs.clear_ids(job_ids, user, actor)

    async def prune(self, older_than: float) -> int:
        return await self.jobs.prune(older_than)

    # ----------------------------------------------------------------- claims

    async def claim(
        self,
        owner: str,
        agent: str,
        limit: int | Callable[[], int],
        lease: float,
        types: Collection[str] | None = None,
        idle: bool | Callable[[], bool] = True,
    ) -> list[Claim]:
        return await self.claims.claim(owner, agent, limit, lease, types, idle)

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        return await self.reads.has_claimable(types, idle)

    async def release(self, owner: str, task_ids: Sequence[int]) -> None:
        await self.claims.release(owner, task_ids)

    async def recover_lost(self, quarantine_after: int = QUARANTINE_AFTER) -> int:
        return await self.claims.recover_lost(quarantine_after)

    async def has_lost_tasks(self) -> bool:
        return await self.reads.has_lost_tasks()

    async def expire_dead_agents(
        self, host: str, alive: Callable[[int], bool]
    ) -> tuple[list[str], list[str], list[int]]:
        return await self.claims.expire_dead_agents(host, alive)

    async def job_statuses(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, bool]]:
        return await self.reads.job_statuses(job_ids)

    async def has_jobs_to_admit(self) -> bool:
        return await self.reads.has_jobs_to_admit()

    # ----------------------------------------------------------------- agents

    async def register_agent(self, info: AgentInfo, owner: str) -> None:
        await self.agent_rows.register_agent(info, owner)

    async def heartbeat(
        self, name: str, owner: str, state: str, lease: float, done: int = 0, failed: int = 0
    ) -> tuple[set[int], bool]:
        return await self.agent_rows.heartbeat(name, owner, state, lease, done, failed)

    async def withdraw_deaths(self, owner: str, agent: str, lost: Sequence[tuple[int, int]]) -> int:
        return await self.agent_rows.withdraw_deaths(owner, agent, lost)

    async def set_agent_drain(self, name: str, user: str, drain: bool = True) -> None:
        await self.agent_rows.set_agent_drain(name, user, drain)

    async def agent_offline(self, name: str, owner: str, done: int = 0, failed: int = 0) -> None:
        await self.agent_rows.agent_offline(name, owner, done, failed)

    async def agents(self) -> list[tuple[AgentInfo, bool]]:
        return await self.agent_rows.agents()

    async def running_tasks(self) -> dict[str, list[tuple[int, int, str]]]:
        return await self.agent_rows.running_tasks()

    async def prune_agents(self, silent_since: float) -> int:
        return await self.agent_rows.prune_agents(silent_since)

    async def pruned_agents(self) -> PrunedAgents:
        return await self.agent_rows.pruned_agents()

    async def note_waits(self, live_since: float) -> int:
        return await self.waits.note_waits(live_since)

    async def publish_catalogue(
        self, agent: str, types: dict[str, tuple[str, dict[str, Any]]]
    ) -> None:
        await self.catalogues.publish_catalogue(agent, types)

    async def catalogue(self) -> list[Published]:
        return await self.catalogues.catalogue()

    # ----------------------------------------------------------------- execution reports

    async def has_due_reports(self) -> bool:
        return await self.reports.has_due_reports()

    async def claim_reports(self, owner: str, hold: float, limit: int = 10) -> list[ReportClaim]:
        return await self.reports.claim_reports(owner, hold, limit)

    async def report_done(
        self,
        job_id: int,
        owner: str,
        done: list[str],
        error: str,
        retry_at: float | None,
        log: str | None = None,
    ) -> bool:
        return await self.reports.report_done(job_id, owner, done, error, retry_at, log)

    async def report_state(self, job_id: int) -> dict[str, Any] | None:
        return await self.reports.report_state(job_id)

    async def claim_fire_reports(
        self, owner: str, hold: float, limit: int = 10
    ) -> list[FireReport]:
        return await self.reports.claim_fire_reports(owner, hold, limit)

    async def fire_report_done(
        self, tick_id: int, owner: str, done: list[str], error: str, retry_at: float | None
    ) -> bool:
        return await self.reports.fire_report_done(tick_id, owner, done, error, retry_at)

    # ----------------------------------------------------------------- schedules

    async def schedules(self) -> list[Schedule]:
        return await self.schedule_rows.schedules()

    async def get_schedule(self, schedule_id: str) -> Schedule:
        return await self.schedule_rows.get_schedule(schedule_id)

    async def ticks(self, schedule_id: str, limit: int = 100) -> list[Tick]:
        return await self.schedule_rows.ticks(schedule_id, limit)

    async def active_schedule_jobs(self, schedule_id: str) -> list[int]:
        return await self.schedule_rows.active_schedule_jobs(schedule_id)

    async def job_for_fire(self, schedule_id: str, fire_time: float) -> int | None:
        return await self.schedule_rows.job_for_fire(schedule_id, fire_time)

    async def sync_schedules(
        self, specs: Sequence[ScheduleSpec], known_types: Sequence[str]
    ) -> None:
        await self.schedule_rows.sync_schedules(specs, known_types)

    async def set_schedule_planning(
        self,
        schedule_id: str,
        planning: str,
        timezone: str | None,
        user: str,
        next_run: float | None,
    ) -> None:
        await self.schedule_rows.set_schedule_planning(
            schedule_id, planning, timezone, user, next_run
        )

    async def set_schedule_policy(
        self,
        schedule_id: str,
        user: str,
        overlap: str | None = None,
        catchup: str | None = None,
        catchup_bound: float | None = None,
    ) -> None:
        await self.schedule_rows.set_schedule_policy(
            schedule_id, user, overlap, catchup, catchup_bound
        )

    async def set_schedule_enabled(self, schedule_id: str, enabled: bool, user: str) -> None:
        await self.schedule_rows.set_schedule_enabled(schedule_id, enabled, user)

    async def record_ticks(
        self,
        schedule_id: str,
        ticks: Sequence[TickRecord],
        watermark: float | None,
        next_run: float | None,
        last_job: int | None = None,
        last_run: float | None = None,
    ) -> None:
        await self.schedule_rows.record_ticks(
            schedule_id, ticks, watermark, next_run, last_job, last_run
        )

    async def note_schedule_run(self, schedule_id: str, job_id: int, user: str) -> None:
        await self.schedule_rows.note_schedule_run(schedule_id, job_id, user)

    async def acquire_lease(self, name: str, owner: str, duration: float) -> bool:
        return await self.schedule_rows.acquire_lease(name, owner, duration)

    async def release_lease(self, name: str, owner: str) -> None:
        await self.schedule_rows.release_lease(name, owner)

    # ----------------------------------------------------------------- reading

    async def get_job(self, job_id: int) -> Job:
        return await self.reads.get_job(job_id)

    async def list_jobs(self, f: JobFilter | None = None) -> list[Job]:
        return await self.reads.list_jobs(f)

    async def tasks(self, job_id: int) -> list[Task]:
        return await self.reads.tasks(job_id)

    async def logs(
        self,
        job_id: int,
        after: int = 0,
        task_seq: int | None = None,
        limit: int | None = None,
        tail: int | None = None,
    ) -> list[LogLine]:
        return await self.reads.logs(job_id, after, task_seq, limit, tail)

    async def rev(self) -> int:
        return await self.reads.rev()

    async def changes_since(self, rev: int) -> Changes:
        return await self.reads.changes_since(rev)

    def changes(self, since: int | None = None, interval: float = 0.25) -> AsyncIterator[Changes]:
        return self.reads.changes(since, interval)
