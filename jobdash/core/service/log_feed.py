"""The log lines of one job or of several, read as one stream in the order they were
written: `jobdash logs` (one job, several ids, or the jobs a query selects; with `-f` while
they run) and the dashboard's log of the marked jobs (`L`) read them through a `LogFeed`.

Each job is read by its own sequence numbers (`Service.logs`, after the last line given), so
no line is given twice or skipped, and each task's lines come in the order it wrote them.
The lines of several jobs are merged by `seq`, which is store-wide and increasing: a read
takes up to a page of each job and is cut at the lowest last `seq` of the jobs that had a
full page (more to give), so one job's long backlog does not run ahead of the others' lines;
what was cut is read again next time. The jobs are read one after the other, so a read
of several first takes the store's newest line (`Service.last_log_seq`) and keeps only
the lines up to it: a line written meanwhile, of a job read last, waits for the next read
with the lines written beside it of the jobs read first. So the lines of several jobs come
in exactly the order they were written, while they are written too (a `seq` is taken in
commit order: every line up to the newest is there to read).

Following ends for a job once it has finished and every line of it was given. A finished
job's last lines can come a batch after its end (a failing finalize step writes after the
outcome), so a job counts as ended only at a read that began `SETTLE` seconds after it was
first seen finished; a job removed from the store while followed is `gone`.
"""

from __future__ import annotations

import time
from bisect import bisect_right
from collections.abc import Awaitable, Callable, Iterable
from typing import TYPE_CHECKING, TypeVar

from jobdash.core.model import LogLine, NotFound
from jobdash.core.views import LogBlock, LogTexts

if TYPE_CHECKING:
    from jobdash.core.service.facade import Service

P = TypeVar("P")  # a page of one job's lines, as a read gives it

__all__ = ["LogFeed"]

SETTLE = 0.3  # seconds a finished job is still read for lines written after its end


def _seq(line: LogLine) -> int:
    return line.seq


class LogFeed:
    """The lines of `job_ids` (of task `task` only, if given), merged in written order."""

    def __init__(
        self,
        svc: Service,
        job_ids: Iterable[int],
        task: int | None = None,
        page: int = 5_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.svc = svc
        self.task = task
        self.page = max(1, page)
        self.clock = clock
        self.after: dict[int, int] = dict.fromkeys(job_ids, 0)  # the last line given of each
        self.ended: set[int] = set()  # finished, and every line given
        self.gone: set[int] = set()  # removed from the store (or no longer visible)
        self._finished_at: dict[int, float] = {}  # when each was first seen finished
        self.more = False  # the last read left lines to read (a job had a full page)

    @property
    def job_ids(self) -> list[int]:
        """The jobs followed, in the order given."""
        return list(self.after)

    @property
    def live(self) -> list[int]:
        """The jobs still followed: neither ended nor gone."""
        return [j for j in self.after if j not in self.ended and j not in self.gone]

    @property
    def done(self) -> bool:
        """Every job ended or gone: following is over."""
        return not self.live

    async def tail(self, n: int) -> list[LogLine]:
        """The last `n` lines of each job, merged; the next read goes on after them."""
        lines: list[LogLine] = []
        newest = await self._newest()
        for job_id in self.live:
            try:
                got = await self.svc.log_tail(job_id, n, self.task)
            except NotFound:
                self.gone.add(job_id)
                continue
            got = got[: bisect_right(got, newest, key=_seq)]
            if got:
                self.after[job_id] = got[-1].seq
            lines += got
        lines.sort(key=_seq)
        return lines

    async def read(self) -> list[LogLine]:
        """The next lines of every job still followed (up to a page each), merged by
        `seq`; [] when none has more now."""
        lines, _ = await self._read(self.live)
        return lines

    async def read_texts(self) -> LogTexts | None:
        """`read` of a feed of one job, by column (`Service.log_texts`): its next page, None
        when it has no more now. What `jobdash logs JOB` prints into a pipe: a log of
        millions of lines, read without an object a line."""
        page = await self._one_job(self.svc.log_texts)
        if page is None:
            return None
        self.more = len(page) >= self.page
        if not page:
            return None
        self.after[page.job_id] = page.seqs[-1]
        return page

    async def read_block(self, whole: Callable[[LogBlock], bool]) -> LogBlock | LogTexts | None:
        """`read_texts` as one text (`Service.log_block`) when `whole` says the caller
        prints the block as it is (lines of one task's latest attempt, say); else the same
        page by column. None when the job has no more now."""
        block = await self._one_job(self.svc.log_block)
        if block is None:
            return None
        if not block.lines:
            self.more = False
            return None
        if not whole(block):
            return await self.read_texts()
        self.more = block.lines >= self.page
        self.after[block.job_id] = block.last
        return block

    async def _one_job(self, read: Callable[..., Awaitable[P]]) -> P | None:
        """The next page of the feed's one job by `read` (a `Service` read of its lines);
        None once the job is gone (removed, or not the user's to see)."""
        (job_id,) = self.after
        if job_id in self.gone:
            return None
        try:
            return await read(job_id, after=self.after[job_id], task=self.task, limit=self.page)
        except NotFound:
            self.gone.add(job_id)
            return None

    async def poll(self) -> list[LogLine]:
        """Like `read`, having looked first at which jobs have finished: a job that had
        finished `SETTLE` seconds before this read, and has no line left, is ended."""
        settled: set[int] = set()
        now = self.clock()
        for job_id in self.live:
            try:
                job = await self.svc.job(job_id)
            except NotFound:
                self.gone.add(job_id)
                continue
            if not job.status.finished:
                self._finished_at.pop(job_id, None)  # retried: it runs again
                continue
            seen = self._finished_at.setdefault(job_id, now)
            if now - seen >= SETTLE:
                settled.add(job_id)
        lines, whole = await self._read(self.live)
        self.ended |= settled & whole
        return lines

    async def _newest(self) -> int:
        """The newest line's `seq` to read up to: the store's, when there are several jobs
        to read one after the other (one job's lines are in order as they come)."""
        if len(self.after) > 1:
            return await self.svc.last_log_seq()
        return 2**63 - 1

    async def _read(self, job_ids: list[int]) -> tuple[list[LogLine], set[int]]:
        """The merged lines, and the jobs of which every line there was is now given."""
        pages: dict[int, list[LogLine]] = {}
        newest = await self._newest()
        for job_id in job_ids:
            try:
                pages[job_id] = await self.svc.logs(
                    job_id, after=self.after[job_id], task=self.task, limit=self.page
                )
            except NotFound:
                self.gone.add(job_id)
        full = [got[-1].seq for got in pages.values() if len(got) >= self.page]
        self.more = bool(full)
        horizon = min([*full, newest])
        lines: list[LogLine] = []
        whole: set[int] = set()
        for job_id, got in pages.items():
            kept = got[: bisect_right(got, horizon, key=_seq)]
            if len(kept) == len(got) < self.page:
                whole.add(job_id)
            if kept:
                self.after[job_id] = kept[-1].seq
                lines += kept
        if len(pages) > 1:  # one job's page is in order already
            lines.sort(key=_seq)
        return lines, whole
