"""The command palette (`ctrl+p`): every action that a key does on the current screen."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from jobdash.present.text import sanitize
from jobdash.tui.keymap import group_of


class JobdashCommands(Provider):
    """One command per active binding (with a description) of the screen the palette was
    opened from: the focused widget's, the screen's and the app's."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        screen = self.screen
        app = self.app
        seen: set[tuple[int, str]] = set()
        commands: list[tuple[str, str, Callable[[], object]]] = []
        for active in screen.active_bindings.values():
            binding = active.binding
            if not binding.description or binding.system or not active.enabled:
                continue
            if binding.action in ("command_palette", "app.command_palette"):
                continue
            identity = (id(active.node), binding.action)
            if identity in seen:
                continue
            seen.add(identity)
            title = f"{group_of(binding.id)}: {binding.description}"
            help_text = f"key {sanitize(app.get_key_display(binding))}"
            if binding.id:
                help_text += f" · {binding.id}"
            commands.append(
                (title, help_text, partial(app.run_action, binding.action, active.node))
            )
        return commands

    async def discover(self) -> Hits:
        for title, help_text, callback in self._commands():
            yield DiscoveryHit(title, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for title, help_text, callback in self._commands():
            score = matcher.match(title)
            if score > 0:
                yield Hit(score, matcher.highlight(title), callback, help=help_text)
