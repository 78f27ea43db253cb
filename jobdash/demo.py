"""Demo job types, written with jobdash's public Python API (see the README).

They simulate real work (sleeps, realistic log lines, the odd failure) so that a newcomer
running `jobdash --demo` sees live jobs, failures to retry, a job that refuses to be
cancelled, an exclusive one and one that finalizes (export-report sends its exports).
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from typing import Any

from jobdash.api import FinalizeContext, JobContext, JobType, Param, TaskContext
from jobdash.present.words import plural

SPEED = 1.0  # tests shorten the demo by lowering this
MAX_FILES = 1_000  # import-files simulates at most this many (checked at submit)


async def _work(ctx: TaskContext, seconds: float, steps: int = 5) -> None:
    """Sleep `seconds` in `steps`, reporting progress and honouring pause and cancel."""
    for i in range(steps):
        await ctx.checkpoint()
        await asyncio.sleep(seconds * SPEED / steps)
        ctx.progress((i + 1) / steps)


# --------------------------------------------------------------------------- import-files


async def import_files(ctx: JobContext) -> None:
    """Plan: one task per file found in the source folder."""
    source = ctx.params["source"]
    count = int(ctx.params.get("files", "40"))
    ctx.log(f"scanning {source}")
    for i in range(1, count + 1):
        ctx.add_task(import_one, f"{source}/batch-{i:03d}.csv")
    ctx.log(f"found {plural(count, 'file')} to import")


async def import_one(ctx: TaskContext, path: str) -> None:
    rng = random.Random(f"{path}:{ctx.attempt}")
    rows = rng.randint(200, 5000)
    ctx.log(f"reading {path}")
    ctx.log(f"header ok: id,name,email,created ({plural(rows, 'row')})")
    await _work(ctx, rng.uniform(1.0, 4.0))
    if rng.random() < 0.08:
        ctx.log(f"row {rng.randint(2, rows)}: invalid date '31/02/2026'", "stderr")
        raise ValueError(f"{path}: invalid date in column 'created'")
    if rng.random() < 0.1:
        ctx.warn(f"{path}: {rng.randint(1, 9)} duplicate ids skipped")
    ctx.metric("rows", rows)
    ctx.metric("files", 1)
    ctx.log(f"imported {plural(rows, 'row')} from {path}")


# --------------------------------------------------------------------------- export-report


async def export_report(ctx: JobContext) -> None:
    for table in ("customers", "orders", "invoices", "payments", "shipments", "returns"):
        ctx.add_task(export_table, table)


async def export_table(ctx: TaskContext, table: str) -> None:
    rng = random.Random(table)
    rows = rng.randint(1000, 90000)
    fmt = ctx.params.get("format", "csv")
    ctx.log(f"reading table {table} ... {plural(rows, 'row')}")
    await _work(ctx, rng.uniform(2.0, 6.0), steps=8)
    ctx.metric("rows", rows)
    ctx.log(f"wrote exports/{table}.{fmt} ({rows * 112 // 1024} KiB)")


async def send_exports(ctx: FinalizeContext) -> None:
    """The finalize step: once every table is written, zip them and send them on."""
    tables = [t for t in await ctx.tasks() if t.item is not None and t.status == "succeeded"]
    ctx.log(f"zipping {plural(len(tables), 'export')} into exports.zip ({ctx.results.outcome})")
    await _work(ctx, 3.0)
    ctx.log("sent exports.zip to reporting@example.com")


# --------------------------------------------------------------------------- fix-permissions


async def fix_permissions(ctx: JobContext) -> None:
    root = ctx.params["path"]
    for team in ("finance", "hr", "legal", "ops", "sales", "support", "eng", "design"):
        ctx.add_task(fix_folder, f"{root}/{team}")


async def fix_folder(ctx: TaskContext, folder: str) -> None:
    rng = random.Random(folder)
    n = rng.randint(50, 400)
    ctx.log(f"chown -R svc-share:{folder.rsplit('/', 1)[-1]} {folder}")
    await _work(ctx, rng.uniform(1.0, 3.0))
    ctx.log(f"chmod 2770 on {plural(n, 'directory')}, 0660 on {plural(n * 7, 'file')}")
    ctx.metric("entries", n * 8)


# --------------------------------------------------------------------------- archive-space


async def archive_space(ctx: JobContext) -> None:
    space = ctx.params["space"]
    for part in ("pages", "attachments", "comments", "history"):
        ctx.add_task(archive_part, f"{space}/{part}")


async def archive_part(ctx: TaskContext, part: str) -> None:
    rng = random.Random(part)
    size = rng.randint(10, 900)
    ctx.log(f"tar --zstd -cf archive/{part.replace('/', '-')}.tar.zst {part}")
    await _work(ctx, rng.uniform(3.0, 7.0), steps=10)
    ctx.metric("MiB", size)
    ctx.log(f"archived {part}: {size} MiB")


def _demo_type(function: Callable[[JobContext], Awaitable[None]], **fields: Any) -> JobType:
    """A demo job type: named after its job function (in this module), its source "demo"."""
    name = function.__name__
    return JobType(
        name=name.replace("_", "-"), function=f"jobdash.demo:{name}", source="demo", **fields
    )


DEMO_TYPES: dict[str, JobType] = {
    jt.name: jt
    for jt in (
        _demo_type(
            import_files,
            description="Import CSV files into the archive (demo)",
            params=(
                Param("source", default="/srv/incoming", help="folder to import from"),
                Param(
                    "files",
                    default="40",
                    help="how many files to simulate",
                    minimum=1,
                    maximum=MAX_FILES,
                ),
            ),
            parallel=4,
            retries=1,
            backoff=2.0,
            locks=("folder:{source}",),
            schedule="interval: 5m",
        ),
        _demo_type(
            export_report,
            description="Export the reporting tables (demo)",
            params=(Param("format", default="csv", help="csv or parquet"),),
            parallel=3,
            target="format",
            schedule="cron: 0 6 * * *",
            finalize="jobdash.demo:send_exports",
        ),
        _demo_type(
            fix_permissions,
            description="Reset owners and modes under a share (demo; cannot be cancelled)",
            params=(Param("path", default="/srv/share", help="share root"),),
            parallel=2,
            cancellable=False,
        ),
        _demo_type(
            archive_space,
            description="Archive a wiki space (demo; exclusive)",
            params=(Param("space", required=True, help="space key"),),
            parallel=2,
            exclusive=True,
        ),
    )
}

# What `--demo` starts so that there is something live to see at once.
DEMO_JOBS: list[tuple[str, dict[str, str]]] = [
    ("import-files", {"source": "/srv/incoming/2026-11"}),
    ("export-report", {"format": "csv"}),
    ("fix-permissions", {"path": "/srv/share"}),
    ("archive-space", {"space": "OPS"}),
    ("archive-space", {"space": "HR"}),
]
