"""The dashboard's first frame loads the dashboard and nothing it does not draw: the job
details, the log views, the dialogs and the help screen are imported when first opened.
Their hints name keys (`keymap.key_for`), and finding one key's binding used to import
every screen, some 30 ms of the first frame; a config without a `[keymap]` has nothing to
check either.

Asserted on the modules a fresh interpreter holds once the dashboard has drawn (the
start's own steps: the keymap's check, the service, the app under Textual's test driver),
not on a time."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

SCRIPT = """\
import asyncio, json, sys
from jobdash.core.service import Service, read_config
from jobdash.tui.app import JobdashApp
from jobdash.tui.keymap import check_keymap

async def main():
    check_keymap(read_config(sys.argv[3]).keymap, sys.argv[3])
    svc = await Service.open(db=sys.argv[2], config=sys.argv[3])
    try:
        app = JobdashApp(svc, embedded_engine=False)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            drawn = app.screen.query_one("#in-progress-empty, JobTable") is not None
            with open(sys.argv[1], "w") as f:
                json.dump({"drawn": drawn, "modules": sorted(sys.modules)}, f)
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
)


def first_frame_modules(tmp_path: Path, config: Path) -> set[str]:
    out = tmp_path / "modules.json"
    subprocess.run(
        [sys.executable, "-c", SCRIPT, str(out), str(tmp_path / "s.db"), str(config)],
        check=True,
        timeout=120,
    )
    done = json.loads(out.read_text())
    assert done["drawn"]
    return set(done["modules"])


def test_the_first_frame_imports_no_screen_it_does_not_show(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    modules = first_frame_modules(tmp_path, write_config("[jobdash]\n"))
    assert "jobdash.tui.screens.dashboard" in modules
    assert sorted(m for m in LATER if m in modules) == []


def test_a_keymap_is_checked_against_every_screen_at_the_start(
    tmp_path: Path, write_config: Callable[[str], Path]
) -> None:
    """A keymap's check needs every screen's bindings: then they are imported before the
    first frame, as before."""
    config = write_config('[keymap]\n"log.follow" = "ctrl+f"\n')
    assert set(LATER) <= first_frame_modules(tmp_path, config)
