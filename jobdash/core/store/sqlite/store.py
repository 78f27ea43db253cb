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
                         counts (a job's counters and settling), filters (a JobFilter as SQL),
                         failures (failed attempts grouped by cause)

It decides no rule of the product: what a request, an outcome or an agent's death does to a
job and its tasks is `core.lifecycle`'s decision, which the areas apply in the transaction
that read what the decision needs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jobdash.core.model import BadInput
from jobdash.core.permissions import Role as PermissionRole
from jobdash.core.store.sql.areas import SharedAreas
from jobdash.core.store.sqlite.claims import Claims
from jobdash.core.store.sqlite.db import Db
from jobdash.core.store.sqlite.flush import Flusher
from jobdash.core.store.sqlite.jobs import Jobs
from jobdash.core.store.sqlite.opening import open_db
from jobdash.core.store.sqlite.reads import Reads
from jobdash.core.store.sqlite.reports import Reports
from jobdash.core.store.sqlite.submits import GroupCommit
from jobdash.core.store.sqlite.text_index import TextIndex

if TYPE_CHECKING:
    from jobdash.core.store.side_records import Role


class SqliteStore(Jobs, Claims, Reports, TextIndex, Reads, SharedAreas):
    """jobdash's embedded store. Open with `await SqliteStore.open(path)`, or
    `base.open_store(location)`. The contract's methods are the areas' (`Jobs` brings
    `Audit`); the batched writes are the `Flusher`'s, bound by `BufferedStore`, which also
    closes."""

    db: Db  # the areas' `db`: the shared ones (core.store.sql) ask less of it

    def __init__(self, db: Db) -> None:
        super().__init__(db, Flusher(db))
        self.path: Path = db.path
        self.group = GroupCommit(db)
        # Big artifacts are kept beside the store's file (whatever host opens it).
        self.artifact_folder = Path(f"{db.path}-artifacts")
        self.artifact_host = None

    async def database_bytes(self) -> int:
        """The store's file and its write-ahead log."""
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(OSError):
                total += os.stat(f"{self.path}{suffix}").st_size
        return total

    @classmethod
    async def open(
        cls,
        path: Path | str,
        create_folder: bool = False,
        reading: bool = False,
        loop_free: bool = False,
        upgrading: Callable[[str], None] | None = None,
    ) -> SqliteStore:
        """Open (or create) the store at `path`: see `opening.open_db` (`loop_free`: to be
        read without the event loop, no writer and so nothing to flush; `upgrading`: told
        before a store made by an older jobdash is upgraded)."""
        store = cls(await open_db(path, create_folder, reading, loop_free, upgrading))
        if store.db.read_only is None and not loop_free:
            store.flusher.start()
        return store

    role: Role | None = None  # the kernel's user and jobdash's rules decide (one OS user)

    async def write_roles(self, roles: Sequence[PermissionRole]) -> str:
        raise BadInput(
            f"{self.location}: a SQLite store holds no roles: the config's roles are "
            "jobdash's rules there, read by each command (they govern root acting as others)"
        )

    async def grant(self, user: str, kind: str) -> str:
        raise BadInput(
            f"{self.location}: a SQLite store has no roles (it serves the OS user who owns "
            "its file; admins are named in the config); several users share a PostgreSQL store"
        )
