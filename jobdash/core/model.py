"""The domain of jobdash: jobs, tasks, schedules, agents, log lines, and their statuses.

Everything here is plain data. The rules of how a job and its tasks move between statuses
(legal transitions, requests and their refusals, how a job ends) are in `core.lifecycle`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field, fields
from enum import StrEnum
from operator import attrgetter
from typing import Any, NamedTuple

# The words of a finished job or task (a word means the same for both).
FINISHED_WORDS = frozenset({"succeeded", "warning", "failed", "cancelled", "skipped"})


class Status(StrEnum):
    """A job's or a task's status: its word, which says whether it is finished."""

    @property
    def finished(self) -> bool:
        return self in FINISHED_WORDS


class JobStatus(Status):
    QUEUED = "queued"
    WAITING = "waiting"
    RUNNING = "running"
    PAUSED = "paused"
    FINALIZING = "finalizing"
    CANCELLING = "cancelling"
    SUCCEEDED = "succeeded"
    WARNING = "warning"
    FAILED = "failed"
    CANCELLED = "cancelled"


ACTIVE_JOB = frozenset(s for s in JobStatus if not s.finished)
FINISHED_JOB = frozenset(s for s in JobStatus if s.finished)


class TaskStatus(Status):
    PENDING = "pending"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"


FINISHED_TASK = frozenset(s for s in TaskStatus if s.finished)


class Refused(Exception):
    """A request that the rules do not allow; the message is one line for the user.

    `why` is the reason in a few words that read after a count ("finished", "already
    paused"): an action on many jobs counts the ones it skipped by it."""

    def __init__(self, message: str = "", why: str = "") -> None:
        super().__init__(message)
        self.why = why or "refused"


class NotFound(Refused):
    """The job, schedule or type named does not exist (or is not visible to this user)."""

    def __init__(self, message: str = "", why: str = "not found") -> None:
        super().__init__(message, why)


class BadInput(Exception):
    """Bad usage or bad input (exit status 2); the message names what and where."""


class Trigger(StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    RETRY = "retry"
    API = "api"


@dataclass(frozen=True)
class Param:
    """A parameter a job type declares. With `minimum` or `maximum` (Python job types), its
    value must be a whole number within them: checked when a job is submitted."""

    name: str
    required: bool = False
    default: str | None = None
    help: str = ""
    minimum: int | None = None
    maximum: int | None = None


@dataclass(frozen=True)
class Items:
    """How a command job type breaks down into tasks: one task per item.

    Exactly one of `values` (a literal list), `glob` (a pattern with placeholders)
    or `command` (an argv whose stdout lines are the items) is set.
    """

    values: tuple[str, ...] | None = None
    glob: str | None = None
    command: tuple[str, ...] | None = None


OVERLAP = ("skip", "queue")  # a fire time while the last run is still active
CATCHUP = ("skip", "once", "all")  # fire times missed while no engine ran


@dataclass(frozen=True)
class SchedulePolicy:
    """What a schedule does when a fire time finds its last run still active (`overlap`),
    and with fire times missed while no engine ran (`catchup`, `all` going back at most
    `catchup_bound` seconds; None: a day)."""

    overlap: str = "skip"
    catchup: str = "once"
    catchup_bound: float | None = None


@dataclass(frozen=True)
class Report:
    """Where an execution report goes when a run ends; `stalls` (a type's only): also when
    one of its running tasks stalls (`core.stalls`), once per task attempt."""

    email: tuple[str, ...] = ()
    webhook: tuple[str, ...] = ()
    stalls: bool = False


def report_recipients(*reports: Report | None) -> dict[str, list[str]]:
    """Merge report recipients (type, schedule) into what a job keeps, without repeats."""
    email: list[str] = []
    webhook: list[str] = []
    for r in reports:
        if r is None or not (r.email or r.webhook):
            continue  # most jobs': no recipients at all
        email += [a for a in r.email if a not in email]
        webhook += [u for u in r.webhook if u not in webhook]
    return {"email": email, "webhook": webhook} if email or webhook else {}


@dataclass(frozen=True)
class JobType:
    """A named kind of work, from the config file (command) or Python (function)."""

    name: str
    description: str = ""
    params: tuple[Param, ...] = ()
    items: Items | None = None
    command: tuple[str, ...] | None = None
    function: str | None = None  # "module:attribute" of an async function
    parallel: int = 1
    timeout: float | None = None  # seconds per task attempt
    # Seconds a running task may go without a log line or progress before it is flagged
    # `stalled` (None: derived from the type's history, `core.timing`).
    stall_after: float | None = None
    retries: int = 0
    backoff: float = 1.0  # seconds before the first retry; doubles each attempt
    locks: tuple[str, ...] = ()
    on_lock: str = "wait"  # "wait" or "refuse" when a lock is held
    exclusive: bool = False
    cancellable: bool = True
    schedule: str | None = None  # e.g. "cron: 0 3 * * *", stored for the scheduler
    schedule_policy: SchedulePolicy = field(default_factory=SchedulePolicy)
    schedule_report: Report = field(default_factory=Report)  # more recipients, scheduled runs
    schedule_timezone: str | None = None  # its schedule's zone (None: [jobdash] timezone's)
    target: str | None = None  # the key parameter shown as the job's target
    report: Report = field(default_factory=Report)
    source: str = ""  # where it was defined: "path/to/jobdash.toml" or "demo"
    line: int | None = None  # the line of the config file where it is declared
    # The finalize step, run once after the job's last task (the job shows `finalizing`
    # meanwhile): an argv for a command type (the placeholders of `command`, without
    # {item}); for a Python type, "module:attr" of an async function `fn(ctx)`. None: the
    # type has none, and its jobs end in the transaction of their last task.
    finalize: tuple[str, ...] | str | None = None
    # Command types: the files a succeeded task leaves that are kept with the job (globs,
    # with the placeholders of its command).
    artifacts: tuple[str, ...] = ()

    @property
    def defined_at(self) -> str:
        """Where to read or change the type: "path/jobdash.toml:12", with the Python
        function that does its work: "… (function mypkg.jobs:rebuild)"."""
        return self.where()

    def where(self, short: bool = False) -> str:
        """`defined_at`; `short`: the config file by its name alone (a header's room)."""
        source = self.source.rsplit("/", 1)[-1] if short else self.source
        where = f"{source}:{self.line}" if source and self.line else source
        if self.function:
            where = f"{where} (function {self.function})" if where else self.function
        return where

    @property
    def target_param(self) -> str | None:
        """The parameter shown as the job's target: declared, else the first required."""
        if self.target:
            return self.target
        for p in self.params:
            if p.required:
                return p.name
        return self.params[0].name if self.params else None

    def target_in(self, params: dict[str, str]) -> str:
        """The target of a job of this type with these parameters (what a role's `targets`
        match): its target parameter's value, or default when not given ("" for none)."""
        param = self.target_param
        if param is None:
            return ""
        default = next((p.default for p in self.params if p.name == param), None)
        return params.get(param, default or "")


class _SearchText:
    """A job's slot for the text a filter searches it in (`core.query`, cached there on the
    job): not a field, so never compared, shown or exported."""

    __slots__ = ("_haystack",)
    _haystack: str


# Slots: an instance of a class with more than 29 attributes gets a dict of its own in
# CPython 3.11 (the attribute names are no longer shared by the class's instances): ~1.6 KB
# a job instead of ~0.3, and twice the time to make one. The dashboard holds and converts
# 100,000 of them (34 fields since the unread counts and the timing came).
@dataclass(slots=True)
class Job(_SearchText):
    """A job as the store holds it, with its task counts, timing and unread counts."""

    id: int
    type: str
    params: dict[str, str]
    user: str
    trigger: Trigger
    status: JobStatus
    created: float
    updated: float
    started: float | None = None
    finished: float | None = None
    schedule_id: str | None = None
    fire_time: float | None = None
    pending: int = 0
    running: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0
    skipped: int = 0
    progress: float = 0.0  # 0..100
    info: str = ""
    metrics: dict[str, float] = field(default_factory=dict)
    warnings: int = 0
    target: str = ""
    parallel: int = 1
    cancellable: bool = True
    rev: int = 0
    # Seconds since `started` that do not count as run time (paused, or between a finish and
    # a retry's first task), and the start of such a span going on now (None when none is).
    idle_time: float = 0.0
    paused_at: float | None = None
    # The job's log lines that count as something to read (`counts_as_read`), by level:
    # kept by the store's log writer as it writes them, so that unread lines are a
    # subtraction (`Unread`), never a count of the log.
    log_lines: int = 0
    log_warnings: int = 0
    log_errors: int = 0
    # What of those the user looking has not read yet: set by the Service from the user's
    # read marks (the store does not know who is looking); None when nothing is unread.
    unread: Unread | None = None
    # History-aware timing, set by the Service on an active job (`core.timing`): what its
    # type's last runs took, and since when its quietest running task has been silent.
    timing: TypeTiming | None = None
    quiet_since: float | None = None
    # And the earliest end of its running tasks' leases (past: no live agent holds one).
    lease_until: float | None = None

    @property
    def total(self) -> int:
        return (
            self.pending
            + self.running
            + self.succeeded
            + self.failed
            + self.cancelled
            + self.skipped
        )

    @property
    def done(self) -> int:
        """Tasks that will not run again: ended (`worked`) or cancelled."""
        return self.succeeded + self.failed + self.cancelled + self.skipped

    @property
    def worked(self) -> int:
        """Tasks that ran to an end (or were skipped): the work done, cancelled ones not."""
        return self.succeeded + self.failed + self.skipped

    def eta(self, now: float | None = None) -> float | None:
        """Seconds left, from the pace so far; None when it can't be told."""
        elapsed = self.duration(now)
        if self.status is not JobStatus.RUNNING or elapsed is None:
            return None
        if self.progress <= 0 or self.progress >= 100:
            return None
        return elapsed * (100 - self.progress) / self.progress

    def duration(self, now: float | None = None) -> float | None:
        """Seconds the job has run: from its first task started to its end, without the
        time it was paused; a retried job's runs added up, the time between them not
        counted. None before its first task started."""
        return run_time(self.started, self.finished, self.paused_at, self.idle_time, now)


def run_time(
    started: float | None,
    finished: float | None,
    paused_at: float | None,
    idle_time: float,
    now: float | None = None,
) -> float | None:
    """`Job.duration` from the job's columns alone: an export of millions reads them without
    building a `Job` for each."""
    if not started:
        return None
    end = finished or now or time.time()
    if paused_at is not None:
        end = min(end, paused_at)
    return max(0.0, end - started - idle_time)


@dataclass(frozen=True)
class TypeTiming:
    """What a job type's last finished runs took (`core.timing.type_timing`), shared by its
    active jobs: medians (robust to an outlier run) and 90th percentiles, in seconds, None
    without history; `stall_after`: the type's, or derived from its history (None: stalls are
    not told)."""

    type: str
    runs: int  # the runs that took their usual course (succeeded, warning) counted
    job_median: float | None = None
    job_p90: float | None = None
    task_median: float | None = None
    task_p90: float | None = None
    stall_after: float | None = None
    stall_configured: bool = False


class Run(NamedTuple):
    """A finished job as the history pictures see it: how it ended and how long it ran
    (`Job.duration`: None when no task of it ever started)."""

    job_id: int
    status: JobStatus
    finished: float
    duration: float | None


# How many ended in one time bucket with one key: (buckets back from now, 0 the newest;
# the key: a job's status, or the agent that ran a task; count). A bucket is an hour of
# jobs or a minute of tasks.
Counted = tuple[int, str, int]


@dataclass
class Task:
    """A task of a job: one item of its work, and its latest attempt."""

    id: int
    job_id: int
    seq: int  # position within the job, 1-based
    name: str
    item: Any
    status: TaskStatus
    attempt: int = 0
    agent: str | None = None
    started: float | None = None
    finished: float | None = None
    exit_code: int | None = None
    error: str = ""
    progress: float = 0.0  # 0..1 reported by the task itself
    not_before: float = 0.0
    # Its last sign of life (a line of its own, progress; to the second), None before the
    # first: stall detection (`core.timing`).
    active: float | None = None
    # Until when its agent holds the attempt (renewed by its heartbeat; past: the agent is
    # gone), and the seconds of the attempt its job was paused (`core.timing`).
    lease_until: float | None = None
    idle_time: float = 0.0

    def quiet_since(self) -> float | None:
        """Since when a running task has shown no sign of life (None: it is not running)."""
        if self.status is not TaskStatus.RUNNING or self.started is None:
            return None
        return max(self.active or self.started, self.started)

    @property
    def quarantined(self) -> bool:
        """Failed for killing its agent (see `lifecycle.judge`)."""
        return self.status is TaskStatus.FAILED and self.error.startswith("quarantined")


@dataclass
class LogLine:
    """A line of a job's log, from one of its tasks or from the engine (system)."""

    seq: int  # store-wide, increasing: tail by "seq greater than the last one seen"
    job_id: int
    task_id: int | None
    ts: float
    stream: str  # stdout, stderr, system
    text: str
    attempt: int | None = None  # the task attempt that wrote it (None: a job-level line)
    earlier: bool = False  # written by an attempt before the task's latest one


JOB_FIELDS = tuple(f.name for f in fields(Job))
JOB_NESTED = ("unread", "timing")  # the fields that hold a dataclass (or None)
_job_values = attrgetter(*JOB_FIELDS)  # a job's fields' values, in one call


def job_record(j: Job) -> dict[str, Any]:
    """`dataclasses.asdict(j)`, at a third of its cost: asdict copies every dict and list
    of the job (its parameters, its metrics) on the way, and they are only read here."""
    record = dict(zip(JOB_FIELDS, _job_values(j), strict=True))
    for name in JOB_NESTED:
        if record[name] is not None:
            record[name] = asdict(record[name])
    return record


class LineLevel(StrEnum):
    """How a log line reads: jobdash's own note, the job's output, a warning, an error."""

    SYSTEM = "system"
    OUTPUT = "output"
    WARNING = "warning"
    ERROR = "error"


WARNING_PREFIX = "warning:"  # what `ctx.warn` writes, and how most tools start a warning


def line_level(stream: str, text: str) -> LineLevel:
    """The one classifier of log lines, which the log pane draws, the command line colours
    and the store counts by (unread warnings and errors): a line on stderr is an error,
    unless it starts with "warning:" (any case), which `ctx.warn` writes; stdout is output;
    the "system" stream is jobdash's own notes (an attempt started, a retry)."""
    if stream == "stderr":
        if text[:8].lower() == WARNING_PREFIX:
            return LineLevel.WARNING
        return LineLevel.ERROR
    return LineLevel.SYSTEM if stream == "system" else LineLevel.OUTPUT


def counts_as_read(stream: str, text: str) -> bool:
    """Whether a line is something to read (counted in `Job.log_lines`): the job's own
    output that is not blank; jobdash's notes are not (the same lines that become a job's
    info line)."""
    return stream != "system" and bool(text.strip())


@dataclass(frozen=True)
class Unread:
    """A job's log lines a user has not read: how many, and of them warnings and errors
    (`line_level`)."""

    lines: int
    warnings: int = 0
    errors: int = 0

    @classmethod
    def of(cls, lines: int, warnings: int, errors: int) -> Unread | None:
        """The unread lines, or None when there are none (counts never go below 0: a job
        written before lines were counted has none to read)."""
        if lines <= 0:
            return None
        return cls(lines, max(0, warnings), max(0, errors))


def format_duration(seconds: float | None) -> str:
    """Short human duration: '45s', '3m12s', '2h05m', '3d4h'."""
    if seconds is None:
        return ""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    m, s = divmod(s, 60)
    if m < 60:
        return f"{m}m{s:02d}s"
    h, m = divmod(m, 60)
    if h < 24:
        return f"{h}h{m:02d}m"
    d, h = divmod(h, 24)
    return f"{d}d{h}h"
