"""A `Chart` alone: new counts in the same shape repaint it without laying the screen out
again (the Agents tab's picture changes every second while tasks end, hidden or not); a
new shape (another series, a taller one, the numbers as text) lays it out."""

from __future__ import annotations

from typing import Self

from textual.app import App, ComposeResult
from textual.geometry import Region
from textual.pilot import Pilot

from jobdash.present.charts import Bar, Series
from jobdash.tui.widgets.chart import Chart
from tests.tui.app_harness import screen_text


def series(label: str, *values: float, height: int = 1) -> Series:
    bars = [Bar(v, "accent") for v in values]
    return Series(label, bars, f"{label} peak {max(values):g}", height=height)


class RecordedChart(Chart):
    """A chart that keeps what each of its refreshes asked for: a layout, or not."""

    layouts: list[bool]

    def refresh(
        self, *regions: Region, repaint: bool = True, layout: bool = False, recompose: bool = False
    ) -> Self:
        if not hasattr(self, "layouts"):
            self.layouts = []
        self.layouts.append(layout)
        return super().refresh(*regions, repaint=repaint, layout=layout, recompose=recompose)


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield RecordedChart("nothing yet", id="chart")


async def first_shown(pilot: Pilot[None]) -> RecordedChart:
    """The chart, showing one series of one line (vm-a's), drawn."""
    chart = pilot.app.query_one(RecordedChart)
    chart.show([series("vm-a", 1, 2, 3)])
    await pilot.pause()
    assert "vm-a peak 3" in screen_text(pilot.app) and chart.size.height == 1
    return chart


def laid_out(chart: RecordedChart, show: list[Series]) -> bool:
    """Whether showing `show` asks for a layout (not only a repaint)."""
    chart.layouts = []
    chart.show(show)
    return any(chart.layouts)


async def test_new_counts_repaint_without_a_layout() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 40)) as pilot:
        chart = await first_shown(pilot)
        assert not laid_out(chart, [series("vm-a", 1, 2, 7)])  # a repaint only
        await pilot.pause()
        assert "vm-a peak 7" in screen_text(app)


async def test_a_new_shape_lays_the_chart_out() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 40)) as pilot:
        chart = await first_shown(pilot)
        assert laid_out(chart, [series("vm-a", 1, 2, 3), series("total", 4, 5, 6)])
        await pilot.pause()
        assert chart.size.height == 2
        assert laid_out(chart, [series("vm-a", 1, 2, 3, height=3)])
        await pilot.pause()
        assert chart.size.height == 5  # label and note, three lines of bars, the marks
        chart.numbers = True
        await pilot.pause()
        assert laid_out(chart, [series("vm-a", 1, 2, 8, height=3)])  # as text: it may wrap
