"""Edit a schedule's planning: cron, interval, daily (week days + times), once (a date and
time), disabled or automatic (the job type's default), with the next five fire times previewed live and
validation errors shown inline.  Dismisses with the updated schedule, or None."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Checkbox, Input, Label, RadioButton, RadioSet, Static

from jobdash.core.model import BadInput, Refused
from jobdash.core.planning import WEEKDAYS, Schedule
from jobdash.core.service import Service
from jobdash.present.planning import daily_value, join_planning, split_planning
from jobdash.present.text import sanitize
from jobdash.present.times import fire_times
from jobdash.tui.dialogs.schedule_form import ScheduleForm, TickBox, field

__all__ = ["KINDS", "WEEKDAYS", "EditPlanningScreen"]

KINDS = ("cron", "interval", "daily", "once", "disabled", "automatic")
# The kinds whose planning is "kind: value", typed in one field: (label, placeholder).
VALUE_FIELDS = {
    "cron": ("cron", "minute hour day month weekday, e.g. 0 3 * * * or @daily"),
    "interval": ("every", "30s, 5m, 1h30m"),
    "once": ("at", "2026-12-01T09:00 (in the time zone below)"),
}


class Choice(RadioButton):
    """A radio button that draws its ● only when it is the one chosen. Textual's draws ●
    on every button and tells the chosen one by colour alone, which a monochrome terminal,
    a colour-blind eye or a printed screenshot does not see."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = RadioButton.BUTTON_INNER if self.value else " "
        super().watch_value()


class EditPlanningScreen(ScheduleForm):
    """The planning form for one schedule."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="planning.cancel"),
        Binding("ctrl+s", "save", "Save", id="planning.save"),
    ]

    DEFAULT_CSS = """
    EditPlanningScreen RadioSet { layout: horizontal; width: 100%; }
    EditPlanningScreen RadioSet > RadioButton { width: auto; margin-right: 1; }
    EditPlanningScreen #daily-days { height: auto; }
    EditPlanningScreen #daily-days Checkbox { width: auto; padding: 0; margin: 0; }
    EditPlanningScreen #planning-preview { height: auto; color: $text-muted; margin-top: 1; }
    """

    def __init__(self, service: Service, schedule: Schedule) -> None:
        super().__init__(service, schedule)
        kind, value, days, times = split_planning(schedule.planning)
        self._kind = kind
        self._value = value
        self._days = days
        self._times = times
        self.fire_times: list[datetime] = []

    def compose(self) -> ComposeResult:
        s = self.schedule
        with Vertical():
            yield Label(
                sanitize(f"Planning of schedule {s.id} (type {s.type}) — now: {s.effective}"),
                classes="form-title",
                markup=False,
            )
            with RadioSet(id="planning-kind"):
                for kind in KINDS:
                    yield Choice(kind, value=kind == self._kind, id=f"kind-{kind}")
            for kind, (label, placeholder) in VALUE_FIELDS.items():
                value = self._value if self._kind == kind else ""
                yield from field(label, value, placeholder, kind)
            with Vertical(classes="field", id="field-daily"):
                with Horizontal(id="daily-days"):
                    for day in WEEKDAYS:
                        yield TickBox(day, value=day in self._days, id=f"day-{day}")
                yield from field("at", self._times, "09:00,17:30", "times")
            yield from field("time zone", s.timezone, "Europe/Paris", "tz")
            yield self.error_line("planning-error")
            yield Static("", id="planning-preview", markup=False)
            yield from self.buttons()

    def on_mount(self) -> None:
        self._show_fields()
        self.update_preview()

    # ------------------------------------------------------------------ form

    @property
    def kind(self) -> str:
        pressed = self.query_one(RadioSet).pressed_button
        return str(pressed.id).removeprefix("kind-") if pressed is not None else self._kind

    def planning_text(self) -> str:
        """The planning line the form describes."""
        kind = self.kind
        if kind in VALUE_FIELDS:
            return join_planning(kind, self.query_one(f"#{kind}", Input).value)
        if kind == "daily":
            days = [d for d in WEEKDAYS if self.query_one(f"#day-{d}", Checkbox).value]
            times = self.query_one("#times", Input).value.strip()
            return join_planning(kind, daily_value(days, times))
        return join_planning(kind)

    @property
    def timezone(self) -> str:
        return self.query_one("#tz", Input).value.strip() or self.schedule.timezone

    def _show_fields(self) -> None:
        kind = self.kind
        for name in (*VALUE_FIELDS, "daily"):
            self.query_one(f"#field-{name}").set_class(kind != name, "hidden")

    def update_preview(self) -> None:
        """Parse the form and show the next five fire times, or what is wrong."""
        planning = self.planning_text()
        error = ""
        times: list[datetime] = []
        try:
            times = self.service.next_fire_times(
                planning, self.timezone, 5, default=self.schedule.config_planning
            )
        except (BadInput, Refused, ValueError) as exc:
            error = str(exc)
        self.show_error(error)
        self.fire_times = times
        preview = self.query_one("#planning-preview", Static)
        if error:
            preview.update("")
        elif not times:
            preview.update(f"{planning}: no fire times (manual runs only)")
        else:
            lines = [f"Next fire times of “{planning}” ({self.timezone}):"]
            lines += [f"  {t}" for t in fire_times(times)]  # the schedule's zone, labelled
            preview.update("\n".join(sanitize(line) for line in lines))

    @on(RadioSet.Changed)
    def _kind_changed(self) -> None:
        self._show_fields()
        self.update_preview()

    @on(Input.Changed)
    @on(Checkbox.Changed)
    def _field_changed(self) -> None:
        self.update_preview()

    def check(self) -> None:
        self.update_preview()

    async def save_to(self, service: Service) -> Schedule:
        return await service.set_planning(self.schedule.id, self.planning_text(), self.timezone)
