"""The job details' header keeps its height equal to what it draws: it lays the screen out
again only when that height changes (a job changes with every batch of its log, and a
layout of the whole screen at each change was most of what following a fast log cost), so
these check that a line coming or going, and a line that wraps, still resize it."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult

from jobdash.core.model import JobStatus
from jobdash.tui.widgets.job_header import JobHeader
from tests.tui.job_factory import NOW, make_job


class CountingHeader(JobHeader):
    """A JobHeader that counts the layouts it asks for."""

    layouts = 0

    def refresh(self, *regions: Any, layout: bool = False, **kwargs: Any) -> Any:
        self.layouts += layout
        return super().refresh(*regions, layout=layout, **kwargs)


class HeaderApp(App[None]):
    def compose(self) -> ComposeResult:
        yield CountingHeader(7)

    def clock(self) -> float:
        return NOW


async def height_after(pilot: Any, header: JobHeader, **changes: Any) -> int:
    header.set_job(make_job(7, **changes))
    await pilot.pause()
    await pilot.pause()
    return header.region.height


def drawn_rows(header: JobHeader) -> int:
    """The rows its text takes at its width (what it draws, whatever its region)."""
    return header.render().plain.count("\n") + 1


async def test_the_header_grows_and_shrinks_with_its_lines() -> None:
    app = HeaderApp()
    async with app.run_test(size=(120, 30)) as pilot:
        header = app.query_one(JobHeader)
        plain = await height_after(pilot, header)
        assert plain == drawn_rows(header) == 3
        # A finished job with results has a line more ("result files 40 · rows 9").
        with_results = await height_after(pilot, header, metrics={"files": 40, "rows": 9})
        assert "result files 40" in header.render().plain
        assert with_results == plain + 1
        # The same job again without them: the line goes, and so does the row.
        assert await height_after(pilot, header) == plain
        # Unchanged height: the job changes (as with each batch of its log), no layout.
        assert isinstance(header, CountingHeader)
        layouts = header.layouts
        for n in range(5):
            assert await height_after(pilot, header, info=f"step {n}") == plain
        assert header.layouts == layouts


async def test_a_line_that_wraps_makes_it_taller() -> None:
    app = HeaderApp()
    async with app.run_test(size=(80, 30)) as pilot:
        header = app.query_one(JobHeader)
        short = await height_after(pilot, header, status=JobStatus.RUNNING, finished=None)
        # A long user name wraps the second line at 80 columns (fields are clipped at 80).
        long = await height_after(
            pilot, header, status=JobStatus.RUNNING, finished=None, user="u" * 70
        )
        assert long > short
