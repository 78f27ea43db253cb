"""The Store contract: what the engine asks of a store, and what a backend must guarantee.

Everything above the store (service, agent, runners, reports, scheduler) is typed against
`Store`, never against a backend class, and trades in the plain data of `records`. A backend
keeps the state and applies the engine's decisions atomically; how it does that (SQL, a
write queue, locks, notifications) stays inside it. `open_store(location)` picks the backend
from the location: a path or `sqlite:///PATH` is the SQLite store, `postgresql://…` the
PostgreSQL store (each imported only then).

The guarantees each method's docstring states are the ones the engine relies on: a backend
that keeps them runs the whole product unchanged.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from pathlib import Path
from typing import Any, Protocol

from jobdash.core.model import BadInput, Counted, Job, JobStatus, LogLine, Report, Run, Task
from jobdash.core.permissions import Role as PermissionRole
from jobdash.core.planning import Schedule, Tick
from jobdash.core.store.records import (
    Advance,
    AuditFilter,
    Changes,
    Claim,
    Claimant,
    Delivery,
    FailureFilter,
    FireReport,
    JobFilter,
    NewArtifact,
    NewJob,
    NewTask,
    Outcome,
    PolicyChange,
    Published,
    ReadMark,
    Refill,
    ReportClaim,
    Role,
    ScheduleSpec,
    Shared,
    SilentTask,
    StallReport,
    TickRecord,
)
from jobdash.core.views import (
    AgentInfo,
    Artifact,
    AuditEvent,
    FailedTask,
    FailureGroup,
    PrunedAgents,
    StoreSize,
)
from jobdash.core.waiting import Situation

# ----------------------------------------------------------------- the contract


class Store(Protocol):
    """A jobdash store. Every write is atomic and durable once its coroutine returns (the
    buffered ones, below, once the next flush returns), and moves the change feed."""

    # ------------------------------------------------------------- the store itself

    @property
    def location(self) -> str:
        """Where the store is, as a person would name it (a path, a URL without password)."""

    created: str  # what opening created, said once to the user ("created store at …")
    damaged: asyncio.Event  # set when the store is found damaged: it is written no more
    on_commit: list[Callable[[], None]]  # called after each commit of this process
    refill: Refill | None  # the agent whose freed slots a write of outcomes refills
    # Who the database says the user is, where it enforces who sees what (PostgreSQL
    # under row-level security); None where the kernel's user and jobdash's rules decide.
    role: Role | None

    async def grant(self, user: str, kind: str) -> str:
        """Let the OS user `user` use the store, where the database enforces who sees what:
        `kind` "user" (its own jobs), "admin" (everything) or "engine" (the role an engine
        connects as: it runs every user's work); what was done, in one line. BadInput where
        the database does not (a SQLite store serves the one OS user who owns its file)."""

    async def write_roles(self, roles: Sequence[PermissionRole]) -> str:
        """Make the config's permission groups the database's (`jobdash db roles`), where
        it enforces them (PostgreSQL: row-level security; an "@group" member resolved now
        from the system's group database); what was done, in one line. BadInput where it
        does not (on SQLite the config's roles are jobdash's rules, read at each start)."""

    async def close(self) -> None:
        """Write what is buffered, then release everything; StoreError (one line) when
        buffered lines or results could not be written."""

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        """Log a failed background step (call it in an `except`): a failure of the store
        itself once while it lasts, with what is held meanwhile; the traceback of a bug."""

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        """Record an audit event, naming `user` and the real OS user who wrote it."""

    async def audit_events(
        self, target: str | None = None, limit: int = 100, f: AuditFilter | None = None
    ) -> list[AuditEvent]:
        """The newest audit events first (of `target` only, when given; those `f` passes)."""

    # ------------------------------------------------------------- buffered writes
    # Held in memory and written together, soon (a fraction of a second) and in order.

    async def flush(self) -> None:
        """Write whatever is buffered now."""

    async def append_log(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        """Buffer a log line (of task attempt `attempt`, if a task's); waits while the
        buffer is full (`backlogged`). A job's lines keep the order they were appended in,
        and a line of a job's output also becomes its info line."""

    def append_log_nowait(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        """`append_log` without waiting: callers check `backlogged` themselves."""

    def backlogged(self) -> bool:
        """True while the lines held exceed the store's memory bound: writers should wait
        for `drained` (nothing is ever dropped)."""

    async def drained(self) -> None:
        """Return once the buffer is under its bound again (at once when it is)."""

    def report_progress(self, task_id: int, fraction: float) -> None:
        """A running task's progress, 0 to 1; its job's progress follows."""

    def note_pgid(self, task_id: int, pgid: int) -> None:
        """The process group of a running command attempt (see `expire_dead_agents`)."""

    def add_metric(self, job_id: int, name: str, value: float) -> None:
        """Metrics are counters: values reported by the tasks of a job add up."""

    def add_warning(self, job_id: int) -> None:
        """One more warning for the job (it then ends `warning` instead of `succeeded`)."""

    async def complete(self, outcome: Outcome) -> bool:
        """Record how an attempt ended. **Fenced**: only while (task, attempt, owner) still
        holds it running; otherwise nothing changes and the answer is False. The task moves
        as the job's rules say (a failure with retries left is pending again after its
        backoff), and a job with nothing left pending or running is settled, atomically (or,
        when its type has a finalize step, becomes `finalizing` with the step added as its
        last task: `lifecycle.after_last_task`)."""

    # ------------------------------------------------------------- jobs

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        """Create a queued job with its tasks, lock keys and report; **durable** once this
        returns. A second job for the same (schedule, fire time) is Refused whoever submits
        it; with on_lock = "refuse", so is a job whose lock another job holds."""

    async def create_jobs(self, jobs: Sequence[NewJob], audit_user: str | None = None) -> list[int]:
        """Create many queued jobs at once (bulk submission), like `create_job` each, in one
        transaction: **all or none** (the first refusal is raised and nothing is created).
        Returns their ids, in order; the change feed sees them in one revision."""

    async def add_tasks(self, job_id: int, tasks: Sequence[NewTask]) -> int:
        """Add tasks to a running job (keys already there add nothing); returns how many
        were added. A job being cancelled gets them cancelled at once."""

    async def admit(self, live_after: float | None = None) -> list[int]:
        """Move queued and waiting jobs to running, oldest first, each taking all its lock
        keys at once. **Lock and exclusive admission**: a key (and "exclusive") has one
        holder at a time across every process sharing the store; a job whose key is held
        waits, the holder named. With `live_after`, a job whose type and hash no agent live
        since then runs waits too, with the reason. Returns the jobs that changed."""

    async def cancel_job(self, job_id: int, user: str, force: bool = False) -> Job:
        """Cancel as the job rules allow (Refused, one line, when they do not); audited."""

    async def pause_job(self, job_id: int, user: str) -> Job:
        """Pause as the job rules allow; its clock stops. Audited."""

    async def resume_job(self, job_id: int, user: str) -> Job:
        """Resume a paused job (running if it was admitted, else queued). Audited."""

    async def retry_job(self, job_id: int, user: str, task_ids: Sequence[int] | None = None) -> int:
        """Queue a finished job's failed and cancelled tasks again (of them, only those of
        `task_ids`, when given: a failure group's); returns how many."""

    async def clear(self, user: str | None, actor: str) -> int:
        """Remove finished jobs (of `user`, or everyone's when None) with their tasks, logs
        and artifacts (their kept files of this host's folder too, once committed), in small
        batches; the change feed reports them removed."""

    async def clear_ids(self, job_ids: Sequence[int], user: str | None, actor: str) -> int:
        """Remove the finished jobs among `job_ids` (of `user` only, unless None)."""

    async def prune(self, older_than: float) -> int:
        """**Retention**: remove the jobs that finished before `older_than`, as `clear`."""

    # ------------------------------------------------------------- artifacts
    # Files a job produced, kept with it (see core.artifacts): small ones in the store, big
    # ones as files of `artifact_folder`, named by jobdash, recorded by name and checksum.

    artifact_folder: Path  # this host's folder of the store's big artifacts (0700)
    artifact_host: str | None  # the host recorded with a kept file (None: beside the store)

    async def add_artifact(self, new: NewArtifact) -> Artifact:
        """Record an artifact of a job, **replacing** one of the same name in that job (its
        kept file, when of this folder, is removed once committed); the job shows changed in
        the change feed. NotFound when the job is gone."""

    async def artifacts(self, job_id: int) -> list[Artifact]:
        """A job's artifacts, by name (without their bytes)."""

    async def artifact(self, job_id: int, name: str) -> tuple[Artifact, bytes | None]:
        """One artifact and its bytes when the store holds them (None: it is a kept file).
        NotFound when the job has no artifact of that name."""

    async def store_size(self) -> StoreSize:
        """What the store takes: the database, and the artifacts it holds and keeps."""

    async def known_files(self, names: Sequence[str]) -> set[str]:
        """Those of these kept files' names that a row of the store still names."""

    # ------------------------------------------------------------- claims

    async def claim(self, who: Claimant | Callable[[], Claimant | None]) -> list[Claim]:
        """Claim up to `who.free` ready tasks of running (or finalizing) jobs of the type hashes in
        `who.types` (None: any), within each job's `parallel`, shared out between jobs.
        **One holder per attempt**: each claim starts a new attempt that this owner alone
        holds, until its lease (`who.lease` seconds, renewed by `heartbeat`) runs out. A
        suspect task (lost with an agent before) is claimed alone, by an idle claimant.
        `who` may be a function, asked inside the transaction (None: nothing to claim), so
        that an agent's free slots counted there cannot be taken meanwhile by a refill."""

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        """Would `claim` find something? One cheap read, asked before claiming."""

    async def release(self, owner: str, task_ids: Sequence[int]) -> None:
        """Give back claims without counting an attempt (graceful shutdown)."""

    async def recover_lost(self, quarantine_after: int = ...) -> int:
        """**Recovery of a dead agent's tasks**: every running task of an owner with a lease
        run out, as one death, with the rules' verdicts (run again alone, fail, quarantine
        after `quarantine_after` deaths charged). Returns how many tasks were recovered."""

    async def has_lost_tasks(self) -> bool:
        """Is a running task's lease run out?"""

    async def expire_dead_agents(
        self, host: str, alive: Callable[[int], bool]
    ) -> tuple[list[str], list[str], list[int]]:
        """Agents of `host` whose pid is not `alive`: end their leases now and show them
        offline. Returns their names, owners and their running attempts' process groups."""

    async def job_statuses(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, bool]]:
        """Status and force flag of some jobs: agents poll this for cancel and pause."""

    async def has_jobs_to_admit(self) -> bool:
        """Is a job queued or waiting?"""

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

    async def note_waits(self, live_since: float) -> int:
        """Write why each running job with tasks left runs none (ready ones nobody claims,
        or all waiting out a retry backoff; clear reasons that no longer hold). Returns how
        many jobs' reasons changed."""

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
        self, schedule_id: str, planning: str, tz: str | None, user: str, next_run: float | None
    ) -> None:
        """An admin's planning (fire times before now do not count as missed); audited."""

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

    # ------------------------------------------------------------- reading

    async def get_job(self, job_id: int) -> Job:
        """One job (NotFound)."""

    async def list_jobs(self, f: JobFilter | None = None) -> list[Job]:
        """The jobs `f` selects (None: all), in its order: the jobs `f.query.matches`
        (`f.after_id` and `f.limit`: one page of them, read by keyset; `f.offset`: a page
        far from either end)."""

    async def count_jobs(self, f: JobFilter, cap: int | None = None) -> int:
        """How many jobs `f` selects (its order, limit and offset aside); with `cap`, a count
        that stops past it (cap + 1 means "more than cap"), so that a count of a large set
        costs no more than `cap` rows."""

    async def index_text(self, batches: int | None = 1) -> bool:
        """Bring the text index of finished jobs up to date (`JobFilter.indexed`), in
        `batches` writes at most (None: as many as it takes); True when it holds every
        finished job (a backend whose index follows each write: always), False when it lags
        (batches left, or a store this process may only read)."""

    async def tasks(self, job_id: int) -> list[Task]:
        """A job's tasks, by seq."""

    async def logs(
        self, job_id: int, after: int = 0, task_seq: int | None = None, limit: int | None = None
    ) -> list[LogLine]:
        """A job's log lines after sequence number `after`, in order (of one task; the
        first `limit`)."""

    async def log_tail(self, job_id: int, n: int, task_seq: int | None = None) -> list[LogLine]:
        """The last `n` log lines of a job (of one task), in order: one read of the index
        from the end, however long the log."""

    # ------------------------------------------------------------- history (the pictures)
    # Each an index range of the recent rows: the same cost beside a million finished jobs.

    async def type_runs(
        self, type: str, limit: int, user: str | None = None, shared: Shared = ()
    ) -> list[Run]:
        """The last `limit` finished jobs of `type` (of `user` only, and with it the jobs
        of others of `shared`'s types and targets), newest first."""

    async def jobs_ended(
        self, now: float, hours: int, user: str | None = None, shared: Shared = ()
    ) -> list[Counted]:
        """How many jobs (of `user` only, and `shared`'s, as for `type_runs`) ended with each status in each of the `hours`
        hours before `now` (bucket 0: the last hour); buckets with none are left out."""

    async def tasks_ended(self, now: float, minutes: int) -> list[Counted]:
        """How many tasks each agent ended in each of the `minutes` minutes before `now`
        (bucket 0: the last minute); buckets with none are left out."""

    async def task_durations(self, job_ids: list[int]) -> list[float]:
        """How long the succeeded tasks of these jobs ran, in seconds (a sample of at most
        2,000: what history-aware timing takes the median of)."""

    async def quiet_since(self) -> dict[int, float]:
        """For each running job, when its quietest running task last showed a sign of life
        (its start, a log line, progress; to the second): stall detection."""

    # ------------------------------------------------------------- failures by cause

    async def failure_groups(self, f: FailureFilter) -> list[FailureGroup]:
        """The failed task attempts `f` counts, grouped by the fingerprint of their cause
        (recorded with each failure, and with each attempt lost with its agent), the group
        seen last first: counts of attempts, tasks and jobs, first and last seen, attempts
        per job type and per span of `f`'s trend. One read of an index, whatever the size
        of the history."""

    async def failure_tasks(
        self, group: str, f: FailureFilter, limit: int | None = None
    ) -> list[FailedTask]:
        """The tasks with attempts `f` counts in group `group`, the latest failed first (the
        first `limit`), each with its latest such attempt's error and whether that attempt
        is the task's latest (`FailedTask.retriable`)."""

    async def attempt_log(self, job_id: int, task_id: int, attempt: int, n: int) -> list[LogLine]:
        """The last `n` log lines of one attempt of a task, in order: where it failed."""

    # ------------------------------------------------------------- read marks (unread logs)

    async def mark_read(self, user: str, job_id: int, seq: int) -> ReadMark | None:
        """`user` has read `job_id`'s log through line `seq` (and every line before it):
        move their mark there, never back, with the job's counts of lines to read up to that
        line, and stamp the job (the change feed carries both). The mark, or None when it
        did not move (the job is gone, or the mark was there already). A mark goes with its
        job (clear, retention)."""

    async def read_marks(self, user: str) -> list[ReadMark]:
        """Every mark of `user`."""

    # ------------------------------------------------------------- the change feed

    async def rev(self) -> int:
        """The store's revision: every write takes the next one and stamps what it changes."""

    async def changes_since(self, rev: int) -> Changes:
        """What changed after revision `rev`: each job changed since, as it is now; the jobs
        removed; whether agents or schedules changed; the read marks written; and the
        revision this answer is at."""

    def changes(self, since: int | None = None, interval: float = 0.25) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes, by any process: **every change after `since`
        (None: from now) is seen once, in revision order**. A batch comes at most about
        every `interval` seconds, and only when something may have changed."""

    def watch_work(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake` when another process may have made tasks claimable (a submission, an
        admission, tasks given back or recovered, a retry): a hint, which may come late or
        never, so an agent polls too. Returns the function that stops it. A backend without
        such hints (SQLite) never calls it."""


# ----------------------------------------------------------------- choosing a backend


async def open_store(location: str, create_folder: bool = False, reading: bool = False) -> Store:
    """Open the store at `location`: a path or `sqlite:///PATH` (a SQLite store, created
    where none exists; `create_folder`: its folder too, the default location's), or
    `postgresql://…` (a PostgreSQL store, its tables created in an empty schema). BadInput
    (one line) for a location no backend serves. `reading`: for a command that only reads,
    a store that cannot be written is opened to be read (its writes raise why not)."""
    scheme, sep, rest = location.partition("://")
    if not sep:
        path = location
    elif scheme == "sqlite":
        path = rest
        if not path.startswith("/"):
            raise BadInput(f"{location}: a SQLite store URL is sqlite:///PATH (an absolute path)")
    elif scheme in ("postgresql", "postgres"):
        try:  # only the backend in use is loaded, and only then its driver
            from jobdash.core.store.postgres import PostgresStore
        except ImportError as e:
            raise BadInput(
                f"PostgreSQL stores need psycopg ({e}): pip install 'jobdash[postgres]'"
            ) from None
        return await PostgresStore.open(location)
    else:
        raise BadInput(
            f"{scheme}://…: not a store location jobdash knows (a path or sqlite:///PATH, "
            "or postgresql://…)"
        )
    from jobdash.core.store.sqlite import SqliteStore  # only the backend in use is loaded

    return await SqliteStore.open(path, create_folder=create_folder, reading=reading)
