"""SQLite's failures as StoreErrors: which result codes are the store's own trouble (its
file, its disk) rather than a bad statement, and the one line for each. `Db` turns every
SQLite error into one of these (and remembers damage); nothing of sqlite3 leaves the backend.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import sqlite3
import stat
from pathlib import Path

from jobdash.core.store.faults import StoreError, one_line

# What a writing command adds when the store cannot be written: reading it still works.
READING_STILL = " (reading still works: jobs, show, logs, export, jobdash --read-only)"
DAMAGED = frozenset({sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})
# Failures of the store itself (its file, its disk), as opposed to a bad statement: a
# command reports them in one line, an engine retries them.
FAULTS = DAMAGED | {
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PERM,
    sqlite3.SQLITE_AUTH,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_NOLFS,
    sqlite3.SQLITE_PROTOCOL,
}


def error_code(e: BaseException) -> int:
    """SQLite's primary result code of an error (0 when it has none)."""
    return (getattr(e, "sqlite_errorcode", None) or 0) & 0xFF


def is_fault(e: BaseException) -> bool:
    return isinstance(e, sqlite3.Error) and error_code(e) in FAULTS


def damaged(path: Path, detail: str) -> StoreError:
    """The store's file is damaged: refuse it, and say how to get the data back."""
    where = shlex.quote(str(path))
    return StoreError(
        f"{path}: the store is damaged ({one_line(detail)}); jobdash will not use or write "
        f"to it. Recover what it holds with `sqlite3 {where} .recover | sqlite3 NEW.db` (where "
        "sqlite3 has no .recover: `.dump`, its last line ROLLBACK made COMMIT) and run with "
        "--db NEW.db, or restore a backup",
        fault=f"the store is damaged ({one_line(detail)})",
    )


def cannot_write(e: BaseException) -> bool:
    """SQLite's error says the store, or its folder, cannot be written (by this user, or at
    all): a reading command may still read it."""
    return isinstance(e, sqlite3.Error) and error_code(e) in (
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PERM,
    )


def why_not_writable(path: Path) -> str | None:
    """Why the store at `path` cannot be written, as the file system says: a read-only
    file system, or the permissions of the file or of its folder (None: neither)."""
    real = Path(os.path.realpath(path))
    folder = real.parent
    with contextlib.suppress(OSError):
        if os.statvfs(folder).f_flag & os.ST_RDONLY:
            return "it is on a read-only file system"
    try:
        mode = stat.S_IMODE(real.stat().st_mode)
    except OSError:
        mode = None
    if mode is not None and not os.access(real, os.W_OK, effective_ids=True):
        return f"the store file is not writable by you (mode {mode:04o})"
    if not os.access(folder, os.W_OK | os.X_OK, effective_ids=True):
        return (
            f"its folder {folder} is not writable by you (SQLite adds -wal and -shm files "
            "beside the store)"
        )
    return None


def store_error(path: Path, e: BaseException) -> StoreError:
    """One line for a failure of the store file `path` (an sqlite3.Error or OSError)."""
    if error_code(e) in DAMAGED:
        return damaged(path, str(e))
    why = (e.strerror or str(e)).lower() if isinstance(e, OSError) else str(e)
    if cannot_write(e) and (reason := why_not_writable(path)):
        return StoreError(f"{path}: cannot write the store: {reason}{READING_STILL}", why)
    if isinstance(e, OSError):
        return StoreError(f"{path}: cannot open the store: {why}", why)
    if error_code(e) == sqlite3.SQLITE_FULL:
        return StoreError(f"{path}: cannot write the store: {why}", why)
    if cannot_write(e):
        return StoreError(
            f"{path}: cannot write the store ({why}): the store and its folder must be "
            "writable by you (SQLite adds -wal and -shm files beside it)",
            why,
        )
    return StoreError(f"{path}: store failure: {why}", why)
