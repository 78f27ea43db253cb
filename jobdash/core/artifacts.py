"""Artifacts: the files a job produces (a PDF, a report), kept with the job.

A Python task hands one over with `await ctx.artifact(name, path_or_bytes, media_type=…)`;
a command type declares globs (`artifacts = ["{out}/*.pdf"]`) whose files are collected when
a task of it succeeds. Either way the content is checked and kept here:

- up to `inline_max` bytes (`[jobdash] artifact_inline_max`, default 1 MiB) in the store
  itself, with the job's rows;
- bigger, copied into the store's private artifacts folder (`Store.artifact_folder`, see
  `core.store.artifact_files`: 0700, files 0600, named by jobdash), and recorded by that
  file's name, its size and its SHA-256.

An artifact's name is data too (`check_name`): unique in its job, at most 200 characters,
printable, no `/`, `\\`, `.` or `..`; markup is kept as typed and shown inert everywhere.
A file collected by a glob is named by its file name made safe (`safe_name`).
"""

from __future__ import annotations

import asyncio
import errno
import glob as globbing
import hashlib
import io
import itertools
import os
import re
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from jobdash.core.model import BadInput
from jobdash.core.patterns import compiled
from jobdash.core.store.artifact_files import (
    FILE_NAME,
    copy_in,
    host_name,
    open_kept,
    remove_kept,
)
from jobdash.core.store.base import Store
from jobdash.core.store.engine_records import NewArtifact
from jobdash.core.views import Artifact
from jobdash.present.text import name_problem, sanitize

INLINE_MAX = 1024 * 1024  # bytes kept in the store itself (`artifact_inline_max`)
NAME_LIMIT = 200
PER_TASK = 100  # files one command task's globs may collect
CHUNK = 1024 * 1024
MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}\Z")
TEXT_TYPES = ("application/json", "application/xml", "application/x-yaml", "application/toml")
_SAFE = re.compile(r"[^\w.,+=@%~()\[\]{}!#$&' -]", re.UNICODE)


def check_name(name: object) -> str:
    """An artifact's name, or BadInput (one line) saying what is wrong with it."""
    if not isinstance(name, str):
        raise BadInput(f"an artifact's name is a string, got {type(name).__name__}")
    problem = name_problem(name, NAME_LIMIT)
    if problem is None and ("/" in name or "\\" in name):
        problem = f"'{sanitize(name)}' has a '/' or '\\' (a name, not a path)"
    if problem is None and name in (".", ".."):
        problem = f"'{name}' is not a name"
    if problem:
        raise BadInput(f"artifact name {problem}")
    return name


def safe_name(raw: str) -> str:
    """A collected file's name as an artifact's: every character a name may not hold
    becomes `_`, and it is cut to the limit (the end kept: it holds the extension)."""
    name = _SAFE.sub("_", raw).strip() or "artifact"
    name = name[-NAME_LIMIT:]
    return "artifact" if name in (".", "..") else name


def media_type_of(name: str, given: str | None = None) -> str:
    """The media type given (checked: `type/subtype`), else guessed from the name."""
    if given is not None:
        if not isinstance(given, str) or not MEDIA_TYPE.match(given.lower()):
            raise BadInput(f"media type {sanitize(str(given))!r} is not type/subtype")
        return given.lower()
    from mimetypes import guess_type  # here: it reads its tables when imported

    guessed, _ = guess_type(name, strict=False)
    return guessed or "application/octet-stream"


def is_text(media_type: str) -> bool:
    """Whether an artifact of this type reads as text (a pager shows it)."""
    return media_type.startswith("text/") or media_type in TEXT_TYPES


def _read_source(source: Path) -> BinaryIO:
    """A file a task hands over, opened to read: a regular file, not through a link."""
    try:
        fd = os.open(source, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError as e:
        if e.errno == errno.ELOOP:
            raise BadInput(f"{source} is a symbolic link; not kept") from None
        raise BadInput(f"cannot read {source}: {e.strerror or e}") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise BadInput(f"{source} is not a regular file; not kept")
    return open(fd, "rb")


def _chunks(f: BinaryIO) -> Iterator[bytes]:
    while chunk := f.read(CHUNK):
        yield chunk


def prepare(
    folder: Path,
    job_id: int,
    task_id: int | None,
    name: str,
    source: bytes | str | os.PathLike[str],
    media_type: str | None,
    inline_max: int,
) -> NewArtifact:
    """Check an artifact and make its record: small content in it, big content copied into
    the folder first (blocking: run it in a thread)."""
    check_name(name)
    kind = media_type_of(name, media_type)
    if isinstance(source, bytes | bytearray | memoryview):
        data = bytes(source)
        if len(data) <= inline_max:
            return NewArtifact(
                job_id, task_id, name, kind, len(data), hashlib.sha256(data).hexdigest(), data
            )
        file, size, digest = copy_in(folder, job_id, iter([data]))
        return NewArtifact(job_id, task_id, name, kind, size, digest, None, file, host_name())
    if not isinstance(source, str | os.PathLike):
        raise BadInput(f"artifact {sanitize(name)!r}: give bytes or a file's path")
    with _read_source(Path(source)) as f:
        chunks: Iterable[bytes] = _chunks(f)
        if os.fstat(f.fileno()).st_size <= inline_max:
            data = f.read(inline_max + 1)
            if len(data) <= inline_max:  # it may have grown meanwhile
                digest = hashlib.sha256(data).hexdigest()
                return NewArtifact(job_id, task_id, name, kind, len(data), digest, data)
            chunks = itertools.chain([data], chunks)
        file, size, digest = copy_in(folder, job_id, chunks)
    return NewArtifact(job_id, task_id, name, kind, size, digest, None, file, host_name())


async def keep(
    store: Store,
    job_id: int,
    task_id: int | None,
    name: str,
    source: bytes | str | os.PathLike[str],
    media_type: str | None = None,
    inline_max: int = INLINE_MAX,
) -> Artifact:
    """Check an artifact and keep it with its job (see the module). BadInput (one line)
    when it cannot be: a bad name or media type, a file that is not one, a full disk."""
    new = await asyncio.to_thread(
        prepare, store.artifact_folder, job_id, task_id, name, source, media_type, inline_max
    )
    try:
        return await store.add_artifact(new)
    except BaseException:
        if new.file is not None:
            remove_kept(store.artifact_folder, [new.file])
        raise


def collect(patterns: list[str]) -> tuple[list[Path], list[str]]:
    """The files a succeeded command task's globs match (sorted, at most PER_TASK), and
    what was left out, each said in one line."""
    found: list[Path] = []
    notes: list[str] = []
    for pattern in patterns:
        matched = sorted(globbing.glob(pattern))
        if not matched:
            notes.append(f"artifacts: nothing matches {pattern}")
        for match in matched:
            path = Path(match)
            if path.is_symlink() or not path.is_file():
                notes.append(f"artifacts: {match} is not a regular file; not kept")
            elif len(found) >= PER_TASK:
                notes.append(f"artifacts: more than {PER_TASK} files; {match} not kept")
            elif path not in found:
                found.append(path)
    return found, notes


def read_all(store_folder: Path, artifact: Artifact, data: bytes | None) -> BinaryIO:
    """An artifact's content to read: its bytes from the store, or its kept file (of this
    host's folder; BadInput, one line, for one kept on another host)."""
    if data is not None:
        return io.BytesIO(data)
    assert artifact.file is not None
    if artifact.host and artifact.host != host_name():
        raise BadInput(
            f"artifact {sanitize(artifact.name)!r} of job {artifact.job_id} is kept on host "
            f"{sanitize(artifact.host)} (in its artifacts folder): read it there"
        )
    return open_kept(store_folder, artifact.file)


SWEEP_AGE = 3600.0  # seconds a kept file no row names is left alone (it may be being kept)


def _unnamed_candidates(folder: Path, older_than: float) -> list[str]:
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return []
    return [
        e.name
        for e in entries
        if compiled(FILE_NAME).match(e.name)
        and e.is_file(follow_symlinks=False)
        and e.stat(follow_symlinks=False).st_mtime < older_than
    ]


async def sweep_kept(store: Store, now: float) -> int:
    """Remove this host's kept files that no row names any more: those whose job another
    process removed (on PostgreSQL, `jobdash clear` run elsewhere, as another user, removes
    the rows; the engine of the host holding the files removes them here). Only a
    connection that sees every row may judge; files younger than SWEEP_AGE are left."""
    if store.role is not None and not store.role.admin:
        return 0
    folder = store.artifact_folder
    names = await asyncio.to_thread(_unnamed_candidates, folder, now - SWEEP_AGE)
    if not names:
        return 0
    known = await store.known_files(names)
    return await asyncio.to_thread(remove_kept, folder, [n for n in names if n not in known])
