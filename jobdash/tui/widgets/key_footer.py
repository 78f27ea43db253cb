"""The footer of key hints every screen shows: Textual's `Footer`, less a leak.

Each time a screen's keys may have changed (every tab switch, every focus move, a job
under the cursor that the user may not act on) the footer composes its keys anew, and each
new key is bound to the footer's `compact` (`data_bind`). Textual lets go of such a binding
only when `compact` changes (textual#6666, open in 8.2.8), so every key the footer ever
showed stayed alive: 100 tab switches took the dashboard from 58 to 130 MB, and each switch
grew slower. So the footer recomposes only when what it shows differs (a switch asked for
several recomposes of the same keys), and after each recompose `compact` is set to the
other value and back, which drops the bindings of the keys just removed.

Textual's footer lets keys run off its right edge, cut mid-word under the command palette's
key (`p Pa`, `R Retry` of "Retry failed"). This one shows only the keys that fit whole: the
last ones go first, but `? Help` (which lists every key) and the key back stay."""

from __future__ import annotations

from typing import Any

from rich.cells import cell_len
from textual import events
from textual.binding import Binding
from textual.dom import NoScreen
from textual.widget import Widget
from textual.widgets import Footer

# The actions whose keys stay while others make room: help lists the rest, back leaves.
KEPT_ACTIONS = frozenset({"help", "back"})


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
        self.call_after_refresh(self.fit_keys)

    def on_resize(self, event: events.Resize) -> None:
        self.fit_keys()

    def fit_keys(self) -> None:
        """Show the keys that fit whole beside the command palette's, hiding the last others
        (never those of KEPT_ACTIONS) while they do not."""
        keys = [k for k in self.children if not k.has_class("-command-palette")]
        palette = [k for k in self.children if k.has_class("-command-palette")]
        room = self.size.width - sum(map(_cells, palette))
        widths = {k: _cells(k) for k in keys}
        shown = list(keys)
        for key in reversed(keys):
            if sum(widths[k] for k in shown) <= room:
                break
            if getattr(key, "action", "").rpartition(".")[2] not in KEPT_ACTIONS:
                shown.remove(key)
        for key in keys:
            key.display = key in shown

    def _keys_shown(self) -> tuple[tuple[Binding, bool, str], ...]:
        """What `Footer.compose` makes its keys of: the screen's active bindings, each
        with whether it is enabled and its tooltip."""
        return tuple(
            (binding, enabled, tooltip)
            for _, binding, enabled, tooltip in self.screen.active_bindings.values()
        )


def _cells(key: Widget) -> int:
    """The cells a footer entry takes: its text (a key and its label, with their padding
    from the theme's styles), its own padding and border, and its margins."""
    render = key.render()
    text = render.plain if hasattr(render, "plain") else str(render)
    styles = key.styles
    return cell_len(text) + styles.gutter.width + styles.margin.width
