"""`SqliteStore`: the SQLite backend of the Store contract (`base.Store`), composed of its
areas. Each area is a class of the methods of the contract for one kind of state, all
working on the same `Db` (connections, the write lock, failures); this class is made of them
(and of the batched writer, `Flusher`), and only opens and closes, so that "where is X done?"
is answered by the area's name:

    db (db.py, opening.py, schema.py, files.py, faults.py)  connections, writes, migrations
    flusher (flush.py)   buffered log lines, progress, outcomes: one transaction per batch
    jobs (jobs.py)       create, add tasks, admit, cancel / pause / resume / retry, clear
    claims (claims.py)   claim, complete (fenced), release, recover lost tasks
    reports, reads       the report claims; has_claimable and the change feed
    text_index           the finished jobs' text for free words, indexed in batches
    core/store/sql/      what both backends share, written once: agents, catalogue, waits,
                         schedules, audit, the rest of reports, reads and the flusher,
                         counts (a job's counters and settling), filters (a JobFilter as SQL)

It decides no rule of the product: what a request, an outcome or an agent's death does to a
job and its tasks is `core.lifecycle`'s decision, which the areas apply in the transaction
that read what the decision needs.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from jobdash.core.model import BadInput, Job
from jobdash.core.store.faults import StoreError
from jobdash.core.store.records import (
    NewJob,
    Outcome,
    Refill,
    Role,
)
from jobdash.core.store.sql.agents import Agents
from jobdash.core.store.sql.catalogue import Catalogue
from jobdash.core.store.sql.schedules import Schedules
from jobdash.core.store.sql.waits import Waits
from jobdash.core.store.sqlite.claims import Claims
from jobdash.core.store.sqlite.db import Db
from jobdash.core.store.sqlite.flush import Flusher
from jobdash.core.store.sqlite.jobs import Jobs
from jobdash.core.store.sqlite.opening import open_db
from jobdash.core.store.sqlite.reads import Reads
from jobdash.core.store.sqlite.reports import Reports
from jobdash.core.store.sqlite.submits import GroupCommit
from jobdash.core.store.sqlite.text_index import TextIndex


class SqliteStore(Jobs, Claims, Agents, Catalogue, Waits, Reports, Schedules, TextIndex, Reads):
    """jobdash's embedded store. Open with `await SqliteStore.open(path)`, or
    `base.open_store(location)`. The contract's methods are the areas' (`Jobs` brings
    `Audit`); the batched writes are delegated to the `Flusher`."""

    db: Db  # the areas' `db`: the shared ones (core.store.sql) ask less of it

    def __init__(self, db: Db) -> None:
        self.db = db
        self.path: Path = db.path
        self.created = db.created
        self.damaged = db.damaged
        self.on_commit = db.on_commit
        self.faults = db.faults
        self.flusher = Flusher(db)
        self.group = GroupCommit(db)

    @classmethod
    async def open(
        cls, path: Path | str, create_folder: bool = False, reading: bool = False
    ) -> SqliteStore:
        """Open (or create) the store at `path`: see `opening.open_db`."""
        store = cls(await open_db(path, create_folder, reading))
        if store.db.read_only is None:
            store.flusher.start()
        return store

    role: Role | None = None  # the kernel's user and jobdash's rules decide (one OS user)

    async def grant(self, user: str, admin: bool) -> str:
        raise BadInput(
            f"{self.location}: a SQLite store has no roles (it serves the OS user who owns "
            "its file; admins are named in the config); several users share a PostgreSQL store"
        )

    async def close(self) -> None:
        """Write what is buffered and close. The connections are closed whatever happens
        (their threads would keep the process alive); StoreError when buffered lines or
        results could not be written (they are lost: say so)."""
        if self.flusher.closed:
            return
        lost: StoreError | None = None
        try:
            await self.flusher.flush()
        except StoreError as e:
            held = self.db.held()
            lost = StoreError(
                f"{self.path}: {e.fault}: {held} log line{'s' * (held != 1)} held in memory "
                "could not be written",
                e.fault,
            )
        finally:
            await self.flusher.stop()
            await self.db.stop_checkpoints()
            async with self.db.lock:
                await self.db.close_connections()
        if self.db.damage is not None:
            raise self.db.damage
        if lost is not None:
            raise lost

    @property
    def location(self) -> str:
        return str(self.path)

    @property
    def refill(self) -> Refill | None:
        return self.flusher.refill

    @refill.setter
    def refill(self, value: Refill | None) -> None:
        self.flusher.refill = value

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        self.db.report_failure(logger, what, *args)

    # ----------------------------------------------------------------- buffered writes

    async def flush(self) -> None:
        await self.flusher.flush()

    async def append_log(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        await self.flusher.append_log(job_id, task_id, stream, text, attempt)

    def append_log_nowait(
        self, job_id: int, task_id: int | None, stream: str, text: str, attempt: int | None = None
    ) -> None:
        self.flusher.append_log_nowait(job_id, task_id, stream, text, attempt)

    def backlogged(self) -> bool:
        return self.flusher.backlogged()

    async def drained(self) -> None:
        await self.flusher.drained()

    def report_progress(self, task_id: int, fraction: float) -> None:
        self.flusher.report_progress(task_id, fraction)

    def note_pgid(self, task_id: int, pgid: int) -> None:
        self.flusher.note_pgid(task_id, pgid)

    def add_metric(self, job_id: int, name: str, value: float) -> None:
        self.flusher.add_metric(job_id, name, value)

    def add_warning(self, job_id: int) -> None:
        self.flusher.add_warning(job_id)

    async def complete(self, outcome: Outcome) -> bool:
        return await self.flusher.complete(outcome)

    # ----------------------------------------------------------------- jobs (returned as read)

    async def create_job(self, nj: NewJob, audit_user: str | None = None) -> Job:
        return await self.get_job(await self.add_job(nj, audit_user))
