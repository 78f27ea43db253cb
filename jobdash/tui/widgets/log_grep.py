"""Grep mode of a log pane: only the lines that match the search, with `context` lines
before and after each, and between two runs of them a row that says how many lines are
left out (as `grep -C N` prints `--`). Plain data, no Textual: the lines view asks it which
of the held lines to show as they come.

It reads the log once, in order, and keeps its place, so lines that arrive while following
cost their own look only: a match shows the lines before it that are still held and not
shown yet, and the `context` lines after it as they come.
"""

from __future__ import annotations

import re

from jobdash.present.words import plural
from jobdash.tui.widgets.log_buffer import LogBuffer

__all__ = ["GREP_CONTEXT", "MAX_CONTEXT", "Grep"]

GREP_CONTEXT = 3  # lines of context around each match to start with (+/- change it)
MAX_CONTEXT = 50


def gap_text(count: int) -> str:
    """The row that stands for `count` lines left out."""
    return f"┄┄ {plural(count, 'line')} not matching ┄┄"


class Grep:
    """Which lines of a `LogBuffer` grep mode shows: absolute indices, and between runs
    of them the text of a row that stands for the lines left out."""

    def __init__(self, pattern: re.Pattern[str], context: int, start: int = 0) -> None:
        self.pattern = pattern
        self.context = max(0, context)
        self.next = start  # absolute index of the first line not looked at yet
        self.last = -1  # absolute index of the last line shown (-1: none yet)
        self.until = -1  # the last line shown as a match's context after it

    def take(self, full: LogBuffer) -> list[int | str]:
        """The lines of `full` from the last look on that grep mode shows."""
        picks: list[int | str] = []
        search = self.pattern.search
        texts = full.texts
        base = full.dropped
        start = max(self.next, base)
        for absolute in range(start, base + len(texts)):
            if search(texts[absolute - base]):
                first = max(self.last + 1, absolute - self.context, base)
                self._show(picks, first, absolute)
                self.until = absolute + self.context
            elif absolute <= self.until:
                self._show(picks, absolute, absolute)
        self.next = base + len(texts)
        return picks

    def _show(self, picks: list[int | str], first: int, last: int) -> None:
        if self.last >= 0 and first > self.last + 1:
            picks.append(gap_text(first - self.last - 1))
        picks.extend(range(first, last + 1))
        self.last = last
