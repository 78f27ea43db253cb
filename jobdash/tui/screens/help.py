"""`?`: every key that works here, generated from the active bindings, grouped."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import ClassVar

from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen, Screen
from textual.widgets import Static

from jobdash.present.text import sanitize
from jobdash.tui.keymap import GROUP_ORDER, group_of


@dataclass(frozen=True)
class HelpEntry:
    group: str
    keys: str
    description: str
    binding_id: str


def help_entries(screen: Screen[object]) -> list[HelpEntry]:
    """The bindings active on `screen` (focused widget, screen, app) that have a
    description, one entry per action, keys that do the same thing joined."""
    app = screen.app
    by_action: dict[tuple[int, str], HelpEntry] = {}
    for active in screen.active_bindings.values():
        binding = active.binding
        if not binding.description or binding.system:
            continue
        display = app.get_key_display(binding)
        identity = (id(active.node), binding.action)
        entry = by_action.get(identity)
        if entry is None:
            by_action[identity] = HelpEntry(
                group_of(binding.id), display, binding.description, binding.id or ""
            )
        elif display not in entry.keys.split(" / "):
            by_action[identity] = HelpEntry(
                entry.group, f"{entry.keys} / {display}", entry.description, entry.binding_id
            )
    order = {name: n for n, name in enumerate(GROUP_ORDER)}
    return sorted(by_action.values(), key=lambda e: (order.get(e.group, len(order)), e.group))


class HelpScreen(ModalScreen[None]):
    """A read-only list of keys; any of esc, q, ? closes it."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,q,question_mark", "close", "Close help", id="help.close"),
    ]

    DEFAULT_CSS = """
    HelpScreen {
        #help-title { margin-bottom: 1; }
        #help-body { height: 1fr; }
        #help-footer { margin-top: 1; }
    }
    """

    def __init__(self, entries: Iterable[HelpEntry], title: str = "Keys") -> None:
        super().__init__()
        self.entries = list(entries)
        self.title_text = title

    def compose(self) -> ComposeResult:
        with Vertical(id="help-dialog", classes="dialog"):
            yield Static(Text(self.title_text, style="bold"), id="help-title")
            with VerticalScroll(id="help-body"):
                yield Static(self._table(), id="help-table")
            yield Static(
                Text(
                    'Remap any key by its id in jobdash.toml:  [keymap]  "job.cancel" = "k"',
                    style="dim",
                ),
                id="help-footer",
            )

    def _table(self) -> Table:
        table = Table.grid(padding=(0, 2))
        table.add_column(justify="right", no_wrap=True)
        table.add_column()
        table.add_column(style="dim", no_wrap=True)
        group = None
        for entry in self.entries:
            if entry.group != group:
                if group is not None:
                    table.add_row("", "", "")
                table.add_row("", Text(entry.group, style="bold underline"), "")
                group = entry.group
            table.add_row(
                Text(sanitize(entry.keys), style="bold"),
                Text(entry.description),
                Text(entry.binding_id),
            )
        return table

    def action_close(self) -> None:
        self.dismiss(None)
