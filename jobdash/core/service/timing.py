"""History-aware timing, for one user (`Timings`, a part of the `Service`): every active job
it returns carries its type's timing (`Job.timing`: what the type's last runs took, its
`stall_after`) and, running, since when its quietest task has been silent
(`Job.quiet_since`) and until when its running tasks' agents hold them (`Job.lease_until`),
from which `core.timing` tells its estimate, overrun, stall and a lost agent at any moment
without asking the store again.

Cheap by construction: a type's timing is two index reads (its last finished runs by
`jobs_type_done`, their tasks by `(job_id, seq)`), kept `TIMING_TTL` seconds per type and
dropped when the change feed carries a job of that type that ended; the silences are one
read of the running tasks (their partial index) per batch of jobs that holds a running one.
Finished jobs carry neither: their time is their run time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from itertools import starmap
from operator import itemgetter
from typing import Any

from jobdash.core.model import FINISHED_JOB, Job, JobStatus, TypeTiming
from jobdash.core.query import Query
from jobdash.core.service.read_logs import ReadLogs, unread_of, unread_past
from jobdash.core.stalls import read_type_timing
from jobdash.core.store.records import RECORD_CELLS, Changes, RecordColumns, Same
from jobdash.core.timing import TIMING_TTL


class Timings(ReadLogs):
    """Each type's timing, kept a while; jobs returned with theirs."""

    _timings: dict[str, tuple[float, TypeTiming]] | None = None

    async def type_timing(self, type: str) -> TypeTiming:
        """`type`'s timing from the runs this user may see (read again after TIMING_TTL)."""
        if self._timings is None:
            self._timings = {}
        now = time.monotonic()
        kept = self._timings.get(type)
        if kept is not None and now - kept[0] < TIMING_TTL:
            return kept[1]
        jt = self.types.get(type)
        timing = await read_type_timing(
            self.store,
            type,
            jt.stall_after if jt is not None else None,
            *self.rights.seen,
        )
        self._timings[type] = (now, timing)
        return timing

    async def with_timing(self, jobs: Iterable[Job]) -> None:
        """Give each active job of `jobs` its type's timing and its silence (in place)."""
        active = [j for j in jobs if not j.status.finished]
        timings = await self.timings_of([(j.id, j.type, j.status) for j in active])
        for job in active:
            job.timing, job.quiet_since, job.lease_until = timings[job.id]

    async def timings_of(
        self, active: Sequence[tuple[int, str, str]]
    ) -> dict[int, tuple[TypeTiming, float | None, float | None]]:
        """Active jobs' (id, type, status) timing, silence and lease, by id: what
        `with_timing` gives a job, told from its columns for an export that builds no
        `Job`."""
        if not active:
            return {}
        timings = {t: await self.type_timing(t) for t in sorted({a[1] for a in active})}
        running = any(a[2] == JobStatus.RUNNING for a in active)
        signs = await self.store.running_signs() if running else {}
        return {id_: (timings[type_], *signs.get(id_, _NO_SIGNS)) for id_, type_, _status in active}

    async def running_signs(self) -> dict[int, tuple[float, float | None]]:
        """Per running job, since when its quietest task is silent and the earliest end of
        its running tasks' leases (`Job.quiet_since`, `Job.lease_until`): what a screen
        holding jobs reads again now and then, as leases move without changing a job."""
        return await self.store.running_signs()

    async def with_extras(self, jobs: Sequence[Job]) -> None:
        """What the Service adds to jobs the store returns: unread lines, timing."""
        await self.with_unread(jobs)
        await self.with_timing(jobs)

    async def with_record_extras(self, rows: Sequence[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
        """A store's `record_cells` (`RECORD_CELLS` but `RECORD_EXTRAS`), each with the
        extras `with_extras` gives its job (unread lines, timing, silence): the cells of
        the job this Service would return, without a `Job` for each of millions."""
        active = [(r[_ID], r[_TYPE], r[_STATUS]) for r in rows if r[_STATUS] not in FINISHED_JOB]
        timings = await self.timings_of(active)
        marks = await self.marks()
        # A column at a time, in calls of C where it can (millions of rows): no marks, no
        # active job is the export of a history.
        if marks:
            lines = _LOG_LINES
            unread = [
                unread_past(r[lines], r[lines + 1], r[lines + 2], marks.get(r[_ID])) for r in rows
            ]
        else:
            unread = [*starmap(unread_of, map(_counts, rows))]
        if timings:
            return [
                (*r, u, *timings.get(r[_ID], _NO_TIMING)) for r, u in zip(rows, unread, strict=True)
            ]
        return [(*r, u, *_NO_TIMING) for r, u in zip(rows, unread, strict=True)]

    async def with_column_extras(self, page: RecordColumns) -> RecordColumns:
        """`with_record_extras` a column at a time (`Store.record_columns`): the extras a
        column each, one value for all the jobs where it can (a history's: no line
        unread, no job active)."""
        c, n = page.columns, page.n
        status = c["status"]
        if isinstance(status, Same):
            active = [] if status.value in FINISHED_JOB else [*range(n)]
        elif FINISHED_JOB.issuperset(status):
            active = []
        else:
            active = [i for i, s in enumerate(status) if s not in FINISHED_JOB]
        ids, types, statuses = (page.column(name) for name in ("id", "type", "status"))
        timings = await self.timings_of([(ids[i], types[i], statuses[i]) for i in active])
        marks = await self.marks()
        counts = [c[name] for name in _LINES]
        if not marks and all(isinstance(v, Same) for v in counts):
            c["unread"] = Same(unread_of(*(v.value for v in counts)))  # type: ignore[union-attr]
        elif not marks:
            c["unread"] = [*map(unread_of, *(page.column(name) for name in _LINES))]
        else:
            lines, warnings, errors = (page.column(name) for name in _LINES)
            c["unread"] = [
                unread_past(lines[i], warnings[i], errors[i], marks.get(ids[i])) for i in range(n)
            ]
        if timings:
            both = [timings.get(id_, _NO_TIMING) for id_ in ids]
            for i, name in enumerate(("timing", "quiet_since", "lease_until")):
                c[name] = [t[i] for t in both]
        else:
            c["timing"] = c["quiet_since"] = c["lease_until"] = Same(None)
        return page

    async def unread_in(self, job: Job) -> Job:
        """`job` with what of its log is unread and its timing (a job read or acted on)."""
        await self.with_extras([job])
        return job

    def forget_timing(self, changes: Changes) -> None:
        """Types of which the feed carries an ended job: their history grew, read it again."""
        if self._timings:
            for job in changes.jobs:
                if job.status.finished:
                    self._timings.pop(job.type, None)

    async def flagged(self, query: Query, jobs: list[Job]) -> list[Job]:
        """`jobs` the store selected for `query`, held to it once they carry their timing:
        a flag (`status:stalled`, `status:overrun`) is told at this moment, not in SQL,
        where the store selected every running job for it."""
        if not query.flags:
            return jobs
        return query.select(jobs, time.time())


_ID, _TYPE, _STATUS, _LOG_LINES = (
    RECORD_CELLS.index(name) for name in ("id", "type", "status", "log_lines")
)
_LINES = ("log_lines", "log_warnings", "log_errors")
assert RECORD_CELLS[_LOG_LINES : _LOG_LINES + 3] == _LINES
_NO_TIMING = (None, None, None)  # a finished job's timing, silence and lease
_NO_SIGNS = (None, None)  # an active job without a running task: no silence, no lease
_counts = itemgetter(_LOG_LINES, _LOG_LINES + 1, _LOG_LINES + 2)  # a row's lines to read
