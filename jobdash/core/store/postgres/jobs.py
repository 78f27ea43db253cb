"""Jobs of the PostgreSQL store: creating them (with their tasks, locks and report). Admitting
queued jobs when their locks are free is the shared `Admission`; the user's actions (cancel,
pause, resume, retry), the tasks a running job adds and removing finished jobs (clear,
prune) are the shared `Requests` (core/store/sql/).

Whether an action is legal and what it does is `core.lifecycle`'s decision; each transaction
reads what the decision needs, asks, and applies the answer. Locks are rows of `locks`
(primary key: one holder per key, whichever process admits).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import psycopg

from jobdash.core.model import Job
from jobdash.core.store.engine_records import NewJob, NewTask
from jobdash.core.store.postgres.counts import Con
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.sql.admission import Admission
from jobdash.core.store.sql.dialect import POSTGRES
from jobdash.core.store.sql.reads import read_job
from jobdash.core.store.sql.requests import Requests
from jobdash.core.store.sql.submits import (
    Creating,
    fire_time_taken,
    insert_rest,
    insert_row,
    refuse_held,
)
from jobdash.core.store.sql.task_values import value_text


class Jobs(Admission, Requests):
    """Creating jobs (here), admitting them (`Admission`), acting on and removing them
    (`Requests`): the Store's methods."""

    db: Db

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> int:
            return insert_job(self.db, Creating(POSTGRES, con, rev, now, actor), nj, audit_user)

        return await read_job(self.db, await self.db.write(txn, work=True))

    async def create_jobs(self, jobs: Sequence[NewJob], audit_user: str | None = None) -> list[int]:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> list[int]:
            c = Creating(POSTGRES, con, rev, now, actor)
            return [insert_job(self.db, c, nj, audit_user) for nj in jobs]

        return await self.db.write(txn, work=True) if jobs else []

    def insert_added(self, con: Any, job_id: int, tasks: Sequence[NewTask]) -> int:
        """The tasks a running job adds, by one COPY (a row-by-row INSERT cost ~100 µs a
        task): each new key takes the next free seq; a key already there (or twice in the
        batch) is left out. Adding tasks is an exclusive write (db.py), so the keys and
        the last seq read here stay true until the commit. The job's row is held (`FOR KEY
        SHARE`, as a foreign key's check held it: task_jobs.py) while its last seq is read,
        so it cannot be deleted under its new tasks; a job that is gone gets none."""
        keys = list(dict.fromkeys(t.key for t in tasks))
        taken = con.execute(
            "SELECT key FROM tasks WHERE job_id = %s AND key = ANY(%s)", (job_id, keys)
        ).fetchall()
        seen = {r[0] for r in taken}
        held = con.execute(LAST_SEQ, (job_id,)).fetchall()
        if not held:
            raise psycopg.errors.ForeignKeyViolation(f"job {job_id} is gone: no task added")
        last = held[0][0]
        rows: list[tuple[Any, ...]] = []
        for t in tasks:
            if t.key not in seen:
                seen.add(t.key)
                rows.append(task_row(job_id, last + len(rows) + 1, t))
        self.db.copy(con.cursor(), TASKS_INTO, rows)
        return len(rows)


# A job's last seq, its row held until the commit (None when the job is gone).
LAST_SEQ = (
    "SELECT (SELECT coalesce(max(seq), 0) FROM tasks WHERE job_id = j.id) FROM jobs j "
    "WHERE j.id = %s FOR KEY SHARE"
)
# A new task's columns, as `task_row` gives them.
TASKS_INTO = "tasks (job_id, seq, key, name, kind, spec, item, status)"


def insert_job(db: Db, c: Creating, nj: NewJob, audit_user: str | None) -> int:
    """Insert a job with its tasks, lock keys, report and audit row (inside a transaction),
    queued or running as `c` says; Refused for a second job of a (schedule, fire time) and,
    with on_lock = "refuse", for a job whose lock another job holds. What is written is
    `sql.submits`'s (shared with SQLite); the tasks go in here, by COPY."""
    con = c.con
    refuse_held(POSTGRES, con, nj)
    try:
        with con.transaction():  # a savepoint: a second job for a fire time
            job_id = insert_row(c, nj)
    except psycopg.errors.UniqueViolation as e:
        if nj.schedule_id is not None:
            raise fire_time_taken(nj) from e
        raise
    if nj.tasks:
        db.copy(
            con.cursor(),
            TASKS_INTO,
            (task_row(job_id, i, t) for i, t in enumerate(nj.tasks, 1)),
        )
    insert_rest(c, [(job_id, nj, audit_user)])
    return job_id


def task_row(job_id: int, seq: int, t: NewTask) -> tuple[Any, ...]:
    """A new pending task's row, as COPY takes it (job_id, seq, key, name, kind, spec, item, status)."""
    return (job_id, seq, t.key, t.name, t.kind, value_text(t.spec), value_text(t.item), "pending")
