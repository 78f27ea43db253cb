"""What every write that moves tasks does to their jobs, inside its transaction: the per-job
task counters (`Counts`, checked by the lifecycle), the progress, and the settling of a job
that has nothing left to run (its end decided by `lifecycle.settle`); and the audit row that
actions write in their own transaction. The PostgreSQL statements of the SQLite backend's
counts.py; the counters' bookkeeping (`Counts`) is that module's, shared.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import psycopg

from jobdash.core.lifecycle import settle
from jobdash.core.model import JobStatus, NotFound
from jobdash.core.store.sqlite.counts import COUNT_COLUMNS, INFO_MAX, SETTLING_SQL, Counts

__all__ = ["COUNT_COLUMNS", "INFO_MAX", "Counts"]

Con = psycopg.Connection[Any]
# Ends the span a job's clock stood still; one parameter: the time it ends.
END_IDLE = (
    "idle_time = idle_time + CASE WHEN paused_at IS NULL THEN 0 "
    "ELSE greatest(0, %s - paused_at) END, paused_at = NULL"
)


def apply_counts(con: Con, rev: int, now: float, counts: Counts) -> None:
    if not counts.delta:
        return
    sets = ", ".join(f"{c} = {c} + %s" for c in COUNT_COLUMNS)
    con.cursor().executemany(
        f"UPDATE jobs SET {sets}, updated = %s, rev = %s WHERE id = %s", counts.rows(rev, now)
    )
    update_progress(con, rev, set(counts.delta))
    settle_jobs(con, rev, now, list(counts.delta))


def update_progress(con: Con, rev: int, job_ids: Iterable[int]) -> None:
    ids = list(job_ids)
    if not ids:
        return
    con.execute(
        """
        UPDATE jobs SET progress = CASE
            WHEN pending + running + succeeded + failed + cancelled + skipped = 0 THEN 0
            ELSE 100.0 * (succeeded + failed + cancelled + skipped + coalesce((
                SELECT sum(progress) FROM tasks
                WHERE tasks.status = 'running' AND tasks.job_id = jobs.id), 0))
                / (pending + running + succeeded + failed + cancelled + skipped) END,
            rev = %s
        WHERE id = ANY(%s)
        """,
        (rev, ids),
    )


def settle_jobs(con: Con, rev: int, now: float, job_ids: Sequence[int]) -> None:
    """Finish the jobs among `job_ids` that have nothing pending or running any more."""
    if not job_ids:
        return
    rows = con.execute(
        "SELECT id, status, failed, cancelled, warnings, pending + running + "
        "succeeded + failed + cancelled + skipped FROM jobs "
        "WHERE id = ANY(%s) AND pending = 0 AND running = 0 "
        f"AND status IN ({SETTLING_SQL}) ORDER BY id",
        (list(job_ids),),
    ).fetchall()
    for job_id, status, failed, cancelled, warnings, total in rows:
        first = None
        if failed:
            found = con.execute(
                "SELECT name, error FROM tasks WHERE job_id = %s AND status = 'failed' "
                "ORDER BY seq LIMIT 1",
                (job_id,),
            ).fetchall()
            first = (found[0][0], found[0][1]) if found else None
        end = settle(status, total, failed, cancelled, warnings, first)
        con.execute(
            "UPDATE jobs SET status = %s, finished = %s, updated = %s, info = %s, admitted = 0, "
            f"progress = %s, {END_IDLE}, waiting = '', rev = %s WHERE id = %s",
            (str(end.status), now, now, end.info[:INFO_MAX], end.progress, now, rev, job_id),
        )
        con.execute("DELETE FROM locks WHERE job_id = %s", (job_id,))


def job_status(con: Con, job_id: int) -> JobStatus:
    row = con.execute("SELECT status FROM jobs WHERE id = %s", (job_id,)).fetchone()
    if row is None:
        raise NotFound(f"no job {job_id}")
    return JobStatus(row[0])


def set_status(con: Con, rev: int, now: float, job_id: int, new: JobStatus) -> None:
    con.execute(
        "UPDATE jobs SET status = %s, updated = %s, rev = %s WHERE id = %s",
        (str(new), now, rev, job_id),
    )


def audit_row(
    con: Con, now: float, actor: str, user: str, action: str, target: str, detail: str = ""
) -> None:
    """One audit row: `user` asked for `action` on `target`; `actor` is who wrote it."""
    con.execute(
        'INSERT INTO audit (ts, "user", action, target, detail, actor) '
        "VALUES (%s, %s, %s, %s, %s, %s)",
        (now, user, action, target, detail, actor),
    )
