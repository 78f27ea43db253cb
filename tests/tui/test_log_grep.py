"""Pilot tests for the log pane's grep mode (`/` then `ctrl+g`: only the lines the search
matches, with N lines of context, `+`/`-` change N, `ctrl+g` again or `esc` every line) and
its `g`/`G` keys (first line; last line, following).

Grep mode is held to a plain `grep -C N` written here, over the lines held, also while
lines keep coming in batches that split a match from its context.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from jobdash.core.model import LogLine
from jobdash.tui.widgets.log_view import LogView
from tests.tui.test_log_view import SIZE, LogApp, make_line, rows


def text_of(seq: int) -> str:
    """Line `seq`'s text: every 37th (and the 3 lines from 150) hold an ERROR."""
    return f"line {seq} ERROR" if seq % 37 == 5 or 150 <= seq < 153 else f"line {seq} ok"


def lines(start: int, count: int) -> list[LogLine]:
    return [make_line(seq, text_of(seq)) for seq in range(start, start + count)]


def grep_c(texts: list[str], word: str, context: int) -> list[str]:
    """What `grep -i -C context word` prints, with "-- N" for the N lines left out."""
    keep: set[int] = set()
    for i, text in enumerate(texts):
        if word.lower() in text.lower():
            keep.update(range(max(0, i - context), min(len(texts), i + context + 1)))
    out: list[str] = []
    previous = None
    for i in sorted(keep):
        if previous is not None and i > previous + 1:
            out.append(f"-- {i - previous - 1}")
        out.append(texts[i])
        previous = i
    return out


def shown(view: LogView) -> list[str]:
    """The lines the pane holds to show, a row of left-out lines as "-- N"."""
    out = []
    for line in view.lines:
        if line.stream == "gap":
            found = re.fullmatch(r"┄┄ (\d+) lines? not matching ┄┄", line.text)
            assert found is not None, line.text
            out.append(f"-- {found[1]}")
        else:
            out.append(line.text)
    return out


@asynccontextmanager
async def pane(count: int) -> AsyncIterator[tuple[Any, LogView]]:
    """A log pane holding lines 0 … count-1, following."""
    app = LogApp()
    async with app.run_test(size=SIZE) as pilot:
        view = app.query_one(LogView)
        view.append(lines(0, count))
        await pilot.pause()
        yield pilot, view


async def test_grep_mode_shows_the_matches_with_context_and_keeps_up() -> None:
    async with pane(200) as (pilot, view):
        every = [text_of(seq) for seq in range(200)]
        await pilot.press("slash", *"error", "ctrl+g")
        await pilot.pause()
        assert view.grep_context == 3
        assert shown(view) == grep_c(every, "error", 3)
        assert "┄┄ 30 lines not matching ┄┄" in "\n".join(rows(view))
        assert "grep: 3 lines of context (+/-)" in rows(view)[-1]
        assert view.lines_view.last_shown_seq() == 0  # a part shown: nothing counts as read

        await pilot.press("minus")
        assert shown(view) == grep_c(every, "error", 2)
        await pilot.press("plus", "plus", "plus")
        assert view.grep_context == 5
        assert shown(view) == grep_c(every, "error", 5)
        # Lines keep coming, in batches that split matches from their context.
        for start, count in ((200, 8), (208, 1), (209, 30), (239, 61)):
            view.append(lines(start, count))
            every += [text_of(seq) for seq in range(start, start + count)]
            await pilot.pause()
            assert shown(view) == grep_c(every, "error", 5), start
        # n/N move among the matches shown; the search's count is theirs.
        assert view.match_count == sum("ERROR" in text for text in every)

        await pilot.press("ctrl+g")  # every line again, the search still open
        assert view.grep_context is None
        assert shown(view) == every
        await pilot.press("ctrl+g")
        assert shown(view) == grep_c(every, "error", 5)  # the context was kept
        await pilot.press("escape")  # closing the search leaves grep mode
        assert view.grep_context is None and shown(view) == every
        await pilot.press("plus")  # no grep mode: + does nothing
        assert view.grep_context is None


async def test_grep_of_a_new_search_and_of_nothing() -> None:
    async with pane(120) as (pilot, view):
        await pilot.press("ctrl+g")  # no search yet: the bar opens to type one
        assert view.grep_context is None and view.search_query == ""
        await pilot.press(*"line 4", "ctrl+g")
        every = [text_of(seq) for seq in range(120)]
        assert shown(view) == grep_c(every, "line 4", 3)
        view.search("no such text")  # a new search in grep mode: its matches, none
        await pilot.pause()
        assert shown(view) == []
        assert "no matches" in rows(view)[-1]


async def test_g_and_G_jump_to_the_first_and_the_last_line() -> None:
    async with pane(500) as (pilot, view):
        assert view.following
        await pilot.press("g")
        await pilot.pause()
        assert not view.following
        assert rows(view)[0].strip() == "line 0 ok"
        view.append(lines(500, 10))  # paused: the view stays at the top
        await pilot.pause()
        assert rows(view)[0].strip() == "line 0 ok"
        await pilot.press("G")
        await pilot.pause()
        assert view.following
        assert [row.strip() for row in rows(view)][-1] == "line 509 ok"
        view.append(lines(510, 1))
        await pilot.pause()
        assert rows(view)[-1].strip() == "line 510 ok"
