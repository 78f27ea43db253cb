"""The Store contract: what the engine asks of a store, and what a backend must guarantee.

Everything above the store (service, agent, runners, reports, scheduler) is typed against
`Store`, never against a backend class, and trades in the plain data of `records`. A backend
keeps the state and applies the engine's decisions atomically; how it does that (SQL, a
write queue, locks, notifications) stays inside it. `open_store(location)` picks the backend
from the location: a path or `sqlite:///PATH` is the SQLite store, `postgresql://…` the
PostgreSQL store (each imported only then).

The guarantees each method's docstring states are the ones the engine relies on: a backend
that keeps them runs the whole product unchanged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

from jobdash.core.model import BadInput
from jobdash.core.store.coordination import CoordinationStore
from jobdash.core.store.reading import ReadingStore
from jobdash.core.store.work import WorkStore

if TYPE_CHECKING:
    import asyncio
    import logging

    from jobdash.core.permissions import Role as PermissionRole
    from jobdash.core.store.engine_records import Refill
    from jobdash.core.store.records import Changes
    from jobdash.core.store.side_records import AuditFilter, Role
    from jobdash.core.views import AuditEvent

# ----------------------------------------------------------------- the contract


class Store(WorkStore, CoordinationStore, ReadingStore, Protocol):
    """A jobdash store: the store itself and its change feed, here; the work, coordination
    and reading parts in work.py, coordination.py and reading.py. Every write is atomic and
    durable once its coroutine returns (the buffered ones once the next flush returns), and
    moves the change feed."""

    # ------------------------------------------------------------- the store itself

    @property
    def location(self) -> str:
        """Where the store is, as a person would name it (a path, a URL without password)."""

    created: str  # what opening created, said once to the user ("created store at …")

    @property
    def damaged(self) -> asyncio.Event:
        """Set when the store is found damaged: it is written no more."""

    on_commit: list[Callable[[], None]]  # called after each commit of this process
    refill: Refill | None  # the agent whose freed slots a write of outcomes refills
    # Who the database says the user is, where it enforces who sees what (PostgreSQL
    # under row-level security); None where the kernel's user and jobdash's rules decide.
    role: Role | None

    async def grant(self, user: str, kind: str) -> str:
        """Let the OS user `user` use the store, where the database enforces who sees what:
        `kind` "user" (its own jobs), "admin" (everything) or "engine" (the role an engine
        connects as: it runs every user's work); what was done, in one line. BadInput where
        the database does not (a SQLite store serves the one OS user who owns its file)."""

    async def write_roles(self, roles: Sequence[PermissionRole]) -> str:
        """Make the config's permission groups the database's (`jobdash db roles`), where
        it enforces them (PostgreSQL: row-level security; an "@group" member resolved now
        from the system's group database); what was done, in one line. BadInput where it
        does not (on SQLite the config's roles are jobdash's rules, read at each start)."""

    async def close(self) -> None:
        """Write what is buffered, then release everything; StoreError (one line) when
        buffered lines or results could not be written."""

    def report_failure(self, logger: logging.Logger, what: str, *args: Any) -> None:
        """Log a failed background step (call it in an `except`): a failure of the store
        itself once while it lasts, with what is held meanwhile; the traceback of a bug."""

    async def audit(self, user: str, action: str, target: str, detail: str = "") -> None:
        """Record an audit event, naming `user` and the real OS user who wrote it."""

    async def audit_events(
        self, target: str | None = None, limit: int = 100, f: AuditFilter | None = None
    ) -> list[AuditEvent]:
        """The newest audit events first (of `target` only, when given; those `f` passes)."""

    # ------------------------------------------------------------- the change feed

    async def rev(self) -> int:
        """The store's revision: every write takes the next one and stamps what it changes."""

    async def changes_since(self, rev: int) -> Changes:
        """What changed after revision `rev`: each job changed since, as it is now; the jobs
        removed; whether agents or schedules changed; the read marks written; and the
        revision this answer is at."""

    def changes(self, since: int | None = None, interval: float = 0.25) -> AsyncIterator[Changes]:
        """Yield what changed, as it changes, by any process: **every change after `since`
        (None: from now) is seen once, in revision order**. A batch comes at most about
        every `interval` seconds, and only when something may have changed."""

    def watch_work(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Call `wake` when another process may have made tasks claimable (a submission, an
        admission, tasks given back or recovered, a retry): a hint, which may come late or
        never, so an agent polls too. Returns the function that stops it. A backend without
        such hints (SQLite) never calls it."""


# ----------------------------------------------------------------- choosing a backend


def check_ahead(location: str) -> None:
    """Start the whole-file check that opening the SQLite store at `location` makes, in a
    thread, for `open_store` to take over (see `sqlite.files.check_ahead`); nothing for
    another backend, or a location `open_store` would refuse (it says why)."""
    scheme, sep, rest = location.partition("://")
    if sep and not (scheme == "sqlite" and rest.startswith("/")):
        return
    from pathlib import Path

    from jobdash.core.store.sqlite.files import check_ahead as check_file

    check_file(Path(rest if sep else location).expanduser())


async def open_store(
    location: str,
    create_folder: bool = False,
    reading: bool = False,
    loop_free: bool = False,
    upgrading: Callable[[str], None] | None = None,
) -> Store:
    """Open the store at `location`: a path or `sqlite:///PATH` (a SQLite store, created
    where none exists; `create_folder`: its folder too, the default location's), or
    `postgresql://…` (a PostgreSQL store, its tables created in an empty schema). BadInput
    (one line) for a location no backend serves. `reading`: for a command that only reads,
    a store that cannot be written is opened to be read (its writes raise why not).
    `loop_free`: to be read without the event loop (`core.loopfree`), which a SQLite store
    up to date and writable is; NeedsLoop, before anything is opened, for another.
    `upgrading`: called once, with a line to tell the user, before a store made by an older
    jobdash is upgraded (minutes, on a store of millions of jobs); `created` then says how
    long it took."""
    scheme, sep, rest = location.partition("://")
    if not sep:
        path = location
    elif scheme == "sqlite":
        path = rest
        if not path.startswith("/"):
            raise BadInput(f"{location}: a SQLite store URL is sqlite:///PATH (an absolute path)")
    elif scheme in ("postgresql", "postgres"):
        if loop_free:
            from jobdash.core.loopfree import NeedsLoop

            raise NeedsLoop("a PostgreSQL store is read on the event loop")
        try:  # only the backend in use is loaded, and only then its driver
            from jobdash.core.store.postgres import PostgresStore
        except ImportError as e:
            raise BadInput(
                f"PostgreSQL stores need psycopg ({e}): pip install 'jobdash[postgres]'"
            ) from None
        return await PostgresStore.open(location, upgrading)
    else:
        raise BadInput(
            f"{scheme}://…: not a store location jobdash knows (a path or sqlite:///PATH, "
            "or postgresql://…)"
        )
    from jobdash.core.store.sqlite import SqliteStore  # only the backend in use is loaded

    return await SqliteStore.open(
        path, create_folder=create_folder, reading=reading, loop_free=loop_free, upgrading=upgrading
    )
