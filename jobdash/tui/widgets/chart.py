"""A picture drawn with block characters, or the same numbers as text (`v`).

A `Chart` shows `Series` (from `jobdash.present.charts`: what the bars are, their tones,
marks and notes, and their text equivalent). A series one line high is drawn on one line:
label, bars, note. A higher one has its label and note above, then its bars, then a line
of marks (▲ this run, ✘ failed) under them, so nothing is told by colour alone (on a
terminal under `TALL_FROM` lines, on one line, each mark in place of its bar). With
`numbers` on (the app's `v`, for a screen reader or a terminal without colour) each series
is its text: label, note, every bar's numbers, wrapped.

Data comes down by `show(series)`; a picture equal to the one shown repaints nothing (a
frame of unchanged cells is bytes on a slow link).
"""

from __future__ import annotations

from typing import ClassVar

from rich.cells import cell_len
from rich.style import Style
from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

from jobdash.present.charts import Series, bar_lines
from jobdash.present.text import clip, sanitize

__all__ = ["Chart"]

ZERO = "·"
TALL_FROM = 30  # terminal lines from which a series higher than one is drawn so
LABEL_CELLS = 16  # a one-line series' label (an agent's name) is cut to this


class Chart(Widget):
    """Series of bars, or (`numbers`) their numbers as text."""

    COMPONENT_CLASSES: ClassVar[set[str]] = {
        "chart--dim",
        "chart--ok",
        "chart--warn",
        "chart--error",
        "chart--accent",
        "chart--label",
    }
    DEFAULT_CSS = """
    Chart {
        height: auto;
        padding: 0 1;
        text-wrap: nowrap;  /* a picture's line is cut at the edge, never folded */
        text-overflow: ellipsis;
        &.-numbers { text-wrap: wrap; }
        & > .chart--dim { color: $text-muted; }
        & > .chart--ok { color: $success; }
        & > .chart--warn { color: $warning; }
        & > .chart--error { color: $error; }
        & > .chart--accent { color: $accent; }
        & > .chart--label { text-style: bold; }
    }
    """

    numbers: reactive[bool] = reactive(False, layout=True)

    def __init__(
        self, empty: str = "", *, id: str | None = None, classes: str | None = None
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.empty = empty
        self.series: list[Series] = []
        self.drawn = False  # a picture (maybe of nothing) came: no longer loading

    def on_mount(self) -> None:
        self.numbers = bool(getattr(self.app, "show_numbers", False))

    def watch_numbers(self, numbers: bool) -> None:
        self.set_class(numbers, "-numbers")

    def show(self, series: list[Series]) -> None:
        """Draw these series (nothing is repainted when they are the ones shown)."""
        self.drawn = True
        if series != self.series:
            # Its height follows the series' heights (and, as numbers, their text's length):
            # new counts in the same shape repaint it without laying the screen out again.
            shape = not self.numbers and _shape(series) == _shape(self.series)
            self.series = series
            self.refresh(layout=not shape)

    @property
    def text(self) -> str:
        """The picture's text equivalent, as `numbers` shows it."""
        return "\n".join(s.words for s in self.series)

    def render(self) -> Text:
        if not self.series:
            return Text(self.empty, style=self.get_component_rich_style("chart--dim"))
        if self.numbers:
            return self._as_text()
        width = max(1, self.content_size.width)
        short = self.app.size.height < TALL_FROM  # every line counts: tall ones on one
        labels = (cell_len(s.label) for s in self.series if s.height == 1 or short)
        label_width = min(LABEL_CELLS, max(labels, default=0))
        out = Text(no_wrap=True, overflow="ellipsis")
        for n, series in enumerate(self.series):
            if n:
                out.append("\n")
            if series.height == 1 or short:
                self._one_line(out, series, label_width, width)
            else:
                self._tall(out, series, width)
        return out

    def _style(self, name: str) -> Style:
        return self.get_component_rich_style(f"chart--{name}")

    def _one_line(self, out: Text, series: Series, label_width: int, width: int) -> None:
        label = clip(sanitize(series.label), label_width)
        out.append(label + " " * (label_width - cell_len(label)), self._style("label"))
        out.append(" ")
        room = max(0, width - label_width - 1)
        bars = series.bars[-room:] if room < len(series.bars) else series.bars
        (line,) = bar_lines([b.value for b in bars], 1)
        for bar, char in zip(bars, line, strict=True):
            if bar.mark:  # on one line a mark stands for its bar (▲ this run, ✘ failed)
                out.append(bar.mark, self._style(bar.tone))
            elif char == " ":  # nothing in that bucket: a dot, so the strip keeps its length
                out.append(ZERO, self._style("dim"))
            else:
                out.append(char, self._style(bar.tone))
        out.append("  ")
        out.append(sanitize(series.note), self._style("dim"))

    def _tall(self, out: Text, series: Series, width: int) -> None:
        out.append(sanitize(series.label), self._style("label"))
        out.append("  ")
        out.append(sanitize(series.note), self._style("dim"))
        # Few bars are drawn wider (up to 3 cells and a gap), many one cell each.
        step = max(1, min(4, width // max(1, len(series.bars))))
        wide = max(1, step - 1)
        bars = series.bars[-(width // step) :]
        lines = bar_lines([b.value for b in bars], series.height)
        lines.append("".join(b.mark or " " for b in bars))
        gap = " " * (step - wide)
        for n, line in enumerate(lines):
            out.append("\n")
            for bar, char in zip(bars, line, strict=True):
                # The marks go under the middle of their bar.
                cell = char.center(wide) if n == len(lines) - 1 else char * wide
                out.append(cell + gap, self._style(bar.tone))

    def _as_text(self) -> Text:
        out = Text()
        for n, series in enumerate(self.series):
            if n:
                out.append("\n")
            out.append(sanitize(series.label), self._style("label"))
            out.append(": " + sanitize(series.note) + ". ")
            out.append(sanitize(series.lead + series.joiner.join(series.entries)))
        return out


def _shape(series: list[Series]) -> tuple[int, ...]:
    """What a picture's height follows, numbers apart: how many series, how high each."""
    return tuple(s.height for s in series)
