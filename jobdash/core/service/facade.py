"""The `Service`: what one user may see and do, the one door of the command line and the
dashboard.

Who the user is, the catalogue of job types and the permission checks are `access`'s
(`Access`, which every part extends); here, jobs, actions and reads go to the store with the
audit user, and this process's engine and scheduler start. The other parts: failures grouped
by cause (`failures`), actions on many jobs or schedules at once (`bulk`), the audit trail
(`audit`), artifacts (`artifacts`), timing from history (`timing`), schedules as a user
reads and changes them (`schedule_control`). What a submission becomes is `submission`'s,
exports are `export`'s, schedule checks and previews `schedules`'s.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.agent import agents_as_shown
from jobdash.core.agent.options import STALE_AFTER
from jobdash.core.heap import collector_held
from jobdash.core.model import (
    BadInput,
    Counted,
    Job,
    JobType,
    LogLine,
    Refused,
    Report,
    Run,
    Task,
    Trigger,
)
from jobdash.core.query import Query, parse_query
from jobdash.core.store.records import (
    EXPORT_CELLS,
    RECORD_CELLS,
    Changes,
    JobFilter,
    RecordColumns,
    job_cells,
    job_record_cells,
    record_columns,
)
from jobdash.core.values import check_params

if TYPE_CHECKING:
    from jobdash.core.agent_info import AgentInfo, PrunedAgents
    from jobdash.core.planning import Schedule
    from jobdash.core.views import LogBlock, LogTexts, Why


from jobdash.core.service.artifacts import Artifacts
from jobdash.core.service.audit import AuditTrail
from jobdash.core.service.bulk import Bulk
from jobdash.core.service.engine_life import EngineLife
from jobdash.core.service.schedule_control import ScheduleControl
from jobdash.core.service.timing import Timings


class Service(Bulk, AuditTrail, Artifacts, Timings, ScheduleControl, EngineLife):
    """What a user may see and do, for one user: every front end goes through here."""

    # ----------------------------------------------------------------- actions

    async def submit(
        self,
        type_name: str,
        params: Mapping[str, str] | None = None,
        trigger: Trigger = Trigger.MANUAL,
        schedule_id: str | None = None,
        fire_time: float | None = None,
        user: str | None = None,
        report: Report | None = None,
        extra_locks: Sequence[str] = (),
        asked: bool = True,
    ) -> Job:
        """Check the parameters, break the job down into tasks, and commit it (durable).

        The type's report recipients (plus `report`'s, e.g. a schedule's) are stored with
        the job: when it ends, one engine sends them the execution report. `asked`: the
        rules are asked whether the user may run this type (False: a schedule's job, whose
        right was the schedule's, or its fire, which is the engine's)."""
        from jobdash.core.service.submission import new_job  # not loaded by a read

        self._check_writable("start a job")
        jt, values = self._startable(type_name, params or {}, asked)
        digest = await self._type_hash(jt)
        nj = new_job(
            jt,
            values,
            user or self.user,
            trigger,
            digest,
            schedule_id=schedule_id,
            fire_time=fire_time,
            report=report,
            extra_locks=extra_locks,
            live_after=time.time() - STALE_AFTER,
        )
        # The audit names who started it: the scheduler for a fire time (`user`), as the job does.
        return await self.store.create_job(nj, audit_user=user or self.user)

    async def submit_schedule(
        self, s: Schedule, fire_time: float | None = None, queue: bool = False
    ) -> Job:
        """A schedule's job: for a fire time, started by the scheduler (at most one per fire
        time); None, run now by the user. `queue`: it waits for the schedule's running job
        (overlap "queue") through the schedule's own lock."""
        from jobdash.core.scheduler import SCHEDULER_USER, schedule_lock  # see start_engine

        return await self.submit(
            s.type,
            s.params,
            trigger=Trigger.MANUAL if fire_time is None else Trigger.SCHEDULE,
            schedule_id=s.id,
            fire_time=fire_time,
            user=None if fire_time is None else SCHEDULER_USER,
            report=s.report,
            extra_locks=[schedule_lock(s.id)] if queue else (),
            asked=False,
        )

    async def submit_many(
        self,
        type_name: str,
        params: Sequence[Mapping[str, str]],
        labels: Sequence[str] | None = None,
    ) -> list[int]:
        """Submit one job of `type_name` per parameter set, all or none (bulk submission):
        every set is checked first, then all are committed in one transaction. A bad set is
        BadInput naming it by its label (`labels`: e.g. "line 7"; else "job 3"). The cycle
        collector is held meanwhile: what it makes lives until written (see core.heap)."""
        self._check_writable("start a job")
        with collector_held():
            return await self._submit_many(type_name, params, labels)

    async def _submit_many(
        self,
        type_name: str,
        params: Sequence[Mapping[str, str]],
        labels: Sequence[str] | None,
    ) -> list[int]:
        from jobdash.core.service.submission import new_job  # not loaded by a read

        jt = self.job_type(type_name)
        checked = []
        allowed: set[str] = set()  # the targets checked: one answer each
        for i, given in enumerate(params):
            try:
                checked.append(check_params(jt, given))
            except BadInput as e:
                label = labels[i] if labels is not None else f"job {i + 1}"
                raise BadInput(f"{label}: {e}") from None
            target = self.target_of(type_name, checked[-1])
            if target not in allowed:
                self.rights.check("run", "a job", type_name, target, what="start a job")
                allowed.add(target)
        digest = await self._type_hash(jt)
        live_after = time.time() - STALE_AFTER
        jobs = [
            new_job(jt, v, self.user, Trigger.MANUAL, digest, live_after=live_after)
            for v in checked
        ]
        return await self.store.create_jobs(jobs, audit_user=self.user)

    async def cancel(self, job_id: int, force: bool = False) -> Job:
        self._check_writable("cancel")
        self.may("cancel", await self.job(job_id))
        return await self.unread_in(await self.store.cancel_job(job_id, self.user, force))

    def check_cancel(self, job: Job, force: bool = False) -> None:
        """Raise the refusal that cancelling `job` (as last read) would get, so that the
        dashboard refuses at once instead of after asking the user to confirm."""
        self.check_job_action("kill" if force else "cancel", job)

    async def pause(self, job_id: int) -> Job:
        self._check_writable("pause")
        self.may("pause", await self.job(job_id))
        return await self.unread_in(await self.store.pause_job(job_id, self.user))

    async def resume(self, job_id: int) -> Job:
        self._check_writable("resume")
        self.may("pause", await self.job(job_id))
        return await self.unread_in(await self.store.resume_job(job_id, self.user))

    async def toggle_pause(self, job_id: int) -> Job:
        job = await self.job(job_id)
        if job.status == "paused":
            return await self.resume(job_id)
        return await self.pause(job_id)

    async def retry(self, job_id: int) -> int:
        self._check_writable("retry")
        self.may("retry", await self.job(job_id))
        return await self.store.retry_job(job_id, self.user)

    async def quarantined_tasks(self, job_id: int) -> list[Task]:
        """The tasks that `retry` would run again although they killed their agent."""
        return [t for t in await self.tasks(job_id) if t.quarantined]

    async def rerun(self, job_id: int) -> Job:
        """Run the job's type again with the same parameters."""
        job = await self.job(job_id)
        return await self.submit(job.type, job.params)

    def check_rerun(self, job: Job) -> None:
        """Raise the refusal that running `job` again would get (its type gone from the
        config, a parameter it no longer takes, no right to run it), so that the dashboard
        refuses at once instead of after asking the user to confirm."""
        self._startable(job.type, job.params, asked=True)

    def _startable(
        self, type_name: str, params: Mapping[str, str], asked: bool
    ) -> tuple[JobType, dict[str, str]]:
        """The type and full parameters of a job to start, checked; `asked`: and the
        user's right to start it (see `submit`)."""
        jt = self.job_type(type_name)
        values = check_params(jt, params)
        if asked:
            target = self.target_of(type_name, values)
            self.rights.check("run", "a job", type_name, target, what="start a job")
        return jt, values

    async def clear(self, everyone: bool = False) -> int:
        self._check_writable("clear history")
        if everyone and not self.is_admin:
            raise Refused(f"only admins may clear every user's jobs ({self.user} is not an admin)")
        return await self.store.clear(None if everyone else self.user, self.user)

    async def clear_jobs(self, job_ids: Sequence[int]) -> int:
        """Remove these jobs (those a dashboard shows) where finished: yours, any as an
        admin, and those a role lets you clear. Returns how many were removed."""
        self._check_writable("clear history")
        if self.is_admin or not self.rights.shared("clear"):
            return await self.store.clear_ids(
                job_ids, None if self.is_admin else self.user, self.user
            )
        mine = []  # the rules decide each one: a role's right is by type and target
        for job_id in job_ids:
            job = await self.store.get_job(job_id)
            if job is not None and self.rights.allows("clear", job.type, job.target, job.user):
                mine.append(job_id)
        return await self.store.clear_ids(mine, None, self.user)

    # ----------------------------------------------------------------- reading

    async def jobs(
        self,
        query: str | Query = "",
        active: bool | None = None,
        limit: int | None = None,
        after_id: int | None = None,
    ) -> list[Job]:
        """The jobs the filter text selects that this user may see, newest first (`active`:
        only the active, or only the finished ones; `after_id`: those older than it, the
        next page of a long listing)."""
        q = parse_query(query) if isinstance(query, str) else query
        found: list[Job] = []
        while True:
            jobs = await self.store.list_jobs(
                self._seen(JobFilter(q, active=active, limit=limit, after_id=after_id))
            )
            await self.with_extras(jobs)
            found += await self.flagged(q, jobs)
            # A flag (`status:stalled`) is told after the store's limit: a page it thinned
            # is not the last one (a listing a page at a time would have ended there).
            if limit is None or len(jobs) < limit or len(found) >= limit:
                return found[:limit] if limit is not None else found
            after_id = jobs[-1].id

    async def export_cell_columns(
        self, query: str | Query = "", limit: int | None = None, after_id: int | None = None
    ) -> RecordColumns:
        """`jobs(query, limit=limit, after_id=after_id)` as export cells (`EXPORT_CELLS`) a
        column at a time, read as such by the store (`Store.export_columns`: a value all
        the jobs hold read once). A filter with a flag (`status:stalled`) is told from the
        jobs' timing, which only `jobs` gives them: its jobs are read, then made cells."""
        q = parse_query(query) if isinstance(query, str) else query
        if q.flags:
            jobs = await self.jobs(q, limit=limit, after_id=after_id)
            return record_columns([job_cells(j) for j in jobs], EXPORT_CELLS)
        f = self._seen(JobFilter(q, limit=limit, after_id=after_id))
        return await self.store.export_columns(f)

    async def export_records(
        self, query: str | Query = "", limit: int | None = None, after_id: int | None = None
    ) -> list[tuple[Any, ...]]:
        """`jobs(query, limit=limit, after_id=after_id)` as record cells (`RECORD_CELLS`),
        read as such by the store, as `export_cell_columns` for a CSV (a flag: from jobs)."""
        q = parse_query(query) if isinstance(query, str) else query
        if q.flags:
            jobs = await self.jobs(q, limit=limit, after_id=after_id)
            return [job_record_cells(j) for j in jobs]
        f = self._seen(JobFilter(q, limit=limit, after_id=after_id))
        return await self.with_record_extras(await self.store.record_cells(f))

    async def export_columns(
        self, query: str | Query = "", limit: int | None = None, after_id: int | None = None
    ) -> RecordColumns:
        """`export_records` a column at a time (`Store.record_columns`: a value all the
        jobs hold read once), with this Service's extras."""
        q = parse_query(query) if isinstance(query, str) else query
        if q.flags:  # told from jobs
            cells = await self.export_records(q, limit=limit, after_id=after_id)
            return record_columns(cells, RECORD_CELLS)
        f = self._seen(JobFilter(q, limit=limit, after_id=after_id))
        return await self.with_column_extras(await self.store.record_columns(f))

    async def finished_page(
        self,
        query: Query,
        order: str = "id",
        descending: bool = True,
        offset: int = 0,
        limit: int = 100,
        after_id: int | None = None,
        indexed: bool = False,
    ) -> list[Job]:
        """One page of the finished jobs the filter selects that this user may see, in the
        order of a column of the dashboard's job table (`after_id`: past that job, in id
        order; `offset`: that many rows in; `indexed`: free words may be looked up in the
        store's text index, which `index_text` brought up to date)."""
        jobs = await self.store.list_jobs(
            self._seen(
                JobFilter(
                    query,
                    active=False,
                    oldest_first=not descending,
                    order=order,
                    offset=offset,
                    limit=limit,
                    after_id=after_id,
                    indexed=indexed,
                    window=True,
                )
            )
        )
        await self.with_extras(jobs)
        return jobs

    async def count_finished(
        self, query: Query, cap: int | None = None, indexed: bool = False
    ) -> int:
        """How many finished jobs the filter selects that this user may see (cap + 1: more
        than `cap`; `indexed` as for `finished_page`)."""
        f = self._seen(JobFilter(query, active=False, indexed=indexed, window=True))
        return await self.store.count_jobs(f, cap)

    async def index_text(self) -> bool:
        """Bring the store's text index up to date (True: it holds every finished job; False:
        this store is read only here and its index lags)."""
        return await self.store.index_text(batches=None)

    async def tasks(self, job_id: int) -> list[Task]:
        await self.job(job_id)
        return await self.store.tasks(job_id)

    async def logs(
        self, job_id: int, after: int = 0, task: int | None = None, limit: int | None = None
    ) -> list[LogLine]:
        await self.job(job_id)
        return await self.store.logs(job_id, after, task, limit)

    async def last_log_seq(self) -> int:
        """The store's newest log line's `seq` (`LogFeed` reads several jobs up to it)."""
        return await self.store.last_log_seq()

    async def log_texts(
        self, job_id: int, after: int, task: int | None = None, limit: int | None = None
    ) -> LogTexts:
        await self.job(job_id)
        return await self.store.log_texts(job_id, after, task, limit)

    async def log_block(
        self, job_id: int, after: int, task: int | None = None, limit: int | None = None
    ) -> LogBlock:
        await self.job(job_id)
        return await self.store.log_block(job_id, after, task, limit)

    async def log_tail(self, job_id: int, n: int, task: int | None = None) -> list[LogLine]:
        await self.job(job_id)
        return await self.store.log_tail(job_id, n, task)

    # The history the dashboard's pictures draw (`now`: the dashboard's clock).

    async def type_runs(self, type: str, limit: int = 30) -> list[Run]:
        """The last `limit` finished runs of a job type this user may see, newest first."""
        return await self.store.type_runs(type, limit, *self.rights.seen)

    async def jobs_ended(self, now: float, hours: int = 24) -> list[Counted]:
        """The jobs this user may see that ended in each hour before `now`, by status."""
        return await self.store.jobs_ended(now, hours, *self.rights.seen)

    async def tasks_done(self, now: float, minutes: int = 60) -> list[Counted]:
        """The tasks each agent did (succeeded) in each minute before `now` (agents are
        everyone's, as on the Agents tab)."""
        return await self.store.tasks_done(now, minutes)

    async def agents(self) -> list[tuple[AgentInfo, bool]]:
        """Each agent and its drain flag, as shown: the live first (`agents_as_shown`)."""
        return agents_as_shown(await self.store.agents(), time.time())

    async def agent_tasks(self) -> dict[str, list[tuple[int, int, str]]]:
        """Each agent's running tasks: (job id, task seq, task name)."""
        return await self.store.running_tasks()

    async def pruned_agents(self) -> PrunedAgents:
        """The totals of the agents pruned from the list (`agent_retention`)."""
        return await self.store.pruned_agents()

    async def drain_agent(self, name: str, drain: bool = True) -> None:
        """Let an agent finish its running tasks and claim no more, or (`drain` False)
        let a drained agent claim again (admins)."""
        what = "drain an agent" if drain else "undrain an agent"
        self._check_right("drain", what, f"agent {name}")
        await self.store.set_agent_drain(name, self.user, drain)

    async def why(self, job_id: int) -> Why:
        """Why a job this user may see waits (or that it does not), read from the store
        now: more than the line its row shows (`core.waiting`)."""
        from jobdash.core.waiting import explain  # `why`'s and the job details': not a read's

        await self.job(job_id)
        situation = await self.store.wait_situation(job_id, time.time() - STALE_AFTER)
        return explain(situation, time.time())

    async def engine_alive(self) -> bool:
        """A live agent uses the store (see `live_agents`)."""
        return bool(await self.live_agents())

    async def rev(self) -> int:
        """The store's revision now: read it before loading what a view shows, and pass it
        to `watch` as `since`."""
        return await self.store.rev()

    async def watch(
        self, interval: float = 0.25, since: int | None = None
    ) -> AsyncGenerator[Changes, None]:
        """Yield what changed, as it changes (by any process), among what this user sees.

        `since`: a revision read before the caller loaded what it shows; what changed after
        it comes first (otherwise the feed starts from now)."""
        async for changes in self.store.changes(since, interval):
            changes.jobs = [j for j in changes.jobs if self._visible(j)]
            self.note_read(changes)
            self.forget_timing(changes)
            await self.with_extras(changes.jobs)
            yield changes

    def export(self, jobs: list[Job], fmt: str = "csv") -> str:
        """History as CSV (the documented columns first, cells inert) or JSON (see `export`).
        Its module loads when first asked: not in the dashboard's first frame."""
        from jobdash.core.service.export import export_jobs

        return export_jobs(jobs, fmt)

    # ----------------------------------------------------------------- schedules

    async def schedule_jobs(self, schedule_id: str, limit: int = 20) -> list[Job]:
        """The latest jobs a schedule started (newest first), as this user may see them."""
        jobs = await self.store.list_jobs(
            self._seen(JobFilter(schedule_id=schedule_id, limit=limit))
        )
        await self.with_extras(jobs)
        return jobs

    async def latest_runs(self, schedules: Sequence[Schedule]) -> dict[int, Job]:
        """The latest run of each schedule (of those this user may see), by job id, with
        what of its log is unread: one read for them all."""
        ids = sorted({s.last_job for s in schedules if s.last_job is not None})
        if not ids:
            return {}
        return {job.id: job for job in await self.jobs(f"id:{','.join(map(str, ids))}")}

    async def run_schedule_now(self, schedule_id: str) -> Job:
        """Run a schedule's job now (not tied to a fire time; overlap 'queue' still waits)."""
        s = await self.store.get_schedule(schedule_id)
        self._check_schedule(s, "run a schedule")
        job = await self.submit_schedule(s, queue=s.overlap == "queue")
        await self.store.note_schedule_run(s.id, job.id, self.user)
        return job
