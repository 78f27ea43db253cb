"""The dashboard's first frame loads the dashboard and nothing it does not draw: the job
details, the log views, the dialogs and the help screen are imported when first opened.
Their hints name keys (`keymap.key_for`), and finding one key's binding used to import
every screen, some 30 ms of the first frame; a config without a `[keymap]` has nothing to
check either. The Scheduled, Agents and Failures tabs' panes, and their modules, are made
once that frame is drawn (`DashboardScreen.fill_pane`).

Asserted on the modules a fresh interpreter holds when the dashboard draws its first frame
(the In Progress table's first lines; the start's own steps: the keymap's check, the
service, the app under Textual's test driver), not on a time."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

SCRIPT = """\
import asyncio, gc, json, sys
from jobdash.core.service import Service, hold_collector, read_config
from jobdash.tui.app import JobdashApp
from jobdash.tui.keymap import check_keymap
from jobdash.tui.widgets.job_table import JobTable
from textual.css import stylesheet
from textual.widgets import TabPane

first = {}
parsed = []  # each CSS source Textual parsed, by its name, in order
parse = stylesheet.parse

def parsing(scope, css, read_from, **options):
    parsed.append(read_from[1] or read_from[0].rsplit("/", 1)[-1])
    return parse(scope, css, read_from, **options)

stylesheet.parse = parsing
render_lines = JobTable.render_lines

def drawn(self, crop):  # the first frame's lines of a job table
    if not first:
        first["modules"] = sorted(sys.modules)
        first["panes"] = panes(self.screen)
        first["filter"] = len(self.screen.query_one("#filter-bar").children)
        first["collector"] = gc.isenabled()
        first["parsed"] = list(parsed)
    return render_lines(self, crop)

def panes(screen):  # the widgets in each tab's pane
    return {pane.id: len(pane.children) for pane in screen.query(TabPane)}

JobTable.render_lines = drawn

async def main():
    hold_collector()  # as `jobdash` does at its start
    check_keymap(read_config(sys.argv[3]).keymap, sys.argv[3])
    svc = await Service.open(db=sys.argv[2], config=sys.argv[3])
    try:
        embedded = sys.argv[4] == "embedded"
        app = JobdashApp(svc, embedded_engine=embedded, engine_slots=1 if embedded else None)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            bar = app.screen.query_one("#filter-bar")
            for _ in range(200):  # the panes come one a frame: a loaded machine is slower
                if all(panes(app.screen).values()) and bar.children:
                    break
                await pilot.pause(0.05)
            with open(sys.argv[1], "w") as f:
                after = {
                    "after": panes(app.screen),
                    "filter after": len(bar.children),
                    "collector after": gc.isenabled(),
                }
                json.dump({**first, **after}, f)
    finally:
        await svc.close()

asyncio.run(main())
"""

LATER = (
    "jobdash.tui.screens.job_details",
    "jobdash.tui.screens.multi_log",
    "jobdash.tui.screens.help",
    "jobdash.tui.widgets.log_view",
    "jobdash.tui.dialogs.edit_planning",
    "jobdash.tui.dialogs.start_job",
    "jobdash.tui.dialogs.confirm",  # `q` with tasks running, and the job keys' questions
)
# The other tabs' panes: made once the first frame is drawn.
PANES = (
    "jobdash.tui.widgets.completed_header",  # the Completed tab's header: its chart
    "jobdash.tui.widgets.chart",
    "jobdash.present.charts",
    "jobdash.tui.widgets.schedules_pane",
    "jobdash.tui.widgets.agents_pane",
    "jobdash.tui.widgets.failures_pane",
    "jobdash.tui.widgets.line_table",
    "jobdash.core.planning",  # the schedules' plannings (the job keys name its type only)
    "jobdash.core.views",  # the failure groups, a job's wait, artifacts: read later
    "jobdash.tui.widgets.job_window",  # the Completed tab's window onto a long history
)
# The embedded engine's machinery: loaded when it starts, after the first frame; with the
# rules of why a job waits and how a lost task is judged (the engine's admission, claims
# and recovery use them, and the job details' wait).
ENGINE = (
    "jobdash.core.agent.agent",
    "jobdash.core.scheduler",
    "jobdash.core.runners",
    "jobdash.core.reports",
    "jobdash.core.waiting",
    "jobdash.core.deaths",
)


def first_frame(tmp_path: Path, config: Path, engine: str = "attached") -> dict[str, Any]:
    """What the first frame held (`modules`, `panes`: widgets in each tab's pane), and the
    panes once the dashboard settled (`after`); `engine`: "embedded" starts one."""
    out = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), str(tmp_path / "s.db"), str(config), engine],
        check=True,
        timeout=120,
    )
    done: dict[str, Any] = json.loads(out.read_text())
    assert done["modules"], "no first frame drawn"
    return done


def first_frame_modules(tmp_path: Path, config: Path, engine: str = "attached") -> set[str]:
    return set(first_frame(tmp_path, config, engine)["modules"])


def test_the_first_frame_imports_no_screen_it_does_not_show(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    modules = first_frame_modules(tmp_path, write_config("[jobdash]\n"))
    assert "jobdash.tui.screens.dashboard" in modules
    assert sorted(m for m in LATER + PANES + ENGINE if m in modules) == []


def test_the_embedded_engine_is_loaded_after_the_first_frame(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """The dashboard that runs the engine starts it once the first frame is drawn: the
    agent, the scheduler, the runners and the reports are not the first frame's imports."""
    modules = first_frame_modules(tmp_path, write_config("[jobdash]\n"), "embedded")
    assert "jobdash.tui.screens.dashboard" in modules
    assert sorted(m for m in ENGINE if m in modules) == []


def test_the_hidden_tabs_panes_are_made_after_the_first_frame(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """The first frame composes, styles and reads for the two job tables only; the
    Completed tab's header (its chart of the last day) and the Scheduled, Agents and
    Failures panes (11 of the screen's 52 widgets) come right after."""
    done = first_frame(tmp_path, write_config("[jobdash]\n"))
    assert done["panes"] == {
        "inprogress": 1,
        "completed": 1,
        "scheduled": 0,
        "agents": 0,
        "failures": 0,
    }
    assert done["after"] == {
        "inprogress": 1,
        "completed": 2,
        "scheduled": 1,
        "agents": 1,
        "failures": 1,
    }


def test_the_filter_bars_field_is_made_after_the_first_frame(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """The filter bar is hidden until `/`: its field (Textual's `Input`, the longest styles
    the first frame parsed) and error line are made after that frame, with the panes."""
    done = first_frame(tmp_path, write_config("[jobdash]\n"))
    assert done["filter"] == 0
    assert done["filter after"] == 2  # the row of prompt and field, and the error line


def test_the_first_frame_parses_the_apps_and_the_tables_css_once(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """Textual parses a CSS source again when its rank changes: the theme set through
    Textual's watcher parsed the app's CSS twice (once in a stylesheet thrown away), and the
    Completed tab's table, a class deeper than the In Progress tab's, had the tables' bases
    parsed again. Each once now; Textual's own Widget and Static default CSS, which every
    deeper widget re-ranks, is parsed more than once still."""
    parsed = first_frame(tmp_path, write_config("[jobdash]\n"))["parsed"]
    once = (
        "jobdash.tcss",
        "App.DEFAULT_CSS",
        "Screen.DEFAULT_CSS",
        "TableBase.DEFAULT_CSS",
        "ScrollView.DEFAULT_CSS",
        "FilterBar.DEFAULT_CSS",
        "Footer.DEFAULT_CSS",
    )
    assert {name: parsed.count(name) for name in once} == dict.fromkeys(once, 1)
    assert parsed.count("Widget.DEFAULT_CSS") <= 2


def test_the_cycle_collector_is_held_until_the_first_frame_is_drawn(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """Held from the start (`jobdash` holds it) through the first frame, and running once
    the dashboard is up (`freeze_start_up`): not left off for the dashboard's life."""
    done = first_frame(tmp_path, write_config("[jobdash]\n"), "embedded")
    assert done["collector"] is False
    assert done["collector after"] is True


def test_a_keymap_is_checked_against_every_screen_at_the_start(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """A keymap's check needs every screen's bindings: then they are imported before the
    first frame, as before."""
    config = write_config('[keymap]\n"log.follow" = "ctrl+f"\n')
    assert set(LATER) <= first_frame_modules(tmp_path, config)
