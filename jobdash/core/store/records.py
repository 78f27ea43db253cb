"""The plain data the Store contract (`base.Store`) trades in where it is read: the
structured job filter, the change feed's batches, a page of records a column at a time, the
audit's actions (read marks, who the database says the user is, published job types, the
audit's and the failures' filters are `side_records`'). No behaviour: a backend and its readers exchange these and nothing of
their own. What the engine and the scheduler write and claim (new jobs, claims, outcomes,
ticks, reports) is `engine_records`', which a command that only reads does not load."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import TYPE_CHECKING, Any, overload

from jobdash.core.model import JOB_FIELDS, Job
from jobdash.core.permissions import Shared
from jobdash.core.query import Query

if TYPE_CHECKING:
    from jobdash.core.store.side_records import ReadMark


@dataclass
class Changes:
    """What changed since a revision: whole job rows, removed job ids, whether agents or
    schedules changed (those are few: a watcher reloads them), and the read marks that
    moved (their jobs are among `jobs`: a mark stamps its job)."""

    rev: int
    jobs: list[Job] = field(default_factory=list)
    removed: list[int] = field(default_factory=list)
    agents: bool = False
    schedules: bool = False
    read: list[ReadMark] = field(default_factory=list)


@dataclass(frozen=True)
class JobFilter:
    """Which jobs `Store.list_jobs` returns, and in which order. A backend compiles it into
    its own query language; its answer must equal `query.matches` row for row (text is
    compared with ASCII-only case folding, `query.fold`)."""

    query: Query = field(default_factory=Query)  # the filter language's terms
    user: str | None = None  # only this user's jobs (exactly); None: everyone's
    # With `user`: also others' jobs of these (type globs, target globs): what a role lets
    # the user see.
    shared: Shared = ()
    active: bool | None = None  # True: active jobs only; False: finished only
    schedule_id: str | None = None  # only the jobs this schedule started
    oldest_first: bool = False  # ascending; the newest (the highest) first otherwise
    limit: int | None = None
    offset: int = 0  # rows of that order skipped first
    # The column the jobs are ordered by, as the dashboard's job table names them (ties by
    # id): filters.SORT_SQL.
    order: str = "id"
    # Finished jobs' free words may be looked up in the store's text index, which holds the
    # jobs finished up to its last batch (`Store.index_text`): the dashboard's Completed tab
    # brings it up to date first; an exact answer for the newest jobs needs False.
    indexed: bool = False
    now: float | None = None  # the time `since:` counts back from; None: the call's
    # Keyset paging: only the jobs past this id in the order above (older ones newest
    # first, newer ones oldest first); with `limit`, one page of a long listing.
    after_id: int | None = None
    # A read of the dashboard's Completed window: cut short in the store when its caller is
    # cancelled (the next filter key need not wait for it; SQLite: a connection of its own).
    window: bool = False


# A job as an export reads it (`ReadingStore.export_cells`): the cells its CSV writes, in
# this order, without a `Job` built for each of millions. `params`: the JSON text as stored;
# `total`: `Job.total`; the started and finished times, `paused_at` and `idle_time` are
# what `model.run_time` takes.
EXPORT_CELLS = (
    "id",
    "started",
    "finished",
    "type",
    "status",
    "info",
    "user",
    "target",
    "trigger",
    "total",
    "succeeded",
    "failed",
    "paused_at",
    "idle_time",
    "params",
)


def job_cells(j: Job) -> tuple[Any, ...]:
    """A job's export cells (`EXPORT_CELLS`), as a store's `export_cells` reads them."""
    return (
        j.id,
        j.started,
        j.finished,
        j.type,
        str(j.status),
        j.info,
        j.user,
        j.target,
        str(j.trigger),
        j.total,
        j.succeeded,
        j.failed,
        j.paused_at,
        j.idle_time,
        json.dumps(j.params),
    )


# A job as a JSON export reads it (`ReadingStore.record_cells`, then the Service): its
# fields in `Job`'s order, which is its record's (`model.job_record`), without a `Job` built
# for each of millions. `params` and `metrics`: their JSON text as stored; `status` and
# `trigger`: their text; `cancellable`: true or not as stored (0 or 1). The last four are
# the Service's (`RECORD_EXTRAS`: unread lines, timing, silence, lease), not the store's.
RECORD_CELLS = JOB_FIELDS
RECORD_EXTRAS = ("unread", "timing", "quiet_since", "lease_until")
_job_fields = attrgetter(*JOB_FIELDS)


def job_record_cells(j: Job) -> tuple[Any, ...]:
    """A job's record cells (`RECORD_CELLS`), as a store's `record_cells` reads them and
    the Service adds its extras to (the extras as the job holds them)."""
    cells = dict(zip(RECORD_CELLS, _job_fields(j), strict=True))
    cells["params"] = json.dumps(j.params)
    cells["metrics"] = json.dumps(j.metrics)
    return tuple(cells.values())


STORED_CELLS = RECORD_CELLS[: -len(RECORD_EXTRAS)]  # a store's part of a record's cells


@dataclass(frozen=True)
class Same:
    """The value every job of a page holds in a column (`RecordColumns`)."""

    value: Any


@dataclass
class RecordColumns(Sequence[tuple[Any, ...]]):
    """A page of jobs' record cells a column at a time (`ReadingStore.record_columns`):
    `columns[name]` (the names of `RECORD_CELLS`, the Service's extras once it added them)
    holds each job's value in the filter's order, or one `Same` that all hold: a value of
    millions read and written once. `updated` may be `finished` itself (the same list): a
    finished job's last update. A row (`page[i]`) is a job's record cells."""

    n: int
    columns: dict[str, Sequence[Any] | Same]

    def __len__(self) -> int:
        return self.n

    @overload
    def __getitem__(self, i: int) -> tuple[Any, ...]: ...

    @overload
    def __getitem__(self, i: slice) -> list[tuple[Any, ...]]: ...

    def __getitem__(self, i: int | slice) -> tuple[Any, ...] | list[tuple[Any, ...]]:
        if isinstance(i, slice):
            return [self[j] for j in range(*i.indices(self.n))]
        if not -self.n <= i < self.n:
            raise IndexError(i)
        i %= self.n
        return tuple(c.value if isinstance(c, Same) else c[i] for c in self.columns.values())

    def column(self, name: str) -> Sequence[Any]:
        """A column's values, one for each job (`every`)."""
        return every(self.columns[name], self.n)


def every(column: Sequence[Any] | Same, n: int) -> Sequence[Any]:
    """A column's values, one for each of `n` jobs (a `Same`'s value `n` times)."""
    return [column.value] * n if isinstance(column, Same) else column


def record_columns(
    rows: Sequence[Sequence[Any]], names: Sequence[str] = STORED_CELLS
) -> RecordColumns:
    """Record cells (stored: `STORED_CELLS`; with the extras: `RECORD_CELLS`) a column at
    a time."""
    if not rows:  # each column empty: no job holds a value to stand for all
        return RecordColumns(0, {name: () for name in names})
    return RecordColumns(len(rows), dict(zip(names, zip(*rows, strict=True), strict=True)))


# (job id, recipients, recipients already served, attempts so far)
ReportClaim = tuple[int, dict[str, list[str]], list[str], int]


# Every action an audit row may name: the store writes no other (`audit_row` refuses one
# not listed, a bug), and the audit filter refuses an `action:` value not among them (a
# typo would match nothing) with a "did you mean".
AUDIT_ACTIONS = (
    "run",
    "cancel",
    "force-cancel",
    "pause",
    "resume",
    "retry",
    "clear",
    "edit",
    "enable",
    "disable",
    "drain",
    "undrain",
)
