"""The keys that act on jobs and schedules, mixed into the screens and panes that have them:
each key's action calls one `JobActions` method (actions.py), which holds the rules every
action follows (confirmation, refusal, read-only, rights). `MarkKeys` adds the marks (`space`,
`escape`); `JobKeys` the job keys of the dashboard and the job details screen; `ScheduleKeys`
and `SCHEDULE_BINDINGS` those of the Scheduled tab and the schedule screen."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from textual.binding import Binding, BindingType

from jobdash.core.model import Job
from jobdash.core.service import Service
from jobdash.tui.actions import JobActions
from jobdash.tui.bulk import Marks
from jobdash.tui.widgets.table_base import TableBase

if TYPE_CHECKING:
    from jobdash.core.planning import Schedule  # a hint only: not the first frame's import

__all__ = ["SCHEDULE_BINDINGS", "JobKeys", "Keys", "MarkKeys", "ScheduleKeys"]


class Keys:
    """Keys that act through `JobActions`: the screen or widget they are mixed into has the
    app and the service."""

    app: Any
    service: Service

    @property
    def actions(self) -> JobActions:
        return JobActions(self.app, self.service)

    def after_marks(self) -> None:
        """After an action on every marked row (`MarkKeys`: the marks go)."""


class MarkKeys(Keys):
    """`space` marks the row under the cursor, or unmarks it, and moves the cursor down (a
    run of rows is marked key after key); `escape` unmarks all. While rows are marked, the
    action keys act on all of them (`JobKeys`, `ScheduleKeys`), and the marks stay across
    refreshes and filters until that action, or `escape`. Mixed in (first) where there are
    marks: the dashboard's job tables, the Scheduled tab."""

    marks: Marks[Any]

    def mark_table(self) -> TableBase | None:
        """The table whose cursor row `space` marks (None: none in front)."""
        raise NotImplementedError

    def mark_item(self) -> Any | None:
        """The thing under that table's cursor (a job, a schedule), if any."""
        raise NotImplementedError

    def marks_changed(self) -> None:
        """Show the marks: the tables' gutters, the line that counts them."""

    def action_toggle_mark(self) -> None:
        """Mark the row under the cursor, or unmark it; then the cursor moves down."""
        table, item = self.mark_table(), self.mark_item()
        if table is not None and item is not None:
            self.marks.toggle(item)
            self.marks_changed()
            table.action_cursor_down()

    def action_clear_marks(self) -> None:
        """Unmark every row."""
        self.marks.clear()
        self.marks_changed()

    def after_marks(self) -> None:
        self.action_clear_marks()


class JobKeys(Keys):
    """The keys that act on the job a screen shows, the same on the dashboard (its selected
    row, or every marked one) and on the job's details screen: cancel, force-kill,
    pause/resume, retry, edit the type. Each screen binds them (its own binding ids, so each
    can be remapped) and says which job (`selected_job`, `marked_jobs`) and what to do with
    it once changed (`job_changed`)."""

    def selected_job(self) -> Job | None:
        """The job the keys act on; None: none (the screen says why, or stays quiet)."""
        raise NotImplementedError

    def job_in_view(self) -> Job | None:
        """The job the keys would act on, quietly (to grey out the keys it refuses)."""
        return None

    def marked_jobs(self) -> list[Job]:
        """The marked jobs, as last seen; while there are some, the keys act on them."""
        return []

    def job_changed(self, job: Job) -> None:
        """Show the service's answer at once (the change feed would, a moment later)."""

    def on_marked(self, action: str) -> bool:
        """Make `action` on every marked job (after one question); False: none is marked."""
        if marked := self.marked_jobs():
            self.actions.on_jobs(action, marked, self.after_marks)
        return bool(marked)

    def action_cancel(self, force: bool = False) -> None:
        """Cancel the job, or (`force`) kill its processes, after a question."""
        marked = self.on_marked("kill" if force else "cancel")
        if not marked and (job := self.selected_job()) is not None:
            self.actions.cancel(job, force, self.job_changed)

    def action_toggle_pause(self) -> None:
        """Pause or resume the job."""
        if not self.on_marked("toggle") and (job := self.selected_job()) is not None:
            self.actions.toggle_pause(job, self.job_changed)

    def action_retry(self) -> None:
        """Retry the job's failed tasks."""
        if not self.on_marked("retry") and (job := self.selected_job()) is not None:
            self.actions.retry(job)

    def action_follow_logs(self) -> None:
        """The logs of the marked jobs (else the selected one's) in one pane; marks stay."""
        jobs = self.marked_jobs() or [job for job in [self.selected_job()] if job is not None]
        if jobs:
            self.app.open_logs([job.id for job in jobs])

    def action_edit_type(self) -> None:
        """Open the config where the job's type is declared, at its line, in $EDITOR."""
        if (job := self.selected_job()) is not None:
            self.actions.edit_type(job.type)


class ScheduleKeys(Keys):
    """`r` run now, `p` enable/disable, `E` edit the planning and `M` the report recipients,
    the same on the Scheduled tab (the selected schedule, or for `r` and `p` every marked
    one) and on a schedule's details screen (`SCHEDULE_BINDINGS`)."""

    def current_schedule(self) -> Schedule | None:
        raise NotImplementedError

    def schedule_in_view(self) -> Schedule | None:
        """The schedule the keys would act on (to grey out the keys it refuses)."""
        return self.current_schedule()

    def marked_schedules(self) -> list[Schedule]:
        """The marked schedules, as last read; while there are some, `r` and `p` act on them."""
        return []

    def after_action(self, _: object = None) -> None:
        """Reload after an action (the change feed would too, a moment later)."""

    def _on_schedule(self, act: Callable[[JobActions, Schedule, Callable[..., Any]], None]) -> None:
        """Act on the selected schedule (if any), then `after_action`."""
        if (s := self.current_schedule()) is not None:
            act(self.actions, s, self.after_action)

    def _on_marked(self, action: str) -> bool:
        """Make `action` on every marked schedule (after one question); False: none is."""
        if marked := self.marked_schedules():
            self.actions.on_schedules(action, marked, self.after_marks)
        return bool(marked)

    def action_run_now(self) -> None:
        """Run the selected schedule's job now."""
        if not self._on_marked("run"):
            self._on_schedule(JobActions.run_schedule)

    def action_toggle_enabled(self) -> None:
        """Enable or disable the selected schedule."""
        if not self._on_marked("toggle"):
            self._on_schedule(JobActions.toggle_schedule)

    def action_edit_planning(self) -> None:
        """Edit the selected schedule's planning."""
        self._on_schedule(JobActions.edit_schedule)

    def action_edit_report(self) -> None:
        """Set who gets the reports of the selected schedule's runs."""
        self._on_schedule(JobActions.edit_schedule_report)


SCHEDULE_BINDINGS: list[BindingType] = [
    Binding("r", "run_now", "Run now", id="schedules.run_now"),
    Binding("p", "toggle_enabled", "Enable/disable", id="schedules.toggle"),
    Binding("E", "edit_planning", "Edit planning", id="schedules.edit"),
    Binding("M", "edit_report", "Report recipients", id="schedules.report"),
]
