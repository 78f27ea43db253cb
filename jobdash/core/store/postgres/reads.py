"""Reads of the PostgreSQL store and its change feed: jobs (by id, by filter), tasks, logs,
the cheap questions an engine asks many times a second (anything to admit, to claim, lost),
and what changed since a revision. Every write stamps the rows it changes with its revision,
taken from the counter row in commit order (see db.py), so "what changed since N" misses
nothing; the feed polls the counter (one tiny read) and reads the rows only when it moved.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from typing import Any

from jobdash.core.lifecycle import suspect_way
from jobdash.core.model import Job, JobStatus, LogLine, NotFound, Task
from jobdash.core.store.postgres.agents import agents_changed_since
from jobdash.core.store.postgres.claims import ORDINARY_READY, SUSPECT_READY, types_sql
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.postgres.filters import job_query
from jobdash.core.store.postgres.schema import ACTIVE_ONLY
from jobdash.core.store.records import Changes, JobFilter
from jobdash.core.store.sqlite.reads import job_from_row, task_from_row

JOB_COLUMNS = (
    'id, type, params, "user", trigger, schedule_id, fire_time, status, created, updated, '
    "started, finished, pending, running, succeeded, failed, cancelled, skipped, progress, "
    "CASE WHEN waiting != '' AND status = 'running' AND running = 0 THEN waiting ELSE info END, "
    "metrics, warnings, target, parallel, cancellable, rev, idle_time, paused_at"
)
TASK_COLUMNS = (
    "id, job_id, seq, name, item, status, attempt, agent, started, finished, exit_code, "
    "error, progress, not_before"
)


async def read_job(db: Db, job_id: int) -> Job:
    rows = await db.fetchall(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,))
    if not rows:
        raise NotFound(f"no job {job_id}")
    return job_from_row(rows[0])


async def select_jobs(
    db: Db, where: str, args: Sequence[Any], order: str, limit: int | None = None
) -> list[Job]:
    sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order}"
    if limit is not None:
        sql += f" LIMIT {int(limit)}"
    rows = await db.fetchall(sql, args)
    if len(rows) > 2000:
        # 100,000 rows take a second or more to convert: not on the event loop.
        return await asyncio.to_thread(lambda: [job_from_row(r) for r in rows])
    return [job_from_row(r) for r in rows]


class Reads:
    db: Db

    async def get_job(self, job_id: int) -> Job:
        return await read_job(self.db, job_id)

    async def list_jobs(self, f: JobFilter | None = None) -> list[Job]:
        f = f or JobFilter()
        where, args, order = job_query(f, time.time() if f.now is None else f.now)
        return await select_jobs(self.db, where, args, order, f.limit)

    async def has_jobs_to_admit(self) -> bool:
        return await self.db.exists(
            f"SELECT 1 FROM jobs WHERE status IN ('queued', 'waiting') AND {ACTIVE_ONLY}"
        )

    async def has_lost_tasks(self) -> bool:
        return await self.db.exists(
            "SELECT 1 FROM tasks WHERE status = 'running' AND lease_until < %s", (time.time(),)
        )

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        if types is not None and not types:
            return False  # no job types: nothing to claim
        now = time.time()
        suspect_of, suspect_args = types_sql(types, "j.type_hash")
        jobs_of, type_args = types_sql(types)
        rows = await self.db.fetchall(
            f"SELECT (SELECT s.not_before FROM ({SUSPECT_READY.format(types=suspect_of)}) s), "
            f"EXISTS (SELECT 1 FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} "
            f"AND running < parallel{jobs_of} AND EXISTS ({ORDINARY_READY}))",
            (now, *suspect_args, *type_args, now),
        )
        suspect_ready, ordinary = rows[0]
        way = suspect_way(suspect_ready, idle, now)
        return way == "alone" or (way == "ordinary" and bool(ordinary))

    async def job_statuses(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, bool]]:
        if not job_ids:
            return {}
        rows = await self.db.fetchall(
            "SELECT id, status, force FROM jobs WHERE id = ANY(%s)", (list(job_ids),)
        )
        return {r[0]: (JobStatus(r[1]), bool(r[2])) for r in rows}

    async def tasks(self, job_id: int) -> list[Task]:
        rows = await self.db.fetchall(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = %s ORDER BY seq", (job_id,)
        )
        return [task_from_row(r) for r in rows]

    async def logs(
        self, job_id: int, after: int = 0, task_seq: int | None = None, limit: int | None = None
    ) -> list[LogLine]:
        sql, args = log_query(job_id, after, task_seq)
        sql += " ORDER BY l.seq" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return log_lines(await self.db.fetchall(sql, args))

    async def log_tail(self, job_id: int, n: int, task_seq: int | None = None) -> list[LogLine]:
        sql, args = log_query(job_id, 0, task_seq)
        sql = f"SELECT * FROM ({sql} ORDER BY l.seq DESC LIMIT {int(n)}) x ORDER BY seq"
        return log_lines(await self.db.fetchall(sql, args))

    # ----------------------------------------------------------------- the change feed

    async def rev(self) -> int:
        rows = await self.db.fetchall("SELECT rev FROM counter")
        return int(rows[0][0])

    async def changes(
        self, since: int | None = None, interval: float = 0.25
    ) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes: a poll of the counter every `interval`, then
        the rows stamped with a newer revision. `since`: a revision read before the caller
        loaded what it shows; what changed after it comes first."""
        rev = since if since is not None else await self.rev()
        while True:
            await asyncio.sleep(interval)
            if await self.rev() == rev:
                continue
            changes = await self.changes_since(rev)
            rev = changes.rev
            yield changes

    async def changes_since(self, rev: int) -> Changes:
        # Up to the revision read first: a write committed meanwhile comes in the next
        # answer, not in both (each change is seen once).
        new_rev = await self.rev()
        if new_rev == rev:
            return Changes(rev)
        jobs = await select_jobs(self.db, "rev > %s AND rev <= %s", (rev, new_rev), "id")
        removed = [
            r[0]
            for r in await self.db.fetchall(
                "SELECT job_id FROM removed WHERE rev > %s AND rev <= %s ORDER BY job_id",
                (rev, new_rev),
            )
        ]
        agents = await agents_changed_since(self.db, rev)
        schedules = await self.db.exists("SELECT 1 FROM schedules WHERE rev > %s", (rev,))
        return Changes(new_rev, jobs, removed, agents, schedules)


def log_query(job_id: int, after: int, task_seq: int | None) -> tuple[str, list[Any]]:
    """The log lines of a job after `after` (of one task), each with its attempt and whether
    that is an earlier one than the task's latest (retried, or its claim taken over)."""
    sql = (
        "SELECT l.seq, l.job_id, l.task_id, l.ts, l.stream, l.text, l.attempt, "
        "coalesce(l.attempt < (SELECT attempt FROM tasks WHERE id = l.task_id), false) "
        "AS earlier FROM logs l"
    )
    args: list[Any] = []
    if task_seq is not None:
        sql += " JOIN tasks t ON t.id = l.task_id AND t.seq = %s"
        args.append(task_seq)
    sql += " WHERE l.job_id = %s AND l.seq > %s"
    return sql, [*args, job_id, after]


def log_lines(rows: Iterable[Sequence[Any]]) -> list[LogLine]:
    return [LogLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]
