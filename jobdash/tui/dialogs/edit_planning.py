"""Edit a schedule's planning: cron, interval, daily (week days + times), once (a date and
time), disabled or automatic (the job type's default), with the next five fire times previewed live and
validation errors shown inline.  Dismisses with the updated schedule, or None."""

from __future__ import annotations

from datetime import datetime
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, RadioButton, RadioSet, Static

from jobdash.core.model import BadInput, Refused
from jobdash.core.planning import WEEKDAYS, Schedule
from jobdash.core.service import Service
from jobdash.present.planning import daily_value, join_planning, split_planning
from jobdash.present.text import sanitize
from jobdash.present.times import fire_times

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


class Day(Checkbox):
    """A check box that draws its X only when ticked (Textual's: by colour alone)."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = Checkbox.BUTTON_INNER if self.value else " "
        super().watch_value()


class EditPlanningScreen(ModalScreen[Schedule | None]):
    """The planning form for one schedule."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="planning.cancel"),
        Binding("ctrl+s", "save", "Save", id="planning.save"),
    ]

    DEFAULT_CSS = """
    EditPlanningScreen { align: center middle; }
    EditPlanningScreen > Vertical {
        width: 86; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    EditPlanningScreen #planning-title { text-style: bold; margin-bottom: 1; }
    EditPlanningScreen RadioSet { layout: horizontal; width: 100%; }
    EditPlanningScreen RadioSet > RadioButton { width: auto; margin-right: 1; }
    EditPlanningScreen .field { height: auto; }
    EditPlanningScreen .field Label { width: 12; padding-top: 1; }
    EditPlanningScreen .field Input { width: 1fr; }
    EditPlanningScreen #daily-days { height: auto; }
    EditPlanningScreen #daily-days Checkbox { width: auto; padding: 0; margin: 0; }
    EditPlanningScreen .hidden { display: none; }
    EditPlanningScreen #planning-error { color: $text-error; height: auto; }
    EditPlanningScreen #planning-preview { height: auto; color: $text-muted; margin-top: 1; }
    EditPlanningScreen #planning-buttons { height: auto; align-horizontal: right; }
    EditPlanningScreen #planning-buttons Button { margin-left: 2; }
    """

    def __init__(self, service: Service, schedule: Schedule) -> None:
        super().__init__()
        self.service = service
        self.schedule = schedule
        kind, value, days, times = split_planning(schedule.planning)
        self._kind = kind
        self._value = value
        self._days = days
        self._times = times
        self.error = ""
        self.fire_times: list[datetime] = []

    def compose(self) -> ComposeResult:
        s = self.schedule
        with Vertical():
            yield Label(
                sanitize(f"Planning of schedule {s.id} (type {s.type}) — now: {s.effective}"),
                id="planning-title",
                markup=False,
            )
            with RadioSet(id="planning-kind"):
                for kind in KINDS:
                    yield Choice(kind, value=kind == self._kind, id=f"kind-{kind}")
            for kind, (label, placeholder) in VALUE_FIELDS.items():
                with Horizontal(classes="field", id=f"field-{kind}"):
                    yield Label(label, markup=False)
                    value = self._value if self._kind == kind else ""
                    yield Input(value, placeholder=placeholder, id=kind)
            with Vertical(classes="field", id="field-daily"):
                with Horizontal(id="daily-days"):
                    for day in WEEKDAYS:
                        yield Day(day, value=day in self._days, id=f"day-{day}")
                with Horizontal(classes="field"):
                    yield Label("at", markup=False)
                    yield Input(self._times, placeholder="09:00,17:30", id="times")
            with Horizontal(classes="field"):
                yield Label("time zone", markup=False)
                yield Input(s.timezone, placeholder="Europe/Paris", id="tz")
            yield Static("", id="planning-error", markup=False)
            yield Static("", id="planning-preview", markup=False)
            with Horizontal(id="planning-buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel")

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
        self.error = error
        self.fire_times = times
        self.query_one("#planning-error", Static).update(sanitize(error))
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

    @on(Input.Submitted)
    def _submitted(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#save")
    def _save_pressed(self) -> None:
        self.action_save()

    @on(Button.Pressed, "#cancel")
    def _cancel_pressed(self) -> None:
        self.action_cancel()

    def action_cancel(self) -> None:
        """Close without saving."""
        self.dismiss(None)

    def action_save(self) -> None:
        """Save the planning (errors stay in the dialog)."""
        self.update_preview()
        if not self.error:
            self._save()

    @work(group="planning-save", exclusive=True)
    async def _save(self) -> None:
        try:
            schedule = await self.service.set_planning(
                self.schedule.id, self.planning_text(), self.timezone
            )
        except (BadInput, Refused) as exc:
            self.error = str(exc)
            self.query_one("#planning-error", Static).update(sanitize(self.error))
            return
        self.dismiss(schedule)
