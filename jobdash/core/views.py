"""What the store reads out for people to look at, beside the jobs themselves: a job's
artifacts, the store's size, audit events, failures grouped by cause, why a job waits, and
pages of a long log printed as text. Plain data, as in `core.model` (which holds the jobs,
tasks and statuses); the front ends may import both. The agents are `core.agent_info`'s.

The store's parts import these where they make one: a command that reads none of them
(`jobdash jobs`) loads none (each dataclass costs an import ~0.5 ms on Python 3.11).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from jobdash.core.model import JobStatus, TaskStatus


@dataclass
class Artifact:
    """A file a job produced (a report, a PDF), kept with the job: in the store itself up to
    `[jobdash] artifact_inline_max`, else in the store's private artifacts folder, as the
    file `file` (a name jobdash chose) on host `host`. `sha256` is the content's checksum,
    checked again when a kept file is read."""

    job_id: int
    name: str  # unique in its job; data (see `core.artifacts.check_name`)
    media_type: str
    size: int
    sha256: str
    created: float
    task_seq: int | None = None  # the task that produced it (None: the job function)
    file: str | None = None  # None: its bytes are in the store
    host: str | None = None  # the host whose artifacts folder holds `file`

    @property
    def inline(self) -> bool:
        return self.file is None


@dataclass
class StoreSize:
    """What a store takes on disk: the database (its file, or its tables in PostgreSQL,
    artifacts held inline included) and the artifacts kept as files beside it."""

    database: int  # bytes
    artifacts: int  # how many artifacts the store holds
    inline_bytes: int  # of them, the bytes held in the database
    file_bytes: int  # of them, the bytes held as files (`folder`)
    folder: str  # this host's artifacts folder of the store

    @property
    def total(self) -> int:
        return self.database + self.file_bytes


@dataclass
class AuditEvent:
    """A row of the audit trail: who did what to which job or schedule, and when."""

    id: int
    ts: float
    user: str
    action: str
    target: str  # "job:1042", "schedule:nightly"
    detail: str = ""
    actor: str = ""  # the OS user who acted (differs from `user` for root acting as them)
    host: str = ""  # the host of the process that wrote it (the kernel's node name)


@dataclass
class FailureGroup:
    """Failed task attempts of one cause (`core.fingerprint`): the group's id is the cause's
    fingerprint, its message the normalised error. `types` counts attempts per job type;
    `trend` counts them per equal span of time from `trend_start` to `trend_end` (the
    sparkline, oldest first), one axis for every group of one answer."""

    id: str
    message: str
    attempts: int
    tasks: int
    jobs: int
    first: float
    last: float
    types: dict[str, int] = field(default_factory=dict)
    trend: list[int] = field(default_factory=list)
    trend_start: float = 0.0
    trend_end: float = 0.0


@dataclass
class FailedTask:
    """A task with failed attempts in a group: how many, the latest's attempt, time and
    error as it was; the task and its job as they are now. `retriable`: a group retry runs
    it again (it is failed, its last failure is this group's, and its job is finished)."""

    job_id: int
    job_type: str
    job_status: JobStatus
    user: str
    task_id: int
    seq: int
    name: str
    status: TaskStatus
    attempts: int
    last_attempt: int
    last: float
    error: str
    latest: bool  # the task's latest attempt is this group's last one here

    @property
    def retriable(self) -> bool:
        return self.latest and self.status is TaskStatus.FAILED and self.job_status.finished


# ----------------------------------------------------------------- why a job waits
# (`core.waiting` says it; `jobdash why` and the job details show it)


@dataclass(frozen=True)
class Holder:
    """The job that holds a lock key another job waits for."""

    key: str
    job_id: int
    user: str
    status: str
    started: float | None
    progress: float  # 0..100


@dataclass(frozen=True)
class TaskWait:
    """Why some of a job's pending tasks wait, where that differs from the job's reason."""

    kind: str
    text: str
    seqs: list[int]  # the first SHOWN_TASKS of them
    count: int
    until: float | None = None


@dataclass(frozen=True)
class Why:
    """Why a job waits (`waiting` False: it does not; `text` says what it does)."""

    job_id: int
    status: JobStatus
    waiting: bool
    kind: str
    text: str
    until: float | None = None
    holder: Holder | None = None
    paused: tuple[str, float] | None = None
    tasks: list[TaskWait] = field(default_factory=list)


@dataclass
class LogTexts:
    """A page of one job's log lines by column (`Store.log_texts`): no object a line, for a
    log of millions printed as text. `earlier`: the attempt that wrote a line of a task's
    output when it is not the task's latest (`LogLine.earlier`), else None."""

    job_id: int
    seqs: list[int]
    task_ids: list[int | None]
    texts: list[str]
    earlier: list[int | None]

    def __len__(self) -> int:
        return len(self.seqs)


@dataclass
class LogBlock:
    """`LogTexts`' page as one text, joined by line breaks in the store: a string a page."""

    job_id: int
    lines: int
    last: int  # the seq of the last line (the `after` of the next page)
    text: str
    task: int | None = None  # the highest task of the lines (None: no task's)
    mixed: bool = False  # lines of several tasks
    earlier: bool = False  # a line (a note of jobdash's too) of an earlier attempt, or mixed
