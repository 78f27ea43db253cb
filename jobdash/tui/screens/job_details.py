"""The details of one job: a header, its tasks and its streaming log.

- Header (`widgets/job_header.py`): status glyph + word, a progress bar with done/total,
  failed count, ETA (running) or duration (finished), the type and where it is declared
  (`E` opens that file at that line in the user's editor) and its finalize step if it has
  one, who started it and how, when, the info line (while the job waits: why, the service's
  answer) and, once it ended, the result metrics.  Refreshed from the app's
  `store_changed` signal for this job.
- Runs: the durations of this job type's last 30 runs as bars coloured by how each ended,
  this one marked (`v`: their numbers); read again when this job's status changes.
- Tasks: a Line-API table (a job may have 50,000 tasks), reloaded at most every
  `TASKS_MIN_INTERVAL` seconds (more for big jobs) while the job changes.  `F` shows
  failed tasks only; moving the cursor onto a task shows only that task's log, `a` all.
- Artifacts: the files the job produced (`widgets/artifacts_pane.py`, shown once it has
  some), read again with the tasks when the job changes; `o` opens one, `O` saves it
  (`artifact_keys.py`).
- Audit: who did what to the job, when, from which host (`widgets/audit_table.py`), read
  again when its status changes.
- Log: the job's last lines, then a worker tails by sequence number every `LOG_POLL`
  seconds while the job is active (batches of up to `LOG_BATCH` lines, one `LogView.append`
  per batch: this is what keeps up with 20,000 lines/s), through `tui/log_feeding.py` as
  the log of several jobs does.  The lines of a job of several tasks start with their
  task's number ("#2 │"), learnt with the tasks (a line of a task not yet read asks for
  them again), unless the pane shows one task's lines.  Job output is
  shown literally: LogView sanitizes every line.  What it shows is read: every second (and
  on leaving), the last line on screen becomes the user's read mark, while the pane shows
  every task's log (`Service.mark_read`; the header says what was unread when it opened).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Hashable
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.css.query import NoMatches
from textual.widgets import Label

from jobdash.core.model import Job, LogLine, NotFound, Task, TaskStatus
from jobdash.core.service import (
    LEASE_MARGIN,
    LogFeed,
    Service,
    held_lease_end,
    leases_moved,
    renew_held,
)
from jobdash.core.views import Artifact
from jobdash.present.charts import RUNS, run_of, runs_picture
from jobdash.present.logs import TaskLabels
from jobdash.present.steps import finalize_text
from jobdash.present.text import sanitize
from jobdash.tui import log_feeding
from jobdash.tui.actions import OffersWhatWorks, refuse
from jobdash.tui.artifact_keys import ArtifactKeys
from jobdash.tui.helpers import clock_of, subscribe_changes
from jobdash.tui.keymap import key_for
from jobdash.tui.keys import JobKeys
from jobdash.tui.log_feeding import LOG_BATCH, SAVE_BATCH
from jobdash.tui.screens.details_tasks import TASK_COLUMNS, task_row
from jobdash.tui.widgets.artifacts_pane import ArtifactsPane
from jobdash.tui.widgets.audit_table import AuditTable
from jobdash.tui.widgets.chart import Chart
from jobdash.tui.widgets.job_header import JobHeader
from jobdash.tui.widgets.key_footer import KeyFooter
from jobdash.tui.widgets.line_table import LineTable
from jobdash.tui.widgets.log_view import LogView, log_bindings

__all__ = ["JobDetailsScreen", "JobHeader"]  # the header is widgets/job_header.py's

FALLBACK_POLL = 0.5  # job row refresh when the app offers no store_changed signal
MARK_READ_EVERY = 1.0  # seconds between looks at how far the log pane has been read
TASKS_MIN_INTERVAL = 0.5  # seconds between task reloads (grows with the task count)

LEASE_LOOK_EVERY = 5.0  # seconds between looks at the running tasks' leases (no app's own)
RESHOWN_TASKS = 2_000  # up to this many tasks, their rows are drawn again each second
AUDIT_FROM_HEIGHT = 30  # terminal lines from which the audit and 8 task rows are shown


class JobDetailsScreen(log_feeding.SavesLog, JobKeys, ArtifactKeys, OffersWhatWorks):
    """Header, tasks and the live log of one job."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q,escape", "back", "Back", id="details.back"),
        Binding("F", "toggle_failed", "Failed", id="details.failed_only"),
        Binding("a", "all_tasks", "All logs", id="details.all_tasks"),
        Binding("c", "cancel", "Cancel", id="details.cancel"),
        Binding("C", "cancel(True)", "Kill", id="details.force_cancel"),
        Binding("p", "toggle_pause", "Pause", id="details.pause"),
        Binding("R", "retry", "Retry", id="details.retry"),
        Binding("E", "edit_type", "Edit type", show=False, id="details.edit_type"),
        Binding("o", "open_artifact", "Open artifact", show=False, id="details.open_artifact"),
        Binding("O", "save_artifact", "Save artifact", show=False, id="details.save_artifact"),
        Binding("tab", "app.focus_next", "Next pane", show=False, id="details.focus_next"),
        # The log keys work wherever the focus is: they share the LogView's ids, so a
        # keymap entry for `log.follow` remaps both.
        *log_bindings(lambda action: f"log('{action}')", show=False, until="log.prev"),
        Binding("s", "save_log", "Save log", show=False, id="log.save"),
    ]

    DEFAULT_CSS = """
    JobDetailsScreen {
        layout: vertical;
        #details-tasks-title, #details-log-title, .section {
            height: 1; padding: 0 1; background: $boost; color: $text-muted;
        }
        /* As high as its rows, up to 8 of them (fewer on a short terminal): the log
           has the rest, and no blank rows sit under a job of a few tasks. */
        #details-tasks { height: auto; max-height: 9; }
        &.-short #details-tasks { max-height: 7; }
        #details-log { height: 1fr; }
    }
    """

    def __init__(self, service: Service, job_id: int) -> None:
        super().__init__()
        self.service = service
        self.job_id = job_id
        self.job: Job | None = None
        self.failed_only = False
        self.log_task: int | None = None  # task seq whose log is shown; None: every line
        self._tasks: list[Task] = []
        self._tasks_dirty = True
        self._tasks_loaded_at = 0.0
        self._leases_read_at = time.monotonic()  # when the leases were last looked at
        self._lease_ends = math.inf  # the end of the lease it holds (`held_lease_end`)
        self._job_rev = -1
        self._has_signal = False
        self._read_through = 0  # the log line marked read last
        self._labels = TaskLabels(names=False)  # "#SEQ" before each line of several tasks

    # ------------------------------------------------------------------ widgets

    def compose(self) -> ComposeResult:
        yield JobHeader(self.job_id, id="details-header")
        yield Chart("runs of this type: loading…", id="details-runs")
        yield Label("tasks", id="details-tasks-title", markup=False)
        yield LineTable(
            TASK_COLUMNS,
            empty_text="No tasks",
            allow_no_cursor=True,
            # On a narrow terminal the outcomes stay on screen, and the agent (where it ran:
            # the machine to look at) outlasts when it started (its time is beside it).
            drops=("started", "agent"),
            id="details-tasks",
        )
        yield ArtifactsPane(id="details-artifacts")
        yield Label("audit", classes="section details-audit", markup=False)
        yield AuditTable(
            self.service, f"job:{self.job_id}", id="details-audit", classes="details-audit"
        )
        yield Label("log · all tasks", id="details-log-title", markup=False)
        yield LogView(id="details-log")
        yield KeyFooter(compact=True)

    def on_resize(self, event: events.Resize) -> None:
        """On a short terminal the log keeps the room the audit would take (`jobdash audit
        job:ID` has it), and some of the tasks' (they scroll)."""
        short = event.size.height < AUDIT_FROM_HEIGHT
        self.set_class(short, "-short")
        for part in self.query(".details-audit"):
            part.display = not short

    @property
    def header(self) -> JobHeader:
        return self.query_one(JobHeader)

    @property
    def tasks_table(self) -> LineTable:
        return self.query_one("#details-tasks", LineTable)

    @property
    def log_view(self) -> LogView:
        return self.query_one(LogView)

    async def on_mount(self) -> None:
        self.log_view.focus()
        self._has_signal = subscribe_changes(self, self._on_store_changed)
        try:
            job = await self.service.job(self.job_id)
        except NotFound:
            self._job_gone()
            return
        self._set_job(job)
        self.set_interval(TASKS_MIN_INTERVAL, self._maybe_reload_tasks)
        self.set_interval(1.0, self._tick)
        self.set_interval(MARK_READ_EVERY, self._mark_read)
        self._maybe_reload_tasks()
        self._stream_log(None)
        if not self._has_signal:
            self._poll_job()

    # ------------------------------------------------------------------ data

    def _set_job(self, job: Job) -> None:
        if job.rev != self._job_rev or job != self.job:
            self._tasks_dirty = True  # tasks and artifacts: read again, at most so often
        if self.job is None or job.status is not self.job.status:
            self._load_runs(job)  # its bar moves (running, then how it ended)
            self.query_one(AuditTable).reload()  # an action changes the status
        if self.job is None:
            self.header.opened_unread = job.unread
        self._job_rev = job.rev
        self.job = job
        self._lease_ends = held_lease_end(job.lease_until, clock_of(self.app)())
        known = self.service.types.get(job.type)
        self.header.defined_at = known.where(short=True) if known is not None else ""
        self.header.finalize = finalize_text(known)
        self.header.set_job(job)
        self.sub_title = sanitize(f"job {job.id} · {job.type}")
        if job.status.finished:
            self.header.set_why(None)
        else:
            self._load_why()

    @work(group="why", exclusive=True)
    async def _load_why(self) -> None:
        """Why the job waits, as the service says it now (a few reads of this job, its
        keys and the live agents: one screen asks, never a table's rows)."""
        try:
            why = await self.service.why(self.job_id)
            self.header.set_why(why)
        except (NotFound, NoMatches):  # gone from the store, or the screen closed
            return

    @work(group="runs", exclusive=True)
    async def _load_runs(self, job: Job) -> None:
        """The durations of this type's last runs, this one marked (▲)."""
        runs = await self.service.type_runs(job.type, RUNS)
        now = clock_of(self.app)()
        if all(run.job_id != job.id for run in runs):
            runs.append(run_of(job, now))  # running, or older than the last RUNS
        label = f"{job.type}: the time of its last runs"
        with contextlib.suppress(NoMatches):  # the screen closed while they were read
            self.query_one("#details-runs", Chart).show([runs_picture(runs, label, job.id)])

    @work(group="artifacts", exclusive=True)
    async def _load_artifacts(self) -> None:
        try:
            found = await self.service.artifacts(self.job_id)
        except NotFound:
            return
        keys = f"{key_for(self.app, 'details.open_artifact')}: open · "
        keys += f"{key_for(self.app, 'details.save_artifact')}: save"
        with contextlib.suppress(NoMatches):  # the screen closed while they were read
            self.query_one(ArtifactsPane).show(found, keys)

    def selected_artifact(self) -> Artifact | None:
        return self.query_one(ArtifactsPane).selected()

    def _job_gone(self) -> None:
        self.header.gone = True
        self.header.set_job(None)
        self.workers.cancel_group(self, "log")

    def _on_store_changed(self, changes: Any) -> None:
        if self.job_id in getattr(changes, "removed", ()):
            self._job_gone()
            return
        for job in getattr(changes, "jobs", ()):
            if job.id == self.job_id:
                self._set_job(job)

    @work(group="poll", exclusive=True)
    async def _poll_job(self) -> None:
        """Without the app's change feed (a bare test app), read the job row now and then."""
        while True:
            await asyncio.sleep(FALLBACK_POLL)
            try:
                self._set_job(await self.service.job(self.job_id))
            except NotFound:
                self._job_gone()
                return

    def _tick(self) -> None:
        """ETA and elapsed time move with the clock while the job runs; while it runs
        nothing, why it waits is asked again (a backoff's end comes nearer, a lock's
        holder moves on). Its tasks' leases are looked at again every few seconds, and
        before the one it holds ends: an engine that died changes no row, and its tasks
        turn "agent lost" when they end, a live agent's never (it renews them unseen)."""
        job = self.job
        if job is not None and not job.status.finished:
            self.header.refresh()
            if job.running == 0:
                self._load_why()
                return
            soon = self._lease_ends - clock_of(self.app)() < LEASE_MARGIN  # held_lease_end
            if soon or time.monotonic() - self._leases_read_at >= self._look_every():
                self._leases_read_at = time.monotonic()
                self._lease_ends = math.inf  # until the look says when
                self._look_again()
            if len(self._tasks) <= RESHOWN_TASKS:
                # A running task's time moves with the clock, as the header's elapsed
                # does (it stood still for a type with no stall_after); a silent one turns
                # stalled, one whose lease passed lost.
                self._show_tasks()

    def _look_every(self) -> float:
        """Seconds between looks at the leases: the app's look at the engines."""
        return float(getattr(self.app, "engine_look_every", LEASE_LOOK_EVERY))

    @work(group="look-again", exclusive=True)
    async def _look_again(self) -> None:
        """The job read again: shown anew (its tasks read again) when it changed, or when
        whether a lease of its tasks has passed is not what the tasks shown say (their
        agent died, or renewed them); else only its silence and lease are kept (the agents
        renew the leases every few seconds: a job of 100,000 tasks is not read again for
        that)."""
        try:
            new = await self.service.job(self.job_id)
        except NotFound:
            self._job_gone()
            return
        old, now = self.job, clock_of(self.app)()
        self._lease_ends = held_lease_end(new.lease_until, now)  # kept, or `_set_job`'s
        moved = leases_moved(new, self._tasks, now)
        renew_held(self._tasks, new.lease_until, now)
        if old is None or new.rev != old.rev or moved:
            # Read again even when the job reads as before (its lease kept below, at an
            # earlier look): the tasks' leases are what changed.
            self._tasks_dirty = self._tasks_dirty or moved
            with contextlib.suppress(NoMatches):  # the screen closed while it was read
                self._set_job(new)
            return
        old.quiet_since, old.lease_until = new.quiet_since, new.lease_until

    def _maybe_reload_tasks(self) -> None:
        if not self._tasks_dirty:
            return
        wait = max(TASKS_MIN_INTERVAL, len(self._tasks) / 25_000)
        if time.monotonic() - self._tasks_loaded_at < wait:
            return
        self._tasks_dirty = False
        self._tasks_loaded_at = time.monotonic()
        self._load_tasks()
        self._load_artifacts()  # an artifact kept by a task changes the job too

    @work(group="tasks", exclusive=True)
    async def _load_tasks(self) -> None:
        try:
            tasks = await self.service.tasks(self.job_id)
        except NotFound:
            return
        self._tasks = tasks
        try:
            self._show_tasks()
            if self._labels.update(tasks):
                self._show_labels()
        except NoMatches:  # the screen was closed while they were read
            return

    def _show_tasks(self) -> None:
        now = clock_of(self.app)()
        tasks = self._tasks
        if self.failed_only:
            tasks = [t for t in tasks if t.status is TaskStatus.FAILED]
        job = self.job
        if job is None:
            return
        self.tasks_table.set_rows([task_row(t, now, job) for t in tasks])
        title = f"tasks · {len(self._tasks)}"
        if self.failed_only:
            key = key_for(self.app, "details.failed_only")
            title = f"tasks · failed only · {len(tasks)} of {len(self._tasks)}  ({key}: all)"
        self.query_one("#details-tasks-title", Label).update(title)

    @work(group="log", exclusive=True)
    async def _stream_log(self, task_seq: int | None) -> None:
        """Load the tail of the log, then follow it by sequence number (`log_feeding`)."""
        view = self.log_view
        view.clear()

        async def show(lines: list[LogLine]) -> None:
            if task_seq is None and not all(map(self._labels.knows, {x.task_id for x in lines})):
                self._tasks_dirty = True  # a task new since they were read: its label
            view.append(lines)

        def active() -> bool:
            return self.job is None or not self.job.status.finished

        feed = LogFeed(self.service, [self.job_id], task=task_seq, page=LOG_BATCH)
        await log_feeding.follow(feed, show, active, self._job_gone)

    def _mark_read(self) -> None:
        """The lines the log pane has shown are read (see `ReadLogs`): through the last
        line on screen, while the pane shows every task's log and this screen is in front.
        One write when that line moved on, at most every MARK_READ_EVERY seconds."""
        if self.log_task is not None or not self.is_current or self.header.gone:
            return
        seq = self.log_view.last_shown_seq()
        if seq > self._read_through:
            self._read_through = seq
            self._write_mark(seq)

    @work(group="mark-read", exclusive=True)
    async def _write_mark(self, seq: int) -> None:
        try:
            await self.service.mark_read(self.job_id, seq)
        except NotFound:
            self._job_gone()

    def _show_log_of(self, task_seq: int | None) -> None:
        if task_seq == self.log_task:
            return
        self.log_task = task_seq
        key = key_for(self.app, "details.all_tasks")
        title = (
            "log · all tasks" if task_seq is None else f"log · task {task_seq} only  ({key}: all)"
        )
        self.query_one("#details-log-title", Label).update(title)
        self._show_labels()
        self._stream_log(task_seq)

    def _show_labels(self) -> None:
        """Each line says which task wrote it ("#2") while the pane shows the lines of
        several tasks, interleaved when they run side by side (`jobdash logs` labels them
        too); one task's lines need none."""
        several = self.log_task is None and len(self._labels) > 1
        self.log_view.lines_view.set_labels(self._labels if several else None)

    @on(LineTable.Highlighted, "#details-tasks")
    def _task_highlighted(self, event: LineTable.Highlighted) -> None:
        key: Hashable | None = event.key
        if key is not None:
            self._show_log_of(int(key))  # type: ignore[call-overload]

    # ------------------------------------------------------------------ actions

    def action_back(self) -> None:
        """Back to the job list, the lines shown since the last mark marked read (by the
        app: this screen's workers end with it)."""
        seq = self.log_view.last_shown_seq()
        if self.log_task is None and seq > self._read_through and not self.header.gone:
            self._read_through = seq
            self.app.run_worker(self._final_mark(seq), group="mark-read")
        self.dismiss(None)

    async def _final_mark(self, seq: int) -> None:
        with contextlib.suppress(NotFound):
            await self.service.mark_read(self.job_id, seq)

    def action_log(self, action: str) -> None:
        """Run a log action whatever has the focus."""
        getattr(self.log_view, f"action_{action}")()

    def action_toggle_failed(self) -> None:
        """Show failed tasks only, or all tasks."""
        self.failed_only = not self.failed_only
        self._show_tasks()

    def action_all_tasks(self) -> None:
        """Show the log of every task again."""
        self.tasks_table.clear_cursor()
        self._show_log_of(None)

    # The keys of `JobKeys` act on the job as last read: none while it loads.

    def selected_job(self) -> Job | None:
        return self.job

    def job_in_view(self) -> Job | None:
        return self.job

    def job_changed(self, job: Job) -> None:
        self._set_job(job)

    def action_save_log(self) -> None:
        """Write the job's whole log (from the store) to a new ./jobdash-job-<id>.log (or
        -1, -2 … when that name is taken), each line with its time, task and stream
        (`saved_line`), by the rules of `create_new`."""
        self.save_log()

    @work(group="save", exclusive=True)
    async def save_log(self) -> None:
        suffix = f"-task-{self.log_task}" if self.log_task is not None else ""
        try:
            labels = TaskLabels(await self.service.tasks(self.job_id))
        except NotFound as exc:
            refuse(self.app, exc)
            return
        feed = LogFeed(self.service, [self.job_id], task=self.log_task, page=SAVE_BATCH)
        await log_feeding.save(self.app, feed, labels, f"jobdash-job-{self.job_id}{suffix}")
