"""Every action that changes a job, a schedule or an agent, for every screen.

The screens' keys call a `JobActions` (the command palette runs those keys' bindings), and
it holds the rules that every action follows, in one place:

- **Confirmation.** An action that stops or deletes work asks first: cancel, force-kill,
  clear, drain and undrain, and a retry that would run quarantined tasks again (they killed
  their agent); so does a rerun, which makes a new job that no key undoes. One that is
  undone with a key (pause/resume, retry, enable/disable) does not; a new job and editing a
  planning have their own forms. A request that the
  service would refuse as the job stands (cancel a finished job) is refused before asking.
  An action on every marked row (`MarkKeys`, keys.py) asks once, naming the counts and what the
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
from textual.binding import ActiveBinding
from textual.screen import Screen

from jobdash.core.model import BadInput, Job, JobStatus, Refused
from jobdash.core.query import Query
from jobdash.core.service import GroupRetry, Service
from jobdash.present.failures import retry_question
from jobdash.present.recovery import quarantine_warnings
from jobdash.present.text import sanitize
from jobdash.present.words import agree, plural
from jobdash.tui.bulk import CANCEL_DETAIL, KILL_DETAIL, BulkActions
from jobdash.tui.rights import with_rights
from jobdash.tui.schedule_actions import ScheduleActions
from jobdash.tui.schedule_actions import nothing as _nothing

__all__ = [
    "ACTION_ERRORS",
    "CHANGES",
    "JobActions",
    "OffersWhatWorks",
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


RERUN_DETAIL = "A new job of the same type starts, with the same parameters; this one stays."


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
        """Run the job's type again with its parameters, after a question (a stray `r` on
        a finished job made a new one, which no key undoes); `done` gets the new job."""
        if not self.service.read_only:
            try:  # no point asking first
                self.service.check_rerun(job)
            except ACTION_ERRORS as exc:
                self.refuse(exc)
                return
        question = f"Run {describe(job)} again?"
        self.asked(question, RERUN_DETAIL, "Run again", lambda: self.service.rerun(job.id), done)

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
