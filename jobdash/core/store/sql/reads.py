"""Reads and the change feed: jobs (by id, by filter), tasks, logs, the cheap checks an
engine asks many times a second (anything to admit, lost), what changed since a revision,
and the feed's loop. Every write stamps the rows it changes with its revision, so "what
changed since N" is one read of each table. How a reader learns that something may have
changed (SQLite: its file's change counter polled; PostgreSQL: a NOTIFY, with polling
behind it), and whether a claim would find something, are each backend's own (its `Reads` gives
`change_mark`, `change_wait` and `has_claimable`).
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Callable, Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from jobdash.core.model import Job, JobStatus, LogLine, NotFound, Task, TaskStatus, Trigger
from jobdash.core.store.records import (
    EXPORT_CELLS,
    Changes,
    JobFilter,
    RecordColumns,
    record_columns,
)
from jobdash.core.store.sql.agents import agents_changed_since
from jobdash.core.store.sql.counts import ACTIVE_ONLY, CLAIMABLE_SQL
from jobdash.core.store.sql.dialect import Reading, Statements
from jobdash.core.store.sql.filters import count_sql, job_select
from jobdash.core.store.sql.marks import marks_changed

if TYPE_CHECKING:
    from jobdash.core.views import LogBlock, LogTexts

# A running job with nothing running shows why it waits (`waiting`) instead of its info, and
# a paused job who paused it.
INFO = (
    "CASE WHEN waiting != '' AND (status = 'running' AND running = 0 OR status = 'paused') "
    "THEN waiting ELSE info END"
)
JOB_COLUMNS = (
    'id, type, params, "user", trigger, schedule_id, fire_time, status, created, updated, '
    "started, finished, pending, running, succeeded, failed, cancelled, skipped, progress, "
    f"{INFO}, "
    "metrics, warnings, target, parallel, cancellable, rev, idle_time, paused_at, "
    "log_lines, log_warnings, log_errors"
)
# A job's tasks, as `Job.total` adds them up.
TOTAL = "pending + running + succeeded + failed + cancelled + skipped"
# A job's export cells (`records.EXPORT_CELLS`).
CELL_COLUMNS = (
    f'id, started, finished, type, status, {INFO}, "user", target, trigger, {TOTAL}, '
    "succeeded, failed, paused_at, idle_time, params"
)
# A job's record cells (`records.RECORD_CELLS`) as stored: its fields in `Job`'s order.
RECORD_COLUMNS = (
    'id, type, params, "user", trigger, status, created, updated, started, finished, '
    "schedule_id, fire_time, pending, running, succeeded, failed, cancelled, skipped, "
    f"progress, {INFO}, metrics, warnings, target, parallel, cancellable, rev, idle_time, "
    "paused_at, log_lines, log_warnings, log_errors"
)
TASK_COLUMNS = (  # Task's fields, in their order
    "id, job_id, seq, name, item, status, attempt, agent, started, finished, exit_code, "
    "error, progress, not_before, active, lease_until, idle_time"
)
# A log line, the attempt that wrote it, and whether that is an earlier one than its task's
# (a line no task wrote: never). Its task joined, not a subquery per line: SQLite runs the
# subquery anew for each line, a third of the cost of reading a log of a million lines.
LOG_LINES = (
    "SELECT l.seq, l.job_id, l.task_id, l.ts, l.stream, l.text, l.attempt, "
    "CASE WHEN l.attempt < lt.attempt THEN 1 ELSE 0 END "
    "FROM logs l LEFT JOIN tasks lt ON lt.id = l.task_id"
)
# The same lines, as printed (`LogTexts`): each column costs its share of a long log's read.
LOG_TEXTS = (
    "SELECT l.seq, l.task_id, l.text, "
    "CASE WHEN l.attempt < lt.attempt AND l.stream <> 'system' THEN l.attempt END "
    "FROM logs l LEFT JOIN tasks lt ON lt.id = l.task_id"
)
# The same lines as one row (`LogBlock`), their texts joined where they are. No task
# joined to each line, nor its stream looked at (two fifths of the read): of one task's
# lines, the oldest attempt is compared once with the task's.
LOG_BLOCK = "SELECT l.seq, l.task_id, l.text, l.attempt FROM logs l"

# A page of a job's lines as one row (`LogBlock`): what `block` says of it.
PAGE_JOINED = (
    "SELECT joined, n, low, high, oldest < (SELECT attempt FROM tasks WHERE id = high) "
    "FROM (SELECT {joined} joined, count(*) n, min(task_id) low, max(task_id) high, "
    "min(attempt) oldest"
)

Q = Statements(
    job=f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?",
    to_admit=f"SELECT 1 FROM jobs WHERE status IN ('queued', 'waiting') AND {ACTIVE_ONLY}",
    lost="SELECT 1 FROM tasks WHERE status = 'running' AND lease_until < ?",
    statuses="SELECT id, status, force FROM jobs WHERE ",
    tasks=f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = ? ORDER BY seq",
    of_seq=" JOIN tasks t ON t.id = l.task_id AND t.seq = ?",
    after=" WHERE l.job_id = ? AND l.seq > ?",
    # A page of `LOG_TEXTS` as one row (`LogBlock`): the texts joined where they are.
    block=(
        "SELECT joined, n, last, low, high, oldest < (SELECT attempt FROM tasks WHERE id = high) "
        "FROM (SELECT {joined} joined, count(*) n, max(seq) last, min(task_id) low, "
        "max(task_id) high, min(attempt) oldest FROM "
    ),
    # The span of a job's page of lines after a seq, by the index alone (no line read): its
    # first line's seq, its last's when the page is full (`{last}`: the OFFSET of its last
    # line), and the job's last line's (`log_block`'s first step). A seek each, not a
    # count of the page's lines (that was a fifth of the read).
    span="SELECT (SELECT seq FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT 1), "
    "(SELECT seq FROM logs WHERE job_id = ? AND seq > ? ORDER BY seq LIMIT 1 OFFSET {last}), "
    "(SELECT max(seq) FROM logs WHERE job_id = ? AND seq > ?)",
    # The lines of that span joined, flat: no subquery handing each row on (a third of the
    # read). Dense (the job's lines fill at least half the span, as a lone job's do), the
    # table is walked along its key (`{key_walk}`), not looked up line by line from the index.
    dense=f"{PAGE_JOINED} FROM logs{{key_walk}} WHERE job_id = ? AND seq >= ? AND seq <= ?) y",
    sparse=f"{PAGE_JOINED} FROM logs WHERE job_id = ? AND seq >= ? AND seq <= ?) y",
    rev="SELECT rev FROM counter",
    changed="rev > ? AND rev <= ?",
    removed="SELECT job_id FROM removed WHERE rev > ? AND rev <= ? ORDER BY job_id",
    schedules="SELECT 1 FROM schedules WHERE rev > ?",
)

# `claimable_parts`: the first suspect's read and its arguments, the type condition and its.
Parts = tuple[str, list[Any], str, list[Any]]

_STATUS = {str(s): s for s in JobStatus}
_TRIGGER = {str(t): t for t in Trigger}
_loads = json.loads


def job_from_row(r: Sequence[Any]) -> Job:
    """A job row as a Job. Hot: the dashboard converts 100,000 of them at start, so the
    enums come from dicts and the usual empty JSON objects are not parsed."""
    params, metrics = r[2], r[20]
    return Job(
        r[0],  # id
        r[1],  # type
        {} if params == "{}" else _loads(params),
        r[3],  # user
        _TRIGGER[r[4]],
        _STATUS[r[7]],
        r[8],  # created
        r[9],  # updated
        r[10],  # started
        r[11],  # finished
        r[5],  # schedule_id
        r[6],  # fire_time
        r[12],  # pending
        r[13],  # running
        r[14],  # succeeded
        r[15],  # failed
        r[16],  # cancelled
        r[17],  # skipped
        r[18],  # progress
        r[19],  # info
        {} if metrics == "{}" else _loads(metrics),
        r[21],  # warnings
        r[22],  # target
        r[23],  # parallel
        bool(r[24]),  # cancellable
        r[25],  # rev
        r[26],  # idle_time
        r[27],  # paused_at
        r[28],  # log_lines
        r[29],  # log_warnings
        r[30],  # log_errors
    )


def task_from_row(r: Sequence[Any]) -> Task:
    """A task row (TASK_COLUMNS, in the order of Task's fields) as a Task."""
    return Task(r[0], r[1], r[2], r[3], json.loads(r[4]), TaskStatus(r[5]), *r[6:])


async def read_job(db: Reading, job_id: int) -> Job:
    """A job (NotFound when there is none)."""
    rows = await db.fetchall(Q[db.dialect].job, (job_id,))
    if not rows:
        raise NotFound(f"no job {job_id}")
    return job_from_row(rows[0])


class Reads:
    """Reading jobs, tasks and logs, and what changed since a revision."""

    db: Reading

    async def get_job(self, job_id: int) -> Job:
        return await read_job(self.db, job_id)

    async def list_jobs(self, f: JobFilter | None = None) -> list[Job]:
        f = f or JobFilter()
        s = job_select(self.db.dialect, f, time.time() if f.now is None else f.now)
        return await self.select_jobs(
            s.where, s.args, s.order, f.limit, f.offset, s.source, window=f.window
        )

    async def export_cells(self, f: JobFilter) -> list[tuple[Any, ...]]:
        s = job_select(self.db.dialect, f, time.time() if f.now is None else f.now)
        sql = self.select_sql(CELL_COLUMNS, s.where, s.order, f.limit, f.offset, s.source)
        return list(await self.db.fetchall(sql, s.args))

    async def record_cells(self, f: JobFilter) -> list[tuple[Any, ...]]:
        s = job_select(self.db.dialect, f, time.time() if f.now is None else f.now)
        sql = self.select_sql(RECORD_COLUMNS, s.where, s.order, f.limit, f.offset, s.source)
        return list(await self.db.fetchall(sql, s.args))

    async def record_columns(self, f: JobFilter) -> RecordColumns:
        return record_columns(await self.record_cells(f))  # (SQLite reads fewer: its own)

    async def export_columns(self, f: JobFilter) -> RecordColumns:
        return record_columns(await self.export_cells(f), EXPORT_CELLS)  # (SQLite: its own)

    async def count_jobs(self, f: JobFilter, cap: int | None = None) -> int:
        sql, args = count_sql(self.db.dialect, f, time.time() if f.now is None else f.now, cap)
        rows = await self.db.fetchall(sql, args, window=f.window)
        return int(rows[0][0])

    async def index_text(self, batches: int | None = 1) -> bool:
        return True  # a backend with a text index kept apart from the writes says otherwise

    async def select_jobs(
        self,
        where: str,
        args: Sequence[Any],
        order: str,
        limit: int | None = None,
        offset: int = 0,
        source: str = "jobs",
        window: bool = False,
    ) -> list[Job]:
        sql = self.select_sql(JOB_COLUMNS, where, order, limit, offset, source)
        rows = await self.db.fetchall(sql, args, window=window)
        if len(rows) > 2000 and not self.db.loop_free:
            # 100,000 rows take a second or more to convert: not on the event loop (a
            # loop-free read has none to keep free: `core.loopfree`).
            import asyncio

            return await asyncio.to_thread(lambda: [job_from_row(r) for r in rows])
        return [job_from_row(r) for r in rows]

    def select_sql(
        self,
        columns: str,
        where: str,
        order: str,
        limit: int | None = None,
        offset: int = 0,
        source: str = "jobs",
    ) -> str:
        """The read of `columns` of the jobs `where` selects, in `order` (a page of them)."""
        sql = f"SELECT {columns} FROM {source} WHERE {where} ORDER BY {order}"
        if limit is not None or offset:
            every = "-1" if self.db.dialect.name == "sqlite" else "ALL"
            sql += f" LIMIT {every if limit is None else int(limit)}"
        if offset:
            sql += f" OFFSET {int(offset)}"
        return sql

    # The backend's "a ready task of this job" (its claim statements'), one `?`: now.
    ordinary_ready: str

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        """Would `claim` (with these `types` and `idle`) find something? One cheap read:
        when the first suspect task is ready, and whether a running job with a free slot has
        a ready task (from the few active jobs to their first ready task: joining from the
        tasks side walked every pending task whenever the jobs were full)."""
        from jobdash.core.deaths import suspect_way  # the engine's: not loaded by a read

        if types is not None and not types:
            return False  # no job types: nothing to claim (see the claims' `claim_in`)
        now = time.time()
        suspect, suspect_args, jobs_of, type_args = self.claimable_parts(types, now)
        rows = await self.db.fetchall(
            f"SELECT ({suspect}), EXISTS (SELECT 1 FROM jobs WHERE {CLAIMABLE_SQL} "
            f"AND {ACTIVE_ONLY} AND running < parallel{jobs_of} AND EXISTS "
            f"({self.ordinary_ready}))",
            (*suspect_args, *type_args, now),
        )
        suspect_ready, ordinary = rows[0]
        way = suspect_way(suspect_ready, idle, now)
        return way == "alone" or (way == "ordinary" and bool(ordinary))

    def claimable_parts(self, types: Collection[str] | None, now: float) -> Parts:
        """The backend's parts of `has_claimable`: the read of the first suspect task's
        `not_before` and its arguments, the condition on a job's type (" AND …") and its."""
        raise NotImplementedError

    async def has_jobs_to_admit(self) -> bool:
        return await self.db.exists(Q[self.db.dialect].to_admit)

    async def has_lost_tasks(self) -> bool:
        return await self.db.exists(Q[self.db.dialect].lost, (time.time(),))

    async def job_statuses(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, bool]]:
        """Status and force flag of some jobs: agents poll this for cancel and pause."""
        if not job_ids:
            return {}
        d = self.db.dialect
        among, args = d.among("id", job_ids)
        rows = await self.db.fetchall(Q[d].statuses + among, args)
        return {r[0]: (JobStatus(r[1]), bool(r[2])) for r in rows}

    async def tasks(self, job_id: int) -> list[Task]:
        rows = await self.db.fetchall(Q[self.db.dialect].tasks, (job_id,))
        return [task_from_row(r) for r in rows]

    async def logs(
        self, job_id: int, after: int = 0, task_seq: int | None = None, limit: int | None = None
    ) -> list[LogLine]:
        """Log lines of a job after sequence `after` (see `_log_query`)."""
        sql, args = self._log_query(LOG_LINES, job_id, after, task_seq)
        sql += " ORDER BY l.seq" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return log_lines(await self.db.fetchall(sql, args))

    async def last_log_seq(self) -> int:
        rows = await self.db.fetchall("SELECT coalesce(max(seq), 0) FROM logs")
        return int(rows[0][0])

    async def log_texts(
        self, job_id: int, after: int, task_seq: int | None = None, limit: int | None = None
    ) -> LogTexts:
        from jobdash.core.views import LogTexts  # not loaded by a read that makes none

        sql, args = self._log_query(LOG_TEXTS, job_id, after, task_seq)
        sql += " ORDER BY l.seq" + (f" LIMIT {int(limit)}" if limit is not None else "")
        rows = await self.db.fetchall(sql, args)
        # A comprehension a column: faster than zip(*rows) of thousands of rows.
        return LogTexts(
            job_id,
            [r[0] for r in rows],
            [r[1] for r in rows],
            [r[2] for r in rows],
            [r[3] for r in rows],
        )

    async def log_block(
        self, job_id: int, after: int, task_seq: int | None = None, limit: int | None = None
    ) -> LogBlock:
        from jobdash.core.views import LogBlock  # not loaded by a read that makes none

        q = Q[self.db.dialect]
        cut = f" LIMIT {int(limit)}" if limit is not None else ""
        if task_seq is None and (limit is None or limit > 0):
            # Its span by the index, then its lines joined in one read: along the table
            # when they fill at least half of the span (at most twice the page read), else
            # by the index (a job's lines among a busier job's). Either gives the same.
            offset = limit - 1 if limit is not None else 0
            span = q.span.replace("{last}", str(offset))
            first, full, end = (await self.db.fetchall(span, (job_id, after) * 3))[0]
            if first is None:
                return LogBlock(job_id, 0, after, "")
            last = end if limit is None or full is None else full
            sql = q.dense if limit is not None and last - first < 2 * limit else q.sparse
            rows = await self.db.fetchall(sql, (job_id, first, last))
            text, lines, low, high, earlier = rows[0]
        else:
            sql, args = self._log_query(LOG_BLOCK, job_id, after, task_seq)
            sql += f" ORDER BY l.seq{cut}"
            rows = await self.db.fetchall(f"{q.block}({sql}) x) y", args)
            text, lines, last, low, high, earlier = rows[0]
        if not lines:
            return LogBlock(job_id, 0, after, "")
        mixed = low != high
        return LogBlock(job_id, lines, last, text, high, mixed, mixed or bool(earlier))

    async def log_tail(self, job_id: int, n: int, task_seq: int | None = None) -> list[LogLine]:
        sql, args = self._log_query(LOG_LINES, job_id, 0, task_seq)
        sql = f"SELECT * FROM ({sql} ORDER BY l.seq DESC LIMIT {int(n)}) x ORDER BY seq"
        return log_lines(await self.db.fetchall(sql, args))

    def _log_query(
        self, select: str, job_id: int, after: int, task_seq: int | None
    ) -> tuple[str, list[Any]]:
        """The log lines of a job after `after` (of one task), each with its attempt and
        whether that is an earlier one than the task's latest (retried, or its claim taken
        over): `select`'s columns of them."""
        q = Q[self.db.dialect]
        sql = select
        args: list[Any] = []
        if task_seq is not None:
            sql += q.of_seq
            args.append(task_seq)
        return sql + q.after, [*args, job_id, after]

    async def rev(self) -> int:
        rows = await self.db.fetchall(Q[self.db.dialect].rev)
        return int(rows[0][0])

    async def change_mark(self) -> int:
        """A number that moves when something may have changed: here the revision (a
        backend may have a cheaper one, which moves at least as often)."""
        return await self.rev()

    def change_wait(self, interval: float) -> ChangeWait:
        """How the feed waits between looks: here `interval`, always (polling)."""
        return ChangeWait(interval)

    async def changes(
        self, since: int | None = None, interval: float = 0.25
    ) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes: wait (`change_wait`), look whether the mark
        moved (one tiny read), and only then read the rows stamped with a newer revision.
        `since`: a revision read before the caller loaded what it shows; what changed after
        it comes first (otherwise the feed starts now). Each change is read by revision, so
        a look that comes late (a lost wake-up) costs latency, never a change."""
        rev = since if since is not None else await self.rev()
        mark = None if since is not None else await self.change_mark()
        wait = self.change_wait(interval)
        try:
            while True:
                await wait.next()
                now_mark = await self.change_mark()
                if now_mark == mark:
                    continue
                mark = now_mark
                changes = await self.changes_since(rev)
                rev = changes.rev
                yield changes
        finally:
            wait.close()

    def watch_work(self, wake: Callable[[], None]) -> Callable[[], None]:
        """No hints here: agents of other processes find work by polling (a SQLite store is
        on one host; its own process's commits wake an agent through `on_commit`)."""
        return _nothing

    async def changes_since(self, rev: int) -> Changes:
        # Up to the revision read first: a write committed meanwhile comes in the next
        # answer, not in both (each change is seen once).
        new_rev = await self.rev()
        if new_rev == rev:
            return Changes(rev)
        q = Q[self.db.dialect]
        # In revision order, which jobs_rev gives: ordered by id, SQLite may prefer walking
        # every job by id to sorting the few changed ones (a scan of the history per change).
        jobs = await self.select_jobs(q.changed, (rev, new_rev), "rev")
        jobs.sort(key=lambda j: j.id)
        removed = [r[0] for r in await self.db.fetchall(q.removed, (rev, new_rev))]
        agents = await agents_changed_since(self.db, rev)
        schedules = await self.db.exists(q.schedules, (rev,))
        read = await marks_changed(self.db, rev, new_rev)
        return Changes(new_rev, jobs, removed, agents, schedules, read)


class ChangeWait:
    """The feed's pause between looks: `interval`, always (a backend with wake-ups
    replaces it). `close` when the feed ends."""

    def __init__(self, interval: float) -> None:
        self.interval = interval

    async def next(self) -> None:
        import asyncio

        await asyncio.sleep(self.interval)

    def close(self) -> None:
        pass


def _nothing() -> None:
    return None


def log_lines(rows: Iterable[Sequence[Any]]) -> list[LogLine]:
    # Unpacked in the loop's target: twice as fast as indexing, for a log of millions.
    return [LogLine(s, j, t, ts, st, x, a, bool(e)) for s, j, t, ts, st, x, a, e in rows]
