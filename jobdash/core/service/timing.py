"""History-aware timing, for one user (`Timings`, a part of the `Service`): every active job
it returns carries its type's timing (`Job.timing`: what the type's last runs took, its
`stall_after`) and, running, since when its quietest task has been silent
(`Job.quiet_since`), from which `core.timing` tells its estimate, overrun and stall at any
moment without asking the store again.

Cheap by construction: a type's timing is two index reads (its last finished runs by
`jobs_type_done`, their tasks by `(job_id, seq)`), kept `TIMING_TTL` seconds per type and
dropped when the change feed carries a job of that type that ended; the silences are one
read of the running tasks (their partial index) per batch of jobs that holds a running one.
Finished jobs carry neither: their time is their run time.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

from jobdash.core.model import Job, JobStatus, TypeTiming
from jobdash.core.query import Query
from jobdash.core.service.read_logs import ReadLogs
from jobdash.core.stalls import read_type_timing
from jobdash.core.store.records import Changes
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
        if not active:
            return
        timings = {t: await self.type_timing(t) for t in sorted({j.type for j in active})}
        running = any(j.status is JobStatus.RUNNING for j in active)
        quiet = await self.store.quiet_since() if running else {}
        for job in active:
            job.timing = timings[job.type]
            job.quiet_since = quiet.get(job.id)

    async def with_extras(self, jobs: Sequence[Job]) -> None:
        """What the Service adds to jobs the store returns: unread lines, timing."""
        await self.with_unread(jobs)
        await self.with_timing(jobs)

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
