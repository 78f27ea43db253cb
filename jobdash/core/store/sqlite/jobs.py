"""Jobs of the SQLite store: creating them (with their tasks, locks and report), adding tasks,
admitting queued jobs when their locks are free, the user's actions (cancel, pause, resume,
retry) and removing finished jobs (clear, prune).

Whether an action is legal and what it does is `core.lifecycle`'s decision (`decide_*`,
`admission`, `added_task_status`); each transaction reads what the decision needs, asks,
and applies the answer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from jobdash.core.catalogue import unrunnable
from jobdash.core.lifecycle import (
    added_task_status,
    admission,
    lock_wait,
    refuse_lock,
)
from jobdash.core.model import JobStatus, Refused, TaskStatus
from jobdash.core.store.records import NewJob, NewTask
from jobdash.core.store.sql.audit import Audit
from jobdash.core.store.sql.catalogue import live_catalogue_in
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.requests import Requests
from jobdash.core.store.sqlite.counts import (
    audit_row,
    job_status,
    settle_jobs,
    update_progress,
)
from jobdash.core.store.sqlite.db import Db, qmarks
from jobdash.core.store.sqlite.schema import ACTIVE_ONLY


class Jobs(Audit, Requests):
    """Creating and admitting jobs (here), acting on and removing them (`Requests`, shared
    with the PostgreSQL store). Each method returns ids or counts; the store reads the job
    back where the contract returns one."""

    db: Db

    async def add_job(self, nj: NewJob, audit_user: str | None = None) -> int:
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> int:
            if nj.on_lock == "refuse" and nj.lock_keys:
                held = _holders(con, nj.lock_keys, None)
                if held:
                    raise refuse_lock(nj.type, *held[0])
            try:
                cur = con.execute(
                    "INSERT INTO jobs (type, params, user, trigger, schedule_id, fire_time, "
                    "status, created, updated, pending, target, parallel, cancellable, on_lock, "
                    "timeout, retries, backoff, info, rev, type_hash) "
                    "VALUES (?, ?, ?, ?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
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
                )
            except sqlite3.IntegrityError as e:
                if nj.schedule_id is not None:
                    raise Refused(
                        f"schedule {nj.schedule_id} already started a job for that fire time"
                    ) from e
                raise
            job_id = cur.lastrowid
            assert job_id is not None
            con.executemany(
                "INSERT INTO tasks (job_id, seq, key, name, kind, spec, item, status) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, 'pending')",
                [
                    (job_id, i, t.key, t.name, t.kind, json.dumps(t.spec), json.dumps(t.item))
                    for i, t in enumerate(nj.tasks, 1)
                ],
            )
            con.executemany(
                "INSERT OR IGNORE INTO job_locks (job_id, key) VALUES (?, ?)",
                [(job_id, k) for k in nj.lock_keys],
            )
            if any(nj.report.values()):
                con.execute(
                    "INSERT INTO reports (job_id, state, recipients) VALUES (?, 'pending', ?)",
                    (job_id, json.dumps(nj.report)),
                )
            if audit_user:
                audit_row(con, now, actor, audit_user, "run", f"job:{job_id}", nj.type)
            return job_id

        return await self.db.write(txn)

    async def add_tasks(self, job_id: int, tasks: Sequence[NewTask]) -> int:
        """Add tasks to a running job (a Python job function adding work); keys dedupe."""

        def txn(con: sqlite3.Connection, rev: int, now: float) -> int:
            # One executemany. Each row takes the next free seq; a duplicate key is ignored
            # and takes none.
            cur = con.executemany(
                "INSERT OR IGNORE INTO tasks (job_id, seq, key, name, kind, spec, item, status)"
                " VALUES (?, (SELECT coalesce(max(seq), 0) + 1 FROM tasks WHERE job_id = ?),"
                " ?, ?, ?, ?, ?, 'pending')",
                [
                    (job_id, job_id, t.key, t.name, t.kind, json.dumps(t.spec), json.dumps(t.item))
                    for t in tasks
                ],
            )
            added = max(cur.rowcount, 0)
            status = job_status(con, job_id)
            if added and added_task_status(status) is TaskStatus.CANCELLED:
                con.execute(
                    "UPDATE tasks SET status = 'cancelled', finished = ? "
                    "WHERE job_id = ? AND status = 'pending'",
                    (now, job_id),
                )
                con.execute(
                    "UPDATE jobs SET cancelled = cancelled + ?, rev = ?, updated = ? WHERE id = ?",
                    (added, rev, now, job_id),
                )
            else:
                con.execute(
                    "UPDATE jobs SET pending = pending + ?, rev = ?, updated = ? WHERE id = ?",
                    (added, rev, now, job_id),
                )
            update_progress(con, rev, {job_id})
            return added

        return await self.db.write(txn)

    async def admit(self, live_after: float | None = None) -> list[int]:
        """Move queued and waiting jobs to running when their locks are free (FIFO by id).

        A job whose lock is held waits, with the holder named in its info line. With
        `live_after` (agents heart-beating since then are live), so does a job whose type
        and hash no live agent runs, with the reason, and it takes no lock meanwhile (an
        engine always passes it; None is for tools and tests without agents).
        """

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[int]:
            rows = con.execute(
                "SELECT id, status, info, type, type_hash FROM jobs "
                f"WHERE status IN ('queued', 'waiting') AND {ACTIVE_ONLY} "
                "ORDER BY id"
            ).fetchall()
            live = None if live_after is None else live_catalogue_in(SQLITE, con, live_after)
            changed = []
            for job_id, status, info, type_name, digest in rows:
                reason = unrunnable(type_name, digest, live) if live is not None else None
                keys = []
                if reason is None:
                    keys = [
                        r[0]
                        for r in con.execute(
                            "SELECT key FROM job_locks WHERE job_id = ?", (job_id,)
                        ).fetchall()
                    ]
                    held = _holders(con, keys, job_id) if keys else []
                    if held:
                        reason = lock_wait(*held[0])
                move = admission(status, info, reason)
                if move is None:
                    continue
                new, info_now = move
                admitted = new is JobStatus.RUNNING
                if admitted:  # it takes its locks
                    con.executemany(
                        "INSERT INTO locks (key, job_id) VALUES (?, ?)",
                        [(k, job_id) for k in keys],
                    )
                con.execute(
                    "UPDATE jobs SET status = ?, admitted = ?, info = ?, updated = ?, rev = ? "
                    "WHERE id = ?",
                    (str(new), int(admitted), info_now, now, rev, job_id),
                )
                changed.append(job_id)
            # A job with no tasks at all (empty glob) is finished as soon as it is admitted.
            settle_jobs(con, rev, now, changed)
            return changed

        return await self.db.write(txn)


def _holders(con: sqlite3.Connection, keys: Sequence[str], job_id: int | None) -> list[Any]:
    """Who holds these lock keys: (key, job id), other than `job_id`."""
    rows = con.execute(
        f"SELECT key, job_id FROM locks WHERE key IN ({qmarks(keys)}) AND job_id IS NOT ?",
        (*keys, job_id),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]
