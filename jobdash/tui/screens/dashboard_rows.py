"""The dashboard's rows (`DashboardRows`, a part of `DashboardScreen`): what its two job
tables hold, and how it stays true.

First the rows the app read before it started (`FirstRows`: the active jobs and a first page
of finished ones), then the rest of the history: held whole when it is short, read a page at
a time (`read_history`); a window onto the store when it is long (`JobWindowTable`). Then
each batch of the change feed, patched in (`upsert`): a job moves from In Progress to
Completed when it finishes, and back on a retry. Changes that come while the history loads
are shown at once, and applied again once it is in. And every few seconds the running
tasks' leases (`look_at_leases`): the agents renew them without changing their jobs' rows,
and an engine that died changes none, so only a look tells a job whose agent is lost.
"""

from __future__ import annotations

import asyncio
import dataclasses
import gc
import math
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from textual import work
from textual.css.query import NoMatches
from textual.screen import Screen

from jobdash.core.model import Job
from jobdash.core.query import Query
from jobdash.core.query import prepare as prepare_search
from jobdash.core.service import LEASE_MARGIN, Changes, Service, held_lease_end
from jobdash.present.timing import job_look
from jobdash.tui.bulk import Marks
from jobdash.tui.first_rows import FIRST_PAGE, read_history
from jobdash.tui.helpers import clock_of
from jobdash.tui.widgets.job_table import JobTable
from jobdash.tui.widgets.window_table import JobWindowTable

if TYPE_CHECKING:
    from jobdash.tui.app import JobdashApp

JOB_TABS = ("inprogress", "completed")
# A history of more finished jobs than this is not loaded: the Completed tab is a window
# onto the store (window_table.py); a shorter one is held whole, and filters at once. Held
# whole, 100,000 jobs take ~85 MB and a filter key redraws in a few hundred ms; a window
# asks the store at each key, which was slower than that on this size (README, Benchmarks),
# but keeps 50 MB whatever the history (1,000,000 held whole: 1.8 GB).
WINDOW_ABOVE = 100_000
FIRST_PAGE_SETTLE = 0.3  # seconds the first page gets to draw before the bulk load


class DashboardRows(Screen[None]):
    """The job tables' rows: loaded, then kept up to date from the change feed."""

    service: Service
    loaded: bool
    _pending: list[Changes]
    _newest: int  # the highest job id seen: a higher one is new, never finished
    window_above: int
    marks: Marks[Job]
    # Set while a job table is in front: the history's reading waits while another tab is.
    history_wanted: asyncio.Event

    @property
    def jobdash(self) -> JobdashApp:
        raise NotImplementedError

    def table(self, pane: str) -> JobTable:
        raise NotImplementedError

    @property
    def completed(self) -> JobWindowTable:
        raise NotImplementedError

    def marks_changed(self) -> None:
        raise NotImplementedError

    def _update_titles(self) -> None:
        raise NotImplementedError

    @work(group="load", exclusive=True)
    async def _load(self) -> None:
        """The first rows: active jobs, then finished ones (maybe 100,000 of them)."""
        try:
            await self._load_rows()
        except NoMatches:
            pass  # the dashboard was taken down (a quit) before its rows came: none to show
        except Exception:
            if not self.service.damaged.is_set():
                raise
            # The store was found damaged (by this read, or meanwhile): the dashboard ends
            # in the store's line (`JobdashApp._watch_damage`), not in this traceback.

    async def _load_rows(self) -> None:
        app = self.jobdash
        await app.feed_ready.wait()
        svc = self.service
        completed = self.table("completed")
        if app.first_rows is None:
            # The active jobs and the newest finished ones first, so the Completed tab shows
            # at once; then all of them (maybe 100,000), converted off the event loop.
            self.table("inprogress").set_jobs(await svc.jobs(active=True, limit=None))
            completed.set_jobs(await svc.jobs(active=False, limit=FIRST_PAGE))
            self._update_titles()
        # Let that page reach the screen before the bulk load competes with it for the GIL.
        await asyncio.sleep(FIRST_PAGE_SETTLE)
        self._newest = max((job.id for job in completed.rows), default=0)
        if await svc.count_finished(Query(), cap=self.window_above) > self.window_above:
            active_ids = [job.id for job in self.table("inprogress").rows]
            self._newest = max([self._newest, *active_ids])
            self.completed.open_window()
            self._loaded()
            return
        finished = await read_history(svc, go=self.history_wanted)
        # Their search text too, so a filter typed meanwhile stays quick when they land.
        await asyncio.to_thread(prepare_search, finished)
        completed.set_jobs(finished)
        # The history is long-lived: keep the collector from walking its 100,000 objects
        # on every full collection (pauses of 100 ms and more while typing a filter).
        gc.freeze()
        self._loaded()

    def _loaded(self) -> None:
        """The rows are in: the changes that came meanwhile are applied."""
        self.loaded = True
        self.jobdash.first_rows = None
        pending, self._pending = self._pending, []
        for changes in pending:
            self._apply(changes)
        self._update_titles()

    def _tables_gone(self) -> bool:
        """The dashboard is being taken down (a quit): its tables are gone, or going. (Not
        `self.query(…)`, which matches a selector against every widget: a tenth of the
        dashboard's CPU while jobs run, at four batches a second.)"""
        try:
            return not self.table("inprogress").is_attached
        except NoMatches:
            return True

    def _on_changes(self, changes: Changes) -> None:
        if self._tables_gone():
            return
        if not self.loaded:
            # Shown at once, and kept to be applied again once the history is in: it
            # replaces the Completed rows, and may have been read before the change. Applying
            # twice is harmless (a row older than the table's is ignored).
            self._pending.append(changes)
        self._apply(changes)
        self._update_titles()

    def _apply(self, changes: Changes) -> None:
        """Patch both tables: a job moves between them when it starts or finishes."""
        self.upsert(changes.jobs)
        if changes.removed:
            for pane in JOB_TABS:
                self.table(pane).remove_jobs(changes.removed)
        if self.marks and (self.marks.drop(changes.removed) or changes.jobs):
            self.marks_changed()  # a marked job gone, or moved to the other tab

    _leases_read_at = 0.0  # when `look_at_leases` last read them (time.monotonic)
    # The earliest end (the app's clock) of a lease the rows hold that had not passed when
    # it was read: its agent renews it unseen (nothing of the job's row changes).
    _lease_ends = math.inf

    def look_at_leases_now_and_then(self) -> None:
        """`look_at_leases`, once every `engine_look_every` seconds (called every second),
        and sooner when a lease the rows hold ends within `LEASE_MARGIN`: a short lease
        (`JOBDASH_LEASE=2`) ran out between two looks though its agent renewed it, and the
        rows said `▶ agent lost` (and were not counted stalled in the title) while the
        header named the engine running."""
        every = getattr(self.app, "engine_look_every", 5.0)
        soon = self._lease_ends - clock_of(self.app)() < LEASE_MARGIN
        if soon or time.monotonic() - self._leases_read_at >= every:
            self._leases_read_at = time.monotonic()
            self._lease_ends = math.inf  # until the look (or a job's row) says when
            self.look_at_leases()

    def _held_lease(self, lease: float | None, now: float) -> None:
        """Note a lease a row holds, read at `now` (`_lease_ends`)."""
        self._lease_ends = min(self._lease_ends, held_lease_end(lease, now))

    @work(group="leases", exclusive=True)
    async def look_at_leases(self) -> None:
        """The running jobs' silence and leases read again (one read of the running tasks):
        a job whose status cell reads otherwise now (its agent turned lost, or came back)
        is patched in and repainted; the others are updated in place (what they show is
        the same)."""
        signs = await self.service.running_signs()
        if self._tables_gone():
            return
        now = clock_of(self.app)()
        turned = []
        for job in self.table("inprogress").rows:
            if job.id not in signs:
                continue  # no running task: the feed says when that changes
            quiet, lease = signs[job.id]
            self._held_lease(lease, now)
            looked = dataclasses.replace(job, quiet_since=quiet, lease_until=lease)
            if job_look(looked, now) != job_look(job, now):
                turned.append(looked)
            else:
                job.quiet_since, job.lease_until = quiet, lease
        if turned:
            self.upsert(turned)
            self._update_titles()

    def upsert(self, jobs: Iterable[Job]) -> None:
        """Put each job in the table its status belongs to (and out of the other one),
        ignoring rows older than what a table already has."""
        running = self.table("inprogress")
        done = self.table("completed")
        jobs = list(jobs)
        self.marks.refresh(jobs)
        active: list[Job] = []
        finished: list[Job] = []
        leaving: list[int] = []  # active jobs that may have been finished ones
        newest = self._newest
        now = clock_of(self.app)()
        for job in jobs:
            self._held_lease(job.lease_until, now)
            known = running.get_job(job.id)
            if known is None:
                known = done.get_job(job.id)
            if known is not None and known.rev > job.rev:
                continue  # a stale row (the initial load already had a newer one)
            if job.status.finished:
                finished.append(job)
                continue
            active.append(job)
            if job.id <= newest and running.get_job(job.id) is None:
                leaving.append(job.id)
            self._newest = max(self._newest, job.id)
        if finished:
            running.remove_jobs([job.id for job in finished])
            done.upsert(finished)
        if active:
            if leaving:
                done.remove_jobs(leaving)
            running.upsert(active)
