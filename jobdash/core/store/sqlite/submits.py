"""What a new job is in the SQLite store: its row, its tasks, lock keys, report and audit
row, written inside a transaction (`insert_job`), or many at once (`insert_jobs`: bulk
submissions, and the group commit of concurrent ones, `insert_each`).

Apart from `jobs` (the actions on jobs that exist) because submission is the hot path of
many small jobs: one place says what a job's creation writes, whichever way it comes.
"""

from __future__ import annotations

import functools
import sqlite3
from collections.abc import Iterable, Sequence
from itertools import chain
from typing import TYPE_CHECKING, Any

from jobdash.core.model import Job, Refused
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.reads import JOB_COLUMNS, job_from_row
from jobdash.core.store.sql.submits import (
    Creating,
    fire_time_taken,
    insert_rest,
    insert_row,
    may_refuse,
    refuse_held,
    row_values,
)
from jobdash.core.store.sql.submits import Q as SUBMIT_SQL
from jobdash.core.store.sql.task_values import value_text
from jobdash.core.store.sqlite.db import Db, qmarks

if TYPE_CHECKING:
    import asyncio

    from jobdash.core.store.engine_records import NewJob


def insert_job(c: Creating, nj: NewJob, audit_user: str | None) -> int:
    """Insert a job with its tasks, lock keys, report and audit row (inside a transaction),
    queued or running as `c` says; Refused for a second job of a (schedule, fire time) and,
    with on_lock = "refuse", for a job whose lock another job holds. What is written is
    `sql.submits`'s (shared with PostgreSQL); the tasks go in here, in one executemany."""
    refuse_held(SQLITE, c.con, nj)
    try:
        job_id = insert_row(c, nj)
    except sqlite3.IntegrityError as e:
        if nj.schedule_id is not None:
            raise fire_time_taken(nj) from e
        raise
    c.con.executemany(TASK, task_rows([(job_id, nj)]))
    insert_rest(c, [(job_id, nj, audit_user)])
    return job_id


def insert_jobs(c: Creating, jobs: Sequence[tuple[NewJob, str | None]]) -> list[int]:
    """Insert jobs no rule may refuse (see `may_refuse`), with their audit users, all at
    once: one executemany of their rows, one of their tasks, one of each of the rest. Their
    ids are given, from the last one on, as SQLite would give them (one past the largest):
    a statement a row, to learn each id, cost ~20 µs a job more."""
    first = c.con.execute(SUBMITS.last_id).fetchall()[0][0] + 1
    made = [(i, nj, u) for i, (nj, u) in enumerate(jobs, first)]
    insert_rows(c.con, [(i, *row_values(c, nj)) for i, nj, _u in made])
    c.con.executemany(TASK, task_rows([(i, nj) for i, nj, _u in made]))
    insert_rest(c, made)
    return [i for i, _nj, _u in made]


# The most jobs' rows one INSERT writes (`insert_rows`).
ROWS_PER_INSERT = 128


def insert_rows(con: sqlite3.Connection, rows: Sequence[tuple[Any, ...]]) -> None:
    """Jobs' rows (`job_with_id`'s values, ids ascending), many to a statement: a statement
    of 128, 64, 32 … rows, the largest that fits what is left, so that each size's is
    prepared once (the connection keeps them).

    Why not one statement a row (executemany, each row a run of the statement): what
    SQLite does once a run is then done once a job; until migration 26 that was building
    three temporary b-trees, of the partial indexes' four-status lists (646 k → 564 k
    instructions a bulk job, callgrind); a run a row still costs more than a row of a
    statement (~12 against ~7 µs a row, measured without those lists)."""
    i = 0
    while i < len(rows):
        n = min(ROWS_PER_INSERT, 1 << ((len(rows) - i).bit_length() - 1))
        con.execute(rows_sql(n), list(chain.from_iterable(rows[i : i + n])))
        i += n


@functools.cache
def rows_sql(n: int) -> str:
    """`job_with_id` for `n` rows."""
    head, _, row = SUBMITS.job_with_id.partition(" VALUES ")
    return f"{head} VALUES {', '.join([row] * n)}"


TASK = (
    "INSERT INTO tasks (job_id, seq, key, name, kind, spec, item, status) "
    "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')"
)


def task_rows(made: Iterable[tuple[int, NewJob]]) -> list[tuple[Any, ...]]:
    """The rows of these jobs' tasks (`TASK`), each job's numbered from 1."""
    return [
        (job_id, i, t.key, t.name, t.kind, value_text(t.spec), value_text(t.item))
        for job_id, nj in made
        for i, t in enumerate(nj.tasks, 1)
    ]


def insert_each(
    con: sqlite3.Connection,
    rev: int,
    now: float,
    batch: list[tuple[NewJob, str | None, asyncio.Future[Job]]],
    actor: str,
) -> list[Job | Refused]:
    """Insert the jobs of concurrent submissions: a job that a rule may refuse in its own
    savepoint, rolled back alone; the others, in runs between those, all at once
    (`insert_jobs`). The jobs are read back in the same transaction (the caller gets its
    job without a read of its own, a hop to the reader's thread each)."""
    c = Creating(SQLITE, con, rev, now, actor)
    out: list[int | Refused] = []
    run: list[tuple[NewJob, str | None]] = []
    for nj, audit_user, _f in batch:
        if not may_refuse(nj):
            run.append((nj, audit_user))
            continue
        if run:
            out += insert_jobs(c, run)
            run = []
        con.execute("SAVEPOINT job")
        try:
            out.append(insert_job(c, nj, audit_user))
        except Refused as e:
            con.execute("ROLLBACK TO job")
            out.append(e)
        con.execute("RELEASE job")
    if run:
        out += insert_jobs(c, run)
    ids = [r for r in out if isinstance(r, int)]
    made: dict[int, Job] = {}
    for i in range(0, len(ids), READ_BACK):
        part = ids[i : i + READ_BACK]
        rows = con.execute(f"{JOB_ROWS} WHERE id IN ({qmarks(part)})", part).fetchall()
        made |= {r[0]: job_from_row(r) for r in rows}
    return [made[r] if isinstance(r, int) else r for r in out]


SUBMITS = SUBMIT_SQL[SQLITE]
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
        import asyncio  # loaded: a submission runs on a loop

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
