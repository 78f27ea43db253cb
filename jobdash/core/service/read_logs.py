"""Unread logs, for one user (`ReadLogs`, a part of the `Service`): how far the user has
read each job's log, and what of each job's log they have not read.

"Read" is a position: the user has read a job's log through a line, and every line
before it, when a front end showed them that line (the dashboard's log pane: the line at
the bottom of what it shows, so following a log reads its lines as they come; `jobdash
logs`: the last line it printed). A mark only moves forward. What is unread is the job's
lines to read (its output that is not blank, counted by level as the store writes them)
past the mark: `Job.unread`, which every job this Service returns carries, from the user's
marks held here (read once, then kept by the change feed): no count per job is asked of
the store when a table is drawn or refreshed.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from typing import TYPE_CHECKING

from jobdash.core.model import Job, Unread
from jobdash.core.service.failures import Failures
from jobdash.core.store.faults import StoreError
from jobdash.core.store.records import Changes

if TYPE_CHECKING:
    from jobdash.core.store.side_records import ReadMark


@functools.lru_cache(maxsize=4096)
def unread_of(lines: int, warnings: int, errors: int) -> Unread | None:
    """`Unread.of`, shared: 100,000 jobs hold a few thousand different values at most."""
    return Unread.of(lines, warnings, errors)


def unread(job: Job, mark: ReadMark | None) -> Unread | None:
    """What of `job`'s lines to read is past `mark` (all of them without one)."""
    return unread_past(job.log_lines, job.log_warnings, job.log_errors, mark)


def unread_past(lines: int, warnings: int, errors: int, mark: ReadMark | None) -> Unread | None:
    """What of a job's lines to read (its `log_lines`, `log_warnings`, `log_errors`) is past
    `mark`: `unread` from the job's columns, for an export that builds no `Job`."""
    if mark is None:
        return unread_of(lines, warnings, errors)
    return unread_of(lines - mark.lines, warnings - mark.warnings, errors - mark.errors)


class ReadLogs(Failures):
    """The user's read marks, and every job returned with what of its log is unread."""

    _marks: dict[int, ReadMark] | None = None

    async def marks(self) -> dict[int, ReadMark]:
        """The user's marks by job id: read from the store once, then kept up to date by
        the change feed (`watch`) and by this Service's own marks."""
        if self._marks is None:
            self._marks = {m.job_id: m for m in await self.store.read_marks(self.user)}
        return self._marks

    async def with_unread(self, jobs: Iterable[Job]) -> None:
        """Set each job's `unread` from the user's marks (in place)."""
        marks = await self.marks()
        get = marks.get
        for job in jobs:
            job.unread = unread(job, get(job.id))

    async def unread_in(self, job: Job) -> Job:
        """`job`, with what of its log is unread (a job an action returns)."""
        await self.with_unread([job])
        return job

    def note_read(self, changes: Changes) -> None:
        """The feed's marks of this user, kept (before its jobs are given their unread)."""
        if self._marks is not None:
            for mark in changes.read:
                if mark.user == self.user:
                    self._marks[mark.job_id] = mark
            for job_id in changes.removed:
                self._marks.pop(job_id, None)

    async def job(self, job_id: int) -> Job:
        return await self.unread_in(await super().job(job_id))

    async def mark_read(self, job_id: int, seq: int) -> ReadMark | None:
        """The user has read `job_id`'s log through line `seq` (see the module's docstring):
        the mark, or None when it did not move. Nothing is written in read-only mode, and a
        store that cannot be written keeps its marks as they were (a mark is not worth an
        error where the log itself could be read)."""
        if self.read_only:
            return None
        await super().job(job_id)  # yours (or an admin's to see), or NotFound
        try:
            mark = await self.store.mark_read(self.user, job_id, seq)
        except StoreError:
            return None
        if mark is not None and self._marks is not None:
            self._marks[job_id] = mark
        return mark
