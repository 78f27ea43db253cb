"""Admission, written once for both backends: queued and waiting jobs move to running when
their locks are free and a live agent runs their type, oldest first, in batches.

Whether a job is admitted, waits or stays is `core.lifecycle.admission`'s decision; each
batch reads what the decisions need in a few statements (the jobs, their lock keys, those
keys' holders), asks for each job, and writes the moves in one statement per kind of move
(`Dialect.by_key`). Locks are rows of `locks`, one holder per key (its primary key),
whichever process admits.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jobdash.core.catalogue import unrunnable
from jobdash.core.lifecycle import admission
from jobdash.core.model import JobStatus
from jobdash.core.store.sql.catalogue import live_catalogue_in
from jobdash.core.store.sql.counts import ACTIVE_ONLY, COUNTS
from jobdash.core.store.sql.dialect import Connection, Dialect, Reading, Statements

ADMIT_BATCH = 250  # jobs looked at per admission transaction (SQLite runs it on the loop)

Q = Statements(
    # One walk of jobs_active per status, in id order (an IN would sort them all).
    pick="SELECT id, status, info, type, type_hash FROM jobs WHERE status = ? "
    f"AND {ACTIVE_ONLY} AND id > ? ORDER BY id LIMIT {ADMIT_BATCH}",
    keys="SELECT job_id, key FROM job_locks WHERE ",
    holders="SELECT key, job_id FROM locks WHERE ",
    take="INSERT INTO locks (key, job_id) VALUES (?, ?)",
    move="UPDATE jobs SET status = ?, admitted = ?, info = ?, updated = ?, rev = ? WHERE id = ?",
)

# A batch's transaction: given the writer, a revision and the time, (jobs changed, last id).
Batch = Callable[[Any, int, float], tuple[list[int], int]]


class Admission:
    """`admit`, the Store's method."""

    db: Reading

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
            batch = functools.partial(
                admit_batch, self.db.dialect, after=after, live_after=live_after
            )
            done, after = await self.write_batch(batch)
            changed += done
            if not after:
                return changed

    async def write_batch(self, txn: Batch) -> tuple[list[int], int]:
        """Run one batch's transaction (SQLite's runs on the loop's thread: it is short)."""
        return await self.db.write(txn, work=True)


def admit_batch(
    d: Dialect, con: Connection, rev: int, now: float, after: int, live_after: float | None
) -> tuple[list[int], int]:
    """Admit the next ADMIT_BATCH queued or waiting jobs after id `after`, oldest first:
    their lock keys and those keys' holders read in two statements, their moves written in
    one. Returns the jobs that changed and the last id looked at (0: none are left)."""
    from jobdash.core.waiting import lock_wait  # the engine's: not loaded by a read

    q = Q[d]
    rows = con.execute(q.pick, ("queued", after)).fetchall()
    rows = sorted(rows + con.execute(q.pick, ("waiting", after)).fetchall())[:ADMIT_BATCH]
    if not rows:
        return [], 0
    ids = [r[0] for r in rows]
    keys_of: dict[int, list[str]] = {}
    among, args = d.among("job_id", ids)
    for job_id, key in con.execute(q.keys + among + " ORDER BY job_id, key", args).fetchall():
        keys_of.setdefault(job_id, []).append(key)
    wanted = sorted({k for keys in keys_of.values() for k in keys})
    holder: dict[str, int] = {}
    if wanted:
        among, args = d.among("key", wanted)
        holder = {r[0]: r[1] for r in con.execute(q.holders + among, args).fetchall()}
    live = None if live_after is None else live_catalogue_in(d, con, live_after)
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
    d.many(con, q.take, taken)
    d.by_key(con, q.move, moves)
    # A job with no tasks at all (empty glob) is finished as soon as it is admitted.
    COUNTS[d.name].settle_jobs(con, rev, now, changed)
    return changed, ids[-1] if len(rows) == ADMIT_BATCH else 0
