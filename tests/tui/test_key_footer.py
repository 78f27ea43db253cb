"""The footer's keys (`KeyFooter`): composed anew only when the keys to show differ, and
the keys it no longer shows are freed. Textual's own footer composed its keys on every
change of focus or tab and kept each one it ever showed alive (textual#6666): a
dashboard whose tabs were switched a few hundred times grew by hundreds of MB and took
seconds a key."""

from __future__ import annotations

import gc
import weakref

from textual.widget import Widget

from jobdash.tui.screens.dashboard import DashboardScreen
from tests.tui.conftest import Open
from tests.tui.pane_harness import SIZE
from tests.tui.test_app import loaded, make_app


def footer_keys(dash: DashboardScreen) -> list[Widget]:
    """The footer's entries (found by their type's name: Textual does not export it)."""
    return list(dash.query("FooterKey"))


async def test_the_keys_a_footer_no_longer_shows_are_freed(open_service: Open) -> None:
    app = make_app(await open_service())
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        # Keys made once the dashboard is up: what exists at its start is frozen out of the
        # cycle collector's view (`freeze_start_up`), and stays.
        await pilot.press("3")  # the Scheduled tab's keys
        await pilot.pause()
        shown = [weakref.ref(key) for key in footer_keys(dash)]
        assert len(shown) >= 3
        for tab in "4512" * 5:  # the other tabs' keys, each other than the Scheduled tab's
            await pilot.press(tab)
            await pilot.pause()
        assert footer_keys(dash)
        gc.collect()
        assert [ref for ref in shown if ref() is not None] == []


async def test_the_same_keys_are_not_composed_again(open_service: Open) -> None:
    app = make_app(await open_service())
    async with app.run_test(size=SIZE) as pilot:
        dash = await loaded(pilot)
        await pilot.press("2")  # Completed: the same keys as In Progress
        await pilot.pause()
        keys = footer_keys(dash)
        for tab in "1212":
            await pilot.press(tab)
            await pilot.pause()
        assert footer_keys(dash) == keys
