"""Jobs of the SQLite store: creating them (one by one, concurrent calls in one transaction,
or in bulk; what a new job's rows are is `submits`'s), adding tasks,
admitting queued jobs when their locks are free, the user's actions (cancel, pause, resume,
retry) and removing finished jobs (clear, prune).

Whether an action is legal and what it does is `core.lifecycle`'s decision (`decide_*`,
`admission`, `added_task_status`); each transaction reads what the decision needs, asks,
and applies the answer.
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Sequence

from jobdash.core.catalogue import unrunnable
from jobdash.core.lifecycle import (
    added_task_status,
    admission,
    lock_wait,
)
from jobdash.core.model import Job, JobStatus, TaskStatus
from jobdash.core.store.records import NewJob, NewTask
from jobdash.core.store.sql.audit import Audit
from jobdash.core.store.sql.catalogue import live_catalogue_in
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.requests import Requests
from jobdash.core.store.sqlite.counts import (
    job_status,
    settle_jobs,
    update_progress,
)
from jobdash.core.store.sqlite.db import Db, qmarks
from jobdash.core.store.sqlite.schema import ACTIVE_ONLY
from jobdash.core.store.sqlite.submits import GroupCommit, insert_job


class Jobs(Audit, Requests):
    """Creating and admitting jobs (here), acting on and removing them (`Requests`, shared
    with the PostgreSQL store). Each method returns ids or counts; the store reads the job
    back where the contract returns one."""

    db: Db
    group: GroupCommit

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
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
    live = None if live_after is None else live_catalogue_in(SQLITE, con, live_after)
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
