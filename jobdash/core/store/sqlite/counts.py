"""What every write that moves tasks does to their jobs, inside its transaction: the per-job
task counters (`Counts`, checked by the lifecycle), the progress, and the settling of a job
that has nothing left to run (its end decided by `lifecycle.settle`). Shared by jobs, claims
and the batched writer, so that a job's counters change in one way only. Also the audit row
that actions write in their own transaction.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from jobdash.core.lifecycle import SETTLING, check_task_move, settle
from jobdash.core.model import JobStatus, NotFound
from jobdash.core.store.sqlite.db import qmarks

COUNT_COLUMNS = ("pending", "running", "succeeded", "failed", "cancelled", "skipped")
INFO_MAX = 300
SETTLING_SQL = ", ".join(f"'{s}'" for s in sorted(SETTLING))  # the statuses a job settles from
# Ends the span a job's clock stood still (a pause, the gap before a retry's first task):
# its seconds go to idle_time. One parameter: the time it ends.
END_IDLE = (
    "idle_time = idle_time + CASE WHEN paused_at IS NULL THEN 0 ELSE max(0, ? - paused_at) END, "
    "paused_at = NULL"
)


class Counts:
    """Per-job deltas of task counters, applied in one executemany. The status changes that
    claims, outcomes, cancels and recovery make pass here, and are checked by the lifecycle
    (`check_task_move`): a move it does not allow is a bug, and its transaction is rolled back
    rather than written. (Retry re-counts a job's tasks instead.)"""

    def __init__(self) -> None:
        self.delta: dict[int, dict[str, int]] = defaultdict(lambda: dict.fromkeys(COUNT_COLUMNS, 0))

    def move(self, job_id: int, old: str | None, new: str | None, n: int = 1) -> None:
        if old and new:
            check_task_move(job_id, old, new)
        d = self.delta[job_id]
        if old:
            d[old] -= n
        if new:
            d[new] += n

    def rows(self, rev: int, now: float) -> list[tuple[Any, ...]]:
        return [
            (*(d[c] for c in COUNT_COLUMNS), now, rev, job_id) for job_id, d in self.delta.items()
        ]


def apply_counts(
    con: sqlite3.Connection, rev: int, now: float, counts: Counts, claim: bool = False
) -> None:
    """Apply the counters' deltas, then the jobs' progress and settling. A `claim` (pending
    to running, at progress 0) moves neither, and its jobs' time starts (see `claim_in`)
    in the same statement: one row write per job claimed instead of four."""
    if not counts.delta:
        return
    sets = ", ".join(f"{c} = {c} + ?" for c in COUNT_COLUMNS)
    rows = counts.rows(rev, now)
    if claim:
        # A job's time starts with its first task (not its admission); a retried job's gap
        # since its last run ends with the retry's first task. It no longer waits.
        sets += f", started = coalesce(started, ?), {END_IDLE}, waiting = ''"
        rows = [(*r[:-3], now, now, *r[-3:]) for r in rows]  # started, END_IDLE, then the rest
    con.executemany(f"UPDATE jobs SET {sets}, updated = ?, rev = ? WHERE id = ?", rows)
    if claim:
        return
    update_progress(con, rev, set(counts.delta))
    settle_jobs(con, rev, now, list(counts.delta))


def update_progress(con: sqlite3.Connection, rev: int, job_ids: Iterable[int]) -> None:
    ids = list(job_ids)
    if not ids:
        return
    con.execute(
        f"""
        UPDATE jobs SET progress = CASE
            WHEN pending + running + succeeded + failed + cancelled + skipped = 0 THEN 0
            ELSE 100.0 * (succeeded + failed + cancelled + skipped + coalesce((
                SELECT total(progress) FROM tasks INDEXED BY tasks_running_seq
                WHERE tasks.status = 'running' AND tasks.job_id = jobs.id), 0))
                / (pending + running + succeeded + failed + cancelled + skipped) END,
            rev = ?
        WHERE id IN ({qmarks(ids)})
        """,
        (rev, *ids),
    )


def settle_jobs(con: sqlite3.Connection, rev: int, now: float, job_ids: Sequence[int]) -> None:
    """Finish the jobs among `job_ids` that have nothing pending or running any more."""
    if not job_ids:
        return
    rows = con.execute(
        "SELECT id, status, failed, cancelled, warnings, pending + running + "
        "succeeded + failed + cancelled + skipped FROM jobs "
        f"WHERE id IN ({qmarks(job_ids)}) AND pending = 0 AND running = 0 "
        f"AND status IN ({SETTLING_SQL})",
        list(job_ids),
    ).fetchall()
    ends = []
    for job_id, status, failed, cancelled, warnings, total in rows:
        first = None
        if failed:
            found = con.execute(
                "SELECT name, error FROM tasks WHERE job_id = ? AND status = 'failed' "
                "ORDER BY seq LIMIT 1",
                (job_id,),
            ).fetchall()
            first = (found[0][0], found[0][1]) if found else None
        end = settle(status, total, failed, cancelled, warnings, first)
        ends.append(
            (str(end.status), now, now, end.info[:INFO_MAX], end.progress, now, rev, job_id)
        )
    con.executemany(
        "UPDATE jobs SET status = ?, finished = ?, updated = ?, info = ?, admitted = 0, "
        f"progress = ?, {END_IDLE}, waiting = '', rev = ? WHERE id = ?",
        ends,
    )
    con.executemany("DELETE FROM locks WHERE job_id = ?", [(e[-1],) for e in ends])


def job_row(con: sqlite3.Connection, job_id: int, columns: str) -> tuple[Any, ...]:
    """A job's `columns` (NotFound when there is no such job)."""
    rows = con.execute(f"SELECT {columns} FROM jobs WHERE id = ?", (job_id,)).fetchall()
    if not rows:
        raise NotFound(f"no job {job_id}")
    return tuple(rows[0])


def job_status(con: sqlite3.Connection, job_id: int) -> JobStatus:
    return JobStatus(job_row(con, job_id, "status")[0])


def set_status(con: sqlite3.Connection, rev: int, now: float, job_id: int, new: JobStatus) -> None:
    con.execute(
        "UPDATE jobs SET status = ?, updated = ?, rev = ? WHERE id = ?",
        (str(new), now, rev, job_id),
    )


def audit_row(
    con: sqlite3.Connection,
    now: float,
    actor: str,
    user: str,
    action: str,
    target: str,
    detail: str = "",
) -> None:
    """One audit row: `user` asked for `action` on `target`; `actor` is who wrote it."""
    con.execute(
        "INSERT INTO audit (ts, user, action, target, detail, actor) VALUES (?, ?, ?, ?, ?, ?)",
        (now, user, action, target, detail, actor),
    )
