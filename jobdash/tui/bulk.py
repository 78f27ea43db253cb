"""Actions on many: the marked rows of the dashboard's job tables and of the Scheduled tab.

`Marks` holds what the user marked (`space`), by key, with each thing as last seen: a marked
job that the filter hides, or that moved to the other job tab when it started or finished,
stays marked and counted. `BulkActions`, part of `JobActions`, makes an action on all of them
under the rules of an action on one (see `jobdash.tui.actions`): one question, naming the
counts and what is skipped (`jobdash.present.bulk`), then one toast; a read-only dashboard
asks nothing and the service refuses. Which of them an action applies to, and why the others
are skipped, is the service's to say (`Service.plan_jobs`, `plan_schedules`), not decided
here; the store decides again when the request is made, and what it refuses then is counted
as skipped too.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable, Iterable
from typing import TYPE_CHECKING, Any, Generic, TypeVar

from textual.app import App

from jobdash.core.model import Job, Task
from jobdash.core.query import Query
from jobdash.core.service import Outcome, Plan, Service, skipped
from jobdash.present.bulk import listed, marked_line, nothing_to_do, question, result
from jobdash.present.recovery import quarantine_warnings
from jobdash.present.text import sanitize
from jobdash.present.words import plural
from jobdash.tui.keymap import key_for

if TYPE_CHECKING:
    from jobdash.core.planning import Schedule  # a hint only: not the first frame's import

__all__ = [
    "CANCEL_DETAIL",
    "KILL_DETAIL",
    "BulkActions",
    "Marks",
    "job_marks_line",
    "schedule_marks_line",
]

T = TypeVar("T")
R = TypeVar("R")

CANCEL_DETAIL = "Running tasks get SIGTERM, then SIGKILL after the grace period."
KILL_DETAIL = "Its running tasks get SIGKILL now, without a grace period."

# The yes button and what the question adds, for an action on many.
ASKS: dict[str, tuple[str, str]] = {
    "cancel": ("Cancel jobs", CANCEL_DETAIL),
    "kill": ("Force-kill", "Their running tasks get SIGKILL now, without a grace period."),
    "pause": (
        "Pause",
        "Their running tasks stop where they are and no task starts, until resumed.",
    ),
    "resume": ("Resume", "Their stopped tasks go on (a job not yet admitted waits its turn)."),
    "retry": ("Retry", "Their failed and cancelled tasks run again."),
    "clear": ("Clear", "Their tasks and logs are deleted from the store. Other jobs stay."),
    "run": ("Run", ""),
    "enable": ("Enable", "They fire on their planning again."),
    "disable": ("Disable", "Their fire times are recorded as paused until enabled."),
}


class Marks(Generic[T]):
    """The things a user marked, by key, each as last seen (`refresh` keeps them current)."""

    def __init__(self, key: Callable[[T], Hashable]) -> None:
        self.key = key
        self.items: dict[Hashable, T] = {}  # a table shows the marks of these keys

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, key: object) -> bool:
        return key in self.items

    @property
    def marked(self) -> list[T]:
        """The marked things, in the order they were marked."""
        return list(self.items.values())

    def toggle(self, item: T) -> bool:
        """Mark `item`, or unmark it when it was; True: it is marked now."""
        key = self.key(item)
        if self.items.pop(key, None) is not None:
            return False
        self.items[key] = item
        return True

    def refresh(self, items: Iterable[T]) -> None:
        """Keep the marked ones among `items` as they are now."""
        if self.items:
            for item in items:
                key = self.key(item)
                if key in self.items:
                    self.items[key] = item

    def keep(self, keys: Iterable[Hashable]) -> bool:
        """Unmark what is not among `keys` (gone); True when something was."""
        kept = set(keys)
        gone = [key for key in self.items if key not in kept]
        for key in gone:
            del self.items[key]
        return bool(gone)

    def drop(self, keys: Iterable[Hashable]) -> bool:
        """Unmark these (removed); True when one of them was marked."""
        found = False
        for key in keys:
            found = self.items.pop(key, None) is not None or found
        return found

    def clear(self) -> None:
        self.items.clear()


def job_marks_line(
    app: App[Any], jobs: list[Job], finished_tab: bool, query: Query, now: float
) -> str:
    """The line over the footer while jobs are marked: how many, where those are that the
    tab in front does not show ("1 in Completed", "2 hidden by the filter"), and the keys."""
    elsewhere = hidden = 0
    for job in jobs:
        if job.status.finished != finished_tab:
            elsewhere += 1
        elif not query.is_empty and not query.matches(job, now):
            hidden += 1
    other = "In Progress" if finished_tab else "Completed"
    notes = [f"{elsewhere} in {other}"] if elsewhere else []
    notes += [f"{hidden} hidden by the filter"] if hidden else []
    return _marks_line(app, len(jobs), "job", notes, ("cancel", "retry", "pause", "clear"))


def schedule_marks_line(app: App[Any], count: int) -> str:
    """The line under the Scheduled tab's table while schedules are marked."""
    return _marks_line(app, count, "schedule", [], ("run_now", "toggle"), "schedules")


def _marks_line(
    app: App[Any], count: int, noun: str, notes: list[str], keys: Iterable[str], prefix: str = "job"
) -> str:
    """`marked_line`, with the keys as the user's keymap has them."""
    said = " ".join(key_for(app, f"{prefix}.{key}") for key in keys)
    return marked_line(count, noun, notes, said, key_for(app, f"{prefix}.unmark"))


class BulkActions:
    """An action on every marked job or schedule: mixed into `JobActions`, whose rules
    (`request`, `ask`, `say`) it follows."""

    app: App[Any]
    service: Service

    if TYPE_CHECKING:  # JobActions' rules

        def request(self, call: Callable[[], Awaitable[R]], done: Callable[[R], Any]) -> None: ...
        def ask(self, question: str, detail: str, yes: str, on_yes: Callable[[], Any]) -> None: ...
        def say(self, text: str) -> None: ...
        def refuse(self, exc: BaseException) -> None: ...

    def on_jobs(self, action: str, jobs: list[Job], done: Callable[[], Any]) -> None:
        """`action` (cancel, kill, pause, resume, retry, clear) on every one of `jobs` (as
        last read) that it applies to, after one question naming the counts; `done` once
        the service has answered (the marks go). "toggle": pause, or resume when every
        one is paused (`Service.pause_or_resume`)."""
        svc = self.service
        if action == "toggle":
            action = svc.pause_or_resume(jobs)
        plan = svc.plan_jobs(action, jobs)

        def said(applied: list[Outcome], whys: list[str]) -> str:
            more = ""
            if action == "retry":
                more = f" ({plural(sum(o.result for o in applied), 'task')})"
            return result(action, "job", len(applied), whys, more)

        def act(ids: list[int]) -> Awaitable[list[Outcome]]:
            return svc.act_on_jobs(action, ids)

        go = self._prepared(plan, "job", [job.id for job in jobs], act, said, done)
        if go is None:
            return
        kinds = [str(job.status) for job in plan.apply]
        asked = question(action, "job", len(plan.apply), kinds, plan.whys)
        yes, detail = ASKS[action]
        if action != "retry":
            self.ask(asked, detail, yes, go)
            return

        async def quarantined() -> list[Task]:
            return [t for job in plan.apply for t in await svc.quarantined_tasks(job.id)]

        def ask_retry(tasks: list[Task]) -> None:
            """A retry says what running quarantined tasks again does, as for one job."""
            warned = detail
            if tasks:
                n = len(tasks)
                said = f"{plural(n, 'task')} among them killed {'its' if n == 1 else 'their'}"
                warned = f"{detail}\n{said} agent:\n{quarantine_warnings(tasks)}"
            self.ask(asked, warned, yes, go)

        self.request(quarantined, ask_retry)

    def on_schedules(self, action: str, schedules: list[Schedule], done: Callable[[], Any]) -> None:
        """`action` (run, enable, disable) on every one of `schedules` that it changes,
        after one question with the count; `done` once the service has answered.
        "toggle": disable, or enable when every one is disabled."""
        svc = self.service
        if action == "toggle":
            action = svc.enable_or_disable(schedules)
        plan = svc.plan_schedules(action, schedules)

        def said(applied: list[Outcome], whys: list[str]) -> str:
            if action == "run":  # "Started 2 jobs (schedules nightly, backup)"
                more = f" (schedules {listed(str(o.key) for o in applied)})"
                return result(action, "job", len(applied), whys, more)
            return result(action, "schedule", len(applied), whys)

        def act(ids: list[str]) -> Awaitable[list[Outcome]]:
            return svc.act_on_schedules(action, ids)

        go = self._prepared(plan, "schedule", [s.id for s in schedules], act, said, done)
        if go is not None:
            names = sanitize(f"Schedules: {listed(s.id for s in plan.apply)}")
            asked = question(action, "schedule", len(plan.apply), whys=plan.whys)
            yes, detail = ASKS[action]
            self.ask(asked, f"{names}\n{detail}".rstrip(), yes, go)

    def _prepared(
        self,
        plan: Plan[Any],
        noun: str,
        everyone: list[Any],
        act: Callable[[list[Any]], Awaitable[list[Outcome]]],
        said: Callable[[list[Outcome], list[str]], str],
        done: Callable[[], Any],
    ) -> Callable[[], None] | None:
        """The request on the things `plan` applies to, to make once the user says yes;
        None when there is nothing to ask: a read-only dashboard makes the request at once
        (on `everyone`, the keys of all the marked ones: the service refuses it), and when
        none of them can take the action a warning says why. The answer is one toast
        (`said`: what was done, and why the others were skipped), then `done`."""
        whys = plan.whys
        keys = [item.id for item in plan.apply]  # a job's or a schedule's

        def finished(outcomes: list[Outcome]) -> None:
            applied = [o for o in outcomes if o.refused is None]
            self.say(said(applied, [*whys, *skipped(outcomes)]))
            done()

        if self.service.read_only:
            self.request(lambda: act(everyone), finished)
            return None
        if not keys:
            self.app.notify(
                nothing_to_do(plan.action, noun, whys), severity="warning", markup=False
            )
            return None
        return lambda: self.request(lambda: act(keys), finished)
