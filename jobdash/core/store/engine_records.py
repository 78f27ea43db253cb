"""The records the engine and the scheduler trade with the store (`base.Store`): new jobs
and tasks, claims and outcomes, schedules' ticks and advances, stalls and failed fires to
report. No behaviour: a backend and the engine exchange these and nothing of their own.

Why apart from `records` (what a read returns, the job filter, the change feed): a command
that only reads (`jobdash jobs`) loads none of these, and on Python 3.11 each dataclass costs
its module's import ~0.5 ms (its methods are compiled from source when it is made).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from typing import Any, Protocol

from jobdash.core.model import Report, SchedulePolicy, TaskStatus, Trigger


@dataclass(slots=True)  # made per job or task: no __dict__ each
class NewTask:
    """A task to create: `kind` is command, job (a job function) or function (a task a job
    function added; spec = "module:function", a function of the job function's module). The
    engine takes argv and the job function from its own catalogue: their spec is None.
    `key` is unique within its job: adding a task with a key already there adds nothing."""

    key: str
    name: str
    kind: str
    spec: Any
    item: Any = None


@dataclass
class NewArtifact:
    """An artifact to record (`core.artifacts` made it): its bytes in `data` (kept in the
    store), or the name of the file it wrote in the store's artifacts folder on `host`."""

    job_id: int
    task_id: int | None
    name: str
    media_type: str
    size: int
    sha256: str
    data: bytes | None = None
    file: str | None = None
    host: str | None = None


@dataclass(slots=True)  # made per job or task: no __dict__ each
class NewJob:
    """A job to create, with its tasks, lock keys and report recipients."""

    type: str
    params: dict[str, str]
    user: str
    trigger: Trigger
    target: str
    parallel: int
    cancellable: bool
    on_lock: str
    timeout: float | None
    retries: int
    backoff: float
    lock_keys: list[str]
    tasks: list[NewTask]
    schedule_id: str | None = None
    fire_time: float | None = None
    info: str = ""
    # Execution report recipients: {"email": [...], "webhook": [...]} (empty: no report).
    report: dict[str, list[str]] = field(default_factory=dict)
    type_hash: str | None = None  # the hash of the type definition the submitter saw
    finalize: bool = False  # its type has a finalize step (run after the last task)
    # Agents heart-beating since then are live: a job nothing can block is created running
    # when one of them runs its type (`lifecycle.admitted_at_submit`); None: queued, always.
    live_after: float | None = None


@dataclass(slots=True)  # made per job or task: no __dict__ each
class Claim:
    """A task attempt this owner now holds."""

    task_id: int
    job_id: int
    seq: int
    name: str
    kind: str
    spec: Any
    item: Any
    attempt: int
    timeout: float | None = None
    params: dict[str, str] = field(default_factory=dict)
    type: str = ""
    type_hash: str | None = None
    alone: bool = False  # a suspect (lost with an agent before): nothing runs beside it


@dataclass
class Claimant:
    """Who claims, for how many slots, and what it can run."""

    owner: str
    agent: str
    free: int
    lease: float
    types: Collection[str] | None = None  # hashes of the types it runs; None: any (tools)
    idle: bool = True  # nothing running: it may take a suspect task, alone


@dataclass(slots=True)  # made per job or task: no __dict__ each
class Outcome:
    """How an attempt ended, as the agent reports it."""

    task_id: int
    attempt: int
    owner: str
    status: TaskStatus  # succeeded, failed or cancelled
    exit_code: int | None = None
    error: str = ""
    future: asyncio.Future[bool] | None = None  # the store's answer, once it is written
    # … or, sent by `complete_nowait`, called with it (or with the failure of its write)
    then: Callable[[bool | BaseException], None] | None = None


class Refill(Protocol):
    """An agent that lets the write which records its outcomes claim for its free slots."""

    def want(self) -> Claimant | None:
        """Who claims for how many slots, or None to claim nothing now. Asked inside the
        transaction; `started` is called right after the commit, before anything else runs,
        so slots counted free here are not counted twice."""

    def started(self, claims: list[Claim]) -> None:
        """Run these claims (called once they are committed)."""


@dataclass
class ScheduleSpec:
    """A schedule as the config declares it (id = the type name)."""

    id: str
    type: str
    planning: str
    timezone: str
    policy: SchedulePolicy = field(default_factory=SchedulePolicy)
    report: Report = field(default_factory=Report)  # besides the type's, for scheduled runs
    # Its jobs' target (the type's target parameter's default): what a role's `targets`
    # match, kept in the store for PostgreSQL's policies, which do not know the type.
    target: str = ""


@dataclass
class TickRecord:
    """What became of one fire time of a schedule: ran, skipped, missed, paused or error."""

    fire_time: float
    outcome: str
    job_id: int | None = None
    detail: str = ""
    # An error to report: its recipients ({"email": [...], "webhook": [...]}).
    report: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Delivery:
    """What one send of a report came to: the recipients served so far, the error ("" when
    none) and when to try again (None: no more tries)."""

    done: list[str]
    error: str = ""
    retry_at: float | None = None


@dataclass
class PolicyChange:
    """An admin's change to a schedule's overlap and catch-up policy; None leaves a field as
    it is."""

    overlap: str | None = None
    catchup: str | None = None
    catchup_bound: float | None = None


@dataclass
class Advance:
    """Where recording ticks moves a schedule: its watermark (the last fire time dealt with),
    its next run, and the last job it started, with when."""

    watermark: float | None
    next_run: float | None
    last_job: int | None = None
    last_run: float | None = None


@dataclass
class TaskAttempt:
    """One attempt of a task: which task, of which job and type."""

    task_id: int
    attempt: int
    job_id: int
    type: str
    seq: int
    name: str


@dataclass
class SilentTask(TaskAttempt):
    """A running task attempt of a job with report recipients, silent since `quiet`, not
    reported as stalled yet (the stall check's read)."""

    quiet: float
    recipients: dict[str, list[str]]


@dataclass
class StallReport(TaskAttempt):
    """A stalled task attempt to report: how long it had been silent and against which
    `stall_after` (the type's, or from its history), its last line, and to whom."""

    silent: float
    stall_after: float
    configured: bool
    last_line: str | None
    detected: float
    recipients: dict[str, list[str]]
    done: list[str] = field(default_factory=list)  # "email:addr" / "webhook:url" served
    attempts: int = 0


@dataclass
class FireReport:
    """A failed fire to report: which schedule, when, why, and to whom."""

    tick_id: int
    schedule_id: str
    type: str
    fire_time: float
    error: str
    timezone: str
    recipients: dict[str, list[str]]
    done: list[str]  # "email:addr" / "webhook:url" already served
    attempts: int
