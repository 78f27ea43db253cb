"""Reading the history: `jobs`, `show` and `export` (`logs` is `logs.py`'s).

Like every command group, this module holds what its commands do (their arguments are in
`declarations`); `main` imports it when one of them runs, not for `jobdash --help` or another
command.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from typing import TYPE_CHECKING, Any, TypeVar

from jobdash.cli.parser import EXIT_OK
from jobdash.cli.render import (
    cell,
    fields,
    job_dict,
    metrics_text,
    out,
    safe,
    tell,
    toned,
    when,
)
from jobdash.core.model import Job
from jobdash.present.text import sanitize, sanitize_lines
from jobdash.present.times import abbreviation, header
from jobdash.present.words import plural

if TYPE_CHECKING:
    import asyncio

    from jobdash.cli.tables import Listing
    from jobdash.core.service import Service

PAGE = 1000  # jobs read at once by a streamed listing or export
P = TypeVar("P", bound=Sequence[Any])  # a page: its rows (a row: what `id_of` reads)


def jobs_table(jobs: list[Job]) -> Listing:
    # A row's looks are imported where a row is drawn: `jobs` on an empty store draws none.
    from jobdash.cli.tables import listing
    from jobdash.present.durations import job_time
    from jobdash.present.progress import progress_count
    from jobdash.present.timing import info_beside_status, job_look

    now = time.time()
    zone = abbreviation(now)
    t = listing(
        "ID",
        "TYPE",
        "TARGET",
        "USER",
        "STATUS",
        "TASKS",
        "FAILED",
        header("STARTED", now),
        "TIME",
        "INFO",
        flex=("TARGET", "INFO"),
        drop=("USER", header("STARTED", now)),
        paths=("TARGET",),
    )
    for j in jobs:
        t.add_row(
            str(j.id),
            safe(j.type),
            cell(j.target),
            safe(j.user),
            toned(job_look(j, now)),
            progress_count(j),
            str(j.failed) if j.failed else "",
            when(j.started, zone),  # blank until its first task starts, as in `show`
            job_time(j, now),
            cell(info_beside_status(j)),
        )
    return t


def jobs_query(a: argparse.Namespace) -> str:
    parts = list(a.query)
    # Quoted as the filter language reads it: `--type "my type"` stays one value.
    for name in ("status", "type", "user"):
        parts += [f"{name}:{shlex.quote(v)}" for v in getattr(a, name)]
    if a.since:
        parts.append(f"since:{shlex.quote(a.since)}")
    return " ".join(parts)


async def job_pages(svc: Service, query: str, limit: int | None = None) -> AsyncIterator[list[Job]]:
    """The jobs `svc.jobs(query, limit=limit)` returns, read a page at a time: a listing or
    an export of millions holds one page in memory, not the history."""
    async for page in keyset_pages(
        lambda size, after: svc.jobs(query, limit=size, after_id=after),
        lambda j: j.id,
        limit,
        ahead=not svc.loop_free,
    ):
        yield page


async def keyset_pages(
    read: Callable[[int, int | None], Coroutine[Any, Any, P]],
    id_of: Callable[[Any], int],
    limit: int | None = None,
    ahead: bool = True,
) -> AsyncIterator[P]:
    """What `read(size, after_id)` gives, a page after another, up to `limit` in all.

    `ahead`: the next page is asked for before this one is handed on: the store reads it
    (SQLite in its reader's thread, PostgreSQL on the server) while the caller writes this
    one. Not without an event loop (`Service.loop_free`): a page is read when awaited."""
    start: Callable[[int, int | None], Awaitable[P]] = read
    if ahead:
        import asyncio

        def start(size: int, after: int | None) -> Awaitable[P]:
            return asyncio.ensure_future(read(size, after))

    size = PAGE if limit is None else min(PAGE, limit)
    pending: Any = start(size, None) if size > 0 else None
    try:
        while pending is not None:
            page = await pending
            pending = None
            if limit is not None:
                limit -= len(page)
            if len(page) == size and (limit is None or limit > 0):
                size = PAGE if limit is None else min(PAGE, limit)
                pending = start(size, id_of(page[-1]))
                if ahead:
                    await asyncio.sleep(0)  # let it start: its read is under way meanwhile
            if page:
                yield page
    finally:
        if isinstance(pending, Coroutine):  # not started: nothing to stop
            pending.close()
        elif pending is not None:  # the caller stopped early: the read is not wanted
            pending.cancel()
            pending.add_done_callback(_retrieved)


def _retrieved(task: asyncio.Future[Any]) -> None:
    """A read no one waits for any more: its error, if any, is taken (never logged)."""
    if not task.cancelled():
        task.exception()


async def cmd_jobs(svc: Service, a: argparse.Namespace) -> int:
    limit = None if a.all else a.limit
    if a.json:  # streamed: `jobs --all --json` of a long history
        from jobdash.core.service import JsonList  # the exports' module: not a table's

        pages = job_pages(svc, jobs_query(a), limit)
        page: list[Job] = await anext(pages, [])  # a bad query: an error, and no output
        listing = JsonList()
        sys.stdout.write(listing.begin())
        while page:
            sys.stdout.write(listing.items(job_dict(j) for j in page))
            page = await anext(pages, [])
        sys.stdout.write(listing.end() + "\n")
        return EXIT_OK
    # One more than shown: whether the listing stopped short is said, not left to guess.
    asked = None if limit is None else min(limit + 1, 2**63 - 1)  # a store's integer
    jobs = await svc.jobs(jobs_query(a), limit=asked)
    more = limit is not None and len(jobs) > limit
    if not jobs:
        tell("no jobs match")
    else:
        from jobdash.cli.tables import show_table

        show_table(jobs_table(jobs[:limit] if more else jobs))
    if more:
        tell(f"jobdash: the first {limit} shown; more match (--limit N, or --all)")
    if any(not j.status.finished for j in jobs) and not await svc.engine_alive():
        # Their status and times are what the last engine wrote: nothing moves them now.
        tell(
            f"jobdash: no engine is running on {svc.location}: the unfinished jobs wait "
            "until one starts — start one with `jobdash serve`"
        )
    return EXIT_OK


async def cmd_show(svc: Service, a: argparse.Namespace) -> int:
    job = await svc.job(a.job)
    tasks = await svc.tasks(a.job)
    if a.json:
        d = job_dict(job)
        d["tasks"] = [dataclasses.asdict(t) | {"status": str(t.status)} for t in tasks]
        print(json.dumps(d, indent=2, default=str))
        return EXIT_OK
    from rich.text import Text

    from jobdash.cli.tables import listing, show_table
    from jobdash.present.durations import job_time, task_time
    from jobdash.present.status import exit_text
    from jobdash.present.steps import finalize_text
    from jobdash.present.timing import job_look, task_look, timing_words
    from jobdash.present.unread import unread_text

    shown = job_look(job, time.time())
    out().print(Text.assemble(f"job {job.id}  ", (sanitize(job.type), "bold"), "  ", toned(shown)))
    fields(
        [
            ("target", job.target),
            ("params", " ".join(f"{k}={v}" for k, v in job.params.items())),
            (
                "started by",
                f"{job.user} ({job.trigger}{', ' + job.schedule_id if job.schedule_id else ''})",
            ),
            ("created", when(job.created)),
            ("started", when(job.started)),
            ("finished", when(job.finished)),
            (
                "tasks",
                f"{job.worked}/{job.total} done, {job.running} running, {job.failed} failed, {job.cancelled} cancelled",
            ),
            ("progress", f"{job.progress:.0f}%  {job_time(job, time.time())}".rstrip()),
            ("timing", timing_words(job, time.time())),
            ("info", job.info),
            ("finalize", finalize_text(svc.types.get(job.type))),
            ("metrics", metrics_text(job.metrics)),
            ("warnings", str(job.warnings) if job.warnings else ""),
            ("unread", unread_text(job.unread)),
        ],
        11,
    )
    t = listing(
        "#",
        "TASK",
        "STATUS",
        "TRY",
        "AGENT",
        "TIME",
        "EXIT",
        "ERROR",
        flex=("TASK",),
        fold=("ERROR",),
        paths=("TASK",),
    )
    now = time.time()
    for task in tasks:
        t.add_row(
            str(task.seq),
            safe(task.name),
            task_look(task, job, now).text,
            str(task.attempt),
            safe(task.agent or ""),
            task_time(task, job, now),
            exit_text(task.exit_code),
            safe(task.error),
        )
    out().print()
    show_table(t)
    return EXIT_OK


async def cmd_export(svc: Service, a: argparse.Namespace) -> int:
    from jobdash.cli.memory import keep_freed_memory
    from jobdash.core.service import Export, collector_held, open_output

    keep_freed_memory()  # a page's big texts: their memory kept for the next page's
    export = Export(a.format)
    query = " ".join(a.query)
    # Streamed, a page at a time, from the jobs' cells a column at a time (CSV: its export
    # cells; JSON: the record's), no `Job` built for each.
    read, write_page = (
        (svc.export_cell_columns, export.cells)
        if a.format == "csv"
        else (svc.export_columns, export.records)
    )
    pages = keyset_pages(
        lambda size, after: read(query, limit=size, after_id=after),
        lambda cells: int(cells[0]),  # EXPORT_CELLS and RECORD_CELLS: the id first
    )
    page: Sequence[Any] = await anext(pages, [])  # a bad query is refused before any file
    n = 0
    # Held: the pages make no cycle, and each page's rows set off collections (~5 % of it).
    with collector_held(), open_output(a.output or "-") as f:
        # Into a file or a pipe it is data, written as it is; on a terminal it is read,
        # and a parameter's escape (an OSC 52 clipboard write …) must not act. Asked once:
        # a system call a page let the store's reader thread hold the GIL meanwhile.
        on_terminal = f.isatty()

        def write(text: str) -> None:
            f.write(sanitize_lines(text) if on_terminal else text)

        write(export.begin())
        while page:
            write(write_page(page))
            n += len(page)
            page = await anext(pages, [])
        write(export.end())
    if a.output and a.output != "-":
        tell(f"{plural(n, 'job')} written to {a.output}")
    return EXIT_OK


COMMANDS = {"jobs": cmd_jobs, "show": cmd_show, "export": cmd_export}
