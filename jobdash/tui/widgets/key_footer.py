"""The footer of key hints every screen shows: Textual's `Footer`, less a leak.

Each time a screen's keys may have changed (every tab switch, every focus move, a job
under the cursor that the user may not act on) the footer composes its keys anew, and each
new key is bound to the footer's `compact` (`data_bind`). Textual lets go of such a binding
only when `compact` changes (textual#6666, open in 8.2.8), so every key the footer ever
showed stayed alive: 100 tab switches took the dashboard from 58 to 130 MB, and each switch
grew slower. So the footer recomposes only when what it shows differs (a switch asked for
several recomposes of the same keys), and after each recompose `compact` is set to the
other value and back, which drops the bindings of the keys just removed."""

from __future__ import annotations

from typing import Any

from textual.binding import Binding
from textual.dom import NoScreen
from textual.widgets import Footer


class KeyFooter(Footer):
    """Textual's footer, recomposed only for other keys, whose removed keys can be freed."""

    _shown: Any = None  # what the keys showed when last composed

    async def recompose(self) -> None:
        try:
            shown = self._keys_shown()
        except NoScreen:  # asked for just before its screen was dismissed
            return
        if shown == self._shown:
            return
        self._shown = shown
        await super().recompose()
        compact = self.compact
        self.compact = not compact
        self.compact = compact

    def _keys_shown(self) -> tuple[tuple[Binding, bool, str], ...]:
        """What `Footer.compose` makes its keys of: the screen's active bindings, each
        with whether it is enabled and its tooltip."""
        return tuple(
            (binding, enabled, tooltip)
            for _, binding, enabled, tooltip in self.screen.active_bindings.values()
        )
