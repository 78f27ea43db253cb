"""Writing an output file (an export, a saved log) without destroying what is there.

Two rules, by who chose the file's name.

A name jobdash chose (the dashboard's `jobdash-job-ID.log`, `jobdash-export-STAMP.csv`,
`jobdash-screenshot-STAMP.svg`, in its working folder): `create_new`. Such a name is
predictable, and the folder may be shared (a 1777 folder): anyone who can write there could
put a symbolic link at the name, pointing at a file of whoever runs the dashboard (root's
/etc/shadow). So the file is always created new, 0600, never opened: when something is at
the name already (a file, a folder, a link), the next name is taken (`-1`, `-2` …).

A path the user typed (`export -o PATH`): `open_output`. The user named it, so:

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
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any, BinaryIO, TextIO, cast

from jobdash.core.model import BadInput

__all__ = [
    "FILE_MODE",
    "create_new",
    "open_binary_output",
    "open_output",
    "working_folder",
    "write_new",
    "write_output",
]

FILE_MODE = 0o600
NEW_NAMES = 100  # names `create_new` tries (NAME, NAME-1 … NAME-99) before it gives up


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


def _opened(fd: int, binary: bool) -> IO[Any]:
    if binary:
        return open(fd, "wb")
    return open(fd, "w", encoding="utf-8", errors="surrogateescape")


@contextlib.contextmanager
def _write_in_place(path: Path, binary: bool) -> Iterator[IO[Any]]:
    # O_NONBLOCK: a FIFO without a reader fails at once (ENXIO) instead of hanging; the
    # writes themselves then block as usual.
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NONBLOCK, FILE_MODE)
    except OSError as e:
        raise _refusal(path, e) from None
    flags = fcntl.fcntl(fd, fcntl.F_GETFL)
    fcntl.fcntl(fd, fcntl.F_SETFL, flags & ~os.O_NONBLOCK)
    with _opened(fd, binary) as out:
        yield out


@contextlib.contextmanager
def _replace_atomically(path: Path, binary: bool) -> Iterator[IO[Any]]:
    from tempfile import mkstemp  # only where a file is written

    try:
        fd, tmp = mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise _refusal(path, e) from None
    try:
        with _opened(fd, binary) as out:
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
    with _output(target, binary=False) as out:
        yield cast(TextIO, out)


@contextlib.contextmanager
def open_binary_output(target: str | os.PathLike[str]) -> Iterator[BinaryIO]:
    """`open_output` for bytes (an artifact saved as it is)."""
    with _output(target, binary=True) as out:
        yield cast(BinaryIO, out)


@contextlib.contextmanager
def _output(target: str | os.PathLike[str], binary: bool) -> Iterator[IO[Any]]:
    if str(target) == "-":
        sys.stdout.flush()
        stdout: IO[Any] = sys.stdout.buffer if binary else sys.stdout
        yield stdout
        stdout.flush()
        return
    path = Path(target)
    st = _check_target(path)
    if path.is_symlink() or (st is not None and not stat.S_ISREG(st.st_mode)):
        opened = _write_in_place(path, binary)
    else:
        opened = _replace_atomically(path, binary)
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


def working_folder() -> Path:
    """The working folder, where the dashboard writes its files; refused in one line when
    it is gone (deleted or moved away under the running dashboard) or cannot be read."""
    try:
        return Path(os.getcwd())
    except OSError as e:
        try:  # Linux names the lost folder: "/srv/x (deleted)"
            lost = os.readlink("/proc/self/cwd").removesuffix(" (deleted)")
        except OSError:
            lost = os.environ.get("PWD", "")
        folder = f"the working folder {lost}" if lost else "the working folder"
        why = "no longer exists" if e.errno == errno.ENOENT else f"cannot be used ({e.strerror})"
        raise BadInput(
            f"cannot save: {folder} {why} (the dashboard saves its files there; "
            "restart it in another folder)"
        ) from None


@contextlib.contextmanager
def create_new(stem: str, suffix: str) -> Iterator[tuple[Path, TextIO]]:
    """A new file, named by jobdash, in the working folder: `STEM SUFFIX`, else
    `STEM-1 SUFFIX`, `STEM-2 SUFFIX` …, created (O_CREAT | O_EXCL | O_NOFOLLOW, 0600)
    and never an existing entry written through (see the module docstring). Yields its
    path and the file; a failure while writing removes the file.

    Raises BadInput (one line, naming the path) when it cannot be created or written."""
    folder = working_folder()
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    for n in range(NEW_NAMES):
        path = folder / f"{stem}{f'-{n}' if n else ''}{suffix}"
        try:
            fd = os.open(path, flags, FILE_MODE)
            break
        except FileExistsError:
            continue
        except OSError as e:
            raise _refusal(path, e) from None
    else:
        raise BadInput(
            f"cannot write {folder / (stem + suffix)}: that name and the next "
            f"{NEW_NAMES - 1} are taken (move the old files away)"
        )
    try:
        with open(fd, "w", encoding="utf-8", errors="surrogateescape") as out:
            yield path, out
    except BaseException as e:
        with contextlib.suppress(OSError):
            os.unlink(path)  # ours: in a sticky folder nobody else may swap it
        if isinstance(e, OSError) and e.errno != errno.EPIPE:
            raise _refusal(path, e) from None
        raise


def write_new(stem: str, suffix: str, text: str) -> Path:
    """Write `text` to a new file by the rules of `create_new`; returns its path."""
    with create_new(stem, suffix) as (path, out):
        out.write(text)
    return path
