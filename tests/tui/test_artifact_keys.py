"""The artifacts on a job's details: `O` asks where and saves the artifact under the cursor
(bytes identical, the file 0600); `o` on a binary one asks where too; in a terminal-less
app a text one's pager is refused in one toast, nothing else happens."""

from __future__ import annotations

import asyncio
import stat
from pathlib import Path
from typing import Any

from jobdash.tui.dialogs.save_artifact import SaveArtifactScreen
from jobdash.tui.screens.job_details import JobDetailsScreen
from tests.tui.pane_harness import CONFIG
from tests.tui.test_snapshots_details import (
    ARTIFACTS,
    SnapApp,
    add_artifacts,
    build_store,
    settle_artifacts,
)


def test_saving_an_artifact_from_the_details(tmp_path: Path, monkeypatch: Any) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = tmp_path / "snap.db"
    build_store(db, config)  # its own event loop: before the app's
    add_artifacts(db)
    asyncio.run(save_and_give_up(SnapApp(db, config), tmp_path))


async def save_and_give_up(app: SnapApp, tmp_path: Path) -> None:
    async with app.run_test(size=(120, 40)) as pilot:
        await settle_artifacts(pilot)
        screen = app.screen
        assert isinstance(screen, JobDetailsScreen)
        # The first row is under the cursor when none was chosen: import-report.csv.
        await pilot.press("O")
        await pilot.pause()
        assert isinstance(app.screen, SaveArtifactScreen)
        await pilot.press("enter")  # the suggested ./import-report.csv
        saved = tmp_path / "import-report.csv"
        for _ in range(100):
            if saved.exists():
                break
            await pilot.pause(0.05)
        assert saved.read_bytes() == ARTIFACTS[0][2]
        assert stat.S_IMODE(saved.stat().st_mode) == 0o600

        # A binary one: `o` asks where; escape saves nothing.
        table = screen.query_one("#artifacts-table")
        table.focus()
        await pilot.press("end")
        await pilot.press("o")
        await pilot.pause()
        assert isinstance(app.screen, SaveArtifactScreen)
        assert app.screen.artifact.name == "summary.pdf"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, JobDetailsScreen)
        assert not (tmp_path / "summary.pdf").exists()
