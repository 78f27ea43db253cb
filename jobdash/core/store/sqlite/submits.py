"""What a new job is in the SQLite store: its row, its tasks, lock keys, report and audit
row, written inside a transaction (`insert_job`), alone or among many (`insert_each`: the
group commit of concurrent submissions, each in its own savepoint).

Apart from `jobs` (the actions on jobs that exist) because submission is the hot path of
many small jobs: one place says what a job's creation writes, whichever way it comes.
"""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3

from jobdash.core.model import Job, Refused
from jobdash.core.store.records import NewJob
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.reads import JOB_COLUMNS, job_from_row
from jobdash.core.store.sql.submits import (
    fire_time_taken,
    insert_rest,
    insert_row,
    may_refuse,
    refuse_held,
)
from jobdash.core.store.sqlite.db import Db, qmarks


def insert_job(
    con: sqlite3.Connection,
    rev: int,
    now: float,
    nj: NewJob,
    audit_user: str | None,
    actor: str,
) -> int:
    """Insert a queued job with its tasks, lock keys, report and audit row (inside a
    transaction); Refused for a second job of a (schedule, fire time) and, with on_lock =
    "refuse", for a job whose lock another job holds. What is written is `sql.submits`'s
    (shared with PostgreSQL); the tasks go in here, in one executemany."""
    refuse_held(SQLITE, con, nj)
    try:
        job_id = insert_row(SQLITE, con, rev, now, nj)
    except sqlite3.IntegrityError as e:
        if nj.schedule_id is not None:
            raise fire_time_taken(nj) from e
        raise
    con.executemany(
        "INSERT INTO tasks (job_id, seq, key, name, kind, spec, item, status) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
        [
            (job_id, i, t.key, t.name, t.kind, json.dumps(t.spec), json.dumps(t.item))
            for i, t in enumerate(nj.tasks, 1)
        ],
    )
    insert_rest(SQLITE, con, now, job_id, nj, audit_user, actor)
    return job_id


def insert_each(
    con: sqlite3.Connection,
    rev: int,
    now: float,
    batch: list[tuple[NewJob, str | None, asyncio.Future[Job]]],
    actor: str,
) -> list[Job | Refused]:
    """Insert each queued job in its own savepoint: a refused one is rolled back alone
    (a job no rule may refuse needs none: ~20 µs a job saved). The jobs are read back in
    the same transaction (the caller gets its job without a read of its own, a hop to the
    reader's thread each)."""
    out: list[int | Refused] = []
    for nj, audit_user, _f in batch:
        if not may_refuse(nj):
            out.append(insert_job(con, rev, now, nj, audit_user, actor))
            continue
        con.execute("SAVEPOINT job")
        try:
            out.append(insert_job(con, rev, now, nj, audit_user, actor))
        except Refused as e:
            con.execute("ROLLBACK TO job")
            out.append(e)
        con.execute("RELEASE job")
    ids = [r for r in out if isinstance(r, int)]
    made: dict[int, Job] = {}
    for i in range(0, len(ids), READ_BACK):
        part = ids[i : i + READ_BACK]
        rows = con.execute(f"{JOB_ROWS} WHERE id IN ({qmarks(part)})", part).fetchall()
        made |= {r[0]: job_from_row(r) for r in rows}
    return [made[r] if isinstance(r, int) else r for r in out]


READ_BACK = 500  # jobs read back per statement (well under SQLite's bound on parameters)
JOB_ROWS = f"SELECT {JOB_COLUMNS} FROM jobs"


class GroupCommit:
    """Concurrent submissions share a transaction: each is queued, and one writer task writes
    what is queued in one transaction, each job in its own savepoint, so that one refused
    job does not take the others with it."""

    def __init__(self, db: Db) -> None:
        self.db = db
        self._queued: list[tuple[NewJob, str | None, asyncio.Future[Job]]] = []
        self._writing: asyncio.Task[None] | None = None

    async def submit(self, nj: NewJob, audit_user: str | None) -> Job:
        fut: asyncio.Future[Job] = asyncio.get_running_loop().create_future()
        self._queued.append((nj, audit_user, fut))
        if self._writing is None or self._writing.done():
            self._writing = asyncio.get_running_loop().create_task(self._write_queued())
        return await asyncio.shield(fut)  # a caller cancelled meanwhile leaves the batch be

    async def _write_queued(self) -> None:
        actor = self.db.actor
        while self._queued:
            batch, self._queued = self._queued, []
            try:
                results = await self.db.write(
                    functools.partial(insert_each, batch=batch, actor=actor)
                )
            except BaseException as e:
                for _nj, _u, f in batch:
                    if not f.done():
                        f.set_exception(e)
                if not isinstance(e, Exception):
                    raise
                continue
            for (_nj, _u, f), r in zip(batch, results, strict=True):
                if f.done():
                    continue
                if isinstance(r, BaseException):
                    f.set_exception(r)
                else:
                    f.set_result(r)
