"""Where a job type is defined: the config file and line (with the Python function that does
its work, for a Python type), in `jobdash types` and the job details; `E` on a job's details
opens that file at that line in the user's editor (a real dashboard in a pseudo-terminal,
a real editor process), and a type with no file here says where it is defined instead."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jobdash.core.service import Service
from jobdash.tui.screens.job_details import JobDetailsScreen, JobHeader
from tests.conftest import run_cli, start_serve
from tests.test_engine_attacks import Terminal, until
from tests.tui.pane_harness import SIZE, PaneApp
from tests.tui.pane_harness import until as settled

Open = Callable[..., Awaitable[Service]]

CONFIG = """\
[jobdash]
admins = ["root"]

# Imports: one a file.
[types.import-files]
command = ["true"]

[types]
inline = { command = ["true"], description = "declared in the [types] table" }

[types.python-step]
description = "a Python type"
function = "tests.data.pyjobs:noop"
"""


def test_types_lists_the_file_and_line_of_each_type(tmp_path: Path) -> None:
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    env = {"JOBDASH_DB": str(tmp_path / "j.db"), "JOBDASH_CONFIG": str(config)}
    r = run_cli("types", "--json", env=env)
    assert r.returncode == 0, r.stderr
    where = {t["name"]: (t["source"], t["line"], t["defined_at"]) for t in json.loads(r.stdout)}
    assert where == {
        "import-files": (str(config), 5, f"{config}:5"),
        "inline": (str(config), 9, f"{config}:9"),
        "python-step": (str(config), 11, f"{config}:11 (function tests.data.pyjobs:noop)"),
    }
    table = run_cli("types", env={**env, "COLUMNS": "200"})
    assert f"{config}:5" in table.stdout and "(function tests.data.pyjobs:noop)" in table.stdout


def test_types_lists_the_given_configs_types_and_marks_the_published_ones(
    tmp_path: Path,
) -> None:
    """`--config new.toml types` lists new.toml's types at their file and line, and the
    types the store's engines published from their own file (which `run` and the new-job
    dialog take too) marked as the engine's: not as a file here. A type both define is
    listed as the config defines it."""
    engine_config, mine = tmp_path / "engine.toml", tmp_path / "mine.toml"
    engine_config.write_text(
        '[types.hello]\ncommand = ["true"]\ndescription = "says hi"\n'
        '[types.both]\ncommand = ["true"]\ndescription = "the engine\'s"\n'
    )
    mine.write_text('\n[types.both]\ncommand = ["false"]\ndescription = "mine"\n')
    db = str(tmp_path / "j.db")
    serve = start_serve(tmp_path / "serve.log", "--db", db, "--config", str(engine_config))
    serve.terminate()  # its types stay published in the store
    assert serve.wait(30) == 0

    def types(config: Path, *args: str) -> str:
        r = run_cli("--db", db, "--config", str(config), "types", *args, env={"COLUMNS": "200"})
        assert r.returncode == 0 and r.stderr == "", r.stderr
        return r.stdout

    listed = json.loads(types(mine, "--json"))
    assert [(t["name"], t["published"], t["description"]) for t in listed] == [
        ("both", False, "mine"),
        ("hello", True, "says hi"),
    ]
    assert listed[0]["defined_at"] == f"{mine}:2"
    rows = types(mine).splitlines()[1:]
    assert rows[0].split()[0] == "both" and rows[0].split()[-1] == f"{mine}:2"
    assert rows[1].split()[0] == "hello"
    assert rows[1].split()[-2:] == ["engine:", f"{engine_config}:1"]
    listed = json.loads(types(engine_config, "--json"))  # the engine's own file: its own
    assert [(t["name"], t["published"]) for t in listed] == [("both", False), ("hello", False)]


def test_e_opens_the_types_file_at_its_line_in_the_editor_and_the_dashboard_comes_back(
    tmp_path: Path,
) -> None:
    config = tmp_path / "jobdash.toml"
    config.write_text(CONFIG)
    db = tmp_path / "store.db"
    said = tmp_path / "editor-args"
    editor = tmp_path / "editor"
    editor.write_text(f'#!/bin/sh\nprintf "%s\\n" "$@" > {said}\n')
    editor.chmod(0o755)
    term = Terminal("--db", str(db), "--config", str(config), env={"EDITOR": str(editor)})
    try:
        term.wait_for("engine")
        assert run_cli("--db", str(db), "--config", str(config), "run", "inline").returncode == 0
        # Finished, and counted in the Completed tab's title ("inline" alone may be the In
        # Progress tab's row, drawn again while the job ends: Enter then found no row).
        term.wait_for("Completed (1)")
        before = len(term.output)
        term.send("2")  # Completed
        term.wait_for("inline", since=before)  # its row
        term.send("\r")  # its details
        term.wait_for("(jobdash.toml:9)")  # the header says where the type is declared
        drawn = len(term.output)
        term.send("E")

        def edited() -> bool:
            term.read()  # the dashboard's output is drained, or it blocks writing it
            return said.exists() and bool(said.read_text())

        until(edited, 30, "the editor to run")
        assert said.read_text().splitlines() == ["+9", str(config)]
        term.wait_for("1 task done")  # the dashboard draws itself again
        assert len(term.output) > drawn
        assert term.proc.poll() is None
    finally:
        term.close()


class ToldApp(PaneApp):
    """The pane harness, keeping what it was told (its toasts)."""

    told: list[str]

    def notify(self, message: str, **kwargs: Any) -> None:  # type: ignore[override]
        self.told = [*getattr(self, "told", []), str(message)]
        super().notify(message, **kwargs)


async def test_a_type_without_a_file_here_says_where_it_is_defined(services: Open) -> None:
    svc = await services(demo=True, engine=False)
    job = await svc.submit("export-report")
    app = ToldApp(svc, screen=lambda: JobDetailsScreen(svc, job.id))
    async with app.run_test(size=SIZE) as pilot:
        await settled(pilot, lambda: isinstance(app.screen, JobDetailsScreen))
        header = app.screen.query_one(JobHeader)
        where = "demo (function jobdash.demo:export_report)"
        await settled(pilot, lambda: header.defined_at == where)
        assert where in str(header.render())
        await pilot.press("E")
        await settled(pilot, lambda: any("no file here to edit" in t for t in app.told))
        assert f"Type export-report is defined in {where}: no file here to edit" in app.told
