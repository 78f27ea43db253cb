"""The job table's rows as plain data: which jobs are shown, in which order, and where.

Kept apart from the widget so the rules (a total sort order, a filter, sorted inserts by
binary search, re-indexing only from the first change) can be tested without Textual,
and so the widget only decides what to repaint.  Nothing here knows about the screen.

`rows` is the shown jobs in display order and `index` maps a job id to its position
there; both are always exact.  Every job the table holds is in `all`, shown or not.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterable
from operator import attrgetter
from typing import Any, NamedTuple

from jobdash.core.model import Job, JobStatus
from jobdash.present.durations import job_seconds

__all__ = ["COLUMN_KEYS", "JobRows", "Patch", "has_unread_errors", "sort_key", "sort_rows"]

JobFilter = Callable[[Job], bool]
JobSelect = Callable[[list[Job]], list[Job]]
Clock = Callable[[], float]

COLUMN_KEYS: tuple[str, ...] = (
    "id",
    "type",
    "target",
    "user",
    "started",
    "updated",
    "status",
    "progress",
    "failed",
    "time",
    "unread",
    "info",
)

# Sort order of statuses: the lifecycle order, so "status" sorts active work together.
_STATUS_ORDER: dict[JobStatus, int] = {status: n for n, status in enumerate(JobStatus)}
_job_id = attrgetter("id")


def _primary_key(column: str, clock: Clock) -> Callable[[Job], Any]:
    """The value a column sorts on (ties are broken by job id, see `sort_rows`)."""
    if column in ("id", "type", "target", "user", "info", "updated", "progress", "failed"):
        return attrgetter(column)  # C-level: sorting 100,000 rows stays in the tens of ms
    if column == "started":
        # Not started yet counts as "latest", so queued jobs sit with the newest.
        return lambda job: math.inf if job.started is None else job.started
    if column == "status":
        return lambda job: _STATUS_ORDER[job.status]
    if column == "unread":  # unread errors first, then warnings, then lines
        return _unread_key
    if column == "time":
        # Read once at sort time: rows don't re-sort as the clock runs.
        now = clock()

        def time_key(job: Job) -> float:
            value = job_seconds(job, now)
            return -1.0 if value is None else value

        return time_key
    raise ValueError(f"unknown column {column!r}; expected one of {', '.join(COLUMN_KEYS)}")


def has_unread_errors(job: Job) -> bool:
    """Whether the user has not read some of the job's error lines (`u` goes to the next)."""
    return job.unread is not None and job.unread.errors > 0


def _unread_key(job: Job) -> tuple[int, int, int]:
    u = job.unread
    return (0, 0, 0) if u is None else (u.errors, u.warnings, u.lines)


def sort_key(column: str, clock: Clock) -> Callable[[Job], Any]:
    """The full sort key of `column`: (value, job id), a total order.

    A total order makes a binary search for a new job's position exact and keeps equal
    rows in a predictable order across re-sorts.
    """
    if column == "id":
        return _job_id
    primary = _primary_key(column, clock)
    return lambda job: (primary(job), job.id)


def sort_rows(rows: list[Job], column: str, reverse: bool, clock: Clock) -> None:
    """Sort `rows` in place in the order of `sort_key(column)`, without building tuples.

    Two stable passes (by id, then by the column) give the same order as the tuple key
    at a fraction of the cost; `reverse=True` keeps ties in their previous order, so
    ties come out by descending id, exactly as the reversed tuple key would have them.
    """
    rows.sort(key=_job_id, reverse=reverse)
    if column != "id":
        rows.sort(key=_primary_key(column, clock), reverse=reverse)


class Patch(NamedTuple):
    """What an `upsert` changed, for the widget to repaint.

    `first`: the first shown position that moved (None: no row moved, every change was
    in place); `in_place`: (position, old job, new job) of rows replaced where they were;
    `shown`: the changed jobs that are shown now (their text may need wider columns).
    """

    first: int | None
    in_place: list[tuple[int, Job, Job]]
    shown: list[Job]


class JobRows:
    """Every job the table holds, and the shown ones sorted and filtered."""

    def __init__(self, sort: str = "id", reverse: bool = True, clock: Clock = time.time) -> None:
        if sort not in COLUMN_KEYS:
            raise ValueError(f"unknown column {sort!r}; expected one of {', '.join(COLUMN_KEYS)}")
        self.clock = clock
        self.sort_column = sort
        self.reverse = reverse
        self.key: Callable[[Job], Any] = sort_key(sort, clock)
        self.filter: JobFilter | None = None
        self.select: JobSelect | None = None  # the filter for many rows at once
        self.all: dict[int, Job] = {}  # every job we know, shown or filtered out
        self.rows: list[Job] = []  # the shown jobs, in display order
        self.index: dict[int, int] = {}  # job id -> position in rows
        self.version: dict[int, int] = {}  # job id -> render version (absent = 0)
        self._last_version = 0  # versions only grow, so a cached strip is never stale
        self._ordered: list[Job] | None = None  # every job in sort order, until data changes

    def set_jobs(self, jobs: Iterable[Job]) -> None:
        """Replace every job.  O(n log n) in a few plain-Python passes."""
        jobs = list(jobs)
        self.all = dict(zip(map(_job_id, jobs), jobs, strict=True))
        self._ordered = None
        self.version = {}
        self.rebuild()

    def rebuild(self, narrow: bool = False) -> None:
        """Recompute the shown rows from all jobs (filter, then sort) and re-index.

        `narrow` filters the shown rows instead of all jobs (see `set_filter`): they are
        every job passing the previous filter, already in display order, so the result
        is the same.
        """
        pred = self.filter
        if narrow:
            source = self.rows
        elif self._ordered is not None:
            source = self._ordered
        else:  # sorted once per data change, not once per keystroke
            source = list(self.all.values())
            sort_rows(source, self.sort_column, self.reverse, self.clock)
            self._ordered = source
        if pred is None:
            rows = list(source)
        elif self.select is not None:
            rows = self.select(source)
        else:
            rows = [job for job in source if pred(job)]
        # A narrower filter that hid nothing leaves the same list: its index still holds
        # (re-indexing 100,000 rows is ~15 ms, while typing "bench-" matches them all).
        if not (narrow and len(rows) == len(source)):
            self.rows = rows if rows is not source else list(rows)
            self.reindex(0)

    def set_filter(
        self, predicate: JobFilter | None, select: JobSelect | None = None, narrows: bool = False
    ) -> None:
        """Show only jobs for which `predicate(job)` is true (None: show all); see
        `JobTable.set_filter` for `select` and `narrows`."""
        self.filter = predicate
        self.select = select if predicate is not None else None
        self.rebuild(narrow=narrows and predicate is not None)

    def sort_by(self, column: str, reverse: bool | None = None) -> None:
        """Sort by `column`; `reverse` None keeps the direction."""
        self.key = sort_key(column, self.clock)
        self.sort_column = column
        self._ordered = None
        if reverse is not None:
            self.reverse = reverse
        sort_rows(self.rows, column, self.reverse, self.clock)
        self.reindex(0)

    def upsert(self, jobs: Iterable[Job]) -> Patch:
        """Add new jobs and patch changed ones.

        A job whose sort key and filter result are unchanged is replaced in place; others
        are removed and re-inserted at their sorted position (binary search), and only the
        rows from the first moved position down are re-indexed.
        """
        key = self.key
        pred = self.filter
        in_place: list[tuple[int, Job, Job]] = []
        shown: list[Job] = []
        to_remove: set[int] = set()  # ids to take out of rows
        to_insert: list[Job] = []
        batch = {job.id: job for job in jobs}  # the same job twice in a batch: last wins
        for job_id, job in batch.items():
            old = self.all.get(job_id)
            if old is not None and old is not job and old == job:
                continue  # nothing visible changed
            self.all[job_id] = job
            self._ordered = None
            self._last_version += 1
            self.version[job_id] = self._last_version
            shown_now = pred is None or pred(job)
            if shown_now:
                shown.append(job)
            position = self.index.get(job_id)
            if position is not None:
                # The same object mutated in place may have changed its sort key unseen.
                if shown_now and old is not None and old is not job and key(old) == key(job):
                    self.rows[position] = job
                    in_place.append((position, old, job))
                    continue
                to_remove.add(job_id)
            if shown_now:
                to_insert.append(job)
        first = self._restructure(to_remove, to_insert) if to_remove or to_insert else None
        return Patch(first, in_place, shown)

    def remove(self, ids: Iterable[int]) -> int | None:
        """Drop jobs by id (unknown ids are ignored); the first shown position that moved."""
        to_remove: set[int] = set()
        for job_id in ids:
            if self.all.pop(job_id, None) is None:
                continue
            self._ordered = None
            self.version.pop(job_id, None)
            if job_id in self.index:
                to_remove.add(job_id)
        return self._restructure(to_remove, []) if to_remove else None

    def next_where(self, start: int, wanted: JobFilter) -> int | None:
        """The first shown position after `start` whose job is `wanted`, wrapping round
        to `start` itself; None when no shown job is."""
        rows = self.rows
        count = len(rows)
        for position in (*range(start + 1, count), *range(min(start + 1, count))):
            if wanted(rows[position]):
                return position
        return None

    def reindex(self, start: int) -> None:
        """Refresh the id -> position map for rows from `start` on."""
        rows = self.rows
        ids = map(_job_id, rows[start:] if start else rows)  # C-level loops: ~5 ms per 100k
        if start == 0:
            self.index = dict(zip(ids, range(len(rows)), strict=True))
        else:
            self.index.update(zip(ids, range(start, len(rows)), strict=True))

    def bisect(self, job: Job) -> int:
        """Where `job` belongs in the sorted shown rows (keys are unique: ends in id)."""
        key = self.key
        target = key(job)
        rows = self.rows
        low, high = 0, len(rows)
        if self.reverse:
            while low < high:
                middle = (low + high) // 2
                if key(rows[middle]) > target:
                    low = middle + 1
                else:
                    high = middle
        else:
            while low < high:
                middle = (low + high) // 2
                if key(rows[middle]) < target:
                    low = middle + 1
                else:
                    high = middle
        return low

    def _restructure(self, to_remove: set[int], to_insert: list[Job]) -> int:
        """Apply removals and sorted inserts, re-index from the first change; returns it."""
        rows = self.rows
        index = self.index
        first = len(rows)
        if to_remove:
            positions = sorted(index.pop(job_id) for job_id in to_remove)
            first = positions[0]
            if len(positions) <= 64:
                for position in reversed(positions):
                    del rows[position]
            else:
                rows[first:] = [job for job in rows[first:] if job.id not in to_remove]
        if to_insert:
            if len(to_insert) <= 256:
                for job in to_insert:
                    position = self.bisect(job)
                    rows.insert(position, job)
                    first = min(first, position)
            else:
                rows.extend(to_insert)
                sort_rows(rows, self.sort_column, self.reverse, self.clock)
                first = 0
        self.reindex(first)
        return first
