"""The actions on one schedule, part of `JobActions` (`jobdash.tui.actions`, whose rules
they follow): run now, enable/disable, and the planning and report recipients forms.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

from textual.app import App
from textual.screen import ModalScreen

from jobdash.core.model import Job
from jobdash.core.service import Service

if TYPE_CHECKING:
    from jobdash.core.planning import Schedule  # a hint only: not the first frame's import

__all__ = ["ScheduleActions", "enabled_note", "nothing"]

R = TypeVar("R")


def nothing(_: object) -> None:
    """What a screen does with a changed thing when it has nothing to do with it."""


class ScheduleActions:
    """One schedule's actions: mixed into `JobActions`."""

    app: App[Any]
    service: Service

    if TYPE_CHECKING:  # JobActions' rules

        def request(self, call: Callable[[], Awaitable[R]], done: Callable[[R], Any]) -> None: ...
        def say(self, text: str) -> None: ...

    def run_schedule(self, s: Schedule, changed: Callable[[Job], Any] = nothing) -> None:
        """Run the schedule's job now."""

        def done(job: Job) -> None:
            self.say(f"Schedule {s.id}: started job {job.id}")
            changed(job)

        self.request(lambda: self.service.run_schedule_now(s.id), done)

    def toggle_schedule(self, s: Schedule, changed: Callable[[Schedule], Any] = nothing) -> None:
        """Disable an enabled schedule, enable a disabled one."""

        def done(updated: Schedule) -> None:
            self.say(enabled_note(updated) if updated.enabled else f"Schedule {s.id} disabled")
            changed(updated)

        switch = self.service.disable if s.enabled else self.service.enable
        self.request(lambda: switch(s.id), done)

    def edit_schedule(self, s: Schedule, changed: Callable[[Schedule], Any] = nothing) -> None:
        """The planning form; it saves through the service itself."""
        from jobdash.tui.dialogs.edit_planning import EditPlanningScreen

        self._schedule_form(
            EditPlanningScreen(self.service, s),
            lambda: self.service.set_planning(s.id, s.planning),
            lambda done: f"Schedule {done.id}: {done.effective}",
            changed,
        )

    def edit_schedule_report(
        self, s: Schedule, changed: Callable[[Schedule], Any] = nothing
    ) -> None:
        """The report recipients form; it saves through the service itself."""
        from jobdash.present.planning import recipients_text
        from jobdash.tui.dialogs.edit_report import EditReportScreen

        self._schedule_form(
            EditReportScreen(self.service, s),
            lambda: self.service.set_schedule_report(s.id, s.report),
            lambda done: f"Schedule {done.id} reports to: {recipients_text(done)}",
            changed,
        )

    def _schedule_form(
        self,
        form: ModalScreen[Schedule | None],
        read_only: Callable[[], Awaitable[Schedule]],
        said: Callable[[Schedule], str],
        changed: Callable[[Schedule], Any],
    ) -> None:
        """Open a schedule's form; say what it saved. A read-only dashboard opens no form:
        `read_only` asks the service, whose refusal says why."""
        if self.service.read_only:
            self.request(read_only, changed)
            return

        def saved(result: Schedule | None) -> None:
            if result is not None:
                self.say(said(result))
                changed(result)

        self.app.push_screen(form, saved)


def enabled_note(s: Schedule) -> str:
    """What enabling it did: a schedule whose planning never fires still does not."""
    if s.state == "manual only":
        return f"Schedule {s.id} enabled; still manual only: its planning is disabled (E edits it)"
    return f"Schedule {s.id} enabled"
