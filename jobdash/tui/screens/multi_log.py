"""The log of several jobs in one pane: `L` on the dashboard opens it on the marked jobs (or
the job under the cursor), `docker compose logs -f` for jobs.

- Header: one line per job (up to `HEADER_JOBS`, then how many more): its label in its
  colour, status, type and target, refreshed from the app's `store_changed` signal.
- Log: every job's last lines, then the lines written since, as they are written (the
  service's `LogFeed` through `tui/log_feeding.py`, as the job details read one job), each
  line starting with its job and task ("12 #2 beta │") in the job's colour, the jobs taking
  the colours in the order they were marked. The pane is the details' `LogView`: `f` follow,
  `/` search, `ctrl+g` grep mode, `g`/`G` first and last line, `s` saves every job's log
  from the store to a new ./jobdash-jobs-12-13-14.log, a line each with its time, job and
  task, and stream.

What it shows is not marked read: the unread counts are each job's own log, read in its
details or by `jobdash logs`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Static

from jobdash.core.model import Job, LogLine, NotFound
from jobdash.core.service import LogFeed, Service
from jobdash.present.logs import JobLabels, task_ids
from jobdash.present.status import look
from jobdash.present.text import clip, sanitize
from jobdash.tui import log_feeding
from jobdash.tui.helpers import subscribe_changes
from jobdash.tui.widgets.key_footer import KeyFooter
from jobdash.tui.widgets.log_view import LogView

__all__ = ["MultiLogScreen"]

HEADER_JOBS = 6  # jobs named in the header; more are counted
STEM_JOBS = 5  # job ids in a saved log's name; more are counted


def saved_stem(job_ids: list[int]) -> str:
    """The name a saved log starts with: jobdash-jobs-12-13-14 (jobdash-jobs-12-13-…-and-4-more)."""
    named = "-".join(str(job) for job in job_ids[:STEM_JOBS])
    more = len(job_ids) - STEM_JOBS
    return f"jobdash-jobs-{named}" + (f"-and-{more}-more" if more > 0 else "")


class MultiLogScreen(log_feeding.SavesLog, Screen[None]):
    """The live log of several jobs, each line prefixed with its job and task."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "back", "Back", id="logs.back"),
    ]

    DEFAULT_CSS = """
    MultiLogScreen {
        layout: vertical;
        #logs-jobs { height: auto; max-height: 7; padding: 0 1; background: $boost; }
        #logs-log { height: 1fr; }
    }
    """

    def __init__(self, service: Service, job_ids: list[int]) -> None:
        super().__init__()
        self.service = service
        self.job_ids = list(dict.fromkeys(job_ids))
        self.jobs: dict[int, Job] = {}
        self.labels = JobLabels(self.job_ids)

    def compose(self) -> ComposeResult:
        yield Static("", id="logs-jobs", markup=False)
        yield LogView(id="logs-log")
        yield KeyFooter(compact=True)

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    def on_mount(self) -> None:
        self.sub_title = f"logs of {len(self.job_ids)} jobs"
        self.log_view.lines_view.set_labels(self.labels)
        self.log_view.focus()
        if not subscribe_changes(self, self._on_store_changed):
            self.set_interval(1.0, self._load_jobs)
        self._load_jobs()
        self._stream()

    # ------------------------------------------------------------------ data

    @work(group="jobs", exclusive=True)
    async def _load_jobs(self) -> None:
        for job_id in self.job_ids:
            try:
                self.jobs[job_id] = await self.service.job(job_id)
            except NotFound:
                self.jobs.pop(job_id, None)
        self._show_jobs()

    def _on_store_changed(self, changes: Any) -> None:
        seen = False
        for job in getattr(changes, "jobs", ()):
            if job.id in self.labels.tasks:
                self.jobs[job.id] = job
                seen = True
        for job_id in getattr(changes, "removed", ()):
            seen = self.jobs.pop(job_id, None) is not None or seen
        if seen:
            self._show_jobs()

    def _show_jobs(self) -> None:
        """A line per job: its label in its colour, status, type and target."""
        text = Text(no_wrap=True, overflow="ellipsis")
        for n, job_id in enumerate(self.job_ids[:HEADER_JOBS]):
            if n:
                text.append("\n")
            style = self.log_view.lines_view.get_component_rich_style(
                f"loglines--job-{self.labels.hue(job_id)}"
            )
            text.append(f"{job_id:>{len(str(max(self.job_ids)))}} ", style)
            job = self.jobs.get(job_id)
            if job is None:
                text.append("removed (or not yours to see)", "dim")
                continue
            text.append(f"{look(job.status).text:<13}")
            text.append(clip(sanitize(f"{job.type} {job.target}".strip()), 60))
        if (more := len(self.job_ids) - HEADER_JOBS) > 0:
            text.append(f"\n… and {more} more")
        self.query_one("#logs-jobs", Static).update(text)

    def _active(self) -> bool:
        return not self.jobs or any(not job.status.finished for job in self.jobs.values())

    async def _show(self, lines: list[LogLine]) -> None:
        """A batch, once each line's task has its label (their width lays the pane out)."""
        labels = self.labels
        unknown = {job for job, task in task_ids(lines) if not labels.knows(job, task)}
        if unknown:
            width = labels.width
            for job_id in unknown:
                try:
                    labels.update(job_id, await self.service.tasks(job_id))
                except NotFound:
                    labels.add_job(job_id)
            if labels.width != width:
                self.log_view.lines_view.set_labels(labels)
        self.log_view.append(lines)

    @work(group="log", exclusive=True)
    async def _stream(self) -> None:
        feed = LogFeed(self.service, self.job_ids, page=log_feeding.LOG_BATCH)
        await log_feeding.follow(feed, self._show, self._active, self._all_gone)

    def _all_gone(self) -> None:
        """Every job was removed: the header says so."""
        self.jobs.clear()
        self._show_jobs()

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        self.dismiss(None)

    @work(group="save", exclusive=True)
    async def save_log(self) -> None:
        labels = JobLabels(self.job_ids)
        for job_id in self.job_ids:
            try:
                labels.update(job_id, await self.service.tasks(job_id))
            except NotFound:
                continue
        feed = LogFeed(self.service, self.job_ids, page=log_feeding.SAVE_BATCH)
        await log_feeding.save(self.app, feed, labels, saved_stem(self.job_ids))
