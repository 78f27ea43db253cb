"""What the dashboard writes to its terminal, each change of style said by what changes.

Rich (under Textual) ends every styled run with a reset and states the next run's style in
full: a cell of another colour in a job's row costs `ESC[0m ESC[38;5;179;48;5;16m` and the
same again to come back, ~46 bytes where `ESC[38;5;179m` and `ESC[38;5;188m` (22) say the
same. A busy row repainted whole (Textual sends a widget's line from its left edge, however
few cells changed) holds ten such changes, and the unread mark (●12) added two more: +14 %
bytes per second with 20 running jobs. `LeanStyles` passes every frame on with each reset
and restatement replaced by the shortest sequence that gives the terminal the same style
(`restyle`): the new colours and attributes alone when no attribute is turned off, else
the reset and the whole style, as before. Only runs of style sequences are rewritten, each
where it stands: text, cursor moves and every other sequence go through unchanged, and
after each run the terminal has exactly the style Textual set (a run is said against the
style the one before it left, across writes too). tests/tui/test_lean_styles.py checks
with a VT emulator that the terminal shows the same, cell by cell, after every write of a
real session.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from jobdash.tui.cell_filter import RESET

__all__ = ["LeanStyles", "Style", "parse", "restyle"]


class Style(NamedTuple):
    """A terminal's current style: attribute parameters on, foreground, background
    (their SGR parameters, "" for the terminal's default)."""

    attributes: frozenset[str] = frozenset()
    fg: str = ""
    bg: str = ""


PLAIN = Style()
STYLES = re.compile(r"(?:\x1b\[[0-9;:]*m)+")  # a run of SGR sequences, back to back


def parse(sequences: str, style: Style = PLAIN) -> Style:
    """`style` after the SGR sequences `sequences` (ESC[…m, one or several)."""
    attributes, fg, bg = set(style.attributes), style.fg, style.bg
    for sequence in sequences.split("\x1b[")[1:]:
        params = sequence[:-1].split(";") if sequence[:-1] else ["0"]
        i = 0
        while i < len(params):
            p = params[i]
            if p in ("38", "48") and i + 1 < len(params):
                n = 3 if params[i + 1] == "5" else 5 if params[i + 1] == "2" else 2
                color = ";".join(params[i : i + n])
                fg, bg = (color, bg) if p == "38" else (fg, color)
                i += n
                continue
            if p in ("", "0"):
                attributes, fg, bg = set(), "", ""
            elif p == "39":
                fg = ""
            elif p == "49":
                bg = ""
            elif p.isdigit() and (30 <= int(p) <= 37 or 90 <= int(p) <= 97):
                fg = p
            elif p.isdigit() and (40 <= int(p) <= 47 or 100 <= int(p) <= 107):
                bg = p
            else:
                attributes.add(p)
            i += 1
    return Style(frozenset(attributes), fg, bg)


def restyle(before: Style, after: Style) -> str:
    """The shortest SGR sequence that takes a terminal from `before` to `after`: what
    changes, when `after` keeps every attribute of `before`; or a reset and `after`."""
    if before == after:
        return ""
    whole = RESET + (_sgr(after, PLAIN) if after != PLAIN else "")
    if not before.attributes <= after.attributes:
        return whole
    change = _sgr(after, before)
    return change if len(change) < len(whole) else whole


def _sgr(after: Style, before: Style) -> str:
    """The sequence that adds `after`'s attributes and colours to `before`'s."""
    params = sorted(after.attributes - before.attributes)
    if after.fg != before.fg:
        params.append(after.fg or "39")
    if after.bg != before.bg:
        params.append(after.bg or "49")
    return f"\x1b[{';'.join(params)}m"


class LeanStyles:
    """Rewrites each write to the terminal with lean style changes (see the module)."""

    def __init__(self) -> None:
        self.given = 0  # characters given
        self.sent = 0  # characters passed on
        self._style = PLAIN  # the style Textual has set (and the terminal has), run to run
        # (style before, run) -> (style after, what to send): a dashboard's frames hold a
        # few dozen styles, again and again; a row's dozen runs cost a dict look-up each.
        self._known: dict[tuple[Style, str], tuple[Style, str]] = {}

    def __call__(self, data: str) -> str:
        sent = STYLES.sub(self._restyle, data)
        self.given += len(data)
        self.sent += len(sent)
        return sent

    def _restyle(self, run: re.Match[str]) -> str:
        """A run of style sequences, as the change from the style before it."""
        key = (self._style, run.group())
        known = self._known.get(key)
        if known is None:
            after = parse(key[1], key[0])
            known = (after, restyle(key[0], after))
            if len(self._known) > 4096:
                self._known.clear()
            self._known[key] = known
        self._style = known[0]
        return known[1]
