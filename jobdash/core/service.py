"""The one facade the command line and the dashboard call.

It resolves the catalogue of job types, turns a submission into a job with its tasks,
checks who may see and do what (SPEC §7), writes audit events, and offers the change feed.

The front ends import this module and the plain model modules only (the import contracts
in pyproject.toml hold them to it): the few other names they need are imported here as
`name as name` (parse_duration, open_output, write_output, create_new, write_new,
CATCHUP_BOUND, Changes).
"""

from __future__ import annotations

import asyncio
import csv
import dataclasses
import glob as globmod
import io
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import AsyncGenerator, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import platformdirs

from jobdash.core.agent import STALE_AFTER, Agent, AgentOptions, agent_state, pid_alive
from jobdash.core.catalogue import Catalogue, engines_do, short, type_hash
from jobdash.core.config import Config, check_params, find_config_path, load_config, substitute
from jobdash.core.config import parse_duration as parse_duration
from jobdash.core.identity import current_user
from jobdash.core.lifecycle import decide_cancel
from jobdash.core.model import (
    CATCHUP,
    OVERLAP,
    AgentInfo,
    BadInput,
    Items,
    Job,
    JobType,
    LogLine,
    NotFound,
    Param,
    PrunedAgents,
    Refused,
    Report,
    SchedulePolicy,
    Task,
    Trigger,
    report_recipients,
)
from jobdash.core.outfile import create_new as create_new
from jobdash.core.outfile import open_output as open_output
from jobdash.core.outfile import write_new as write_new
from jobdash.core.outfile import write_output as write_output
from jobdash.core.planning import (
    PlanningError,
    Schedule,
    Tick,
    check_timezone,
    next_fire,
    parse_planning,
    preview,
    preview_times,
    resolve,
)
from jobdash.core.query import Query, parse_query
from jobdash.core.scheduler import CATCHUP_BOUND as CATCHUP_BOUND
from jobdash.core.scheduler import Scheduler, effective_planning, schedule_lock, zone
from jobdash.core.store.base import Store, open_store
from jobdash.core.store.records import Changes, JobFilter, NewJob, NewTask, Published
from jobdash.present.times import iso, local_zone_name

ITEMS_COMMAND_TIMEOUT = 60.0
EXPORT_COLUMNS = [
    "startDate",
    "endDate",
    "jobName",
    "jobStatus",
    "jobInfo",
    "jobUser",
    "id",
    "target",
    "trigger",
    "tasks",
    "succeeded",
    "failed",
    "duration",
    "params",
]


def default_db_path() -> Path:
    try:
        return Path(platformdirs.user_data_dir("jobdash")) / "jobdash.db"
    except RuntimeError as e:  # no home folder (a uid without a passwd entry, HOME unset)
        raise BadInput(f"no default store: {e}; or give --db PATH") from None


def store_location(explicit: str | None) -> str:
    """The store to open: `--db`, JOBDASH_DB, else the default one in the user's data folder
    (a path or a store URL; `~` is the home folder)."""
    location = explicit or os.environ.get("JOBDASH_DB") or str(default_db_path())
    return location if "://" in location else str(Path(location).expanduser())


def is_default_db(explicit: str | None) -> bool:
    """The store is the default one, whose folder jobdash may create."""
    return not (explicit or os.environ.get("JOBDASH_DB"))


def type_to_dict(jt: JobType) -> dict[str, Any]:
    return dataclasses.asdict(jt)


def type_from_dict(d: Mapping[str, Any]) -> JobType:
    """Rebuild a JobType published by an engine (JSON lists back into tuples)."""
    d = dict(d)
    d["params"] = tuple(Param(**p) for p in d.get("params", ()))
    items = d.get("items")
    if items:
        d["items"] = Items(
            values=tuple(items["values"]) if items.get("values") is not None else None,
            glob=items.get("glob"),
            command=tuple(items["command"]) if items.get("command") is not None else None,
        )
    for key in ("command", "locks"):
        if d.get(key) is not None:
            d[key] = tuple(d[key])
    for key in ("report", "schedule_report"):
        rep = d.get(key) or {}
        d[key] = Report(tuple(rep.get("email", ())), tuple(rep.get("webhook", ())))
    d["schedule_policy"] = SchedulePolicy(**(d.get("schedule_policy") or {}))
    known = {f.name for f in dataclasses.fields(JobType)}
    return JobType(**{k: v for k, v in d.items() if k in known})


def read_config(explicit: str | None) -> Config:
    """The config in force (`--config`, JOBDASH_CONFIG, ./jobdash.toml, the user's), checked:
    a bad file raises a one-line error before anything is opened."""
    return load_config(find_config_path(explicit))


class Service:
    """What a user may see and do, for one user: every front end goes through here."""

    def __init__(
        self,
        store: Store,
        config: Config,
        user: str,
        types: dict[str, JobType],
        read_only: bool = False,
    ) -> None:
        self.store = store
        self.config = config
        self.user = user
        self.local_types = types
        self.types = dict(types)
        self.read_only = read_only
        self.engine: Agent | None = None
        self.scheduler: Scheduler | None = None

    @classmethod
    async def open(
        cls,
        db: str | None = None,
        config: str | None = None,
        extra_types: Mapping[str, JobType] | None = None,
        user: str | None = None,
        read_only: bool = False,
        reading: bool = False,
    ) -> Service:
        """Load the config (errors before anything is opened), then open the store.
        `reading` (a command that only reads) or `read_only`: a store that cannot be
        written is opened to be read (see `open_store`). `extra_types`: job types added
        to the config's where it does not define the name (the command line's `--demo`
        passes the demo types)."""
        cfg = read_config(config)
        if cfg.path is not None:
            # Python job types named in the config live next to it.
            folder = str(cfg.path.parent.resolve())
            if folder not in sys.path:
                sys.path.insert(0, folder)
        types = dict(extra_types or {}) | dict(cfg.types)
        who = user or current_user()  # before the store is opened: nothing to close
        store = await open_store(
            store_location(db), create_folder=is_default_db(db), reading=reading or read_only
        )
        svc = cls(store, cfg, who, types, read_only)
        try:
            await svc.refresh_catalogue()
        except BaseException:
            await store.close()  # its threads would keep the process alive
            raise
        return svc

    async def close(self) -> None:
        try:
            await self.stop_scheduler()
            if self.engine is not None:
                await self.engine.shutdown(timeout=0, now=True)
        finally:
            await self.store.close()  # whatever happened: its threads would keep us alive

    @property
    def location(self) -> str:
        """Where the store is (to tell the user)."""
        return self.store.location

    @property
    def created(self) -> str:
        """What opening the store created, to say once ("created store at …"); or ""."""
        return self.store.created

    @property
    def damaged(self) -> asyncio.Event:
        """Set once the store is found damaged: nothing more is written, an engine stops."""
        return self.store.damaged

    # ----------------------------------------------------------------- catalogue

    async def refresh_catalogue(self) -> None:
        """The types this process shows and submits: its own config's, then for other names
        those engines published (live engines' first, then the latest published)."""
        live = await self.live_agents()
        published: dict[str, JobType] = {}
        for p in sorted(await self.store.catalogue(), key=lambda p: p.agent not in live):
            published.setdefault(p.name, type_from_dict(p.spec))
        self.types = published | self.local_types

    async def _live_catalogue(self) -> tuple[set[str], list[Published]]:
        live = await self.live_agents()
        return live, [p for p in await self.store.catalogue() if p.agent in live]

    async def _type_hash(self, jt: JobType) -> str:
        """The hash of `jt`, once a live engine runs that very definition. Refused (one
        line) when engines are live and none does: they run only their own config's types,
        so the job would only wait. With no live engine the job is queued; the engine that
        starts checks it (see `Store.admit`)."""
        digest = type_hash(jt)
        if self.engine is not None and digest in self.engine.catalogue.hashes:
            return digest  # our own engine runs it (the scheduler's fires take this way)
        live, rows = await self._live_catalogue()
        if not live or any(p.hash == digest for p in rows):
            return digest
        same = sorted((p.agent, p.hash) for p in rows if p.name == jt.name)
        if same:
            agent, theirs = same[0]
            raise BadInput(
                f"type {jt.name} here differs from what engine {agent} runs (catalogue hash "
                f"{short(digest)}, engine's {short(theirs)}): an engine runs only its own "
                "config's definition; use the engine's config or restart it with yours"
            )
        raise BadInput(
            f"{engines_do(sorted(live))} not define type {jt.name}: an engine runs only the "
            "types of its own config"
        )

    def job_type(self, name: str) -> JobType:
        try:
            return self.types[name]
        except KeyError:
            known = ", ".join(sorted(self.types)) or "none defined"
            raise BadInput(f"unknown job type {name!r} (known: {known})") from None

    # ----------------------------------------------------------------- permissions

    @property
    def is_admin(self) -> bool:
        return self.user in self.config.admins

    def _visible(self, job: Job) -> bool:
        return self.is_admin or job.user == self.user

    def _check_writable(self, what: str) -> None:
        if self.read_only:
            raise Refused(f"read-only: cannot {what}")

    async def job(self, job_id: int) -> Job:
        try:
            job = await self.store.get_job(job_id)
        except NotFound:
            job = None
        if job is None or not self._visible(job):
            raise NotFound(f"no job {job_id}" + ("" if self.is_admin else " among your jobs"))
        return job

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
    ) -> Job:
        """Check the parameters, break the job down into tasks, and commit it (durable).

        The type's report recipients (plus `report`'s, e.g. a schedule's) are stored with
        the job: when it ends, one engine sends them the execution report."""
        self._check_writable("start a job")
        jt = self.job_type(type_name)
        values = check_params(jt, params or {})
        digest = await self._type_hash(jt)
        tasks = plan_tasks(jt, values)
        lock_keys = [substitute(k, values, f"types.{jt.name}.locks") for k in jt.locks]
        if jt.exclusive:
            lock_keys.append("exclusive")
        lock_keys += [k for k in extra_locks if k not in lock_keys]
        target_param = jt.target_param
        nj = NewJob(
            type=jt.name,
            params=values,
            user=user or self.user,
            trigger=trigger,
            target=values.get(target_param, "") if target_param else "",
            parallel=jt.parallel,
            cancellable=jt.cancellable,
            on_lock=jt.on_lock,
            timeout=jt.timeout,
            retries=jt.retries,
            backoff=jt.backoff,
            lock_keys=lock_keys,
            tasks=tasks,
            schedule_id=schedule_id,
            fire_time=fire_time,
            report=report_recipients(jt.report, report),
            type_hash=digest,
        )
        return await self.store.create_job(nj, audit_user=self.user)

    async def cancel(self, job_id: int, force: bool = False) -> Job:
        self._check_writable("cancel")
        await self.job(job_id)
        return await self.store.cancel_job(job_id, self.user, force)

    def check_cancel(self, job: Job, force: bool = False) -> None:
        """Raise the refusal that cancelling `job` (as last read) would get, so that the
        dashboard refuses at once instead of after asking the user to confirm."""
        decide_cancel(job.id, job.type, job.status, job.cancellable, force, self.user)

    async def pause(self, job_id: int) -> Job:
        self._check_writable("pause")
        await self.job(job_id)
        return await self.store.pause_job(job_id, self.user)

    async def resume(self, job_id: int) -> Job:
        self._check_writable("resume")
        await self.job(job_id)
        return await self.store.resume_job(job_id, self.user)

    async def toggle_pause(self, job_id: int) -> Job:
        job = await self.job(job_id)
        if job.status == "paused":
            return await self.resume(job_id)
        return await self.pause(job_id)

    async def retry(self, job_id: int) -> int:
        self._check_writable("retry")
        await self.job(job_id)
        return await self.store.retry_job(job_id, self.user)

    async def quarantined_tasks(self, job_id: int) -> list[Task]:
        """The tasks that `retry` would run again although they killed their agent."""
        return [t for t in await self.tasks(job_id) if t.quarantined]

    async def rerun(self, job_id: int) -> Job:
        """Run the job's type again with the same parameters."""
        job = await self.job(job_id)
        return await self.submit(job.type, job.params)

    async def clear(self, everyone: bool = False) -> int:
        self._check_writable("clear history")
        if everyone and not self.is_admin:
            raise Refused(f"only admins may clear every user's jobs ({self.user} is not an admin)")
        return await self.store.clear(None if everyone else self.user, self.user)

    async def clear_jobs(self, job_ids: Sequence[int]) -> int:
        """Remove these jobs (those a dashboard shows) where finished: yours, or any as an
        admin. Returns how many were removed."""
        self._check_writable("clear history")
        return await self.store.clear_ids(job_ids, None if self.is_admin else self.user, self.user)

    # ----------------------------------------------------------------- reading

    @property
    def _scope(self) -> str | None:
        """Whose jobs this user sees: their own, or (None) everyone's for an admin."""
        return None if self.is_admin else self.user

    async def jobs(
        self, query: str | Query = "", active: bool | None = None, limit: int | None = None
    ) -> list[Job]:
        """The jobs the filter text selects that this user may see, newest first (`active`:
        only the active, or only the finished ones)."""
        q = parse_query(query) if isinstance(query, str) else query
        return await self.store.list_jobs(
            JobFilter(q, user=self._scope, active=active, limit=limit)
        )

    async def tasks(self, job_id: int) -> list[Task]:
        await self.job(job_id)
        return await self.store.tasks(job_id)

    async def logs(
        self,
        job_id: int,
        after: int = 0,
        task: int | None = None,
        tail: int | None = None,
        limit: int | None = None,
    ) -> list[LogLine]:
        await self.job(job_id)
        return await self.store.logs(job_id, after, task, limit=limit, tail=tail)

    async def agents(self) -> list[tuple[AgentInfo, bool]]:
        now = time.time()
        out = []
        for info, drain in await self.store.agents():
            info.state = agent_state(info.state, info.heartbeat, now)
            out.append((info, drain))
        return out

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
        self._check_writable(what)
        if not self.is_admin:
            raise Refused(f"only admins may {what} ({self.user} is not an admin)")
        await self.store.set_agent_drain(name, self.user, drain)

    async def engine_alive(self) -> bool:
        """A live agent uses the store (see `live_agents`)."""
        return bool(await self.live_agents())

    async def live_agents(self) -> set[str]:
        """The agents that use the store now: recent heartbeat, and on this host a live
        process (a dashboard killed a second ago must not be mistaken for a running engine)."""
        now = time.time()
        host = socket.gethostname()
        return {
            info.name
            for info, _ in await self.store.agents()
            if info.state != "offline"
            and now - info.heartbeat < STALE_AFTER
            and (info.host != host or pid_alive(info.pid))
        }

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
            yield changes

    def export(self, jobs: list[Job], fmt: str = "csv") -> str:
        """History as CSV (the SPEC's columns first) or JSON.

        CSV cells are inert (`inert_cell`): names, info lines and parameters come from
        users and jobs, and a spreadsheet would run a cell such as `=cmd|' /C calc'!A0`."""
        if fmt == "json":
            return json.dumps([dataclasses.asdict(j) for j in jobs], indent=2, default=str)
        if fmt != "csv":
            raise BadInput(f"unknown export format {fmt!r} (csv or json)")
        out = io.StringIO()
        w = InertCsvWriter(out)
        w.writerow(EXPORT_COLUMNS)
        for j in jobs:
            w.writerow(
                [
                    iso(j.started),
                    iso(j.finished),
                    j.type,
                    str(j.status),
                    j.info,
                    j.user,
                    j.id,
                    j.target,
                    str(j.trigger),
                    j.total,
                    j.succeeded,
                    j.failed,
                    f"{j.duration():.1f}" if j.started else "",
                    json.dumps(j.params, sort_keys=True),
                ]
            )
        return out.getvalue()

    # ----------------------------------------------------------------- engine

    async def start_engine(
        self,
        slots: int = 4,
        name: str | None = None,
        lease: float | None = None,
        scheduler: bool = True,
    ) -> Agent:
        """Run an engine in this process: publish the catalogue and start an agent (which
        also sends execution reports). `lease`: seconds a claim lasts without renewal.
        `scheduler`: also run the scheduler (not for `jobdash agent`)."""
        from jobdash.core.reports import Reporter

        opts = AgentOptions(
            name=name,
            slots=slots,
            retention=self.config.retention,
            agent_retention=self.config.agent_retention,
        )
        if lease is not None:
            opts.lease = lease
            opts.heartbeat = min(opts.heartbeat, lease / 5)
        # The engine runs the types of its own config (and demo types), never another's.
        catalogue = Catalogue(self.local_types)
        agent = Agent(self.store, opts, catalogue)
        await self.store.publish_catalogue(agent.name, catalogue.published())
        opts.reporter = Reporter(self.store, self.config.smtp, agent.owner)
        self.engine = agent
        await self.engine.start()
        if scheduler:
            self.scheduler = Scheduler(self)
            await self.scheduler.start()
        return self.engine

    async def stop_scheduler(self) -> None:
        """Stop firing schedules and hand the leader lease over at once."""
        if self.scheduler is not None:
            sched, self.scheduler = self.scheduler, None
            await sched.stop()

    # ----------------------------------------------------------------- schedules

    def _check_admin(self, what: str) -> None:
        self._check_writable(what)
        if not self.is_admin:
            raise Refused(f"only admins may {what} ({self.user} is not an admin)")

    def _schedule_view(self, s: Schedule, now: float) -> Schedule:
        """Fill in the next run from the planning (exact even when no engine runs)."""
        p = effective_planning(s)
        s.next_run = None
        if s.enabled and p.kind != "disabled":
            s.next_run = next_fire(p, zone(s.timezone), max(now, s.last_fire or now))
        return s

    async def schedules(self) -> list[Schedule]:
        now = time.time()
        return [self._schedule_view(s, now) for s in await self.store.schedules()]

    async def schedule(self, schedule_id: str) -> Schedule:
        return self._schedule_view(await self.store.get_schedule(schedule_id), time.time())

    async def ticks(self, schedule_id: str, limit: int = 100) -> list[Tick]:
        await self.store.get_schedule(schedule_id)
        return await self.store.ticks(schedule_id, limit)

    async def schedule_jobs(self, schedule_id: str, limit: int = 20) -> list[Job]:
        """The latest jobs a schedule started (newest first), as this user may see them."""
        return await self.store.list_jobs(
            JobFilter(user=self._scope, schedule_id=schedule_id, limit=limit)
        )

    def _wake_scheduler(self) -> None:
        if self.scheduler is not None:
            self.scheduler.wake()

    async def set_planning(
        self, schedule_id: str, planning: str, tz: str | None = None
    ) -> Schedule:
        """An admin's planning for a schedule ("automatic" follows the config again)."""
        self._check_admin("change a schedule")
        current = await self.store.get_schedule(schedule_id)
        try:
            p = parse_planning(planning)
            zone_name = tz or current.timezone
            zi = check_timezone(zone_name)
            eff = resolve(p.text, current.config_planning)
        except PlanningError as e:
            raise BadInput(str(e)) from None
        now = time.time()
        nxt = next_fire(eff, zi, now) if eff.kind != "disabled" else None
        await self.store.set_schedule_planning(schedule_id, p.text, tz, self.user, nxt)
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    async def set_schedule_policy(
        self,
        schedule_id: str,
        overlap: str | None = None,
        catchup: str | None = None,
        catchup_bound: float | None = None,
    ) -> Schedule:
        self._check_admin("change a schedule")
        if overlap is not None and overlap not in OVERLAP:
            raise BadInput(f"overlap must be one of {', '.join(OVERLAP)}, got {overlap!r}")
        if catchup is not None and catchup not in CATCHUP:
            raise BadInput(f"catch-up must be one of {', '.join(CATCHUP)}, got {catchup!r}")
        if catchup_bound is not None and catchup_bound <= 0:
            raise BadInput(f"catch-up bound must be positive, got {catchup_bound:g}")
        await self.store.set_schedule_policy(
            schedule_id, self.user, overlap, catchup, catchup_bound
        )
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    async def enable(self, schedule_id: str) -> Schedule:
        self._check_admin("enable a schedule")
        await self.store.set_schedule_enabled(schedule_id, True, self.user)
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    async def disable(self, schedule_id: str) -> Schedule:
        self._check_admin("disable a schedule")
        await self.store.set_schedule_enabled(schedule_id, False, self.user)
        self._wake_scheduler()
        return await self.schedule(schedule_id)

    async def run_schedule_now(self, schedule_id: str) -> Job:
        """Run a schedule's job now (not tied to a fire time; overlap 'queue' still waits)."""
        self._check_admin("run a schedule")
        s = await self.store.get_schedule(schedule_id)
        locks = [schedule_lock(s.id)] if s.overlap == "queue" else []
        job = await self.submit(
            s.type,
            s.params,
            trigger=Trigger.MANUAL,
            schedule_id=s.id,
            report=s.report,
            extra_locks=locks,
        )
        await self.store.note_schedule_run(s.id, job.id, self.user)
        return job

    def next_fire_times(
        self, planning: str, tz: str | None = None, n: int = 5, default: str | None = None
    ) -> list[datetime]:
        """Preview: the next `n` fire times of a planning (BadInput when it does not parse)."""
        try:
            return preview(planning, tz or self.default_timezone, n, default=default)
        except PlanningError as e:
            raise BadInput(str(e)) from None

    @property
    def default_timezone(self) -> str:
        return self.config.timezone or local_zone_name()


def preview_planning(
    planning: str, tz: str, count: int, start: str | None = None
) -> list[datetime]:
    """`jobdash schedule preview` (no store needed): the next `count` fire times of any
    planning after `start` (ISO 8601, default now); BadInput when it is invalid or never
    fires."""
    try:
        return preview_times(planning, tz, count, start)
    except PlanningError as e:
        raise BadInput(str(e)) from None


def config_timezone(config: str | None) -> str:
    """The zone a schedule gets when none is given: the config's, else the machine's."""
    return read_config(config).timezone or local_zone_name()


FORMULA_STARTS = frozenset("=+-@\t\r")


def inert_cell(cell: object) -> str:
    """A CSV cell that no spreadsheet reads as a formula (OWASP's rule): a cell starting
    with =, +, -, @, a tab or a carriage return gets a leading single quote, which
    spreadsheets take as "this is text" and do not display."""
    text = "" if cell is None else str(cell)
    return "'" + text if text[:1] in FORMULA_STARTS else text


class InertCsvWriter:
    """`csv.writer` whose every cell is an `inert_cell`."""

    def __init__(self, out: io.StringIO) -> None:
        self._writer = csv.writer(out)

    def writerow(self, row: Sequence[object]) -> None:
        self._writer.writerow([inert_cell(cell) for cell in row])


def plan_tasks(jt: JobType, values: dict[str, str]) -> list[NewTask]:
    """Break a job down: one task per item for commands, a job function for Python types.

    A task records its item only: the engine that claims it builds argv (or finds the job
    function) from its own catalogue (placeholders were checked with the config)."""
    if jt.function:
        return [NewTask("main", "main", "job", None)]
    items = expand_items(jt, values)
    if items is None:
        return [NewTask("main", jt.name, "command", None)]
    return [NewTask(item, item, "command", None, item) for item in items]


def expand_items(jt: JobType, values: dict[str, str]) -> list[str] | None:
    it = jt.items
    if it is None:
        return None
    where = f"types.{jt.name}.items"
    if it.values is not None:
        return [substitute(v, values, where) for v in it.values]
    if it.glob is not None:
        return sorted(globmod.glob(substitute(it.glob, values, where)))
    assert it.command is not None
    argv = [substitute(a, values, where) for a in it.command]
    try:
        done = subprocess.run(
            argv, capture_output=True, text=True, timeout=ITEMS_COMMAND_TIMEOUT, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as e:
        raise BadInput(f"{where}: cannot run {argv[0]!r}: {e}") from e
    if done.returncode != 0:
        first = (done.stderr.strip().splitlines() or [""])[0]
        raise BadInput(f"{where}: {argv[0]} exited {done.returncode}: {first}")
    return [ln for ln in done.stdout.splitlines() if ln.strip()]
