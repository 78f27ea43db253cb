"""Jobs of the SQLite store: creating them (with their tasks, locks and report), adding tasks,
admitting queued jobs when their locks are free, the user's actions (cancel, pause, resume,
retry) and removing finished jobs (clear, prune).

Whether an action is legal and what it does is `core.lifecycle`'s decision (`decide_*`,
`admission`, `added_task_status`); each transaction reads what the decision needs, asks,
and applies the answer.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import Sequence
from typing import Any

from jobdash.core.catalogue import unrunnable
from jobdash.core.lifecycle import (
    added_task_status,
    admission,
    decide_cancel,
    decide_pause,
    decide_resume,
    decide_retry,
    lock_wait,
    refuse_lock,
)
from jobdash.core.model import FINISHED_JOB, JobStatus, Refused, TaskStatus
from jobdash.core.store.records import NewJob, NewTask
from jobdash.core.store.sql.audit import Audit
from jobdash.core.store.sql.catalogue import live_catalogue_in
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sqlite.counts import (
    COUNT_COLUMNS,
    END_IDLE,
    Counts,
    apply_counts,
    audit_row,
    job_row,
    job_status,
    set_status,
    settle_jobs,
    update_progress,
)
from jobdash.core.store.sqlite.db import Db, qmarks
from jobdash.core.store.sqlite.schema import ACTIVE_ONLY
from jobdash.present.words import plural


class Jobs(Audit):
    """Creating, admitting, acting on and removing jobs. Each method returns ids or counts;
    the store reads the job back where the contract returns one."""

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

    async def cancel(self, job_id: int, user: str, force: bool = False) -> None:
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> None:
            status, cancellable, type_ = job_row(con, job_id, "status, cancellable, type")
            plan = decide_cancel(job_id, type_, JobStatus(status), bool(cancellable), force, user)
            con.execute(
                "UPDATE jobs SET status = ?, force = max(force, ?), updated = ?, rev = ?, "
                "info = ? WHERE id = ?",
                (str(plan.status), int(plan.force), now, rev, plan.info, job_id),
            )
            cur = con.execute(
                "UPDATE tasks SET status = 'cancelled', finished = ? "
                "WHERE job_id = ? AND status = 'pending'",
                (now, job_id),
            )
            counts = Counts()
            counts.move(job_id, "pending", "cancelled", cur.rowcount)
            audit_row(con, now, actor, user, plan.action, f"job:{job_id}")
            apply_counts(con, rev, now, counts)

        await self.db.write(txn)

    async def pause(self, job_id: int, user: str) -> None:
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> None:
            new = decide_pause(job_id, job_status(con, job_id))
            set_status(con, rev, now, job_id, new)
            # Its clock stops while it is paused.
            con.execute(
                "UPDATE jobs SET paused_at = coalesce(paused_at, ?) "
                "WHERE id = ? AND started IS NOT NULL",
                (now, job_id),
            )
            audit_row(con, now, actor, user, "pause", f"job:{job_id}")

        await self.db.write(txn)

    async def resume(self, job_id: int, user: str) -> None:
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> None:
            status, admitted = job_row(con, job_id, "status, admitted")
            new = decide_resume(job_id, JobStatus(status), bool(admitted))
            set_status(con, rev, now, job_id, new)
            con.execute(f"UPDATE jobs SET {END_IDLE} WHERE id = ?", (now, job_id))
            audit_row(con, now, actor, user, "resume", f"job:{job_id}")
            settle_jobs(con, rev, now, [job_id])

        await self.db.write(txn)

    async def retry_job(self, job_id: int, user: str) -> int:
        """Re-queue the failed and cancelled tasks of a finished job; returns how many."""
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> int:
            status = job_status(con, job_id)
            retriable = "WHERE job_id = ? AND status IN ('failed', 'cancelled')"
            found = con.execute(f"SELECT count(*) FROM tasks {retriable}", (job_id,)).fetchall()
            plan = decide_retry(job_id, status, found[0][0], user)
            con.execute(
                "UPDATE tasks SET status = 'pending', base_attempt = attempt, not_before = 0, "
                f"error = '', exit_code = NULL, finished = NULL {retriable}",
                (job_id,),
            )
            rows = con.execute(
                "SELECT status, count(*) FROM tasks WHERE job_id = ? GROUP BY status", (job_id,)
            ).fetchall()
            by_status = dict.fromkeys(COUNT_COLUMNS, 0) | {r[0]: r[1] for r in rows}
            con.execute(
                # Its clock stands still from its end until the retry's first task starts.
                "UPDATE jobs SET status = ?, paused_at = CASE WHEN started IS NULL "
                "THEN NULL ELSE finished END, finished = NULL, force = 0, "
                f"{', '.join(c + ' = ?' for c in COUNT_COLUMNS)}, info = ?, updated = ?, "
                "rev = ? WHERE id = ?",
                (
                    str(plan.status),
                    *(by_status[c] for c in COUNT_COLUMNS),
                    plan.info,
                    now,
                    rev,
                    job_id,
                ),
            )
            con.execute(
                "INSERT INTO logs (job_id, task_id, ts, stream, text) VALUES (?, NULL, ?, "
                "'system', ?)",
                (job_id, now, plan.log),
            )
            # The run ends again later: its report goes out again then.
            con.execute(
                "UPDATE reports SET state = 'pending', done = '[]', attempts = 0, next_try = 0, "
                "owner = NULL, claimed_until = NULL, sent = NULL, last_error = '' "
                "WHERE job_id = ?",
                (job_id,),
            )
            update_progress(con, rev, [job_id])
            audit_row(con, now, actor, user, "retry", f"job:{job_id}", plan.detail)
            return plan.tasks

        return await self.db.write(txn)

    # ----------------------------------------------------------------- removing

    async def _delete_finished(self, where: str, args: Sequence[Any], batch: int) -> int:
        """Delete up to `batch` finished jobs matching `where`, with their tasks and logs, in
        one short transaction (so clearing a large history never blocks the live path)."""

        def txn(con: sqlite3.Connection, rev: int, now: float) -> int:
            finished = [str(s) for s in FINISHED_JOB]
            ids = [
                r[0]
                for r in con.execute(
                    f"SELECT id FROM jobs WHERE status IN ({qmarks(finished)}) AND {where} "
                    f"LIMIT {int(batch)}",
                    [*finished, *args],
                ).fetchall()
            ]
            if not ids:
                return 0
            marks = qmarks(ids)
            for table, col in (
                ("logs", "job_id"),
                ("tasks", "job_id"),
                ("job_locks", "job_id"),
                ("reports", "job_id"),
                ("jobs", "id"),
            ):
                con.execute(f"DELETE FROM {table} WHERE {col} IN ({marks})", ids)
            con.executemany(
                "INSERT OR REPLACE INTO removed (job_id, rev) VALUES (?, ?)",
                [(i, rev) for i in ids],
            )
            return len(ids)

        return await self.db.write(txn)

    async def _delete_all_finished(self, where: str, args: Sequence[Any], batch: int = 200) -> int:
        total = 0
        while n := await self._delete_finished(where, args, batch):
            total += n
            await asyncio.sleep(0)  # let claims and completions in between batches
        return total

    async def clear(self, user: str | None, actor: str) -> int:
        """Remove finished jobs (of `user`, or everyone's when None) with their tasks and logs."""
        if user is None:
            n = await self._delete_all_finished("1", ())
        else:
            n = await self._delete_all_finished("user = ?", (user,))
        await self.audit(
            actor, "clear", "jobs:all" if user is None else f"jobs:{user}", plural(n, "job")
        )
        return n

    async def clear_ids(self, job_ids: Sequence[int], user: str | None, actor: str) -> int:
        """Remove the finished jobs among `job_ids` (of `user` only, unless None)."""
        n = 0
        ids = list(job_ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            where = f"id IN ({qmarks(part)})" + ("" if user is None else " AND user = ?")
            n += await self._delete_all_finished(where, [*part, *([] if user is None else [user])])
        target = "jobs:all" if user is None else f"jobs:{user}"
        await self.audit(actor, "clear", target, f"{plural(n, 'job')} (chosen)")
        return n

    async def prune(self, older_than: float) -> int:
        """The retention setting: remove jobs that finished before `older_than`."""
        return await self._delete_all_finished("finished < ?", (older_than,))


def _holders(con: sqlite3.Connection, keys: Sequence[str], job_id: int | None) -> list[Any]:
    """Who holds these lock keys: (key, job id), other than `job_id`."""
    rows = con.execute(
        f"SELECT key, job_id FROM locks WHERE key IN ({qmarks(keys)}) AND job_id IS NOT ?",
        (*keys, job_id),
    ).fetchall()
    return [(r[0], r[1]) for r in rows]
