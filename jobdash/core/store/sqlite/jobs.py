"""Jobs of the SQLite store: creating them (one by one, concurrent calls in one transaction,
or in bulk; what a new job's rows are is `submits`'s), adding tasks,
admitting queued jobs when their locks are free, the user's actions (cancel, pause, resume,
retry) and removing finished jobs (clear, prune).

Whether an action is legal and what it does is `core.lifecycle`'s decision (`decide_*`,
`admission`, `added_task_status`); each transaction reads what the decision needs, asks,
and applies the answer.
"""

from __future__ import annotations

import asyncio
import functools
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
)
from jobdash.core.model import FINISHED_JOB, JobStatus, TaskStatus
from jobdash.core.store.records import NewJob, NewTask
from jobdash.core.store.sqlite.audit import Audit
from jobdash.core.store.sqlite.catalogue import live_catalogue_in
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
from jobdash.core.store.sqlite.submits import GroupCommit, insert_job
from jobdash.present.words import plural


class Jobs(Audit):
    """Creating, admitting, acting on and removing jobs. Each method returns ids or counts;
    the store reads the job back where the contract returns one."""

    db: Db
    group: GroupCommit

    async def add_job(self, nj: NewJob, audit_user: str | None = None) -> int:
        """Create one job; concurrent calls share a transaction (see `GroupCommit`)."""
        return await self.group.submit(nj, audit_user)

    async def create_jobs(self, jobs: Sequence[NewJob], audit_user: str | None = None) -> list[int]:
        """Create many jobs in one transaction, all or none (the first refusal is raised)."""
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[int]:
            return [insert_job(con, rev, now, nj, audit_user, actor) for nj in jobs]

        return await self.db.write(txn) if jobs else []

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

        changed: list[int] = []
        after = 0  # the last job id looked at: each batch goes on from there, FIFO
        while True:
            done, after = await self.db.write(
                functools.partial(_admit_batch, after=after, live_after=live_after), inline=True
            )
            changed += done
            if not after:
                return changed

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


ADMIT_BATCH = 250  # jobs looked at per admission transaction (run on the loop: kept short)


def _admit_batch(
    con: sqlite3.Connection, rev: int, now: float, after: int, live_after: float | None
) -> tuple[list[int], int]:
    """Admit the next ADMIT_BATCH queued or waiting jobs after id `after`, oldest first:
    their lock keys and those keys' holders read in two statements, their moves written in
    one. Returns the jobs that changed and the last id looked at (0: none are left)."""
    pick = (
        "SELECT id, status, info, type, type_hash FROM jobs WHERE status = ? "
        f"AND {ACTIVE_ONLY} AND id > ? ORDER BY id LIMIT {ADMIT_BATCH}"
    )
    # One walk of jobs_active per status, in id order (an IN would sort them all).
    rows = con.execute(pick, ("queued", after)).fetchall()
    rows = sorted(rows + con.execute(pick, ("waiting", after)).fetchall())[:ADMIT_BATCH]
    if not rows:
        return [], 0
    ids = [r[0] for r in rows]
    keys_of: dict[int, list[str]] = {}
    for job_id, key in con.execute(
        f"SELECT job_id, key FROM job_locks WHERE job_id IN ({qmarks(ids)}) ORDER BY job_id, key",
        ids,
    ).fetchall():
        keys_of.setdefault(job_id, []).append(key)
    wanted = sorted({k for keys in keys_of.values() for k in keys})
    holder: dict[str, int] = {}
    if wanted:
        found = con.execute(
            f"SELECT key, job_id FROM locks WHERE key IN ({qmarks(wanted)})", wanted
        ).fetchall()
        holder = {r[0]: r[1] for r in found}
    live = None if live_after is None else live_catalogue_in(con, live_after)
    changed, moves, taken = [], [], []

    @functools.cache  # one answer per type and hash, not one per job
    def why(type_name: str, digest: str | None) -> str | None:
        return None if live is None else unrunnable(type_name, digest, live)

    for job_id, status, info, type_name, digest in rows:
        reason = why(type_name, digest)
        keys = keys_of.get(job_id, []) if reason is None else []
        held = [(k, holder[k]) for k in keys if holder.get(k, job_id) != job_id]
        if held:
            reason = lock_wait(*held[0])
        move = admission(status, info, reason)
        if move is None:
            continue
        new, info_now = move
        admitted = new is JobStatus.RUNNING
        if admitted:  # it takes its locks
            taken += [(k, job_id) for k in keys]
            holder.update(dict.fromkeys(keys, job_id))
        moves.append((str(new), int(admitted), info_now, now, rev, job_id))
        changed.append(job_id)
    con.executemany("INSERT INTO locks (key, job_id) VALUES (?, ?)", taken)
    con.executemany(
        "UPDATE jobs SET status = ?, admitted = ?, info = ?, updated = ?, rev = ? WHERE id = ?",
        moves,
    )
    # A job with no tasks at all (empty glob) is finished as soon as it is admitted.
    settle_jobs(con, rev, now, changed)
    return changed, ids[-1] if len(rows) == ADMIT_BATCH else 0
