"""Jobs of the SQLite store: creating them (one by one, concurrent calls in one transaction,
or in bulk; what a new job's rows are is `submits`'s). Admitting queued jobs when their
locks are free is the shared `Admission` (its batches run on the loop's thread here); the
user's actions (cancel, pause, resume, retry), the tasks a running job adds and removing
finished jobs (clear, prune) are the shared `Requests` (core/store/sql/).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from typing import TYPE_CHECKING

from jobdash.core.store.sql.admission import Admission, Batch
from jobdash.core.store.sql.audit import Audit
from jobdash.core.store.sql.dialect import SQLITE
from jobdash.core.store.sql.requests import Requests
from jobdash.core.store.sql.submits import Creating, may_refuse
from jobdash.core.store.sqlite.submits import GroupCommit, insert_job, insert_jobs

if TYPE_CHECKING:
    from jobdash.core.model import Job
    from jobdash.core.store.engine_records import NewJob
    from jobdash.core.store.sqlite.db import Db


class Jobs(Audit, Admission, Requests):
    """Creating jobs (here), admitting them (`Admission`), acting on and removing them
    (`Requests`), the last two shared with the PostgreSQL store. Each method returns ids or
    counts; the store reads the job back where the contract returns one."""

    db: Db
    group: GroupCommit

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        """Create one job; concurrent calls share a transaction (see `GroupCommit`)."""
        return await self.group.submit(nj, audit_user)

    async def create_jobs(self, jobs: Sequence[NewJob], audit_user: str | None = None) -> list[int]:
        """Create many jobs in one transaction, all or none (the first refusal is raised):
        at once when no rule may refuse any of them (`insert_jobs`), else one by one."""
        actor = self.db.actor

        def txn(con: sqlite3.Connection, rev: int, now: float) -> list[int]:
            c = Creating(SQLITE, con, rev, now, actor)
            if not any(may_refuse(nj) for nj in jobs):
                return insert_jobs(c, [(nj, audit_user) for nj in jobs])
            return [insert_job(c, nj, audit_user) for nj in jobs]

        return await self.db.write(txn) if jobs else []

    async def write_batch(self, txn: Batch) -> tuple[list[int], int]:
        """On the loop's thread: a batch is short, and admission runs every tick."""
        return await self.db.write(txn, inline=True)
