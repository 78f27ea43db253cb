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
contract's docstrings in base.py): `PostgresStore` inherits them all and adds only opening
and granting; the buffered writes (the flusher's own methods) and closing are the shared
`BufferedStore`'s (core/store/sql/writer.py), so no signature is repeated. It decides no rule of the product: `core.lifecycle` does, in the transaction that
read what it needs.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import platformdirs
import psycopg

from jobdash.core.identity import group_members
from jobdash.core.permissions import Role as PermissionRole
from jobdash.core.store.artifact_files import host_name
from jobdash.core.store.faults import StoreError
from jobdash.core.store.postgres.claims import Claims
from jobdash.core.store.postgres.db import Db, renumber_restored
from jobdash.core.store.postgres.flush import PgFlusher
from jobdash.core.store.postgres.jobs import Jobs
from jobdash.core.store.postgres.reads import Reads
from jobdash.core.store.postgres.reports import Reports
from jobdash.core.store.postgres.roles import grant, role_of, write_grants
from jobdash.core.store.postgres.schema import migrate
from jobdash.core.store.side_records import Role
from jobdash.core.store.sql.areas import SharedAreas
from jobdash.core.store.sql.audit import Audit

# The store's tables and indexes, in its schema: what `jobdash db size` counts.
DATABASE_BYTES = (
    "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c "
    "JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE n.nspname = current_schema() AND c.relkind IN ('r', 'm')"
)


class PostgresStore(Jobs, Claims, Reports, Reads, Audit, SharedAreas):
    """A jobdash store in a PostgreSQL database (the connection's current schema). Open with
    `await PostgresStore.open(url)`, or `base.open_store(url)`."""

    db: Db  # the areas' `db`: the shared ones (core.store.sql) ask less of it

    def __init__(self, db: Db, role: Role | None = None, store_id: str = "") -> None:
        super().__init__(db, PgFlusher(db))
        self.role = role
        # Big artifacts are kept on the host of the engine that ran their task, in the data
        # folder of the user it runs as, one folder per store (its id, migration 10).
        self.artifact_folder = (
            Path(platformdirs.user_data_dir("jobdash")) / "artifacts" / (store_id or "store")
        )
        self.artifact_host = host_name()

    async def database_bytes(self) -> int:
        """The tables and indexes of the store's schema."""
        rows = await self.db.fetchall(DATABASE_BYTES)
        return int(rows[0][0]) if rows else 0

    @classmethod
    async def open(cls, url: str, upgrading: Callable[[str], None] | None = None) -> PostgresStore:
        """Connect to the store at `url`, creating its tables in an empty schema (the same
        as `jobdash db init URL`), upgrading one of an older schema (`upgrading`: see
        `schema.migrate`). StoreError (one line) when it cannot be used."""
        db = Db(url)
        try:
            db.created = await db.in_thread(
                lambda: migrate(db.connect_writer(), db.where, upgrading)
            )
            await db.in_thread(lambda: renumber_restored(db.connect_writer()))
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
        rows = await db.fetchall("SELECT value FROM meta WHERE key = 'store_id'")
        store = cls(db, role, str(rows[0][0]) if rows else "")
        store.flusher.start()
        return store

    async def write_roles(self, roles: Sequence[PermissionRole]) -> str:
        try:
            async with self.db.lock:
                return await self.db.in_thread(
                    lambda: write_grants(self.db.connect_writer(), roles, group_members)
                )
        except psycopg.Error as e:
            raise self.db.error(e) from e

    async def grant(self, user: str, kind: str) -> str:
        try:
            async with self.db.lock:
                return await self.db.in_thread(lambda: grant(self.db.connect_writer(), user, kind))
        except psycopg.Error as e:
            raise self.db.error(e) from e
