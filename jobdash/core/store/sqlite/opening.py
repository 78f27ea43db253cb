"""Opening a SQLite store: the checks of its file (`files`), its creation (0600, before SQLite
touches it), its connections and their settings, its migrations (`migrate.migrate`), and a
store that cannot be written opened to be read. Apart from `Db` because it happens once, and
because each of its failures must leave nothing behind (no half-made file, no thread).
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from jobdash.core.identity import user_name
from jobdash.core.loopfree import NeedsLoop
from jobdash.core.store.faults import StoreError
from jobdash.core.store.sqlite.db import BUSY_TIMEOUT_MS, Db, PlainConnection, is_busy
from jobdash.core.store.sqlite.faults import cannot_write, store_error, why_not_writable
from jobdash.core.store.sqlite.files import (
    check_store_file,
    check_under_way,
    make_private,
    private_store,
    readable_uri,
    sidecar,
)
from jobdash.core.store.sqlite.migrate import migrate
from jobdash.core.store.sqlite.schema import SCHEMA_VERSION
from jobdash.present.sizes import size_text
from jobdash.present.upgrades import upgraded_line, upgrading_line

if TYPE_CHECKING:
    import aiosqlite


class _CreatedMeanwhile(Exception):
    """The store's file appeared between the look at its path and its creation."""


async def open_db(
    path: Path | str,
    create_folder: bool = False,
    reading: bool = False,
    loop_free: bool = False,
    upgrading: Callable[[str], None] | None = None,
) -> Db:
    """Open the store at `path`, creating it only where none exists (a missing or empty
    file; the folder too when `create_folder`, the default path's). StoreError (one
    line) when it cannot be used: another user's, not a store, damaged, unreadable,
    or not writable where a write is needed. `created` then says what was created, or
    that the store's mode was made 0600.

    `reading`: for a command that only reads. A store that cannot be written (a
    read-only file system, a file or folder not writable by you) is then opened
    read-only (see `_open_read_only`); its writes raise why it cannot be written. Its
    file is not checked page by page (only the pages it reads are: `files.read_version`).

    `loop_free`: to read without the event loop (`core.loopfree`; implies `reading`): see
    `_open_loop_free`.

    `upgrading`: called once, with a line to tell the user, before a store made by an older
    jobdash is checked and upgraded (`migrate`): seconds, or minutes, on a store of
    millions of jobs, that would otherwise pass in silence. `created` then says how long
    it took. Not called for a store that cannot be written (opening it says why not)."""
    path = Path(path).expanduser()
    if loop_free:
        return await _open_loop_free(path, create_folder)
    give_up = time.monotonic() + BUSY_TIMEOUT_MS / 1000  # as long as any write would wait
    delay = 0.02
    while True:
        try:
            return await _open(path, create_folder, reading, upgrading)
        except _CreatedMeanwhile:
            # Another process created the store between our look and our create (a
            # dashboard and a command started together): look at it again once made. Its
            # maker may still be writing the tables (longer on a loaded machine).
            if time.monotonic() > give_up:
                raise StoreError(f"{path}: changed while jobdash opened it; try again") from None
            import asyncio

            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)


async def _open(
    path: Path, create_folder: bool, reading: bool, upgrading: Callable[[str], None] | None
) -> Db:
    # A command that only reads skips the check of every page (see `files.read_version`),
    # unless opening it writes: a store to upgrade is checked whole first. So does a store
    # whose check the dashboard started ahead and is still under way (seconds, on a store
    # of millions of jobs): it is opened to read and draw, and writes wait for the verdict
    # (`Db.write`); a store to create or upgrade waits for it here. A store to upgrade is
    # said (`upgrading`) before its check and its upgrade, however it is checked.
    started = time.monotonic()
    tell = None if upgrading is None else _upgrade_notice(path, upgrading)
    pending = None if reading else check_under_way(path)
    whole = not reading and pending is None
    version = check_store_file(path, create_folder, whole, None if reading else tell)
    if pending is not None and version != SCHEMA_VERSION:
        import asyncio

        await asyncio.wrap_future(pending)
        pending = None
    if reading and version is not None and version != SCHEMA_VERSION:
        version = check_store_file(path, create_folder, upgrading=tell)
    db = Db(path)
    if pending is not None:
        db.await_verdict(pending)
    made = False
    try:
        if note := private_store(path):  # an existing store with group or other bits: 0600
            _note(db, note)
        if version is None:
            made = _create_file(db)
        if upgraded := await _connect(db, version):
            _note(db, upgraded_line(upgraded, SCHEMA_VERSION, time.monotonic() - started))
    except BaseException as e:
        await db.close_connections()
        if made:  # nothing half-made is left behind
            with contextlib.suppress(OSError):
                if path.stat().st_size == 0:
                    path.unlink()
        if isinstance(e, (sqlite3.Error, OSError)):
            err = store_error(path, e)
            if reading and version is not None and cannot_write(e):
                return await _open_read_only(path, version, err, db.created)
            raise err from None
        raise
    return db


async def _open_loop_free(path: Path, create_folder: bool) -> Db:
    """A store up to date, to be read without the event loop: its file checked as
    `reading` checks it, made 0600 as any opening makes it, and a plain sqlite3 reader
    (`PlainConnection`), no writer and no thread. NeedsLoop, before anything is opened,
    where opening it would write it (to create or upgrade), or where it cannot be written
    (opened read-only as `_open_read_only` opens it, on the loop): the same opening then
    runs on the loop."""
    version = check_store_file(path, create_folder, whole=False)
    if version != SCHEMA_VERSION:
        raise NeedsLoop(f"{path}: to create or upgrade")
    if why_not_writable(path) is not None:
        raise NeedsLoop(f"{path}: read-only")
    db = Db(path)
    db.loop_free = True
    if note := private_store(path):
        _note(db, note)
    _chmod_sidecars(path)
    return await _with_reader(db, lambda: path, plain=True)


async def _with_reader(db: Db, where: Callable[[], Path | str], plain: bool = False) -> Db:
    """`db` with a reader connection to `where()` (a path or a URI) and no writer; a
    failure closes what was opened and is said as the store's (`plain`: see
    `_connect_reader`; such a store serves no dashboard window)."""
    try:
        at = where()
        con = await _connect_reader(at, plain)
        db.connect_reader(con, _no_window_reader if plain else lambda: _connect_reader(at))
    except BaseException as e:
        await db.close_connections()
        if isinstance(e, (sqlite3.Error, OSError)):
            raise store_error(db.path, e) from None
        raise
    return db


async def _no_window_reader() -> PlainConnection:
    raise AssertionError("the dashboard's window reads are not loop-free")


async def _open_read_only(path: Path, version: int, why: StoreError, note: str) -> Db:
    """A store that cannot be written (`why`), opened to be read (see `readable_uri`):
    a reader and no writer; every write raises `why`."""
    reason = why_not_writable(path) or why.fault
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by an older jobdash (store schema {version}, this version "
            f"uses {SCHEMA_VERSION}): upgrading it writes it, and {reason}",
            why.fault,
        )
    db = Db(path)
    db.created = note
    db.read_only = why
    return await _with_reader(db, lambda: readable_uri(path))


def _upgrade_notice(path: Path, upgrading: Callable[[str], None]) -> Callable[[int], None]:
    """What `check_store_file` calls before a store of schema `version` is checked and
    upgraded: the line `upgrading` tells, where the store can be written (where it cannot,
    opening it says why, as before)."""

    def tell(version: int) -> None:
        if why_not_writable(path) is not None:
            return
        try:
            size = size_text(path.stat().st_size)
        except OSError:
            size = ""
        upgrading(upgrading_line(str(path), version, SCHEMA_VERSION, size))

    return tell


def _note(db: Db, text: str) -> None:
    db.created = f"{db.created}; {text}" if db.created else text


def _create_file(db: Db) -> bool:
    """Make the store's file (0600, before SQLite touches it: job logs may hold
    secrets) and a missing default folder (0700). True when the file was made here.
    A dangling symbolic link of the user's own is followed: the store is made where it
    points to (0600 too); one of another user's is not (it could point anywhere)."""
    path = db.path
    folder = ""
    if not path.parent.is_dir():
        path.parent.mkdir(parents=True, mode=0o700)
        folder = " (and its folder, mode 0700)"
    target, where = path, ""
    if path.is_symlink() and not path.exists():
        owner = path.lstat().st_uid
        if owner != os.geteuid():
            raise StoreError(
                f"{path}: a symbolic link of {user_name(owner)}'s to {os.readlink(path)}, "
                "which does not exist: jobdash creates a store only through a link of "
                "your own"
            )
        target = Path(os.path.realpath(path))
        if not target.parent.is_dir():
            raise StoreError(f"{path}: links to {target}, in no folder {target.parent}")
        where = f" (at {target}, where the link points)"
    try:
        fd = os.open(target, os.O_CREAT | os.O_EXCL | os.O_WRONLY | os.O_CLOEXEC, 0o600)
    except FileExistsError:  # an empty file: SQLite takes it for an empty database
        if where or not path.is_file():
            raise _CreatedMeanwhile() from None
        if not path.stat().st_size:
            _note(db, f"created store at {path} (in the empty file there)")
            return False
        if _has_no_tables(path):  # an SQLite database of nothing yet (another program's)
            _note(db, f"created store at {path} (in the empty database there)")
            return False
        raise _CreatedMeanwhile() from None
    os.close(fd)
    _note(db, f"created store at {path}{where}{folder}")
    return True


def _has_no_tables(path: Path) -> bool:
    """True for an SQLite database with no table at all: a store is made in it as in an
    empty file (a program that opened the file and committed nothing leaves one). One that
    another jobdash is making has none to show either until it commits; the migration then
    waits for that commit and finds the store made."""
    try:
        con = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=0)
        try:
            return con.execute("SELECT count(*) FROM sqlite_master").fetchone()[0] == 0
        finally:
            con.close()
    except sqlite3.Error:
        return False


async def _connect(db: Db, version: int | None) -> int | None:
    """Connect `db`'s writer and reader; the schema the store was upgraded from, if it was
    (None for a store up to date, or created)."""
    # -wal and -shm files get the store's mode: a read-only session leaves them so.
    _chmod_sidecars(db.path)
    db.writer, upgraded = await db.in_thread(_connect_writer, db.path, version)
    _chmod_sidecars(db.path)
    db.connect_reader(await _connect_reader(db.path), lambda: _connect_reader(db.path))
    return upgraded


def _connect_writer(path: Path, version: int | None) -> tuple[sqlite3.Connection, int | None]:
    """The writer connection (in the writer's thread: opening may wait for a lock),
    migrated to SCHEMA_VERSION, and the schema it was upgraded from (see `migrate`).
    check_same_thread=False: its transactions run in that thread or, small ones, on the
    event loop's (both under the write lock, never at once)."""
    upgraded = None
    con = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        # Pragmas that answer a row are read to the end: a statement left open on the
        # writer makes its next COMMIT fail.
        con.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}").fetchall()
        _use_wal(con)
        con.execute("PRAGMA synchronous = NORMAL").fetchall()
        con.execute("PRAGMA foreign_keys = ON").fetchall()
        if version != SCHEMA_VERSION:  # a store up to date is not written to by opening it
            upgraded = migrate(con, path)
        # From now on a locked store is waited for in `Db.write`, and checkpoints (which
        # copy the WAL into the file and sync it) run in the writer's thread: neither may
        # hold up the event loop during a transaction run on its thread.
        con.execute("PRAGMA busy_timeout = 0").fetchall()
        con.execute("PRAGMA wal_autocheckpoint = 0").fetchall()
    except BaseException:
        con.close()
        raise
    return con, upgraded


def _use_wal(con: sqlite3.Connection) -> None:
    """Put the store in WAL mode, waiting for other processes as long as any write would.
    The conversion needs the file to itself and SQLite does not call the busy handler for
    it: a process that opens a store another has just made (or is closing) is refused at
    once ("database is locked"), or the mode quietly stays as it was. WAL mode lasts in the
    file, so a store already converted takes no lock here at all."""
    give_up = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.001
    while True:
        try:
            if con.execute("PRAGMA journal_mode").fetchall()[0][0] == "wal":
                return
            if con.execute("PRAGMA journal_mode = WAL").fetchall()[0][0] == "wal":
                return
        except sqlite3.OperationalError as e:
            if not is_busy(e) or time.monotonic() > give_up:
                raise
        if time.monotonic() > give_up:
            raise sqlite3.OperationalError("database is locked: could not switch it to WAL mode")
        time.sleep(delay)  # the writer's thread, not the event loop's
        delay = min(delay * 2, 0.05)


def _chmod_sidecars(path: Path) -> None:
    """-wal and -shm hold job output too: 0600 (their owner stays the store's; one
    that a session on a read-only store made 0400 is writable again). Only files of
    the store's owner, never through a link (see `make_private`)."""
    with contextlib.suppress(OSError):
        uid = path.stat().st_uid
        for suffix in ("-wal", "-shm"):
            with contextlib.suppress(OSError):
                make_private(sidecar(path, suffix), uid, follow=False, exact=0o600)


async def _connect_reader(
    where: Path | str, plain: bool = False
) -> aiosqlite.Connection | PlainConnection:
    """The reader connection (`where`: a path, or a URI); SQLite opens lazily, so it is
    made to open the file here, where a failure is a failure to open. `plain`: a plain
    sqlite3 connection, for a read without the event loop (`core.loopfree`)."""
    uri = isinstance(where, str)
    con: aiosqlite.Connection | PlainConnection
    if plain:
        con = PlainConnection(sqlite3.connect(where, isolation_level=None, uri=uri))
    else:
        import aiosqlite

        con = await aiosqlite.connect(where, isolation_level=None, uri=uri)
    try:
        await con.execute_fetchall(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        await con.execute_fetchall("SELECT count(*) FROM sqlite_master")
    except BaseException:
        await con.close()
        raise
    return con
