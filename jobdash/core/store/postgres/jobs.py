"""Jobs of the PostgreSQL store: creating them (with their tasks, locks and report). Admitting
queued jobs when their locks are free is the shared `Admission`; the user's actions (cancel,
pause, resume, retry), the tasks a running job adds and removing finished jobs (clear,
prune) are the shared `Requests` (core/store/sql/).

Whether an action is legal and what it does is `core.lifecycle`'s decision; each transaction
reads what the decision needs, asks, and applies the answer. Locks are rows of `locks`
(primary key: one holder per key, whichever process admits).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import psycopg

from jobdash.core.lifecycle import refuse_lock
from jobdash.core.model import Job, Refused
from jobdash.core.store.postgres.counts import Con, audit_row
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.records import NewJob
from jobdash.core.store.sql.admission import Admission
from jobdash.core.store.sql.reads import read_job
from jobdash.core.store.sql.requests import Requests


class Jobs(Admission, Requests):
    """Creating jobs (here), admitting them (`Admission`), acting on and removing them
    (`Requests`): the Store's methods."""

    db: Db

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> int:
            return insert_job(self.db, con, rev, now, nj, audit_user, actor)

        return await read_job(self.db, await self.db.write(txn))

    async def create_jobs(self, jobs: Sequence[NewJob], audit_user: str | None = None) -> list[int]:
        actor = self.db.actor

        def txn(con: Con, rev: int, now: float) -> list[int]:
            return [insert_job(self.db, con, rev, now, nj, audit_user, actor) for nj in jobs]

        return await self.db.write(txn) if jobs else []


def _holders(con: Con, keys: Sequence[str], job_id: int | None) -> list[Any]:
    """Who holds these lock keys: (key, job id), other than `job_id`."""
    rows = con.execute(
        "SELECT key, job_id FROM locks WHERE key = ANY(%s) AND job_id IS DISTINCT FROM "
        "%s::bigint ORDER BY key",
        (list(keys), job_id),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]


def insert_job(
    db: Db, con: Con, rev: int, now: float, nj: NewJob, audit_user: str | None, actor: str
) -> int:
    """Insert a queued job with its tasks, lock keys, report and audit row (inside a
    transaction); Refused for a second job of a (schedule, fire time) and, with on_lock =
    "refuse", for a job whose lock another job holds."""
    if nj.on_lock == "refuse" and nj.lock_keys:
        held = _holders(con, nj.lock_keys, None)
        if held:
            raise refuse_lock(nj.type, *held[0])
    try:
        with con.transaction():  # a savepoint: a second job for a fire time
            row = con.execute(
                'INSERT INTO jobs (type, params, "user", trigger, schedule_id, '
                "fire_time, status, created, updated, pending, target, parallel, "
                "cancellable, on_lock, timeout, retries, backoff, info, rev, type_hash) "
                "VALUES (%s, %s, %s, %s, %s, %s, 'queued', %s, %s, %s, %s, %s, %s, %s, "
                "%s, %s, %s, %s, %s, %s) RETURNING id",
                (
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
                ),
            ).fetchone()
    except psycopg.errors.UniqueViolation as e:
        if nj.schedule_id is not None:
            raise Refused(
                f"schedule {nj.schedule_id} already started a job for that fire time"
            ) from e
        raise
    assert row is not None
    job_id = int(row[0])
    cur = con.cursor()
    if nj.tasks:
        db.copy(
            cur,
            "tasks (job_id, seq, key, name, kind, spec, item, status)",
            (
                (
                    job_id,
                    i,
                    t.key,
                    t.name,
                    t.kind,
                    json.dumps(t.spec),
                    json.dumps(t.item),
                    "pending",
                )
                for i, t in enumerate(nj.tasks, 1)
            ),
        )
    cur.executemany(
        "INSERT INTO job_locks (job_id, key) VALUES (%s, %s) ON CONFLICT DO NOTHING",
        [(job_id, k) for k in nj.lock_keys],
    )
    if any(nj.report.values()):
        con.execute(
            "INSERT INTO reports (job_id, state, recipients) VALUES (%s, 'pending', %s)",
            (job_id, json.dumps(nj.report)),
        )
    if audit_user:
        audit_row(con, now, actor, audit_user, "run", f"job:{job_id}", nj.type)
    return job_id
