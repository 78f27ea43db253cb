"""`PostgresStore`: the PostgreSQL backend of the Store contract (`base.Store`), composed of
its areas, named and divided as the SQLite backend's are, so that "where is X done?" has the
same answer in both:

    db (db.py, schema.py, faults.py)   connections, the revision, writes, migrations
    flusher (flush.py)   buffered log lines (COPY), progress, outcomes: one transaction each
    jobs (jobs.py)       create, add tasks, admit, cancel / pause / resume / retry, clear
    claims (claims.py)   claim (one statement per batch), complete (fenced), recover lost
    reports, reads       the report claims (SKIP LOCKED); has_claimable and the feed's poll
    core/store/sql/      what both backends share, written once (see the SQLite store)

Each area is a class whose methods *are* the contract's (same names and signatures, the
contract's docstrings in base.py): `PostgresStore` inherits them all and adds only opening,
closing and the buffered writes (the flusher's own methods, bound here), so no signature is
repeated. It decides no rule of the product: `core.lifecycle` does, in the transaction that
read what it needs.
"""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from jobdash.core.store.faults import StoreError
from jobdash.core.store.postgres.claims import Claims
from jobdash.core.store.postgres.db import Db
from jobdash.core.store.postgres.flush import PgFlusher
from jobdash.core.store.postgres.jobs import Jobs
from jobdash.core.store.postgres.reads import Reads
from jobdash.core.store.postgres.reports import Reports
from jobdash.core.store.postgres.roles import grant, role_of
from jobdash.core.store.postgres.schema import migrate
from jobdash.core.store.records import Refill, Role
from jobdash.core.store.sql.agents import Agents
from jobdash.core.store.sql.audit import Audit
from jobdash.core.store.sql.catalogue import Catalogue
from jobdash.core.store.sql.failures import Failures
from jobdash.core.store.sql.schedules import Schedules
from jobdash.core.store.sql.waits import Waits


class PostgresStore(
    Jobs, Claims, Agents, Catalogue, Waits, Reports, Schedules, Reads, Audit, Failures
):
    """A jobdash store in a PostgreSQL database (the connection's current schema). Open with
    `await PostgresStore.open(url)`, or `base.open_store(url)`."""

    db: Db  # the areas' `db`: the shared ones (core.store.sql) ask less of it

    def __init__(self, db: Db, role: Role | None = None) -> None:
        self.db = db
        self.role = role
        self.created = db.created
        self.damaged = db.damaged
        self.on_commit = db.on_commit
        self.faults = db.faults
        self.flusher = f = PgFlusher(db)
        # The buffered writes are the flusher's (the contract's names and signatures).
        self.flush = f.flush
        self.append_log = f.append_log
        self.append_log_nowait = f.append_log_nowait
        self.backlogged = f.backlogged
        self.drained = f.drained
        self.report_progress = f.report_progress
        self.note_pgid = f.note_pgid
        self.add_metric = f.add_metric
        self.add_warning = f.add_warning
        self.complete = f.complete

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Connect to the store at `url`, creating its tables in an empty schema (the same
        as `jobdash db init URL`). StoreError (one line) when it cannot be used."""
        db = Db(url)
        try:
            db.created = await db.in_thread(lambda: migrate(db.connect_writer(), db.where))
            role = await db.in_thread(lambda: role_of(db.connect_writer()))
            db.row_security = role is not None
            await db.reader()
        except BaseException as e:
            await db.close_connections()
            if isinstance(e, psycopg.Error):
                raise db.error(e) from None
            if isinstance(e, StoreError) and not e.args[0].startswith(db.where):
                raise StoreError(f"{db.where}: {e}", e.fault) from None
            raise
        store = cls(db, role)
        store.flusher.start()
        return store

    async def grant(self, user: str, admin: bool) -> str:
        try:
            async with self.db.lock:
                return await self.db.in_thread(lambda: grant(self.db.connect_writer(), user, admin))
        except psycopg.Error as e:
            raise self.db.error(e) from e

    async def close(self) -> None:
        if self.flusher.closed:
            return
        lost: StoreError | None = None
        try:
            await self.flusher.flush()
        except StoreError as e:
            held = self.db.held()
            lost = StoreError(
                f"{self.db.where}: {e.fault}: {held} log line{'s' * (held != 1)} held in "
                "memory could not be written",
                e.fault,
            )
        finally:
            await self.flusher.stop()
            async with self.db.lock:
                await self.db.close_connections()
        if lost is not None:
            raise lost

    @property
    def location(self) -> str:
        return self.db.where

    @property
    def refill(self) -> Refill | None:
        return self.flusher.refill

    @refill.setter
    def refill(self, value: Refill | None) -> None:
        self.flusher.refill = value

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        self.db.report_failure(logger, what, *args)
