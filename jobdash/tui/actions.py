"""Every action that changes a job, a schedule or an agent, for every screen.

The screens' keys call a `JobActions` (the command palette runs those keys' bindings), and
it holds the rules that every action follows, in one place:

- **Confirmation.** An action that stops or deletes work asks first: cancel, force-kill,
  clear, drain and undrain, and a retry that would run quarantined tasks again (they killed
  their agent). One that starts work or is undone with a key (run, rerun, pause/resume,
  retry, enable/disable) does not; editing a planning has its own form. A request that the
  service would refuse as the job stands (cancel a finished job) is refused before asking.
  An action on every marked row (`MarkKeys`) asks once, naming the counts and what the
  service would skip (`BulkActions`), whatever the action.
- **Refusal.** What the service refuses is one error toast in the service's own words,
  shown as they are (`JobActions.refuse`).
- **Read-only.** The service knows whether it may change anything. A read-only dashboard
  opens no question and no form: it makes the request at once, and the service refuses it
  in its words (a read-only service refuses before it looks at the request). The footer,
  the help and the palette leave those actions out (`OffersWhatWorks`); their keys still
  answer, with that refusal, so a key pressed from habit is not met with silence.
- **Rights.** A key whose action the user may not take on what it would act on (the job
  or schedule under the cursor; `core.permissions`' rules, by the right each binding needs:
  `tui/rights.py`) is greyed in the footer, its tooltip saying why ("no right to cancel"); pressed,
  it is refused by the service in one toast naming the missing right.
"""

from __future__ import annotations

import os
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from textual.app import App
from textual.binding import ActiveBinding, Binding, BindingType
from textual.screen import Screen

from jobdash.core.model import BadInput, Job, JobStatus, Refused
from jobdash.core.planning import Schedule
from jobdash.core.query import Query
from jobdash.core.service import GroupRetry, Service
from jobdash.present.failures import retry_question
from jobdash.present.recovery import quarantine_warnings
from jobdash.present.text import sanitize
from jobdash.present.words import agree, plural
from jobdash.tui.bulk import CANCEL_DETAIL, KILL_DETAIL, BulkActions, Marks
from jobdash.tui.rights import with_rights
from jobdash.tui.schedule_actions import ScheduleActions
from jobdash.tui.schedule_actions import nothing as _nothing
from jobdash.tui.widgets.table_base import TableBase

__all__ = [
    "ACTION_ERRORS",
    "CHANGES",
    "SCHEDULE_BINDINGS",
    "JobActions",
    "JobKeys",
    "Keys",
    "OffersWhatWorks",
    "ScheduleKeys",
    "describe",
    "refuse",
]

T = TypeVar("T")


ACTION_ERRORS = (Refused, BadInput)
"""What the service raises to refuse a request (`NotFound` is a `Refused`)."""

CHANGES = frozenset(
    {
        "job.new",
        "job.rerun",
        "job.cancel",
        "job.kill",
        "job.pause",
        "job.retry",
        "job.clear",
        "details.cancel",
        "details.force_cancel",
        "details.pause",
        "details.retry",
        "schedules.run_now",
        "schedules.toggle",
        "schedules.edit",
        "schedules.report",
        "details.edit_type",
        "agents.drain",
        "failures.retry",
        "failure.retry",
    }
)
"""The bindings (by id) whose action changes something: a read-only dashboard does not
offer them."""


def describe(job: Job) -> str:
    """'job 12 (import-files /srv/in)': how questions and toasts name a job."""
    what = f"{job.type} {job.target}".strip()
    return f"job {job.id} ({what})"


def refuse(app: App[Any], exc: BaseException) -> None:
    """A refused request as one error toast, in the service's words: the app's way when it
    has one (`JobdashApp.notify_refusal`), else the first line, inert."""
    notify = getattr(app, "notify_refusal", None)
    if callable(notify):
        notify(exc)
    else:
        app.notify(sanitize(str(exc)), severity="error", markup=False)


class OffersWhatWorks(Screen[None]):
    """A screen whose footer, help and command palette (all read `active_bindings`) leave
    out the actions that a read-only dashboard refuses (`CHANGES`)."""

    @property
    def active_bindings(self) -> dict[str, ActiveBinding]:
        bindings = super().active_bindings
        if getattr(self.app, "read_only", False):
            return {k: b for k, b in bindings.items() if b.binding.id not in CHANGES}
        service = getattr(self.app, "service", None)
        if service is None:
            return bindings
        return {k: with_rights(service, b) for k, b in bindings.items()}


class JobActions(ScheduleActions, BulkActions):
    """The actions of one app on one service. Each takes what the screen shows (a job, a
    schedule, an agent) and, optionally, what to do with the changed thing once the
    service has answered (`changed`: patch a row, reload a table). A schedule's are in
    `ScheduleActions`, those on every marked job or schedule in `BulkActions`."""

    def __init__(self, app: App[Any], service: Service) -> None:
        self.app = app
        self.service = service

    # ------------------------------------------------------------------ the rules

    def refuse(self, exc: BaseException) -> None:
        """A refused request as one error toast, in the service's words (`refuse`)."""
        refuse(self.app, exc)

    def say(self, text: str) -> None:
        """What an action did, as a toast (names in it are data: inert)."""
        self.app.notify(sanitize(text), markup=False)

    def request(self, call: Callable[[], Awaitable[T]], done: Callable[[T], Any]) -> None:
        """Make the request in a worker; `done` gets the service's answer, a refusal is
        shown (`refuse`), anything else (a busy store, a full disk) said as an error."""

        async def act() -> None:
            try:
                result = await call()
            except ACTION_ERRORS as exc:
                self.refuse(exc)
                return
            except Exception as exc:
                self.app.log.error(repr(exc))
                self.app.notify(f"{type(exc).__name__}: {exc}", severity="error", markup=False)
                return
            done(result)

        self.app.run_worker(act(), group="actions")

    def ask(self, question: str, detail: str, yes: str, on_yes: Callable[[], Any]) -> None:
        """Ask `question` (focus on No); call `on_yes` on yes."""
        from jobdash.tui.dialogs.confirm import ConfirmScreen

        def answered(answer: bool | None) -> None:
            if answer:
                on_yes()

        self.app.push_screen(ConfirmScreen(question, detail, yes=yes, no="No"), answered)

    def asked(
        self,
        question: str,
        detail: str,
        yes: str,
        call: Callable[[], Awaitable[T]],
        done: Callable[[T], Any],
    ) -> None:
        """Ask first, then make the request; read-only: no question, the service refuses."""
        if self.service.read_only:
            self.request(call, done)
        else:
            self.ask(question, detail, yes, lambda: self.request(call, done))

    # ------------------------------------------------------------------ jobs

    def start(self, selected: str | None, done: Callable[[Job], Any]) -> None:
        """The new-job form (`selected`: the type it starts on); `done` gets the job."""
        if self.service.read_only:
            self.request(lambda: self.service.submit(selected or ""), done)
            return
        from jobdash.tui.dialogs.start_job import StartJobScreen

        def started(job: Job | None) -> None:
            if job is not None:
                done(job)

        self.app.push_screen(StartJobScreen(self.service, selected=selected), started)

    def rerun(self, job: Job, done: Callable[[Job], Any]) -> None:
        """Run the job's type again with its parameters; `done` gets the new job."""
        self.request(lambda: self.service.rerun(job.id), done)

    def cancel(
        self, job: Job, force: bool = False, changed: Callable[[Job], Any] = _nothing
    ) -> None:
        """Cancel the job, or (`force`) kill its processes at once, after a question."""
        if not self.service.read_only:
            try:  # no point asking first
                self.service.check_cancel(job, force)
            except Refused as exc:
                self.refuse(exc)
                return
        label = describe(job)

        def done(updated: Job) -> None:
            changed(updated)
            self.say(f"{'Force-killing' if force else 'Cancelling'} {describe(updated)}")

        if force:
            question, yes = f"Force-kill {label}?", "Force-kill"
            detail = KILL_DETAIL
        else:
            question, yes = f"Cancel {label}?", "Cancel job"
            detail = CANCEL_DETAIL
        self.asked(question, detail, yes, lambda: self.service.cancel(job.id, force=force), done)

    def toggle_pause(self, job: Job, changed: Callable[[Job], Any] = _nothing) -> None:
        """Pause the job (its running tasks finish, no new ones start), or resume it."""

        def done(updated: Job) -> None:
            changed(updated)
            verb = "Paused" if updated.status is JobStatus.PAUSED else "Resumed"
            self.say(f"{verb} {describe(updated)}")

        self.request(lambda: self.service.toggle_pause(job.id), done)

    def retry(self, job: Job) -> None:
        """Retry the job's failed tasks; when some of them were quarantined (they killed
        their agent), after a question that says what retrying them does."""
        label = describe(job)

        def done(count: int) -> None:
            self.say(f"Retrying {plural(count, 'task')} of {label}")

        def retry() -> None:
            self.request(lambda: self.service.retry(job.id), done)

        if self.service.read_only:
            retry()
            return

        async def quarantined() -> None:
            try:
                tasks = await self.service.quarantined_tasks(job.id)
            except ACTION_ERRORS as exc:
                self.refuse(exc)
                return
            if not tasks:
                retry()
                return
            n = len(tasks)
            which = f"{n} of its tasks {agree(n, 'was', 'were')} quarantined"
            self.ask(f"Retry {label}? {which}", quarantine_warnings(tasks), "Yes", retry)

        self.app.run_worker(quarantined(), group="actions")

    def clear(self, job_ids: list[int], question: str, detail: str) -> None:
        """Remove these finished jobs (what the screen shows), after `question`."""

        def done(count: int) -> None:
            self.say(f"Cleared {plural(count, 'finished job')}")

        self.asked(question, detail, "Clear", lambda: self.service.clear_jobs(job_ids), done)

    def retry_group(
        self,
        group: str,
        query: Query,
        now: float,
        changed: Callable[[GroupRetry], Any] = _nothing,
    ) -> None:
        """Retry a failure group's failed tasks (of the jobs `query` shows at `now`), after
        a question naming how many tasks of how many jobs run again."""

        def done(result: GroupRetry) -> None:
            self.say(f"Retrying {result} (failure group {group})")
            changed(result)

        def retry() -> None:
            self.request(lambda: self.service.retry_group(group, query, now=now), done)

        if self.service.read_only:
            retry()
            return

        async def plan() -> None:
            try:
                p = await self.service.retry_group(group, query, now=now, plan_only=True)
            except ACTION_ERRORS as exc:
                self.refuse(exc)
                return
            if not p.tasks:  # nothing to ask about: the service says why, in its words
                retry()
                return
            question, detail = retry_question(group, p.tasks, p.jobs, p.left)
            self.ask(question, detail, "Retry", retry)

        self.app.run_worker(plan(), group="actions")

    def edit_type(self, type_name: str) -> None:
        """Open the config file that declares the type in the user's editor, at its line;
        a type declared elsewhere (the demo, another host's config) says where instead."""
        from pathlib import Path

        from jobdash.tui.editor import open_in_editor

        jt = self.service.types.get(type_name)
        where = jt.defined_at if jt is not None else ""
        path = Path(jt.source) if jt is not None and jt.source else None
        if jt is None or path is None or not path.is_file():
            self.say(f"Type {type_name} is defined in {where or 'no config'}: no file here to edit")
            return
        if not os.access(path, os.W_OK):
            self.say(f"{path} is not yours to edit: it opens read-only")
        if problem := open_in_editor(self.app, path, jt.line):
            self.app.notify(sanitize(problem), severity="error", markup=False)

    # ------------------------------------------------------------------ agents

    def drain(self, agent: str, drain: bool, changed: Callable[[None], Any] = _nothing) -> None:
        """Drain an agent (it finishes its tasks and claims no more), or undrain a drained
        one (it claims again), after a question."""

        def done(_: None) -> None:
            self.say(f"{'Draining' if drain else 'Undrained'} agent {agent}")
            changed(None)

        if drain:
            question = f"Drain agent {agent}?"
            detail = "It finishes its running tasks and claims no more."
        else:
            question, detail = f"Undrain agent {agent}?", "It claims tasks again."
        self.asked(
            question, detail, "Yes", lambda: self.service.drain_agent(agent, drain=drain), done
        )


# ---------------------------------------------------------------------- keys


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
