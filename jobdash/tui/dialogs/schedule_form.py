"""What the forms that change a schedule share (its planning, its report recipients): one
look (a framed column of labelled fields, an error line, Save and Cancel), `escape` and
`ctrl+s`, and saving through the service in a worker, the service's refusal shown in the
form. Each form says what it checks (`check`) and what it saves (`save_to`)."""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.screen import ModalScreen
from textual.widgets import Button, Checkbox, Input, Label, Static

from jobdash.core.model import BadInput, Refused
from jobdash.core.planning import Schedule
from jobdash.core.service import Service
from jobdash.present.text import sanitize

__all__ = ["ScheduleForm", "TickBox", "field"]


class TickBox(Checkbox):
    """A check box that draws its X only when ticked (Textual's: by colour alone)."""

    BUTTON_INNER = " "

    def watch_value(self) -> None:
        self.BUTTON_INNER = Checkbox.BUTTON_INNER if self.value else " "
        super().watch_value()


def field(label: str, value: str, placeholder: str, id: str) -> ComposeResult:
    """One labelled text field of a form (the `Input` has the id)."""
    with Horizontal(classes="field", id=f"field-{id}"):
        yield Label(label, markup=False)
        yield Input(value, placeholder=placeholder, id=id)


class ScheduleForm(ModalScreen[Schedule | None]):
    """A form that changes one schedule; dismisses with the updated schedule, or None."""

    DEFAULT_CSS = """
    ScheduleForm { align: center middle; }
    ScheduleForm > Vertical {
        width: 86; max-width: 100%; height: auto; max-height: 100%;
        border: thick $accent; background: $surface; padding: 0 1;
    }
    ScheduleForm .form-title { text-style: bold; margin-bottom: 1; }
    ScheduleForm .field { height: auto; }
    ScheduleForm .field Label { width: 12; padding-top: 1; }
    ScheduleForm .field Input { width: 1fr; }
    ScheduleForm .hidden { display: none; }
    ScheduleForm .form-error { color: $text-error; height: auto; }
    ScheduleForm .form-buttons { height: auto; align-horizontal: right; }
    ScheduleForm .form-buttons Button { margin-left: 2; }
    """

    def __init__(self, service: Service, schedule: Schedule) -> None:
        super().__init__()
        self.service = service
        self.schedule = schedule
        self.error = ""

    @staticmethod
    def error_line(id: str) -> Static:
        """Where the form says what is wrong (`show_error`)."""
        return Static("", id=id, classes="form-error", markup=False)

    @staticmethod
    def buttons(*extra: Button) -> ComposeResult:
        """Save, the form's own buttons, and Cancel."""
        with Horizontal(classes="form-buttons"):
            yield Button("Save", id="save", variant="primary")
            yield from extra
            yield Button("Cancel", id="cancel")

    def show_error(self, error: str) -> None:
        self.error = error
        self.query_one(".form-error", Static).update(sanitize(error))

    def check(self) -> None:
        """Check the form; `show_error` what is wrong ("" when nothing is)."""

    async def save_to(self, service: Service) -> Schedule:
        """Save what the form describes; the updated schedule."""
        raise NotImplementedError

    @on(Input.Submitted)
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
        """Save (errors stay in the form)."""
        self.check()
        if not self.error:
            self.save()

    @work(group="schedule-form-save", exclusive=True)
    async def save(self) -> None:
        try:
            schedule = await self.save_to(self.service)
        except (BadInput, Refused) as exc:
            self.show_error(str(exc))
            return
        self.dismiss(schedule)
