"""The store's artifacts folder: where artifacts too big for the store are kept as files,
beside a SQLite store (`jobdash.db-artifacts/`) or, for a PostgreSQL store, in the data folder
of the user an engine runs as, on its host.

Made 0700, each file created 0600, new (`O_EXCL`), never through a link, under a name jobdash
chose (`12-3f2a9c1e8b7d4a60`: the job, then random). A row of the store is data anyone who
may write the store could have written, so a recorded file name that is not one of ours
(`FILE_NAME`) is never opened nor removed: nothing outside the folder is ever read or deleted
on a row's word.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterable
from pathlib import Path
from typing import BinaryIO

from jobdash.core.model import BadInput
from jobdash.core.patterns import compiled
from jobdash.present.text import sanitize

FOLDER_MODE = 0o700
FILE_MODE = 0o600
FILE_NAME = r"[0-9]{1,19}-[0-9a-f]{16}\Z"  # the names jobdash gives its files


def host_name() -> str:
    """This host, as a kept file's row names it."""
    import socket  # here: a read of the store names no host

    return socket.gethostname()


def open_folder(folder: Path) -> Path:
    """The artifacts folder, made 0700 if missing; refused (BadInput) when it is a link or
    not a folder, and made 0700 again when its mode lets others in."""
    try:
        folder.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
        folder.mkdir(mode=FOLDER_MODE, exist_ok=True)
        st = folder.lstat()
    except OSError as e:
        raise BadInput(f"artifacts folder {folder}: {e.strerror or e}") from None
    if not stat.S_ISDIR(st.st_mode):
        raise BadInput(f"artifacts folder {folder} is not a folder (a link or a file)")
    if stat.S_IMODE(st.st_mode) != FOLDER_MODE:
        os.chmod(folder, FOLDER_MODE, follow_symlinks=False)
    return folder


def file_in(folder: Path, name: str) -> Path:
    """The file `name` of the folder, when it is a name jobdash gives its files; BadInput
    otherwise (a row naming any other path is never followed)."""
    if not compiled(FILE_NAME).match(name):
        raise BadInput(f"artifact file {sanitize(name)!r} is not one jobdash wrote; not read")
    return folder / name


def open_kept(folder: Path, name: str) -> BinaryIO:
    """A kept file, to read (never through a link)."""
    path = file_in(folder, name)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    except OSError as e:
        raise BadInput(f"artifact file {path}: {e.strerror or e}") from None
    return open(fd, "rb")


def remove_kept(folder: Path, names: list[str]) -> int:
    """Remove kept files (gone already: fine); how many were removed."""
    removed = 0
    for name in names:
        with contextlib.suppress(BadInput, FileNotFoundError):
            os.unlink(file_in(folder, name))
            removed += 1
    return removed


def copy_in(folder: Path, job_id: int, chunks: Iterable[bytes]) -> tuple[str, int, str]:
    """Write `chunks` to a new file of the folder (0600, created new); its name, size and
    SHA-256. A failure removes what was written."""
    open_folder(folder)
    import hashlib  # OpenSSL's library, and secrets: only where an artifact is written
    from secrets import token_hex

    name = f"{job_id}-{token_hex(8)}"
    path = folder / name
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    digest, size = hashlib.sha256(), 0
    try:
        with open(os.open(path, flags, FILE_MODE), "wb") as out:
            for chunk in chunks:
                digest.update(chunk)
                size += len(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(path)
        if isinstance(e, OSError):
            raise BadInput(f"cannot keep an artifact in {folder}: {e.strerror or e}") from None
        raise
    return name, size, digest.hexdigest()
