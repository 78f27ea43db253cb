"""The cycle collector is held while `jobdash` starts and runs again once it is up (see
`jobdash.core.heap`): a command runs with it, and `main` gives it back on every way out.

Held, the start's tens of thousands of long-lived objects are not walked by full passes as
they are made (in the dashboard a pass of 28-69 ms before the first frame); never given
back, a long command (`logs -f`, `serve`) would keep every cycle it makes."""

from __future__ import annotations

import contextlib
import gc
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from jobdash.cli import main

# A real `jobdash jobs` in a fresh interpreter, observed (not changed): is the collector
# held while the store opens, and running when the command's own work starts, with what
# the start made frozen (out of its view)?
SPY = """\
import gc, sys
from jobdash.cli import jobs, main
from jobdash.core.service import facade

opened = facade.Service.open.__func__
command = jobs.COMMANDS["jobs"]

async def open_seen(cls, *args, **kwargs):
    print("opening:", gc.isenabled())
    return await opened(cls, *args, **kwargs)

async def command_seen(svc, a):
    print("command:", gc.isenabled(), "frozen:", gc.get_freeze_count() > 10_000)
    return await command(svc, a)

facade.Service.open = classmethod(open_seen)
jobs.COMMANDS["jobs"] = command_seen
print("before main:", gc.isenabled())
code = main(["--db", sys.argv[1], "jobs"])
print("after main:", gc.isenabled(), code)
"""


@pytest.mark.parametrize("existing", [False, True], ids=["new store", "existing store"])
def test_a_command_starts_with_the_collector_held_and_runs_with_it(
    tmp_path: Path, existing: bool
) -> None:
    """On a store to create, `jobs` is first asked to read without the event loop, which
    opening refuses before anything is opened (`NeedsLoop`), then run on the loop: both
    openings with the collector held. On an existing store it reads without the loop."""
    db = str(tmp_path / "s.db")
    if existing:
        main(["--db", db, "jobs"])
    done = subprocess.run(
        [sys.executable, "-c", SPY, db],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    openings = ["opening: False"] if existing else ["opening: False", "opening: False"]
    assert done.stdout.splitlines() == [
        "before main: True",
        *openings,
        "command: True frozen: True",  # the start's objects out of its view
        "after main: True 0",
    ]


@pytest.mark.parametrize(
    "words",
    [
        ["jobs"],
        ["show", "12"],  # not there: exit 2
        ["show", "twelve"],  # bad input: exit 2
        ["check"],  # no store
    ],
)
def test_main_gives_the_collector_back_on_every_way_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, words: list[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "jobdash.toml").write_text("[jobdash]\n")
    with contextlib.suppress(SystemExit):  # argparse's way out of a usage error
        main(["--db", str(tmp_path / "s.db"), *words])
    assert gc.isenabled()


# A program of the user's that runs an engine through the Python API, in a fresh interpreter:
# is what the engine's start made frozen, and the collector left on or off as it had it?
ENGINE = """\
import asyncio, gc, sys
from jobdash.core.service import Service

async def run() -> None:
    svc = await Service.open(db=sys.argv[1], user="u")
    try:
        print("before:", gc.get_freeze_count() > 10_000)
        await svc.start_engine(slots=2, name="e")
        print("started:", gc.isenabled(), "frozen:", gc.get_freeze_count() > 10_000)
    finally:
        await svc.close()

if sys.argv[2] == "off":
    gc.disable()
asyncio.run(run())
"""


@pytest.mark.parametrize("collector", ["on", "off"])
def test_an_engine_started_through_the_api_freezes_its_start(
    tmp_path: Path, collector: str
) -> None:
    """Its full passes would walk the start's objects again and again while jobs run (~5 µs
    of a one-task job's ~150 in a bulk of 20,000); the program's own choice of collector
    stays."""
    done = subprocess.run(
        [sys.executable, "-c", ENGINE, str(tmp_path / "s.db"), collector],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    enabled = collector == "on"
    assert done.stdout.splitlines() == ["before: False", f"started: {enabled} frozen: True"]


# A real `jobdash export` in a fresh interpreter, observed: is the collector off while
# each page is written, and running again once the export is done?
EXPORT = """\
import gc, sys
from jobdash.cli import main
from jobdash.core.service import export

seen = []
for name in ("cells", "records"):
    def spy(self, page, _written=getattr(export.Export, name)):
        seen.append(gc.isenabled())
        return _written(self, page)
    setattr(export.Export, name, spy)
code = main(["--db", sys.argv[1], "--config", sys.argv[2], "export", "--format", sys.argv[3]])
print("\\npages written with the collector:", sorted(set(seen)), "after:", gc.isenabled(), code)
"""


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_an_export_holds_the_collector_while_it_writes_its_pages(tmp_path: Path, fmt: str) -> None:
    """Its pages make no cycle, and each page's rows set off collections that walked them
    (~5 % of a 1M-job export's CPU); held only meanwhile: the command gives it back."""
    from jobdash.core.identity import real_user
    from tests.tui.app_harness import build_store, write_config

    config = write_config(tmp_path)
    build_store(tmp_path / "s.db", config)
    with contextlib.closing(sqlite3.connect(tmp_path / "s.db")) as con, con:
        con.execute("UPDATE jobs SET user = ?", (real_user(),))  # jobs the command sees
    done = subprocess.run(
        [sys.executable, "-c", EXPORT, str(tmp_path / "s.db"), str(config), fmt],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith("\npages written with the collector: [False] after: True 0\n")


def test_collector_held_leaves_it_as_it_was() -> None:
    """A program that runs with the collector off keeps it off after an export."""
    from jobdash.core.heap import collector_held

    was = gc.isenabled()
    try:
        for before in (True, False):
            (gc.enable if before else gc.disable)()
            with collector_held():
                assert not gc.isenabled()
            assert gc.isenabled() is before
    finally:
        (gc.enable if was else gc.disable)()
