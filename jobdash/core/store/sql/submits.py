"""What a new job writes, in both stores: its row, its lock keys, its report and its audit
row, and the refusals of a job that may not be created. Written once so that a column added
to a job, or a refusal, is not added twice; what differs stays with each backend's
`insert_job`: how a duplicate (schedule, fire time) is caught (SQLite's IntegrityError
inside the submission's savepoint, PostgreSQL's UniqueViolation inside its own) and how the
tasks go in (executemany against COPY).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from jobdash.core.lifecycle import refuse_lock
from jobdash.core.model import Refused
from jobdash.core.store.records import NewJob
from jobdash.core.store.sql.counts import ACTIVE_ONLY, COUNTS
from jobdash.core.store.sql.dialect import Connection, Dialect, Statements

JOB = (
    'INSERT INTO jobs (type, params, "user", trigger, schedule_id, fire_time, status, '
    "created, updated, pending, target, parallel, cancellable, on_lock, timeout, retries, "
    "backoff, info, rev, type_hash, finalize) "
    "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
Q = Statements(
    job=JOB,  # SQLite: the row id is the cursor's, free; a RETURNING row costs ~12 µs a job
    job_returning=JOB + " RETURNING id",
    lock="INSERT INTO job_locks (job_id, key) VALUES (?, ?) ON CONFLICT DO NOTHING",
    report="INSERT INTO reports (job_id, state, recipients) VALUES (?, 'pending', ?)",
    holders="SELECT key, job_id FROM locks WHERE job_id {distinct} CAST(? AS BIGINT) AND ",
    # The jobs not admitted yet (queued or waiting) that need one of these keys; the few
    # active jobs lead, each probing its own keys (job_locks' primary key).
    awaiting="SELECT k.key, j.id FROM jobs j JOIN job_locks k ON k.job_id = j.id "
    f"WHERE j.status IN ('queued', 'waiting') AND j.{ACTIVE_ONLY} AND k.",
)


def may_refuse(nj: NewJob) -> bool:
    """Whether the store may refuse this job at submit: a second job of a (schedule, fire
    time), or a lock held with on_lock = "refuse". Another is refused by no rule."""
    return nj.schedule_id is not None or (nj.on_lock == "refuse" and bool(nj.lock_keys))


def refuse_held(d: Dialect, con: Connection, nj: NewJob) -> None:
    """With on_lock = "refuse", Refused for a job whose lock another job holds, or awaits
    ahead of it (admission would give that job the key first: the new one would wait). On a
    shared PostgreSQL store a user sees only the waiting jobs row-level security shows them
    (the engine, which fires schedules, sees all); a job they cannot see makes theirs wait."""
    if nj.on_lock != "refuse" or not nj.lock_keys:
        return
    held = holders(d, con, nj.lock_keys, None)
    if held:
        raise refuse_lock(nj.type, *held[0])
    among, args = d.among("key", nj.lock_keys)
    awaited = con.execute(Q[d].awaiting + among + " ORDER BY j.id LIMIT 1", args).fetchone()
    if awaited is not None:
        raise refuse_lock(nj.type, awaited[0], awaited[1], held=False)


def holders(d: Dialect, con: Connection, keys: Sequence[str], job_id: int | None) -> list[Any]:
    """Who holds these lock keys: (key, job id), other than `job_id`, by key."""
    among, args = d.among("key", keys)
    rows = con.execute(Q[d].holders + among + " ORDER BY key", (job_id, *args)).fetchall()
    return [(r[0], r[1]) for r in rows]


def insert_row(d: Dialect, con: Connection, rev: int, now: float, nj: NewJob) -> int:
    """The job's row, queued; returns its id."""
    values = (
        nj.type,
        json.dumps(nj.params),
        nj.user,
        str(nj.trigger),
        nj.schedule_id,
        nj.fire_time,
        now,
        now,
        len(nj.tasks),
        nj.target,
        nj.parallel,
        int(nj.cancellable),
        nj.on_lock,
        nj.timeout,
        nj.retries,
        nj.backoff,
        nj.info,
        rev,
        nj.type_hash,
        0 if nj.finalize else None,  # 0: a finalize step to add after the last task
    )
    if d.name == "sqlite":
        return int(con.execute(Q[d].job, values).lastrowid)
    return int(con.execute(Q[d].job_returning, values).fetchone()[0])


def fire_time_taken(nj: NewJob) -> Refused:
    """The refusal of a second job for a (schedule, fire time)."""
    return Refused(f"schedule {nj.schedule_id} already started a job for that fire time")


def insert_rest(
    d: Dialect,
    con: Connection,
    now: float,
    job_id: int,
    nj: NewJob,
    audit_user: str | None,
    actor: str,
) -> None:
    """What a job has besides its row and tasks: its lock keys, report and audit row."""
    q = Q[d]
    if nj.lock_keys:
        d.many(con, q.lock, [(job_id, k) for k in nj.lock_keys])
    if any(nj.report.values()):
        con.execute(q.report, (job_id, json.dumps(nj.report)))
    if audit_user:
        COUNTS[d.name].audit_row(con, now, actor, audit_user, "run", f"job:{job_id}", nj.type)
