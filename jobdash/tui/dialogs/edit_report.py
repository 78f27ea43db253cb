"""Who gets the reports of a schedule's runs, set at run time: tick "send report", enter
e-mail addresses and webhook URLs (checked as you type), or give the choice back to the
config. What is saved survives config reloads, like a planning an admin set. The type's
own recipients get their reports whatever is chosen here. Dismisses with the updated
schedule, or None."""

from __future__ import annotations

from typing import ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.widgets import Button, Input, Label

from jobdash.core.model import BadInput, Report
from jobdash.core.planning import Schedule
from jobdash.core.service import Service, checked_report
from jobdash.present.planning import recipients_text, split_recipients
from jobdash.present.text import sanitize
from jobdash.tui.dialogs.schedule_form import ScheduleForm, TickBox, field

__all__ = ["EditReportScreen"]


class EditReportScreen(ScheduleForm):
    """The report recipients form for one schedule."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", id="report.cancel"),
        Binding("ctrl+s", "save", "Save", id="report.save"),
    ]

    DEFAULT_CSS = """
    EditReportScreen .form-title { margin-bottom: 0; }
    EditReportScreen #report-now { color: $text-muted; margin-bottom: 1; }
    """

    def __init__(self, service: Service, schedule: Schedule) -> None:
        super().__init__(service, schedule)
        self.report: Report | None = None  # what Save sends (None: the config's again)

    def compose(self) -> ComposeResult:
        s = self.schedule
        with Vertical():
            title = f"Reports of schedule {s.id}'s runs (besides type {s.type}'s recipients)"
            yield Label(sanitize(title), classes="form-title", markup=False)
            yield Label(sanitize(f"now: {recipients_text(s)}"), id="report-now", markup=False)
            sending = bool(s.report.email or s.report.webhook)
            yield TickBox("send report", value=sending, id="report-send")
            email = ", ".join(s.report.email)
            yield from field("e-mail", email, "ops@example.org, oncall@example.org", "report-email")
            hooks = ", ".join(s.report.webhook)
            yield from field("webhook", hooks, "https://hooks.example.org/j", "report-webhook")
            yield self.error_line("report-error")
            yield from self.buttons(Button("From the config", id="from-config"))

    def on_mount(self) -> None:
        self.check()

    def typed(self) -> Report:
        """The recipients the form describes (none when "send report" is not ticked)."""
        if not self.query_one("#report-send", TickBox).value:
            return Report()
        email = split_recipients(self.query_one("#report-email", Input).value)
        webhook = split_recipients(self.query_one("#report-webhook", Input).value)
        return Report(email, webhook)

    def check(self) -> None:
        """Check what is typed; say what is wrong, or that a ticked box has no recipient."""
        self.report = report = self.typed()
        error = ""
        try:
            checked_report(report.email, report.webhook)
        except BadInput as exc:
            error = str(exc)
        sending = self.query_one("#report-send", TickBox).value
        if sending and not error and not (report.email or report.webhook):
            error = "send report: give an e-mail address or a webhook URL"
        self.show_error(error)

    @on(Input.Changed)
    @on(TickBox.Changed)
    def _changed(self) -> None:
        self.check()

    @on(Button.Pressed, "#from-config")
    def _from_config(self) -> None:
        self.report = None
        self.save()

    async def save_to(self, service: Service) -> Schedule:
        return await service.set_schedule_report(self.schedule.id, self.report)
