"""Reads of the SQLite store and its change feed: jobs (by id, by filter), tasks, logs, the
cheap questions an engine asks many times a second (anything to admit, to claim, lost), and
what changed since a revision. Every write stamps the rows it changes with a new revision
(`counter`), so a reader in any process asks "what changed since N" once it sees
`PRAGMA data_version` move.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Collection, Iterable, Sequence
from typing import Any

from jobdash.core.lifecycle import suspect_way
from jobdash.core.model import Job, JobStatus, LogLine, NotFound, Task, TaskStatus, Trigger
from jobdash.core.store.records import Changes, JobFilter
from jobdash.core.store.sqlite.claims import ORDINARY_READY, SUSPECT_READY, types_sql
from jobdash.core.store.sqlite.db import Db, qmarks
from jobdash.core.store.sqlite.filters import job_query
from jobdash.core.store.sqlite.schema import ACTIVE_ONLY

# A running job with nothing running shows why it waits (`waiting`) instead of its info.
JOB_COLUMNS = (
    "id, type, params, user, trigger, schedule_id, fire_time, status, created, updated, "
    "started, finished, pending, running, succeeded, failed, cancelled, skipped, progress, "
    "CASE WHEN waiting != '' AND status = 'running' AND running = 0 THEN waiting ELSE info END, "
    "metrics, warnings, target, parallel, cancellable, rev, idle_time, paused_at"
)
TASK_COLUMNS = (
    "id, job_id, seq, name, item, status, attempt, agent, started, finished, exit_code, "
    "error, progress, not_before"
)

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
    )


def task_from_row(r: Sequence[Any]) -> Task:
    return Task(
        id=r[0],
        job_id=r[1],
        seq=r[2],
        name=r[3],
        item=json.loads(r[4]),
        status=TaskStatus(r[5]),
        attempt=r[6],
        agent=r[7],
        started=r[8],
        finished=r[9],
        exit_code=r[10],
        error=r[11],
        progress=r[12],
        not_before=r[13],
    )


class Reads:
    """Reading jobs, tasks and logs, and the change feed."""

    db: Db

    async def get_job(self, job_id: int) -> Job:
        rows = list(
            await self.db.reader.execute_fetchall(
                f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)
            )
        )
        if not rows:
            raise NotFound(f"no job {job_id}")
        return job_from_row(rows[0])

    async def list_jobs(self, f: JobFilter | None = None) -> list[Job]:
        f = f or JobFilter()
        where, args, order = job_query(f, time.time() if f.now is None else f.now)
        return await self._select_jobs(where, args, order, f.limit)

    async def _select_jobs(
        self, where: str, args: Sequence[Any], order: str, limit: int | None = None
    ) -> list[Job]:
        sql = f"SELECT {JOB_COLUMNS} FROM jobs WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += f" LIMIT {int(limit)}"
        rows = list(await self.db.reader.execute_fetchall(sql, list(args)))
        if len(rows) > 2000:
            # 100,000 rows take a second or more to convert: not on the event loop.
            return await asyncio.to_thread(lambda: [job_from_row(r) for r in rows])
        return [job_from_row(r) for r in rows]

    async def has_jobs_to_admit(self) -> bool:
        return await self.db.exists(
            f"SELECT 1 FROM jobs WHERE status IN ('queued', 'waiting') AND {ACTIVE_ONLY}"
        )

    async def has_lost_tasks(self) -> bool:
        return await self.db.exists(
            "SELECT 1 FROM tasks WHERE status = 'running' AND lease_until < ?", (time.time(),)
        )

    async def has_claimable(self, types: Collection[str] | None = None, idle: bool = True) -> bool:
        """Would `claim` (with these `types` and `idle`) find something? One cheap read."""
        if types is not None and not types:
            return False  # no job types: nothing to claim (see `claims.claim_in`)
        # From the few active jobs to their first ready task: joining from the tasks side
        # walked every pending task whenever the jobs were full (O(pending) per look).
        jobs_of, type_args = types_sql(types)
        now = time.time()
        rows = await self.db.reader.execute_fetchall(
            f"SELECT (SELECT not_before FROM ({SUSPECT_READY % jobs_of})), EXISTS (SELECT 1 "
            f"FROM jobs WHERE status = 'running' AND {ACTIVE_ONLY} AND running < parallel"
            f"{jobs_of} AND EXISTS ({ORDINARY_READY}))",
            (now, *type_args, *type_args, now),
        )
        suspect_ready, ordinary = next(iter(rows))
        way = suspect_way(suspect_ready, idle, now)
        return way == "alone" or (way == "ordinary" and bool(ordinary))

    async def job_statuses(self, job_ids: Sequence[int]) -> dict[int, tuple[JobStatus, bool]]:
        """Status and force flag of some jobs: agents poll this for cancel and pause."""
        if not job_ids:
            return {}
        rows = await self.db.reader.execute_fetchall(
            f"SELECT id, status, force FROM jobs WHERE id IN ({qmarks(job_ids)})", list(job_ids)
        )
        return {r[0]: (JobStatus(r[1]), bool(r[2])) for r in rows}

    async def tasks(self, job_id: int) -> list[Task]:
        rows = await self.db.reader.execute_fetchall(
            f"SELECT {TASK_COLUMNS} FROM tasks WHERE job_id = ? ORDER BY seq", (job_id,)
        )
        return [task_from_row(r) for r in rows]

    async def logs(
        self, job_id: int, after: int = 0, task_seq: int | None = None, limit: int | None = None
    ) -> list[LogLine]:
        """Log lines of a job after sequence `after` (see `log_query`)."""
        sql, args = log_query(job_id, after, task_seq)
        sql += " ORDER BY l.seq" + (f" LIMIT {int(limit)}" if limit is not None else "")
        return log_lines(await self.db.reader.execute_fetchall(sql, args))

    async def log_tail(self, job_id: int, n: int, task_seq: int | None = None) -> list[LogLine]:
        sql, args = log_query(job_id, 0, task_seq)
        sql = f"SELECT * FROM ({sql} ORDER BY l.seq DESC LIMIT {int(n)}) ORDER BY seq"
        return log_lines(await self.db.reader.execute_fetchall(sql, args))

    async def rev(self) -> int:
        rows = await self.db.reader.execute_fetchall("SELECT rev FROM counter")
        return int(next(iter(rows))[0])

    async def data_version(self) -> int:
        """Moves when any other connection, in any process, commits (SQLite's own count)."""
        rows = await self.db.reader.execute_fetchall("PRAGMA data_version")
        return int(next(iter(rows))[0])

    async def changes(
        self, since: int | None = None, interval: float = 0.25
    ) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes: cheap polling of `data_version`, then the rows
        stamped with a newer revision. `since`: a revision read before the caller loaded
        what it shows; what changed after it comes first (otherwise the feed starts now)."""
        rev = since if since is not None else await self.rev()
        version = None if since is not None else await self.data_version()
        while True:
            await asyncio.sleep(interval)
            v = await self.data_version()
            if v == version:
                continue
            version = v
            changes = await self.changes_since(rev)
            rev = changes.rev
            yield changes

    async def changes_since(self, rev: int) -> Changes:
        # Up to the revision read first: a write committed meanwhile comes in the next
        # answer, not in both (each change is seen once).
        new_rev = await self.rev()
        if new_rev == rev:
            return Changes(rev)
        # In revision order, which jobs_rev gives: ordered by id, SQLite may prefer walking
        # every job by id to sorting the few changed ones (a scan of the history per change).
        jobs = await self._select_jobs("rev > ? AND rev <= ?", (rev, new_rev), "rev")
        jobs.sort(key=lambda j: j.id)
        removed = [
            r[0]
            for r in await self.db.reader.execute_fetchall(
                "SELECT job_id FROM removed WHERE rev > ? AND rev <= ?", (rev, new_rev)
            )
        ]
        agents = await self.agents_changed_since(rev)
        schedules = bool(
            list(
                await self.db.reader.execute_fetchall(
                    "SELECT 1 FROM schedules WHERE rev > ? LIMIT 1", (rev,)
                )
            )
        )
        return Changes(new_rev, jobs, removed, agents, schedules)

    async def agents_changed_since(self, rev: int) -> bool:
        """Whether an agent row changed (or agents were pruned) after revision `rev`."""
        rows = await self.db.reader.execute_fetchall(
            "SELECT EXISTS (SELECT 1 FROM agents WHERE rev > ?) "
            "OR EXISTS (SELECT 1 FROM agents_pruned WHERE rev > ?)",
            (rev, rev),
        )
        return bool(next(iter(rows))[0])


def log_query(job_id: int, after: int, task_seq: int | None) -> tuple[str, list[Any]]:
    """The log lines of a job after `after` (of one task), each with its attempt and whether
    that is an earlier one than the task's latest (retried, or its claim taken over)."""
    sql = (
        "SELECT l.seq, l.job_id, l.task_id, l.ts, l.stream, l.text, l.attempt, "
        "coalesce(l.attempt < (SELECT attempt FROM tasks WHERE id = l.task_id), 0) "
        "AS earlier FROM logs l"
    )
    args: list[Any] = []
    if task_seq is not None:
        sql += " JOIN tasks t ON t.id = l.task_id AND t.seq = ?"
        args.append(task_seq)
    sql += " WHERE l.job_id = ? AND l.seq > ?"
    return sql, [*args, job_id, after]


def log_lines(rows: Iterable[Sequence[Any]]) -> list[LogLine]:
    return [LogLine(r[0], r[1], r[2], r[3], r[4], r[5], r[6], bool(r[7])) for r in rows]
