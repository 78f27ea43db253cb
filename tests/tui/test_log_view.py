"""Pilot tests for LogView: batches, follow/pause, wrap, timestamps, search, inert text."""

from __future__ import annotations

import time
from typing import Any

from textual.app import App, ComposeResult

from jobdash.core.model import LogLine
from jobdash.tui.widgets.log_view import LogView

T0 = 1_700_000_000.0
SIZE = (120, 40)


def make_line(seq: int, text: str | None = None, stream: str = "stdout") -> LogLine:
    return LogLine(
        seq=seq,
        job_id=1,
        task_id=None,
        ts=T0 + seq / 1000,
        stream=stream,
        text=f"line {seq}" if text is None else text,
    )


def batch(start: int, count: int) -> list[LogLine]:
    return [make_line(seq) for seq in range(start, start + count)]


class LogApp(App[None]):
    """Mounts one focused LogView and records SaveRequested messages."""

    def __init__(self, **log_args: Any) -> None:
        super().__init__()
        self.log_args = log_args
        self.saves: list[LogView] = []

    def compose(self) -> ComposeResult:
        yield LogView(**self.log_args)

    def on_mount(self) -> None:
        self.query_one(LogView).focus()

    def on_log_view_save_requested(self, message: LogView.SaveRequested) -> None:
        self.saves.append(message.log_view)


def rows(view: LogView) -> list[str]:
    """The text of every visible row of the pane, as drawn: the lines, then the paused
    footer and the search bar when they show."""
    lines = view.lines_view
    shown = [lines.render_line(y).text for y in range(lines.scrollable_content_region.height)]
    for bar in view.children[1:]:
        if bar.display:
            parts = bar.children or [bar]
            shown.append("".join(part.render_line(0).text for part in parts if part.display))
    return shown


def bottom(view: LogView) -> str:
    return rows(view)[-1]


async def test_append_50k_in_batches_follows_the_end() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        await pilot.pause()
        for start in range(0, 50_000, 1_000):
            view.append(batch(start, 1_000))
            if start % 10_000 == 0:
                await pilot.pause()
        await pilot.pause()
        assert view.line_count == 50_000
        assert view.following
        assert bottom(view) == " line 49999".ljust(len(bottom(view)))
        assert rows(view)[0].strip() == f"line {50_000 - len(rows(view))}"


async def test_scrolling_up_pauses_and_counts_new_lines() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        await pilot.pause()
        view.append(batch(0, 500))
        await pilot.pause()
        assert view.following

        await pilot.press("up")
        await pilot.pause()
        assert not view.following
        assert "following paused (f to follow)" in bottom(view)
        top_before = rows(view)[0]

        view.append(batch(500, 60))
        view.append(batch(560, 63))
        await pilot.pause()
        assert "⏸ following paused — 123 new lines (f to follow)" in bottom(view)
        assert rows(view)[0] == top_before  # the view did not move
        assert "line 622" not in "".join(rows(view))

        await pilot.press("f")
        await pilot.pause()
        assert view.following
        assert bottom(view).strip() == "line 622"
        assert not any("following paused" in row for row in rows(view))

        # `end` also resumes following.
        await pilot.press("pageup")
        assert not view.following
        await pilot.press("end")
        await pilot.pause()
        assert view.following
        assert bottom(view).strip() == "line 622"

        # Any scroll away from the end (wheel, scrollbar drag) pauses too.
        view.lines_view.scroll_to(y=10, animate=False)
        await pilot.pause()
        assert not view.following
        view.append(batch(623, 2))
        await pilot.pause()
        assert "2 new lines" in bottom(view)


async def test_timestamps_and_stream_gutter() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append(
            [
                make_line(1, "out"),
                make_line(2, "oops", stream="stderr"),
                make_line(3, "job started", stream="system"),
            ]
        )
        await pilot.pause()
        assert [row.rstrip() for row in rows(view)[:3]] == [" out", "!oops", "»job started"]

        await pilot.press("t")
        await pilot.pause()
        assert view.timestamps
        local = time.localtime(T0)
        stamp = f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}.001"
        assert rows(view)[0].rstrip() == f" {stamp} out"
        assert rows(view)[1].startswith("!") and rows(view)[1].rstrip().endswith(" oops")

        await pilot.press("t")
        await pilot.pause()
        assert rows(view)[0].rstrip() == " out"


async def test_wrap_spans_several_rows() -> None:
    long = "".join(chr(ord("a") + n % 26) for n in range(500))
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append([make_line(1, "before"), make_line(2, long), make_line(3, "after")])
        await pilot.pause()
        width = view.lines_view.scrollable_content_region.width
        unwrapped = [row for row in rows(view) if row.strip()]
        assert len(unwrapped) == 3
        assert unwrapped[1] == " " + long[: width - 1]  # cut at the edge, scrolls sideways

        await pilot.press("w")
        await pilot.pause()
        assert view.wrap
        wrapped = [row for row in rows(view) if row.strip()]
        text_width = width - 1
        expected_rows = -(-len(long) // text_width)
        assert len(wrapped) == 2 + expected_rows
        assert wrapped[0].strip() == "before" and wrapped[-1].strip() == "after"
        joined = "".join(row[1:] for row in wrapped[1:-1]).rstrip()
        assert joined == long

        # Timestamps narrow the text column: more rows, the same text.
        await pilot.press("t")
        await pilot.pause()
        wrapped = [row for row in rows(view) if row.strip()]
        assert len(wrapped) == 2 + -(-len(long) // (text_width - 13))
        joined = "".join(row[14:] for row in wrapped[1:-1]).rstrip()
        assert joined == long

        await pilot.press("w")
        await pilot.pause()
        assert len([row for row in rows(view) if row.strip()]) == 3


async def test_search_finds_highlights_and_moves() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        lines = batch(0, 300)
        lines[10] = make_line(10, "first NEEDLE here")
        lines[150] = make_line(150, "a needle and a Needle")
        lines[290] = make_line(290, "last needle")
        view.append(lines)
        await pilot.pause()

        await pilot.press("slash", *"needle")
        await pilot.pause()
        assert view.search_query == "needle"
        assert bottom(view).startswith("/needle")
        assert view.following and not view.wrap  # typed letters did not trigger bindings

        await pilot.press("enter")
        await pilot.pause()
        assert view.match_count == 3
        assert view.current_match == (290, 5)  # following: the newest match first
        assert "3/3" in bottom(view)

        await pilot.press("n")
        await pilot.pause()
        assert view.current_match == (10, 6)
        assert "1/3" in bottom(view)
        assert not view.following  # jumped away from the end
        shown = rows(view)
        y = next(y for y, row in enumerate(shown) if "first NEEDLE here" in row)
        segments = list(view.lines_view.render_line(y))
        highlighted = [s for s in segments if s.text == "NEEDLE"]
        assert highlighted and highlighted[0].style != segments[0].style

        await pilot.press("n")
        await pilot.pause()
        assert view.current_match == (150, 2)
        assert "2/3" in bottom(view)
        y = next(y for y, row in enumerate(rows(view)) if "a needle and a Needle" in row)
        texts = [s.text for s in view.lines_view.render_line(y)]
        assert "needle" in texts and "Needle" in texts

        await pilot.press("N", "N")
        await pilot.pause()
        assert view.current_match == (290, 5)
        assert "3/3" in bottom(view)

        await pilot.press("escape")
        await pilot.pause()
        assert view.match_count == 0
        assert not any(row.startswith("/needle") for row in rows(view))

        # Without a search, n falls through to whoever else binds it.
        await pilot.press("n")
        assert view.current_match is None


async def test_search_with_no_match() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append(batch(0, 10))
        await pilot.press("slash", *"zzz", "enter")
        await pilot.pause()
        assert view.match_count == 0
        assert "no matches" in bottom(view)


async def test_job_output_is_inert() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append(
            [
                make_line(1, "[bold red]x[/]"),
                make_line(2, "\x1b[2Jcleared?"),
                make_line(3, "\x1b]52;c;aGk=\x07copied?", stream="stderr"),
                make_line(4, "bell\x07 cr\r bs\x08 c1\x9b31m"),
            ]
        )
        await pilot.pause()
        shown = rows(view)
        assert shown[0].rstrip() == " [bold red]x[/]"
        assert shown[1].rstrip() == " ␛[2Jcleared?"
        assert shown[2].rstrip() == "!␛]52;c;aGk=␇copied?"
        assert shown[3].rstrip() == " bell␇ cr␍ bs␈ c1\ufffd31m"
        for y in range(len(shown)):
            for segment in view.lines_view.render_line(y):
                assert "\x1b" not in segment.text
                assert "\x07" not in segment.text
                assert "\x9b" not in segment.text

        # Wrapped and searched rendering paths are inert too.
        await pilot.press("w", "slash", *"52", "enter")
        await pilot.pause()
        for y in range(len(rows(view))):
            text = view.lines_view.render_line(y).text
            assert "\x1b" not in text and "\x07" not in text

        # The export is the job's raw output, for a file (not the terminal).
        assert "\x1b[2Jcleared?" in view.export_text()


async def test_memory_cap_drops_oldest_with_notice() -> None:
    app = LogApp(max_lines=1_000)
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append(batch(0, 600))
        view.append(batch(600, 900))
        await pilot.pause()
        assert view.line_count == 1_000
        assert view.dropped_count == 500
        assert view.lines[0].text == "line 500"
        assert bottom(view).strip() == "line 1499"
        await pilot.press("home")
        await pilot.pause()
        assert rows(view)[0].strip() == "… 500 earlier lines not shown"
        assert rows(view)[1].strip() == "line 500"

        # While paused, trimming the front keeps the same lines on screen...
        await pilot.press("pagedown", "pagedown", "pagedown", "pagedown")
        await pilot.pause()
        top = rows(view)[0]
        assert int(top.split()[1]) > 600
        view.append(batch(1_500, 100))
        await pilot.pause()
        assert rows(view)[0] == top
        assert "100 new lines" in bottom(view)
        # ...unless the lines on screen are the ones dropped: then the view stops at the top.
        view.append(batch(1_600, 1_000))
        await pilot.pause()
        assert rows(view)[0].strip() == "… 1,600 earlier lines not shown"


async def test_save_posts_message_and_exports() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append(batch(0, 3))
        await pilot.press("s")
        await pilot.pause()
        assert app.saves == [view]
        assert view.export_text() == "line 0\nline 1\nline 2\n"
        local = time.localtime(T0)
        assert view.export_text(timestamps=True).startswith(
            f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d}.000 line 0\n"
        )


def test_bindings_have_ids_and_descriptions() -> None:
    from textual.binding import Binding

    bindings = [b for b in LogView.BINDINGS if isinstance(b, Binding)]
    ids = {b.id for b in bindings}
    assert {
        "log.follow",
        "log.wrap",
        "log.timestamps",
        "log.search",
        "log.next",
        "log.prev",
        "log.save",
    } <= ids
    assert all(b.description for b in bindings)


async def test_paused_append_repaints_only_the_footer() -> None:
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append(batch(0, 500))
        await pilot.pause()
        await pilot.press("pageup", "slash", *"line 1", "enter")
        await pilot.pause()
        assert not view.following

        refreshed: list[Any] = []
        lines = view.lines_view
        original = lines.refresh

        def spy(*regions: Any, **kwargs: Any) -> Any:
            if kwargs.get("repaint", True):  # layout-only refreshes repaint nothing
                refreshed.append(regions)
            return original(*regions, **kwargs)

        lines.refresh = spy  # type: ignore[method-assign]
        view.append(batch(500, 50))
        lines.refresh = original  # type: ignore[method-assign]
        assert refreshed == []  # no log line repainted: the footer (its own widget) changes
        await pilot.pause()
        assert "50 new lines" in rows(view)[-2]
        assert rows(view)[-1].startswith("/line 1")
