"""`jobdash logs`: the log of one job, of several (`logs 12 13 14`), or of every job a
query selects (`logs --query 'status:running type:import'`); `-f` follows them while they
run, `--tail N` starts from each one's last lines, `-o FILE` saves, `--json` gives one
object a line.

Every job's lines are read through one `LogFeed` (the service's), which merges them in the
order they were written (while following, each task's lines in order) and says when following is over: once every job followed has ended
(finished, every line printed). The lines of several jobs start with their job and task
("12 #2 beta | …"), as `docker compose logs` does, in a colour of each job's own on a
terminal; piped or without colour, a plain prefix. What a job printed stays data: made
inert, never markup.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from typing import TYPE_CHECKING

from jobdash.cli.chosen import chosen_jobs
from jobdash.cli.parser import EXIT_FAILED, EXIT_OK
from jobdash.cli.render import (
    colored,
    is_terminal,
    plain_log_lines,
    plain_log_texts,
    print_log_line,
    tell,
)
from jobdash.core.model import BadInput, LogLine, NotFound
from jobdash.core.views import LogBlock, LogTexts
from jobdash.present.logs import LABEL_WIDTH, JobLabels, TaskLabels, saved_line, task_ids
from jobdash.present.text import inert_joined, sanitize_joined
from jobdash.present.words import plural

if TYPE_CHECKING:
    from jobdash.core.service import LogFeed, Service

__all__ = ["COMMANDS", "LogPrinter"]

LOG_PAGE = 5000  # log lines read at once, of each job
FOLLOW_POLL = 0.25  # seconds between looks while following and nothing came
ENGINE_LOOK = 5.0  # seconds between looks for a live engine while following


class LogPrinter:
    """Prints log lines as they come. One job's: once it has more than one task, each line
    says which task printed it (the tasks of a job run side by side). Several jobs' (`several`):
    each line says its job and task, in the job's colour on a terminal."""

    def __init__(
        self,
        svc: Service,
        job_ids: Sequence[int],
        tty: bool,
        one_task: bool = False,
        as_json: bool = False,
        several: bool = False,
    ) -> None:
        self.svc = svc
        self.job_ids = list(job_ids)
        self.tty = tty
        self.one_task = one_task  # `--task N`: every line is that task's
        self.as_json = as_json  # JSON lines: one object a line, also while following
        # No colours (a pipe, NO_COLOR): a page of lines is written in one piece.
        self.plain = not tty and not colored()
        cut = LABEL_WIDTH if tty else None
        self.labels = TaskLabels(cut=cut)
        self.jobs = JobLabels(self.job_ids, cut=cut) if several else None
        # The texts of the last pages `whole` found inert (two: the next page is read, and
        # looked at, while this one prints): `print_block` writes them without a look.
        self.inert: list[str] = []

    async def print(self, lines: Sequence[LogLine]) -> None:
        if self.as_json:
            for line in lines:
                sys.stdout.write(json.dumps(dataclasses.asdict(line)) + "\n")
            return
        if self.jobs is not None:
            await self._print_several(lines, self.jobs)
            return
        known = self.labels.knows
        if not self.one_task and not all(known(task) for _, task in task_ids(lines)):
            self.labels.update(await self.svc.tasks(self.job_ids[0]))
        labels = self.labels if len(self.labels) > 1 else None
        if self.plain:
            sys.stdout.write(plain_log_lines(lines, labels))
            return
        for line in lines:
            print_log_line(line, self.tty, labels)

    async def print_texts(self, page: LogTexts) -> None:
        """A page of the one job's lines read by column, into a pipe (`plain`): what
        `print` writes of the same lines."""
        known = self.labels.knows
        if not self.one_task and not all(known(task) for task in set(page.task_ids)):
            self.labels.update(await self.svc.tasks(self.job_ids[0]))
        sys.stdout.write(plain_log_texts(page, self.labels if len(self.labels) > 1 else None))

    def whole(self, block: LogBlock) -> bool:
        """Whether `block` prints as it is (`print_block`): no line has a label (one task
        known, or `--task`), an attempt's mark, or a line break of its own (the store
        joined the lines with theirs); else its page is printed by column."""
        labelled = not self.one_task and (block.mixed or not self.labels.knows(block.task))
        if labelled or block.earlier or len(self.labels) > 1:
            return False
        if inert_joined(block.text, block.lines):  # the common case: one look at it
            self.inert = [*self.inert[-1:], block.text]
            return True
        return block.text.count("\n") == block.lines - 1

    def print_block(self, block: LogBlock) -> None:
        """A page of the one job's lines joined by the store, into a pipe: what `print`
        writes of the same lines, a string a page."""
        text = block.text
        sys.stdout.write(text if any(text is t for t in self.inert) else sanitize_joined(text))
        sys.stdout.write("\n")

    async def _print_several(self, lines: Sequence[LogLine], labels: JobLabels) -> None:
        for job in {job for job, task in task_ids(lines) if not labels.knows(job, task)}:
            try:
                labels.update(job, await self.svc.tasks(job))
            except NotFound:  # removed meanwhile: its lines say "task N"
                labels.add_job(job)
        if self.plain:
            sys.stdout.write(plain_log_lines(lines, labels))
            return
        for line in lines:
            print_log_line(line, self.tty, labels, hue=labels.hue(line.job_id))


class LogReader:
    """Marks a job's log read through the lines printed: at once when asked (`now`),
    else at most once a second while following (one write, not one per batch)."""

    EVERY = 1.0

    def __init__(self, svc: Service, job_id: int) -> None:
        self.svc = svc
        self.job_id = job_id
        self.marked = 0
        self.at = 0.0

    async def read_through(self, seq: int, now: bool = False) -> None:
        if seq <= self.marked or not (now or time.monotonic() - self.at >= self.EVERY):
            return
        self.marked, self.at = seq, time.monotonic()
        await self.svc.mark_read(self.job_id, seq)


async def read_ahead(
    read: Callable[[], Awaitable[LogBlock | LogTexts | None]],
) -> AsyncIterator[LogBlock | LogTexts]:
    """What `read` gives until None, the next read begun before the page read is given:
    the store's thread reads a page while this one prints the one before (the two cores
    of a small machine, where one after the other they took a core in turn)."""
    import asyncio

    ahead = asyncio.ensure_future(read())
    try:
        while (page := await ahead) is not None:
            ahead = asyncio.ensure_future(read())
            yield page
    finally:
        ahead.cancel()


class EngineWatch:
    """While `logs -f` waits for lines: whether an engine runs at all. Without one the jobs
    followed never move (a queued job is not started, a killed engine's tasks are not run
    again), and a silent wait looks like a quiet job: said once on stderr, and again if
    an engine that came back goes away."""

    def __init__(self, svc: Service) -> None:
        self.svc = svc
        self.next = 0.0  # when to look again (time.monotonic)
        self.told = False

    async def check(self) -> None:
        now = time.monotonic()
        if now < self.next:
            return
        self.next = now + ENGINE_LOOK
        alive = await self.svc.engine_alive()
        if not alive and not self.told:
            tell(
                f"jobdash: no engine is running on {self.svc.location}: the jobs followed "
                "wait until one starts — start one with `jobdash serve` (still following)"
            )
        self.told = not alive


async def logged_jobs(svc: Service, a: argparse.Namespace) -> list[int]:
    """The jobs whose log is asked for: a lone id is read now (not there: refused, exit 1,
    as before several were possible); several, or a query, as the job actions take them."""
    ids = await chosen_jobs(svc, a)
    if a.task is not None and (len(ids) != 1 or a.query is not None):
        raise BadInput("logs: --task N is a task of one job: give one job id")
    if len(ids) == 1 and a.query is None:
        job = await svc.job(ids[0])
        if a.task is not None and not (a.follow and not job.status.finished):
            # (followed, a running job may add it yet)
            seqs = [t.seq for t in await svc.tasks(job.id)]
            if a.task not in seqs:
                has = f"tasks 1–{max(seqs)}" if seqs else "no tasks"
                raise BadInput(f"logs: job {job.id} has no task {a.task} ({has})")
    return ids


async def cmd_logs(svc: Service, a: argparse.Namespace) -> int:
    import asyncio  # loaded by the command that waits, not by `jobdash --help`

    from jobdash.core.service import LogFeed

    if a.output is not None and (a.follow or a.json):
        raise BadInput("logs -o FILE saves the log as it is now: without -f and --json")
    ids = await logged_jobs(svc, a)
    if not ids:
        tell(f"jobdash: logs: no jobs match {a.query!r}")
        return EXIT_OK
    several = a.query is not None or len(ids) > 1
    feed = LogFeed(svc, ids, task=a.task, page=LOG_PAGE)
    if a.output is not None:
        return await save_log(svc, a, feed, several)
    printer = LogPrinter(
        svc, ids, is_terminal(), one_task=a.task is not None, as_json=a.json, several=several
    )
    # The whole log's lines printed are read (`ReadLogs`): through the last one printed,
    # once printed; one task's lines (`--task`) leave the others' unread, so they mark none.
    readers = {} if a.task is not None else {job: LogReader(svc, job) for job in ids}

    async def show(lines: list[LogLine], now: bool = False, mark: bool = True) -> None:
        await printer.print(lines)
        sys.stdout.flush()
        for job, seq in feed.after.items():
            if mark and job in readers and seq:
                await readers[job].read_through(seq, now)

    if a.tail is not None:
        await show(await feed.tail(a.tail), now=True)
    else:  # a page at a time: a log of millions of lines is never held whole
        # Marked once all is printed, not while (each mark reads the lines it passes).
        # One job into a pipe: its pages by column, not a line object each (`LogTexts`);
        # of a job of one task, a page as one text joined by the store (`LogBlock`), unless
        # it needs more than its text (a mark, a line break of a line's own: `whole`).
        if printer.plain and not (several or a.json):
            if a.task is None:  # labelled or not: known before the first page
                printer.labels.update(await svc.tasks(ids[0]))

            def read() -> Awaitable[LogBlock | LogTexts | None]:
                if len(printer.labels) <= 1:
                    return feed.read_block(printer.whole)
                return feed.read_texts()

            async for page in read_ahead(read):
                if isinstance(page, LogBlock):
                    printer.print_block(page)
                else:
                    await printer.print_texts(page)
                sys.stdout.flush()
        while lines := await feed.read():
            await show(lines, mark=False)
        await show([], now=True)
    engine = EngineWatch(svc)
    while a.follow and not feed.done:
        lines = await feed.poll()
        await show(lines)
        if not lines:
            await engine.check()
            await asyncio.sleep(FOLLOW_POLL)
    await show([], now=True)
    for job in sorted(feed.gone):
        tell(f"jobdash: logs: job {job} was removed (or is no longer yours to see)")
    return EXIT_FAILED if feed.gone else EXIT_OK


async def save_log(svc: Service, a: argparse.Namespace, feed: LogFeed, several: bool) -> int:
    """`logs JOB… -o FILE`: the log (of one task; its last lines) as the dashboard's `s`
    saves it, a line each with its time, job or task, and stream, into FILE (created 0600,
    replaced atomically: `open_output`)."""
    from jobdash.core.service import open_output

    labels: TaskLabels | JobLabels
    if several:
        labels = JobLabels(feed.job_ids)
        for job in feed.job_ids:
            labels.update(job, await svc.tasks(job))
    else:
        labels = TaskLabels(await svc.tasks(feed.job_ids[0]))
    n = 0
    with open_output(a.output) as f:
        if a.tail is not None:
            lines = await feed.tail(a.tail)
            f.writelines(saved_line(line, labels) for line in lines)
            n = len(lines)
        else:
            while lines := await feed.read():
                f.writelines(saved_line(line, labels) for line in lines)
                n += len(lines)
    if a.output != "-":
        of = f"job {feed.job_ids[0]}" if not several else plural(len(feed.job_ids), "job")
        tell(f"{plural(n, 'line')} of {of} written to {a.output}")
    return EXIT_OK


COMMANDS = {"logs": cmd_logs}
