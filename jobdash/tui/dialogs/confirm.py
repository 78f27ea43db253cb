"""A yes/no question in a modal; focus starts on No, so a stray enter changes nothing."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Static

from jobdash.present.text import sanitize, sanitize_lines


class ConfirmScreen(ModalScreen[bool]):
    """Ask `question`; dismisses with True (yes) or False (no, escape)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes", id="confirm.yes"),
        Binding("n", "answer(False)", "No", id="confirm.no"),
        Binding("escape", "answer(False)", "No", show=False, id="confirm.escape"),
        Binding("left", "app.focus_previous", "Previous button", show=False),
        Binding("right", "app.focus_next", "Next button", show=False),
    ]

    DEFAULT_CSS = """
    ConfirmScreen {
        #confirm-question { width: 100%; }
        #confirm-detail { width: 100%; margin-top: 1; color: $text-muted; }
    }
    """

    def __init__(
        self,
        question: str,
        detail: str = "",
        *,
        yes: str = "Yes",
        no: str = "No",
        danger: bool = True,
    ) -> None:
        super().__init__()
        self.question = question
        self.detail = detail
        self.yes_label = yes
        self.no_label = no
        self.danger = danger

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog", classes="dialog"):
            # Job text (types, targets, agent names) is shown inert: Text, never markup.
            yield Static(Text(sanitize(self.question), style="bold"), id="confirm-question")
            if self.detail:  # its line breaks are the caller's: data in it comes sanitized
                yield Static(Text(sanitize_lines(self.detail)), id="confirm-detail")
            with Horizontal(classes="buttons"):
                yield Button(
                    self.yes_label, id="yes", variant="error" if self.danger else "primary"
                )
                yield Button(self.no_label, id="no", variant="default")

    def on_mount(self) -> None:
        self.query_one("#no", Button).focus()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)
