"""How a job's artifacts look, the same in `jobdash artifacts` and the job's details: their
columns, cells (names and types are data: sanitized by the table that shows them) and the
JSON object of one; and how much the store takes (`jobdash db size`)."""

from __future__ import annotations

from typing import Any

from jobdash.core.views import Artifact, StoreSize
from jobdash.present.sizes import size_text

__all__ = ["COLUMNS", "artifact_cells", "artifact_dict", "kept_where", "store_size_lines"]

COLUMNS = ("name", "size", "type", "task", "kept")


def kept_where(a: Artifact, folder: str | None) -> str:
    """ "in the store", or the kept file's path (`folder` None: its name alone, as the
    dashboard's narrow column shows it), with its host when it has one."""
    if a.file is None:
        return "in the store"
    where = a.file if folder is None else f"{folder}/{a.file}"
    return f"{a.host}:{where}" if a.host else where


def task_text(a: Artifact) -> str:
    return "job" if a.task_seq is None else f"#{a.task_seq}"


def artifact_cells(a: Artifact, folder: str | None) -> tuple[str, ...]:
    """One artifact's cells, in the order of COLUMNS."""
    return (a.name, size_text(a.size), a.media_type, task_text(a), kept_where(a, folder))


def artifact_dict(a: Artifact, folder: str) -> dict[str, Any]:
    """One artifact as `--json` gives it."""
    return {
        "job_id": a.job_id,
        "name": a.name,
        "size": a.size,
        "media_type": a.media_type,
        "sha256": a.sha256,
        "created": a.created,
        "task": a.task_seq,
        "kept": "store" if a.file is None else "file",
        "path": None if a.file is None else f"{folder}/{a.file}",
        "host": a.host,
    }


def store_size_lines(size: StoreSize, location: str) -> list[str]:
    """`jobdash db size`: the store, its artifacts, in all."""
    return [
        f"store      {location}",
        f"database   {size_text(size.database)}  (artifacts held in it: "
        f"{size_text(size.inline_bytes)})",
        f"files      {size_text(size.file_bytes)}  in {size.folder}",
        f"artifacts  {size.artifacts:,}",
        f"total      {size_text(size.total)}",
    ]
