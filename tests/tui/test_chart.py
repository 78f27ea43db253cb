"""A `Chart` alone: new counts in the same shape repaint it without laying the screen out
again (the Agents tab's picture changes every second while tasks end, hidden or not); a
new shape (another series, a taller one, the numbers as text) lays it out."""

from __future__ import annotations

from textual.app import App, ComposeResult

from jobdash.present.charts import Bar, Series
from jobdash.tui.widgets.chart import Chart
from tests.tui.app_harness import screen_text


def series(label: str, *values: float, height: int = 1) -> Series:
    bars = [Bar(v, "accent") for v in values]
    return Series(label, bars, f"{label} peak {max(values):g}", height=height)


class ChartApp(App[None]):
    def compose(self) -> ComposeResult:
        yield Chart("nothing yet", id="chart")


async def test_new_counts_repaint_without_a_layout() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 40)) as pilot:
        chart = app.query_one(Chart)
        chart.show([series("vm-a", 1, 2, 3)])
        await pilot.pause()
        assert "vm-a peak 3" in screen_text(app)
        chart.show([series("vm-a", 1, 2, 7)])
        assert not chart._layout_required  # a repaint only
        await pilot.pause()
        assert "vm-a peak 7" in screen_text(app)


async def test_a_new_shape_lays_the_chart_out() -> None:
    app = ChartApp()
    async with app.run_test(size=(60, 40)) as pilot:
        chart = app.query_one(Chart)
        chart.show([series("vm-a", 1, 2, 3)])
        await pilot.pause()
        assert chart.size.height == 1
        chart.show([series("vm-a", 1, 2, 3), series("total", 4, 5, 6)])
        assert chart._layout_required
        await pilot.pause()
        assert chart.size.height == 2
        chart.show([series("vm-a", 1, 2, 3, height=3)])
        assert chart._layout_required
        await pilot.pause()
        assert chart.size.height == 5  # label and note, three lines of bars, the marks
        chart.numbers = True
        await pilot.pause()
        chart.show([series("vm-a", 1, 2, 8, height=3)])  # as text: its length may wrap
        assert chart._layout_required
