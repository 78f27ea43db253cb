"""Before a store file is opened: is it ours, is it a jobdash store, is it whole.

One SQLite store serves one OS user: the kernel lets whoever may write the file write
anything in it, so jobdash cannot keep users apart inside it. A store owned by another uid
is refused (root excepted: it may open any user's store, and SQLite gives the -wal and -shm
files it creates to the store's owner). Several users share jobs through a PostgreSQL
store, where the database enforces who sees what.

Everything here reads only, through a read-only connection that creates nothing
(`immutable` when no -wal exists): a file that is not a whole jobdash store is never
modified. A store is created only where none exists: a missing file (in an existing folder,
or in the default data folder, which is created 0700), or an empty file.
"""

from __future__ import annotations

import os
import sqlite3
import stat
from pathlib import Path

from jobdash.core.identity import user_name
from jobdash.core.store.faults import StoreError, one_line
from jobdash.core.store.schema import APP_ID, SCHEMA_VERSION
from jobdash.core.store.sqlite_faults import damaged, store_error

SQLITE_MAGIC = b"SQLite format 3\x00"


def check_store_file(path: Path, create_folder: bool = False) -> int | None:
    """The schema version of the jobdash store at `path`, or None when a store is to be
    created there; StoreError (one line) when it cannot or must not be used.

    `create_folder`: the path is the default one, whose folder may be created."""
    try:
        st = path.stat()
    except FileNotFoundError:
        check_folder(path, create_folder)
        return None
    except OSError as e:
        raise store_error(path, e) from None
    if stat.S_ISDIR(st.st_mode):
        raise StoreError(f"{path}: is a directory, not a jobdash store")
    if not stat.S_ISREG(st.st_mode):
        raise StoreError(f"{path}: not a regular file (a device, pipe or socket); left untouched")
    check_owner(path, st.st_uid)
    try:
        with path.open("rb") as f:
            head = f.read(len(SQLITE_MAGIC))
    except OSError as e:
        raise store_error(path, e) from None
    if not head:
        return None  # an empty file: SQLite takes it for an empty database
    if head != SQLITE_MAGIC:
        raise StoreError(f"{path}: not a jobdash store (not an SQLite database); left untouched")
    try:
        return read_version(path)
    except sqlite3.Error as e:
        raise store_error(path, e) from None


def check_folder(path: Path, create_folder: bool) -> None:
    """A store may be created at `path`: its folder exists (or is the default one)."""
    folder = path.parent
    if folder.is_dir() or create_folder:
        return
    if folder.exists():
        raise StoreError(f"{path}: {folder} is not a folder")
    raise StoreError(
        f"{path}: no folder {folder} (create it first: jobdash creates only its default "
        "data folder)"
    )


def check_owner(path: Path, uid: int) -> None:
    me = os.geteuid()
    if uid == me or me == 0:
        return
    raise StoreError(
        f"{path}: belongs to {user_name(uid)}, not to you ({user_name(me)}): a SQLite store "
        "serves one OS user; for several users, share a PostgreSQL store (a later jobdash "
        "feature)"
    )


def read_version(path: Path) -> int | None:
    """The store's schema version after `PRAGMA quick_check` (None: an SQLite database
    without tables, to initialise)."""
    # A WAL-mode file opened even read-only gets -wal and -shm files created beside it;
    # `immutable` reads the file alone. Only when a -wal exists (someone uses it: it may
    # hold committed pages) is it read the ordinary way, which then creates nothing new.
    wal = Path(f"{path}-wal").exists()
    con = sqlite3.connect(
        f"{path.resolve().as_uri()}?mode=ro{'' if wal else '&immutable=1'}", uri=True
    )
    try:
        # Every page is read: about 2 ms per MB of store (a store of 100,000 jobs, 134 MB,
        # takes 0.3 s with the file in the page cache).
        problems = [r[0] for r in con.execute("PRAGMA quick_check(5)")]
        if problems != ["ok"]:
            raise damaged(path, "; ".join(problems))
        tables = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        if "meta" not in tables:
            raise StoreError(
                f"{path}: not a jobdash store (an SQLite database of something else); left untouched"
            )
        meta = dict(con.execute("SELECT key, value FROM meta").fetchall())
    finally:
        con.close()
    if meta.get("app") != APP_ID:
        raise StoreError(
            f"{path}: not a jobdash store (meta.app is {meta.get('app')!r}); left untouched"
        )
    text = meta.get("schema_version", "0")
    try:
        version = int(text)
    except (TypeError, ValueError):
        raise damaged(
            path, f"meta.schema_version is {one_line(repr(text), 40)}, not a number"
        ) from None
    if version > SCHEMA_VERSION:
        raise StoreError(
            f"{path}: made by a newer jobdash (store schema {version}, this version knows "
            f"{SCHEMA_VERSION}); upgrade jobdash — the store was left untouched"
        )
    if version < 1:
        raise damaged(path, f"meta.schema_version is {version}")
    return version
