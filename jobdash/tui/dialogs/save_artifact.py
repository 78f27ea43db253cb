"""Where to save an artifact: one path, prefilled with `./NAME` in the dashboard's working
folder; enter saves (the file made 0600, replaced atomically, by `open_output`'s rules),
escape gives up."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

from jobdash.core.views import Artifact
from jobdash.present.sizes import size_text
from jobdash.present.text import sanitize


class SaveArtifactScreen(ModalScreen[str | None]):
    """Ask for a path to save `artifact` to; dismisses with it (None: not saved)."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "cancel", "Cancel", show=False, id="save_artifact.cancel"),
    ]

    DEFAULT_CSS = """
    SaveArtifactScreen {
        #save-artifact-title { width: 100%; }
        #save-artifact-path { width: 100%; margin-top: 1; }
    }
    """

    def __init__(self, artifact: Artifact) -> None:
        super().__init__()
        self.artifact = artifact

    def compose(self) -> ComposeResult:
        a = self.artifact
        with Vertical(id="save-artifact-dialog", classes="dialog"):
            # The name and type are data: Text, never markup.
            title = f"Save artifact {a.name} ({a.media_type}, {size_text(a.size)}) to:"
            yield Static(Text(sanitize(title), style="bold"), id="save-artifact-title")
            yield Input(f"./{a.name}", id="save-artifact-path")
            with Horizontal(classes="buttons"):
                yield Button("Save", id="save", variant="primary")
                yield Button("Cancel", id="cancel", variant="default")

    def on_mount(self) -> None:
        self.query_one(Input).focus()

    @on(Input.Submitted)
    def _submitted(self, event: Input.Submitted) -> None:
        event.stop()
        self._save()

    @on(Button.Pressed)
    def _pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if event.button.id == "save":
            self._save()
        else:
            self.dismiss(None)

    def _save(self) -> None:
        path = self.query_one(Input).value.strip()
        self.dismiss(path or None)

    def action_cancel(self) -> None:
        self.dismiss(None)
