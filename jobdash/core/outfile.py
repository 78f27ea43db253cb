"""Writing an output file (an export, a saved log) without destroying what is there.

One rule for the CLI's `export -o` and the dashboard's export and log save:

- `-` is standard output.
- A device, a pipe, a socket, or a path that is a symbolic link is written to as it is:
  replacing it would destroy it (`export -o /dev/null` must not turn the machine's
  /dev/null into a regular file) or the link the user made.
- Anything else (a regular file, or nothing yet) is replaced atomically: the text goes to a
  temporary file in the same folder, created 0600 (exports and logs hold job output), is
  flushed to disk, then renamed onto the target. A reader never sees half a file, and a
  failure leaves the old file as it was.
- A folder, or a path in a folder that does not exist, is refused with one line.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import stat
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO

from jobdash.core.model import BadInput

__all__ = ["FILE_MODE", "open_output", "write_output"]

FILE_MODE = 0o600


def _refusal(path: Path, e: OSError) -> BadInput:
    if e.errno == errno.ENXIO:  # a pipe nobody reads: opening it would wait forever
        return BadInput(f"cannot write {path}: it is a pipe that nothing reads")
    return BadInput(f"cannot write {path}: {e.strerror or e}")


def _check_target(path: Path) -> os.stat_result | None:
    """The target's stat (following links), None when there is none yet; refuses a folder
    and a missing folder."""
    try:
        st = path.stat()
    except FileNotFoundError:
        st = None
    except OSError as e:
        raise _refusal(path, e) from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        raise BadInput(f"cannot write {path}: it is a folder (give a file name)")
    folder = path.parent
    if st is None and not path.is_symlink() and not folder.is_dir():
        raise BadInput(f"cannot write {path}: folder {folder} does not exist")
    return st


@contextlib.contextmanager
def _write_in_place(path: Path) -> Iterator[TextIO]:
    # O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of hanging; the
    # writes themselves then block as usual.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, FILE_MODE)
    except OSError as e:
        raise _refusal(path, e) from None
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    with open(fd, "w", encoding="utf-8", errors="surrogateescape") as out:
        yield out


@contextlib.contextmanager
def _replace_atomically(path: Path) -> Iterator[TextIO]:
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _refusal(path, e) from None
    try:
        with open(fd, "w", encoding="utf-8", errors="surrogateescape") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def open_output(target: str | os.PathLike[str]) -> Iterator[TextIO]:
    """A text file to write the output to, by the rules in this module's docstring.

    Raises BadInput (one line, naming the path) when the target cannot be written."""
    if str(target) == "-":
        yield sys.stdout
        sys.stdout.flush()
        return
    path = Path(target)
    st = _check_target(path)
    if path.is_symlink() or (st is not None and not stat.S_ISREG(st.st_mode)):
        opened = _write_in_place(path)
    else:
        opened = _replace_atomically(path)
    try:
        with opened as out:
            yield out
    except OSError as e:  # the disk filled up, the device refused, ...
        if e.errno == errno.EPIPE:
            raise
        raise _refusal(path, e) from None


def write_output(target: str | os.PathLike[str], text: str) -> None:
    """Write `text` to `target` by the rules of `open_output`."""
    with open_output(target) as out:
        out.write(text)
